//! Serving over TCP with graceful shutdown: on SIGTERM or Ctrl-C the listener closes and
//! requests in flight finish (up to 30 s) before the process exits.

use std::future::Future;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::Server;

use hms_core::App;

/// Binds the address; returns the acceptor (its `local_addr` tells the port when binding `:0`).
pub async fn bind(addr: &str) -> std::io::Result<TcpAcceptor> {
    TcpListener::bind(addr.to_string()).into_acceptor().await
}

pub fn local_addr(acceptor: &TcpAcceptor) -> Option<std::net::SocketAddr> {
    acceptor
        .local_addr()
        .into_iter()
        .find_map(|a| a.as_socket_addr().copied())
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    app: App,
    acceptor: TcpAcceptor,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let db = app.db.clone();
    let result = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            crate::endpoint(app),
            shutdown,
            Some(Duration::from_secs(30)),
        )
        .await;
    db.close().await;
    result
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
