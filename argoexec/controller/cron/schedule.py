"""When a CronWorkflow's schedules fall, computed with croniter (never parsed by hand).

A schedule is one of `spec.schedules`, in `spec.timezone` (the controller machine's zone
without one), or in its own `CRON_TZ=ZONE` prefix, as robfig/cron reads it. Times are epoch
seconds; a slot is a whole second. croniter walks the zone's wall clock, so a daily `30 2 * * *`
falls at 03:00 on the night clocks go forward, and a schedule that names a wall time twice on the
night they go back falls on both instants (each a distinct slot, and so a distinct Workflow).

`@every DURATION` has no wall-clock meaning: robfig/cron counts it from the moment the entry was
added, which a restarted controller cannot know. Here its slots are the multiples of the duration
since the Unix epoch, so any controller, restarted or not, finds the same ones. As robfig/cron's
`Every`, the duration is whole seconds (truncated) and at least one: `@every 0s`, `@every 1ns` and
`@every -5s` fall every second, `@every 1.5s` every second too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from argoexec.durations import parse_go_duration

_EVERY = "@every"
_ONE_MICROSECOND = timedelta(microseconds=1)


def zone_of(name: str | None) -> tzinfo:
    """`spec.timezone`'s zone, or the machine's local one (robfig/cron's default)."""
    if name:
        return ZoneInfo(name)
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local


def schedules_of(spec: Mapping[str, Any]) -> list[str]:
    """`spec.schedules` (Argo v4 has no single `schedule` field any more)."""
    found = spec.get("schedules")
    return [s for s in found if isinstance(s, str) and s.strip()] if isinstance(found, list) else []


def _split_zone(schedule: str, default: tzinfo) -> tuple[str, tzinfo]:
    text = schedule.strip()
    if text.startswith(("CRON_TZ=", "TZ=")):
        zone, _, text = text.partition(" ")
        return text.strip(), ZoneInfo(zone.split("=", 1)[1])
    return text, default


def _every_step(text: str) -> int:
    """Seconds between the slots of `@every DURATION` (robfig/cron's `Every`)."""
    return max(1, math.floor(parse_go_duration(text[len(_EVERY) :])))


def latest_slot(schedule: str, zone: tzinfo, after: float, until: float) -> float | None:
    """The last time `schedule` falls in (`after`, `until`], or None."""
    text, zone = _split_zone(schedule, zone)
    if text.startswith(_EVERY):
        step = _every_step(text)
        slot = float(math.floor(until / step) * step)
        return slot if slot > after else None
    from croniter import croniter  # only controllers with CronWorkflows pay for it

    start = datetime.fromtimestamp(until, zone) + _ONE_MICROSECOND
    slot = croniter(text, start).get_prev(datetime).timestamp()
    return slot if slot > after else None


def next_slot(schedule: str, zone: tzinfo, after: float) -> float:
    """The first time `schedule` falls after `after`."""
    text, zone = _split_zone(schedule, zone)
    if text.startswith(_EVERY):
        step = _every_step(text)
        return float((math.floor(after / step) + 1) * step)
    from croniter import croniter

    return float(croniter(text, datetime.fromtimestamp(after, zone)).get_next(datetime).timestamp())


def latest_of(schedules: Iterable[str], zone: tzinfo, after: float, until: float) -> float | None:
    """The last slot of any of `schedules` in (`after`, `until`] (two schedules falling on the
    same second make one slot: one Workflow is named after it)."""
    slots = [latest_slot(s, zone, after, until) for s in schedules]
    found = [s for s in slots if s is not None]
    return max(found) if found else None


def next_of(schedules: Iterable[str], zone: tzinfo, after: float) -> float | None:
    slots = [next_slot(s, zone, after) for s in schedules]
    return min(slots) if slots else None
