"""Every moment shown to the outside world is RFC 3339 in UTC ending in `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from mailservice.domain.timestamps import rfc3339
from mailservice.wire.common import Timestamp


class Stamped(BaseModel):
    at: Timestamp


def test_utc_moment_ends_in_z() -> None:
    assert rfc3339(datetime(2027, 1, 5, 18, 44, 26, tzinfo=UTC)) == "2027-01-05T18:44:26Z"


def test_fraction_of_a_second_is_kept() -> None:
    assert rfc3339(datetime(2027, 1, 5, 18, 44, 26, 992387, tzinfo=UTC)) == "2027-01-05T18:44:26.992387Z"


def test_other_zone_is_written_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert rfc3339(datetime(2027, 1, 5, 19, 44, 26, tzinfo=paris)) == "2027-01-05T18:44:26Z"


def test_naive_moment_is_read_as_utc() -> None:
    assert rfc3339(datetime(2027, 1, 5, 18, 44, 26)) == "2027-01-05T18:44:26Z"


def test_response_models_write_the_same_form() -> None:
    paris = timezone(timedelta(hours=1))
    assert Stamped(at=datetime(2027, 1, 5, 19, 44, 26, tzinfo=paris)).model_dump_json() == (
        '{"at":"2027-01-05T18:44:26Z"}'
    )


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.timezones()))
def test_written_form_reads_back_as_the_same_instant(moment: datetime) -> None:
    written = rfc3339(moment)
    assert written.endswith("Z") and "+" not in written
    # Compared in UTC: an ambiguous local time never equals another zone's time (PEP 495).
    assert datetime.fromisoformat(written) == moment.astimezone(UTC)
