"""The reference's date format on every response: UTC, microseconds, a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.core.schemas import format_timestamp


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Naive values are UTC (what the database returns on SQLite).
        (datetime(2015, 5, 12, 15, 50, 38), "2015-05-12T15:50:38.000000Z"),
        (datetime(2015, 5, 12, 15, 50, 38, 123, tzinfo=UTC), "2015-05-12T15:50:38.000123Z"),
        # Another offset is converted, across a date line too.
        (datetime(2015, 5, 13, 1, 50, 38, 5, tzinfo=timezone(timedelta(hours=10))),
         "2015-05-12T15:50:38.000005Z"),
        (datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-3))),
         "2024-03-01T02:59:59.999999Z"),
        # Every field at its full width, as ISO 8601 writes it.
        (datetime(999, 1, 2, 3, 4, 5, 60, tzinfo=UTC), "0999-01-02T03:04:05.000060Z"),
    ],
)
def test_format_timestamp(value: datetime, expected: str) -> None:
    assert format_timestamp(value) == expected
