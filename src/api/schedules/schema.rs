//! What the derive macros cannot say about `PUT /schedules/{name}` in the OpenAPI
//! document, so that a request the schema allows is one ttp accepts: exactly one of
//! `cron` and `every_ms`; `cron` as a pattern (a safe subset of the syntax: single values,
//! lists and `*` with steps; days of month up to 28, so every expression fires); the
//! IANA zones ttp knows; `start_at` and `end_at` before the year 2200; and the task
//! template without `idempotency_key` and `run_at`.

use serde_json::{Value, json};

/// The `cron` values the schema documents (ttp accepts full cron syntax: ranges, days
/// 29–31, 6 fields with seconds first).
fn cron_pattern() -> String {
    let field = |value: &str| format!(r"(\*(/[1-6])?|{value}(,{value})*)");
    let (second, hour) = (field("[1-5]?[0-9]"), field("(1?[0-9]|2[0-3])"));
    let (day, month, weekday) =
        (field("([1-9]|1[0-9]|2[0-8])"), field("([1-9]|1[0-2])"), field("[0-7]"));
    let aliases = "@(yearly|annually|monthly|weekly|daily|midnight|hourly)";
    format!("^({aliases}|({second} )?{second} {hour} {day} {month} {weekday})$")
}

/// Adds the rules to the `ScheduleRequest` schema and its `ScheduleTask` template.
pub fn document(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(task) = schemas.get("TaskRequest").map(template) {
        schemas.insert("ScheduleTask".into(), task);
    }
    let Some(request) = schemas.get_mut("ScheduleRequest").and_then(Value::as_object_mut) else {
        return;
    };
    let names: Vec<String> = request
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default();
    request.insert("anyOf".into(), json!([either(&names, "cron"), either(&names, "every_ms")]));
    let Some(properties) = request.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    properties.insert("task".into(), json!({"$ref": "#/components/schemas/ScheduleTask"}));
    for bound in ["start_at", "end_at"] {
        if let Some(time) = properties.get_mut(bound).and_then(Value::as_object_mut) {
            time.insert("pattern".into(), json!("^([01][0-9]{3}|2[01][0-9]{2})-"));
        }
    }
    if let Some(cron) = properties.get_mut("cron").and_then(Value::as_object_mut) {
        cron.insert("pattern".into(), Value::String(cron_pattern()));
    }
    if let Some(zone) = properties.get_mut("timezone").and_then(Value::as_object_mut) {
        let mut names: Vec<Value> = vec![Value::Null];
        names.extend(chrono_tz::TZ_VARIANTS.iter().map(|tz| Value::String(tz.name().into())));
        zone.insert("enum".into(), Value::Array(names));
    }
}

/// The branch of "exactly one of `cron` and `every_ms`" where `given` is present and the
/// other null or absent. `anyOf`, not `oneOf`: the types make the branches exclusive,
/// which linters cannot see when both properties are optional. Every other property is
/// named with an empty schema (the top level constrains it), so that a validator that
/// refuses undeclared properties in examples still reads a full request as this branch.
fn either(names: &[String], given: &str) -> Value {
    let mut properties = serde_json::Map::new();
    for name in names {
        let schema = match name.as_str() {
            "cron" if given == "cron" => json!({"type": "string"}),
            "every_ms" if given == "every_ms" => json!({"type": "integer"}),
            "cron" | "every_ms" => json!({"type": "null"}),
            _ => json!({}),
        };
        properties.insert(name.clone(), schema);
    }
    json!({"required": [given], "properties": properties})
}

/// The `TaskRequest` union without `idempotency_key` and `run_at` (422 in a template).
fn template(task: &Value) -> Value {
    let mut task = task.clone();
    if let Some(object) = task.as_object_mut() {
        object.insert(
            "description".into(),
            json!("The task of each tick: a `POST /tasks` body without `idempotency_key` and `run_at`."),
        );
        object.remove("example");
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            properties.remove("idempotency_key");
            properties.remove("run_at");
        }
    }
    if let Some(Value::Array(variants)) = task.get_mut("oneOf") {
        for variant in variants.iter_mut().filter_map(Value::as_object_mut) {
            variant.remove("not");
            if let Some(Value::Object(properties)) = variant.get_mut("properties") {
                properties.remove("idempotency_key");
                properties.remove("run_at");
            }
        }
    }
    task
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::ScheduleExpr;

    #[test]
    fn every_cron_the_pattern_admits_is_accepted() {
        let pattern = regex::Regex::new(&cron_pattern()).unwrap();
        let samples = [
            "@hourly",
            "0 0 28 2 0",
            "*/6 * * * *",
            "59 23 28 12 7",
            "1,2,3 */2 1 1 *",
            "0 0 * * * *",
            "*/5 0,30 9 * * 1",
            "5 4 3 2 1",
        ];
        for cron in samples {
            assert!(pattern.is_match(cron), "{cron}");
            assert!(ScheduleExpr::parse(Some(cron), None, None).is_ok(), "{cron}");
        }
        for outside in ["", "61 * * * *", "0 0 31 2 *", "* * *", "@often", "1-5 * * * *"] {
            assert!(!pattern.is_match(outside), "{outside}");
        }
    }
}
