//! JSON Schemas of the built-in kinds' payloads, for the OpenAPI document: with them a
//! `POST /tasks` body that the spec calls valid is one that ttp accepts (a spec-driven
//! fuzzer checks exactly that), and clients see each kind's payload rules.
//!
//! They restate the rules of `worker::handlers` (absent and `null` fields are the same;
//! integers must be JSON integers); the tests below hold both to the same examples.
//! Kinds without a schema here (library users' kinds) accept any payload in the spec.

use serde_json::{Value, json};

/// Most samples or points in one payload (`worker::handlers::samples::MAX_SAMPLES`).
const MAX_SAMPLES: u64 = 1_000_000;

/// A kind's payload schema, and whether the payload may be absent (`null`).
pub struct PayloadSchema {
    /// JSON Schema 2020-12 of the payload.
    pub schema: Value,
    /// `true` when `null` (or no payload) is accepted.
    pub optional: bool,
}

fn samples(description: &str) -> Value {
    json!({
        "type": "array",
        "description": description,
        "minItems": 1,
        "maxItems": MAX_SAMPLES,
        "items": {"type": "number"}
    })
}

/// The payload schema of a built-in `kind`; `None` for other kinds.
pub fn builtin(kind: &str) -> Option<PayloadSchema> {
    let (schema, optional) = match kind {
        "noop" => (json!({"description": "Any JSON; ignored. Returns null."}), true),
        "echo" => (json!({"description": "Any JSON; returned as the result."}), true),
        "sleep" => (
            json!({
                "type": "object",
                "description": "Sleeps `ms` milliseconds (simulated I/O).",
                "required": ["ms"],
                "properties": {"ms": {"type": "integer", "minimum": 0, "maximum": 60_000}}
            }),
            false,
        ),
        "fail" => (
            json!({
                "type": ["object", "null"],
                "description": "Fails the first `fail_first` attempts (or every attempt when absent) with `message`; a failure that is not `retryable` goes straight to the dead-letter list.",
                "properties": {
                    "message": {"type": ["string", "null"]},
                    "retryable": {"type": ["boolean", "null"]},
                    "fail_first": {"type": ["integer", "null"], "minimum": 0, "maximum": 100}
                }
            }),
            true,
        ),
        "telemetry.aggregate" => (
            json!({
                "type": "object",
                "description": "Returns count, min, max, mean, stddev, p50, p90, p95 and p99 of `samples`.",
                "required": ["samples"],
                "properties": {"samples": samples("The values.")}
            }),
            false,
        ),
        "telemetry.anomalies" => (
            json!({
                "type": "object",
                "description": "Returns the samples whose z-score exceeds `z` (default 3).",
                "required": ["samples"],
                "properties": {
                    "samples": samples("The values."),
                    "z": {"type": ["number", "null"], "exclusiveMinimum": 0}
                }
            }),
            false,
        ),
        "telemetry.downsample" => (downsample(), false),
        _ => return None,
    };
    Some(PayloadSchema { schema, optional })
}

fn downsample() -> Value {
    // |t| ≤ 2^53 (the integers every JSON client can represent exactly) keeps the
    // bucket start `floor(t / bucket_ms) · bucket_ms` within i64 for every bucket size.
    let t_max = 1_i64 << 53;
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
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::worker::HandlerRegistry;

    /// Payloads the spec accepts must pass the handler's validation, and the other way
    /// round; each row is (kind, payload, valid).
    #[test]
    fn schemas_agree_with_the_handlers_on_boundary_payloads() {
        let rows = [
            ("sleep", json!({"ms": 0}), true),
            ("sleep", json!({"ms": 60_000, "extra": 1}), true),
            ("sleep", json!({"ms": 60_001}), false),
            ("sleep", json!({"ms": 5.0}), true),
            (
                "telemetry.downsample",
                json!({"points": [[9_007_199_254_740_993_i64, 1]], "bucket_ms": 1}),
                false,
            ),
            ("sleep", json!({"ms": null}), false),
            ("sleep", Value::Null, false),
            ("fail", Value::Null, true),
            ("fail", json!({"message": null, "retryable": false, "fail_first": 100}), true),
            ("fail", json!({"fail_first": 101}), false),
            ("fail", json!({"retryable": "yes"}), false),
            ("telemetry.aggregate", json!({"samples": [1, 2.5]}), true),
            ("telemetry.aggregate", json!({"samples": []}), false),
            ("telemetry.aggregate", json!({"samples": ["1"]}), false),
            ("telemetry.anomalies", json!({"samples": [1], "z": null}), true),
            ("telemetry.anomalies", json!({"samples": [1], "z": 0}), false),
            (
                "telemetry.downsample",
                json!({"points": [[-9_007_199_254_740_992_i64, 1]], "bucket_ms": 3}),
                true,
            ),
            (
                "telemetry.downsample",
                json!({"points": [[0, 1]], "bucket_ms": i64::MAX, "agg": "sum"}),
                true,
            ),
            (
                "telemetry.downsample",
                json!({"points": [[0, 1]], "bucket_ms": 1, "agg": "median"}),
                false,
            ),
            ("telemetry.downsample", json!({"points": [[0]], "bucket_ms": 1}), false),
            ("telemetry.downsample", json!({"points": [[0, 1]], "bucket_ms": 0}), false),
        ];
        let registry = HandlerRegistry::with_builtins();
        for (kind, payload, valid) in rows {
            let accepted = registry.get(kind).unwrap().validate(&payload).is_ok();
            assert_eq!(accepted, valid, "{kind} handler on {payload}");
            let schema = builtin(kind).unwrap();
            assert_eq!(schema.optional, registry.get(kind).unwrap().validate(&Value::Null).is_ok());
        }
    }

    #[test]
    fn every_builtin_kind_has_a_schema() {
        for kind in HandlerRegistry::with_builtins().kinds() {
            assert!(builtin(kind).is_some(), "{kind}");
        }
    }
}
