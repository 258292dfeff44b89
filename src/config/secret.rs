//! Secrets in the configuration (passwords, signing secrets, API keys): given directly or
//! read from a `*_FILE` (a mounted secret, so none needs to sit in the environment), and
//! never printed: their `Debug` is redacted, and `ttp config --print` shows them as
//! `[redacted]`.

use std::fmt;

use super::ConfigError;

/// A secret value; `Debug` shows only that it is set.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (not configured).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "[redacted]" })
    }
}

/// The secret from `value` or from the file `file` (one trailing newline dropped); both
/// given is an error naming `setting`.
pub fn resolve(setting: &'static str, value: &str, file: &str) -> Result<Secret, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid { setting, message };
    match (value.is_empty(), file.is_empty()) {
        (_, true) => Ok(Secret(value.to_owned())),
        (true, false) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| invalid(format!("cannot read the file {file:?}: {e}")))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            Ok(Secret(text.strip_suffix('\r').unwrap_or(text).to_owned()))
        }
        (false, false) => Err(invalid("give the value or its _FILE variant, not both".into())),
    }
}

/// `url` with the password in its user part (`redis://user:password@host`) redacted.
pub fn redact_url(url: &str) -> String {
    // A cluster's URL lists several seed nodes, each of which may carry a password.
    url.split(',').map(redact_one_url).collect::<Vec<_>>().join(",")
}

fn redact_one_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
        None => url.to_owned(),
    }
}

/// A PEM file's bytes, or an error naming `setting` (read at start-up, so a missing or
/// unreadable file stops it with one clear line).
pub fn read_pem(setting: &'static str, path: &str) -> Result<Vec<u8>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid { setting, message };
    let bytes = std::fs::read(path).map_err(|e| invalid(format!("cannot read {path:?}: {e}")))?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
        return Err(invalid(format!("{path:?} holds no PEM block")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_value_or_the_file_and_never_show() {
        let dir = std::env::temp_dir().join(format!("ttp-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("password");
        std::fs::write(&file, "s3cret\n").unwrap();
        let path = file.to_str().unwrap();
        assert_eq!(resolve("TTP_X", "", path).unwrap().expose(), "s3cret");
        assert_eq!(resolve("TTP_X", "direct", "").unwrap().expose(), "direct");
        assert!(resolve("TTP_X", "direct", path).is_err());
        assert!(resolve("TTP_X", "", "/nonexistent/file").is_err());
        assert_eq!(format!("{:?}", resolve("TTP_X", "direct", "").unwrap()), "[redacted]");
        assert_eq!(redact_url("redis://ttp:pw@h:6379/0"), "redis://ttp:[redacted]@h:6379/0");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        let _ = std::fs::remove_dir_all(dir);
    }
}
