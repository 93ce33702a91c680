//! OpenTelemetry tracing of requests, exported over OTLP and configured by
//! the standard environment variables (`OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`/`_ARG`).
//!
//! Spans are made with the OpenTelemetry API directly rather than through
//! `tracing` and a bridge layer: with tracing off there is no span, no
//! layer and no allocation on the request path — one `Option` check.

use std::net::SocketAddr;
use std::sync::Arc;

use http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, Span};

/// The live tracer, when tracing is on.
pub struct Tracing {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    propagator: TraceContextPropagator,
    /// Continue the trace of an incoming `traceparent` (else start a new
    /// one, linked to it).
    trust_incoming: bool,
}

impl std::fmt::Debug for Tracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracing")
    }
}

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up OTLP trace export: {0}")]
pub struct TraceError(String);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Tracing {
    /// Tracing as the environment asks for it: `None` when no OTLP endpoint
    /// is set. Must run inside the Tokio runtime that will export.
    pub fn from_env(trust_incoming: bool) -> Result<Option<Arc<Self>>, TraceError> {
        if env("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() && env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none() {
            return Ok(None);
        }
        let protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .unwrap_or_else(|| "http/protobuf".into());
        // The HTTP builder refuses `grpc` in the environment, so the
        // exporter is picked from the variable, not left to the builders.
        let exporter = match protocol.as_str() {
            "grpc" => opentelemetry_otlp::SpanExporter::builder().with_tonic().build(),
            "http/protobuf" => opentelemetry_otlp::SpanExporter::builder().with_http().build(),
            other => {
                return Err(TraceError(format!("OTEL_EXPORTER_OTLP_PROTOCOL {other:?}: use grpc or http/protobuf")));
            }
        }
        .map_err(|e| TraceError(e.to_string()))?;
        // The batch processor runs on the Tokio runtime (the thread-based one
        // cannot drive the HTTP exporter's async client).
        let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
        let mut resource = opentelemetry_sdk::Resource::builder();
        let named = env("OTEL_SERVICE_NAME").is_some()
            || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="));
        if !named {
            resource = resource.with_service_name("wasmgress");
        }
        let provider =
            SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource.build()).build();
        let tracer = provider.tracer("wasmgress");
        tracing::info!(%protocol, "OpenTelemetry tracing on");
        Ok(Some(Arc::new(Self { provider, tracer, propagator: TraceContextPropagator::new(), trust_incoming })))
    }

    /// The server span of a request, child of the incoming `traceparent`
    /// when trusted.
    /// Attributes are made only for a span the sampler kept: an unsampled
    /// request pays for ids and propagation, not for strings.
    pub fn server_span(
        &self,
        headers: &HeaderMap,
        name: &'static str,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Span {
        let incoming = self.propagator.extract(&HeaderExtractor(headers));
        let remote = incoming.span().span_context().clone();
        let builder = self.tracer.span_builder(name).with_kind(SpanKind::Server);
        let mut span = if self.trust_incoming || !remote.is_valid() {
            self.tracer.build_with_context(builder, &incoming)
        } else {
            let builder = builder.with_links(vec![Link::with_context(remote)]);
            self.tracer.build_with_context(builder, &Context::new())
        };
        if span.is_recording() {
            span.set_attributes(attributes());
        }
        span
    }

    /// A child span of `parent` (a plugin phase, an upstream request), with
    /// attributes if it is sampled.
    pub fn child(
        &self,
        parent: &SpanContext,
        name: &'static str,
        kind: SpanKind,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Span {
        let cx = Context::new().with_remote_span_context(parent.clone());
        let mut span = self.tracer.build_with_context(self.tracer.span_builder(name).with_kind(kind), &cx);
        if span.is_recording() {
            span.set_attributes(attributes());
        }
        span
    }

    /// Sets `traceparent` (and `tracestate`) for `span` on an outgoing
    /// request, replacing any copy the client sent.
    pub fn inject(&self, span: &SpanContext, headers: &mut HeaderMap) {
        headers.remove("traceparent");
        headers.remove("tracestate");
        let cx = Context::new().with_remote_span_context(span.clone());
        self.propagator.inject_context(&cx, &mut HeaderInjector(headers));
    }

    /// Exports what is buffered and stops.
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "trace export did not finish cleanly");
        }
    }
}

/// A request's place in its trace, for the spans of its plugins.
#[derive(Clone)]
pub struct TraceParent {
    pub tracing: Arc<Tracing>,
    pub span: SpanContext,
}

impl std::fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TraceParent({})", self.span.trace_id())
    }
}

impl TraceParent {
    pub fn trace_id(&self) -> String {
        self.span.trace_id().to_string()
    }

    /// `traceparent` (and `tracestate`) naming this span as the parent, for
    /// requests plugins send.
    pub fn propagation_headers(&self) -> Vec<(String, String)> {
        let mut headers = HeaderMap::new();
        self.tracing.inject(&self.span, &mut headers);
        headers.iter().filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))).collect()
    }

    /// The span of one plugin callback.
    pub fn plugin_span(&self, plugin: &str, phase: &'static str) -> Span {
        let attributes =
            || vec![KeyValue::new("wasmgress.plugin", plugin.to_string()), KeyValue::new("wasmgress.phase", phase)];
        self.tracing.child(&self.span, "plugin", SpanKind::Internal, attributes)
    }
}

/// The span of one upstream attempt (one endpoint tried), when tracing.
pub struct Attempt(Option<Span>);

impl Attempt {
    pub fn start(parent: Option<&TraceParent>, endpoint: SocketAddr, method: &http::Method) -> Self {
        Attempt(parent.map(|p| {
            let attributes = || {
                let mut attributes = endpoint_attributes(endpoint).to_vec();
                attributes.push(KeyValue::new("http.request.method", method.to_string()));
                attributes
            };
            p.tracing.child(&p.span, "upstream", SpanKind::Client, attributes)
        }))
    }

    /// Puts this attempt's `traceparent` on the request it sends.
    pub fn inject(&self, parent: Option<&TraceParent>, headers: &mut HeaderMap) {
        if let (Some(span), Some(p)) = (&self.0, parent) {
            p.tracing.inject(span.span_context(), headers);
        }
    }

    pub fn answered(self, status: u16) {
        if let Some(mut span) = self.0 {
            span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
            span.end();
        }
    }

    pub fn failed(self, why: &str) {
        if let Some(mut span) = self.0 {
            span.set_status(Status::error(why.to_string()));
            span.end();
        }
    }
}

/// Ends a plugin callback's span: its action, or why it failed (`trap`,
/// `deadline`, `memory`...), as an error.
pub fn end_plugin_span(span: &mut Span, outcome: Result<&'static str, &'static str>) {
    match outcome {
        Ok(action) => span.set_attribute(KeyValue::new("wasmgress.plugin.action", action)),
        Err(reason) => {
            span.set_attribute(KeyValue::new("wasmgress.plugin.failure", reason));
            span.set_status(Status::error(reason));
        }
    }
    span.end();
}

/// Ends a request's server span with its outcome.
pub fn end_server_span(span: &mut Span, status: u16) {
    span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
    if status >= 500 {
        span.set_status(Status::error(format!("HTTP {status}")));
    }
    span.end();
}

/// `server.address` / `server.port` of an upstream endpoint.
pub fn endpoint_attributes(endpoint: SocketAddr) -> [KeyValue; 2] {
    [
        KeyValue::new("server.address", endpoint.ip().to_string()),
        KeyValue::new("server.port", i64::from(endpoint.port())),
    ]
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value))
        {
            self.0.insert(name, value);
        }
    }
}
