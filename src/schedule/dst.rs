//! Turning cron matches on the local wall clock into UTC instants across clock changes.
//!
//! Why this exists: croner decides DST behaviour by its own rule (a job is "fixed-time" only
//! when its second, minute *and* hour are single values). The product rule keys on the HOUR
//! field alone, and croner has no `@midnight`, so `0,30 2 * * *` or `0 1,2 * * *` would follow
//! croner's interval rule (skip the gap, fire twice in the overlap) where the spec says "once".
//! So croner is only used as a calendar matcher on naive local time (`NaiveDateTime`, which has
//! no clock changes), and every DST decision is made here, with chrono-tz, by one of two policies:
//!
//! - [`DstPolicy::LocalTime`] (hour field without `*` or `/`): each matching local time runs
//!   once. A time in a spring-forward gap maps to the first real instant after the gap (the
//!   moment of the change: `30 2 * * *` in Europe/Berlin on 2026-03-29 runs at 03:00 local =
//!   01:00Z); several gap times collapse into that one tick. A time that occurs twice in a
//!   fall-back overlap maps to its first occurrence. This mapping never decreases as the wall
//!   clock advances, so the next tick is the first match past the caller's own wall time, except
//!   inside the second half of an overlap, where the search starts where that overlap ends.
//! - [`DstPolicy::RealTime`] (hour field with a wildcard or a step): the ticks are the real
//!   instants whose local wall time matches. Gap times do not exist and yield nothing; overlap
//!   times yield both occurrences. Wall time is monotonic in real time except at a fall-back, so
//!   a search from the first half of an overlap also walks the second half from its start and
//!   keeps the earlier answer (and, backwards, from the second half into the first).
//!
//! Clock changes are found by bisecting chrono-tz offsets (about 27 lookups, only on days with
//! a change); tzdb changes fall on whole seconds, so millisecond bisection is exact.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone};
use chrono_tz::Tz;
use croner::Cron;

/// Wider than any UTC offset (tzdb's extremes are about ±16 h), so reading a wall time as if it
/// were UTC and moving this far either way brackets every instant that shows that wall time.
const OFFSET_MARGIN_MS: i64 = 26 * 3_600_000;

/// Bound on the steps of one walk. A walk returns at its first or second match (a gap is skipped
/// in one step), so this only guards against a time zone table that breaks that reasoning.
const MAX_STEPS: usize = 16;

/// Which of the two DST rules a cron pattern follows (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DstPolicy {
    /// Fixed local times: a gap time runs at the end of the gap, an overlap time runs once.
    LocalTime,
    /// Real time: gap times never occur, overlap times occur twice.
    RealTime,
}

/// A parsed cron pattern evaluated on the wall clock of one time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ZonedCron {
    cron: Cron,
    tz: Tz,
    policy: DstPolicy,
    /// False for a pattern that matches no date at all (`0 0 30 2 *`): every query is `None`.
    fires: bool,
}

/// The real instants (UTC ms) that one wall-clock time names.
enum Instants {
    One(i64),
    /// A repeated time: its first and its second occurrence.
    Two(i64, i64),
    /// A skipped time.
    Gap,
}

/// Which half of a fall-back overlap an instant is in, with the instant of the change.
enum Fold {
    Earlier(i64),
    Later(i64),
}

impl ZonedCron {
    /// Wraps a parsed pattern; `policy` comes from the syntax of its hour field.
    ///
    /// Also settles once whether the pattern ever fires, so that queries on one that never does
    /// return at once instead of letting croner search to its year limit (5000) every time: the
    /// Gregorian calendar repeats every 400 years, so a search from 4600 is conclusive.
    pub(super) fn new(cron: Cron, tz: Tz, policy: DstPolicy) -> Self {
        let fires = NaiveDate::from_ymd_opt(4600, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .is_some_and(|start| cron.find_next_occurrence(&start, true).is_ok());
        Self { cron, tz, policy, fires }
    }

    /// The first tick strictly after `after` (UTC ms), however far croner has to look.
    pub(super) fn next_after(&self, after: i64) -> Option<i64> {
        let wall = self.wall_at(after).filter(|_| self.fires)?;
        match self.policy {
            DstPolicy::LocalTime => self.next_local(after, wall),
            DstPolicy::RealTime => self.next_real(after, wall),
        }
    }

    /// The last tick at or before `at` (UTC ms), however far croner has to look.
    pub(super) fn latest_at_or_before(&self, at: i64) -> Option<i64> {
        let wall = self.wall_at(at).filter(|_| self.fires)?;
        match self.policy {
            DstPolicy::LocalTime => self.latest_local(at, wall),
            DstPolicy::RealTime => self.latest_real(at, wall),
        }
    }

    fn next_local(&self, after: i64, wall: NaiveDateTime) -> Option<i64> {
        // Inside the overlap's second half, the matches up to its end map to the first half.
        let (mut from, mut inclusive) = match self.fold(after, wall) {
            Some(Fold::Later(change)) => (self.end_of_first_half(change)?, true),
            _ => (wall, false),
        };
        for _ in 0..MAX_STEPS {
            let w = self.cron.find_next_occurrence(&from, inclusive).ok()?;
            let t = self.local_instant(w)?;
            if t > after {
                return Some(t);
            }
            (from, inclusive) = (w, false);
        }
        None
    }

    fn latest_local(&self, at: i64, wall: NaiveDateTime) -> Option<i64> {
        // Inside the overlap's second half, the rest of the overlap's times already ran.
        let (mut from, mut inclusive) = match self.fold(at, wall) {
            Some(Fold::Later(change)) => (self.end_of_first_half(change)?, false),
            _ => (wall, true),
        };
        for _ in 0..MAX_STEPS {
            let w = self.cron.find_previous_occurrence(&from, inclusive).ok()?;
            let t = self.local_instant(w)?;
            if t <= at {
                return Some(t);
            }
            (from, inclusive) = (w, false);
        }
        None
    }

    fn next_real(&self, after: i64, wall: NaiveDateTime) -> Option<i64> {
        let first = self.walk_forward(after, wall, false);
        if let Some(Fold::Earlier(change)) = self.fold(after, wall)
            && first.is_none_or(|t| t >= change)
        {
            let second = self.walk_forward(after, self.wall_at(change)?, true);
            return first.into_iter().chain(second).min();
        }
        first
    }

    fn latest_real(&self, at: i64, wall: NaiveDateTime) -> Option<i64> {
        let first = self.walk_backward(at, wall, true);
        if let Some(Fold::Later(change)) = self.fold(at, wall)
            && first.is_none_or(|t| t < change)
        {
            let second = self.walk_backward(at, self.wall_at(change - 1)?, true);
            return first.into_iter().chain(second).max();
        }
        first
    }

    /// Real-time policy: the earliest instant after `after` of the matches from `from` on.
    fn walk_forward(
        &self,
        after: i64,
        mut from: NaiveDateTime,
        mut inclusive: bool,
    ) -> Option<i64> {
        for _ in 0..MAX_STEPS {
            let w = self.cron.find_next_occurrence(&from, inclusive).ok()?;
            match self.instants(w) {
                Instants::One(t) if t > after => return Some(t),
                Instants::Two(e, l) if l > after => return Some(if e > after { e } else { l }),
                Instants::Gap => {
                    // Skip the whole gap at once rather than match by match.
                    (from, inclusive) = (self.wall_at(self.gap_end(w)?)?, true);
                    continue;
                }
                _ => {}
            }
            (from, inclusive) = (w, false);
        }
        None
    }

    /// Real-time policy: the latest instant at or before `at` of the matches from `from` back.
    fn walk_backward(&self, at: i64, mut from: NaiveDateTime, mut inclusive: bool) -> Option<i64> {
        for _ in 0..MAX_STEPS {
            let w = self.cron.find_previous_occurrence(&from, inclusive).ok()?;
            match self.instants(w) {
                Instants::One(t) if t <= at => return Some(t),
                Instants::Two(e, l) if e <= at => return Some(if l <= at { l } else { e }),
                Instants::Gap => {
                    (from, inclusive) = (self.wall_at(self.gap_end(w)? - 1)?, true);
                    continue;
                }
                _ => {}
            }
            (from, inclusive) = (w, false);
        }
        None
    }

    /// Local-time policy: the one instant a matching wall time runs at.
    fn local_instant(&self, wall: NaiveDateTime) -> Option<i64> {
        match self.instants(wall) {
            Instants::One(t) | Instants::Two(t, _) => Some(t),
            Instants::Gap => self.gap_end(wall),
        }
    }

    fn instants(&self, wall: NaiveDateTime) -> Instants {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => Instants::One(t.timestamp_millis()),
            LocalResult::Ambiguous(e, l) => {
                Instants::Two(e.timestamp_millis(), l.timestamp_millis())
            }
            LocalResult::None => Instants::Gap,
        }
    }

    /// Which half of an overlap `at` is in, if its wall time `wall` occurs twice.
    fn fold(&self, at: i64, wall: NaiveDateTime) -> Option<Fold> {
        let Instants::Two(first, second) = self.instants(wall) else { return None };
        let after = offset_ms(self.tz, second)?;
        let change = bisect(first, second, |x| offset_ms(self.tz, x) == Some(after));
        Some(if at < second { Fold::Earlier(change) } else { Fold::Later(change) })
    }

    /// The instant a spring-forward gap containing the nonexistent `wall` ends: the first
    /// instant whose wall time is past `wall`.
    fn gap_end(&self, wall: NaiveDateTime) -> Option<i64> {
        let guess = wall.and_utc().timestamp_millis();
        let later = |x: i64| self.wall_at(x).is_some_and(|w| w > wall);
        // No instant shows `wall`, so the flip of `later` is a jump over it: the gap's end.
        Some(bisect(
            guess.checked_sub(OFFSET_MARGIN_MS)?,
            guess.checked_add(OFFSET_MARGIN_MS)?,
            later,
        ))
    }

    /// The wall time where an overlap that ends its first half at `change` stops repeating.
    fn end_of_first_half(&self, change: i64) -> Option<NaiveDateTime> {
        self.wall_at(change - 1)?.checked_add_signed(TimeDelta::milliseconds(1))
    }

    fn wall_at(&self, ms: i64) -> Option<NaiveDateTime> {
        wall_at(self.tz, ms)
    }
}

/// The local wall time in `tz` at the instant `ms`.
fn wall_at(tz: Tz, ms: i64) -> Option<NaiveDateTime> {
    Some(DateTime::from_timestamp_millis(ms)?.with_timezone(&tz).naive_local())
}

/// The UTC offset of `tz` at the instant `ms`, in ms.
fn offset_ms(tz: Tz, ms: i64) -> Option<i64> {
    let utc = DateTime::from_timestamp_millis(ms)?.naive_utc();
    Some(i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()) * 1000)
}

/// The smallest `x` in `(lo, hi]` where `pred` turns true, given `!pred(lo)` and `pred(hi)`.
fn bisect(mut lo: i64, mut hi: i64, pred: impl Fn(i64) -> bool) -> i64 {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::super::expr::ScheduleExpr;
    use super::*;
    use chrono::{Duration, Utc, Weekday};

    const HOUR: i64 = 3_600_000;

    /// Zone, year, spring (else fall), the change's UTC instant, the fixed pattern to test.
    const CHANGES: [(&str, i32, bool, &str, &str); 8] = [
        ("Europe/Berlin", 2026, true, "2026-03-29T01:00:00Z", "30 2 * * *"),
        ("Europe/Berlin", 2026, false, "2026-10-25T01:00:00Z", "30 2 * * *"),
        ("Europe/Berlin", 2027, true, "2027-03-28T01:00:00Z", "30 2 * * *"),
        ("Europe/Berlin", 2027, false, "2027-10-31T01:00:00Z", "30 2 * * *"),
        ("America/New_York", 2026, true, "2026-03-08T07:00:00Z", "30 2 * * *"),
        ("America/New_York", 2026, false, "2026-11-01T06:00:00Z", "30 1 * * *"),
        ("America/New_York", 2027, true, "2027-03-14T07:00:00Z", "30 2 * * *"),
        ("America/New_York", 2027, false, "2027-11-07T06:00:00Z", "30 1 * * *"),
    ];

    fn ms(rfc3339: &str) -> i64 {
        rfc3339.parse::<DateTime<Utc>>().unwrap().timestamp_millis()
    }

    /// The change's local date by the legal rule: EU last Sunday of March/October (01:00Z);
    /// US second Sunday of March / first Sunday of November (02:00 local).
    fn rule_date(zone: &str, year: i32, spring: bool) -> NaiveDate {
        let sunday = |month, n| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n);
        match (zone, spring) {
            ("Europe/Berlin", _) => {
                let month = if spring { 3 } else { 10 };
                sunday(month, 5).or_else(|| sunday(month, 4)).unwrap()
            }
            (_, true) => sunday(3, 2).unwrap(),
            (_, false) => sunday(11, 1).unwrap(),
        }
    }

    /// Finds the change on the rule's date with chrono-tz and checks it against the table and
    /// the rule's time of day; returns the change and the local day as `[start, end)` in UTC ms.
    fn check_change(zone: &str, year: i32, spring: bool, change: &str) -> (i64, i64, i64) {
        let tz: Tz = zone.parse().unwrap();
        let date = rule_date(zone, year, spring);
        let midnight = date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
        let (lo, hi) = (midnight - 12 * HOUR, midnight + 36 * HOUR);
        let found = bisect(lo, hi, |x| offset_ms(tz, x) == offset_ms(tz, hi));
        assert_eq!(found, ms(change), "{zone} {year}");
        assert_eq!(offset_ms(tz, found) > offset_ms(tz, found - 1), spring, "{zone} {year}");
        let old_offset = offset_ms(tz, found - 1).unwrap();
        let rule = if zone == "Europe/Berlin" { found } else { found + old_offset };
        assert_eq!(rule, midnight + if zone == "Europe/Berlin" { HOUR } else { 2 * HOUR });
        let local_midnight = |d: NaiveDate| {
            let local = tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap());
            local.single().unwrap().timestamp_millis()
        };
        (found, local_midnight(date), local_midnight(date + Duration::days(1)))
    }

    #[test]
    fn dst_days_follow_the_rules() {
        for (zone, year, spring, change, fixed) in CHANGES {
            let (change, start, end) = check_change(zone, year, spring, change);
            let ticks = |pattern: &str| {
                let expr = ScheduleExpr::parse(Some(pattern), None, Some(zone)).unwrap();
                expr.ticks_between(start - 1, end - 1, 1000)
            };
            // A fixed time in the gap runs at its end; one in the overlap runs the first time.
            let once = if spring { change } else { change - HOUR / 2 };
            assert_eq!(ticks(fixed), [once], "{zone} {year} {fixed}");
            // Wildcard or step hours follow real time: 23 or 25 hours, evenly spaced.
            let hours = (end - start) / HOUR;
            assert_eq!(hours, if spring { 23 } else { 25 }, "{zone} {year}");
            for (pattern, per_hour) in [("*/30 * * * *", 2), ("0 * * * *", 1), ("0 */1 * * *", 1)] {
                let got = ticks(pattern);
                assert_eq!(got.len() as i64, hours * per_hour, "{zone} {year} {pattern}");
                assert!(got.windows(2).all(|w| w[1] - w[0] == HOUR / per_hour), "{pattern}");
            }
        }
    }

    /// Ticks by brute force over whole minutes: real time keeps each instant whose wall time
    /// matches; local time maps each matching wall minute (first occurrence; gap → `change`).
    fn reference(
        tz: Tz,
        pattern: &str,
        real_time: bool,
        (from, to): (i64, i64),
        change: i64,
    ) -> Vec<i64> {
        let cron: Cron = pattern.parse().unwrap();
        let matches = |w: &NaiveDateTime| cron.is_time_matching(w).unwrap();
        let minutes = (from / 60_000..to / 60_000).map(|m| m * 60_000);
        let mut ticks: Vec<i64> = if real_time {
            minutes.filter(|&t| matches(&wall_at(tz, t).unwrap())).collect()
        } else {
            let first = wall_at(tz, from).unwrap();
            (0..(to - from) / 60_000 + 240)
                .map(|m| first + Duration::minutes(m))
                .filter(matches)
                .map(|w| {
                    tz.from_local_datetime(&w).earliest().map_or(change, |t| t.timestamp_millis())
                })
                .filter(|t| (from..to).contains(t))
                .collect()
        };
        ticks.sort_unstable();
        ticks.dedup();
        ticks
    }

    #[test]
    fn every_query_agrees_with_brute_force_around_each_change() {
        let patterns = [
            ("*/30 * * * *", true),
            ("15 */2 * * *", true),
            ("45 0-4/1 * * *", true),
            ("* */2 * * *", true),
            ("30 2 * * *", false),
            ("0,30 2 * * *", false),
            ("*/15 1-3 * * *", false),
            ("0 1,2 * * *", false),
            ("* 1,2 * * *", false),
        ];
        for (zone, _, _, change, _) in CHANGES {
            let tz: Tz = zone.parse().unwrap();
            let window = (ms(change) - 30 * HOUR, ms(change) + 30 * HOUR);
            for (pattern, real_time) in patterns {
                let expr = ScheduleExpr::parse(Some(pattern), None, Some(zone)).unwrap();
                let expected = reference(tz, pattern, real_time, window, ms(change));
                let probes = (window.0 + 3 * HOUR..window.1 - 3 * HOUR).step_by(300_000);
                for x in probes.flat_map(|x| [x - 1, x, x + 1]) {
                    // Past the window's ends the reference knows nothing, so beyond is enough.
                    let next = expected.iter().find(|&&t| t > x).copied();
                    let next = next.or_else(|| expr.next_after(x).filter(|&t| t >= window.1));
                    assert_eq!(expr.next_after(x), next, "{zone} {pattern} next_after {x}");
                    let latest = expected.iter().rev().find(|&&t| t <= x).copied();
                    let latest =
                        latest.or_else(|| expr.latest_at_or_before(x).filter(|&t| t < window.0));
                    assert_eq!(expr.latest_at_or_before(x), latest, "{zone} {pattern} latest {x}");
                }
            }
        }
    }
}
