//! The README's configuration table is checked against the code, so it cannot drift:
//! every setting of `Config` is listed with its real default, and nothing else is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use serde_json::Value;
use ttp::config::Config;

/// `TTP_NAME` → default as written in the README table.
fn readme_settings() -> BTreeMap<String, String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("\n## Configuration\n").nth(1).expect("a Configuration section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut settings = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `TTP_")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let names: Vec<&str> = cells[1].split(", ").map(|n| n.trim_matches('`')).collect();
        let defaults: Vec<&str> = cells[2].split(", ").map(|d| d.trim_matches('`')).collect();
        assert_eq!(
            names.len(),
            defaults.len(),
            "README row lists {} names but {} defaults: {line}",
            names.len(),
            defaults.len()
        );
        for (name, default) in names.into_iter().zip(defaults) {
            settings.insert(name.to_owned(), default.to_owned());
        }
    }
    settings
}

/// `TTP_NAME` → default from `Config::default()`.
fn code_settings() -> BTreeMap<String, String> {
    let Value::Object(fields) = serde_json::to_value(Config::default()).unwrap() else {
        panic!("Config is a struct")
    };
    fields
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (format!("TTP_{}", name.to_ascii_uppercase()), text)
        })
        .collect()
}

#[test]
fn readme_configuration_table_matches_the_code() {
    let (readme, code) = (readme_settings(), code_settings());
    let missing: Vec<&String> = code.keys().filter(|k| !readme.contains_key(*k)).collect();
    let unknown: Vec<&String> = readme.keys().filter(|k| !code.contains_key(*k)).collect();
    assert!(missing.is_empty(), "settings missing from the README table: {missing:?}");
    assert!(unknown.is_empty(), "README lists settings the code does not have: {unknown:?}");
    for (name, default) in &code {
        let shown = &readme[name];
        let shown = if shown == "(empty)" { "" } else { shown.as_str() };
        assert_eq!(shown, default, "README default of {name}");
    }
}
