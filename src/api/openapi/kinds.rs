//! The task kinds in the document. Kinds can be declared while ttp runs (SPEC §9), so
//! the task request stays one open schema (`kind` a string, `payload` any JSON) and each
//! registered kind's payload schema becomes a named component, `<Kind>Payload`, marked
//! with `x-ttp-kind`. The components are not referenced from `TaskRequest` on purpose:
//! a union of per-kind variants is what client generators choke on (duplicate models,
//! dropped schemas). Names are derived from the registry, so a kind registered by a
//! library user gets its component too, and two kinds that would share a name stop
//! the document from being built.
//!
//! Spec-driven fuzzers need the opposite: the exact per-kind rules, so that a body the
//! spec calls valid is one ttp accepts. [`task_request_per_kind`] builds that variant
//! for `ttp openapi --fuzz`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::DocumentError;
use super::examples;
use crate::kinds::{HandlerRegistry, PayloadSchema};

/// The component name of `kind`'s payload: the kind split on `.`, `_` and `-`, each part
/// capitalised, then `Payload` (`telemetry.aggregate` → `TelemetryAggregatePayload`).
pub fn payload_component_name(kind: &str) -> String {
    let mut name = String::new();
    for part in kind.split(['.', '_', '-']) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name + "Payload"
}

/// Every registered kind with its component name, sorted by kind; fails when two kinds
/// (or a kind and another schema of the document) would share a name.
fn named_kinds<'r>(
    registry: &'r HandlerRegistry,
    schemas: &Map<String, Value>,
) -> Result<Vec<(&'r str, String)>, DocumentError> {
    let mut taken: BTreeMap<String, &str> = BTreeMap::new();
    let mut named = Vec::new();
    for kind in registry.kinds() {
        let name = payload_component_name(kind);
        if let Some(other) = taken.insert(name.clone(), kind) {
            return Err(DocumentError::KindNameClash { kinds: [other.into(), kind.into()], name });
        }
        if schemas.contains_key(&name) {
            return Err(DocumentError::SchemaNameClash { kind: kind.into(), name });
        }
        named.push((kind, name));
    }
    Ok(named)
}

/// Adds `<Kind>Payload` for every registered kind, makes `TaskRequest` name them and
/// the registered kinds, and gives `POST /tasks` one request example per kind.
pub(super) fn describe_kinds(
    doc: &mut Value,
    registry: &HandlerRegistry,
) -> Result<(), DocumentError> {
    let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") else {
        return Ok(());
    };
    let named = named_kinds(registry, schemas)?;
    let mut request_examples = Map::new();
    for (kind, name) in &named {
        let Some(handler) = registry.get(kind) else { continue };
        let payload = handler.payload_schema();
        request_examples
            .insert(name.trim_end_matches("Payload").into(), request_example(kind, &payload));
        let mut schema = payload.schema;
        if let Some(object) = schema.as_object_mut() {
            object.insert("x-ttp-kind".into(), json!(kind));
        }
        schemas.insert(name.clone(), schema);
    }
    if let Some(Value::Object(request)) = schemas.get_mut("TaskRequest") {
        request.insert("not".into(), not_both_times());
        open_kind_and_payload(request, &named);
    }
    let body = "/paths/~1tasks/post/requestBody/content/application~1json";
    if let Some(Value::Object(media)) = doc.pointer_mut(body) {
        media.insert("examples".into(), Value::Object(request_examples));
    }
    Ok(())
}

/// `delay_ms` together with `run_at` is a 422 (SPEC §2); JSON Schema can say so.
fn not_both_times() -> Value {
    json!({
        "required": ["delay_ms", "run_at"],
        "properties": {"delay_ms": {"type": "integer"}, "run_at": {"type": "string"}}
    })
}

/// `kind` lists the registered kinds as examples; `payload` names their components.
fn open_kind_and_payload(request: &mut Map<String, Value>, named: &[(&str, String)]) {
    let Some(Value::Object(properties)) = request.get_mut("properties") else { return };
    if let Some(Value::Object(kind)) = properties.get_mut("kind") {
        let kinds = named.iter().map(|(kind, _)| json!(kind)).collect();
        kind.insert("examples".into(), Value::Array(kinds));
    }
    if let Some(Value::Object(payload)) = properties.get_mut("payload") {
        let listing: Vec<String> =
            named.iter().map(|(kind, name)| format!("`{name}` (`{kind}`)")).collect();
        let text = format!(
            "Any JSON (absent means `null`); validated by the kind's handler at submission (a 422 names the field). The payload schema of each kind is a component: {}.",
            listing.join(", ")
        );
        payload.insert("description".into(), json!(text));
    }
}

/// The `POST /tasks` example of one kind: its payload schema's example, if any, and the
/// optional fields `examples::request_options` shows for it.
fn request_example(kind: &str, payload: &PayloadSchema) -> Value {
    let mut value = Map::new();
    value.insert("kind".into(), json!(kind));
    if let Some(example) = payload.example() {
        value.insert("payload".into(), example.clone());
    }
    value.extend(examples::fields(examples::request_options(kind)));
    json!({"summary": format!("a `{kind}` task"), "value": value})
}

/// Replaces `TaskRequest` by a `oneOf` with one variant per registered kind, each with
/// that kind's payload schema inline: the strict document a fuzzer needs (`--fuzz`).
pub(super) fn task_request_per_kind(doc: &mut Value, registry: &HandlerRegistry) {
    let Some(slot) = doc.pointer_mut("/components/schemas/TaskRequest") else {
        return;
    };
    let mut base = slot.take();
    let mut union = Map::new();
    if let Some(object) = base.as_object_mut()
        && let Some(description) = object.remove("description")
    {
        union.insert("description".into(), description);
    }
    let variants: Vec<Value> = registry
        .kinds()
        .into_iter()
        .filter_map(|kind| Some(variant(&base, kind, registry.get(kind)?.payload_schema())))
        .collect();
    union.insert("oneOf".into(), Value::Array(variants));
    *slot = Value::Object(union);
}

fn variant(base: &Value, kind: &str, payload: PayloadSchema) -> Value {
    let mut variant = base.clone();
    if let Some(object) = variant.as_object_mut() {
        object.insert("title".into(), json!(kind));
        if !payload.optional
            && let Some(Value::Array(required)) = object.get_mut("required")
        {
            required.push(json!("payload"));
        }
    }
    if let Some(Value::Object(properties)) = variant.get_mut("properties") {
        let mut rule = json!({"const": kind});
        if let (Some(description), Some(rule)) =
            (properties.get("kind").and_then(|k| k.get("description")), rule.as_object_mut())
        {
            rule.insert("description".into(), description.clone());
        }
        properties.insert("kind".into(), rule);
        properties.insert("payload".into(), payload.schema);
    }
    variant
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names_capitalise_each_part_of_the_kind() {
        assert_eq!(payload_component_name("telemetry.aggregate"), "TelemetryAggregatePayload");
        assert_eq!(payload_component_name("sleep"), "SleepPayload");
        assert_eq!(payload_component_name("my_kind-v2"), "MyKindV2Payload");
    }
}
