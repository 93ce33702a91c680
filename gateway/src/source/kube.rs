//! The cluster source: kube-runtime reflectors for the five kinds the
//! gateway reads, published as whole snapshots once every initial list has
//! synced, then again after each burst of changes.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::ListParams;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};

use crate::cluster::ClusterState;
use crate::diagnostics::{self, Diagnostic};
use crate::source::Snapshot;

/// Only TLS Secrets: the gateway never holds other Secrets in memory.
pub const TLS_SECRETS: &str = "type=kubernetes.io/tls";

/// How long a burst of changes may run before a snapshot is published: a
/// rolling update touches many EndpointSlices within a few milliseconds.
const SETTLE: Duration = Duration::from_millis(50);
/// How often a failing kind is listed to see whether the API answers again.
const RECOVERY_PROBE: Duration = Duration::from_secs(1);

/// What to watch.
#[derive(Clone)]
pub struct KubeSource {
    client: Client,
    /// Limits every namespaced kind to one namespace (an Ingress may only
    /// name Services and Secrets of its own namespace anyway).
    namespace: Option<String>,
}

/// The current watch failure of each kind, shown with the snapshot's
/// diagnostics until the watch recovers.
type Failures = Arc<Mutex<BTreeMap<&'static str, String>>>;

struct Stores {
    ingresses: Store<Ingress>,
    classes: Store<IngressClass>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    secrets: Store<Secret>,
}

impl KubeSource {
    pub fn new(client: Client, namespace: Option<String>) -> Self {
        Self { client, namespace }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    /// Starts the watches and publishes snapshots on `out` until every
    /// receiver is gone. The first snapshot comes once every kind has been
    /// listed, so the first route table is never built from half a cluster.
    pub async fn run(self, out: watch::Sender<Snapshot>) {
        let changed = Arc::new(Notify::new());
        let failures = Failures::default();
        let stores = Stores {
            ingresses: self.reflect("Ingress", self.api(), watcher::Config::default(), &changed, &failures),
            classes: self.reflect(
                "IngressClass",
                Api::all(self.client.clone()),
                watcher::Config::default(),
                &changed,
                &failures,
            ),
            services: self.reflect("Service", self.api(), watcher::Config::default(), &changed, &failures),
            slices: self.reflect("EndpointSlice", self.api(), watcher::Config::default(), &changed, &failures),
            secrets: self.reflect(
                "Secret",
                self.api(),
                watcher::Config::default().fields(TLS_SECRETS),
                &changed,
                &failures,
            ),
        };
        for ready in [
            stores.ingresses.wait_until_ready().await,
            stores.classes.wait_until_ready().await,
            stores.services.wait_until_ready().await,
            stores.slices.wait_until_ready().await,
            stores.secrets.wait_until_ready().await,
        ] {
            if ready.is_err() {
                return;
            }
        }
        tracing::info!("cluster objects listed: building the first route table");
        loop {
            let snapshot = stores.snapshot(&failures);
            out.send_if_modified(|current| {
                let modified = *current != snapshot;
                *current = snapshot;
                modified
            });
            tokio::select! {
                () = changed.notified() => {}
                () = out.closed() => return,
            }
            tokio::time::sleep(SETTLE).await;
        }
    }

    /// A reflector for one kind, driven on its own task: retried with
    /// backoff on errors, relisted after an expired resource version.
    fn reflect<K>(
        &self,
        kind: &'static str,
        api: Api<K>,
        config: watcher::Config,
        changed: &Arc<Notify>,
        failures: &Failures,
    ) -> Store<K>
    where
        K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    {
        let (store, writer) = reflector::store();
        // A cheap read of the same objects, to tell when the API answers again.
        let probe = ListParams { field_selector: config.field_selector.clone(), limit: Some(1), ..Default::default() };
        let probe_api = api.clone();
        let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
        let (changed, failures) = (changed.clone(), failures.clone());
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(event) => {
                        let recovered = failures.lock().unwrap_or_else(|e| e.into_inner()).remove(kind).is_some();
                        if recovered {
                            tracing::info!(kind, "watch recovered");
                        }
                        // Events inside an initial list are applied at its end.
                        if recovered || !matches!(event, watcher::Event::Init | watcher::Event::InitApply(_)) {
                            changed.notify_one();
                        }
                    }
                    Err(e) => {
                        let message = format!("watching {kind} objects failed, retrying: {e}");
                        let mut failed = failures.lock().unwrap_or_else(|e| e.into_inner());
                        let first = !failed.contains_key(kind);
                        if failed.get(kind) != Some(&message) {
                            tracing::warn!(kind, error = %e, "watch failed; retrying with backoff");
                            failed.insert(kind, message);
                            changed.notify_one();
                        }
                        if first {
                            let recovery =
                                recovery(kind, probe_api.clone(), probe.clone(), failures.clone(), changed.clone());
                            tokio::spawn(recovery);
                        }
                    }
                }
            }
        });
        store
    }
}

/// Clears `kind`'s failure once a list of it succeeds again. A quiet kind's
/// resumed watch yields nothing to say it recovered, while the API server
/// answering is what the failure was about; changes made meanwhile arrive
/// when the watch's backoff ends.
async fn recovery<K>(kind: &'static str, api: Api<K>, probe: ListParams, failures: Failures, changed: Arc<Notify>)
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned,
{
    loop {
        tokio::time::sleep(RECOVERY_PROBE).await;
        if !failures.lock().unwrap_or_else(|e| e.into_inner()).contains_key(kind) {
            return;
        }
        if api.list_metadata(&probe).await.is_ok() {
            if failures.lock().unwrap_or_else(|e| e.into_inner()).remove(kind).is_some() {
                tracing::info!(kind, "the API server answers again");
                changed.notify_one();
            }
            return;
        }
    }
}

impl Stores {
    fn snapshot(&self, failures: &Failures) -> Snapshot {
        let state = ClusterState {
            ingresses: sorted(&self.ingresses),
            ingress_classes: sorted(&self.classes),
            services: sorted(&self.services),
            endpoint_slices: sorted(&self.slices),
            secrets: sorted(&self.secrets),
        };
        let diagnostics = failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(kind, message)| Diagnostic::warning(diagnostics::SOURCE, format!("cluster {kind}"), message.clone()))
            .collect();
        Snapshot { state, diagnostics }
    }
}

/// The store's objects in a stable order, so an unchanged cluster yields an
/// equal snapshot (and no new route table).
fn sorted<K: Resource<DynamicType = ()> + Clone>(store: &Store<K>) -> Vec<K> {
    let mut objects: Vec<K> = store.state().iter().map(|o| K::clone(o)).collect();
    objects.sort_by_key(|o| (o.namespace(), o.name_any()));
    objects
}

/// A client for the cluster: from `kubeconfig` when given, else as kubectl
/// finds one (`KUBECONFIG`, `~/.kube/config`), else the in-cluster service
/// account.
pub async fn client(kubeconfig: Option<&std::path::Path>) -> anyhow::Result<Client> {
    use anyhow::Context;
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).with_context(|| format!("cannot read {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("cannot use {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no cluster found (no kubeconfig, not in a pod); to run from files, pass --manifests DIR")?,
    };
    Client::try_from(config).context("cannot build a Kubernetes client")
}
