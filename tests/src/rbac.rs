//! The deployment manifests as typed Kubernetes objects, and the RBAC rules
//! they grant the gateway's ServiceAccount.

use std::path::{Path, PathBuf};

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde_json::Value;

use crate::kube_api::ApiCall;

/// The ServiceAccount the gateway runs as.
pub const SERVICE_ACCOUNT: (&str, &str) = ("wasmgress", "wasmgress");

pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/deploy")
}

/// Every YAML document under `dir` (recursively), with its file.
pub fn documents(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("manifest dir").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(documents(&path));
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let docs: Vec<Value> =
                serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.extend(docs.into_iter().filter(|d| !d.is_null()).map(|d| (path.clone(), d)));
        }
    }
    out
}

/// The rules bound to the gateway's ServiceAccount: cluster-wide ones and
/// those of Roles in their namespace.
pub struct Rules {
    cluster: Vec<PolicyRule>,
    namespaced: Vec<(String, PolicyRule)>,
}

fn binds_gateway(subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>) -> bool {
    subjects.iter().flatten().any(|s| {
        s.kind == "ServiceAccount" && s.name == SERVICE_ACCOUNT.1 && s.namespace.as_deref() == Some(SERVICE_ACCOUNT.0)
    })
}

impl Rules {
    pub fn from_deploy_manifests() -> Self {
        let docs = documents(&deploy_dir());
        let of_kind = |kind: &'static str| docs.iter().filter(move |(_, d)| d["kind"] == kind).map(|(_, d)| d.clone());
        let cluster_roles: Vec<ClusterRole> =
            of_kind("ClusterRole").map(|d| serde_json::from_value(d).expect("ClusterRole")).collect();
        let roles: Vec<Role> = of_kind("Role").map(|d| serde_json::from_value(d).expect("Role")).collect();
        let mut rules = Rules { cluster: Vec::new(), namespaced: Vec::new() };
        for b in of_kind("ClusterRoleBinding").map(|d| serde_json::from_value::<ClusterRoleBinding>(d).unwrap()) {
            if !binds_gateway(&b.subjects) {
                continue;
            }
            let role = cluster_roles.iter().find(|r| r.metadata.name.as_deref() == Some(&b.role_ref.name));
            rules.cluster.extend(role.and_then(|r| r.rules.clone()).unwrap_or_default());
        }
        for b in of_kind("RoleBinding").map(|d| serde_json::from_value::<RoleBinding>(d).unwrap()) {
            if !binds_gateway(&b.subjects) {
                continue;
            }
            let ns = b.metadata.namespace.clone().unwrap_or_default();
            let granted = match b.role_ref.kind.as_str() {
                "ClusterRole" => cluster_roles
                    .iter()
                    .find(|r| r.metadata.name.as_deref() == Some(&b.role_ref.name))
                    .and_then(|r| r.rules.clone()),
                _ => roles
                    .iter()
                    .find(|r| {
                        r.metadata.name.as_deref() == Some(&b.role_ref.name)
                            && r.metadata.namespace.as_deref() == Some(&ns)
                    })
                    .and_then(|r| r.rules.clone()),
            };
            rules.namespaced.extend(granted.unwrap_or_default().into_iter().map(|r| (ns.clone(), r)));
        }
        rules
    }

    /// Whether the API server would authorize `call` for the gateway.
    /// `lease_namespace` stands for the namespace the gateway is deployed
    /// in (the tests' Lease lives there).
    pub fn allows(&self, call: &ApiCall, lease_namespace: &str) -> bool {
        let deployed = call.namespace.as_deref().map(|ns| if ns == lease_namespace { SERVICE_ACCOUNT.0 } else { ns });
        self.cluster.iter().any(|r| rule_allows(r, call))
            || self.namespaced.iter().any(|(ns, r)| Some(ns.as_str()) == deployed && rule_allows(r, call))
    }
}

fn rule_allows(rule: &PolicyRule, call: &ApiCall) -> bool {
    let has = |list: &Option<Vec<String>>, v: &str| list.iter().flatten().any(|x| x == v || x == "*");
    has(&rule.api_groups, call.group)
        && has(&rule.resources, &call.resource)
        && rule.verbs.iter().any(|v| v == call.verb || v == "*")
        && match (&rule.resource_names, &call.name) {
            (None, _) => true,
            (Some(names), _) if names.is_empty() => true,
            (Some(names), Some(name)) => names.contains(name),
            (Some(_), None) => false,
        }
}
