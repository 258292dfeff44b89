//! The document's shape, held for every route and every registered kind: what client
//! generators and linters rely on, checked here so that a new route or kind cannot
//! quietly break `make clients`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::kinds::{Handler, HandlerFuture, TaskContext};

fn doc() -> Value {
    document(&HandlerRegistry::with_builtins()).unwrap()
}

fn operations(doc: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            found.push((format!("{method} {path}"), operation));
        }
    }
    found
}

/// A kind a library user might register.
struct Custom;

impl Handler for Custom {
    fn run<'a>(&'a self, _ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(async { Ok(Value::Null) })
    }
}

#[test]
fn every_operation_has_an_id_a_summary_and_a_description() {
    let doc = doc();
    for (name, operation) in operations(&doc) {
        for key in ["operationId", "summary", "description"] {
            let text = operation[key].as_str().unwrap_or_default();
            assert!(!text.is_empty(), "{name} has no {key}");
        }
    }
}

#[test]
fn every_error_response_is_problem_details() {
    let doc = doc();
    for (name, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            if status.starts_with('2') {
                continue;
            }
            let reference = response["$ref"].as_str().unwrap_or_default();
            let shared = reference.strip_prefix("#/components/responses/");
            let shared = shared.map(|n| &doc["components"]["responses"][n]);
            let content = shared.map(|r| &r["content"]["application/problem+json"]["schema"]);
            assert_eq!(
                content.map(|s| &s["$ref"]),
                Some(&json!("#/components/schemas/Problem")),
                "{name} {status}"
            );
        }
    }
}

#[test]
fn every_operation_states_its_security() {
    let doc = doc();
    for (name, operation) in operations(&doc) {
        assert!(operation["security"].is_array(), "{name} has no security requirement");
    }
}

#[test]
fn every_request_and_response_body_has_an_example() {
    let doc = doc();
    let mut missing = Vec::new();
    let mut check = |place: String, content: &Value| {
        for (media_type, media) in content.as_object().into_iter().flatten() {
            if media.get("example").is_none() && media.get("examples").is_none() {
                missing.push(format!("{place} {media_type}"));
            }
        }
    };
    for (name, operation) in operations(&doc) {
        check(format!("{name} request"), &operation["requestBody"]["content"]);
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            check(format!("{name} {status}"), &response["content"]);
        }
    }
    for (name, response) in doc["components"]["responses"].as_object().into_iter().flatten() {
        check(format!("components.responses.{name}"), &response["content"]);
    }
    assert!(missing.is_empty(), "bodies without an example: {missing:#?}");
}

#[test]
fn every_tag_an_operation_uses_is_declared_with_a_description() {
    let doc = doc();
    let declared: BTreeSet<&str> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|tag| tag["description"].as_str().is_some_and(|d| !d.is_empty()))
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    for (name, operation) in operations(&doc) {
        for tag in operation["tags"].as_array().into_iter().flatten() {
            assert!(declared.contains(tag.as_str().unwrap_or_default()), "{name}: tag {tag}");
        }
    }
}

#[test]
fn every_registered_kind_has_its_named_payload_component() {
    let registry = HandlerRegistry::with_builtins().with("my_kind.v2", Custom);
    let doc = document(&registry).unwrap();
    let schemas = &doc["components"]["schemas"];
    for kind in registry.kinds() {
        let component = &schemas[payload_component_name(kind)];
        assert_eq!(component["x-ttp-kind"], json!(kind), "{kind}: {component}");
        assert!(component.get("title").is_none(), "a title renames the generated class");
    }
    assert_eq!(schemas["MyKindV2Payload"]["x-ttp-kind"], "my_kind.v2");
    let kinds = &schemas["TaskRequest"]["properties"]["kind"]["examples"];
    assert_eq!(kinds, &json!(registry.kinds()));
}

#[test]
fn kinds_whose_names_differ_only_by_separators_are_refused() {
    let registry = HandlerRegistry::new().with("a.b", Custom).with("a-b", Custom);
    let error = document(&registry).unwrap_err().to_string();
    assert!(error.contains("\"a-b\"") && error.contains("\"a.b\""), "{error}");
    assert!(error.contains("ABPayload"), "{error}");
}

#[test]
fn task_request_is_one_open_schema() {
    let doc = doc();
    let request = &doc["components"]["schemas"]["TaskRequest"];
    assert!(request.get("oneOf").is_none(), "{request}");
    assert_eq!(request["properties"]["kind"]["type"], "string");
    assert!(request["properties"]["payload"].get("type").is_none(), "payload is any JSON");
    assert_eq!(request["required"], json!(["kind"]));
    let examples =
        &doc["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]["examples"];
    let kinds: Vec<&Value> =
        examples.as_object().unwrap().values().map(|e| &e["value"]["kind"]).collect();
    assert_eq!(kinds.len(), HandlerRegistry::with_builtins().kinds().len(), "{examples}");
}

#[test]
fn fuzzing_document_has_one_task_request_variant_per_kind() {
    let registry = HandlerRegistry::with_builtins();
    let doc = fuzzing_document(&registry).unwrap();
    let variants = doc["components"]["schemas"]["TaskRequest"]["oneOf"].as_array().cloned();
    let kinds: Vec<Value> = variants
        .unwrap_or_default()
        .iter()
        .map(|v| v["properties"]["kind"]["const"].clone())
        .collect();
    let registered: Vec<Value> = registry.kinds().into_iter().map(Value::from).collect();
    assert_eq!(kinds, registered);
    let mut open = doc.clone();
    let committed = document(&registry).unwrap();
    for schema in ["TaskRequest", "ScheduleTask"] {
        open["components"]["schemas"][schema] = committed["components"]["schemas"][schema].clone();
    }
    for (field, pattern) in [("start_at", "^1[0-9]{3}-"), ("end_at", "^21[0-9]{2}-")] {
        let bound = &mut open["components"]["schemas"]["ScheduleRequest"]["properties"][field];
        assert_eq!(bound["pattern"], pattern, "{field}");
        bound["pattern"] = committed["components"]["schemas"]["ScheduleRequest"]["properties"]
            [field]["pattern"]
            .clone();
    }
    for body in ["ClaimBody", "HeartbeatBody"] {
        let lease_ms = &mut open["components"]["schemas"][body]["properties"]["lease_ms"];
        assert_eq!(lease_ms["maximum"], 600_000, "{body}");
        lease_ms.as_object_mut().unwrap().remove("maximum");
    }
    let claim = "/paths/~1queues~1{name}~1claim/post/requestBody/content/application~1json/example";
    for place in [
        "/components/schemas/ClaimBody/properties",
        "/components/schemas/ClaimBody/examples/0",
        claim,
    ] {
        assert!(open.pointer(place).unwrap().get("wait_ms").is_none(), "{place}");
        let wait_ms = committed.pointer(place).unwrap()["wait_ms"].clone();
        open.pointer_mut(place).unwrap().as_object_mut().unwrap().insert("wait_ms".into(), wait_ms);
    }
    assert_eq!(
        open, committed,
        "only TaskRequest, ScheduleTask, the schedule bounds, lease_ms and the claim's wait_ms differ"
    );
}

/// Generators name modules and classes after components in their own case and without
/// separators (`task_state.py`, `TaskState`), so names must differ beyond that.
#[test]
fn component_names_stay_unique_once_generators_normalise_them() {
    let doc = document(&HandlerRegistry::with_builtins().with("my_kind.v2", Custom)).unwrap();
    let mut seen = BTreeSet::new();
    for section in ["schemas", "responses"] {
        for name in doc["components"][section].as_object().unwrap().keys() {
            let normal: String =
                name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
            assert!(seen.insert((section, normal)), "{section}.{name} collides with another name");
        }
    }
}

/// `redocly lint`'s `no-unused-components` is off (openapi/redocly.yaml) because the
/// payload components are unreferenced on purpose; this test keeps the rule for the rest.
#[test]
fn every_component_but_the_payload_components_is_referenced() {
    let doc = doc();
    let text = doc.to_string();
    for section in ["schemas", "responses"] {
        for (name, component) in doc["components"][section].as_object().unwrap() {
            let reference = format!("\"#/components/{section}/{name}\"");
            let payload = component.get("x-ttp-kind").is_some();
            assert!(payload || text.contains(&reference), "{section}.{name} is not used");
        }
    }
}
