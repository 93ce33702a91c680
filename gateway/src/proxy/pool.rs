//! Upstream HTTP/1.1 connections, kept alive and reused per endpoint. One
//! pool per worker thread, so checkout never contends: the lock is only
//! there because futures must be Send.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::body::RequestBody;

/// A connection's request handle.
pub type Sender = http1::SendRequest<RequestBody>;

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connect timed out")]
    Timeout,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("handshake failed: {0}")]
    Handshake(#[from] hyper::Error),
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// Idle connections by endpoint.
pub struct ConnPool {
    idle: Mutex<HashMap<SocketAddr, Vec<Idle>>>,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle_per_endpoint: usize,
}

/// A connection checked out of the pool, for one request. Give it back with
/// [`Checkout::release`] once the response body has been read to its end.
pub struct Checkout {
    pub sender: Sender,
    pub endpoint: SocketAddr,
    /// Whether the connection served a request before: a reused connection
    /// may have been closed by the upstream while idle.
    pub reused: bool,
    pool: Arc<ConnPool>,
}

impl Checkout {
    /// Returns the connection to the pool.
    pub fn release(self) {
        self.pool.put(self.endpoint, self.sender);
    }
}

impl ConnPool {
    pub fn new(connect_timeout: Duration, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self { idle: Mutex::new(HashMap::new()), connect_timeout, idle_timeout, max_idle_per_endpoint: 256 })
    }

    /// An idle connection to `endpoint` that is still open, or a new one.
    pub async fn checkout(self: &Arc<Self>, endpoint: SocketAddr) -> Result<Checkout, ConnectError> {
        while let Some(mut idle) = self.take_idle(endpoint) {
            if idle.sender.is_closed() || idle.since.elapsed() > self.idle_timeout {
                continue;
            }
            // The connection task may not have noticed the end of the last
            // response yet; `ready` waits for that, or fails if it closed.
            if idle.sender.is_ready() || idle.sender.ready().await.is_ok() {
                return Ok(Checkout { sender: idle.sender, endpoint, reused: true, pool: self.clone() });
            }
        }
        let sender = self.connect(endpoint).await?;
        Ok(Checkout { sender, endpoint, reused: false, pool: self.clone() })
    }

    fn take_idle(&self, endpoint: SocketAddr) -> Option<Idle> {
        self.idle.lock().ok()?.get_mut(&endpoint)?.pop()
    }

    async fn connect(&self, endpoint: SocketAddr) -> Result<Sender, ConnectError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(endpoint))
            .await
            .map_err(|_| ConnectError::Timeout)??;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::Builder::new().handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(%endpoint, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    fn put(&self, endpoint: SocketAddr, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else { return };
        let list = idle.entry(endpoint).or_default();
        if list.len() < self.max_idle_per_endpoint {
            list.push(Idle { sender, since: Instant::now() });
        }
        // Forget endpoints whose connections all closed (pods that went away).
        if idle.len() > 64 {
            idle.retain(|_, list| {
                list.retain(|i| !i.sender.is_closed());
                !list.is_empty()
            });
        }
    }
}
