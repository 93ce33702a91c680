//! The gateway's own Prometheus metrics. Each route holds the cells of its
//! (ingress, service) pair, fetched once per configuration, so a request
//! updates a few atomics and never looks anything up. Cells live for the
//! process: counters keep counting across reloads, as Prometheus expects.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Upper bounds of the duration histograms, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Methods counted by name; anything else is `OTHER`, so a client cannot
/// grow the label set.
const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"];

/// A cumulative histogram of durations.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// The counters of one (ingress, service) pair.
#[derive(Default)]
pub struct RouteMetrics {
    /// By method index and status class (1xx…5xx).
    requests: [[AtomicU64; 5]; METHODS.len()],
    /// Until the response's last byte.
    pub duration: Histogram,
    /// Until the upstream's response headers.
    pub upstream: Histogram,
    request_bytes: AtomicU64,
    response_bytes: AtomicU64,
}

impl std::fmt::Debug for RouteMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteMetrics")
    }
}

impl RouteMetrics {
    /// One finished request.
    pub fn record(&self, method: &http::Method, status: u16, duration: Duration, bytes_in: u64, bytes_out: u64) {
        let m = METHODS.iter().position(|m| *m == method.as_str()).unwrap_or(METHODS.len() - 1);
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.requests[m][class].fetch_add(1, Ordering::Relaxed);
        self.duration.observe(duration);
        self.request_bytes.fetch_add(bytes_in, Ordering::Relaxed);
        self.response_bytes.fetch_add(bytes_out, Ordering::Relaxed);
    }
}

type Cells = BTreeMap<(String, String), Arc<RouteMetrics>>;

fn cells() -> &'static Mutex<Cells> {
    static CELLS: OnceLock<Mutex<Cells>> = OnceLock::new();
    CELLS.get_or_init(Default::default)
}

/// The cells of requests to `service` through `ingress` (both
/// `namespace/name`; empty for requests that matched no route).
pub fn route(ingress: &str, service: &str) -> Arc<RouteMetrics> {
    let mut cells = cells().lock().unwrap_or_else(|e| e.into_inner());
    cells.entry((ingress.to_string(), service.to_string())).or_default().clone()
}

/// The Proxy-Wasm callbacks a request runs through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    RequestHeaders,
    RequestBody,
    RequestTrailers,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
    HttpCallResponse,
    Log,
}

impl Phase {
    const ALL: [Phase; 8] = [
        Phase::RequestHeaders,
        Phase::RequestBody,
        Phase::RequestTrailers,
        Phase::ResponseHeaders,
        Phase::ResponseBody,
        Phase::ResponseTrailers,
        Phase::HttpCallResponse,
        Phase::Log,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::RequestHeaders => "request_headers",
            Phase::RequestBody => "request_body",
            Phase::RequestTrailers => "request_trailers",
            Phase::ResponseHeaders => "response_headers",
            Phase::ResponseBody => "response_body",
            Phase::ResponseTrailers => "response_trailers",
            Phase::HttpCallResponse => "http_call_response",
            Phase::Log => "log",
        }
    }
}

/// Callback durations of one plugin, by phase.
#[derive(Default)]
pub struct PluginMetrics {
    phases: [Histogram; 8],
}

impl std::fmt::Debug for PluginMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluginMetrics")
    }
}

impl PluginMetrics {
    pub fn observe(&self, phase: Phase, d: Duration) {
        self.phases[phase as usize].observe(d);
    }
}

fn plugin_cells() -> &'static Mutex<BTreeMap<String, Arc<PluginMetrics>>> {
    static CELLS: OnceLock<Mutex<BTreeMap<String, Arc<PluginMetrics>>>> = OnceLock::new();
    CELLS.get_or_init(Default::default)
}

/// The callback durations of plugin `name`, shared by all its specs.
pub fn plugin(name: &str) -> Arc<PluginMetrics> {
    let mut cells = plugin_cells().lock().unwrap_or_else(|e| e.into_inner());
    cells.entry(name.to_string()).or_default().clone()
}

/// Open client connections, by listener.
static CONNECTIONS: [AtomicI64; 2] = [AtomicI64::new(0), AtomicI64::new(0)];
/// Times a listener's connection limit held a connection back, by listener.
static CONNECTION_LIMIT_REACHED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static RELOADS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static ROUTE_RULES: AtomicU64 = AtomicU64::new(0);
static LAST_RELOAD: AtomicU64 = AtomicU64::new(0);

/// Counts an open connection until the guard is dropped.
pub struct ConnectionGuard(usize);

pub fn connection_opened(tls: bool) -> ConnectionGuard {
    let i = usize::from(tls);
    CONNECTIONS[i].fetch_add(1, Ordering::Relaxed);
    ConnectionGuard(i)
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        CONNECTIONS[self.0].fetch_sub(1, Ordering::Relaxed);
    }
}

/// A listener's connection limit held a new connection back.
pub fn connection_limit_reached(tls: bool) {
    CONNECTION_LIMIT_REACHED[usize::from(tls)].fetch_add(1, Ordering::Relaxed);
}

/// A configuration was applied: `clean` when no object was rejected.
pub fn reloaded(clean: bool, rules: usize) {
    RELOADS[usize::from(!clean)].fetch_add(1, Ordering::Relaxed);
    ROUTE_RULES.store(rules as u64, Ordering::Relaxed);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    LAST_RELOAD.store(now.as_secs(), Ordering::Relaxed);
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The Prometheus text exposition of everything above.
pub fn render(out: &mut String) {
    out.push_str("# HELP wasmgress_requests_total Requests answered, by Ingress, Service, method and status class.\n# TYPE wasmgress_requests_total counter\n");
    let cells: Vec<((String, String), Arc<RouteMetrics>)> = {
        let cells = cells().lock().unwrap_or_else(|e| e.into_inner());
        cells.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let labels = |(ingress, service): &(String, String)| {
        format!("ingress=\"{}\",service=\"{}\"", escape(ingress), escape(service))
    };
    for (key, cell) in &cells {
        for (m, by_class) in METHODS.iter().zip(&cell.requests) {
            for (class, n) in by_class.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "wasmgress_requests_total{{{},method=\"{m}\",status=\"{}xx\"}} {n}",
                        labels(key),
                        class + 1
                    );
                }
            }
        }
    }
    out.push_str("# HELP wasmgress_request_duration_seconds From the request's arrival to its response's last byte.\n# TYPE wasmgress_request_duration_seconds histogram\n");
    for (key, cell) in &cells {
        cell.duration.render(out, "wasmgress_request_duration_seconds", &labels(key));
    }
    out.push_str("# HELP wasmgress_upstream_duration_seconds From sending a request upstream to its response headers.\n# TYPE wasmgress_upstream_duration_seconds histogram\n");
    for (key, cell) in cells.iter().filter(|(_, c)| c.upstream.count.load(Ordering::Relaxed) > 0) {
        cell.upstream.render(out, "wasmgress_upstream_duration_seconds", &labels(key));
    }
    for (name, help, pick) in [
        ("wasmgress_request_body_bytes_total", "Request body bytes sent upstream.", 0),
        ("wasmgress_response_body_bytes_total", "Response body bytes sent to clients.", 1),
    ] {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n");
        for (key, cell) in &cells {
            let n = if pick == 0 { &cell.request_bytes } else { &cell.response_bytes };
            let _ = writeln!(out, "{name}{{{}}} {}", labels(key), n.load(Ordering::Relaxed));
        }
    }
    out.push_str("# HELP wasmgress_plugin_callback_duration_seconds Time in one plugin callback, by plugin and phase.\n# TYPE wasmgress_plugin_callback_duration_seconds histogram\n");
    let plugins: Vec<(String, Arc<PluginMetrics>)> = {
        let cells = plugin_cells().lock().unwrap_or_else(|e| e.into_inner());
        cells.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    for (name, cell) in &plugins {
        for phase in Phase::ALL {
            let h = &cell.phases[phase as usize];
            if h.count.load(Ordering::Relaxed) > 0 {
                let labels = format!("plugin=\"{}\",phase=\"{}\"", escape(name), phase.as_str());
                h.render(out, "wasmgress_plugin_callback_duration_seconds", &labels);
            }
        }
    }
    out.push_str(
        "# HELP wasmgress_active_connections Open client connections.\n# TYPE wasmgress_active_connections gauge\n",
    );
    for (listener, n) in ["http", "https"].iter().zip(&CONNECTIONS) {
        let _ = writeln!(out, "wasmgress_active_connections{{listener=\"{listener}\"}} {}", n.load(Ordering::Relaxed));
    }
    out.push_str("# HELP wasmgress_connection_limit_reached_total Times a new connection had to wait for a free slot.\n# TYPE wasmgress_connection_limit_reached_total counter\n");
    for (listener, n) in ["http", "https"].iter().zip(&CONNECTION_LIMIT_REACHED) {
        let _ = writeln!(
            out,
            "wasmgress_connection_limit_reached_total{{listener=\"{listener}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP wasmgress_config_reloads_total Configurations applied: clean, or with rejected objects.\n# TYPE wasmgress_config_reloads_total counter\n");
    for (result, n) in ["clean", "rejections"].iter().zip(&RELOADS) {
        let _ = writeln!(out, "wasmgress_config_reloads_total{{result=\"{result}\"}} {}", n.load(Ordering::Relaxed));
    }
    let _ = write!(
        out,
        "# HELP wasmgress_config_last_reload_timestamp_seconds When the last configuration was applied.\n# TYPE wasmgress_config_last_reload_timestamp_seconds gauge\nwasmgress_config_last_reload_timestamp_seconds {}\n",
        LAST_RELOAD.load(Ordering::Relaxed)
    );
    let _ = write!(
        out,
        "# HELP wasmgress_route_rules Ingress path rules in the live route table.\n# TYPE wasmgress_route_rules gauge\nwasmgress_route_rules {}\n",
        ROUTE_RULES.load(Ordering::Relaxed)
    );
}
