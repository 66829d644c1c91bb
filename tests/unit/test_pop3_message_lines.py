"""What RETR and TOP send: CRLF lines, dot-stuffed chunk by chunk, terminated by ".CRLF"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailservice.protocols.pop3.message_lines import stuffed_chunks, top_of

MESSAGE = b"Subject: hi\r\nFrom: a@example.org\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"
lines = st.lists(st.text(alphabet=".a \r", max_size=8).map(lambda text: text.encode()), max_size=12)
crlf_messages = lines.map(lambda found: b"".join(line.replace(b"\r", b"") + b"\r\n" for line in found))
any_messages = st.binary(max_size=200) | st.lists(st.sampled_from([b".", b"\r", b"\n", b"a", b"\r\n"])).map(
    b"".join
)


def unstuffed(sent: bytes) -> bytes:
    """What an RFC 1939 client makes of a multi-line response body."""
    assert sent.endswith(b"\r\n.\r\n") or sent == b".\r\n"
    body = sent[: -len(b".\r\n")]
    return b"".join(line[1:] if line.startswith(b".") else line for line in body.splitlines(keepends=True))


@given(crlf_messages, st.integers(min_value=1, max_value=40))
def test_a_crlf_message_comes_back_whole_from_its_stuffed_form(raw: bytes, chunk: int) -> None:
    sent = b"".join(stuffed_chunks(raw, chunk))
    assert unstuffed(sent) == raw
    assert b"\r\n.\r\n" not in sent[:-3] and not sent[:-3].startswith(b".\r\n")


@given(any_messages, st.integers(min_value=1, max_value=40))
def test_chunk_boundaries_change_nothing(raw: bytes, chunk: int) -> None:
    assert b"".join(stuffed_chunks(raw, chunk)) == b"".join(stuffed_chunks(raw, len(raw) + 1))


@given(any_messages)
def test_every_line_ends_with_crlf(raw: bytes) -> None:
    sent = b"".join(stuffed_chunks(raw))
    assert sent.count(b"\n") == sent.count(b"\r\n")


def test_bare_lf_lines_are_sent_with_crlf_and_a_missing_last_crlf_is_added() -> None:
    assert b"".join(stuffed_chunks(b"a\n.b\nc", 2)) == b"a\r\n..b\r\nc\r\n.\r\n"
    assert b"".join(stuffed_chunks(b"")) == b".\r\n"


def test_top_sends_the_header_the_blank_line_and_the_first_lines() -> None:
    header = b"Subject: hi\r\nFrom: a@example.org\r\n\r\n"
    assert top_of(MESSAGE, 0) == header
    assert top_of(MESSAGE, 2) == header + b"line 1\r\nline 2\r\n"
    assert top_of(MESSAGE, 10) == MESSAGE
    assert top_of(b"Subject: no body\r\n", 3) == b"Subject: no body\r\n"
    assert top_of(b"\r\nbody\r\n", 0) == b"\r\n"
    assert top_of(b"Subject: lf\n\nbody\nmore\n", 1) == b"Subject: lf\n\nbody\n"
