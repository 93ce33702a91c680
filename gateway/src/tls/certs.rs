//! Which certificate each host gets: the Secrets named in the `spec.tls`
//! of the Ingresses we serve (oldest Ingress first on a conflict), and
//! what is wrong with them.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use rustls::sign::CertifiedKey;

use super::secret::{self, Served};
use crate::cluster::ClusterState;
use crate::diagnostics::Diagnostic;
use crate::routing::ObjectKey;
use crate::translate::TranslateOptions;

/// Certificates by host name.
pub struct CertTable {
    exact: HashMap<String, Served>,
    /// `*.example.com`, stored as `example.com`.
    wildcard: HashMap<String, Served>,
    default: Served,
}

impl CertTable {
    pub fn only(default: Served) -> Self {
        Self { exact: HashMap::new(), wildcard: HashMap::new(), default }
    }

    /// The certificate for a ClientHello's server name: exact, then a
    /// wildcard one label up, then the default.
    pub fn resolve(&self, sni: Option<&str>) -> Arc<CertifiedKey> {
        let found = sni.map(|s| s.trim_end_matches('.').to_ascii_lowercase()).and_then(|name| {
            self.exact
                .get(&name)
                .or_else(|| name.split_once('.').and_then(|(_, parent)| self.wildcard.get(parent)))
                .cloned()
        });
        found.unwrap_or_else(|| self.default.clone()).key
    }

    /// Each configured host (wildcards as `*.domain`) and when its certificate expires.
    pub fn expiries(&self) -> Vec<(String, i64)> {
        let exact = self.exact.iter().map(|(h, s)| (h.clone(), s.not_after));
        let wildcard = self.wildcard.iter().map(|(h, s)| (format!("*.{h}"), s.not_after));
        let mut out: Vec<(String, i64)> = exact.chain(wildcard).filter_map(|(h, at)| Some((h, at?))).collect();
        out.sort();
        out
    }
}

const INGRESS: &str = "Ingress";

/// Parses each Secret once per build, however many Ingresses name it.
struct Secrets<'a> {
    by_key: HashMap<(&'a str, &'a str), &'a Secret>,
    parsed: HashMap<(String, String), Result<Served, String>>,
}

impl<'a> Secrets<'a> {
    fn new(state: &'a ClusterState) -> Self {
        let mut by_key = HashMap::new();
        for s in &state.secrets {
            if let (Some(ns), Some(name)) = (s.metadata.namespace.as_deref(), s.metadata.name.as_deref()) {
                by_key.insert((ns, name), s);
            }
        }
        Self { by_key, parsed: HashMap::new() }
    }

    fn get(&mut self, ns: &str, name: &str) -> Result<Served, String> {
        let key = (ns.to_string(), name.to_string());
        if let Some(hit) = self.parsed.get(&key) {
            return hit.clone();
        }
        let result = match self.by_key.get(&(ns, name)) {
            None => Err("not found".to_string()),
            Some(s) => secret::parse(s),
        };
        self.parsed.insert(key, result.clone());
        result
    }
}

/// The table for `state`, and a diagnostic for each unusable Secret,
/// conflicting host and expired certificate.
pub fn build(
    state: &ClusterState,
    opts: &TranslateOptions,
    default_secret: Option<&ObjectKey>,
    generated: &Served,
    now: i64,
) -> (CertTable, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut secrets = Secrets::new(state);
    let default = match default_secret {
        None => generated.clone(),
        Some(key) => match secrets.get(&key.namespace, &key.name) {
            Ok(served) => {
                diagnostics.extend(expired(&served, now).map(|w| Diagnostic::warning("Secret", key, w)));
                served
            }
            Err(e) => {
                let msg =
                    format!("--default-ssl-certificate: TLS secret {e}; a generated certificate is served instead");
                diagnostics.push(Diagnostic::warning("Secret", key, msg));
                generated.clone()
            }
        },
    };
    let mut table = CertTable::only(default);
    let ingresses = crate::translate::ours_oldest_first(state, opts);
    // Which Ingress (and Secret) each host's certificate came from.
    let mut owners: HashMap<String, (ObjectKey, String)> = HashMap::new();
    for ingress in ingresses {
        let ns = ingress.metadata.namespace.as_deref().unwrap_or("default");
        let key = ObjectKey::new(ns, ingress.metadata.name.as_deref().unwrap_or("<unnamed>"));
        for tls in ingress.spec.as_ref().and_then(|s| s.tls.as_deref()).unwrap_or_default() {
            let hosts: Vec<String> = tls.hosts.iter().flatten().map(|h| h.to_ascii_lowercase()).collect();
            let Some(name) = tls.secret_name.as_deref().filter(|n| !n.is_empty()) else {
                continue; // No Secret: these hosts get the default certificate, as intended.
            };
            let served = match secrets.get(ns, name) {
                Ok(served) => served,
                Err(e) => {
                    let msg =
                        format!("TLS secret {ns}/{name} {e}: hosts {} get the default certificate", hosts.join(", "));
                    diagnostics.push(Diagnostic::warning(INGRESS, &key, msg));
                    continue;
                }
            };
            if let Some(w) = expired(&served, now) {
                diagnostics.push(Diagnostic::warning(INGRESS, &key, format!("TLS secret {ns}/{name}: {w}")));
            }
            for host in hosts {
                let secret = format!("{ns}/{name}");
                if let Some((owner, held)) = owners.get(&host) {
                    if *held != secret {
                        let msg = format!(
                            "TLS host {host}: ingress {owner}, which is older, already serves it with secret {held}; secret {secret} is ignored for it"
                        );
                        diagnostics.push(Diagnostic::warning(INGRESS, &key, msg));
                    }
                    continue;
                }
                owners.insert(host.clone(), (key.clone(), secret));
                match host.strip_prefix("*.") {
                    Some(domain) => table.wildcard.insert(domain.to_string(), served.clone()),
                    None => table.exact.insert(host, served.clone()),
                };
            }
        }
    }
    (table, diagnostics)
}

/// Expired certificates are still served (better than the default one for
/// clients that tolerate it), but reported.
fn expired(served: &Served, now: i64) -> Option<String> {
    let at = served.not_after?;
    (at <= now).then(|| {
        let when = k8s_openapi::jiff::Timestamp::from_second(at).map(|t| t.to_string()).unwrap_or_default();
        format!("the certificate expired at {when} (it is still served)")
    })
}
