//! Standard Webhooks signing (<https://www.standardwebhooks.com/>), so receivers verify
//! ttp's requests with any of that specification's libraries.
//!
//! `webhook-signature` is `v1,` and the base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`
//! keyed with the decoded part of `whsec_<base64>`. The id is the task id, the same on
//! every attempt, so a receiver that remembers ids drops a second delivery of one task;
//! the timestamp is the attempt's, so a receiver can refuse replays of old requests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{HeaderName, HeaderValue};
use ring::hmac;

/// The three headers for a request with `body`, id `id`, sent at `timestamp_s` (Unix
/// seconds); `None` if `id` cannot be a header value (task ids always can).
pub(super) fn headers(
    key: &hmac::Key,
    id: &str,
    timestamp_s: i64,
    body: &[u8],
) -> Option<[(HeaderName, HeaderValue); 3]> {
    let signature = sign(key, id, timestamp_s, body);
    Some([
        (HeaderName::from_static("webhook-id"), HeaderValue::from_str(id).ok()?),
        (HeaderName::from_static("webhook-timestamp"), HeaderValue::from(timestamp_s)),
        (HeaderName::from_static("webhook-signature"), HeaderValue::from_str(&signature).ok()?),
    ])
}

/// `v1,<base64 signature>` of one request.
pub(super) fn sign(key: &hmac::Key, id: &str, timestamp_s: i64, body: &[u8]) -> String {
    let mut context = hmac::Context::with_key(key);
    context.update(format!("{id}.{timestamp_s}.").as_bytes());
    context.update(body);
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::signing_key;

    /// Vectors computed once with the reference implementation (`standardwebhooks` 1.1.0
    /// from PyPI: `Webhook(secret).sign(id, datetime.fromtimestamp(ts, utc), body)`).
    #[test]
    fn signatures_match_the_reference_implementation() {
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let key = signing_key("whsec_dHRwLXRlc3Qtc2lnbmluZy1zZWNyZXQtMzItYnl0ZXM=").unwrap();
        let body = br#"{"event":"ping","n":1}"#;
        assert_eq!(
            sign(&key, "01JTTP0000000000000000000", 1_700_000_000, body),
            "v1,/owiNZ3V16i4TA78/2D4Z1hbSNIgqX1mbucIKvz+kAI="
        );
    }

    #[test]
    fn the_headers_carry_id_timestamp_and_signature() {
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let headers = headers(&key, "01J.default", 1_700_000_000, b"{}").unwrap();
        let shown: Vec<(String, String)> =
            headers.iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned())).collect();
        assert_eq!(shown[0], ("webhook-id".into(), "01J.default".into()));
        assert_eq!(shown[1], ("webhook-timestamp".into(), "1700000000".into()));
        assert_eq!(shown[2].1, sign(&key, "01J.default", 1_700_000_000, b"{}"));
    }
}
