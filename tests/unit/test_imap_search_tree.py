"""SEARCH keys of any shape parse (without recursion) into a tree that selects what the keys mean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.mail_session import MessageMeta
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.parse_error import ParseError
from mailservice.protocols.imap.search_keys import parse_search
from mailservice.protocols.imap.search_match import Candidate, matches
from mailservice.protocols.imap.search_results import RETURN_OPTIONS, esearch_line, parse_return, saved_uids
from mailservice.protocols.imap.sequence_set import parse_sequence_set

NOW = datetime(2026, 2, 10, tzinfo=UTC)
MESSAGES = [
    MessageMeta(uid, 1, flags, NOW - timedelta(hours=hours), size)
    for uid, (flags, size, hours) in enumerate(
        [
            (frozenset({"\\Recent"}), 100, 1),
            (frozenset({"\\Seen", "\\Recent"}), 2000, 30),
            (frozenset({"\\Seen", "\\Flagged"}), 50, 300),
            (frozenset({"\\Deleted"}), 5000, 3000),
        ],
        start=1,
    )
]
SAVED = frozenset({2, 4})
LEAVES: dict[str, Any] = {
    "ALL": lambda m: True,
    "SEEN": lambda m: "\\Seen" in m.flags,
    "UNSEEN": lambda m: "\\Seen" not in m.flags,
    "FLAGGED": lambda m: "\\Flagged" in m.flags,
    "DELETED": lambda m: "\\Deleted" in m.flags,
    "LARGER 1000": lambda m: m.size > 1000,
    "SMALLER 100": lambda m: m.size < 100,
    "RECENT": lambda m: "\\Recent" in m.flags,
    "OLD": lambda m: "\\Recent" not in m.flags,
    "NEW": lambda m: "\\Recent" in m.flags and "\\Seen" not in m.flags,
    "YOUNGER 86400": lambda m: m.internal_date > NOW - timedelta(days=1),
    "OLDER 86400": lambda m: m.internal_date <= NOW - timedelta(days=1),
    "$": lambda m: m.uid in SAVED,
    "UID $": lambda m: m.uid in SAVED,
}

Tree = Any
trees: st.SearchStrategy[Tree] = st.recursive(
    st.sampled_from(sorted(LEAVES)),
    lambda inner: st.one_of(
        st.tuples(st.just("NOT"), inner),
        st.tuples(st.just("OR"), inner, inner),
        st.tuples(st.just("AND"), st.lists(inner, min_size=1, max_size=4)),
    ),
    max_leaves=40,
)


def render(tree: Tree) -> str:
    if isinstance(tree, str):
        return tree
    if tree[0] == "NOT":
        return f"NOT {render(tree[1])}"
    if tree[0] == "OR":
        return f"OR {render(tree[1])} {render(tree[2])}"
    return "(" + " ".join(render(inner) for inner in tree[1]) + ")"


def meaning(tree: Tree, message: MessageMeta) -> bool:
    if isinstance(tree, str):
        return bool(LEAVES[tree](message))
    if tree[0] == "NOT":
        return not meaning(tree[1], message)
    if tree[0] == "OR":
        return meaning(tree[1], message) or meaning(tree[2], message)
    return all(meaning(inner, message) for inner in tree[1])


@given(st.lists(trees, min_size=1, max_size=3))
def test_parsed_keys_select_what_the_keys_mean(keys: list[Tree]) -> None:
    text = " ".join(render(tree) for tree in keys)

    parsed = parse_search(CommandReader(text.encode()), "UTF-8")

    for message in MESSAGES:
        candidate = Candidate(
            message.uid, message, len(MESSAGES), [m.uid for m in MESSAGES], saved=SAVED, now=NOW
        )
        assert matches(parsed, candidate) == all(meaning(tree, message) for tree in keys), text


@given(
    st.lists(st.sampled_from(RETURN_OPTIONS), max_size=6),
    st.lists(st.integers(1, 50), unique=True).map(sorted),
    st.booleans(),
)
def test_return_options_in_any_order_answer_each_asked_item_once(
    options: list[str], found: list[int], by_uid: bool
) -> None:
    reader = CommandReader(("RETURN (" + " ".join(options) + ") ALL").encode())
    parsed = parse_return(reader)
    assert parsed is not None and reader.accept_word("ALL")

    line = esearch_line("t1", by_uid, parsed, found, None)

    if set(options) == {"SAVE"}:
        assert line is None
        return
    assert line is not None
    words = line.decode().split()
    asked = set(options) or {"ALL"}
    assert words[:3] == ["*", "ESEARCH", "(TAG"] and ("UID" in words) == by_uid
    for name, value in (("MIN", found[:1]), ("MAX", found[-1:]), ("COUNT", [len(found)])):
        expected = [str(v) for v in value] if name in asked and (found or name == "COUNT") else []
        assert [words[i + 1] for i, word in enumerate(words) if word == name] == expected
    if "ALL" in asked and found:
        all_set = words[words.index("ALL") + 1]
        assert sequence_numbers(all_set) == found


def sequence_numbers(text: str) -> list[int]:
    return parse_sequence_set(text.encode()).sequence_numbers(100)


@given(
    st.lists(st.sampled_from(["MIN", "MAX", "ALL", "COUNT"]), max_size=4),
    st.lists(st.integers(1, 50), unique=True).map(sorted),
)
def test_save_keeps_min_and_max_alone_else_everything_found(options: list[str], found: list[int]) -> None:
    saved = saved_uids(frozenset({"SAVE", *options}), found)

    if set(options) & {"ALL", "COUNT"} or not options:
        assert saved == found
    else:
        assert set(saved) == {found[0] if o == "MIN" else found[-1] for o in options if found}


@given(st.text(alphabet="()$ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:*, ", max_size=40))
def test_any_search_text_parses_or_is_refused_as_a_parse_error(text: str) -> None:
    reader = CommandReader(text.encode())
    try:
        parse_return(reader)
        parse_search(reader, "UTF-8")
    except ParseError:
        pass
