//! Upstream connections, kept alive and reused per endpoint: HTTP/1.1 over
//! TCP or TLS (one request at a time per connection, idle ones pooled) and
//! HTTP/2 over TCP (one multiplexed connection per endpoint). One pool per
//! worker thread, so checkout never contends: the lock is only there
//! because futures must be Send.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::body::RequestBody;
use super::tls_client::UpstreamTls;

/// How the gateway speaks to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// HTTP/1.1 over TCP.
    H1,
    /// HTTP/1.1 over TLS; `verify: false` accepts any certificate.
    H1Tls { verify: bool },
    /// HTTP/2 over TCP, prior knowledge (h2c, gRPC).
    H2c,
}

/// One upstream to connect to: an endpoint, how, and for TLS the name sent
/// as SNI and checked in the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub endpoint: SocketAddr,
    pub wire: Wire,
    pub server_name: Option<Arc<str>>,
}

/// A connection's request handle.
pub enum Sender {
    H1(http1::SendRequest<RequestBody>),
    H2(http2::SendRequest<RequestBody>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    async fn ready(&mut self) -> bool {
        match self {
            Sender::H1(s) => s.is_ready() || s.ready().await.is_ok(),
            Sender::H2(s) => s.is_ready() || s.ready().await.is_ok(),
        }
    }

    /// Sends a request; when it could not be sent, the error gives it back.
    pub async fn try_send_request(
        &mut self,
        req: Request<RequestBody>,
    ) -> Result<Response<Incoming>, TrySendError<Request<RequestBody>>> {
        match self {
            Sender::H1(s) => s.try_send_request(req).await,
            Sender::H2(s) => s.try_send_request(req).await,
        }
    }
}

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connect timed out")]
    Timeout,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("handshake failed: {0}")]
    Handshake(#[from] hyper::Error),
}

struct Idle {
    sender: http1::SendRequest<RequestBody>,
    since: Instant,
}

/// Idle HTTP/1.1 connections and shared HTTP/2 ones, by target.
pub struct ConnPool {
    idle: Mutex<HashMap<Target, Vec<Idle>>>,
    h2: Mutex<HashMap<Target, http2::SendRequest<RequestBody>>>,
    /// HTTP/1.1 connections busy with a request, bounded per target: a
    /// burst of clients queues here instead of opening a connection (and a
    /// file descriptor) each.
    busy: Mutex<HashMap<Target, Arc<Semaphore>>>,
    max_busy_per_endpoint: usize,
    tls: UpstreamTls,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle_per_endpoint: usize,
}

/// A connection's driver, whatever it runs over.
type ConnTask = std::pin::Pin<Box<dyn std::future::Future<Output = hyper::Result<()>> + Send>>;

/// A connection checked out of the pool, for one request. Give it back with
/// [`Checkout::release`] once the response body has been read to its end.
pub struct Checkout {
    pub sender: Sender,
    pub target: Target,
    /// Whether the connection served a request before: a reused connection
    /// may have been closed by the upstream while idle.
    pub reused: bool,
    pool: Arc<ConnPool>,
    /// The target's busy slot this HTTP/1.1 connection holds until released.
    _busy: Option<OwnedSemaphorePermit>,
}

impl Checkout {
    /// Returns the connection to the pool.
    pub fn release(self) {
        // HTTP/2 connections stay shared in the pool; nothing to give back.
        if let Sender::H1(sender) = self.sender {
            self.pool.put(self.target, sender);
        }
    }
}

impl ConnPool {
    pub fn new(
        connect_timeout: Duration,
        idle_timeout: Duration,
        max_busy_per_endpoint: usize,
        tls: UpstreamTls,
    ) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(HashMap::new()),
            h2: Mutex::new(HashMap::new()),
            busy: Mutex::new(HashMap::new()),
            max_busy_per_endpoint: max_busy_per_endpoint.max(1),
            tls,
            connect_timeout,
            idle_timeout,
            max_idle_per_endpoint: 256,
        })
    }

    /// An open connection to `target`: an idle or shared one, or a new one.
    /// An HTTP/1.1 target with all its connections busy is waited for.
    pub async fn checkout(self: &Arc<Self>, target: &Target) -> Result<Checkout, ConnectError> {
        if target.wire == Wire::H2c {
            let shared = self.h2.lock().ok().and_then(|m| m.get(target).cloned());
            if let Some(sender) = shared {
                let mut sender = Sender::H2(sender);
                if !sender.is_closed() && sender.ready().await {
                    return Ok(self.checked_out(sender, target, true, None));
                }
            }
            let sender = self.connect_h2(target).await?;
            if let Ok(mut m) = self.h2.lock() {
                m.insert(target.clone(), sender.clone());
                // Forget endpoints whose connection closed (pods that went away).
                if m.len() > 64 {
                    m.retain(|_, s| !s.is_closed());
                }
            }
            return Ok(self.checked_out(Sender::H2(sender), target, false, None));
        }
        let busy = self.busy_slot(target).await;
        while let Some(idle) = self.take_idle(target) {
            if idle.sender.is_closed() || idle.since.elapsed() > self.idle_timeout {
                continue;
            }
            // The connection task may not have noticed the end of the last
            // response yet; `ready` waits for that, or fails if it closed.
            let mut sender = Sender::H1(idle.sender);
            if sender.ready().await {
                return Ok(self.checked_out(sender, target, true, busy));
            }
        }
        let sender = self.connect_h1(target).await?;
        Ok(self.checked_out(Sender::H1(sender), target, false, busy))
    }

    fn checked_out(
        self: &Arc<Self>,
        sender: Sender,
        target: &Target,
        reused: bool,
        busy: Option<OwnedSemaphorePermit>,
    ) -> Checkout {
        Checkout { sender, target: target.clone(), reused, pool: self.clone(), _busy: busy }
    }

    /// Waits for one of `target`'s busy slots.
    async fn busy_slot(&self, target: &Target) -> Option<OwnedSemaphorePermit> {
        let slots = {
            let mut busy = self.busy.lock().ok()?;
            // Forget targets with nothing in flight (pods that went away).
            if busy.len() > 64 {
                busy.retain(|_, s| s.available_permits() < self.max_busy_per_endpoint);
            }
            busy.entry(target.clone()).or_insert_with(|| Arc::new(Semaphore::new(self.max_busy_per_endpoint))).clone()
        };
        slots.acquire_owned().await.ok()
    }

    fn take_idle(&self, target: &Target) -> Option<Idle> {
        self.idle.lock().ok()?.get_mut(target)?.pop()
    }

    async fn tcp(&self, endpoint: SocketAddr) -> Result<TcpStream, ConnectError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(endpoint))
            .await
            .map_err(|_| ConnectError::Timeout)??;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn connect_h1(&self, target: &Target) -> Result<http1::SendRequest<RequestBody>, ConnectError> {
        let endpoint = target.endpoint;
        let tcp = self.tcp(endpoint).await?;
        let (sender, conn) = match target.wire {
            Wire::H1Tls { verify } => {
                let name = target.server_name.as_deref().unwrap_or_default();
                let name = ServerName::try_from(name.to_string()).map_err(|e| ConnectError::Tls(e.to_string()))?;
                let connector = TlsConnector::from(self.tls.config(verify));
                let handshake = connector.connect(name, tcp);
                let tls = tokio::time::timeout(self.connect_timeout, handshake)
                    .await
                    .map_err(|_| ConnectError::Timeout)?
                    .map_err(|e| ConnectError::Tls(e.to_string()))?;
                let (sender, conn) = http1::Builder::new().handshake(TokioIo::new(tls)).await?;
                (sender, Box::pin(conn.with_upgrades()) as ConnTask)
            }
            _ => {
                let (sender, conn) = http1::Builder::new().handshake(TokioIo::new(tcp)).await?;
                (sender, Box::pin(conn.with_upgrades()) as ConnTask)
            }
        };
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%endpoint, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    async fn connect_h2(&self, target: &Target) -> Result<http2::SendRequest<RequestBody>, ConnectError> {
        let endpoint = target.endpoint;
        let tcp = self.tcp(endpoint).await?;
        let (sender, conn) = http2::Builder::new(TokioExecutor::new()).handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%endpoint, error = %e, "upstream HTTP/2 connection ended with an error");
            }
        });
        Ok(sender)
    }

    fn put(&self, target: Target, sender: http1::SendRequest<RequestBody>) {
        if sender.is_closed() {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else { return };
        let list = idle.entry(target).or_default();
        // Connections idle past the timeout are closed, not only skipped
        // when taken: after a burst, the ones at the bottom of the stack
        // would otherwise stay open (with their buffers) for good. The list
        // is oldest first, so they are a prefix.
        let expired = list.partition_point(|i| i.since.elapsed() > self.idle_timeout);
        list.drain(..expired);
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
