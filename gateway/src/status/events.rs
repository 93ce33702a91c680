//! Kubernetes Events on Ingresses for the gateway's diagnostics, so
//! `kubectl describe ingress` says what is wrong. A problem is reported when
//! it appears, not at every reload; the recorder folds repeats into a series.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::watch;

use crate::controller::ConfigStatus;
use crate::diagnostics::{Diagnostic, Severity};
use crate::source::Snapshot;

/// Longest note the Events API accepts.
const MAX_NOTE: usize = 1024;

pub struct EventPublisher {
    recorder: Recorder,
}

impl EventPublisher {
    pub fn new(client: Client, controller: &str, identity: &str) -> Self {
        let reporter = Reporter { controller: controller.to_string(), instance: Some(identity.to_string()) };
        Self { recorder: Recorder::new(client, reporter) }
    }

    /// Reports new Ingress diagnostics while `leader` says so (the leader
    /// speaks for all replicas, which see the same objects).
    pub async fn run(
        self,
        mut status: watch::Receiver<ConfigStatus>,
        snapshots: watch::Receiver<Snapshot>,
        mut leader: watch::Receiver<bool>,
    ) {
        let mut reported: HashSet<Diagnostic> = HashSet::new();
        loop {
            tokio::select! {
                r = status.changed() => if r.is_err() { return },
                r = leader.changed() => {
                    if r.is_err() { return }
                    // A new leader reports what is wrong now, once.
                    reported.clear();
                }
            }
            if !*leader.borrow_and_update() {
                continue;
            }
            let current: Vec<Diagnostic> =
                status.borrow_and_update().diagnostics.iter().filter(|d| d.kind == "Ingress").cloned().collect();
            let mut next = HashSet::with_capacity(current.len());
            for d in current {
                if reported.contains(&d) {
                    next.insert(d);
                    continue;
                }
                // Not yet published ones are tried again at the next change.
                let reference = ingress_ref(&snapshots.borrow(), &d.object);
                let Some(reference) = reference else { continue };
                match self.recorder.publish(&event(&d), &reference).await {
                    Ok(()) => {
                        next.insert(d);
                    }
                    Err(e) => tracing::warn!(object = %d.object, error = %e, "cannot publish an Event"),
                }
            }
            reported = next;
        }
    }
}

fn event(d: &Diagnostic) -> Event {
    let reason = match d.severity {
        Severity::Rejected => "Rejected",
        Severity::Warning => "Degraded",
    };
    let mut note = d.message.clone();
    if note.len() > MAX_NOTE {
        let mut end = MAX_NOTE - 3;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push_str("...");
    }
    Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note),
        action: "Translate".into(),
        secondary: None,
    }
}

/// The Ingress `namespace/name` as the Events API refers to it.
fn ingress_ref(snapshot: &Snapshot, object: &str) -> Option<ObjectReference> {
    let (ns, name) = object.split_once('/')?;
    let ingress = snapshot
        .state
        .ingresses
        .iter()
        .find(|i| i.metadata.namespace.as_deref() == Some(ns) && i.metadata.name.as_deref() == Some(name))?;
    Some(ObjectReference {
        api_version: Some("networking.k8s.io/v1".into()),
        kind: Some("Ingress".into()),
        namespace: Some(ns.into()),
        name: Some(name.into()),
        // No resourceVersion: a recurring problem must match its earlier
        // Event even after the Ingress changed (e.g. its status).
        uid: ingress.metadata.uid.clone(),
        ..Default::default()
    })
}
