//! `telemetry.downsample`: one point per time bucket.
//!
//! Input `{"points": [[t_ms, v]…], "bucket_ms": n, "agg": "mean"|"min"|"max"|"sum"}`:
//! 1 to 1,000,000 points, `t_ms` an integer (i64, may be negative), `v` finite,
//! `bucket_ms` an integer >= 1, `agg` defaulting to `mean`. Points need not be sorted.
//!
//! A point falls in the bucket starting at `t_ms.div_euclid(bucket_ms) * bucket_ms`, so
//! buckets are aligned to the epoch and negative times round down, not towards zero.
//! Output `{"bucket_ms", "agg", "points": [[bucket_start_ms, value]…]}` with one point per
//! non-empty bucket, by bucket start. Sorting up to a million points runs on the
//! blocking pool.

use serde_json::{Value, json};

use super::samples::{
    MAX_SAMPLES, finite, integer, object, opt_integer, opt_str, required, series,
};
use super::{Handler, HandlerFuture, PayloadSchema, TaskContext, run_blocking};
use crate::task::TaskError;

/// Payload `{"points": [[t_ms, v]…], "bucket_ms": n, "agg": s}`; returns one
/// aggregated point per non-empty bucket.
#[derive(Debug, Clone, Copy, Default)]
pub struct Downsample;

/// How the values of one bucket become one value.
#[derive(Debug, Clone, Copy)]
enum Agg {
    Mean,
    Min,
    Max,
    Sum,
}

impl Agg {
    /// The aggregation called `name` on the wire.
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "mean" => Some(Self::Mean),
            "min" => Some(Self::Min),
            "max" => Some(Self::Max),
            "sum" => Some(Self::Sum),
            _ => None,
        }
    }

    /// The wire name.
    fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Min => "min",
            Self::Max => "max",
            Self::Sum => "sum",
        }
    }

    /// The aggregate of a bucket's values (non-empty, finite); may overflow to infinity.
    fn apply(self, bucket: &[(i64, f64)]) -> f64 {
        let values = bucket.iter().map(|&(_, v)| v);
        match self {
            Self::Min => values.fold(f64::INFINITY, f64::min),
            Self::Max => values.fold(f64::NEG_INFINITY, f64::max),
            Self::Sum => values.sum(),
            Self::Mean => {
                let n = bucket.len() as f64;
                let sum: f64 = values.clone().sum();
                // Dividing first cannot overflow; only needed near f64::MAX.
                if sum.is_finite() { sum / n } else { values.map(|v| v / n).sum() }
            }
        }
    }
}

/// A parsed payload.
struct Plan {
    /// `(bucket start, value)` per input point, in input order.
    points: Vec<(i64, f64)>,
    bucket_ms: i64,
    agg: Agg,
}

/// The plan in `payload`.
fn parse(payload: &Value) -> Result<Plan, TaskError> {
    let obj = object(payload)?;
    let bucket_ms = required(opt_integer(obj, "bucket_ms", 1..=i64::MAX)?, "bucket_ms")?;
    let agg = match opt_str(obj, "agg")? {
        None => Agg::Mean,
        Some(name) => Agg::from_name(name)
            .ok_or_else(|| TaskError::invalid("agg", "must be one of mean, min, max, sum"))?,
    };
    let points = series(obj, "points")?
        .iter()
        .enumerate()
        .map(|(i, point)| parse_point(point, i, bucket_ms))
        .collect::<Result<_, _>>()?;
    Ok(Plan { points, bucket_ms, agg })
}

/// Timestamps lie within ±2^53 ms: exact in every JSON client (and in the OpenAPI
/// document), and no bucket start can then overflow i64.
const T_LIMIT_MS: i64 = 1 << 53;

/// Point number `i` as `(bucket start, value)`.
fn parse_point(point: &Value, i: usize, bucket_ms: i64) -> Result<(i64, f64), TaskError> {
    let [t, v] = point.as_array().map(Vec::as_slice).unwrap_or_default() else {
        return Err(TaskError::invalid(format!("points[{i}]"), "must be a [t_ms, value] pair"));
    };
    let t = integer(t, format_args!("points[{i}][0]"), -T_LIMIT_MS..=T_LIMIT_MS)?;
    let v = finite(v, format_args!("points[{i}][1]"))?;
    match t.div_euclid(bucket_ms).checked_mul(bucket_ms) {
        Some(start) => Ok((start, v)),
        None => {
            Err(TaskError::invalid(format!("points[{i}][0]"), "its bucket starts before i64::MIN"))
        }
    }
}

/// One aggregated point per bucket, by bucket start.
fn downsample_plan(mut plan: Plan) -> Result<Value, TaskError> {
    // Stable, so a bucket's values keep their input order and sums are reproducible.
    plan.points.sort_by_key(|&(start, _)| start);
    let mut out = Vec::new();
    for bucket in plan.points.chunk_by(|a, b| a.0 == b.0) {
        let start = bucket.first().map_or(0, |&(start, _)| start);
        let value = plan.agg.apply(bucket);
        if !value.is_finite() {
            let message = format!("the {} of the bucket at {start} overflows f64", plan.agg.name());
            return Err(TaskError::permanent(message));
        }
        out.push(json!([start, value]));
    }
    Ok(json!({ "bucket_ms": plan.bucket_ms, "agg": plan.agg.name(), "points": out }))
}

/// Parses the payload, then buckets it on the blocking pool.
async fn downsample(payload: &Value) -> Result<Value, TaskError> {
    let plan = parse(payload)?;
    run_blocking(move || downsample_plan(plan)).await
}

/// The payload schema (timestamps bounded by [`T_LIMIT_MS`]).
fn payload_schema() -> Value {
    let t_max = T_LIMIT_MS;
    json!({
        "type": "object",
        "description": "Returns one point per `bucket_ms` bucket, aggregated with `agg` (default mean).",
        "required": ["points", "bucket_ms"],
        "properties": {
            "points": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_SAMPLES,
                "items": {
                    "type": "array",
                    "description": "[t_ms, value]",
                    "prefixItems": [
                        {"type": "integer", "minimum": -t_max, "maximum": t_max},
                        {"type": "number"}
                    ],
                    "minItems": 2,
                    "maxItems": 2
                }
            },
            "bucket_ms": {"type": "integer", "minimum": 1, "maximum": i64::MAX},
            "agg": {"enum": ["mean", "min", "max", "sum", null]}
        },
        "examples": [{
            "points": [[1_764_175_599_000_i64, 1.5], [1_764_175_599_500_i64, 2.5], [1_764_175_600_200_i64, 4.0]],
            "bucket_ms": 1000,
            "agg": "mean"
        }]
    })
}

impl Handler for Downsample {
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        parse(payload).map(drop)
    }

    fn payload_schema(&self) -> PayloadSchema {
        PayloadSchema::required(payload_schema())
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(downsample(&ctx.payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(payload: Value) -> Value {
        downsample_plan(parse(&payload).unwrap()).unwrap()["points"].clone()
    }

    #[tokio::test]
    async fn downsample_buckets_unsorted_points_by_mean() {
        let points = json!([[250, 4], [0, 1], [120, 5], [99, 3], [130, 6]]);
        let out = downsample(&json!({"points": points, "bucket_ms": 100})).await.unwrap();
        let want =
            json!({"bucket_ms": 100, "agg": "mean", "points": [[0, 2.0], [100, 5.5], [200, 4.0]]});
        assert_eq!(out, want);
    }

    #[test]
    fn downsample_applies_each_aggregation_and_rounds_negative_times_down() {
        let pts = json!([[0, 1], [5, -3], [9, 2.5], [10, 7], [-1, 4], [-10, 2]]);
        let with = |agg: &str| points(json!({"points": pts, "bucket_ms": 10, "agg": agg}));
        assert_eq!(with("min"), json!([[-10, 2.0], [0, -3.0], [10, 7.0]]));
        assert_eq!(with("max"), json!([[-10, 4.0], [0, 2.5], [10, 7.0]]));
        assert_eq!(with("sum"), json!([[-10, 6.0], [0, 0.5], [10, 7.0]]));
        assert_eq!(with("mean"), json!([[-10, 3.0], [0, 0.5 / 3.0], [10, 7.0]]));
    }

    #[test]
    fn downsample_fails_permanently_only_when_the_result_overflows() {
        let pts = json!([[0, 1e308], [1, 1e308]]);
        assert_eq!(points(json!({"points": pts, "bucket_ms": 10})), json!([[0, 1e308]]));
        let plan = parse(&json!({"points": pts, "bucket_ms": 10, "agg": "sum"})).unwrap();
        assert!(matches!(downsample_plan(plan), Err(TaskError::Permanent(_))));
    }

    #[test]
    fn downsample_rejects_bad_payloads_naming_the_field() {
        let cases = json!([
            [null, "payload"],
            [{"points": [[0, 1]]}, "payload.bucket_ms"],
            [{"points": [[0, 1]], "bucket_ms": 0}, "payload.bucket_ms"],
            [{"points": [[0, 1]], "bucket_ms": 1.5}, "payload.bucket_ms"],
            [{"points": [[0, 1]], "bucket_ms": 1, "agg": "median"}, "payload.agg"],
            [{"points": [], "bucket_ms": 1}, "payload.points"],
            [{"points": [[0, 1], [1]], "bucket_ms": 1}, "payload.points[1]"],
            [{"points": [[0, 1], 5], "bucket_ms": 1}, "payload.points[1]"],
            [{"points": [[0, 1], [1, 2], [2.5, 3]], "bucket_ms": 1}, "payload.points[2][0]"],
            [{"points": [[0, "1"]], "bucket_ms": 1}, "payload.points[0][1]"],
            [{"points": [[i64::MIN, 1]], "bucket_ms": 3}, "payload.points[0][0]"],
        ]);
        for case in cases.as_array().unwrap() {
            let (payload, want) = (&case[0], &case[1]);
            match Downsample.validate(payload) {
                Err(TaskError::InvalidPayload { field, .. }) => assert_eq!(field, *want),
                other => panic!("{payload}: expected InvalidPayload, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn downsample_run_revalidates_the_payload() {
        let out = downsample(&json!({"points": [[0, 1]], "bucket_ms": -1})).await;
        assert!(matches!(out, Err(TaskError::InvalidPayload { .. })));
    }
}
