//! Thread-per-core serving: each worker thread runs its own single-threaded
//! runtime with its own listening socket (SO_REUSEPORT: the kernel spreads
//! connections) and its own upstream pool, so a request never crosses
//! threads — the model of nginx's worker processes.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{Semaphore, oneshot, watch};

use super::server::{self, ListenerOptions};
use super::{Proxy, ProxyOptions};
use crate::routing::RouteTable;

/// Binds `count` sockets to one address with SO_REUSEPORT. With port 0 the
/// first bind picks the port and the others share it.
pub fn bind_reuseport(addr: SocketAddr, count: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut out = Vec::with_capacity(count);
    let mut addr = addr;
    for _ in 0..count.max(1) {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(4096)?;
        let listener: std::net::TcpListener = socket.into();
        addr = listener.local_addr()?;
        out.push(listener);
    }
    Ok(out)
}

/// Starts one worker thread per plain listener; worker `i` also serves
/// `https[i]` with `tls`, when given. Each returned receiver completes
/// when its worker has drained after `shutdown`.
pub fn spawn(
    listeners: Vec<std::net::TcpListener>,
    https: Vec<std::net::TcpListener>,
    tls: Option<Arc<rustls::ServerConfig>>,
    routes: Arc<ArcSwap<RouteTable>>,
    proxy: ProxyOptions,
    opts: ListenerOptions,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<Vec<oneshot::Receiver<()>>> {
    let mut done = Vec::with_capacity(listeners.len());
    // One bound per listening address, shared by the workers' sockets.
    let plain_slots = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let secure_slots = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let mut https = https.into_iter();
    for (i, listener) in listeners.into_iter().enumerate() {
        let (tx, rx) = oneshot::channel();
        let (routes, proxy, opts, shutdown) = (routes.clone(), proxy.clone(), opts.clone(), shutdown.clone());
        let (plain_slots, secure_slots) = (plain_slots.clone(), secure_slots.clone());
        let secure = https.next().zip(tls.clone());
        std::thread::Builder::new().name(format!("wasmgress-worker-{i}")).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(worker = i, error = %e, "cannot start a worker runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                let proxy = Arc::new(Proxy::new(routes, proxy));
                let plain = async {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => {
                            server::serve(l, proxy.clone(), opts.clone(), None, plain_slots, shutdown.clone()).await
                        }
                        Err(e) => tracing::error!(worker = i, error = %e, "cannot register the listener"),
                    }
                };
                let secure = async {
                    let Some((listener, config)) = secure else { return };
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(config);
                            server::serve(
                                l,
                                proxy.clone(),
                                opts.clone(),
                                Some(acceptor),
                                secure_slots,
                                shutdown.clone(),
                            )
                            .await
                        }
                        Err(e) => tracing::error!(worker = i, error = %e, "cannot register the HTTPS listener"),
                    }
                };
                tokio::join!(plain, secure);
            });
            let _ = tx.send(());
        })?;
        done.push(rx);
    }
    Ok(done)
}
