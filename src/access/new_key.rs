//! `ttp keys new`: a fresh secret (256 random bits from the operating system) and the
//! `[[key]]` entry that admits it, holding only the secret's SHA-256. The secret is shown
//! this once; ttp never stores it.

use super::keyring::{digest, to_hex};

/// The secret and its keys-file entry for a key `id` with `scopes` on `queues`.
pub fn new_key(id: &str, scopes: &[String], queues: &[String]) -> Result<(String, String), String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no OS randomness: {e}"))?;
    let secret = format!("ttp_{}", to_hex(&bytes));
    let list =
        |items: &[String]| items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", ");
    let entry = format!(
        "[[key]]\nid = {id:?}\nsecret_sha256 = \"{}\"\nscopes = [{}]\nqueues = [{}]\n",
        to_hex(&digest(&secret)),
        list(scopes),
        list(queues)
    );
    super::KeyRing::new(Some(&entry), &[]).map_err(|e| e.0)?;
    Ok((secret, entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_admitted_by_its_own_entry() {
        let (secret, entry) =
            new_key("ci", &["submit".into(), "read".into()], &["default".into()]).unwrap();
        let ring = super::super::KeyRing::new(Some(&entry), &[]).unwrap();
        assert_eq!(ring.authenticate(&secret).unwrap().key_id.as_deref(), Some("ci"));
        assert!(!entry.contains(&secret), "the entry must not hold the secret");
        assert!(new_key("ci", &["fly".into()], &["default".into()]).is_err());
    }
}
