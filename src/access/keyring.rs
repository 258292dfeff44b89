//! The keys a process accepts: read from the scoped keys file (`TTP_API_KEYS_FILE`) and
//! the full-access keys (`TTP_API_KEYS`), stored only as SHA-256 digests, and matched by
//! comparing fixed-length digests in constant time against every key, so neither the
//! answer nor its timing tells how close a guess came.
//!
//! The file's format is part of the contract:
//! ```toml
//! [[key]]
//! id = "ci"
//! secret_sha256 = "<64 lowercase hex digits: SHA-256 of the secret as sent>"
//! scopes = ["submit", "read"]
//! queues = ["default", "reports"]   # or ["*"]
//! ```

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{Principal, QueueAccess, Scope};
use crate::task::QueueName;

/// A key file or key that cannot be used; names the key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyRingError(pub String);

/// The accepted keys.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<(Digest, Arc<Principal>)>,
}

type Digest = [u8; 32];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(default)]
    key: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: String,
    secret_sha256: String,
    scopes: Vec<String>,
    queues: Vec<String>,
}

/// SHA-256 of a secret as sent.
pub fn digest(secret: &str) -> Digest {
    let hash = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(hash.as_ref());
    out
}

impl KeyRing {
    /// The keys of `file` (TOML text; `None` when no file is configured) and the
    /// full-access `secrets`.
    pub fn new(file: Option<&str>, secrets: &[String]) -> Result<Self, KeyRingError> {
        let mut keys = Vec::new();
        for (n, secret) in secrets.iter().enumerate() {
            let principal = Principal {
                key_id: Some(format!("api-keys-{}", n + 1).into()),
                ..Principal::open()
            };
            keys.push((digest(secret), Arc::new(principal)));
        }
        if let Some(text) = file {
            let parsed: KeyFile =
                toml::from_str(text).map_err(|e| KeyRingError(format!("not a keys file: {e}")))?;
            let mut ids = HashSet::new();
            for entry in parsed.key {
                if !ids.insert(entry.id.clone()) {
                    return Err(KeyRingError(format!("key id {:?} appears twice", entry.id)));
                }
                keys.push(entry.parse()?);
            }
        }
        Ok(Self { keys })
    }

    /// Whether any key is configured (else the API is open).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key whose secret is `secret`, checked against every key in constant time.
    pub fn authenticate(&self, secret: &str) -> Option<Arc<Principal>> {
        let presented = digest(secret);
        let mut found = None;
        for (key, principal) in &self.keys {
            if bool::from(key.ct_eq(&presented)) {
                found = Some(principal.clone());
            }
        }
        found
    }
}

impl KeyEntry {
    fn parse(self) -> Result<(Digest, Arc<Principal>), KeyRingError> {
        let id = self.id;
        let bad = |what: String| KeyRingError(format!("key {id:?}: {what}"));
        let id_ok = (1..=64).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !id_ok {
            return Err(bad("the id must be 1..=64 of [A-Za-z0-9._-]".into()));
        }
        let digest = hex_digest(&self.secret_sha256)
            .ok_or_else(|| bad("secret_sha256 must be 64 lowercase hex digits".into()))?;
        let scopes: BTreeSet<Scope> =
            self.scopes.iter().map(|s| s.parse()).collect::<Result<_, _>>().map_err(bad)?;
        let queues = if self.queues.iter().any(|q| q == "*") {
            QueueAccess::All
        } else {
            let names = self.queues.iter().map(|q| {
                QueueName::parse(q).map_err(|e| bad(format!("queue {q:?}: {}", e.message)))
            });
            QueueAccess::Only(names.collect::<Result<_, _>>()?)
        };
        let principal = Principal { key_id: Some(id.as_str().into()), scopes, queues };
        Ok((digest, Arc::new(principal)))
    }
}

/// 64 lowercase hex digits as a digest.
fn hex_digest(text: &str) -> Option<Digest> {
    let valid =
        text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// The lowercase hex form of a digest (what the keys file holds).
pub fn to_hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(secret: &str) -> String {
        format!(
            "[[key]]\nid = \"ci\"\nsecret_sha256 = \"{}\"\nscopes = [\"submit\", \"read\"]\nqueues = [\"default\"]\n",
            to_hex(&digest(secret))
        )
    }

    #[test]
    fn a_key_is_found_by_its_secret_with_its_scopes_and_queues() {
        let ring = KeyRing::new(Some(&file("s3cret-value")), &[]).unwrap();
        let principal = ring.authenticate("s3cret-value").unwrap();
        assert_eq!(principal.key_id.as_deref(), Some("ci"));
        assert!(principal.has(Scope::Submit) && principal.has(Scope::Read));
        assert!(!principal.has(Scope::Admin));
        assert!(principal.may_touch(&QueueName::parse("default").unwrap()));
        assert!(!principal.may_touch(&QueueName::parse("other").unwrap()));
        assert!(ring.authenticate("s3cret-valu").is_none());
        assert!(ring.authenticate("").is_none());
    }

    #[test]
    fn full_access_keys_hold_every_scope_on_every_queue() {
        let ring = KeyRing::new(None, &["0123456789abcdef".into()]).unwrap();
        let principal = ring.authenticate("0123456789abcdef").unwrap();
        assert!(Scope::ALL.iter().all(|s| principal.has(*s)));
        assert_eq!(principal.queues, QueueAccess::All);
    }

    #[test]
    fn malformed_files_name_the_key_and_the_problem() {
        let cases = [
            (
                "[[key]]\nid = \"a\"\nsecret_sha256 = \"ABC\"\nscopes = []\nqueues = []\n",
                "secret_sha256",
            ),
            (&file("x").replace("\"read\"", "\"write\""), "unknown scope"),
            (&file("x").replace("\"default\"", "\"Bad Queue\""), "queue"),
            (&format!("{}{}", file("x"), file("y")), "twice"),
            ("[[key]]\nid = \"a\"\n", "not a keys file"),
        ];
        for (text, expected) in cases {
            let error = KeyRing::new(Some(text), &[]).unwrap_err();
            assert!(error.0.contains(expected), "{error} should mention {expected}");
        }
    }
}
