"""Who is due at an instant: each zone's local day ends at its own midnight, exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.core.preferences import known_timezones
from scheduler.due import TICK, Window, days_ended, due_zones

pytestmark = pytest.mark.unit


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


def tick_ending(until: datetime) -> Window:
    return Window(since=until - TICK, until=until)


def ticks(start: datetime, end: datetime) -> list[Window]:
    """The daemon's consecutive 15-minute windows from `start` to `end`."""
    windows = []
    while start < end:
        windows.append(Window(start, start + TICK))
        start += TICK
    return windows


def days_over_ticks(zone: str, start: datetime, end: datetime) -> list[tuple[datetime, date]]:
    """(tick end, day) for every day of `zone` that ended, tick by tick."""
    return [
        (window.until, day)
        for window in ticks(start, end)
        for day in days_ended(ZoneInfo(zone), window)
    ]


def test_a_utc_users_day_ends_at_the_tick_of_00_00_utc() -> None:
    assert days_ended(ZoneInfo("UTC"), tick_ending(utc(2026, 12, 2))) == [date(2026, 12, 1)]
    assert days_ended(ZoneInfo("UTC"), tick_ending(utc(2026, 12, 2, 0, 15))) == []
    assert days_ended(ZoneInfo("UTC"), tick_ending(utc(2026, 12, 1, 23, 45))) == []


@pytest.mark.parametrize(
    ("zone", "midnight_in_utc", "day"),
    [
        # +14:00, the earliest midnight on Earth: 10:00 UTC of the day before.
        ("Pacific/Kiritimati", utc(2026, 12, 1, 10, 0), date(2026, 12, 1)),
        # -12:00, the latest: noon UTC of the same date.
        ("Etc/GMT+12", utc(2026, 12, 2, 12, 0), date(2026, 12, 1)),
        # +05:45
        ("Asia/Kathmandu", utc(2026, 12, 1, 18, 15), date(2026, 12, 1)),
        # +13:45 in the southern summer (+12:45 in winter)
        ("Pacific/Chatham", utc(2026, 12, 1, 10, 15), date(2026, 12, 1)),
        ("Pacific/Chatham", utc(2026, 7, 1, 11, 15), date(2026, 7, 1)),
        # +05:30 and -09:30
        ("Asia/Kolkata", utc(2026, 12, 1, 18, 30), date(2026, 12, 1)),
        ("Pacific/Marquesas", utc(2026, 12, 2, 9, 30), date(2026, 12, 1)),
    ],
)
def test_odd_offsets_are_due_at_the_tick_of_their_own_midnight(
    zone: str, midnight_in_utc: datetime, day: date
) -> None:
    assert days_ended(ZoneInfo(zone), tick_ending(midnight_in_utc)) == [day]
    assert days_ended(ZoneInfo(zone), tick_ending(midnight_in_utc - TICK)) == []
    assert days_ended(ZoneInfo(zone), tick_ending(midnight_in_utc + TICK)) == []


@pytest.mark.parametrize(
    "zone",
    ["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kathmandu", "Pacific/Chatham",
     "America/Havana", "America/Santiago", "Asia/Beirut", "Africa/Cairo", "Atlantic/Azores",
     "America/Nuuk", "America/Scoresbysund"],
)  # fmt: skip
def test_over_a_year_of_ticks_each_local_day_ends_exactly_once_in_order(zone: str) -> None:
    # Both 2026 DST switches of every zone are inside.
    ended = days_over_ticks(zone, utc(2025, 12, 30), utc(2027, 1, 2))

    days = [day for _, day in ended]
    assert Counter(days).most_common(1)[0][1] == 1
    assert days == sorted(days)
    first, last = days[0], days[-1]
    assert len(days) == (last - first).days + 1  # no day skipped


def test_a_skipped_midnight_ends_the_day_when_the_clocks_jump() -> None:
    # Havana, 8 March 2026: 23:59:59 -05:00 is followed by 01:00 -04:00; 00:00 never happens.
    havana = ZoneInfo("America/Havana")
    jump = utc(2026, 3, 8, 5, 0)
    assert (jump - timedelta(seconds=1)).astimezone(havana).date() == date(2026, 3, 7)
    assert jump.astimezone(havana).hour == 1

    assert days_ended(havana, tick_ending(jump)) == [date(2026, 3, 7)]
    assert days_ended(havana, tick_ending(jump + TICK)) == []


def test_the_23_hour_day_of_a_skipped_midnight_gets_one_digest() -> None:
    havana = days_over_ticks("America/Havana", utc(2026, 3, 7), utc(2026, 3, 10))

    assert havana == [
        (utc(2026, 3, 7, 5, 0), date(2026, 3, 6)),
        (utc(2026, 3, 8, 5, 0), date(2026, 3, 7)),  # the day that loses its midnight
        (utc(2026, 3, 9, 4, 0), date(2026, 3, 8)),  # a 23-hour day, then -04:00
    ]


def test_a_repeated_midnight_hour_gets_one_digest() -> None:
    # Havana, 1 November 2026: at 01:00 -04:00 the clocks go back to 00:00 -05:00, so 00:00-01:00
    # of 1 November happens twice; the day of 31 October still ends once, at the first 00:00.
    havana = days_over_ticks("America/Havana", utc(2026, 10, 31), utc(2026, 11, 3))

    assert havana == [
        (utc(2026, 10, 31, 4, 0), date(2026, 10, 30)),
        (utc(2026, 11, 1, 4, 0), date(2026, 10, 31)),
        (utc(2026, 11, 2, 5, 0), date(2026, 11, 1)),  # a 25-hour day
    ]


def test_a_fall_back_at_midnight_repeats_the_last_hour_and_ends_the_day_once() -> None:
    # Santiago, 4 April 2026: at 24:00 -03:00 the clocks go back to 23:00 -04:00, so the hour
    # before midnight happens twice and midnight itself once.
    santiago = days_over_ticks("America/Santiago", utc(2026, 4, 3, 12), utc(2026, 4, 6, 12))

    assert santiago == [
        (utc(2026, 4, 4, 3, 0), date(2026, 4, 3)),
        (utc(2026, 4, 5, 4, 0), date(2026, 4, 4)),  # a 25-hour day
        (utc(2026, 4, 6, 4, 0), date(2026, 4, 5)),
    ]


def _transitions(zone: ZoneInfo, start: datetime, days: int) -> list[datetime]:
    """The instants the zone's UTC offset changes, found by day and narrowed to the second."""
    found = []
    for n in range(days):
        low, high = start + timedelta(days=n), start + timedelta(days=n + 1)
        if low.astimezone(zone).utcoffset() == high.astimezone(zone).utcoffset():
            continue
        while high - low > timedelta(seconds=1):
            middle = low + (high - low) / 2
            if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                low = middle
            else:
                high = middle
        found.append(high)
    return found


def test_the_zones_whose_clocks_change_at_midnight_are_the_ones_tested_here() -> None:
    # Which zones switch at 00:00 depends on the tz database this machine ships; if a new zone
    # joins the list, look at its rule and add it to the year-long test above.
    switching_at_midnight = set()
    for name in known_timezones():
        zone = ZoneInfo(name)
        for moment in _transitions(zone, utc(2026, 1, 1), 365):
            before = (moment - timedelta(seconds=1)).astimezone(zone)
            after = moment.astimezone(zone)
            if before.date() != after.date() or after.time().isoformat() == "00:00:00":
                switching_at_midnight.add(name)
    tested = {
        "America/Havana",
        "America/Santiago",
        "Asia/Beirut",
        "Africa/Cairo",
        "Atlantic/Azores",
        "America/Nuuk",
        "America/Scoresbysund",
    }
    aliases = {"Cuba", "Egypt", "Chile/Continental", "America/Godthab"}
    assert switching_at_midnight - aliases == tested


def test_catching_up_a_day_long_outage_finds_each_zones_midnight_once() -> None:
    # The daemon was down from 06:00 to 02:00 the next day and looks back 23 hours on start.
    window = Window(since=utc(2026, 12, 1, 3, 0), until=utc(2026, 12, 2, 2, 0))

    due = due_zones(window)

    assert due["Asia/Tokyo"] == [date(2026, 12, 1)]  # 15:00 UTC
    assert due["Pacific/Kiritimati"] == [date(2026, 12, 1)]  # 10:00 UTC
    assert due["Europe/Paris"] == [date(2026, 12, 1)]  # 23:00 UTC
    assert due["UTC"] == [date(2026, 12, 1)]  # 00:00 UTC
    assert due["America/New_York"] == [date(2026, 11, 30)]  # 05:00 UTC on 1 December
    assert "America/Sao_Paulo" not in due  # 03:00 UTC, on the window's open edge
    assert all(len(days) == 1 for days in due.values())


def test_a_tick_where_nobodys_midnight_passed_names_few_zones() -> None:
    # 00:10 -> 00:25 UTC: no real zone has an offset of 23:35-23:50 or ends its day there.
    assert due_zones(Window(utc(2026, 12, 1, 0, 10), utc(2026, 12, 1, 0, 25))) == {}


def test_only_the_zones_asked_about_are_considered() -> None:
    window = tick_ending(utc(2026, 12, 2))

    assert due_zones(window, ["UTC", "Asia/Tokyo"]) == {"UTC": [date(2026, 12, 1)]}


def test_a_window_of_naive_datetimes_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2))  # noqa: DTZ001 - the point of the test
