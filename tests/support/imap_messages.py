"""Messages for IMAP tests: plain, multipart with an attachment, and one enclosing another."""

from __future__ import annotations

PLAIN = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: agent@agents.test\r\n"
    b"Subject: Your code\r\n"
    b"Date: Mon, 02 Feb 2026 10:00:00 +0000\r\n"
    b"Message-ID: <plain@example.org>\r\n"
    b"\r\n"
    b"Your code is 482913.\r\n"
)

MULTIPART = (
    b"From: =?utf-8?q?B=C3=A9a?= <bea@example.org>\r\n"
    b"To: agent@agents.test\r\n"
    b"Subject: =?utf-8?q?R=C3=A9sum=C3=A9?= attached\r\n"
    b"Date: Tue, 03 Feb 2026 11:00:00 +0100\r\n"
    b"X-Tag: blue\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Voil=C3=A0 le r=C3=A9sum=C3=A9.\r\n"
    b"--b1\r\n"
    b"Content-Type: application/octet-stream; name=data.bin\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAw==\r\n"
    b"--b1--\r\n"
)

NESTED = (
    b"From: carol@example.org\r\n"
    b"To: agent@agents.test\r\n"
    b"Subject: Fwd: inner\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"See below.\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: dave@example.org\r\n"
    b"Subject: inner\r\n"
    b"\r\n"
    b"Inner body.\r\n"
    b"--outer--\r\n"
)


def numbered(index: int, size: int = 0) -> bytes:
    """A small message with its number in the subject; `size` pads the body to about that many bytes."""
    body = b"Message body %d.\r\n" % index
    if size > len(body):
        body += (b"x" * 76 + b"\r\n") * ((size - len(body)) // 78)
    return (
        b"From: sender%d@example.org\r\nTo: agent@agents.test\r\nSubject: Message %d\r\n"
        b"Date: Mon, 02 Feb 2026 10:00:00 +0000\r\nMessage-ID: <%d@example.org>\r\n\r\n"
        % (index, index, index)
    ) + body
