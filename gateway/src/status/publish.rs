//! Writes `status.loadBalancer.ingress` of every Ingress this controller
//! owns, while this replica leads: the addresses clients reach the gateway
//! at, so `kubectl get ingress` and external-dns see them.

use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::networking::v1::{Ingress, IngressLoadBalancerIngress};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use tokio::sync::watch;

use crate::cluster::ClusterState;
use crate::routing::ObjectKey;
use crate::source::Snapshot;
use crate::translate::TranslateOptions;
use crate::translate::class::ClassFilter;

/// Where the published addresses come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishAddress {
    /// That Service's load-balancer addresses (`--publish-service`).
    Service(ObjectKey),
    /// Fixed IPs or host names (`--publish-status-address`).
    Fixed(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct PublishConfig {
    pub address: PublishAddress,
    /// Empty the addresses on shutdown (for the last replica going away).
    pub clear_on_shutdown: bool,
}

/// How soon failed writes are tried again.
const RETRY: Duration = Duration::from_secs(5);

pub struct StatusPublisher {
    client: Client,
    cfg: PublishConfig,
    class: TranslateOptions,
}

impl StatusPublisher {
    pub fn new(client: Client, cfg: PublishConfig, class: TranslateOptions) -> Self {
        Self { client, cfg, class }
    }

    /// Keeps the statuses current while `leader` says so, until `stop`.
    pub async fn run(
        self,
        mut snapshots: watch::Receiver<Snapshot>,
        mut leader: watch::Receiver<bool>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut retry = false;
        loop {
            tokio::select! {
                r = snapshots.changed() => if r.is_err() { return },
                r = leader.changed() => if r.is_err() { return },
                () = tokio::time::sleep(RETRY), if retry => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            if !*leader.borrow_and_update() {
                continue;
            }
            let state = snapshots.borrow_and_update().state.clone();
            let wanted = self.addresses(&state);
            retry = !self.write_all(&state, &wanted).await;
        }
        if self.cfg.clear_on_shutdown && *leader.borrow() {
            let state = snapshots.borrow().state.clone();
            self.write_all(&state, &[]).await;
        }
    }

    /// The addresses to publish, as the Ingress status spells them.
    fn addresses(&self, state: &ClusterState) -> Vec<IngressLoadBalancerIngress> {
        let mut out: Vec<IngressLoadBalancerIngress> = match &self.cfg.address {
            PublishAddress::Fixed(list) => list.iter().map(|a| address(a)).collect(),
            PublishAddress::Service(key) => state
                .services
                .iter()
                .find(|s| s.metadata.namespace.as_deref() == Some(&key.namespace) && s.name_any() == key.name)
                .and_then(|s| s.status.as_ref()?.load_balancer.as_ref()?.ingress.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|lb| IngressLoadBalancerIngress { ip: lb.ip, hostname: lb.hostname, ..Default::default() })
                .collect(),
        };
        out.sort_by(|a, b| (&a.ip, &a.hostname).cmp(&(&b.ip, &b.hostname)));
        out.dedup();
        out
    }

    /// Patches every owned Ingress whose status differs; false if a write failed.
    async fn write_all(&self, state: &ClusterState, wanted: &[IngressLoadBalancerIngress]) -> bool {
        let filter = ClassFilter::new(state, &self.class);
        let mut ok = true;
        for ingress in state.ingresses.iter().filter(|i| filter.selects(i)) {
            if current(ingress) == wanted {
                continue;
            }
            if let Err(e) = self.write(ingress, wanted).await {
                tracing::warn!(ingress = %key(ingress), error = %e, "cannot update the Ingress status; retrying");
                ok = false;
            }
        }
        ok
    }

    async fn write(&self, ingress: &Ingress, wanted: &[IngressLoadBalancerIngress]) -> Result<(), kube::Error> {
        let ns = ingress.namespace().unwrap_or_default();
        let api: Api<Ingress> = Api::namespaced(self.client.clone(), &ns);
        let patch = serde_json::json!({ "status": { "loadBalancer": { "ingress": wanted } } });
        api.patch_status(&ingress.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
        tracing::info!(ingress = %key(ingress), addresses = wanted.len(), "Ingress status updated");
        Ok(())
    }
}

fn current(ingress: &Ingress) -> &[IngressLoadBalancerIngress] {
    let lb = ingress.status.as_ref().and_then(|s| s.load_balancer.as_ref());
    lb.and_then(|lb| lb.ingress.as_deref()).unwrap_or_default()
}

/// An IP goes in `ip`, anything else is a host name.
fn address(a: &str) -> IngressLoadBalancerIngress {
    match a.parse::<IpAddr>() {
        Ok(_) => IngressLoadBalancerIngress { ip: Some(a.to_string()), ..Default::default() },
        Err(_) => IngressLoadBalancerIngress { hostname: Some(a.to_string()), ..Default::default() },
    }
}

fn key(ingress: &Ingress) -> String {
    format!("{}/{}", ingress.namespace().unwrap_or_default(), ingress.name_any())
}
