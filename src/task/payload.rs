//! A task's payload as the client sent it: raw JSON text, kept verbatim (minified) from
//! the request to Redis and to the worker. Building a `serde_json::Value` tree costs up to
//! 30 times the text's size (every number a 32-byte node), so a payload is parsed into a
//! tree only where something must look inside it: a kind that validates its payloads,
//! and the canonical form an idempotency key compares.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// Raw JSON text of a payload, without insignificant whitespace.
#[derive(Clone)]
pub struct Payload(Box<RawValue>);

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Payload {}

impl Payload {
    /// `null`, the payload of a request that gives none.
    pub fn null() -> Self {
        Self::from_raw(RawValue::NULL.to_owned())
    }

    /// Keeps `raw` (already valid JSON), minified.
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        match minified(raw.get()) {
            Some(text) => Self(RawValue::from_string(text).unwrap_or(raw)),
            None => Self(raw),
        }
    }

    /// A payload read back from Redis (stored by ttp, so valid JSON; anything else is
    /// `None`).
    pub fn from_stored(text: String) -> Option<Self> {
        RawValue::from_string(text).ok().map(Self)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The payload as a tree, for validation (the text is valid JSON, so this only fails
    /// on a nesting deeper than serde_json allows, reported as `null`).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.as_str()).unwrap_or(Value::Null)
    }

    /// A form that is equal for equal JSON values (object keys sorted, numbers and
    /// strings normalised), for comparing idempotent requests.
    pub fn canonical(&self) -> String {
        self.to_value().to_string()
    }
}

/// `text` without whitespace outside strings, or `None` when it has none.
fn minified(text: &str) -> Option<String> {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    if !text.bytes().any(is_space) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii() || !is_space(c as u8) {
            out.push(c);
        }
    }
    Some(out)
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self::from_raw)
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(text: &str) -> Payload {
        Payload::from_raw(RawValue::from_string(text.to_owned()).unwrap())
    }

    #[test]
    fn whitespace_outside_strings_is_dropped() {
        let p = payload(" { \"a\" : [ 1 , 2 ],\n \"s\": \"x \\\" y \" } ");
        assert_eq!(p.as_str(), r#"{"a":[1,2],"s":"x \" y "}"#);
        assert_eq!(payload("[1,2]").as_str(), "[1,2]");
    }

    #[test]
    fn equal_values_have_one_canonical_form() {
        assert_eq!(
            payload(r#"{"b":1,"a":[1.0]}"#).canonical(),
            payload(r#"{ "a":[1.0], "b":1 }"#).canonical()
        );
        assert_ne!(payload(r#"{"a":1}"#).canonical(), payload(r#"{"a":2}"#).canonical());
    }
}
