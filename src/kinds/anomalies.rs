//! `telemetry.anomalies`: the samples that lie unusually far from the mean.
//!
//! Input `{"samples": [f64…], "z": 3.0}` (1 to 1,000,000 finite numbers; `z` > 0,
//! default 3). A sample's score is `(value - mean) / stddev` with the *population*
//! standard deviation, the same figure `telemetry.aggregate` reports; a sample is an
//! anomaly when `|score| > z`. A constant series (stddev 0) has no anomalies.
//!
//! Output `{"count", "mean", "stddev", "z", "anomalies": [{"index", "value", "z"}…]}`,
//! anomalies in input order. The two passes over up to a million samples run on the
//! blocking pool so they do not stall other tasks.

use serde_json::{Value, json};

use super::samples::{MAX_SAMPLES, Spread, finite_series, object, opt_f64};
use super::{Handler, HandlerFuture, PayloadSchema, TaskContext, run_blocking, schema};
use crate::task::TaskError;

/// The threshold when the payload gives none.
const DEFAULT_Z: f64 = 3.0;

/// Payload `{"samples": [f64…], "z": number}`; returns the samples whose z-score
/// exceeds `z` in absolute value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anomalies;

/// The samples and threshold in `payload`.
fn parse(payload: &Value) -> Result<(Vec<f64>, f64), TaskError> {
    let obj = object(payload)?;
    let samples = finite_series(obj, "samples")?;
    let z = opt_f64(obj, "z")?.unwrap_or(DEFAULT_Z);
    if z <= 0.0 {
        return Err(TaskError::invalid("z", "must be a number > 0"));
    }
    Ok((samples, z))
}

/// The report for `samples` (non-empty, finite) at threshold `z`.
fn detect(samples: &[f64], z: f64) -> Value {
    let spread = Spread::of(samples);
    let anomalies: Vec<Value> = if spread.stddev > 0.0 {
        samples
            .iter()
            .enumerate()
            .map(|(index, &value)| (index, value, spread.z(value)))
            .filter(|(_, _, score)| score.abs() > z)
            .map(|(index, value, score)| json!({ "index": index, "value": value, "z": score }))
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "count": samples.len(),
        "mean": spread.mean,
        "stddev": spread.stddev,
        "z": z,
        "anomalies": anomalies,
    })
}

/// Parses the payload, then scores it on the blocking pool.
async fn anomalies(payload: &Value) -> Result<Value, TaskError> {
    let (samples, z) = parse(payload)?;
    run_blocking(move || Ok(detect(&samples, z))).await
}

impl Handler for Anomalies {
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        parse(payload).map(drop)
    }

    fn payload_schema(&self) -> PayloadSchema {
        PayloadSchema::required(json!({
            "type": "object",
            "description": "Returns the samples whose z-score exceeds `z` (default 3).",
            "required": ["samples"],
            "properties": {
                "samples": schema::samples("The values.", MAX_SAMPLES),
                "z": {"type": ["number", "null"], "exclusiveMinimum": 0}
            },
            "examples": [{"samples": [1.0, 1.1, 0.9, 1.0, 9.5], "z": 1.5}]
        }))
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(anomalies(&ctx.payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn anomalies_flags_points_beyond_z_with_their_scores() {
        // mean 4, population stddev sqrt(48 / 6) = sqrt(8); 10 scores 6 / sqrt(8), 2 scores -2 / sqrt(8).
        let payload = json!({"samples": [2, 4, 2, 10, 4, 2], "z": 1.5});
        let out = anomalies(&payload).await.unwrap();
        assert_eq!(out["count"], json!(6));
        assert_eq!(out["mean"], json!(4.0));
        assert!((out["stddev"].as_f64().unwrap() - 8f64.sqrt()).abs() < 1e-12);
        assert_eq!(out["z"], json!(1.5));
        let found = out["anomalies"].as_array().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["index"], json!(3));
        assert_eq!(found[0]["value"], json!(10.0));
        let score = found[0]["z"].as_f64().unwrap();
        assert!((score - 6.0 / 8f64.sqrt()).abs() < 1e-12);
    }

    #[tokio::test]
    async fn anomalies_defaults_z_to_three_and_reports_negative_scores() {
        let mut samples = vec![0.0; 20];
        samples[7] = -100.0;
        let out = anomalies(&json!({ "samples": samples })).await.unwrap();
        assert_eq!(out["z"], json!(3.0));
        let found = out["anomalies"].as_array().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["index"], json!(7));
        assert!(found[0]["z"].as_f64().unwrap() < -3.0);
    }

    #[tokio::test]
    async fn anomalies_of_a_constant_series_is_empty() {
        let out = anomalies(&json!({"samples": [5, 5, 5], "z": 0.01})).await.unwrap();
        assert_eq!(out["stddev"], json!(0.0));
        assert_eq!(out["anomalies"], json!([]));
    }

    #[test]
    fn anomalies_rejects_bad_payloads_naming_the_field() {
        let cases = [
            (json!("x"), "payload"),
            (json!({"z": 2}), "payload.samples"),
            (json!({"samples": [1, true]}), "payload.samples[1]"),
            (json!({"samples": [1], "z": 0}), "payload.z"),
            (json!({"samples": [1], "z": -1}), "payload.z"),
            (json!({"samples": [1], "z": "3"}), "payload.z"),
        ];
        for (payload, want) in cases {
            match Anomalies.validate(&payload) {
                Err(TaskError::InvalidPayload { field, .. }) => assert_eq!(field, want),
                other => panic!("{payload}: expected InvalidPayload, got {other:?}"),
            }
        }
        assert!(Anomalies.validate(&json!({"samples": [1], "z": null})).is_ok());
    }
}
