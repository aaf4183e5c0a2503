"""Go time text (argoexec.durations): RFC 3339 timestamps as Go's time.RFC3339 writes them, and
ARGO_DEADLINE as both the executor and the emissary read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from argoexec.durations import parse_deadline, parse_rfc3339, rfc3339

MOMENT = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))


def test_timestamps_are_utc_whole_seconds_with_z() -> None:
    assert rfc3339(MOMENT) == "2026-01-02T03:04:05Z"
    assert rfc3339(MOMENT.astimezone(PARIS)) == "2026-01-02T03:04:05Z"
    assert rfc3339(MOMENT.timestamp()) == "2026-01-02T03:04:05Z"


def test_a_naive_moment_is_utc_and_none_is_gos_zero_time() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert rfc3339(None) == "0001-01-01T00:00:00Z"


def test_keep_zone_writes_z_for_utc_and_the_offset_otherwise() -> None:
    assert rfc3339(MOMENT, keep_zone=True) == "2026-01-02T03:04:05Z"
    assert rfc3339(MOMENT.astimezone(PARIS), keep_zone=True) == "2026-01-02T04:04:05+01:00"


def test_what_is_written_reads_back_aware() -> None:
    assert parse_rfc3339("2026-01-02T03:04:05Z") == MOMENT.replace(microsecond=0)
    assert parse_rfc3339("2026-01-02T04:04:05+01:00") == MOMENT.replace(microsecond=0)
    assert parse_rfc3339("2026-01-02T03:04:05").tzinfo is not None
    with pytest.raises(ValueError):
        parse_rfc3339("tomorrow")


def test_an_empty_or_zero_deadline_is_none() -> None:
    assert parse_deadline(None) is None
    assert parse_deadline("") is None
    assert parse_deadline("0001-01-01T00:00:00Z") is None
    assert parse_deadline("2030-01-02T03:04:05Z") == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
