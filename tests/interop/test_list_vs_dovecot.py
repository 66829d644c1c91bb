"""LIST, LIST-EXTENDED (RFC 5258) and LSUB answer like Dovecot 2.3 over the same folders and subscriptions.

Both servers get the same CREATE, SUBSCRIBE and UNSUBSCRIBE commands, then the same LIST commands; the
status word and the untagged lines are compared as values (Dovecot writes a name as an atom where we
quote it), in any order (Dovecot lists in its storage's order). Dovecot runs with "/" as the hierarchy
separator and INBOX subscribed, as ours.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bench.imap_wire import Response, Value, parse_line

from tests.interop.comparison import Pair
from tests.interop.engine_thread import engine_in_thread
from tests.support.databases import sqlite_copy
from tests.support.dovecot import running_dovecot

pytestmark = pytest.mark.slow

SETUP = [
    "CREATE work",  # Dovecot's maildir++ does not create the parents itself
    "CREATE work/projects",
    "CREATE work/projects/2026",
    "CREATE work/archive",
    "CREATE personal",
    "SUBSCRIBE work/projects/2026",
    "SUBSCRIBE personal",
    "UNSUBSCRIBE work",
    "UNSUBSCRIBE work/projects",
    "UNSUBSCRIBE work/archive",
]
LISTS = [
    'LIST "" "*"',
    'LIST "" "%"',
    'LIST (FOO) "" ""',
    'LIST "" "*" RETURN (FOO)',
    'LIST (RECURSIVEMATCH) "" "*"',
    'LIST (SUBSCRIBED) "" "*"',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" "work/%"',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"',
    'LSUB "" "%"',
    'LSUB "" "*"',
    'LIST "" "*" RETURN (CHILDREN)',
    'LIST "" "*" RETURN (SUBSCRIBED)',
    'LIST "" "%" RETURN ()',
    'LIST "" "%" RETURN (SUBSCRIBED CHILDREN)',
    'LIST (SUBSCRIBED) "" "%" RETURN (CHILDREN)',
    'LIST (SPECIAL-USE) "" "*"',
    'LIST (REMOTE) "" "%"',
    'LIST "" ("work/%")',  # a list of patterns is the extended syntax: child attributes on request
    'LIST "" ("work/%" "personal") RETURN (CHILDREN)',
    # a pattern or reference that is not modified UTF-7 matches nothing
    'LIST "" !#$&\'+,-.0123456789:;<=>?@^_`|[}%*',
    'LIST "" "work&*"',
    'LIST "&" "*"',
    'LIST "" ("a&" "work/%")',
    'LSUB "" "&*"',
    'LIST (SUBSCRIBED) "" "&"',
]


@pytest.fixture(scope="module")
def pair(sqlite_template_path: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    workdir = tmp_path_factory.mktemp("ours")
    dsn = sqlite_copy(sqlite_template_path, workdir)  # type: ignore[arg-type]
    with running_dovecot() as (_, reference_account), engine_in_thread(dsn, workdir) as engine:
        ours_account = engine.new_account()
        reference, ours = reference_account.connect(), ours_account.connect()
        with reference, ours:
            for command in SETUP:
                for wire in (reference, ours):
                    wire.command(command, check=False)
            yield Pair(reference, ours)


def _answer(response: Response) -> tuple[bytes, list[str]]:
    lines = sorted(repr(_as_text(parse_line(line))) for line in response.lines)
    return response.tagged.split(b" ", 2)[1], lines


def _as_text(value: Value) -> Value:
    """Atoms and strings alike: Dovecot writes `INBOX` where we write `"INBOX"`."""
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.parametrize("command", LISTS)
def test_list_answers_like_dovecot(pair: Pair, command: str) -> None:
    reference, ours = pair.both(command)
    assert _answer(ours) == _answer(reference), command


SUBSCRIPTION_STEPS = [
    "CREATE fresh",
    'LIST (SUBSCRIBED) "" "fresh"',
    "SUBSCRIBE fresh",
    "DELETE fresh",
    'LIST (SUBSCRIBED) "" "fresh"',
    'LIST "" "fresh" RETURN (SUBSCRIBED)',
    "UNSUBSCRIBE fresh",
    'LIST (SUBSCRIBED) "" "fresh"',
    "SUBSCRIBE never-created",
    'LIST (SUBSCRIBED) "" "never*"',
    'LSUB "" "never*"',
    "UNSUBSCRIBE never-created",
    "UNSUBSCRIBE never-created",
    'LSUB "" "%"',
    'LSUB "" "work/%"',
    'LSUB "" "*"',
]


def test_subscriptions_live_apart_from_folders_like_dovecot(pair: Pair) -> None:
    for command in SUBSCRIPTION_STEPS:
        reference, ours = pair.both(command)
        assert _answer(ours) == _answer(reference), command
