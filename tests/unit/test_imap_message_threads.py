"""The THREAD algorithms of RFC 5256 on hand-made messages (Dovecot's answers are compared in
tests/interop/test_sort_thread_vs_dovecot.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailservice.protocols.imap.message_threads import (
    ThreadMessage,
    message_ids,
    ordered_subject,
    references,
    thread_text,
)

START = datetime(2026, 3, 1, tzinfo=UTC)


def message(
    number: int, subject: str, message_id: str | None, *refs: str, minutes: int | None = None
) -> ThreadMessage:
    sent = START + timedelta(minutes=number if minutes is None else minutes)
    return ThreadMessage(number, number, sent, subject, message_id, refs)


def test_references_builds_trees_and_gathers_subjects() -> None:
    messages = [
        message(1, "Plan", "a@x"),
        message(2, "Re: Plan", "b@x", "a@x"),
        message(3, "Re: Plan", "c@x", "a@x", "b@x"),
        message(4, "Re: Plan", "d@x", "a@x"),
        message(5, "Other", "e@x", "missing@x"),
        message(6, "Re: Other", "f@x", "missing@x"),
        message(7, "Plan", "g@x"),
    ]
    # two originals of one subject go under a dummy; the replies under their original
    assert thread_text(references(messages)) == "((1 (2 3)(4))(7))((5)(6))"


def test_a_reference_loop_and_a_duplicate_id_do_not_lose_messages() -> None:
    messages = [
        message(1, "A", "a@x", "b@x"),
        message(2, "B", "b@x", "a@x"),
        message(3, "C", "a@x"),
        message(4, "D", None),
    ]
    text = thread_text(references(messages))
    assert sorted(int(number) for number in text.replace("(", " ").replace(")", " ").split()) == [1, 2, 3, 4]


def test_ordered_subject_makes_the_earliest_the_parent() -> None:
    messages = [
        message(1, "Re: x", None, minutes=5),
        message(2, "x", None, minutes=1),
        message(3, "y", None, minutes=3),
        message(4, "Fwd: x", None, minutes=9),
        message(5, "[tag] y (fwd)", None, minutes=4),
    ]
    assert thread_text(ordered_subject(messages)) == "(2 (1)(4))(3 5)"


def test_a_reply_chain_thousands_deep_is_threaded() -> None:
    count = 3000
    messages = [
        message(n, "Re: deep", f"{n}@x", *((f"{n - 1}@x",) if n > 1 else ())) for n in range(1, count + 1)
    ]
    assert thread_text(references(messages)) == "(" + " ".join(str(n) for n in range(1, count + 1)) + ")"


def test_no_messages_no_threads() -> None:
    assert thread_text(references([])) == thread_text(ordered_subject([])) == ""


def test_message_ids_need_angle_brackets_and_an_at_sign() -> None:
    assert message_ids("<a@x> junk <nope> <b@y>\t(comment) <c@z") == ["a@x", "b@y"]
