//! An OTLP trace receiver for asserting span contents: it speaks both
//! transports the gateway can export over — `http/protobuf` (`POST
//! /v1/traces`) and gRPC (`TraceService/Export` over h2c, with gRPC's
//! length-prefixed messages and `grpc-status` trailers) — on one port,
//! and decodes the spans with the OpenTelemetry protobuf definitions.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use tokio::net::TcpListener;

/// One received span, with its resource's attributes and how it came.
#[derive(Debug, Clone)]
pub struct Received {
    pub span: opentelemetry_proto::tonic::trace::v1::Span,
    pub resource: Vec<KeyValue>,
    /// `grpc` or `http/protobuf`.
    pub transport: &'static str,
}

impl Received {
    pub fn attr(&self, key: &str) -> Option<String> {
        attribute(&self.span.attributes, key)
    }

    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An attribute's value as text (numbers and booleans too).
pub fn attribute(attrs: &[KeyValue], key: &str) -> Option<String> {
    let value = attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()?;
    Some(match value {
        AnyValue::StringValue(s) => s.clone(),
        AnyValue::IntValue(i) => i.to_string(),
        AnyValue::BoolValue(b) => b.to_string(),
        AnyValue::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    })
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
}

type Body = BoxBody<Bytes, Infallible>;

impl Receiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the OTLP receiver");
        let receiver = Receiver { addr: listener.local_addr().unwrap(), spans: Arc::default() };
        let r = receiver.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let r = r.clone();
                let svc = service_fn(move |req| {
                    let r = r.clone();
                    async move { Ok::<_, Infallible>(r.handle(req).await) }
                });
                tokio::spawn(
                    auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), svc).into_owned(),
                );
            }
        });
        receiver
    }

    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    fn store(&self, request: ExportTraceServiceRequest, transport: &'static str) {
        let mut spans = self.spans.lock().unwrap();
        for rs in request.resource_spans {
            let resource = rs.resource.map(|r| r.attributes).unwrap_or_default();
            for ss in rs.scope_spans {
                for span in ss.spans {
                    spans.push(Received { span, resource: resource.clone(), transport });
                }
            }
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_string();
        let grpc = req.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        let gzipped = req.headers().get("content-encoding").is_some_and(|v| v == "gzip");
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let body = if gzipped { gunzip(&body).unwrap_or_default() } else { body };
        match (path.as_str(), grpc) {
            ("/v1/traces", false) => match ExportTraceServiceRequest::decode(body) {
                Ok(request) => {
                    self.store(request, "http/protobuf");
                    let reply = ExportTraceServiceResponse::default().encode_to_vec();
                    let mut resp = Response::new(Full::new(Bytes::from(reply)).boxed());
                    resp.headers_mut().insert("content-type", "application/x-protobuf".parse().unwrap());
                    resp
                }
                Err(_) => status(StatusCode::BAD_REQUEST),
            },
            ("/opentelemetry.proto.collector.trace.v1.TraceService/Export", true) => {
                // One length-prefixed message: a compressed flag (gzip, the
                // only encoding collectors use), a 4-byte length.
                let message = (body.len() >= 5 && body[0] <= 1)
                    .then(|| u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize)
                    .filter(|len| body.len() == 5 + len)
                    .and_then(|_| if body[0] == 1 { gunzip(&body[5..]) } else { Some(body.slice(5..)) })
                    .and_then(|m| ExportTraceServiceRequest::decode(m).ok());
                let (code, message) = match message {
                    Some(request) => {
                        self.store(request, "grpc");
                        ("0", "")
                    }
                    None => ("13", "bad message"),
                };
                let reply = ExportTraceServiceResponse::default().encode_to_vec();
                let mut framed = BytesMut::with_capacity(5 + reply.len());
                framed.put_u8(0);
                framed.put_u32(reply.len() as u32);
                framed.put_slice(&reply);
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", code.parse().unwrap());
                if !message.is_empty() {
                    trailers.insert("grpc-message", message.parse().unwrap());
                }
                let frames = vec![Ok(Frame::data(framed.freeze())), Ok(Frame::trailers(trailers))];
                let mut resp = Response::new(StreamBody::new(futures_util::stream::iter(frames)).boxed());
                resp.headers_mut().insert("content-type", "application/grpc".parse().unwrap());
                resp
            }
            _ => status(StatusCode::NOT_FOUND),
        }
    }
}

fn gunzip(data: &[u8]) -> Option<Bytes> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).ok()?;
    Some(Bytes::from(out))
}

fn status(code: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::new()).boxed());
    *resp.status_mut() = code;
    resp
}
