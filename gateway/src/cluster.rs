//! The Kubernetes objects the gateway reads, as typed k8s-openapi values,
//! wherever they came from (a cluster watch or a directory of YAML).

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde_json::Value;

/// Every object translation reads. Cheap to clone relative to a translation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterState {
    pub ingresses: Vec<Ingress>,
    pub ingress_classes: Vec<IngressClass>,
    pub services: Vec<Service>,
    pub endpoint_slices: Vec<EndpointSlice>,
    pub secrets: Vec<Secret>,
}

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object has no kind")]
    NoKind,
    #[error("{kind} {name}: {source}")]
    Invalid { kind: String, name: String, source: serde_json::Error },
}

/// What happened to one object offered to the state.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    Yes,
    /// A kind the gateway does not read (Deployment, ConfigMap, …).
    OtherKind(String),
}

impl ClusterState {
    /// Adds one object given as JSON (e.g. a YAML document). A `List` adds
    /// its items. Objects without a namespace get `default`, as kubectl does.
    pub fn add_object(&mut self, mut value: Value) -> Result<Accepted, ObjectError> {
        let kind = value.get("kind").and_then(Value::as_str).ok_or(ObjectError::NoKind)?.to_string();
        if kind == "List" || kind.ends_with("List") && value.get("items").is_some() {
            let items = match value.get_mut("items").map(Value::take) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            for item in items {
                self.add_object(item)?;
            }
            return Ok(Accepted::Yes);
        }
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            let namespaced = kind != "IngressClass";
            if namespaced && !meta.contains_key("namespace") {
                meta.insert("namespace".into(), Value::String("default".into()));
            }
        }
        let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("<unnamed>").to_string();
        let invalid = |source| ObjectError::Invalid { kind: kind.clone(), name: name.clone(), source };
        match kind.as_str() {
            "Ingress" => self.ingresses.push(serde_json::from_value(value).map_err(invalid)?),
            "IngressClass" => self.ingress_classes.push(serde_json::from_value(value).map_err(invalid)?),
            "Service" => self.services.push(serde_json::from_value(value).map_err(invalid)?),
            "EndpointSlice" => self.endpoint_slices.push(serde_json::from_value(value).map_err(invalid)?),
            "Secret" => self.secrets.push(serde_json::from_value(value).map_err(invalid)?),
            _ => return Ok(Accepted::OtherKind(kind)),
        }
        Ok(Accepted::Yes)
    }

    /// Appends every object of another state.
    pub fn extend(&mut self, other: &ClusterState) {
        self.ingresses.extend(other.ingresses.iter().cloned());
        self.ingress_classes.extend(other.ingress_classes.iter().cloned());
        self.services.extend(other.services.iter().cloned());
        self.endpoint_slices.extend(other.endpoint_slices.iter().cloned());
        self.secrets.extend(other.secrets.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_typed_and_defaulted_to_the_default_namespace() {
        let mut s = ClusterState::default();
        let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "a"}});
        assert_eq!(s.add_object(ing).unwrap(), Accepted::Yes);
        assert_eq!(s.ingresses[0].metadata.namespace.as_deref(), Some("default"));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(s.add_object(cm).unwrap(), Accepted::OtherKind("ConfigMap".into()));
    }

    #[test]
    fn lists_add_their_items() {
        let mut s = ClusterState::default();
        let list = json!({"kind": "List", "items": [
            {"kind": "Service", "metadata": {"name": "a"}},
            {"kind": "IngressClass", "metadata": {"name": "c"}}]});
        s.add_object(list).unwrap();
        assert_eq!(s.services.len(), 1);
        assert_eq!(s.ingress_classes[0].metadata.namespace, None);
    }

    #[test]
    fn a_malformed_object_is_named_in_the_error() {
        let mut s = ClusterState::default();
        let bad = json!({"kind": "Ingress", "metadata": {"name": "shop"}, "spec": {"rules": "nope"}});
        let err = s.add_object(bad).unwrap_err().to_string();
        assert!(err.starts_with("Ingress shop:"), "{err}");
    }
}
