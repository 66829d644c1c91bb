"""The reference Dovecot and the loader give the servers exactly the bytes, flags and dates of the corpus."""

from __future__ import annotations

from datetime import datetime

import pytest
from bench.imap_wire import fetch_items

from tests.interop.corpus import BARE_LF, CORPUS
from tests.support.dovecot import load_messages, running_dovecot

pytestmark = pytest.mark.slow


def test_appended_messages_come_back_byte_for_byte_with_their_flags_and_dates() -> None:
    with running_dovecot() as (_, account):
        load_messages(account, CORPUS)
        with account.connect() as wire:
            wire.command("EXAMINE INBOX")
            answers = fetch_items(wire.command("FETCH 1:* (BODY.PEEK[] FLAGS INTERNALDATE)"))

    assert sorted(answers) == list(range(1, len(CORPUS) + 1))
    for number, message in enumerate(CORPUS, start=1):
        items = answers[number]
        expected_raw = message.raw.replace(b"\n", b"\r\n") if message.raw is BARE_LF else message.raw
        assert items["BODY[]"] == expected_raw.replace(b"\x00", b"\x80")  # a literal holds no NUL
        assert isinstance(items["FLAGS"], list)
        assert set(items["FLAGS"]) - {"\\Recent"} == set(message.flags)
        assert isinstance(items["INTERNALDATE"], bytes)
        shown = datetime.strptime(items["INTERNALDATE"].decode(), "%d-%b-%Y %H:%M:%S %z")
        assert shown == message.internal_date  # the same instant; a maildir does not keep the zone
