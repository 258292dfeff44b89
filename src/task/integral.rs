//! JSON has one number type: `5.0` is the integer 5 (as JSON Schema says), so the integer
//! fields of a task request (and of the lease API's bodies) take an integral float; `5.5`
//! stays an error naming the field.

use serde::de::{Deserializer, Error, Visitor};

struct Integral;

impl Visitor<'_> for Integral {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("integer {v} is out of range")))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v.abs() < 9.2e18 {
            Ok(v as i64)
        } else {
            Err(E::invalid_type(serde::de::Unexpected::Float(v), &self))
        }
    }
}

struct OptionalIntegral;

impl<'de> Visitor<'de> for OptionalIntegral {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer or null")
    }

    fn visit_none<E: Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_unit<E: Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_any(Integral).map(Some)
    }
}

/// `deserialize_with` for an `Option<i64>` field that takes integral floats.
pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    deserializer.deserialize_option(OptionalIntegral)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Row {
        #[serde(default, deserialize_with = "super::optional")]
        n: Option<i64>,
    }

    fn n(text: &str) -> Result<Option<i64>, String> {
        serde_json::from_str::<Row>(text).map(|r| r.n).map_err(|e| e.to_string())
    }

    #[test]
    fn integral_floats_are_integers_and_others_are_errors() {
        assert_eq!(n(r#"{"n": 5}"#), Ok(Some(5)));
        assert_eq!(n(r#"{"n": 5.0}"#), Ok(Some(5)));
        assert_eq!(n(r#"{"n": -2e3}"#), Ok(Some(-2000)));
        assert_eq!(n(r#"{"n": null}"#), Ok(None));
        assert_eq!(n(r#"{}"#), Ok(None));
        assert!(n(r#"{"n": 5.5}"#).is_err());
        assert!(n(r#"{"n": "5"}"#).is_err());
        assert!(n(r#"{"n": 18446744073709551615}"#).is_err());
    }
}
