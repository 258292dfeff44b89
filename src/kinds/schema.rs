//! A kind's payload schema: the JSON Schema (2020-12) its handler's `validate` enforces.
//!
//! The OpenAPI document and `GET /kinds` show it, so a payload the schema calls valid is
//! one ttp accepts (a spec-driven fuzzer checks exactly that). The tests in `registry.rs`
//! hold every built-in kind's schema and handler to the same boundary payloads.

use serde_json::{Value, json};

/// A kind's payload schema, and whether the payload may be absent (`null`).
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadSchema {
    /// JSON Schema 2020-12 of the payload.
    pub schema: Value,
    /// `true` when `null` (or no payload) is accepted.
    pub optional: bool,
}

impl PayloadSchema {
    /// Any JSON, absent included: kinds that take any payload.
    pub fn any() -> Self {
        Self {
            schema: json!({"description": "Any JSON; validated by the kind's handler."}),
            optional: true,
        }
    }

    /// A schema that requires a payload.
    pub fn required(schema: Value) -> Self {
        Self { schema, optional: false }
    }

    /// A schema that also accepts an absent (`null`) payload.
    pub fn optional(schema: Value) -> Self {
        Self { schema, optional: true }
    }

    /// The schema's first example (JSON Schema `examples`), if it gives one: the OpenAPI
    /// document shows it as the kind's request example.
    pub fn example(&self) -> Option<&Value> {
        self.schema.get("examples")?.as_array()?.first()
    }
}

/// The schema of a series of samples, as `telemetry.*` kinds take them.
pub(super) fn samples(description: &str, max: usize) -> Value {
    json!({
        "type": "array",
        "description": description,
        "minItems": 1,
        "maxItems": max,
        "items": {"type": "number"}
    })
}
