//! The application: `App::build` does every fallible set-up step (configuration slices,
//! listener, Redis handle, metrics, kinds) and `App::run_until_stopped` only runs, so
//! tests build the same thing `main` does and drive its shutdown with a token.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::auth::Guard;
use crate::api::budget::BodyBudget;
use crate::api::coalescer::Coalescer;
use crate::api::kinds_sync;
use crate::api::lease::waiters::ClaimWaiters;
use crate::api::waiters::{self, Waiters};
use crate::api::{self, AppContext};
use crate::backoff::Backoff;
use crate::config::{Config, Settings};
use crate::dashboard::{self, Dashboard};
use crate::kinds::{Catalog, HandlerRegistry};
use crate::metrics::Metrics;
use crate::queue::{Queue, Upgraded};
use crate::server;
use crate::task::QueueName;
use crate::worker::{QueueSet, WorkerPool};

/// What a submission may take beyond the Redis deadline: building the calls and the
/// answer.
const SUBMISSION_MARGIN: std::time::Duration = std::time::Duration::from_millis(50);

/// Which parts a process runs (`ttp serve`, `serve --no-workers`, `ttp worker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Serve the HTTP API.
    pub api: bool,
    /// Run workers.
    pub workers: bool,
}

/// A built, not yet running, ttp process.
pub struct App {
    settings: Settings,
    roles: Roles,
    listener: Option<TcpListener>,
    queue: Arc<Queue>,
    registry: HandlerRegistry,
    metrics: Metrics,
    guard: Arc<Guard>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The OpenAPI document `GET /openapi.json` serves.
    openapi: axum::body::Bytes,
}

/// Warns at start-up about a Redis that is down or may evict task data.
async fn check_redis(queue: &Queue) {
    if let Err(e) = queue.probe_writable().await {
        tracing::warn!(error = %e, "Redis does not answer yet; /readyz stays 503 and workers wait until it does");
        return;
    }
    match queue.eviction_policy().await.as_deref() {
        Some("noeviction") => {}
        Some(policy) => tracing::warn!(
            policy,
            "Redis maxmemory-policy is not noeviction: under memory pressure Redis may evict queued tasks; set maxmemory-policy noeviction"
        ),
        None => tracing::info!(
            "cannot read Redis maxmemory-policy (CONFIG GET refused); make sure it is noeviction"
        ),
    }
}

/// How long start-up waits for an upgrade of the stored layout before going on with it
/// in the background (a fresh or small deployment is done well within it).
const UPGRADE_AT_ONCE: std::time::Duration = std::time::Duration::from_secs(1);

/// Upgrades data stored by the previous layout: at once when that is quick, else in the
/// background, while the API answers (submissions are stored in the new layout) and
/// `/readyz`, task reads and claims answer 503 until it is done (`queue/upgrade.rs`).
async fn upgrade_layout(queue: &Arc<Queue>, background: &TaskTracker, stop: &CancellationToken) {
    if let Ok(true) = queue.check_layout().await {
        return;
    }
    if let Ok(Ok(done)) = tokio::time::timeout(UPGRADE_AT_ONCE, queue.upgrade_layout()).await {
        return log_upgraded(done);
    }
    tracing::info!(
        "upgrading data stored by a previous version; /readyz answers 503 and workers wait until it is done"
    );
    let (queue, stop) = (queue.clone(), stop.clone());
    background.spawn(async move {
        let mut backoff = Backoff::new("upgrading the stored layout");
        loop {
            match queue.upgrade_layout().await {
                Ok(done) => return log_upgraded(done),
                Err(e) if !backoff.wait(&stop, &e).await => return,
                Err(_) => {}
            }
        }
    });
}

fn log_upgraded(done: Upgraded) {
    if done != Upgraded::default() {
        tracing::info!(
            tasks = done.tasks,
            schedules = done.schedules,
            "upgraded data stored by the previous version to this version's layout"
        );
    }
}

/// The queues a process maintains: those it serves (`served`, when it runs workers) and
/// those of external kinds, which only external workers serve.
fn maintained_queues(served: Option<Vec<QueueName>>, catalog: Arc<Catalog>) -> QueueSet {
    let served = served.unwrap_or_default();
    Arc::new(move || {
        let mut queues = served.clone();
        queues.extend(catalog.external_queues());
        queues.sort();
        queues.dedup();
        queues
    })
}

/// Re-reads the API keys on SIGHUP, and drops idle rate-limit buckets every minute.
async fn keep_keys(guard: Arc<Guard>, stop: CancellationToken) {
    let reload = || match guard.reload() {
        Ok(keys) => tracing::info!(keys, "API keys re-read"),
        Err(e) => tracing::error!(error = %e, "API keys not re-read; the keys in force stay"),
    };
    let prune = async {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            guard.forget_idle();
        }
    };
    tokio::select! {
        () = crate::shutdown::on_hangups(stop.clone(), reload) => {}
        () = prune => {}
        () = stop.cancelled() => {}
    }
}

impl App {
    /// Builds every part; fails with a clear message (bad setting, port in use, …).
    /// The registry's built-in `http` kind is configured from the push settings.
    pub async fn build(
        config: Config,
        roles: Roles,
        mut registry: HandlerRegistry,
    ) -> anyhow::Result<Self> {
        crate::crypto::install_default_provider();
        let settings = config.settings()?;
        registry.configure_push(&settings.push)?;
        let openapi = api::openapi::document(&registry).context("the OpenAPI document")?;
        let openapi = api::openapi::to_json(&openapi).into();
        let metrics = Metrics::new().context("cannot register metrics")?;
        let guard = Arc::new(Guard::new(&settings.http, metrics.http_rate_limited.clone())?);
        let tls = match &settings.http.tls {
            Some((cert, key)) => Some(server::acceptor(cert, key).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let queue =
            Arc::new(Queue::new(&settings.redis, settings.limits, metrics.redis_errors.clone())?);
        // A Redis of the wrong kind stops start-up; one that does not answer yet is
        // waited for (readiness stays 503), as before.
        queue.check_mode().await?;
        let listener = if roles.api {
            let addr = settings.http.listen;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("TTP_LISTEN: cannot listen on {addr}"))?;
            Some(listener)
        } else {
            None
        };
        Ok(Self { settings, roles, listener, queue, registry, metrics, guard, tls, openapi })
    }

    /// The bound HTTP address, when the API role is on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The bound HTTP port, when the API role is on.
    pub fn port(&self) -> Option<u16> {
        self.local_addr().map(|a| a.port())
    }

    /// The task store (tests inspect it).
    pub fn queue(&self) -> Arc<Queue> {
        self.queue.clone()
    }

    /// Runs until `shutdown` is cancelled, then stops in order: the API stops accepting
    /// and finishes in-flight requests while the workers finish or hand back their tasks;
    /// the background tasks of the API (submission coalescing) end last.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { settings, roles, listener, queue, registry, metrics, guard, tls, openapi } =
            self;
        check_redis(&queue).await;
        let background = TaskTracker::new();
        upgrade_layout(&queue, &background, &shutdown).await;
        let catalog = Arc::new(Catalog::new(registry.clone()));
        background.spawn(kinds_sync::run(queue.clone(), catalog.clone(), shutdown.clone()));
        let worker = settings.worker.clone();
        if roles.workers && settings.scheduler {
            let stop = shutdown.clone();
            background.spawn(crate::scheduler::run(queue.clone(), metrics.clone(), stop));
        }
        if roles.workers {
            tracing::info!(concurrency = worker.concurrency, queues = ?worker.queue_names(), "workers started");
        }
        let maintained =
            maintained_queues(roles.workers.then(|| worker.queue_names()), catalog.clone());
        let workers = WorkerPool::start(
            queue.clone(),
            registry,
            metrics.clone(),
            worker,
            maintained,
            roles.workers,
        );
        let server = listener.map(|listener| {
            let source = dashboard::Source {
                queue: queue.clone(),
                catalog: catalog.clone(),
                served: settings.worker.queue_names(),
                metrics: metrics.clone(),
                concurrency: if roles.workers { settings.worker.concurrency } else { 0 },
            };
            let max_streams = settings.http.ui_max_streams;
            let dashboard =
                Dashboard::new(source, max_streams, background.clone(), shutdown.clone());
            let state = Arc::new(AppContext {
                submissions: Coalescer::start(queue.clone(), &background),
                body_budget: BodyBudget::new(settings.http.max_inflight_body_bytes),
                submission_budget: settings.redis.timeout + SUBMISSION_MARGIN,
                allowed_queues: settings.allowed_queues.clone(),
                guard: guard.clone(),
                claim_waiters: ClaimWaiters::new(queue.clone(), shutdown.clone()),
                lease: settings.worker.lease,
                lease_max: settings.worker.lease_max,
                retry: settings.worker.retry,
                queue: queue.clone(),
                catalog,
                metrics,
                defaults: settings.tasks,
                served_queues: settings.worker.queue_names(),
                shutdown: shutdown.clone(),
                waiters: Waiters::default(),
                dashboard,
            });
            background.spawn(waiters::watch(
                queue.clone(),
                state.waiters.clone(),
                shutdown.clone(),
            ));
            background.spawn(keep_keys(guard.clone(), shutdown.clone()));
            let (entries, applying) = (settings.schedules.clone(), state.clone());
            background
                .spawn(async move { api::schedules::config::apply(&applying, &entries).await });
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "listening");
            }
            let router = api::router(state, &settings.http, openapi);
            let (http, grace, stop) =
                (settings.http.clone(), settings.worker.grace, shutdown.clone());
            tokio::spawn(
                async move { server::serve(listener, router, &http, tls, grace, stop).await },
            )
        });
        shutdown.cancelled().await;
        tracing::info!("shutting down");
        workers.shutdown().await;
        if let Some(server) = server {
            server.await.context("HTTP server task failed")?;
        }
        background.close();
        background.wait().await;
        tracing::info!("stopped");
        Ok(())
    }
}
