"""Our Authentication-Results header, and removing incoming ones that claim our authserv-id."""

from __future__ import annotations

import json

from mailservice.domain.authentication_results import authentication_results
from mailservice.domain.claimed_results import without_claimed_results
from mailservice.domain.sender_auth import DkimCheck, DmarcCheck, SenderAuth, SpfCheck

VERDICT = SenderAuth(
    spf=SpfCheck("pass", "example.com"),
    dkim=(DkimCheck("example.com", "s1", "pass", "ed25519-sha256"), DkimCheck("other.example", "s2", "fail")),
    dmarc=DmarcCheck("pass", "reject", "example.com"),
    verified_domain="example.com",
)


def test_header_lists_every_method_one_per_line() -> None:
    assert authentication_results("mail.test", VERDICT) == (
        b"Authentication-Results: mail.test;\r\n"
        b"\tspf=pass smtp.mailfrom=example.com;\r\n"
        b"\tdkim=pass header.d=example.com header.s=s1 header.a=ed25519-sha256;\r\n"
        b"\tdkim=fail header.d=other.example header.s=s2;\r\n"
        b"\tdmarc=pass (p=reject) header.from=example.com;\r\n"
        b"\tarc=none\r\n"
    )


def test_values_from_the_sender_cannot_break_the_header() -> None:
    hostile = SenderAuth(
        spf=SpfCheck("none", "evil.test\r\nX-Injected: 1"),
        dkim=(DkimCheck("a; dkim=pass", "s (x)", "fail"),),
        dmarc=DmarcCheck("none", None, None),
    )

    header = authentication_results("mail.test", hostile)

    lines = header.split(b"\r\n")
    assert lines[0] == b"Authentication-Results: mail.test;"
    assert all(line.startswith(b"\t") for line in lines[1:-1]) and lines[-1] == b""
    assert b"smtp.mailfrom=evil.testX-Injected1;" in header
    assert b"dkim=fail header.d=adkimpass header.s=sx" in header


def test_verdict_round_trips_through_json() -> None:
    assert SenderAuth.from_json(VERDICT.to_json()) == VERDICT


def test_verdict_as_json_lists_every_field_in_order_with_signatures_as_a_list() -> None:
    text = VERDICT.to_json()

    assert json.loads(text) == VERDICT.as_dict()
    assert list(VERDICT.as_dict()) == ["spf", "dkim", "dmarc", "arc", "verified_domain"]
    assert list(VERDICT.as_dict()["spf"]) == ["result", "domain", "helo_result", "helo"]
    assert [list(signature) for signature in VERDICT.as_dict()["dkim"]] == [
        ["domain", "selector", "result", "algorithm"] for _ in VERDICT.dkim
    ]
    assert VERDICT.as_dict()["dkim"][0]["domain"] == VERDICT.dkim[0].domain


def test_fields_claiming_our_authserv_id_are_removed_with_their_continuations() -> None:
    raw = (
        b"Received: from a\r\n"
        b"Authentication-Results: (comment) MAIL.Test; dkim=pass\r\n header.d=github.com\r\n"
        b"Authentication-Results: mail.test.evil; spf=pass\r\n"
        b"authentication-results:mail.test;spf=pass\r\n"
        b"Subject: hi\r\n"
        b"\r\n"
        b"Authentication-Results: mail.test; in the body\r\n"
    )

    assert without_claimed_results(raw, "mail.test") == (
        b"Received: from a\r\n"
        b"Authentication-Results: mail.test.evil; spf=pass\r\n"
        b"Subject: hi\r\n"
        b"\r\n"
        b"Authentication-Results: mail.test; in the body\r\n"
    )


def test_message_without_such_fields_is_returned_as_is() -> None:
    raw = bytearray(b"Subject: hi\r\n\r\nbody\r\n")

    assert without_claimed_results(raw, "mail.test") is raw


def test_helo_check_is_reported_beside_mail_from() -> None:
    verdict = SenderAuth(
        spf=SpfCheck("pass", "example.com", "fail", "mx.example.com"),
        dkim=(),
        dmarc=DmarcCheck("none", None, "example.com"),
    )

    assert (
        b"\tspf=pass smtp.mailfrom=example.com;\r\n\tspf=fail smtp.helo=mx.example.com;\r\n\tdkim=none;"
        in (authentication_results("mail.test", verdict))
    )
