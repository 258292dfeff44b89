//! One crypto library for every TLS connection ttp makes: rustls with `ring`.
//!
//! reqwest is built with `rustls-no-provider`, so that aws-lc-rs (a C build) stays out of
//! the tree. The `http` kind hands reqwest a ready TLS set-up, but any other client
//! built the plain way (`reqwest::Client::new()`: the bench, tests, a library user's
//! own) asks rustls for the process-wide default provider and panics when none is
//! installed. [`install_default_provider`] installs `ring` as that default; `main` and
//! `App::build` call it, and so should any program that builds reqwest clients before
//! either runs. (rustls itself installs `ring` the first time it builds a configuration
//! without an explicit provider, as the Redis TLS set-up does, so this choice is the one
//! the process would make anyway.)

/// Makes `ring` rustls' process-wide default provider, unless one is installed already.
pub fn install_default_provider() {
    // Err means a provider is installed already: the first one stays, as it must.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
