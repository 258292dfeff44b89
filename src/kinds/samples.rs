//! Payload parsing and statistics shared by the built-in handlers.
//!
//! Every handler parses its payload twice: in `validate` at submission, and again in
//! `run` (a task may have been written by an older version, or by hand). Both go through
//! these helpers, so one payload always gets the same answer and the same error message,
//! naming the exact offending value (`payload.samples[3]`, not just "bad samples").
//! Fields that are absent and fields that are `null` are treated alike.
//!
//! The mean and standard deviation live here too because `telemetry.aggregate` and
//! `telemetry.anomalies` must agree on what they are for a series.

use std::fmt::Display;
use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use crate::task::TaskError;

/// The most elements a series payload may hold; bounds the memory and CPU of one task.
pub(super) const MAX_SAMPLES: usize = 1_000_000;

/// A JSON object, as payloads are.
pub(super) type Object = Map<String, Value>;

/// The payload as a JSON object, or an error on `payload`.
pub(super) fn object(payload: &Value) -> Result<&Object, TaskError> {
    payload.as_object().ok_or_else(|| TaskError::invalid("", "must be a JSON object"))
}

/// `value` unless it is `None`, in which case `field` is reported as missing.
pub(super) fn required<T>(value: Option<T>, field: &str) -> Result<T, TaskError> {
    value.ok_or_else(|| TaskError::invalid(field, "is required"))
}

/// The field's value, with `null` read as absent.
fn get<'a>(obj: &'a Object, field: &str) -> Option<&'a Value> {
    obj.get(field).filter(|value| !value.is_null())
}

/// A finite number; `field` names the value in the error (a `Display` so that an
/// indexed name like `samples[3]` is only formatted when there is an error).
pub(super) fn finite(value: &Value, field: impl Display) -> Result<f64, TaskError> {
    value
        .as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| TaskError::invalid(field.to_string(), "must be a finite number"))
}

/// An integer inside `range`; `field` names the value in the error.
pub(super) fn integer(
    value: &Value,
    field: impl Display,
    range: RangeInclusive<i64>,
) -> Result<i64, TaskError> {
    // JSON has one number type: 5.0 is the integer 5 (as JSON Schema says).
    let integral = || value.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18);
    let number = value.as_i64().or_else(|| integral().map(|f| f as i64));
    number.filter(|n| range.contains(n)).ok_or_else(|| {
        let message = match (*range.start(), *range.end()) {
            (i64::MIN, i64::MAX) => "must be an integer within the i64 range".to_owned(),
            (lo, i64::MAX) => format!("must be an integer >= {lo}"),
            (lo, hi) => format!("must be an integer from {lo} to {hi}"),
        };
        TaskError::invalid(field.to_string(), message)
    })
}

/// An optional field read by `read`, or an error saying what it `must` be.
fn optional<'a, T>(
    obj: &'a Object,
    field: &str,
    read: impl FnOnce(&'a Value) -> Option<T>,
    must: &str,
) -> Result<Option<T>, TaskError> {
    get(obj, field)
        .map(|value| read(value).ok_or_else(|| TaskError::invalid(field, must)))
        .transpose()
}

/// An optional finite number field.
pub(super) fn opt_f64(obj: &Object, field: &str) -> Result<Option<f64>, TaskError> {
    get(obj, field).map(|v| finite(v, field)).transpose()
}

/// An optional integer field inside `range`.
pub(super) fn opt_integer(
    obj: &Object,
    field: &str,
    range: RangeInclusive<i64>,
) -> Result<Option<i64>, TaskError> {
    get(obj, field).map(|v| integer(v, field, range)).transpose()
}

/// An optional boolean field.
pub(super) fn opt_bool(obj: &Object, field: &str) -> Result<Option<bool>, TaskError> {
    optional(obj, field, Value::as_bool, "must be true or false")
}

/// An optional string field.
pub(super) fn opt_str<'a>(obj: &'a Object, field: &str) -> Result<Option<&'a str>, TaskError> {
    optional(obj, field, Value::as_str, "must be a string")
}

/// A required array field of 1 to [`MAX_SAMPLES`] elements, not yet checked one by one.
pub(super) fn series<'a>(obj: &'a Object, field: &str) -> Result<&'a [Value], TaskError> {
    let items = required(get(obj, field), field)?
        .as_array()
        .ok_or_else(|| TaskError::invalid(field, "must be an array"))?;
    if items.is_empty() || items.len() > MAX_SAMPLES {
        let message = format!("must hold 1 to {MAX_SAMPLES} elements, got {}", items.len());
        return Err(TaskError::invalid(field, message));
    }
    Ok(items)
}

/// A required array field of 1 to [`MAX_SAMPLES`] finite numbers; a bad element is
/// reported by index, e.g. `payload.samples[3]`.
pub(super) fn finite_series(obj: &Object, field: &str) -> Result<Vec<f64>, TaskError> {
    series(obj, field)?
        .iter()
        .enumerate()
        .map(|(i, v)| finite(v, format_args!("{field}[{i}]")))
        .collect()
}

/// The population mean and standard deviation of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Spread {
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation (divides by n, not n - 1).
    pub stddev: f64,
}

impl Spread {
    /// Measures `xs` (finite, non-empty) with the corrected two-pass algorithm. Data
    /// beyond 1e±100 is first divided by its largest magnitude so sums and squares can
    /// neither overflow nor underflow; other data is not scaled, so stays exact.
    pub fn of(xs: &[f64]) -> Self {
        let n = xs.len().max(1) as f64;
        let max_abs = xs.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        let scale =
            if max_abs > 1e100 || (max_abs > 0.0 && max_abs < 1e-100) { max_abs } else { 1.0 };
        let rough = xs.iter().map(|x| x / scale).sum::<f64>() / n;
        let (sum, sum_sq) = xs.iter().fold((0.0, 0.0), |(s, s2), x| {
            let d = x / scale - rough;
            (s + d, s2 + d * d)
        });
        let variance = ((sum_sq - sum * sum / n) / n).max(0.0);
        Self { mean: (rough + sum / n) * scale, stddev: variance.sqrt() * scale }
    }

    /// The z-score of `x`, `(x - mean) / stddev`; infinite or NaN when `stddev` is 0.
    pub fn z(&self, x: f64) -> f64 {
        let d = x - self.mean;
        if d.is_finite() {
            d / self.stddev
        } else {
            // Only near f64::MAX: halve both terms so the difference fits.
            (x / 2.0 - self.mean / 2.0) / self.stddev * 2.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of<T: std::fmt::Debug>(result: Result<T, TaskError>) -> String {
        match result {
            Err(TaskError::InvalidPayload { field, .. }) => field,
            other => panic!("expected InvalidPayload, got {other:?}"),
        }
    }

    #[test]
    fn series_checks_presence_size_and_each_element_by_index() {
        let obj = json!({"ok": [1, 2.5, -3], "bad": [1, 2.5, -3, "4"], "empty": [], "n": 3});
        let obj = object(&obj).unwrap();
        assert_eq!(finite_series(obj, "ok").unwrap(), vec![1.0, 2.5, -3.0]);
        assert_eq!(field_of(finite_series(obj, "bad")), "payload.bad[3]");
        assert_eq!(field_of(series(obj, "empty")), "payload.empty");
        assert_eq!(field_of(series(obj, "n")), "payload.n");
        assert_eq!(field_of(series(obj, "missing")), "payload.missing");
        assert_eq!(field_of(object(&json!([1]))), "payload");
    }

    #[test]
    fn optional_fields_default_when_absent_or_null_and_reject_wrong_types() {
        let obj = json!({"n": null, "b": true, "s": "x", "i": 7, "f": 1.5});
        let obj = object(&obj).unwrap();
        assert_eq!(opt_f64(obj, "n").unwrap(), None);
        assert_eq!(opt_f64(obj, "f").unwrap(), Some(1.5));
        assert_eq!(opt_bool(obj, "b").unwrap(), Some(true));
        assert_eq!(opt_str(obj, "s").unwrap(), Some("x"));
        assert_eq!(opt_integer(obj, "i", 0..=10).unwrap(), Some(7));
        assert_eq!(field_of(opt_integer(obj, "i", 0..=5)), "payload.i");
        assert_eq!(field_of(opt_integer(obj, "f", 0..=5)), "payload.f");
        assert_eq!(field_of(opt_bool(obj, "s")), "payload.s");
        assert_eq!(field_of(opt_str(obj, "i")), "payload.i");
        assert_eq!(field_of(required(None::<u8>, "n")), "payload.n");
    }

    #[test]
    fn spread_is_population_and_survives_extreme_magnitudes() {
        let s = Spread::of(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(s.mean, 5.5);
        assert!((s.stddev - 2.872_281_323_269_014_3).abs() < 1e-12);
        let big = Spread::of(&[f64::MAX, -f64::MAX]);
        assert_eq!((big.mean, big.stddev), (0.0, f64::MAX));
        let tiny = Spread::of(&[1e-200, 3e-200]);
        assert!((tiny.stddev / 1e-200 - 1.0).abs() < 1e-12);
        assert_eq!(Spread::of(&[4.0, 4.0]).stddev, 0.0);
    }
}
