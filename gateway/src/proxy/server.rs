//! Listeners: accept connections, serve HTTP/1.1 and h2c on the plain port,
//! HTTP/1.1 and h2 over TLS on the secure one, and drain gracefully on
//! shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use super::Proxy;
use super::headers::Peer;
use crate::telemetry::metrics;

/// Connection-level limits of a listener.
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// How long a client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may take to finish after shutdown starts.
    pub shutdown_grace: Duration,
    /// Open connections per listener (all workers together); beyond it new
    /// connections wait in the kernel's backlog until one closes.
    pub max_connections: usize,
    /// The largest request head (request line and headers; HTTP/2 header
    /// list) accepted; larger: 431.
    pub max_header_bytes: usize,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            max_connections: 16_384,
            max_header_bytes: 32 << 10,
        }
    }
}

/// Serves `listener` until `shutdown` turns true; then stops accepting (new
/// connections are refused), lets in-flight requests finish within the grace
/// period, and returns. With `tls`, connections are TLS (HTTP/2 or HTTP/1.1
/// as ALPN chose); a handshake must finish within the header read timeout.
/// Each connection holds one of `slots` while open.
pub async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    opts: ListenerOptions,
    tls: Option<TlsAcceptor>,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        // hyper's floor for its read buffer is 8 KiB.
        .max_buf_size(opts.max_header_bytes.max(8192));
    // hyper's HTTP/2 defaults bound what rapid resets, floods and pending
    // streams can cost: 200 concurrent streams, 20 resets before accept.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(opts.max_header_bytes).unwrap_or(u32::MAX));
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let local = listener.local_addr().ok();
    let scheme = if tls.is_some() { "https" } else { "http" };
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                metrics::connection_limit_reached(tls.is_some());
                tracing::debug!(listener = ?local, limit = opts.max_connections, "connection limit reached; new connections wait");
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = stopped(&mut shutdown) => break,
                }
            }
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let open = (metrics::connection_opened(tls.is_some()), slot);
                let peer = Peer::new(client, stream.local_addr().unwrap_or(client), scheme);
                let proxy = proxy.clone();
                let service = service_fn(move |req| {
                    let (proxy, peer) = (proxy.clone(), peer.clone());
                    async move { Ok::<_, Infallible>(proxy.handle(req, peer).await) }
                });
                let (builder, watcher) = (builder.clone(), graceful.watcher());
                match &tls {
                    None => {
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                        let conn = watcher.watch(conn);
                        tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!(%client, error = %e, "connection ended with an error");
                            }
                            drop(open);
                        });
                    }
                    Some(acceptor) => {
                        let handshake = acceptor.accept(stream);
                        let timeout = opts.header_read_timeout;
                        tokio::spawn(async move {
                            let stream = match tokio::time::timeout(timeout, handshake).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => return tracing::debug!(%client, error = %e, "TLS handshake failed"),
                                Err(_) => return tracing::debug!(%client, "TLS handshake timed out"),
                            };
                            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                            if let Err(e) = watcher.watch(conn.into_owned()).await {
                                tracing::debug!(%client, error = %e, "connection ended with an error");
                            }
                            drop(open);
                        });
                    }
                }
            }
            () = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    tracing::info!(listener = ?local, "draining connections");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!(listener = ?local, "all connections drained"),
        _ = tokio::time::sleep(opts.shutdown_grace) => tracing::warn!(listener = ?local, "grace period over; closing remaining connections"),
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it here, not in a select.
    let _ = shutdown.wait_for(|stop| *stop).await;
}
