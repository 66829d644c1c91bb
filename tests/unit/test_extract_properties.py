"""Extraction never fails on arbitrary input, and its results keep their promises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailservice.adapters.extract import CONFIDENT_SCORE, extract_codes, extract_links, safe_view
from mailservice.adapters.extract.codes import _candidates, candidates_in_lines
from mailservice.adapters.extract.invisible import _ASCII_CONTROLS, _LINE_BREAKS, strip_invisible
from tests.support.cheap_strategies import pieces_and_text

FRAGMENTS = [
    "<p>", "</p>", "<div>", "</div>", "<br>", "<br/>", "<b>", "</b>", "<td>", "</td>", "<tr>", "<table>",
    "</table>", "<li>", "<ul>", "</ul>", "<a href='https://x.example/v?t=abc123def456ghi789&amp;a=1'>",
    '<a href="https://x.example/unsubscribe">', "</a>", "<a href=", "<a>", "<img src=x width=1 height=1>",
    "<img alt='Logo'>", "<span style='display:none'>", "<span style=\"font-size:0\">", "</span>",
    "<div hidden>", "<style>", "</style>", ".x{display:none}", "@media{", "}", "<script>", "</script>",
    "<!--", "-->", "<!-->", "<![", "<![if !mso]>", "<![endif]>", "<!DOCTYPE html>", "<?xml?>", "<svg>",
    "</svg>", "<title>", "<head>", "<pre>", "</pre>", "<details>", "<summary>", "<blockquote type=cite>",
    "&amp;", "&#8203;", "&#x202e;", "&nbsp;", "&", "<", ">", "'", '"', "=", " ", "\n", "\t", "\r\n",
    "Your code is ", "verification code: ", "482913", "482 913", "A7K-29Q", "G-4829", "Order #", "€12.99",
    "2025-11-26", "12/05/2025", "+1 (800) 555-0199", "https://x.example/reset?token=1234567890abcdef",
    "https://", "http://[::1", "On Tue, Bob wrote:", "> quoted", "-----Original Message-----",
    "From: a\nSent: b", "\u200b", "\u202e", "\ufeff", "\U000e0041", "\ue000", "\ue0011\ue001", "\x00",
]  # fmt: skip

html_like = pieces_and_text(FRAGMENTS, 60, st.text(max_size=200), max_free=8)
any_text = st.text(max_size=400) | html_like


@settings(max_examples=300, deadline=None)
@given(subject=st.none() | any_text, text=any_text, html=st.none() | any_text, limit=st.integers(-1, 8))
def test_extract_codes_never_raises_and_returns_ranked_confident_codes(
    subject: str | None, text: str, html: str | None, limit: int
) -> None:
    found = extract_codes(subject, text, html, limit=limit)
    assert len(found) <= max(limit, 0)
    assert [candidate.score for candidate in found] == sorted((c.score for c in found), reverse=True)
    assert len({candidate.code for candidate in found}) == len(found)
    for candidate in found:
        assert CONFIDENT_SCORE <= candidate.score < 1
        assert candidate.code.strip() and candidate.source in ("subject", "text", "html")
        assert "\n" not in candidate.context


@settings(max_examples=300, deadline=None)
@given(text=any_text, html=st.none() | any_text)
def test_extract_links_never_raises_and_lists_each_web_address_once(text: str, html: str | None) -> None:
    links = extract_links(text, html)
    urls = [link.url for link in links]
    assert len(set(urls)) == len(urls)
    order = {"verify": 0, "magic-link": 0, "reset": 0, "other": 1, "unsubscribe": 2}
    assert [order[link.kind] for link in links] == sorted(order[link.kind] for link in links)
    for link in links:
        assert link.url.lower().startswith(("http://", "https://"))


@settings(max_examples=300, deadline=None)
@given(text=st.none() | any_text, html=st.none() | any_text, max_chars=st.integers(-3, 300))
def test_safe_view_never_raises_and_respects_max_chars(
    text: str | None, html: str | None, max_chars: int
) -> None:
    view = safe_view(text, html, max_chars=max_chars)
    assert len(view.text) <= max(max_chars, 0)
    assert len(set(view.links)) == len(view.links)
    assert "\u200b" not in view.text and "\u202e" not in view.text and "\ufeff" not in view.text
    assert "\ue000" not in view.text and "\ue001" not in view.text
    for number in range(1, len(view.links) + 1):
        assert f"[{number}]" in view.text
    if not view.truncated:
        assert view == safe_view(text, html, max_chars=10**9)


code_like_text = pieces_and_text(
    FRAGMENTS, 40, st.text(alphabet="0123456789 -.,/:+()AaZz\n\r٣", max_size=200), max_free=12
)


@settings(max_examples=300, deadline=None)
@given(text=code_like_text | any_text)
def test_looking_only_at_lines_with_digits_finds_what_scanning_everything_finds(text: str) -> None:
    assert _candidates(text) == candidates_in_lines(text, [(0, len(text))])


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_the_quick_ascii_path_strips_exactly_what_the_patterns_strip(text: str) -> None:
    assert strip_invisible(text) == _ASCII_CONTROLS.sub("", _LINE_BREAKS.sub("\n", text))
