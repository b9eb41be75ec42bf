#!/usr/bin/env python3
"""Generate reference.txt: when recurring deploy freezes hold, computed
independently of release-sentinel, for its tests to compare with.

The reference is croniter (cron matching) and Python's zoneinfo (the IANA
time zone database), with the README's rule applied here, in Python:

  * A cron expression is matched against wall clock times. croniter is run
    on naive datetimes, so that it matches fields only and applies none of
    its own daylight-saving handling (croniter's rules for skipped and
    repeated times, on aware datetimes, are not the README's: it is not
    used for that).
  * Each matching wall clock time is placed on the time line by one rule,
    for single values, lists, ranges and steps alike, for starts and ends:
    a time the clocks skip happens at the first instant after the gap
    (the transition instant); a time the clocks repeat happens at its
    first pass only (fold=0), its second pass is no occurrence.
  * An occurrence of a freeze runs from a start to the first end at or
    after it, half-open [start, end): the start instant is frozen, the end
    instant is not. A start and an end on the same instant make an empty
    occurrence that freezes nothing.
  * An instant t is frozen when the latest start at or before t has its
    end after t. Then the row gives that occurrence. Otherwise the row
    gives the next non-empty occurrence that starts after t.

Output, one block per (zone, start, end):

  = <zone>|<freeze_start>|<freeze_end>
  <t> F <start> <end>      t is frozen, by the occurrence [start, end)
  <t> O <start> <end>      t is not; [start, end) is the next occurrence

with every instant in seconds since the Unix epoch (UTC).

The instants: every 30 minutes over the day around each of the zone's
daylight-saving changes of 2026 (12 hours either side), every start and
end instant within 4 hours of a change and the second before each, and 24
instants drawn at random (fixed seed) over 2026.

Run: pip install croniter; python3 generate.py > reference.txt
(croniter 7.0.0 and the system's tzdata 2025b made the committed file.)
"""

import bisect
import random
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]

PAIRS = [
    # Lists, ranges and steps whose values fall in a skipped or repeated hour.
    ("0 2,14 * * *", "0 1,13 * * *"),
    ("0,30 2 * * *", "15,45 3 * * *"),
    ("0 */2 * * *", "30 */2 * * *"),
    ("*/10 2 * * *", "5 3 * * *"),
    ("0 1-3 * * *", "30 1-3 * * *"),
    ("0,20,40 2 * * *", "10,30,50 2 * * *"),
    ("30 0-3 * * *", "0 1-4 * * *"),
    ("0 */3 * * *", "0 1-22/3 * * *"),
    ("*/15 * * * *", "5-59/15 * * * *"),
    ("0 0,1,2 * * *", "50 2 * * *"),
    # Single values in and around the hours that change.
    ("30 1 * * *", "0 3 * * *"),
    ("30 2 * * *", "0 4 * * *"),
    ("45 1 * * *", "15 2 * * *"),
    ("59 1 * * *", "1 3 * * *"),
    ("15 2 * * *", "45 2 * * *"),
    ("0 0 * * *", "0 1 * * *"),
    ("0 23 * * *", "0 0 * * *"),
    # A start and an end on the same instant.
    ("0 2 * * *", "0 3 * * *"),
    ("0 3 * * *", "0 2 * * *"),
    ("0 10 15W * *", "0 10 16 * *"),
    # Weeks, months and day-of-month/day-of-week forms.
    ("0 23 * * 5", "0 7 * * 1"),
    ("0 18 * * 5", "0 9 * * 1"),
    ("30 2 * * 0", "30 3 * * 0"),
    ("0 0 L * *", "0 0 1 * *"),
    ("0 9 * * 1#2", "0 17 * * 1#2"),
    ("0 8 1-7 * 1", "0 18 1-7 * 1"),
]

UTC = timezone.utc
# Matches are listed over this span of wall clock times: wide enough that
# every instant of 2026 has its previous start and its next end inside.
SPAN = (datetime(2025, 6, 1), datetime(2027, 7, 1))
YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def transitions(zone):
    """The instants of 2026 at which the zone's offset changes."""
    out = []
    t = YEAR[0]
    step = timedelta(hours=1)
    while t < YEAR[1]:
        if t.astimezone(zone).utcoffset() != (t + step).astimezone(zone).utcoffset():
            lo, hi = t, t + step  # offset(lo) differs from offset(hi)
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset():
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
        t += step
    return out


def happens(zone, wall):
    """The instant the wall clock time `wall` happens at, by the rule."""
    first = wall.replace(tzinfo=zone, fold=0)
    at = first.astimezone(UTC)
    if at.astimezone(zone).replace(tzinfo=None) == wall:
        return at  # a real time; fold=0 is the first pass of a repeated one
    # Skipped: the first instant after the gap. fold=1 reads the wall clock
    # with the offset after the change, which puts it before the change;
    # fold=0 with the one before, which puts it after: the change is between.
    lo = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = at
    while hi - lo > timedelta(seconds=1):
        mid = (lo + (hi - lo) / 2).replace(microsecond=0)
        if mid.astimezone(zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def occurrences(expr, zone):
    """Every instant of the span at which `expr` matches, by the rule."""
    it = croniter(expr, SPAN[0] - timedelta(minutes=1))
    out = []
    while True:
        wall = it.get_next(datetime)
        if wall >= SPAN[1]:
            break
        out.append(happens(zone, wall))
    # The rule never reorders (a later wall clock time never happens
    # earlier), but several times may share an instant (a gap).
    assert out == sorted(out), expr
    return sorted(set(out))


def first_at_or_after(xs, t):
    i = bisect.bisect_left(xs, t)
    return xs[i] if i < len(xs) else None


def last_at_or_before(xs, t):
    i = bisect.bisect_right(xs, t)
    return xs[i - 1] if i else None


def judge(starts, ends, t):
    s = last_at_or_before(starts, t)
    if s is not None:
        e = first_at_or_after(ends, s)
        assert e is not None
        if t < e:
            return "F", s, e
    i = bisect.bisect_right(starts, t)
    while True:
        s = starts[i]
        e = first_at_or_after(ends, s)
        if e > s:
            return "O", s, e
        i += 1


def secs(t):
    return int(t.timestamp())


def main():
    rng = random.Random(16)
    out = sys.stdout
    for zone_name in ZONES:
        zone = ZoneInfo(zone_name)
        changes = transitions(zone)
        assert len(changes) == 2, (zone_name, changes)
        for start, end in PAIRS:
            starts = occurrences(start, zone)
            ends = occurrences(end, zone)
            instants = set()
            for change in changes:
                lo, hi = change - timedelta(hours=12), change + timedelta(hours=12)
                t = lo.replace(minute=0, second=0)
                while t < hi:
                    instants.add(t)
                    t += timedelta(minutes=30)
                lo, hi = change - timedelta(hours=4), change + timedelta(hours=4)
                for x in starts[bisect.bisect_left(starts, lo) : bisect.bisect_right(starts, hi)]:
                    instants.update([x, x - timedelta(seconds=1)])
                for x in ends[bisect.bisect_left(ends, lo) : bisect.bisect_right(ends, hi)]:
                    instants.update([x, x - timedelta(seconds=1)])
            for _ in range(24):
                instants.add(YEAR[0] + timedelta(seconds=rng.randrange(365 * 86400)))
            out.write(f"= {zone_name}|{start}|{end}\n")
            for t in sorted(instants):
                state, s, e = judge(starts, ends, t)
                out.write(f"{secs(t)} {state} {secs(s)} {secs(e)}\n")


if __name__ == "__main__":
    main()
