//! From an Ingress backend (Service name + port) to the ready pod endpoints
//! behind it, through the Service's ports and its EndpointSlices.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::ServiceBackendPort;

use crate::cluster::ClusterState;
use crate::routing::{Backend, ObjectKey, RouteTable};

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The Service port an Ingress asks for, as it wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortRef<'a> {
    Number(i32),
    Name(&'a str),
}

impl<'a> PortRef<'a> {
    pub fn from_spec(port: &'a ServiceBackendPort) -> Option<Self> {
        match (port.number, port.name.as_deref()) {
            (Some(n), _) => Some(PortRef::Number(n)),
            (None, Some(name)) if !name.is_empty() => Some(PortRef::Name(name)),
            _ => None,
        }
    }

    /// How the port shows in messages and on the backend.
    pub fn label(&self) -> String {
        match self {
            PortRef::Number(n) => n.to_string(),
            PortRef::Name(s) => s.to_string(),
        }
    }
}

/// A Service by namespace and name, borrowed from the objects.
pub type ServiceRef<'a> = (&'a str, &'a str);

/// A backend, and why it cannot serve if it cannot.
type Resolved = (Arc<Backend>, Option<String>);

/// Looks Services and EndpointSlices up by name, and builds each backend
/// once so that every route to it shares one round-robin cursor.
pub struct Backends<'a> {
    services: HashMap<(&'a str, &'a str), &'a Service>,
    slices: HashMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
    built: HashMap<(ServiceRef<'a>, Option<PortRef<'a>>), Resolved>,
}

impl<'a> Backends<'a> {
    pub fn new(state: &'a ClusterState) -> Self {
        let mut services = HashMap::with_capacity(state.services.len());
        for s in &state.services {
            if let (Some(ns), Some(name)) = (s.metadata.namespace.as_deref(), s.metadata.name.as_deref()) {
                services.insert((ns, name), s);
            }
        }
        let mut slices: HashMap<_, Vec<_>> = HashMap::with_capacity(state.endpoint_slices.len());
        for es in &state.endpoint_slices {
            let svc = es.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL));
            if let (Some(ns), Some(svc)) = (es.metadata.namespace.as_deref(), svc) {
                slices.entry((ns, svc.as_str())).or_default().push(es);
            }
        }
        Self { services, slices, built: HashMap::new() }
    }

    /// The backend for `service` and `port` (`None`: the Service's first
    /// port, for `--default-backend-service`), with a warning when it
    /// cannot serve (requests to it then answer 503).
    pub fn resolve(&mut self, service: ServiceRef<'a>, port: Option<PortRef<'a>>) -> Resolved {
        if let Some(hit) = self.built.get(&(service, port)) {
            return hit.clone();
        }
        let built = self.build(service, port);
        self.built.insert((service, port), built.clone());
        built
    }

    fn build(&self, service_ref: ServiceRef<'a>, port: Option<PortRef<'a>>) -> Resolved {
        let key = &ObjectKey::new(service_ref.0, service_ref.1);
        let label = port.as_ref().map(PortRef::label).unwrap_or_default();
        let Some(service) = self.services.get(&service_ref) else {
            let w = format!("service {key} not found: its routes answer 503 until it exists");
            return (Arc::new(Backend::missing(key.clone(), label)), Some(w));
        };
        let spec = service.spec.as_ref();
        if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            let w = format!("service {key} is of type ExternalName, which is not supported: its routes answer 503");
            return (Arc::new(Backend::new(key.clone(), label, vec![])), Some(w));
        }
        let ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
        let service_port = ports.iter().find(|p| match port {
            Some(PortRef::Number(n)) => p.port == n,
            Some(PortRef::Name(name)) => p.name.as_deref() == Some(name),
            None => true,
        });
        let Some(service_port) = service_port else {
            let w = format!("service {key} has no port {label}: its routes answer 503");
            return (Arc::new(Backend::new(key.clone(), label, vec![])), Some(w));
        };
        let label = if label.is_empty() { service_port.port.to_string() } else { label };
        let port_name = service_port.name.as_deref().unwrap_or("");
        let endpoints = self.ready_endpoints(service_ref, port_name);
        // No endpoints is reported by the table (`RouteTable::endpoint_warnings`),
        // which stays current as endpoints change in place.
        (Arc::new(Backend::new(key.clone(), label, endpoints).with_slice_port(port_name)), None)
    }

    /// Ready addresses of every slice of the Service, on the target port the
    /// slices publish under the Service port's name.
    pub fn ready_endpoints(&self, service: ServiceRef<'a>, port_name: &str) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        let slices = self.slices.get(&service);
        for slice in slices.into_iter().flatten() {
            if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
                continue;
            }
            let target = slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref().unwrap_or("") == port_name)
                .and_then(|p| p.port)
                .and_then(|p| u16::try_from(p).ok());
            let Some(target) = target else { continue };
            for ep in slice.endpoints.iter().flatten() {
                // An unset `ready` means ready (EndpointSlice API contract).
                if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                    continue;
                }
                out.extend(
                    ep.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()).map(|ip| SocketAddr::new(ip, target)),
                );
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Updates, in place, the endpoints of every backend in `table` from the
/// EndpointSlices in `state` (whose Services are those `table` was built
/// from). Returns how many backends changed.
pub fn refresh_endpoints(table: &RouteTable, state: &ClusterState) -> usize {
    let slices = Backends::new(state);
    let mut changed = 0;
    for backend in table.backends() {
        let Some(port_name) = &backend.slice_port else { continue };
        let service = (backend.service.namespace.as_str(), backend.service.name.as_str());
        let endpoints = slices.ready_endpoints(service, port_name);
        if *backend.endpoints() != endpoints {
            backend.set_endpoints(endpoints);
            changed += 1;
        }
    }
    changed
}
