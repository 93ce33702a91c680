//! Where Kubernetes objects come from. Each source publishes whole
//! snapshots; the controller translates the latest one.

pub mod files;
pub mod kube;
pub mod watch;

use crate::cluster::ClusterState;
use crate::diagnostics::Diagnostic;

/// Everything a source knows at one moment, with the problems it met
/// reading it (e.g. a file that does not parse).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub state: ClusterState,
    pub diagnostics: Vec<Diagnostic>,
}
