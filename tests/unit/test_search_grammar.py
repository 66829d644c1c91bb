from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.errors import InvalidInput
from mailservice.domain.messages import FLAGGED, SEEN
from mailservice.domain.search import MessageQuery, parse_query
from mailservice.domain.search_criteria import AllOf, Everything, Flag, Received


def test_every_key_is_understood() -> None:
    query = parse_query(
        'from:Acme to:me@x.test subject:"Your Code" has:attachment is:unread tag:GitHub '
        "before:2026-02-01 after:2026-01-01T10:00:00Z hello World"
    )

    assert query == MessageQuery(
        senders=("acme",),
        recipients=("me@x.test",),
        subjects=("your code",),
        words=("hello", "world"),
        has_attachment=True,
        unread=True,
        tag="github",
        before=datetime(2026, 2, 1, tzinfo=UTC),
        after=datetime(2026, 1, 1, 10, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("text", "unread", "flagged"), [("is:read", False, None), ("is:flagged", None, True)]
)
def test_states(text: str, unread: bool | None, flagged: bool | None) -> None:
    query = parse_query(text)

    assert (query.unread, query.flagged) == (unread, flagged)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_query_matches_everything(text: str | None) -> None:
    assert parse_query(text).is_empty


@pytest.mark.parametrize(
    "text",
    [
        "colour:blue",
        "is:deleted",
        "has:nothing",
        "before:yesterday",
        'subject:""',
        'subject:"open',
        "x" * 501,
        "a " * 21,
    ],
)
def test_what_is_not_understood_is_a_clear_error(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_query(text)


@given(st.text(max_size=600))
def test_any_text_parses_or_is_refused_clearly(text: str) -> None:
    try:
        parse_query(text)
    except InvalidInput as error:
        assert error.message


@given(
    st.lists(
        st.text(
            st.characters(blacklist_characters=' "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0'),
            min_size=1,
            max_size=10,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_bare_words_are_kept_lowercased(words: list[str]) -> None:
    words = [w for w in words if ":" not in w and w.strip() == w and w.split() == [w]]
    if not words:
        return

    assert parse_query(" ".join(words)).words == tuple(w.lower() for w in words)


def test_verified_terms_are_understood() -> None:
    query = parse_query("is:verified from-verified:GitHub.COM. from-verified:@mail.example.org")

    assert (query.verified, query.verified_domains) == (True, ("github.com", "mail.example.org"))


@pytest.mark.parametrize("text", ["from-verified:a..b", 'from-verified:"a b"', "from-verified:-x.com"])
def test_from_verified_needs_a_domain(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_query(text)


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(st.lists(_LABEL, min_size=1, max_size=4), st.sampled_from(["", ".", "@"]), st.booleans())
def test_any_domain_is_kept_lowercased_for_from_verified(
    labels: list[str], decoration: str, upper: bool
) -> None:
    domain = ".".join(labels)
    written = domain.upper() if upper else domain
    written = f"@{written}" if decoration == "@" else written + decoration

    assert parse_query(f"from-verified:{written}").verified_domains == (domain,)


def test_the_terms_imap_search_shares_are_the_shared_criteria() -> None:
    query = parse_query("is:read is:flagged after:2026-01-01 before:2026-02-01T12:00:00Z from:acme")

    assert query.shared_criteria == AllOf(
        (
            Flag(SEEN, present=True),
            Flag(FLAGGED),
            Received(since=datetime(2026, 1, 1, tzinfo=UTC), before=datetime(2026, 2, 1, 12, tzinfo=UTC)),
        )
    )
    assert parse_query("is:unread").shared_criteria == Flag(SEEN, present=False)
    assert parse_query("from:acme hello").shared_criteria == Everything()
