//! The only place that knows about signals. SIGINT and SIGTERM: the first one cancels a
//! token the rest of the program watches; a second one exits at once (leases of
//! unfinished tasks then expire and the tasks run elsewhere). SIGHUP: re-read what can be
//! re-read (the API keys file).

use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGINT or SIGTERM.
pub fn on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received; a second one exits at once");
        cancel.cancel();
        wait_for_signal().await;
        tracing::warn!("second shutdown signal: exiting without waiting for running tasks");
        std::process::exit(130);
    });
    token
}

/// Calls `reload` on every SIGHUP until `stop`.
pub async fn on_hangups(stop: CancellationToken, reload: impl Fn()) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; the API keys file is read at start-up only");
            return;
        };
        loop {
            tokio::select! {
                received = hangups.recv() => match received {
                    Some(()) => reload(),
                    None => return,
                },
                () = stop.cancelled() => return,
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (stop, reload);
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl+C stops the process");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
