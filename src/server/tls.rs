//! HTTPS for deployments without a TLS-terminating ingress (`TTP_TLS_CERT_FILE`,
//! `TTP_TLS_KEY_FILE`): rustls with the `ring` provider. The handshake runs in the
//! connection's own task, bounded by the header timeout, so a client that stalls it
//! holds nothing but its connection slot for that long.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The acceptor for a certificate chain and key (PEM); an error says what is wrong.
pub fn acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("TTP_TLS_CERT_FILE: {e}"))?;
    if chain.is_empty() {
        return Err("TTP_TLS_CERT_FILE holds no certificate".into());
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("TTP_TLS_KEY_FILE: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!("TTP_TLS_CERT_FILE and TTP_TLS_KEY_FILE do not make a usable pair: {e}")
        })?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
