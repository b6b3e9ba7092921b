"""Who is due at an instant: the zones whose local day ended within a window, and which day.

A user's local day D is due at the first instant whose local date is after D: 00:00 on D+1, or,
in a zone whose clocks skip midnight (America/Havana in March: 23:59:59 -> 01:00), the instant
the clocks jump. Defining "due" by the local DATE changing, not by a wall-clock 00:00 existing,
makes skipped and repeated midnights, 23- and 25-hour days, offsets such as +05:45 or +12:45 and
the ±14 h extremes all the same case, with no table of special zones.

Everything here is pure and computed in Python over the tz database's ~600 zones (about a
millisecond), so the database only ever sees the few zones that are due, as one array parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from app.core.preferences import known_timezones

#: How often the daemon wakes: every real UTC offset, and every offset change, is a multiple of
#: 15 minutes, so each local midnight is seen within one tick of when it happens.
TICK = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open span (since, until] a run covers: an instant on its edge belongs to one."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            msg = "window bounds must be timezone-aware"
            raise ValueError(msg)

    @classmethod
    def before(cls, until: datetime, span: timedelta) -> Window:
        """The window of `span` that ends at `until` (what `run-once --at` covers)."""
        return cls(since=until - span, until=until)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def days_ended(zone: ZoneInfo, window: Window) -> list[date]:
    """The local days of `zone` that ended within the window, oldest first (usually 0 or 1)."""
    first = window.since.astimezone(zone).date()
    last = window.until.astimezone(zone).date()
    # A local date that runs backwards (a fall-back across midnight; none in today's tz data)
    # makes `last < first`: nothing is due until the date moves past `first` again, and the day
    # that then ends a second time has the same digest id, so it is never written twice.
    return [first + timedelta(days=n) for n in range((last - first).days)]


def due_zones(window: Window, zones: Iterable[str] | None = None) -> dict[str, list[date]]:
    """Each zone (of `zones`, default every known one) with the local days that ended in it."""
    due: dict[str, list[date]] = {}
    for name in sorted(known_timezones() if zones is None else zones):
        days = days_ended(_zone(name), window)
        if days:
            due[name] = days
    return due
