"""Where a reply's quoted history starts: the attribution lines looked for on every line of a message."""

from __future__ import annotations

from mailservice.adapters.extract.quoted import history_offset, trim_quoted


def test_an_attribution_with_the_author_after_the_verb_starts_the_history() -> None:
    # "schrieb" is not right before the colon, so only the whole-attribution pattern finds this line.
    text = "Danke, erledigt.\n\nAm 1. Mai 2026 um 09:12 schrieb Hans Muster <hans@example.com>:\nDer Code ist 1234.\n"

    offset = history_offset(text)

    assert offset == text.index("Am 1. Mai")


def test_a_line_ending_in_wrote_before_quoted_lines_starts_the_history() -> None:
    text = "Thanks!\n\nBob Example <bob@example.com> wrote:\n> the old code was 5678\n"

    assert history_offset(text) == text.index("Bob Example")
    assert trim_quoted(text) == "Thanks!\n"


def test_a_line_that_only_mentions_wrote_is_not_an_attribution() -> None:
    text = "Hello,\n\nI wrote: the code is 4321\n> quoted\nand that was that, as I wrote\n"

    assert history_offset(text) is None
    assert trim_quoted(text) == "Hello,\n\nI wrote: the code is 4321\nand that was that, as I wrote\n"
