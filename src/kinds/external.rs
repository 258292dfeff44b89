//! External kinds: declared over HTTP (`PUT /kinds/{kind}`) with a queue and a JSON Schema
//! for their payloads, and run by workers in any language through the lease API. ttp
//! validates their payloads at submission with the schema (the `jsonschema` crate, no
//! remote references: a schema cannot make ttp fetch anything), so a bad payload is a
//! 422 naming the field, as for embedded kinds.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::task::{FieldError, Kind, QueueName};

/// Longest description of a kind.
const MAX_DESCRIPTION: usize = 1000;

/// The body of `PUT /kinds/{kind}`, and how a declaration is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(KindSpec::example))]
pub struct KindSpec {
    /// The queue its tasks go to (a submission naming another queue is a 422); only
    /// external workers claim it.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub queue: String,
    /// What the kind does, for humans (up to 1,000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: String,
    /// JSON Schema (2020-12) its payloads must satisfy; `true` (the default) accepts any.
    #[serde(default = "any_payload")]
    #[schema(schema_with = json_schema)]
    pub payload_schema: Value,
}

impl KindSpec {
    /// The declaration the documents show: `email.send` in queue `emails`, needing a `to`.
    pub fn example() -> Value {
        serde_json::json!({
            "queue": "emails",
            "description": "Sends one email.",
            "payload_schema": {"type": "object", "required": ["to"],
                               "properties": {"to": {"type": "string"}, "subject": {"type": "string"}}}
        })
    }
}

fn any_payload() -> Value {
    Value::Bool(true)
}

/// How the OpenAPI document describes a `payload_schema`: a JSON Schema is an object or
/// a boolean (`true` accepts any payload, `false` none), and a document that said
/// "object" would call `true` invalid.
pub fn json_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Object, Type::Boolean]))
        .description(Some(
            "JSON Schema (2020-12) of the payloads: an object, or `true` (any payload; the default) or `false` (none).",
        ))
        .build()
}

/// A declared external kind, its schema compiled.
#[derive(Clone)]
pub struct ExternalKind {
    /// Its name.
    pub name: Kind,
    /// Its queue.
    pub queue: QueueName,
    /// The declaration.
    pub spec: KindSpec,
    validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for ExternalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalKind")
            .field("name", &self.name)
            .field("queue", &self.queue)
            .finish()
    }
}

impl ExternalKind {
    /// Checks a declaration; errors name the field (`queue`, `description`,
    /// `payload_schema`).
    pub fn new(name: Kind, spec: KindSpec) -> Result<Self, FieldError> {
        let queue = QueueName::parse(&spec.queue)?;
        if spec.description.chars().count() > MAX_DESCRIPTION {
            return Err(FieldError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION} characters"),
            ));
        }
        let validator = jsonschema::options()
            .should_validate_formats(false)
            .build(&spec.payload_schema)
            .map_err(|e| {
                FieldError::new("payload_schema", format!("not a valid JSON Schema: {e}"))
            })?;
        Ok(Self { name, queue, spec, validator: Arc::new(validator) })
    }

    /// Checks a payload against the schema; the error names the first offending value
    /// (`payload.url`, `payload.items[2]`).
    pub fn validate(&self, payload: &Value) -> Result<(), FieldError> {
        match self.validator.iter_errors(payload).next() {
            None => Ok(()),
            Some(error) => {
                let field = field_of(&error.instance_path().to_string());
                Err(FieldError::new(field, error.to_string()))
            }
        }
    }
}

/// `payload` and a JSON pointer below it as the API names fields: `/url` →
/// `payload.url`, `/items/2` → `payload.items[2]`.
fn field_of(pointer: &str) -> String {
    let mut field = "payload".to_owned();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            field.push_str(&format!("[{part}]"));
        } else {
            field.push('.');
            field.push_str(&part);
        }
    }
    field
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kind(schema: Value) -> Result<ExternalKind, FieldError> {
        let spec =
            KindSpec { queue: "emails".into(), description: String::new(), payload_schema: schema };
        ExternalKind::new(Kind::parse("email.send").unwrap(), spec)
    }

    #[test]
    fn payloads_are_checked_against_the_schema_naming_the_field() {
        let email = kind(json!({
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string"}, "items": {"type": "array", "items": {"type": "integer"}}}
        }))
        .unwrap();
        assert!(email.validate(&json!({"url": "x"})).is_ok());
        assert_eq!(email.validate(&json!({"url": 1})).unwrap_err().field, "payload.url");
        assert_eq!(
            email.validate(&json!({"url": "x", "items": [1, "b"]})).unwrap_err().field,
            "payload.items[1]"
        );
        assert_eq!(email.validate(&json!([])).unwrap_err().field, "payload");
    }

    #[test]
    fn an_invalid_schema_or_queue_names_its_field() {
        assert_eq!(kind(json!({"type": "no-such-type"})).unwrap_err().field, "payload_schema");
        assert!(kind(json!(true)).is_ok());
        let spec = KindSpec {
            queue: "Bad Queue".into(),
            description: String::new(),
            payload_schema: json!(true),
        };
        assert_eq!(ExternalKind::new(Kind::parse("k").unwrap(), spec).unwrap_err().field, "queue");
    }

    #[test]
    fn remote_references_are_not_fetched() {
        let remote = kind(json!({"$ref": "https://example.com/schema.json"}));
        assert!(remote.is_err(), "a remote $ref must not resolve");
    }
}
