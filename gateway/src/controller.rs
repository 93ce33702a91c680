//! The control loop: translate the latest snapshot of objects and swap the
//! new route table in. Requests already running keep the table they loaded.

use std::collections::HashSet;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::diagnostics::{Diagnostic, Severity};
use crate::routing::RouteTable;
use crate::source::Snapshot;
use crate::telemetry::metrics;
use crate::tls::TlsStore;
use crate::translate::{PluginResolver, TranslateOptions, refresh_endpoints, translate_with_plugins};

/// The configuration as last applied.
#[derive(Debug, Clone, Default)]
pub struct ConfigStatus {
    /// How many route tables have been applied; 0 until the first one.
    pub generation: u64,
    /// Every problem with the applied objects.
    pub diagnostics: Vec<Diagnostic>,
    /// Ingress path rules in the live table.
    pub rules: usize,
}

/// What a configuration is applied to: the route table, the certificates
/// and the published status, with the options and plugins translation uses.
pub struct Applier {
    pub opts: TranslateOptions,
    pub plugins: Arc<dyn PluginResolver>,
    pub routes: Arc<ArcSwap<RouteTable>>,
    pub status: watch::Sender<ConfigStatus>,
    /// The HTTPS listeners' certificates; `None` when HTTPS is off.
    pub tls: Option<Arc<TlsStore>>,
}

impl Applier {
    /// Translates one snapshot, swaps the table and certificates in and
    /// publishes the status.
    pub fn apply(&self, snapshot: &Snapshot) {
        let (table, mut diagnostics) = translate_with_plugins(&snapshot.state, &self.opts, &*self.plugins);
        if let Some(tls) = &self.tls {
            diagnostics.extend(tls.apply(&snapshot.state, &self.opts));
            diagnostics.sort();
        }
        diagnostics.extend(snapshot.diagnostics.iter().cloned());
        diagnostics.extend(self.plugins.diagnostics());
        let rules = table.rule_count();
        self.routes.store(Arc::new(table));
        metrics::reloaded(!diagnostics.iter().any(|d| d.severity == Severity::Rejected), rules);
        self.status.send_modify(|s| {
            log_changes(&s.diagnostics, &diagnostics);
            s.generation += 1;
            s.diagnostics = diagnostics;
            s.rules = rules;
            tracing::info!(generation = s.generation, rules, problems = s.diagnostics.len(), "route table applied");
        });
    }

    /// Moves the live table's backends to the endpoints in `snapshot` and
    /// updates the "no ready endpoints" diagnostics to match.
    pub fn apply_endpoints(&self, snapshot: &Snapshot) {
        let table = self.routes.load_full();
        let before = table.endpoint_warnings();
        let changed = refresh_endpoints(&table, &snapshot.state);
        let after = table.endpoint_warnings();
        self.status.send_modify(|s| {
            let mut diagnostics: Vec<Diagnostic> =
                s.diagnostics.iter().filter(|d| before.binary_search(d).is_err()).cloned().collect();
            diagnostics.extend(after);
            diagnostics.sort();
            diagnostics.dedup();
            log_changes(&s.diagnostics, &diagnostics);
            metrics::reloaded(!diagnostics.iter().any(|d| d.severity == Severity::Rejected), s.rules);
            s.generation += 1;
            s.diagnostics = diagnostics;
            tracing::info!(generation = s.generation, backends = changed, "endpoints updated in place");
        });
    }
}

/// Whether two snapshots differ in EndpointSlices only: then the live
/// table's backends take the new endpoints in place, and nothing else is
/// rebuilt.
fn endpoints_only(before: &Snapshot, after: &Snapshot) -> bool {
    let (b, a) = (&before.state, &after.state);
    b.ingresses == a.ingresses
        && b.ingress_classes == a.ingress_classes
        && b.services == a.services
        && b.secrets == a.secrets
        && before.diagnostics == after.diagnostics
}

/// Logs problems when they appear and when they go away, not at every
/// reload, so a steady error does not flood the log.
fn log_changes(before: &[Diagnostic], after: &[Diagnostic]) {
    let old: HashSet<&Diagnostic> = before.iter().collect();
    let new: HashSet<&Diagnostic> = after.iter().collect();
    for d in after.iter().filter(|d| !old.contains(d)) {
        match d.severity {
            Severity::Rejected => tracing::error!(kind = d.kind, object = %d.object, "{}", d.message),
            Severity::Warning => tracing::warn!(kind = d.kind, object = %d.object, "{}", d.message),
        }
    }
    for d in before.iter().filter(|d| !new.contains(d)) {
        tracing::info!(kind = d.kind, object = %d.object, "resolved: {}", d.message);
    }
}

/// Applies every new snapshot until the source goes away. A burst of
/// changes yields one translation: the watch channel keeps only the latest.
pub async fn run(
    applier: Arc<Applier>,
    mut snapshots: watch::Receiver<Snapshot>,
    mut plugin_changes: Option<watch::Receiver<u64>>,
    initial: Option<Arc<Snapshot>>,
) {
    // The snapshot the live table was built from; a later one that differs
    // only in EndpointSlices is applied in place.
    let mut applied: Option<Arc<Snapshot>> = initial;
    loop {
        // New plugin modules mean new specs for the same objects.
        let plugins_changed = async {
            match plugin_changes.as_mut() {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let (plugins_gone, plugins_changed_now) = tokio::select! {
            r = snapshots.changed() => {
                if r.is_err() {
                    return;
                }
                (false, false)
            }
            ok = plugins_changed => (!ok, ok),
        };
        if plugins_gone {
            plugin_changes = None;
            continue;
        }
        // One copy of the snapshot, shared by the translation and `applied`.
        let snapshot = Arc::new(snapshots.borrow_and_update().clone());
        let in_place = !plugins_changed_now && applied.as_ref().is_some_and(|last| endpoints_only(last, &snapshot));
        applied = Some(snapshot.clone());
        let applier = applier.clone();
        // Translation is CPU work: keep it off the threads serving requests.
        let done = tokio::task::spawn_blocking(move || {
            if in_place {
                applier.apply_endpoints(&snapshot);
            } else {
                applier.apply(&snapshot);
            }
        })
        .await;
        if let Err(e) = done {
            tracing::error!(error = %e, "translation failed; the previous route table keeps serving");
        }
    }
}
