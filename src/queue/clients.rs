//! Redis clients built from the settings: the one server's, a cluster's, and one node's
//! (for the dedicated connections that must reach the node owning a slot). Each carries
//! the configured user and password in place of the URL's, and for `rediss://` the
//! configured CA (instead of the public roots) and client certificate.

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, ProtocolVersion};

use super::QueueError;
use crate::config::RedisSettings;

/// How the connections of one deployment are made.
#[derive(Clone)]
pub(super) struct Clients {
    /// The first URL's connection details with the configured credentials: the template
    /// of every node's.
    base: ConnectionInfo,
    tls: Option<redis::TlsCertificates>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients").field("tls", &self.tls.is_some()).finish_non_exhaustive()
    }
}

impl Clients {
    /// Reads the credentials and certificates of `settings`.
    pub(super) fn new(settings: &RedisSettings) -> Result<Self, QueueError> {
        let first = settings.urls().first().copied().unwrap_or_default().to_owned();
        let base = with_credentials(first.as_str().into_connection_info()?, settings);
        let tls = first.starts_with("rediss://").then(|| certificates(settings));
        Ok(Self { base, tls })
    }

    /// A client for the URL as configured (standalone mode).
    pub(super) fn standalone(&self) -> Result<redis::Client, QueueError> {
        self.build(self.base.clone())
    }

    /// The same client speaking RESP3 (pushes: sharded pub/sub).
    pub(super) fn standalone_resp3(&self) -> Result<redis::Client, QueueError> {
        let redis = self.base.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        self.build(self.base.clone().set_redis_settings(redis))
    }

    /// A client for one cluster node, with the same credentials and TLS.
    pub(super) fn node(&self, host: &str, port: u16) -> Result<redis::Client, QueueError> {
        let addr = match self.tls {
            None => ConnectionAddr::Tcp(host.to_owned(), port),
            Some(_) => ConnectionAddr::TcpTls {
                host: host.to_owned(),
                port,
                insecure: false,
                tls_params: None,
            },
        };
        self.build(self.base.clone().set_addr(addr))
    }

    /// The host of the first seed node: a node that announces no address is there.
    pub(super) fn seed_host(&self) -> String {
        match self.base.addr() {
            ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => host.clone(),
            _ => "127.0.0.1".to_owned(),
        }
    }

    fn build(&self, info: ConnectionInfo) -> Result<redis::Client, QueueError> {
        Ok(match &self.tls {
            None => redis::Client::open(info)?,
            Some(certs) => redis::Client::build_with_tls(info, certs.clone())?,
        })
    }
}

/// A cluster client for the seed nodes of `settings`: each attempt bounded by the call
/// deadline, and redirections and failovers retried quickly within it (the caller's
/// deadline bounds the whole call). `resp3` with a push sender serves sharded pub/sub.
pub(super) fn cluster(
    settings: &RedisSettings,
    push: Option<tokio::sync::mpsc::UnboundedSender<redis::PushInfo>>,
) -> Result<ClusterClient, QueueError> {
    let seeds = settings
        .urls()
        .into_iter()
        .map(|url| Ok(with_credentials(url.into_connection_info()?, settings)))
        .collect::<Result<Vec<_>, QueueError>>()?;
    let deadline = settings.timeout;
    let mut builder = ClusterClientBuilder::new(seeds)
        .connection_timeout(deadline)
        .response_timeout(deadline)
        .overall_response_timeout(None)
        .retries(8)
        .min_retry_wait(20)
        .max_retry_wait(500);
    if settings.urls().first().is_some_and(|u| u.starts_with("rediss://")) {
        builder = builder.certs(certificates(settings));
    }
    if let Some(push) = push {
        builder = builder.use_protocol(ProtocolVersion::RESP3).push_sender(push);
    }
    Ok(builder.build()?)
}

fn with_credentials(info: ConnectionInfo, settings: &RedisSettings) -> ConnectionInfo {
    let mut redis = info.redis_settings().clone();
    if let Some(user) = &settings.username {
        redis = redis.set_username(user);
    }
    if let Some(password) = &settings.password {
        redis = redis.set_password(password.expose());
    }
    info.set_redis_settings(redis)
}

fn certificates(settings: &RedisSettings) -> redis::TlsCertificates {
    let tls = &settings.tls;
    redis::TlsCertificates {
        client_tls: tls.client.as_ref().map(|(cert, key)| redis::ClientTlsConfig {
            client_cert: cert.clone(),
            client_key: key.clone(),
        }),
        root_cert: tls.ca.clone(),
    }
}
