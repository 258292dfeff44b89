//! A schedule's recurrence: `cron` (in an IANA time zone) or `every_ms`, and its ticks.
//!
//! Why a module of its own: every scheduler process must compute the same ticks from the same
//! schedule with no coordination, so tick computation is a pure function of the expression and
//! an instant. Ticks are UTC milliseconds since the Unix epoch; cron ticks are whole seconds.
//!
//! - `every_ms` (≥ 100): the ticks are the multiples of the interval since the epoch, so they
//!   are aligned and identical everywhere; the time zone plays no part.
//! - `cron`: 5 fields (`min hour dom month dow`), 6 fields with SECONDS FIRST, or one of
//!   `@yearly @annually @monthly @weekly @daily @midnight @hourly` (expanded here: croner has no
//!   `@midnight`). croner parses it (POSIX weekdays, 0 and 7 both Sunday; day-of-month and
//!   day-of-week both restricted means either) and finds matches on the local wall clock; the
//!   clock-change rules live in `dst.rs`: a fixed hour runs once per local time (a skipped
//!   time at the end of the gap, a repeated one at its first occurrence), a wildcard or step
//!   hour follows real time.
//!
//! A tick more than [`SEARCH_HORIZON_MS`] (about five years) away counts as none, so callers
//! get `None` rather than a date they cannot act on. A pattern that matches no date at all
//! (`0 0 30 2 *`) is detected once at parse time, so its queries return `None` at once instead
//! of letting croner search to its year limit (about 0.1 s per call in a debug build).

use std::fmt;

use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

use super::dst::{DstPolicy, ZonedCron};

/// The smallest accepted `every_ms`.
pub const MIN_EVERY_MS: i64 = 100;

/// How far [`ScheduleExpr::next_after`] and [`ScheduleExpr::latest_at_or_before`] look for a
/// cron tick: 1,830 days, at least five calendar years.
pub const SEARCH_HORIZON_MS: i64 = 1_830 * 86_400_000;

/// The aliases accepted for `cron`, with their 5-field meaning.
const ALIASES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// A rejected schedule field, named as in the API (`cron`, `every_ms` or `timezone`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it, for the API client.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ExprError {}

fn err(field: &'static str, message: impl Into<String>) -> ExprError {
    ExprError { field, message: message.into() }
}

/// A validated recurrence that computes its own ticks (UTC ms since the Unix epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleExpr {
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Every(i64),
    Cron(Box<ZonedCron>),
}

impl ScheduleExpr {
    /// Validates a schedule: exactly one of `cron` and `every_ms`, and an IANA `timezone`
    /// (default `UTC`, checked even for `every_ms`). Errors name the field at fault.
    pub fn parse(
        cron: Option<&str>,
        every_ms: Option<i64>,
        timezone: Option<&str>,
    ) -> Result<Self, ExprError> {
        let name = timezone.unwrap_or("UTC");
        let tz: Tz = name.parse().map_err(|_| {
            err("timezone", format!("unknown IANA time zone {name:?} (e.g. \"Europe/Berlin\")"))
        })?;
        let kind = match (cron, every_ms) {
            (Some(expr), None) => parse_cron(expr, tz)?,
            (None, Some(ms)) if ms >= MIN_EVERY_MS => Kind::Every(ms),
            (None, Some(ms)) => {
                return Err(err("every_ms", format!("must be at least {MIN_EVERY_MS}, got {ms}")));
            }
            (Some(_), Some(_)) => {
                return Err(err("cron", "set either `cron` or `every_ms`, not both"));
            }
            (None, None) => return Err(err("cron", "set either `cron` or `every_ms`")),
        };
        Ok(Self { kind })
    }

    /// The first tick strictly after `after_ms`; `None` if there is none within
    /// [`SEARCH_HORIZON_MS`] (or past the supported range, about year 4990 for cron).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match &self.kind {
            Kind::Every(step) => after_ms.div_euclid(*step).checked_add(1)?.checked_mul(*step),
            Kind::Cron(zoned) => zoned
                .next_after(after_ms)
                .filter(|t| t.saturating_sub(after_ms) <= SEARCH_HORIZON_MS),
        }
    }

    /// The ticks in `(from_ms, to_ms]`, oldest first, at most `cap` of them.
    pub fn ticks_between(&self, from_ms: i64, to_ms: i64, cap: usize) -> Vec<i64> {
        let mut ticks = Vec::new();
        let mut cursor = from_ms;
        while ticks.len() < cap {
            let Some(t) = self.next_after(cursor).filter(|t| *t <= to_ms) else { break };
            ticks.push(t);
            cursor = t;
        }
        ticks
    }

    /// How many ticks lie in `[from_ms, to_ms]`, counting at most `cap` (an interval's are
    /// counted at once; a cron pattern's one by one, hence the cap).
    pub fn count_in(&self, from_ms: i64, to_ms: i64, cap: u64) -> u64 {
        if to_ms < from_ms {
            return 0;
        }
        match &self.kind {
            Kind::Every(step) => {
                let first = from_ms.div_euclid(*step) + i64::from(from_ms.rem_euclid(*step) != 0);
                let last = to_ms.div_euclid(*step);
                ((last - first + 1).max(0) as u64).min(cap)
            }
            Kind::Cron(_) => self.ticks_between(from_ms - 1, to_ms, cap as usize).len() as u64,
        }
    }

    /// The latest tick at or before `at_ms` (the "latest" catch-up policy); `None` if there is
    /// none within [`SEARCH_HORIZON_MS`] before it.
    pub fn latest_at_or_before(&self, at_ms: i64) -> Option<i64> {
        match &self.kind {
            Kind::Every(step) => at_ms.div_euclid(*step).checked_mul(*step),
            Kind::Cron(zoned) => zoned
                .latest_at_or_before(at_ms)
                .filter(|t| at_ms.saturating_sub(*t) <= SEARCH_HORIZON_MS),
        }
    }
}

/// Parses `expr` with croner and picks its DST policy from the hour field.
fn parse_cron(expr: &str, tz: Tz) -> Result<Kind, ExprError> {
    let trimmed = expr.trim();
    let pattern = if trimmed.starts_with('@') {
        let alias = ALIASES.iter().find(|(name, _)| name.eq_ignore_ascii_case(trimmed));
        let Some((_, pattern)) = alias else {
            let names: Vec<&str> = ALIASES.iter().map(|(name, _)| *name).collect();
            return Err(err("cron", format!("unknown alias {trimmed:?}; use one of {names:?}")));
        };
        pattern
    } else {
        trimmed
    };
    let fields: Vec<&str> = pattern.split_whitespace().collect();
    if !(5..=6).contains(&fields.len()) {
        return Err(err(
            "cron",
            format!(
                "{expr:?} has {} fields; expected 5 (minute hour day-of-month month \
                 day-of-week), 6 with seconds first, or an alias such as @daily",
                fields.len()
            ),
        ));
    }
    let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).build();
    let cron = parser.parse(pattern).map_err(|e| {
        let at = failing_field(&parser, &fields).unwrap_or_default();
        err("cron", format!("invalid cron expression {expr:?}{at}: {e}"))
    })?;
    // The hour is the fourth field from the end in both the 5- and the 6-field forms.
    let hour = fields[fields.len() - 4];
    let policy = if hour.contains(['*', '/']) { DstPolicy::RealTime } else { DstPolicy::LocalTime };
    Ok(Kind::Cron(Box::new(ZonedCron::new(cron, tz, policy))))
}

/// Names the first field that croner rejects on its own (the others set to `*`), since its
/// messages ("Number out of bounds.") do not say where.
fn failing_field(parser: &CronParser, fields: &[&str]) -> Option<String> {
    const NAMES: [&str; 6] = ["second", "minute", "hour", "day-of-month", "month", "day-of-week"];
    let names = NAMES.get(NAMES.len().checked_sub(fields.len())?..)?;
    fields.iter().zip(names).enumerate().find_map(|(i, (field, name))| {
        let probe: Vec<&str> =
            (0..fields.len()).map(|j| if j == i { *field } else { "*" }).collect();
        parser.parse(&probe.join(" ")).is_err().then(|| format!(" ({name} field {field:?})"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Datelike, Utc, Weekday};
    use std::time::Instant;

    fn ms(rfc3339: &str) -> i64 {
        rfc3339.parse::<DateTime<Utc>>().unwrap().timestamp_millis()
    }

    fn cron(expr: &str, tz: &str) -> ScheduleExpr {
        ScheduleExpr::parse(Some(expr), None, Some(tz)).unwrap()
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        type Case<'a> = (Option<&'a str>, Option<i64>, Option<&'a str>, &'a str);
        let cases: [Case; 14] = [
            (Some("61 * * * *"), None, None, "cron"),
            (Some("* * *"), None, None, "cron"),
            (Some("   "), None, None, "cron"),
            (Some("* * * * * * 2026"), None, None, "cron"),
            (Some("0 0 * * 8"), None, None, "cron"),
            (Some("@often"), None, None, "cron"),
            (Some("0 0 * * *"), Some(1000), None, "cron"),
            (None, None, None, "cron"),
            (None, Some(99), None, "every_ms"),
            (None, Some(0), None, "every_ms"),
            (None, Some(-5), None, "every_ms"),
            (Some("0 0 * * *"), None, Some("Mars/Olympus_Mons"), "timezone"),
            (None, Some(1000), Some("europe/berlin"), "timezone"),
            (None, Some(1000), Some(""), "timezone"),
        ];
        for (c, every, tz, field) in cases {
            let e = ScheduleExpr::parse(c, every, tz).unwrap_err();
            assert_eq!(e.field, field, "{c:?} {every:?} {tz:?}: {e}");
            assert!(!e.message.is_empty());
        }
        let located =
            [("61 * * * *", "minute"), ("0 0 * * 8", "day-of-week"), ("60 0 * * * *", "second")];
        for (expr, field) in located {
            let message = ScheduleExpr::parse(Some(expr), None, None).unwrap_err().message;
            assert!(message.contains(&format!("{field} field")), "{message}");
        }
        assert!(ScheduleExpr::parse(None, Some(MIN_EVERY_MS), None).is_ok());
        for (alias, _) in ALIASES {
            assert!(ScheduleExpr::parse(Some(alias), None, Some("Asia/Tokyo")).is_ok(), "{alias}");
        }
    }

    #[test]
    fn every_ms_ticks_are_the_multiples_of_the_interval() {
        for tz in [None, Some("Europe/Berlin")] {
            let every = ScheduleExpr::parse(None, Some(200), tz).unwrap();
            assert_eq!(every.next_after(1_000_050), Some(1_000_200));
            assert_eq!(every.next_after(1_000_200), Some(1_000_400));
            assert_eq!(every.next_after(-150), Some(0));
            assert_eq!(every.latest_at_or_before(1_000_200), Some(1_000_200));
            assert_eq!(every.latest_at_or_before(1_000_199), Some(1_000_000));
            let ticks = every.ticks_between(1_000_050, 1_001_000, 100);
            assert_eq!(ticks, [1_000_200, 1_000_400, 1_000_600, 1_000_800, 1_001_000]);
            assert_eq!(every.ticks_between(0, 1_000_000, 3), [200, 400, 600]);
            assert_eq!(every.next_after(i64::MAX - 1), None);
        }
    }

    #[test]
    fn ticks_are_counted_in_closed_ranges() {
        let every = ScheduleExpr::parse(None, Some(200), None).unwrap();
        assert_eq!(every.count_in(1_000, 1_000, 10), 1);
        assert_eq!(every.count_in(1_000, 1_600, 10), 4);
        assert_eq!(every.count_in(1_001, 1_599, 10), 2);
        assert_eq!(every.count_in(1_000, 1_600, 3), 3);
        assert_eq!(every.count_in(1_600, 1_000, 10), 0);
        let hourly = cron("@hourly", "UTC");
        let t0 = ms("2026-05-04T10:00:00Z");
        assert_eq!(hourly.count_in(t0, t0 + 3 * 3_600_000, 100), 4);
        assert_eq!(hourly.count_in(t0 + 1, t0 + 3 * 3_600_000 - 1, 100), 2);
    }

    #[test]
    fn sunday_is_both_0_and_7() {
        let (from, to) = (ms("2026-01-01T00:00:00Z"), ms("2026-04-01T00:00:00Z"));
        let zero = cron("0 0 * * 0", "UTC").ticks_between(from, to, 100);
        assert_eq!(zero, cron("0 0 * * 7", "UTC").ticks_between(from, to, 100));
        assert_eq!(zero.len(), 13);
        for t in zero {
            let at = DateTime::from_timestamp_millis(t).unwrap();
            assert_eq!((at.weekday(), t % 86_400_000), (Weekday::Sun, 0));
        }
    }

    #[test]
    fn seconds_field_and_aliases() {
        let t0 = ms("2026-05-04T10:00:00Z");
        let tens = cron("*/10 * * * * *", "UTC").ticks_between(t0, t0 + 60_000, 100);
        assert_eq!(tens, (1..=6).map(|i| t0 + i * 10_000).collect::<Vec<_>>());
        assert_eq!(cron("*/10 * * * * *", "UTC").next_after(t0 + 1), Some(t0 + 10_000));
        // Around Berlin's 2026 fall-back day, so the aliases' DST behaviour is compared too.
        let (from, to) = (ms("2026-10-23T00:00:00Z"), ms("2026-10-27T00:00:00Z"));
        let pairs =
            [("@hourly", "0 * * * *"), ("@midnight", "0 0 * * *"), ("@WEEKLY", "0 0 * * 0")];
        for (alias, pattern) in pairs {
            let a = cron(alias, "Europe/Berlin").ticks_between(from, to, 1000);
            assert_eq!(a, cron(pattern, "Europe/Berlin").ticks_between(from, to, 1000), "{alias}");
            assert!(!a.is_empty(), "{alias}");
        }
    }

    #[test]
    fn latest_at_or_before_and_the_search_horizon() {
        let weekdays = cron("0 9 * * 1-5", "America/New_York");
        let friday = ms("2026-01-09T14:00:00Z");
        assert_eq!(weekdays.latest_at_or_before(ms("2026-01-10T17:00:00Z")), Some(friday));
        assert_eq!(weekdays.latest_at_or_before(friday), Some(friday));
        assert_eq!(weekdays.next_after(friday), Some(ms("2026-01-12T14:00:00Z")));
        let leap = cron("0 0 29 2 *", "UTC");
        assert_eq!(leap.next_after(ms("2026-03-01T00:00:00Z")), Some(ms("2028-02-29T00:00:00Z")));
        // 2100 is not a leap year: the next 29 February after 2097 is more than 5 years away.
        assert_eq!(leap.next_after(ms("2097-03-01T00:00:00Z")), None);
        assert_eq!(leap.latest_at_or_before(ms("2104-02-28T00:00:00Z")), None);
    }

    #[test]
    fn a_pattern_that_never_fires_gives_none_at_once() {
        let started = Instant::now();
        let never = cron("0 0 30 2 *", "UTC");
        let now = ms("2026-06-01T00:00:00Z");
        assert_eq!(never.next_after(now), None);
        assert_eq!(never.latest_at_or_before(now), None);
        assert!(never.ticks_between(0, now, 10).is_empty());
        assert!(started.elapsed().as_millis() < 1_000, "{:?}", started.elapsed());
    }

    #[test]
    fn next_after_is_cheap() {
        for pattern in ["*/5 * * * * *", "0 9 * * 1-5"] {
            let expr = cron(pattern, "America/New_York");
            let mut t = ms("2026-03-01T00:00:00Z");
            let started = Instant::now();
            for _ in 0..1000 {
                t = expr.next_after(t).unwrap();
            }
            // About 5 ms and 25 ms in a debug build; the bound leaves room for a busy machine.
            assert!(started.elapsed().as_millis() < 500, "{pattern}: {:?}", started.elapsed());
        }
    }
}
