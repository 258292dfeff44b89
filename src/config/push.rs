//! Push delivery's slice of the configuration: the hosts the `http` kind may call and
//! the key it signs requests with.
//!
//! The allow-list is empty by default, so a fresh deployment cannot be turned into a
//! proxy towards its own network (cloud metadata endpoints, admin ports) by whoever may
//! submit tasks; an operator names the receivers. The check is on the URL's host name,
//! so the names listed are trusted to resolve where they should. Allowing hosts without
//! a signing secret is refused: a receiver could not tell ttp's requests from anyone's.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use ring::hmac;

use super::secret;
use super::settings::{invalid, list};
use super::{Config, ConfigError};

/// The `whsec_` prefix of a Standard Webhooks signing secret.
const SECRET_PREFIX: &str = "whsec_";
/// Key sizes the Standard Webhooks specification allows, in bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// What the `http` kind may call, and how it signs.
#[derive(Debug, Clone, Default)]
pub struct PushSettings {
    /// The hosts requests may go to; empty: none.
    pub allowed_hosts: AllowedHosts,
    /// The HMAC-SHA256 key of the `webhook-signature` header (the secret's decoded
    /// part); `None` when no secret is configured.
    pub signing_key: Option<hmac::Key>,
}

/// Host names the `http` kind may call: exact names (`hooks.example.com`, `10.0.0.7`)
/// and `*.suffix` patterns matching any name below the suffix (`*.example.com` matches
/// `a.example.com` and `a.b.example.com`, not `example.com`). Any port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    /// The rules in `text` (comma-separated), or what is wrong with the first bad one.
    pub fn parse(text: &str) -> Result<Self, String> {
        list(text).into_iter().map(|rule| rule_of(&rule)).collect::<Result<_, _>>().map(Self)
    }

    /// Whether no host is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `host` (a URL's host: a name, an IPv4 address or a bracketed IPv6
    /// address) may be called. Names compare without case and without a trailing dot.
    pub fn allows(&self, host: &str) -> bool {
        let host = normal(host);
        self.0.iter().any(|rule| match rule.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() + 1
                    && host.ends_with(suffix)
                    && host[..host.len() - suffix.len()].ends_with('.')
            }
            None => *rule == host,
        })
    }
}

/// A host as rules and URLs are compared: lower case, no brackets, no trailing dot.
fn normal(host: &str) -> String {
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// One rule, checked and in the form URLs are compared in (lower case, punycode,
/// canonical IP addresses): a host a URL can name, or `*.` and a domain.
fn rule_of(rule: &str) -> Result<String, String> {
    let (wildcard, name) = match rule.strip_prefix("*.") {
        Some(suffix) => (true, suffix),
        None => (false, rule),
    };
    let bracketed = if name.contains(':') && !name.starts_with('[') {
        format!("[{name}]")
    } else {
        name.to_owned()
    };
    let host = reqwest::Url::parse(&format!("http://{bracketed}/")).ok().and_then(|url| {
        let only_host = url.port().is_none()
            && url.username().is_empty()
            && url.password().is_none()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none();
        url.host_str().filter(|_| only_host).map(normal)
    });
    let is_ip = |host: &str| host.parse::<std::net::IpAddr>().is_ok();
    let is_name = |host: &str| {
        host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) && !is_ip(host)
    };
    match host {
        Some(host) if is_name(&host) || (!wildcard && is_ip(&host)) => {
            Ok(if wildcard { format!("*.{host}") } else { host })
        }
        _ => Err(format!("{rule:?} is not a host name, an IP address or a *.domain pattern")),
    }
}

impl Config {
    pub(super) fn push_settings(&self) -> Result<PushSettings, ConfigError> {
        let allowed_hosts = AllowedHosts::parse(&self.http_allowed_hosts)
            .or_else(|message| invalid("TTP_HTTP_ALLOWED_HOSTS", message))?;
        let secret = secret::resolve(
            "TTP_HTTP_SIGNING_SECRET",
            &self.http_signing_secret,
            &self.http_signing_secret_file,
        )?;
        let signing_key = if secret.is_empty() {
            None
        } else {
            Some(signing_key(secret.expose()).or_else(|m| invalid("TTP_HTTP_SIGNING_SECRET", m))?)
        };
        if !allowed_hosts.is_empty() && signing_key.is_none() {
            return invalid(
                "TTP_HTTP_SIGNING_SECRET",
                "must be set (or TTP_HTTP_SIGNING_SECRET_FILE) when TTP_HTTP_ALLOWED_HOSTS allows hosts, so receivers can verify requests: e.g. whsec_$(openssl rand -base64 32)",
            );
        }
        Ok(PushSettings { allowed_hosts, signing_key })
    }
}

/// The HMAC key of a Standard Webhooks secret `whsec_<base64>`, or what is wrong with it
/// (never the secret itself).
pub fn signing_key(secret: &str) -> Result<hmac::Key, String> {
    let format = "must be whsec_ followed by the base64 of 24 to 64 random bytes, e.g. whsec_$(openssl rand -base64 32)";
    let encoded = secret.strip_prefix(SECRET_PREFIX).ok_or(format)?;
    let key = STANDARD_PAD_INDIFFERENT.decode(encoded).map_err(|_| format)?;
    if !KEY_BYTES.contains(&key.len()) {
        return Err(format!("{format}; it decodes to {} bytes", key.len()));
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> AllowedHosts {
        AllowedHosts::parse(text).unwrap()
    }

    #[test]
    fn exact_hosts_match_without_case_or_trailing_dot() {
        let allowed = hosts("hooks.example.com, 127.0.0.1, [::1], Other.Example.ORG");
        for host in ["hooks.example.com", "HOOKS.example.com", "hooks.example.com.", "127.0.0.1"] {
            assert!(allowed.allows(host), "{host}");
        }
        assert!(allowed.allows("[::1]"));
        assert!(allowed.allows("other.example.org"));
        for host in ["example.com", "a.hooks.example.com", "hooks.example.com.evil", "127.0.0.2"] {
            assert!(!allowed.allows(host), "{host}");
        }
        assert!(!AllowedHosts::default().allows("localhost"));
        assert!(AllowedHosts::default().is_empty());
    }

    #[test]
    fn wildcards_match_names_below_the_suffix_only() {
        let allowed = hosts("*.example.com");
        assert!(allowed.allows("a.example.com"));
        assert!(allowed.allows("a.b.EXAMPLE.com"));
        for host in ["example.com", "aexample.com", ".example.com", "example.com.evil.net"] {
            assert!(!allowed.allows(host), "{host}");
        }
    }

    #[test]
    fn rules_are_stored_as_urls_name_their_hosts() {
        assert_eq!(hosts("::1, 127.1, bücher.de"), hosts("[::1],127.0.0.1,xn--bcher-kva.de"));
        assert!(hosts("bücher.de").allows("xn--bcher-kva.de"));
    }

    #[test]
    fn bad_rules_are_refused() {
        for rule in
            ["*", "*.", "a.com:80", "http://a.com", "a.com/x", "u@a.com", "*.10.0.0.1", "a b"]
        {
            assert!(AllowedHosts::parse(rule).is_err(), "{rule}");
        }
    }

    #[test]
    fn signing_secrets_must_be_whsec_and_base64_of_24_to_64_bytes() {
        assert!(signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(signing_key("whsec_dHRwLXRlc3Qtc2lnbmluZy1zZWNyZXQtMzItYnl0ZXM=").is_ok());
        assert!(signing_key("whsec_dHRwLXRlc3Qtc2lnbmluZy1zZWNyZXQtMzItYnl0ZXM").is_ok());
        for bad in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_short", "whsec_!!!notbase64!!!", ""]
        {
            let message = signing_key(bad).unwrap_err();
            assert!(message.starts_with("must be whsec_"), "{message}");
            assert!(!message.contains(bad) || bad.is_empty(), "{message}");
        }
    }

    #[test]
    fn allowing_hosts_needs_a_signing_secret() {
        let config = Config { http_allowed_hosts: "hooks.example.com".into(), ..Config::default() };
        match config.push_settings() {
            Err(ConfigError::Invalid { setting, .. }) => {
                assert_eq!(setting, "TTP_HTTP_SIGNING_SECRET")
            }
            other => panic!("{other:?}"),
        }
        let config = Config {
            http_signing_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            ..config
        };
        assert!(config.push_settings().unwrap().allowed_hosts.allows("hooks.example.com"));
    }
}
