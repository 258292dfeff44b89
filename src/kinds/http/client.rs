//! The one HTTP client of the `http` kind, shared (and its connections pooled) by every
//! attempt.
//!
//! HTTPS is rustls with the ring provider and the Mozilla roots compiled in (the
//! `webpki-roots` crate, as for Redis), handed to reqwest ready-made, so no second
//! crypto library (aws-lc-rs) enters the build and the runtime image needs no CA bundle.
//! The standard `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` variables apply.
//!
//! Redirects are where an allow-list leaks: an allowed host could send ttp anywhere. So a
//! redirect is followed only to the same host (still allowed, never from https down to
//! http), at most [`MAX_REDIRECTS`] times, and only a 307 or 308: those keep the method
//! and the body, so the signature still matches what arrives (a 301, 302 or 303 would
//! turn a POST into a bodiless GET). Any other ends the attempt with a permanent error.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::redirect::{Attempt, Policy};

use crate::config::AllowedHosts;

/// Longest wait for a TCP (and TLS) connection; the task's timeout bounds the rest.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most redirects followed in one attempt.
const MAX_REDIRECTS: usize = 5;

/// The client could not be built (a TLS set-up failure).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// rustls refused the configuration.
    #[error("http kind: TLS set-up failed: {0}")]
    Tls(#[from] rustls::Error),
    /// reqwest refused the configuration.
    #[error("http kind: HTTP client set-up failed: {0}")]
    Client(#[from] reqwest::Error),
}

/// The client: ring-backed TLS with the webpki roots, a connect timeout, and redirects
/// only within the same, allowed host.
pub(super) fn build(hosts: AllowedHosts) -> Result<reqwest::Client, PushError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(Policy::custom(move |attempt| redirect(attempt, &hosts)))
        .user_agent(concat!("ttp/", env!("CARGO_PKG_VERSION")))
        .build()?;
    Ok(client)
}

/// Follows a 307 or 308 to the same, allowed host; refuses any other redirect.
fn redirect(attempt: Attempt<'_>, hosts: &AllowedHosts) -> reqwest::redirect::Action {
    let next = attempt.url();
    // `previous` starts with the task's own URL.
    let Some(first) = attempt.previous().first() else { return attempt.stop() };
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
    }
    let same_host = next.host_str().is_some() && next.host_str() == first.host_str();
    let allowed = next.host_str().is_some_and(|host| hosts.allows(host));
    let scheme_ok = match next.scheme() {
        "https" => true,
        "http" => first.scheme() == "http",
        _ => false,
    };
    let keeps_request =
        matches!(attempt.status(), StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT);
    if same_host && allowed && scheme_ok && keeps_request {
        attempt.follow()
    } else {
        let refused = format!(
            "{} redirect to {next} not followed: only 307 and 308 within the same host ({}) are",
            attempt.status().as_u16(),
            first.host_str().unwrap_or_default()
        );
        attempt.error(refused)
    }
}
