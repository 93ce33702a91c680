//! Body types on both sides of the proxy.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;

use super::filter::{FilteredRequest, FilteredResponse};
use super::intake::Inbound;
use super::pool::Checkout;

/// Errors of the bodies the gateway sends: the peer's, or a plugin's
/// decision to stop a body half-way.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the gateway answers with: the upstream's streamed body, or a small
/// local one (errors, redirects). An enum instead of a boxed body keeps the
/// hot path free of an allocation and a virtual call per frame.
pub enum ResponseBody {
    Upstream(UpstreamBody),
    Local(Full<Bytes>),
    /// Through the response body callbacks of a route's plugins.
    Filtered(Box<FilteredResponse>),
}

impl ResponseBody {
    pub fn local(text: impl Into<Bytes>) -> Self {
        ResponseBody::Local(Full::new(text.into()))
    }

    pub fn empty() -> Self {
        ResponseBody::Local(Full::new(Bytes::new()))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ResponseBody::Upstream(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            ResponseBody::Local(b) => {
                Pin::new(b).poll_frame(cx).map(|f| f.map(|r| Ok(r.unwrap_or_else(|e| match e {}))))
            }
            ResponseBody::Filtered(b) => Pin::new(&mut **b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Upstream(b) => b.is_end_stream(),
            ResponseBody::Local(b) => b.is_end_stream(),
            ResponseBody::Filtered(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Upstream(b) => b.size_hint(),
            ResponseBody::Local(b) => b.size_hint(),
            ResponseBody::Filtered(b) => b.size_hint(),
        }
    }
}

/// A client's request body as it goes upstream: as received, read whole
/// by the plugins, or streaming through their body callbacks.
pub enum ClientBody {
    Incoming(Inbound),
    Full(Full<Bytes>),
    Filtered(Box<FilteredRequest>),
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ClientBody::Incoming(b) => Pin::new(b).poll_frame(cx),
            ClientBody::Full(b) => Pin::new(b).poll_frame(cx).map(|f| f.map(|r| Ok(r.unwrap_or_else(|e| match e {})))),
            ClientBody::Filtered(b) => Pin::new(&mut **b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ClientBody::Incoming(b) => b.is_end_stream(),
            ClientBody::Full(b) => b.is_end_stream(),
            ClientBody::Filtered(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ClientBody::Incoming(b) => b.size_hint(),
            ClientBody::Full(b) => b.size_hint(),
            ClientBody::Filtered(b) => b.size_hint(),
        }
    }
}

/// The client's request body on its way upstream. It takes the body out of a
/// shared slot on first poll, so that when a connect attempt fails before
/// anything was sent, the untouched body can be reclaimed and the request
/// retried on another endpoint.
pub struct RequestBody {
    slot: Arc<Mutex<Option<ClientBody>>>,
    body: Option<ClientBody>,
    end_stream: bool,
    hint: SizeHint,
    /// Counts the bytes sent, for the request's metrics.
    sent: Option<Arc<AtomicU64>>,
}

impl RequestBody {
    /// Wraps a body; the returned handle reclaims it if it was never polled.
    pub fn new(body: ClientBody, sent: Option<Arc<AtomicU64>>) -> (Self, Reclaim) {
        let end_stream = body.is_end_stream();
        let hint = body.size_hint();
        let slot = Arc::new(Mutex::new(Some(body)));
        (Self { slot: slot.clone(), body: None, end_stream, hint, sent }, Reclaim(slot))
    }
}

/// Takes back a request body that was never sent.
pub struct Reclaim(Arc<Mutex<Option<ClientBody>>>);

impl Reclaim {
    pub fn take(self) -> Option<ClientBody> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.body.is_none() {
            this.body = this.slot.lock().ok().and_then(|mut slot| slot.take());
        }
        let frame = match this.body.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        };
        if let (Poll::Ready(Some(Ok(f))), Some(sent)) = (&frame, &this.sent)
            && let Some(data) = f.data_ref()
        {
            sent.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.end_stream
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

/// An upstream response body that gives its connection back to the pool
/// once read to the end (a body dropped half-way closes the connection:
/// the rest of the response would be read as the next one).
pub struct UpstreamBody {
    inner: Incoming,
    connection: Option<Checkout>,
}

impl UpstreamBody {
    pub fn new(inner: Incoming, connection: Checkout) -> Self {
        let mut body = Self { inner, connection: Some(connection) };
        if body.inner.is_end_stream() {
            body.release();
        }
        body
    }

    fn release(&mut self) {
        if let Some(c) = self.connection.take() {
            c.release();
        }
    }

    /// Keeps the connection out of the pool (it was upgraded).
    pub fn detach(&mut self) {
        self.connection = None;
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        // hyper stops polling once `is_end_stream` says so: release on the
        // last frame, not only on the end marker.
        if matches!(frame, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.release();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
