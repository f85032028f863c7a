"""The time maths of business hours, with the clock given explicitly: DST days, midnight, closed dates."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from messaging_app.hours import (
    Range,
    Schedule,
    business_hours_closed_since,
    business_hours_display,
    business_hours_next_close,
    business_hours_next_open,
    business_hours_open_at,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz, *args) -> datetime:
    return datetime(*args, tzinfo=tz)


def weekdays_nine_to_five(tz=LONDON, **kw) -> Schedule:
    return Schedule(tz=tz, ranges=tuple(Range(day, time(9), time(17)) for day in (MON, TUE, WED, THU, FRI)), **kw)


def open_hours(schedule: Schedule, start: datetime) -> float:
    """Real hours open from `start` until the following closing."""
    opened = business_hours_next_open(schedule, start)
    return (business_hours_next_close(schedule, opened) - opened).total_seconds() / 3600


# --- DST -------------------------------------------------------------------------------------


def test_a_one_to_three_range_on_londons_spring_forward_day_is_open_one_real_hour():
    # Sunday 29 March 2026: at 01:00 GMT the clocks jump to 02:00 BST; 01:00–02:00 never happens.
    schedule = Schedule(tz=LONDON, ranges=(Range(SUN, time(1), time(3)),))
    assert not business_hours_open_at(schedule, utc(2026, 3, 29, 0, 59))  # 00:59 GMT
    assert business_hours_next_open(schedule, utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 1, 0)  # the jump
    assert business_hours_open_at(schedule, utc(2026, 3, 29, 1, 0))  # 02:00 BST
    assert business_hours_next_close(schedule, utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 29, 2, 0)  # 03:00 BST
    assert open_hours(schedule, utc(2026, 3, 29, 0, 0)) == 1


def test_a_one_to_three_range_on_londons_fall_back_day_is_open_three_real_hours():
    # Sunday 25 October 2026: at 02:00 BST the clocks go back to 01:00 GMT; 01:00–02:00 happens twice.
    schedule = Schedule(tz=LONDON, ranges=(Range(SUN, time(1), time(3)),))
    assert business_hours_next_open(schedule, utc(2026, 10, 24, 23, 0)) == utc(2026, 10, 25, 0, 0)  # 01:00 BST
    assert business_hours_open_at(schedule, utc(2026, 10, 25, 1, 30))  # 01:30 GMT, the second time round
    assert business_hours_next_close(schedule, utc(2026, 10, 25, 0, 0)) == utc(2026, 10, 25, 3, 0)  # 03:00 GMT
    assert open_hours(schedule, utc(2026, 10, 24, 23, 0)) == 3


def test_nine_to_five_follows_the_wall_clock_on_both_dst_days_in_london():
    schedule = Schedule(tz=LONDON, ranges=(Range(SUN, time(9), time(17)),))
    assert business_hours_next_open(schedule, utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 8, 0)  # 09:00 BST
    assert business_hours_next_close(schedule, utc(2026, 3, 29, 8, 0)) == utc(2026, 3, 29, 16, 0)
    assert business_hours_next_open(schedule, utc(2026, 10, 25, 0, 0)) == utc(2026, 10, 25, 9, 0)  # 09:00 GMT
    assert business_hours_next_close(schedule, utc(2026, 10, 25, 9, 0)) == utc(2026, 10, 25, 17, 0)
    assert open_hours(schedule, utc(2026, 3, 29, 0, 0)) == open_hours(schedule, utc(2026, 10, 25, 0, 0)) == 8


def test_new_york_skips_two_oclock_in_march_and_repeats_one_oclock_in_november():
    schedule = Schedule(tz=NEW_YORK, ranges=(Range(SUN, time(1), time(3)), Range(SUN, time(9), time(17))))
    # 8 March 2026: 02:00 EST becomes 03:00 EDT, so 01:00 EST (06:00Z) to 03:00 EDT (07:00Z).
    assert business_hours_next_open(schedule, utc(2026, 3, 8, 5, 0)) == utc(2026, 3, 8, 6, 0)
    assert business_hours_next_close(schedule, utc(2026, 3, 8, 6, 0)) == utc(2026, 3, 8, 7, 0)
    assert business_hours_next_open(schedule, utc(2026, 3, 8, 7, 0)) == utc(2026, 3, 8, 13, 0)  # 09:00 EDT
    # 1 November 2026: 02:00 EDT becomes 01:00 EST, so 01:00 EDT (05:00Z) to 03:00 EST (08:00Z).
    assert business_hours_next_open(schedule, utc(2026, 11, 1, 4, 0)) == utc(2026, 11, 1, 5, 0)
    assert business_hours_next_close(schedule, utc(2026, 11, 1, 5, 0)) == utc(2026, 11, 1, 8, 0)
    assert business_hours_next_open(schedule, utc(2026, 11, 1, 8, 0)) == utc(2026, 11, 1, 14, 0)  # 09:00 EST


def test_a_range_that_starts_inside_the_skipped_hour_opens_when_the_clocks_jump():
    schedule = Schedule(tz=LONDON, ranges=(Range(SUN, time(1, 30), time(4)),))
    assert business_hours_next_open(schedule, utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 1, 0)  # 02:00 BST


# --- midnight ---------------------------------------------------------------------------------


def test_a_range_across_midnight_is_open_until_two_the_next_morning():
    schedule = Schedule(tz=LONDON, ranges=(Range(FRI, time(22), time(2)),))
    assert not business_hours_open_at(schedule, local(LONDON, 2026, 1, 9, 21, 59))
    assert business_hours_open_at(schedule, local(LONDON, 2026, 1, 9, 22, 0))
    assert business_hours_open_at(schedule, local(LONDON, 2026, 1, 10, 1, 59))
    assert not business_hours_open_at(schedule, local(LONDON, 2026, 1, 10, 2, 0))
    # Only Friday night: Saturday night stays closed.
    assert not business_hours_open_at(schedule, local(LONDON, 2026, 1, 10, 23, 0))
    assert business_hours_next_open(schedule, local(LONDON, 2026, 1, 10, 2, 0)) == local(LONDON, 2026, 1, 16, 22, 0)


def test_a_sunday_night_range_runs_into_monday_morning():
    schedule = Schedule(tz=LONDON, ranges=(Range(SUN, time(22), time(2)),))
    assert business_hours_open_at(schedule, local(LONDON, 2026, 1, 12, 1, 0))  # Monday 01:00
    assert not business_hours_open_at(schedule, local(LONDON, 2026, 1, 12, 2, 0))


def test_a_range_ending_at_midnight_and_a_whole_day_range():
    until_midnight = Schedule(tz=LONDON, ranges=(Range(MON, time(18), time(0)),))
    assert business_hours_open_at(until_midnight, local(LONDON, 2026, 1, 5, 23, 59))
    assert not business_hours_open_at(until_midnight, local(LONDON, 2026, 1, 6, 0, 0))
    whole_day = Schedule(tz=LONDON, ranges=(Range(MON, time(0), time(0)),))
    assert business_hours_open_at(whole_day, local(LONDON, 2026, 1, 5, 0, 0))
    assert business_hours_open_at(whole_day, local(LONDON, 2026, 1, 5, 23, 59))
    assert not business_hours_open_at(whole_day, local(LONDON, 2026, 1, 6, 0, 0))


# --- closed dates -------------------------------------------------------------------------------


def test_a_closed_date_closes_the_whole_day_and_the_next_opening_skips_it():
    christmas = date(2026, 12, 25)  # a Friday
    schedule = weekdays_nine_to_five(closed_dates=frozenset({christmas}))
    assert not business_hours_open_at(schedule, local(LONDON, 2026, 12, 25, 11, 0))
    assert business_hours_next_open(schedule, local(LONDON, 2026, 12, 24, 18, 0)) == local(LONDON, 2026, 12, 28, 9, 0)


def test_a_closed_date_cancels_the_night_range_that_starts_on_it_and_closes_the_tail_of_the_one_before():
    holiday = date(2026, 1, 10)  # a Saturday
    schedule = Schedule(
        tz=LONDON,
        ranges=(Range(FRI, time(22), time(2)), Range(SAT, time(22), time(2))),
        closed_dates=frozenset({holiday}),
    )
    assert business_hours_open_at(schedule, local(LONDON, 2026, 1, 9, 23, 0))  # Friday night
    assert not business_hours_open_at(schedule, local(LONDON, 2026, 1, 10, 1, 0))  # its tail, on the holiday
    assert not business_hours_open_at(schedule, local(LONDON, 2026, 1, 10, 23, 0))  # Saturday night
    assert not business_hours_open_at(schedule, local(LONDON, 2026, 1, 11, 1, 0))  # its tail, on Sunday
    # Entering the holiday at midnight closes: the closed period begins at 00:00.
    assert business_hours_closed_since(schedule, local(LONDON, 2026, 1, 10, 12, 0)) == local(LONDON, 2026, 1, 10, 0, 0)


# --- closed periods and how the next opening reads ---------------------------------------------


def test_a_closed_period_is_named_by_when_it_began_the_same_throughout():
    schedule = weekdays_nine_to_five()
    friday_evening = local(LONDON, 2026, 1, 9, 18, 0)
    saturday = local(LONDON, 2026, 1, 10, 12, 0)
    monday_night = local(LONDON, 2026, 1, 12, 22, 0)
    assert business_hours_closed_since(schedule, friday_evening) == local(LONDON, 2026, 1, 9, 17, 0)
    assert business_hours_closed_since(schedule, saturday) == business_hours_closed_since(schedule, friday_evening)
    assert business_hours_closed_since(schedule, monday_night) == local(LONDON, 2026, 1, 12, 17, 0)
    assert business_hours_closed_since(schedule, local(LONDON, 2026, 1, 12, 10, 0)) is None  # open


def test_next_open_reads_as_a_weekday_and_time_in_the_channels_time_zone():
    schedule = weekdays_nine_to_five(tz=NEW_YORK)
    friday_night = utc(2026, 1, 10, 3, 0)  # Friday 22:00 in New York, already Saturday in UTC
    opening = business_hours_next_open(schedule, friday_night)
    assert business_hours_display(opening, NEW_YORK, now=friday_night) == "Monday 9:00"
    early = local(NEW_YORK, 2026, 1, 12, 7, 30)
    assert business_hours_display(business_hours_next_open(schedule, early), NEW_YORK, now=early) == "today 9:00"
    far = local(NEW_YORK, 2026, 12, 20, 12, 0)
    long_break = weekdays_nine_to_five(
        tz=NEW_YORK, closed_dates=frozenset(date(2026, 12, 21) + timedelta(days=i) for i in range(14))
    )
    assert (
        business_hours_display(business_hours_next_open(long_break, far), NEW_YORK, now=far) == "Monday 4 January 9:00"
    )


def test_disabled_hours_are_always_open_and_hours_without_ranges_never_open():
    disabled = weekdays_nine_to_five(enabled=False)
    assert business_hours_open_at(disabled, local(LONDON, 2026, 1, 10, 3, 0))
    empty = Schedule(tz=LONDON, ranges=())
    assert business_hours_next_open(empty, utc(2026, 1, 1)) is None
