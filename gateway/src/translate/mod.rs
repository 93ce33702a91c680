//! `translate`: from Kubernetes objects to a route table. Pure, no I/O: the
//! same objects always give the same table and the same diagnostics.

pub mod annotations;
mod backends;
pub mod class;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

use backends::{Backends, PortRef, ServiceRef};
pub use backends::{SERVICE_NAME_LABEL, refresh_endpoints};
use class::ClassFilter;

use crate::cluster::ClusterState;
use crate::diagnostics::Diagnostic;
use crate::routing::{BackendUser, HostPattern, ObjectKey, PathMatch, Route, RoutePolicy, RouteTable};
use crate::wasm::chain::{PluginChain, PluginSpec};
pub use annotations::PluginRequest;

/// How this controller instance selects and completes Ingresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateOptions {
    /// The IngressClass name that is ours (`--ingress-class`).
    pub ingress_class: String,
    /// The `spec.controller` value of our IngressClasses (`--controller-name`).
    pub controller_name: String,
    /// Also take Ingresses that name no class (`--watch-ingress-without-class`).
    pub watch_ingress_without_class: bool,
    /// Serves what no rule matches, when no Ingress has a `defaultBackend`.
    pub default_backend_service: Option<ObjectKey>,
}

impl Default for TranslateOptions {
    fn default() -> Self {
        Self {
            ingress_class: "wasmgress".into(),
            controller_name: "wasmgress.io/ingress-controller".into(),
            watch_ingress_without_class: false,
            default_backend_service: None,
        }
    }
}

const INGRESS: &str = "Ingress";

/// Turns the plugins an Ingress asks for into installed, configured ones.
pub trait PluginResolver: Send + Sync {
    /// The plugin ready to run, or why it cannot be (unknown name, digest
    /// mismatch, configuration refused by the plugin).
    fn resolve(&self, request: &PluginRequest) -> Result<Arc<PluginSpec>, String>;

    /// Problems with the installed plugins themselves (modules that do not
    /// load), reported with every configuration.
    fn diagnostics(&self) -> Vec<Diagnostic> {
        Vec::new()
    }

    /// Whether plugin requests go unchecked (`validate` without a plugin
    /// directory): the annotation's syntax is still checked, the plugins
    /// are not, and the Ingress is translated without them.
    fn unchecked(&self) -> bool {
        false
    }
}

/// For `validate` without a plugin directory: a warning instead of a
/// rejection for each plugin it cannot check. Never used to serve.
pub struct UncheckedPlugins;

impl PluginResolver for UncheckedPlugins {
    fn resolve(&self, request: &PluginRequest) -> Result<Arc<PluginSpec>, String> {
        Err(format!("plugin {:?} not checked: no plugin directory given", request.name))
    }

    fn unchecked(&self) -> bool {
        true
    }
}

/// The resolver of a gateway started without a plugin directory.
pub struct NoPlugins;

impl PluginResolver for NoPlugins {
    fn resolve(&self, request: &PluginRequest) -> Result<Arc<PluginSpec>, String> {
        Err(format!("plugin {:?} is not installed: no plugin directory is configured (--plugins)", request.name))
    }
}

/// Builds the route table for every Ingress of ours, and says what was wrong
/// with each object it could not use in full. Plugin annotations are
/// rejected: see [`translate_with_plugins`].
pub fn translate<'a>(state: &'a ClusterState, opts: &'a TranslateOptions) -> (RouteTable, Vec<Diagnostic>) {
    translate_with_plugins(state, opts, &NoPlugins)
}

/// The Ingresses of our class, oldest first: on a conflict (a path rule, a
/// TLS host) the oldest Ingress keeps it.
pub fn ours_oldest_first<'a>(state: &'a ClusterState, opts: &TranslateOptions) -> Vec<&'a Ingress> {
    let filter = ClassFilter::new(state, opts);
    let mut ingresses: Vec<&Ingress> = state.ingresses.iter().filter(|i| filter.selects(i)).collect();
    ingresses.sort_by_cached_key(|i| {
        (i.metadata.creation_timestamp.clone(), i.metadata.namespace.clone(), i.metadata.name.clone())
    });
    ingresses
}

/// [`translate`], resolving plugin annotations with `plugins`.
pub fn translate_with_plugins<'a>(
    state: &'a ClusterState,
    opts: &'a TranslateOptions,
    plugins: &dyn PluginResolver,
) -> (RouteTable, Vec<Diagnostic>) {
    let ingresses = ours_oldest_first(state, opts);
    let mut t = Translation {
        table: RouteTable::default(),
        diagnostics: Vec::new(),
        backends: Backends::new(state),
        default_owner: None,
        plugins,
        plugin_calls: false,
    };
    for ingress in ingresses {
        t.add_ingress(ingress);
    }
    if t.plugin_calls {
        t.add_services(state);
    }
    if t.table.default_backend().is_none()
        && let Some(svc) = &opts.default_backend_service
    {
        let (backend, warning) = t.backends.resolve((&svc.namespace, &svc.name), None);
        const PREFIX: &str = "--default-backend-service: ";
        if let Some(w) = warning {
            t.diagnostics.push(Diagnostic::warning("Service", svc, format!("{PREFIX}{w}")));
        }
        let user = BackendUser { kind: "Service", object: svc.to_string(), prefix: PREFIX };
        t.table.use_backend(&backend, Some(user));
        t.table.set_default_backend(Arc::new(Route {
            ingress: None,
            path: String::new(),
            path_match: PathMatch::DefaultBackend,
            metrics: Route::metrics_for(None, &backend),
            backend,
            policy: Arc::default(),
            tls: false,
        }));
    }
    t.diagnostics.extend(t.table.endpoint_warnings());
    t.diagnostics.sort();
    t.diagnostics.dedup();
    (t.table, t.diagnostics)
}

/// A path rule that passed validation, ready to enter the table.
struct PlannedRule<'a> {
    host: HostPattern,
    path: &'a str,
    path_match: PathMatch,
    service: ServiceRef<'a>,
    port: PortRef<'a>,
}

/// A Service backend as an Ingress names it.
type ServiceTarget<'a> = (ServiceRef<'a>, PortRef<'a>);

struct Translation<'a, 'p> {
    table: RouteTable,
    diagnostics: Vec<Diagnostic>,
    backends: Backends<'a>,
    default_owner: Option<ObjectKey>,
    plugins: &'p dyn PluginResolver,
    /// Some route has plugins, which may call any Service.
    plugin_calls: bool,
}

impl<'a> Translation<'a, '_> {
    /// Indexes every Service port for plugin calls.
    fn add_services(&mut self, state: &'a ClusterState) {
        for service in &state.services {
            let (Some(ns), Some(name)) = (service.metadata.namespace.as_deref(), service.metadata.name.as_deref())
            else {
                continue;
            };
            let ports = service.spec.as_ref().and_then(|s| s.ports.as_deref()).unwrap_or_default();
            for port in ports {
                let Ok(number) = u16::try_from(port.port) else { continue };
                let (backend, _) = self.backends.resolve((ns, name), Some(PortRef::Number(port.port)));
                self.table.use_backend(&backend, None);
                self.table.add_service(ns, name, number, backend);
            }
        }
    }

    fn add_ingress(&mut self, ingress: &'a Ingress) {
        let key = ObjectKey::new(
            ingress.metadata.namespace.as_deref().unwrap_or("default"),
            ingress.metadata.name.as_deref().unwrap_or("<unnamed>"),
        );
        let annotations = annotations::parse(ingress.metadata.annotations.as_ref());
        let mut errors = annotations.errors;
        let mut warnings = annotations.warnings;
        let mut policy = annotations.policy;
        let mut chain = Vec::with_capacity(annotations.plugins.len());
        for request in &annotations.plugins {
            match self.plugins.resolve(request) {
                Ok(spec) => chain.push(spec),
                Err(e) if self.plugins.unchecked() => {
                    warnings.push(format!("annotation {}: {e}", annotations::PLUGINS))
                }
                Err(e) => errors.push(format!("annotation {}: {e}", annotations::PLUGINS)),
            }
        }
        if !chain.is_empty() {
            policy.plugins = Some(Arc::new(PluginChain { plugins: chain }));
            self.plugin_calls = true;
        }
        let namespace = ingress.metadata.namespace.as_deref().unwrap_or("default");
        let (rules, default_backend) = plan(ingress, namespace, &mut errors, &mut warnings);
        if !errors.is_empty() {
            for e in errors {
                self.diagnostics.push(Diagnostic::rejected(INGRESS, &key, format!("rejected: {e}")));
            }
            return;
        }
        let policy = Arc::new(policy);
        let tls_hosts: HashSet<String> = ingress
            .spec
            .iter()
            .flat_map(|s| s.tls.iter().flatten())
            .flat_map(|t| t.hosts.iter().flatten())
            .map(|h| h.to_ascii_lowercase())
            .collect();
        for rule in rules {
            let tls = match &rule.host {
                HostPattern::Exact(h) => tls_hosts.contains(h),
                HostPattern::Wildcard(domain) => tls_hosts.contains(&format!("*.{domain}")),
                HostPattern::Any => false,
            };
            self.add_rule(&key, rule, &policy, tls, &mut warnings);
        }
        if let Some(target) = default_backend {
            self.add_default_backend(&key, target, &policy, &mut warnings);
        }
        for w in warnings {
            self.diagnostics.push(Diagnostic::warning(INGRESS, &key, w));
        }
    }

    fn add_rule(
        &mut self,
        owner: &ObjectKey,
        rule: PlannedRule<'a>,
        policy: &Arc<RoutePolicy>,
        tls: bool,
        warnings: &mut Vec<String>,
    ) {
        if let Some(holder) = self.table.holder(&rule.host, rule.path_match, rule.path) {
            let b = &holder.backend;
            let same_target =
                (b.service.namespace.as_str(), b.service.name.as_str()) == rule.service && b.port == rule.port.label();
            let holder_ingress = holder.ingress.as_ref();
            if !same_target {
                let (host, path, kind) = (&rule.host, rule.path, rule.path_match);
                warnings.push(match holder_ingress {
                    Some(h) if h != owner => format!(
                        "host {host} path {path} ({kind:?}) conflicts with ingress {h}, which is older and keeps it; this rule is ignored"
                    ),
                    _ => format!(
                        "host {host} path {path} ({kind:?}) is listed twice with different backends; the first one is used"
                    ),
                });
            }
            return;
        }
        let (backend, warning) = self.backends.resolve(rule.service, Some(rule.port));
        warnings.extend(warning);
        self.table.use_backend(&backend, Some(BackendUser::ingress(owner)));
        let host_label = rule.host.to_string();
        let route = Arc::new(Route {
            ingress: Some(owner.clone()),
            path: rule.path.to_string(),
            path_match: rule.path_match,
            metrics: Route::metrics_for(Some(owner), &backend),
            backend,
            policy: policy.clone(),
            tls,
        });
        if let Err(e) = self.table.add(rule.host, route) {
            warnings.push(format!("host {host_label}: {e}; this rule is ignored"));
        }
    }

    fn add_default_backend(
        &mut self,
        owner: &ObjectKey,
        (service, port): ServiceTarget<'a>,
        policy: &Arc<RoutePolicy>,
        warnings: &mut Vec<String>,
    ) {
        if let Some(holder) = &self.default_owner {
            warnings.push(format!(
                "spec.defaultBackend is ignored: ingress {holder}, which is older, already provides the default backend"
            ));
            return;
        }
        let (backend, warning) = self.backends.resolve(service, Some(port));
        warnings.extend(warning);
        self.table.use_backend(&backend, Some(BackendUser::ingress(owner)));
        self.table.set_default_backend(Arc::new(Route {
            ingress: Some(owner.clone()),
            path: String::new(),
            path_match: PathMatch::DefaultBackend,
            metrics: Route::metrics_for(Some(owner), &backend),
            backend,
            policy: policy.clone(),
            tls: false,
        }));
        self.default_owner = Some(owner.clone());
    }
}

/// Validates an Ingress's rules and default backend. Errors reject the
/// Ingress whole (as the API server would); warnings skip one rule.
fn plan<'a>(
    ingress: &'a Ingress,
    namespace: &'a str,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> (Vec<PlannedRule<'a>>, Option<ServiceTarget<'a>>) {
    let mut rules = Vec::new();
    let Some(spec) = ingress.spec.as_ref() else {
        errors.push("spec is missing".into());
        return (rules, None);
    };
    let default_backend = spec.default_backend.as_ref().and_then(|b| {
        service_backend(b, namespace, &"spec.defaultBackend").unwrap_or_else(|e| {
            errors.push(e);
            None
        })
    });
    for (i, rule) in spec.rules.iter().flatten().enumerate() {
        let host = rule.host.as_deref().filter(|h| !h.is_empty());
        if let Some(h) = host
            && let Err(e) = validate::host(h)
        {
            errors.push(format!("rules[{i}]: {e}"));
            continue;
        }
        let host = HostPattern::from_rule_host(host);
        for (j, p) in rule.http.iter().flat_map(|h| &h.paths).enumerate() {
            let at = PathAt(i, j);
            let path_match = match validate::path_type(&p.path_type) {
                Ok(m) => m,
                Err(e) => {
                    errors.push(format!("{at}: {e}"));
                    continue;
                }
            };
            let path = match (p.path.as_deref().filter(|s| !s.is_empty()), p.path_type.as_str()) {
                (Some(path), _) => path,
                (None, "ImplementationSpecific") => "/",
                (None, t) => {
                    errors.push(format!("{at}: path is required for pathType {t}"));
                    continue;
                }
            };
            if let Err(e) = validate::path(path, &p.path_type) {
                errors.push(format!("{at}: {e}"));
                continue;
            }
            if p.path_type == "ImplementationSpecific" && validate::looks_like_regex(path) {
                warnings.push(format!(
                    "{at}: path {path:?} looks like a regular expression; ImplementationSpecific paths are matched as literal prefixes"
                ));
            }
            match service_backend(&p.backend, namespace, &at) {
                Ok(Some((service, port))) => {
                    rules.push(PlannedRule { host: host.clone(), path, path_match, service, port })
                }
                Ok(None) => {
                    warnings.push(format!("{at}: resource backends are not supported; path {path} is not served"))
                }
                Err(e) => errors.push(e),
            }
        }
    }
    (rules, default_backend)
}

/// Where in an Ingress a path rule is; formatted only for messages.
struct PathAt(usize, usize);

impl fmt::Display for PathAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules[{}].http.paths[{}]", self.0, self.1)
    }
}

/// Reads a Service backend. `Ok(None)` is a resource backend, which this
/// controller does not serve.
fn service_backend<'a>(
    b: &'a IngressBackend,
    namespace: &'a str,
    at: &dyn fmt::Display,
) -> Result<Option<ServiceTarget<'a>>, String> {
    match (&b.service, &b.resource) {
        (Some(_), Some(_)) => Err(format!("{at}: backend sets both service and resource")),
        (None, Some(_)) => Ok(None),
        (None, None) => Err(format!("{at}: backend names no service")),
        (Some(svc), None) => {
            if svc.name.is_empty() {
                return Err(format!("{at}: backend service has no name"));
            }
            let port = svc
                .port
                .as_ref()
                .and_then(PortRef::from_spec)
                .ok_or_else(|| format!("{at}: backend service {}: port is required (number or name)", svc.name))?;
            if let PortRef::Number(n) = port
                && !(1..=65535).contains(&n)
            {
                return Err(format!("{at}: backend service {}: port {n} is out of range", svc.name));
            }
            Ok(Some(((namespace, svc.name.as_str()), port)))
        }
    }
}
