//! Request and response bodies through a route's plugins. Each direction
//! is read ahead until the plugins release some of it: a plugin that holds
//! the whole body back (a WAF) sees it before the upstream is even
//! contacted, and a body known whole gets an exact Content-Length. What
//! follows streams through the body callbacks frame by frame.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};

use super::body::{BoxError, ClientBody, ResponseBody, UpstreamBody};
use super::intake::{self, Fault, Inbound};
use super::plugins;
use super::service::local_response;
use crate::wasm::chain::{BodyVerdict, PluginStream, Verdict};
use crate::wasm::headers::RequestHead;

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
    Whole(VecDeque<Frame<Bytes>>),
    /// The plugins released these frames; the rest is still to come.
    Started(VecDeque<Frame<Bytes>>),
    Stopped(BodyVerdict),
}

/// Runs one frame of a body (`None`: it ended without trailers) through
/// the plugins; returns what they let through. Trailers first end the body
/// for the body callbacks, releasing anything held, then go through the
/// trailers callbacks.
fn filter(
    shared: &SharedStream,
    response: bool,
    frame: Option<Frame<Bytes>>,
    end: bool,
) -> Result<VecDeque<Frame<Bytes>>, BodyVerdict> {
    let mut out = VecDeque::new();
    let (chunk, trailers) = match frame.map(Frame::into_data) {
        None => (Vec::new(), None),
        Some(Ok(data)) => (data.to_vec(), None),
        Some(Err(frame)) => (Vec::new(), frame.into_trailers().ok()),
    };
    match on_body(shared, response, chunk, end || trailers.is_some()) {
        BodyVerdict::Pass(data) if data.is_empty() => {}
        BodyVerdict::Pass(data) => out.push_back(Frame::data(Bytes::from(data))),
        stop => return Err(stop),
    }
    if let Some(trailers) = trailers {
        let (trailers, verdict) = match lock(shared).stream.as_mut() {
            Some(s) => s.on_trailers(response, trailers),
            None => (trailers, Verdict::Continue),
        };
        match verdict {
            Verdict::Continue => out.push_back(Frame::trailers(trailers)),
            Verdict::Respond(local) => return Err(BodyVerdict::Respond(local)),
            Verdict::Failed => return Err(BodyVerdict::Failed),
        }
    }
    Ok(out)
}

fn data_len(frames: &VecDeque<Frame<Bytes>>) -> usize {
    frames.iter().filter_map(Frame::data_ref).map(Bytes::len).sum()
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
        let frame = body.frame().await.transpose()?;
        let end = frame.as_ref().is_none_or(Frame::is_trailers) || body.is_end_stream();
        *consumed += frame.as_ref().and_then(Frame::data_ref).map_or(0, Bytes::len);
        match filter(shared, response, frame, end) {
            Ok(frames) if end => return Ok(ReadAhead::Whole(frames)),
            Ok(frames) if frames.is_empty() => continue,
            Ok(frames) => return Ok(ReadAhead::Started(frames)),
            Err(stop) => return Ok(ReadAhead::Stopped(stop)),
        }
    }
}

/// A body known whole: one data frame with an exact Content-Length, or,
/// with trailers, the frames as they are (chunked, no length).
fn whole(mut frames: VecDeque<Frame<Bytes>>, headers: &mut HeaderMap) -> Result<Bytes, VecDeque<Frame<Bytes>>> {
    if let Some(trailers) = frames.iter().find_map(Frame::trailers_ref) {
        headers.remove(header::CONTENT_LENGTH);
        // Declared, so that the next hop passes on what the plugins added.
        let names: Vec<&str> = trailers.keys().map(|n| n.as_str()).collect();
        if let Ok(declared) = HeaderValue::from_str(&names.join(", ")) {
            headers.insert(header::TRAILER, declared);
        }
        return Err(frames);
    }
    let data = match frames.len() {
        0 => Bytes::new(),
        1 => frames.pop_front().and_then(|f| f.into_data().ok()).unwrap_or_default(),
        _ => frames.into_iter().filter_map(|f| f.into_data().ok()).flatten().collect(),
    };
    // A body the plugins left at its declared length keeps its header (a
    // new value is an allocation a response).
    if !declares_length(headers, data.len()) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(data.len()));
    }
    Ok(data)
}

/// Whether `headers` declare exactly one Content-Length, of `len`.
fn declares_length(headers: &HeaderMap, len: usize) -> bool {
    let mut values = headers.get_all(header::CONTENT_LENGTH).iter();
    let first = values
        .next()
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<usize>().ok());
    first == Some(len) && values.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_is_kept_only_when_it_is_the_one_exact_value() {
        let with = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(header::CONTENT_LENGTH, HeaderValue::from_str(v).unwrap());
            }
            headers
        };
        assert!(declares_length(&with(&["5"]), 5));
        assert!(!declares_length(&with(&["6"]), 5));
        assert!(!declares_length(&with(&[]), 0));
        assert!(!declares_length(&with(&["5", "5"]), 5));
        assert!(!declares_length(&with(&["+5"]), 5));
        assert!(!declares_length(&with(&["5 "]), 5));
    }

    #[test]
    fn a_whole_body_gets_its_length_and_a_changed_one_a_new_length() {
        let frames = |b: &'static str| VecDeque::from([Frame::data(Bytes::from_static(b.as_bytes()))]);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        assert_eq!(whole(frames("hello"), &mut headers).unwrap(), "hello");
        assert_eq!(headers[header::CONTENT_LENGTH], "5");
        assert_eq!(whole(frames("hello, world"), &mut headers).unwrap(), "hello, world");
        assert_eq!(headers[header::CONTENT_LENGTH], "12");
        headers.remove(header::CONTENT_LENGTH);
        assert_eq!(whole(VecDeque::new(), &mut headers).unwrap(), "");
        assert_eq!(headers[header::CONTENT_LENGTH], "0");
    }
}

/// Runs the request body through the plugins as far as they hold it back;
/// returns the body to send upstream, or the answer a plugin decided on.
///
/// Until the body is released, the request has not gone upstream: body
/// callbacks may still change its headers, so they get the live `head`.
pub async fn request_body(
    shared: &SharedStream,
    body: Inbound,
    head: Box<RequestHead>,
) -> (Box<RequestHead>, Result<ClientBody, Response<ResponseBody>>) {
    if body.is_end_stream() {
        return (head, Ok(ClientBody::Incoming(body)));
    }
    let lent = match lock(shared).stream.as_mut() {
        Some(s) => {
            s.lend_request(head);
            None
        }
        None => Some(head),
    };
    let (head, result) = read_request_body(shared, body, lent).await;
    (head, result)
}

async fn read_request_body(
    shared: &SharedStream,
    mut body: Inbound,
    lent: Option<Box<RequestHead>>,
) -> (Box<RequestHead>, Result<ClientBody, Response<ResponseBody>>) {
    let mut consumed = 0;
    let read = read_ahead(shared, false, &mut body, &mut consumed).await;
    let mut head = lent
        .or_else(|| lock(shared).stream.as_mut().and_then(PluginStream::take_request))
        .unwrap_or_else(|| unreachable!("the head was lent to the stream"));
    let headers = &mut head.parts.headers;
    let rest = |pending, inner| FilteredRequest { shared: shared.clone(), inner, pending };
    let result = match read {
        Err(e) => {
            tracing::debug!(error = %e, "client request body failed");
            Err(intake::answer(body.fault().unwrap_or(Fault::Broken)))
        }
        Ok(ReadAhead::Stopped(verdict)) => Err(request_stop(verdict)),
        Ok(ReadAhead::Whole(frames)) => match whole(frames, headers) {
            Ok(data) => Ok(ClientBody::Full(Full::new(data))),
            Err(frames) => Ok(ClientBody::Filtered(Box::new(rest(frames, None)))),
        },
        Ok(ReadAhead::Started(frames)) => {
            // A length the plugins already changed cannot be announced.
            if data_len(&frames) != consumed {
                headers.remove(header::CONTENT_LENGTH);
            }
            Ok(ClientBody::Filtered(Box::new(rest(frames, Some(body)))))
        }
    };
    (head, result)
}

/// The rest of a request body, through the request body callbacks.
pub struct FilteredRequest {
    shared: SharedStream,
    /// `None` once the client's body has ended.
    inner: Option<Inbound>,
    pending: VecDeque<Frame<Bytes>>,
}

/// A body a plugin stopped half-way: the connection it was on is aborted.
#[derive(Debug, thiserror::Error)]
#[error("a plugin stopped the body")]
struct StoppedByPlugin;

impl Body for FilteredRequest {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if let Some(frame) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
            let frame = match ready!(Pin::new(&mut *inner).poll_frame(cx)) {
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(frame)) => Some(frame),
                None => None,
            };
            let end = frame.as_ref().is_none_or(Frame::is_trailers) || inner.is_end_stream();
            if end {
                this.inner = None;
            }
            match filter(&this.shared, false, frame, end) {
                Ok(frames) => this.pending = frames,
                Err(stop) => {
                    this.inner = None;
                    lock(&this.shared).stopped = Some(stop);
                    return Poll::Ready(Some(Err(StoppedByPlugin.into())));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_none() && self.pending.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Runs the response through the plugins: headers callbacks (last plugin
/// first), then the body as far as they hold it back. The plugin contexts
/// end when the client has the whole body, so `on_log` sees all of it.
pub async fn response(shared: SharedStream, resp: Response<UpstreamBody>) -> Response<ResponseBody> {
    let (parts, mut body) = resp.into_parts();
    let Some(mut stream) = lock(&shared).stream.take() else {
        return Response::from_parts(parts, ResponseBody::Upstream(body));
    };
    if !stream.wants_response() {
        // No plugin of the route looks at responses: this one streams
        // straight through, and the contexts end with it.
        stream.response_status(parts.status.as_u16());
        lock(&shared).stream = Some(stream);
        return unfiltered(shared, parts, body);
    }
    let (parts, verdict) = stream.on_response_headers(Box::new(parts), body.is_end_stream()).await;
    let mut parts = *parts;
    lock(&shared).stream = Some(stream);
    match verdict {
        Verdict::Continue => {}
        Verdict::Respond(local) => return finish(&shared, plugins::local_answer(local)),
        Verdict::Failed => {
            return finish(&shared, local_response(StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n"));
        }
    }
    if body.is_end_stream() {
        return unfiltered(shared, parts, body);
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
        Ok(ReadAhead::Whole(frames)) => match whole(frames, &mut parts.headers) {
            Ok(data) => (ResponseBody::local(data), VecDeque::new(), false),
            Err(frames) => (ResponseBody::empty(), frames, false),
        },
        Ok(ReadAhead::Started(frames)) => {
            if data_len(&frames) != consumed {
                parts.headers.remove(header::CONTENT_LENGTH);
            }
            (ResponseBody::Upstream(body), frames, true)
        }
    };
    let body = FilteredResponse { shared, source, pending, filtering };
    Response::from_parts(parts, ResponseBody::Filtered(Box::new(body)))
}

/// `body` as the upstream sends it, with the plugin contexts ending once
/// it has gone out.
fn unfiltered(shared: SharedStream, parts: http::response::Parts, body: UpstreamBody) -> Response<ResponseBody> {
    let body =
        FilteredResponse { shared, source: ResponseBody::Upstream(body), pending: VecDeque::new(), filtering: false };
    Response::from_parts(parts, ResponseBody::Filtered(Box::new(body)))
}

/// A response body on its way to the client with the plugin contexts of
/// its request, which end when it is dropped.
pub struct FilteredResponse {
    shared: SharedStream,
    source: ResponseBody,
    /// Frames ready to go before anything more is read from `source`.
    pending: VecDeque<Frame<Bytes>>,
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
        loop {
            if let Some(frame) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            let frame = ready!(Pin::new(&mut this.source).poll_frame(cx)).transpose()?;
            if !this.filtering {
                return Poll::Ready(frame.map(Ok));
            }
            let last = frame.is_none();
            let end = frame.as_ref().is_none_or(Frame::is_trailers) || this.source.is_end_stream();
            this.filtering = !end;
            match filter(&this.shared, true, frame, end) {
                Ok(frames) => this.pending = frames,
                Err(stop) => {
                    // The status line is out: all that is left is to abort.
                    tracing::warn!(verdict = ?stop, "a plugin stopped a response that had started; aborting it");
                    this.filtering = false;
                    return Poll::Ready(Some(Err(StoppedByPlugin.into())));
                }
            }
            if last && this.pending.is_empty() {
                return Poll::Ready(None);
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && !self.filtering && self.source.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.filtering || !self.pending.is_empty() { SizeHint::default() } else { self.source.size_hint() }
    }
}
