//! `telemetry.aggregate`: summary statistics of a series of samples.
//!
//! Input `{"samples": [f64…]}` (1 to 1,000,000 finite numbers); output `count`, `min`,
//! `max`, `mean`, `stddev`, `p50`, `p90`, `p95`, `p99`.
//!
//! Definitions, fixed so results are reproducible with common tools:
//! - `stddev` is the *population* standard deviation (divides by n, like numpy's
//!   `std()` with its default `ddof=0`): the samples are the whole series, not a draw.
//! - Percentiles interpolate linearly between the closest ranks: the q-th percentile
//!   sits at rank `q * (n - 1)` of the sorted samples (numpy's default `linear` method,
//!   Hyndman and Fan type 7), so p50 of an even count is the mean of the middle two.
//!
//! Sorting a million samples takes tens of milliseconds, so the work runs on the
//! blocking pool rather than on the async workers that serve other tasks.

use serde_json::{Value, json};

use super::samples::{MAX_SAMPLES, Spread, finite_series, object};
use super::{Handler, HandlerFuture, PayloadSchema, TaskContext, run_blocking, schema};
use crate::task::TaskError;

/// Payload `{"samples": [f64…]}`; returns the statistics listed in the module doc.
#[derive(Debug, Clone, Copy, Default)]
pub struct Aggregate;

/// The samples in `payload`.
fn parse(payload: &Value) -> Result<Vec<f64>, TaskError> {
    finite_series(object(payload)?, "samples")
}

/// The statistics of `samples` (non-empty, finite).
fn summarize(mut samples: Vec<f64>) -> Value {
    samples.sort_unstable_by(f64::total_cmp);
    let spread = Spread::of(&samples);
    let p = |q| percentile(&samples, q);
    json!({
        "count": samples.len(),
        "min": samples.first(),
        "max": samples.last(),
        "mean": spread.mean,
        "stddev": spread.stddev,
        "p50": p(0.50),
        "p90": p(0.90),
        "p95": p(0.95),
        "p99": p(0.99),
    })
}

/// The `q` quantile (0 to 1) of ascending `sorted` data by linear interpolation between
/// closest ranks (rank `q * (n - 1)`, numpy's default). NaN for empty data.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let Some(&last) = sorted.last() else {
        return f64::NAN;
    };
    let rank = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let frac = rank - lo as f64;
    let a = sorted.get(lo).copied().unwrap_or(last);
    let b = sorted.get(lo + 1).copied().unwrap_or(last);
    let diff = b - a;
    if diff.is_finite() { a + frac * diff } else { a * (1.0 - frac) + b * frac }
}

/// Parses the payload, then summarizes it on the blocking pool.
async fn aggregate(payload: &Value) -> Result<Value, TaskError> {
    let samples = parse(payload)?;
    run_blocking(move || Ok(summarize(samples))).await
}

impl Handler for Aggregate {
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        parse(payload).map(drop)
    }

    fn payload_schema(&self) -> PayloadSchema {
        PayloadSchema::required(json!({
            "type": "object",
            "description": "Returns count, min, max, mean, stddev, p50, p90, p95 and p99 of `samples`.",
            "required": ["samples"],
            "properties": {"samples": schema::samples("The values.", MAX_SAMPLES)},
            "examples": [{"samples": [12.5, 13.0, 11.75, 48.0]}]
        }))
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(aggregate(&ctx.payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(out: &Value, key: &str) -> f64 {
        out[key].as_f64().unwrap_or_else(|| panic!("{key} missing in {out}"))
    }

    #[tokio::test]
    async fn aggregate_of_one_to_ten_matches_hand_computed_values() {
        // Shuffled, to show the input order does not matter.
        let payload = json!({"samples": [7, 3, 10, 1, 5, 9, 2, 8, 4, 6]});
        let out = aggregate(&payload).await.unwrap();
        assert_eq!(out["count"], json!(10));
        let expected = [
            ("min", 1.0),
            ("max", 10.0),
            ("mean", 5.5),
            ("stddev", 2.872_281_323_269_014_3),
            ("p50", 5.5),
            ("p90", 9.1),
            ("p95", 9.55),
            ("p99", 9.91),
        ];
        for (key, want) in expected {
            let got = num(&out, key);
            assert!((got - want).abs() < 1e-9, "{key}: got {got}, want {want}");
        }
    }

    #[tokio::test]
    async fn aggregate_of_one_sample_is_that_sample_with_zero_spread() {
        let out = aggregate(&json!({"samples": [-2.5]})).await.unwrap();
        for key in ["min", "max", "mean", "p50", "p99"] {
            assert_eq!(num(&out, key), -2.5, "{key}");
        }
        assert_eq!(num(&out, "stddev"), 0.0);
        assert_eq!(out["count"], json!(1));
    }

    #[test]
    fn aggregate_rejects_bad_payloads_naming_the_field() {
        let cases = [
            (json!(null), "payload"),
            (json!([1, 2]), "payload"),
            (json!({}), "payload.samples"),
            (json!({"samples": []}), "payload.samples"),
            (json!({"samples": "1,2"}), "payload.samples"),
            (json!({"samples": [1, 2, 3, null]}), "payload.samples[3]"),
            (json!({"samples": [1, [2]]}), "payload.samples[1]"),
        ];
        for (payload, want) in cases {
            match Aggregate.validate(&payload) {
                Err(TaskError::InvalidPayload { field, .. }) => assert_eq!(field, want),
                other => panic!("{payload}: expected InvalidPayload, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn aggregate_run_revalidates_the_payload() {
        let err = aggregate(&json!({"samples": [1, "x"]})).await.unwrap_err();
        assert!(matches!(err, TaskError::InvalidPayload { .. }));
    }

    #[test]
    fn percentile_interpolates_between_closest_ranks() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&xs, 0.0), 1.0);
        assert_eq!(percentile(&xs, 0.5), 2.5);
        assert_eq!(percentile(&xs, 1.0), 4.0);
        assert!((percentile(&xs, 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
