//! The route table: what a request's host and path resolve to. Built once
//! per configuration by `translate`, then read lock-free by every request.

pub mod host;
pub mod path;

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use foldhash::HashMap;

use crate::diagnostics::Diagnostic;

/// `namespace/name` of a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into() }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A Service port and the ready endpoints behind it, with the round-robin
/// cursor shared by every route that targets it. The endpoints change in
/// place when only EndpointSlices changed: pods come and go far more often
/// than Ingresses, and the rest of the table stays as it is.
#[derive(Debug)]
pub struct Backend {
    pub service: ObjectKey,
    /// The Service port as the Ingress named it (a number or a port name).
    pub port: String,
    endpoints: ArcSwap<Vec<SocketAddr>>,
    /// The Service port's name, under which EndpointSlices list its target
    /// port; `None` when the Service or the port does not exist (then no
    /// EndpointSlice change can give the backend endpoints).
    pub slice_port: Option<String>,
    /// Set when the Service itself is unknown, to tell a 503's cause apart.
    pub service_missing: bool,
    next: AtomicUsize,
}

impl Backend {
    pub fn new(service: ObjectKey, port: String, endpoints: Vec<SocketAddr>) -> Self {
        Self {
            service,
            port,
            endpoints: ArcSwap::from_pointee(endpoints),
            slice_port: None,
            service_missing: false,
            next: AtomicUsize::new(0),
        }
    }

    /// A backend whose Service does not exist (yet): it answers 503.
    pub fn missing(service: ObjectKey, port: String) -> Self {
        Self { service_missing: true, ..Self::new(service, port, Vec::new()) }
    }

    /// The ready endpoints now.
    pub fn endpoints(&self) -> Arc<Vec<SocketAddr>> {
        self.endpoints.load_full()
    }

    /// Replaces the endpoints; requests already past their pick keep theirs.
    pub fn set_endpoints(&self, endpoints: Vec<SocketAddr>) {
        self.endpoints.store(Arc::new(endpoints));
    }

    /// Every endpoint once, starting at the next one in round-robin order:
    /// the first is the pick, the rest are where a failed connect retries.
    pub fn endpoints_in_pick_order(&self) -> impl Iterator<Item = SocketAddr> + use<> {
        let endpoints = self.endpoints.load_full();
        let n = endpoints.len();
        let start = if n == 0 { 0 } else { self.next.fetch_add(1, Ordering::Relaxed) % n };
        (0..n).map(move |i| endpoints[(start + i) % n])
    }

    /// Names the Service port's name its EndpointSlices use.
    pub fn with_slice_port(mut self, name: &str) -> Self {
        self.slice_port = Some(name.to_string());
        self
    }

    /// The warning for a backend without endpoints, as translation and
    /// endpoint updates both report it.
    pub fn no_endpoints_warning(&self) -> Option<String> {
        let empty = !self.service_missing && self.endpoints.load().is_empty() && self.slice_port.is_some();
        empty.then(|| {
            format!("service {} port {} has no ready endpoints: its routes answer 503", self.service, self.port)
        })
    }
}

/// How a route's path matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathMatch {
    Exact,
    Prefix,
    /// No rule matched: the default backend answers.
    DefaultBackend,
}

/// Settings an Ingress applies to its own routes (from its annotations).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePolicy {
    /// How long the upstream may take to send response headers.
    pub response_timeout: Option<Duration>,
    /// The plugins every request of the route goes through.
    pub plugins: Option<Arc<crate::wasm::chain::PluginChain>>,
    /// `wasmgress.io/ssl-redirect: "false"`: plain HTTP is served, not redirected.
    pub ssl_redirect_off: bool,
    /// `Strict-Transport-Security` for answers over HTTPS.
    pub hsts: Option<http::HeaderValue>,
    /// How the upstream is spoken to.
    pub backend_protocol: BackendProtocol,
    /// `wasmgress.io/backend-tls-verify: "false"`: an HTTPS upstream's
    /// certificate is not checked.
    pub backend_tls_verify_off: bool,
    /// `wasmgress.io/proxy-body-size`: the largest request body, 0 for no
    /// limit; `None`: the gateway's default.
    pub max_body: Option<u64>,
}

/// `wasmgress.io/backend-protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BackendProtocol {
    /// HTTP/1.1 over TCP.
    #[default]
    Http,
    /// HTTP/1.1 over TLS.
    Https,
    /// HTTP/2 over TCP (prior knowledge).
    H2c,
    /// gRPC: HTTP/2 over TCP, trailers kept.
    Grpc,
}

/// What a request lands on: which Ingress rule, and where it goes.
#[derive(Debug)]
pub struct Route {
    /// The Ingress that owns the rule; `None` for `--default-backend-service`.
    pub ingress: Option<ObjectKey>,
    /// The rule's path as written in the Ingress (empty for a default backend).
    pub path: String,
    pub path_match: PathMatch,
    pub backend: Arc<Backend>,
    pub policy: Arc<RoutePolicy>,
    /// The host is listed in the Ingress's `spec.tls`: plain HTTP requests
    /// are redirected to HTTPS (unless the policy says not to).
    pub tls: bool,
    /// The counters of this route's (Ingress, Service) pair.
    pub metrics: Arc<crate::telemetry::metrics::RouteMetrics>,
}

impl Route {
    /// The metrics cell for requests through `ingress` to `backend`.
    pub fn metrics_for(ingress: Option<&ObjectKey>, backend: &Backend) -> Arc<crate::telemetry::metrics::RouteMetrics> {
        let ingress = ingress.map(ToString::to_string).unwrap_or_default();
        crate::telemetry::metrics::route(&ingress, &backend.service.to_string())
    }
}

/// Which requests a set of rules applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `foo.example.com`
    Exact(String),
    /// `*.example.com`, stored without `*.`: matches exactly one more label.
    Wildcard(String),
    /// A rule without a host.
    Any,
}

impl HostPattern {
    /// Parses an Ingress rule host (already validated); lower-cases it.
    pub fn from_rule_host(host: Option<&str>) -> Self {
        match host.map(str::to_ascii_lowercase) {
            None => HostPattern::Any,
            Some(h) if h.is_empty() => HostPattern::Any,
            Some(h) => match h.strip_prefix("*.") {
                Some(suffix) => HostPattern::Wildcard(suffix.to_string()),
                None => HostPattern::Exact(h),
            },
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(h) => f.write_str(h),
            HostPattern::Wildcard(s) => write!(f, "*.{s}"),
            HostPattern::Any => f.write_str("*"),
        }
    }
}

/// The routes of one host pattern: a matchit router over path keys.
#[derive(Default)]
struct HostRoutes {
    router: matchit::Router<usize>,
    keys: HashMap<String, usize>,
    entries: Vec<Entry>,
}

/// What one matchit key leads to. An Exact and a Prefix rule can share a key
/// (`/foo` is both the Exact path and the bare Prefix); Exact wins.
#[derive(Default)]
struct Entry {
    exact: Option<Arc<Route>>,
    prefix: Option<Arc<Route>>,
}

/// A matchit key for a literal path: braces are matchit syntax.
fn escape(path: &str) -> Cow<'_, str> {
    if path.contains(['{', '}']) { Cow::Owned(path.replace('{', "{{").replace('}', "}}")) } else { Cow::Borrowed(path) }
}

/// The matchit key that identifies a rule: the Exact path, or the Prefix
/// without its trailing slash (`/` for the root).
fn rule_key(path_match: PathMatch, path: &str) -> Cow<'_, str> {
    match path_match {
        PathMatch::Prefix => match path.trim_end_matches('/') {
            "" => Cow::Borrowed("/"),
            base => escape(base),
        },
        _ => escape(path),
    }
}

/// Why a rule could not enter the table.
#[derive(Debug, thiserror::Error)]
#[error("path {path:?} cannot be routed: {reason}")]
pub struct InsertError {
    path: String,
    reason: String,
}

impl HostRoutes {
    fn entry(&mut self, key: Cow<'_, str>) -> Result<&mut Entry, matchit::InsertError> {
        let idx = match self.keys.get(key.as_ref()) {
            Some(&i) => i,
            None => {
                let i = self.entries.len();
                let key = key.into_owned();
                self.router.insert(key.clone(), i)?;
                self.keys.insert(key, i);
                self.entries.push(Entry::default());
                i
            }
        };
        Ok(&mut self.entries[idx])
    }

    /// The route already holding this rule, if any.
    fn holder(&self, path_match: PathMatch, path: &str) -> Option<&Arc<Route>> {
        let entry = &self.entries[*self.keys.get(rule_key(path_match, path).as_ref())?];
        match path_match {
            PathMatch::Exact => entry.exact.as_ref(),
            _ => entry.prefix.as_ref(),
        }
    }

    /// Adds a rule; the first route to claim a key keeps it (translate has
    /// already ordered rules oldest Ingress first and reported conflicts).
    fn add(&mut self, route: Arc<Route>) -> Result<(), InsertError> {
        let err = |e: matchit::InsertError| InsertError { path: route.path.clone(), reason: e.to_string() };
        let key = rule_key(route.path_match, &route.path);
        match route.path_match {
            PathMatch::Exact => {
                let e = self.entry(key).map_err(err)?;
                e.exact.get_or_insert_with(|| route.clone());
            }
            PathMatch::Prefix => {
                // Prefix matching is by path element: `/foo` covers `/foo`,
                // `/foo/` and `/foo/…` but not `/foobar`. matchit's catch-all
                // needs one character, hence three keys.
                let keys = if key == "/" {
                    vec![key, Cow::Borrowed("/{*rest}")]
                } else {
                    let (slash, rest) = (format!("{key}/"), format!("{key}/{{*rest}}"));
                    vec![key, Cow::Owned(slash), Cow::Owned(rest)]
                };
                for key in keys {
                    let e = self.entry(key).map_err(err)?;
                    e.prefix.get_or_insert_with(|| route.clone());
                }
            }
            PathMatch::DefaultBackend => {}
        }
        Ok(())
    }

    fn lookup(&self, path: &str) -> Option<&Arc<Route>> {
        let m = self.router.at(path).ok()?;
        let entry = &self.entries[*m.value];
        entry.exact.as_ref().or(entry.prefix.as_ref())
    }
}

/// A snapshot of every route. Immutable once built; a new configuration
/// builds a new table and swaps it in.
#[derive(Default)]
pub struct RouteTable {
    exact: HashMap<String, HostRoutes>,
    wildcard: HashMap<String, HostRoutes>,
    any: Option<HostRoutes>,
    default_backend: Option<Arc<Route>>,
    rules: usize,
    /// Every Service port by (namespace, name, port), for plugins' calls;
    /// filled only when some route has plugins.
    services: HashMap<(String, String, u16), Arc<Backend>>,
    /// Every backend in the table (by address), with who is told when it
    /// has no endpoints.
    backends: HashMap<usize, (Arc<Backend>, Vec<BackendUser>)>,
}

/// An object that routes to a backend, told when the backend has no
/// endpoints: a diagnostic's kind and object, and its message's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUser {
    pub kind: &'static str,
    pub object: String,
    pub prefix: &'static str,
}

impl BackendUser {
    pub fn ingress(key: &ObjectKey) -> Self {
        Self { kind: "Ingress", object: key.to_string(), prefix: "" }
    }
}

impl RouteTable {
    /// Finds the route for a normalised host and path. The most specific host
    /// pattern with rules is chosen (exact, then `*.` wildcard, then rules
    /// without host); when none of its paths match, the default backend answers.
    pub fn lookup(&self, host: &str, path: &str) -> Option<&Arc<Route>> {
        let routes = self
            .exact
            .get(host)
            .or_else(|| host.split_once('.').and_then(|(_, parent)| self.wildcard.get(parent)))
            .or(self.any.as_ref());
        routes.and_then(|r| r.lookup(path)).or(self.default_backend.as_ref())
    }

    /// Number of Ingress path rules in the table.
    pub fn rule_count(&self) -> usize {
        self.rules
    }

    pub fn default_backend(&self) -> Option<&Arc<Route>> {
        self.default_backend.as_ref()
    }

    /// The route that already holds a rule (host, match kind, path): a
    /// second Ingress asking for it is in conflict.
    pub fn holder(&self, host: &HostPattern, path_match: PathMatch, path: &str) -> Option<&Arc<Route>> {
        let routes = match host {
            HostPattern::Exact(h) => self.exact.get(h),
            HostPattern::Wildcard(s) => self.wildcard.get(s),
            HostPattern::Any => self.any.as_ref(),
        };
        routes?.holder(path_match, path)
    }

    /// Adds a path rule for a host pattern; a rule already held keeps its
    /// first route.
    pub fn add(&mut self, host: HostPattern, route: Arc<Route>) -> Result<(), InsertError> {
        let routes = match host {
            HostPattern::Exact(h) => self.exact.entry(h).or_default(),
            HostPattern::Wildcard(s) => self.wildcard.entry(s).or_default(),
            HostPattern::Any => self.any.get_or_insert_with(HostRoutes::default),
        };
        routes.add(route)?;
        self.rules += 1;
        Ok(())
    }

    /// Records a backend of the table and, if given, who routes to it.
    pub fn use_backend(&mut self, backend: &Arc<Backend>, user: Option<BackendUser>) {
        let entry = self.backends.entry(Arc::as_ptr(backend) as usize).or_insert_with(|| (backend.clone(), Vec::new()));
        if let Some(user) = user
            && !entry.1.contains(&user)
        {
            entry.1.push(user);
        }
    }

    /// Every backend in the table.
    pub fn backends(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.backends.values().map(|(b, _)| b)
    }

    /// A warning for each object routing to a backend without endpoints.
    pub fn endpoint_warnings(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (backend, users) in self.backends.values() {
            if let Some(w) = backend.no_endpoints_warning() {
                out.extend(users.iter().map(|u| Diagnostic::warning(u.kind, &u.object, format!("{}{w}", u.prefix))));
            }
        }
        out.sort();
        out
    }

    /// The backend of a Service port, as a plugin's call addresses it.
    pub fn service(&self, namespace: &str, name: &str, port: u16) -> Option<&Arc<Backend>> {
        self.services.get(&(namespace.to_string(), name.to_string(), port))
    }

    pub fn add_service(&mut self, namespace: &str, name: &str, port: u16, backend: Arc<Backend>) {
        self.services.insert((namespace.to_string(), name.to_string(), port), backend);
    }

    pub fn set_default_backend(&mut self, route: Arc<Route>) {
        self.default_backend = Some(route);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str, m: PathMatch, svc: &str) -> Arc<Route> {
        Arc::new(Route {
            ingress: Some(ObjectKey::new("default", "ing")),
            path: path.into(),
            path_match: m,
            backend: Arc::new(Backend::new(ObjectKey::new("default", svc), "80".into(), vec![])),
            policy: Arc::default(),
            tls: false,
            metrics: Arc::default(),
        })
    }

    fn svc<'a>(t: &'a RouteTable, host: &str, path: &str) -> Option<&'a str> {
        t.lookup(host, path).map(|r| r.backend.service.name.as_str())
    }

    #[test]
    fn catch_all_backtracks_to_shorter_prefix() {
        let mut t = RouteTable::default();
        t.add(HostPattern::Any, route("/", PathMatch::Prefix, "root")).unwrap();
        t.add(HostPattern::Any, route("/foo/bar", PathMatch::Exact, "exact")).unwrap();
        t.add(HostPattern::Any, route("/foo", PathMatch::Prefix, "foo")).unwrap();
        assert_eq!(svc(&t, "x", "/foo/bar"), Some("exact"));
        assert_eq!(svc(&t, "x", "/foo/baz"), Some("foo"));
        assert_eq!(svc(&t, "x", "/foo/"), Some("foo"));
        assert_eq!(svc(&t, "x", "/foobar"), Some("root"));
        assert_eq!(svc(&t, "x", "/"), Some("root"));
        assert_eq!(svc(&t, "x", "/fo"), Some("root"));
    }

    #[test]
    fn braces_in_paths_are_literal() {
        let mut t = RouteTable::default();
        t.add(HostPattern::Any, route("/{id}", PathMatch::Exact, "braces")).unwrap();
        assert_eq!(svc(&t, "x", "/{id}"), Some("braces"));
        assert_eq!(svc(&t, "x", "/42"), None);
    }

    #[test]
    fn round_robin_visits_every_endpoint() {
        let eps: Vec<SocketAddr> = (1..=3).map(|p| SocketAddr::from(([127, 0, 0, 1], p))).collect();
        let b = Backend::new(ObjectKey::new("a", "b"), "80".into(), eps.clone());
        let firsts: Vec<_> = (0..3).map(|_| b.endpoints_in_pick_order().next().unwrap()).collect();
        assert_eq!(firsts, eps);
        let order: Vec<_> = b.endpoints_in_pick_order().collect();
        assert_eq!(order.len(), 3);
        assert_eq!(order[0], eps[0]);
    }
}
