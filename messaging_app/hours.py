"""Business hours' time maths: whether a channel is open at an instant, when it opens or closes next, and how
customers read those instants. Plain values in, plain values out (no queries, no clock), so it is tested with
a frozen clock and used by reads and writes alike.

Hours are wall-clock times in the channel's time zone: a 09:00–17:00 range opens at 09:00 local time
whatever the UTC offset is that day. So across DST changes:
- a range starting in the hour skipped at spring-forward opens when the clocks jump (01:00–03:00 in
  London on the last Sunday of March is open 02:00–03:00 BST, one real hour);
- the hour repeated at fall-back counts twice (01:00–03:00 on the last Sunday of October is open for
  three real hours).
A range whose end is at or before its start runs past midnight (22:00–02:00). A closed date closes its
whole local day and cancels the ranges that start on it, including their part after midnight.
"""

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, available_timezones

if TYPE_CHECKING:  # annotations only: the maths reads a model's fields but never queries
    from messaging_app.models import BusinessHours

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# How far the search for the next opening (or the last closing) looks: a year of closed dates, and a week.
HORIZON_DAYS = 372
# A closed period that began before the horizon (a year of closed dates) is named by this instant.
LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Range:
    weekday: int  # 0 is Monday
    start: time
    end: time

    @property
    def overnight(self) -> bool:
        """Ends the next day (an end at or before the start; 00:00–00:00 is the whole day)."""
        return self.end <= self.start

    @property
    def minutes(self) -> int:
        start, end = clock_minutes(self.start), clock_minutes(self.end)
        return end - start if end > start else end - start + 1440


@dataclass(frozen=True)
class Schedule:
    """A channel's hours as plain values: what the time maths works on."""

    tz: ZoneInfo
    ranges: tuple[Range, ...]
    closed_dates: frozenset[date] = frozenset()
    enabled: bool = True


def schedule_of(hours: "BusinessHours | Schedule") -> Schedule:
    """The schedule of stored hours (uses `ranges` and `closed_dates`; prefetch them for many)."""
    if isinstance(hours, Schedule):
        return hours
    return Schedule(
        tz=ZoneInfo(hours.timezone),
        ranges=tuple(Range(r.weekday, r.start, r.end) for r in hours.ranges.all()),
        closed_dates=frozenset(d.date for d in hours.closed_dates.all()),
        enabled=hours.enabled,
    )


@functools.cache
def time_zones() -> frozenset[str]:
    """IANA names this machine's tz database knows (read from disk once per process)."""
    return frozenset(available_timezones())


def clock_minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def business_hours_open_at(hours: "BusinessHours | Schedule", at: datetime) -> bool:
    """Whether the team is at work at the instant `at` (aware). Disabled hours are always open."""
    schedule = schedule_of(hours)
    if not schedule.enabled:
        return True
    local = at.astimezone(schedule.tz)
    day, clock = local.date(), local.time()
    if day in schedule.closed_dates:
        return False
    yesterday = day - timedelta(days=1)
    for r in schedule.ranges:
        if r.weekday == day.weekday() and r.start <= clock and (r.overnight or clock < r.end):
            return True
        if (
            r.overnight
            and r.weekday == yesterday.weekday()
            and clock < r.end
            and yesterday not in schedule.closed_dates
        ):
            return True
    return False


def _instants_reading(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """The instants at which the local clock first reaches `wall` (naive): one, or two in the hour repeated
    at fall-back; for a time skipped at spring-forward, the instant the clocks jump past it."""
    found = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == wall and instant not in found:
            found.append(instant)
    if found:
        return sorted(found)
    # Skipped: fold=0 reads the wall with the offset before the jump, fold=1 with the one after.
    one, other = (wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
    return [_offset_change(min(one, other), max(one, other), tz)]


def _offset_change(low: datetime, high: datetime, tz: ZoneInfo) -> datetime:
    """The first second after `low` with the UTC offset `high` has (call with different offsets at each end)."""
    after = high.astimezone(tz).utcoffset()
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return _instants_reading(datetime.combine(day, time()), tz)[0]


def _candidates(schedule: Schedule, day: date, *, opening: bool) -> Iterator[datetime]:
    """Every instant on a local day at which the hours may open (or close): a range's start (or end), the
    day's start (a closed date begins or ends), a change of UTC offset (the wall clock jumps)."""
    tz = schedule.tz
    for r in schedule.ranges:
        if r.weekday != day.weekday():
            continue
        if opening:
            yield from _instants_reading(datetime.combine(day, r.start), tz)
        else:
            end_day = day + timedelta(days=1) if r.overnight else day
            yield from _instants_reading(datetime.combine(end_day, r.end), tz)
    start, next_start = _day_start(day, tz), _day_start(day + timedelta(days=1), tz)
    yield start
    if start.astimezone(tz).utcoffset() != next_start.astimezone(tz).utcoffset():
        yield _offset_change(start, next_start, tz)


def _is_change(schedule: Schedule, instant: datetime, *, opening: bool) -> bool:
    """The hours open (or close) exactly at `instant`: closed (open) the second before, open (closed) at it."""
    now_open = business_hours_open_at(schedule, instant)
    before_open = business_hours_open_at(schedule, instant - timedelta(seconds=1))
    return now_open and not before_open if opening else before_open and not now_open


def _next_change(schedule: Schedule, at: datetime, *, opening: bool) -> datetime | None:
    """The first opening (or closing) strictly after `at`."""
    if not schedule.ranges:
        return None
    first_day = at.astimezone(schedule.tz).date()
    best = None
    # Days are scanned in order; a day past the first hit is still looked at because a fall-back at
    # midnight gives instants of one local day that come after the next day's first instants.
    for offset in range(-1, HORIZON_DAYS + 1):
        day = first_day + timedelta(days=offset)
        hits = [
            c
            for c in _candidates(schedule, day, opening=opening)
            if c > at and _is_change(schedule, c, opening=opening)
        ]
        if hits:
            best = min([*hits, best]) if best else min(hits)
        elif best is not None:
            return best
    return best


def _previous_change(schedule: Schedule, at: datetime, *, opening: bool) -> datetime | None:
    """The last opening (or closing) at or before `at`."""
    if not schedule.ranges:
        return None
    first_day = at.astimezone(schedule.tz).date()
    best = None
    for offset in range(1, -HORIZON_DAYS - 1, -1):
        day = first_day + timedelta(days=offset)
        hits = [
            c
            for c in _candidates(schedule, day, opening=opening)
            if c <= at and _is_change(schedule, c, opening=opening)
        ]
        if hits:
            best = max([*hits, best]) if best else max(hits)
        elif best is not None:
            return best
    return best


def business_hours_next_open(hours: "BusinessHours | Schedule", at: datetime) -> datetime | None:
    """When the team is at work next: `at` itself while open; None if the hours never open (within a year)."""
    schedule = schedule_of(hours)
    if business_hours_open_at(schedule, at):
        return at
    return _next_change(schedule, at, opening=True)


def business_hours_next_close(hours: "BusinessHours | Schedule", at: datetime) -> datetime | None:
    """When the team stops next: `at` itself while closed; None if the hours never close (within a year)."""
    schedule = schedule_of(hours)
    if not business_hours_open_at(schedule, at):
        return at
    return _next_change(schedule, at, opening=False)


def business_hours_closed_since(hours: "BusinessHours | Schedule", at: datetime) -> datetime | None:
    """The identity of the closed period `at` falls in: the instant it began. None while open.

    A period that began before the search horizon is named LONG_AGO.
    """
    schedule = schedule_of(hours)
    if business_hours_open_at(schedule, at):
        return None
    return _previous_change(schedule, at, opening=False) or LONG_AGO


def business_hours_opened_since(hours: "BusinessHours | Schedule", at: datetime) -> datetime | None:
    """The instant the open period `at` falls in began. None while closed (or open around the clock)."""
    schedule = schedule_of(hours)
    if not business_hours_open_at(schedule, at):
        return None
    return _previous_change(schedule, at, opening=True)


def business_hours_display(instant: datetime | None, tz: ZoneInfo, *, now: datetime) -> str:
    """An instant as customers read it, in the channel's time zone: "today 9:00", "Monday 9:00", or with the
    date when it is a week or more away ("Monday 5 January 9:00")."""
    if instant is None:
        return "later"
    local, today = instant.astimezone(tz), now.astimezone(tz).date()
    clock = f"{local.hour}:{local.minute:02d}"
    if local.date() == today:
        return f"today {clock}"
    if (local.date() - today).days < 6:
        return f"{local:%A} {clock}"
    return f"{local:%A} {local.day} {local:%B} {clock}"
