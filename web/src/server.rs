//! Serving over TCP with graceful shutdown: on SIGTERM or Ctrl-C the listener closes and
//! requests in flight finish (up to 30 s) before the process exits.

use std::future::Future;
use std::time::Duration;

use poem::Server;

use hms_core::backup::{self, BackupError, DailyBackups, DataDirLock};
use hms_core::config::Config;
use hms_core::db::Backend;
use hms_core::App;

use crate::connections::{Limits, Listener};

/// Binds the address; returns the listener (its `local_addr` tells the port when binding `:0`).
pub async fn bind(addr: &str) -> std::io::Result<Listener> {
    Listener::bind(addr).await
}

pub fn local_addr(listener: &Listener) -> Option<std::net::SocketAddr> {
    listener.local_addr()
}

/// Serves until `shutdown` completes, then lets in-flight requests finish. Connections are
/// held to the configured timeouts and cap (see [`crate::connections`]).
pub async fn serve(
    app: App,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = Limits::from_config(&app.config);
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_seconds = limits.header_timeout.as_secs(),
        keepalive_timeout_seconds = limits.keepalive_timeout.as_secs(),
        "connection limits"
    );
    let acceptor = listener.guarded(limits);
    let db = app.db.clone();
    let reads = app.audit_reads.clone();
    let data_dir = app.config.data_dir.clone();
    let keeper =
        hms_core::audit::spawn_head_keeper(db.clone(), data_dir.clone(), app.audit_head.clone());
    let sweeper = spawn_throttle_sweeper(app.clone());
    let anchor = app
        .config
        .audit_anchor_email
        .clone()
        .map(|to| hms_core::audit::spawn_anchor(db.clone(), to));
    let outbox = start_outbox(&app);
    let app_for_sweep = app.clone();
    let background = start_background(&app);
    let result = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            crate::endpoint(app),
            shutdown,
            Some(Duration::from_secs(30)),
        )
        .await;
    background.stop(Duration::from_secs(10)).await;
    if let Some(sender) = outbox {
        sender.stop(Duration::from_secs(10)).await;
    }
    // Requests have finished: commit the reads they queued and record the final head.
    sweeper.abort();
    if let Err(e) = app_for_sweep
        .throttle
        .sweep(&db, hms_core::clock::now_ms())
        .await
    {
        tracing::warn!(error = %e, "cannot record sign-in refusals at shutdown");
    }
    reads.flush().await;
    keeper.abort();
    if let Some(anchor) = anchor {
        anchor.abort();
    }
    if let Err(e) = hms_core::audit::sync_head_file(&db, &data_dir).await {
        tracing::warn!(error = %e, "cannot record the audit head at shutdown");
    }
    db.close().await;
    result
}

/// Every few seconds, writes the sign-in refusals counted in memory and ends expired throttle
/// episodes (see [`hms_core::auth::throttle`]).
fn spawn_throttle_sweeper(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = app.throttle.sweep(&app.db, hms_core::clock::now_ms()).await {
                tracing::warn!(error = %e, "sign-in throttle sweep failed");
            }
        }
    })
}

/// Starts the email sender when an SMTP server is configured (`smtp_url`); without one,
/// emails wait in the outbox.
pub fn start_outbox(app: &App) -> Option<hms_core::outbox::SenderTask> {
    let url = app.config.smtp_url.as_deref()?;
    match hms_core::outbox::Sender::new(app.db.clone(), url, Default::default()) {
        Ok(sender) => {
            tracing::info!(sender = sender.id(), "email sender started");
            Some(sender.spawn())
        }
        Err(e) => {
            tracing::error!(error = %e, "email sender not started; emails stay in the outbox");
            None
        }
    }
}

/// The modules' background work ([`hms_core::module::Module::background`]), running.
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
}

/// Starts the background work of every enabled module (appointment reminders).
pub fn start_background(app: &App) -> Background {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tasks = app
        .modules
        .enabled()
        .filter_map(|m| {
            let job = m.background(app.clone(), stopped.clone())?;
            tracing::info!(module = m.id(), "background work started");
            Some((m.id(), tokio::spawn(job)))
        })
        .collect();
    Background { stop, tasks }
}

impl Background {
    /// Asks every job to stop; a job still busy after `wait` is cut off (its transaction in
    /// hand rolls back).
    pub async fn stop(self, wait: Duration) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + wait;
        for (module, mut task) in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!(module, "background work did not stop in time; stopping it");
                task.abort();
            }
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Takes the data directory's lock file (`DATA_DIR/hms.lock`) for the life of the server, so
/// that `hms restore` and a second server keep off. SQLite only: PostgreSQL app servers may
/// share a data directory. The message says why when another server holds it.
pub fn lock_data_dir(config: &Config) -> Result<Option<DataDirLock>, String> {
    match Backend::from_url(&config.effective_database_url()) {
        Ok(Backend::Sqlite) => {}
        _ => return Ok(None),
    }
    match backup::lock_data_dir(&config.data_dir) {
        Ok(lock) => Ok(Some(lock)),
        Err(BackupError::Busy(dir)) => Err(format!(
            "another HMS server is using {dir} (it holds {}); stop it first, or start this one \
             with another --data-dir",
            backup::LOCK_FILE
        )),
        Err(e) => Err(format!("cannot lock the data directory: {e}")),
    }
}

/// Starts the daily automatic backup (checked at once, then every hour).
pub fn start_backups(app: &App) -> DailyBackups {
    DailyBackups::spawn(
        app.db.clone(),
        app.config.data_dir.clone(),
        app.config.backup_folder(),
    )
}

/// `shutdown`, then the backup task stopped (a backup under way may finish first, up to a
/// minute), before the server stops taking requests.
pub async fn shutdown_with_backups(shutdown: impl Future<Output = ()>, backups: DailyBackups) {
    shutdown.await;
    backups.stop(Duration::from_secs(60)).await;
}
