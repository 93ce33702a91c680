//! Request and response bodies through a route's plugins. Each direction
//! is read ahead until the plugins release some of it: a plugin that holds
//! the whole body back (a WAF) sees it before the upstream is even
//! contacted, and a body known whole gets an exact Content-Length. What
//! follows streams through the body callbacks frame by frame.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::body::{BoxError, ClientBody, ResponseBody, UpstreamBody};
use super::plugins;
use super::service::local_response;
use crate::wasm::chain::{BodyVerdict, PluginStream, Verdict};

/// A request's plugin contexts, shared by the handler and the bodies that
/// stream through them (all on one worker thread: the lock never waits).
pub struct Filtering {
    /// Out of the lock while the response headers callbacks wait on a
    /// plugin's call; a request body still streaming then passes unfiltered.
    stream: Option<PluginStream>,
    /// Why a plugin stopped the request body after it had started upstream.
    stopped: Option<BodyVerdict>,
}

pub type SharedStream = Arc<Mutex<Filtering>>;

pub fn share(stream: PluginStream) -> SharedStream {
    Arc::new(Mutex::new(Filtering { stream: Some(stream), stopped: None }))
}

/// Runs a piece of body through the plugins, if they are in the lock.
fn on_body(shared: &SharedStream, response: bool, chunk: Vec<u8>, end: bool) -> BodyVerdict {
    match lock(shared).stream.as_mut() {
        Some(s) => s.on_body(response, chunk, end),
        None => BodyVerdict::Pass(chunk),
    }
}

fn lock(shared: &SharedStream) -> MutexGuard<'_, Filtering> {
    // A panic elsewhere cannot leave the plugin state half-written: every
    // update is a single assignment.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ends the plugin contexts with the answer the client gets.
pub fn finish(shared: &SharedStream, answer: Response<ResponseBody>) -> Response<ResponseBody> {
    if let Some(s) = lock(shared).stream.as_mut() {
        s.finish(Some(answer.status().as_u16()));
    }
    answer
}

/// The answer for a body a plugin stopped, in the request direction.
fn request_stop(verdict: BodyVerdict) -> Response<ResponseBody> {
    match verdict {
        BodyVerdict::Respond(local) => plugins::local_answer(local),
        BodyVerdict::TooLarge => local_response(StatusCode::PAYLOAD_TOO_LARGE, "request body too large to inspect\n"),
        BodyVerdict::Failed | BodyVerdict::Pass(_) => {
            local_response(StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n")
        }
    }
}

/// The answer a plugin decided on while the request body streamed, if any.
pub fn stopped(shared: &SharedStream) -> Option<Response<ResponseBody>> {
    lock(shared).stopped.take().map(request_stop)
}

/// What reading ahead came to.
enum ReadAhead {
    /// The body ended: all of it, as the plugins left it.
    Whole(Vec<u8>),
    /// The plugins released these bytes; the rest is still to come.
    Started(Vec<u8>),
    Stopped(BodyVerdict),
}

/// Reads `body` through the body callbacks until something is released or
/// the body ends. `consumed` counts the bytes read.
async fn read_ahead<B>(
    shared: &SharedStream,
    response: bool,
    body: &mut B,
    consumed: &mut usize,
) -> Result<ReadAhead, B::Error>
where
    B: Body<Data = Bytes> + Unpin,
{
    loop {
        let (chunk, end) = match body.frame().await.transpose()? {
            None => (Vec::new(), true),
            Some(frame) => match frame.into_data() {
                Ok(data) => (data.to_vec(), body.is_end_stream()),
                // Trailers end the body; they are not forwarded (see README).
                Err(_) => (Vec::new(), true),
            },
        };
        *consumed += chunk.len();
        match on_body(shared, response, chunk, end) {
            BodyVerdict::Pass(out) if end => return Ok(ReadAhead::Whole(out)),
            BodyVerdict::Pass(out) if out.is_empty() => continue,
            BodyVerdict::Pass(out) => return Ok(ReadAhead::Started(out)),
            stop => return Ok(ReadAhead::Stopped(stop)),
        }
    }
}

/// Sets the length of a body known whole (a plugin may have changed it).
fn set_length(headers: &mut HeaderMap, len: usize) {
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
}

/// Runs the request body through the plugins as far as they hold it back;
/// returns the body to send upstream, or the answer a plugin decided on.
pub async fn request_body(
    shared: &SharedStream,
    mut body: Incoming,
    headers: &mut HeaderMap,
) -> Result<ClientBody, Response<ResponseBody>> {
    if body.is_end_stream() {
        return Ok(ClientBody::Incoming(body));
    }
    let mut consumed = 0;
    match read_ahead(shared, false, &mut body, &mut consumed).await {
        Err(e) => {
            tracing::debug!(error = %e, "client request body failed");
            Err(local_response(StatusCode::BAD_REQUEST, "bad request body\n"))
        }
        Ok(ReadAhead::Stopped(verdict)) => Err(request_stop(verdict)),
        Ok(ReadAhead::Whole(out)) => {
            set_length(headers, out.len());
            Ok(ClientBody::Full(Full::new(Bytes::from(out))))
        }
        Ok(ReadAhead::Started(out)) => {
            // A length the plugins already changed cannot be announced.
            if out.len() != consumed {
                headers.remove(header::CONTENT_LENGTH);
            }
            let pending = Some(Bytes::from(out));
            Ok(ClientBody::Filtered(Box::new(FilteredRequest {
                shared: shared.clone(),
                inner: body,
                pending,
                done: false,
            })))
        }
    }
}

/// The rest of a request body, through the request body callbacks.
pub struct FilteredRequest {
    shared: SharedStream,
    inner: Incoming,
    pending: Option<Bytes>,
    done: bool,
}

/// A body a plugin stopped half-way: the connection it was on is aborted.
#[derive(Debug, thiserror::Error)]
#[error("a plugin stopped the body")]
struct StoppedByPlugin;

/// Runs one frame of a streaming body through the callbacks.
fn filter_frame(
    shared: &SharedStream,
    response: bool,
    frame: Option<Frame<Bytes>>,
    end: bool,
) -> Result<Option<Frame<Bytes>>, BodyVerdict> {
    let chunk = match frame.map(Frame::into_data) {
        None => Vec::new(),
        Some(Ok(data)) => data.to_vec(),
        // Trailers pass as they are.
        Some(Err(trailers)) => return Ok(Some(trailers)),
    };
    match on_body(shared, response, chunk, end) {
        BodyVerdict::Pass(out) if out.is_empty() => Ok(None),
        BodyVerdict::Pass(out) => Ok(Some(Frame::data(Bytes::from(out)))),
        stop => Err(stop),
    }
}

impl Body for FilteredRequest {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(data) = this.pending.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        while !this.done {
            let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Some(Ok(frame)) => Some(frame),
                None => None,
            };
            this.done = frame.is_none() || this.inner.is_end_stream();
            match filter_frame(&this.shared, false, frame, this.done) {
                Ok(Some(frame)) => return Poll::Ready(Some(Ok(frame))),
                Ok(None) => continue,
                Err(stop) => {
                    this.done = true;
                    lock(&this.shared).stopped = Some(stop);
                    return Poll::Ready(Some(Err(StoppedByPlugin.into())));
                }
            }
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.pending.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Runs the response through the plugins: headers callbacks (last plugin
/// first), then the body as far as they hold it back. The plugin contexts
/// end when the client has the whole body, so `on_log` sees all of it.
pub async fn response(shared: SharedStream, resp: Response<UpstreamBody>) -> Response<ResponseBody> {
    let (mut parts, mut body) = resp.into_parts();
    let mut pairs = plugins::response_pairs(&parts);
    let Some(mut stream) = lock(&shared).stream.take() else {
        return Response::from_parts(parts, ResponseBody::Upstream(body));
    };
    let verdict = stream.on_response_headers(parts.status.as_u16(), &mut pairs).await;
    lock(&shared).stream = Some(stream);
    match verdict {
        Verdict::Continue { modified } => {
            if let Err(e) = modified.then(|| plugins::apply_response(&mut parts, pairs)).transpose() {
                tracing::warn!(error = %e, "plugin produced an invalid response");
                return finish(&shared, local_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"));
            }
        }
        Verdict::Respond(local) => return finish(&shared, plugins::local_answer(local)),
        Verdict::Failed => {
            return finish(&shared, local_response(StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n"));
        }
    }
    if body.is_end_stream() {
        let body = FilteredResponse { shared, source: ResponseBody::Upstream(body), pending: None, filtering: false };
        return Response::from_parts(parts, ResponseBody::Filtered(Box::new(body)));
    }
    let mut consumed = 0;
    let (source, pending, filtering) = match read_ahead(&shared, true, &mut body, &mut consumed).await {
        Err(e) => {
            tracing::warn!(error = %e, "upstream response body failed");
            return finish(&shared, local_response(StatusCode::BAD_GATEWAY, "bad gateway\n"));
        }
        Ok(ReadAhead::Stopped(verdict)) => {
            let answer = match verdict {
                BodyVerdict::Respond(local) => plugins::local_answer(local),
                _ => local_response(StatusCode::BAD_GATEWAY, "bad gateway\n"),
            };
            return finish(&shared, answer);
        }
        Ok(ReadAhead::Whole(out)) => {
            set_length(&mut parts.headers, out.len());
            (ResponseBody::local(out), None, false)
        }
        Ok(ReadAhead::Started(out)) => {
            if out.len() != consumed {
                parts.headers.remove(header::CONTENT_LENGTH);
            }
            (ResponseBody::Upstream(body), Some(Bytes::from(out)), true)
        }
    };
    let body = FilteredResponse { shared, source, pending, filtering };
    Response::from_parts(parts, ResponseBody::Filtered(Box::new(body)))
}

/// A response body on its way to the client with the plugin contexts of
/// its request, which end when it is dropped.
pub struct FilteredResponse {
    shared: SharedStream,
    source: ResponseBody,
    pending: Option<Bytes>,
    /// Whether frames from `source` still go through the body callbacks.
    filtering: bool,
}

impl Drop for FilteredResponse {
    fn drop(&mut self) {
        if let Some(s) = lock(&self.shared).stream.as_mut() {
            s.finish(None);
        }
    }
}

impl Body for FilteredResponse {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(data) = this.pending.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        loop {
            let frame = ready!(Pin::new(&mut this.source).poll_frame(cx)).transpose()?;
            if !this.filtering {
                return Poll::Ready(frame.map(Ok));
            }
            let end = frame.is_none() || this.source.is_end_stream();
            let last = frame.is_none();
            match filter_frame(&this.shared, true, frame, end) {
                Ok(Some(frame)) => {
                    this.filtering = !end;
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(None) if last || end => {
                    this.filtering = false;
                    if last {
                        return Poll::Ready(None);
                    }
                }
                Ok(None) => {}
                Err(stop) => {
                    // The status line is out: all that is left is to abort.
                    tracing::warn!(verdict = ?stop, "a plugin stopped a response that had started; aborting it");
                    this.filtering = false;
                    return Poll::Ready(Some(Err(StoppedByPlugin.into())));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && !self.filtering && self.source.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.filtering || self.pending.is_some() { SizeHint::default() } else { self.source.size_hint() }
    }
}
