"""IMAP dates: `date` ("1-Feb-1994", quoted or not) and `date-time` ("01-Feb-1994 21:43:04 +0000")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

from mailservice.protocols.imap.command_reader import CommandReader

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBERS = {name.upper(): index + 1 for index, name in enumerate(MONTHS)}
_DATE = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
_DATE_TIME = re.compile(
    rb'"([ 0-9][0-9])-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"'
)


def parse_date(reader: CommandReader) -> date:
    quoted = reader.accept(b'"')
    found = _DATE.match(reader.data, reader.position)
    if found is None:
        raise reader.error("expected a date like 1-Feb-2026")
    reader.position = found.end()
    if quoted:
        reader.expect(b'"')
    return _day(reader, found.group(1), found.group(2), found.group(3))


def _day(reader: CommandReader, day: bytes, month: bytes, year: bytes) -> date:
    number = _MONTH_NUMBERS.get(month.decode("ascii").upper())
    if number is None:
        raise reader.error("invalid month")
    try:
        return date(int(year), number, int(day))
    except ValueError:
        raise reader.error("invalid date") from None


def parse_date_time(reader: CommandReader) -> datetime:
    found = _DATE_TIME.match(reader.data, reader.position)
    if found is None:
        raise reader.error('expected a date-time like "01-Feb-2026 21:43:04 +0000"')
    reader.position = found.end()
    day = _day(reader, found.group(1).strip(), found.group(2), found.group(3))
    sign = 1 if found.group(7) == b"+" else -1
    offset = timedelta(hours=int(found.group(8)), minutes=int(found.group(9))) * sign
    try:
        return datetime(
            day.year,
            day.month,
            day.day,
            int(found.group(4)),
            int(found.group(5)),
            int(found.group(6)),
            tzinfo=timezone(offset),
        )
    except ValueError:
        raise reader.error("invalid time") from None


def format_date_time(moment: datetime) -> str:
    """INTERNALDATE as Dovecot writes it: "26-Nov-2026 16:24:37 +0000"."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return (
        f"{moment.day:02d}-{MONTHS[moment.month - 1]}-{moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {sign}{hours:02d}{rest:02d}"
    )
