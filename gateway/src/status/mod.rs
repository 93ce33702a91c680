//! What the gateway writes back to the cluster: the leader Lease, Ingress
//! statuses and Events. One elected replica writes for all of them.

pub mod election;
pub mod events;
pub mod publish;

use kube::Client;
use tokio::sync::watch;

use crate::controller::ConfigStatus;
use crate::source::Snapshot;
use crate::translate::TranslateOptions;
use election::{Election, ElectionConfig};
use events::EventPublisher;
use publish::{PublishConfig, StatusPublisher};

/// Runs the election and, while leading, the status and event writers,
/// until `stop`. Then clears the statuses if asked and hands the Lease back,
/// in that order, so the next leader starts from a settled state.
pub async fn run(
    client: Client,
    election: ElectionConfig,
    publish: Option<PublishConfig>,
    class: TranslateOptions,
    snapshots: watch::Receiver<Snapshot>,
    config: watch::Receiver<ConfigStatus>,
    stop: watch::Receiver<bool>,
) {
    let (leader_tx, leader) = watch::channel(false);
    let (stop_election, election_stop) = watch::channel(false);
    let identity = election.identity.clone();
    let elect = tokio::spawn(Election::new(client.clone(), election).run(leader_tx, election_stop));
    let events = EventPublisher::new(client.clone(), &class.controller_name, &identity);
    let events = tokio::spawn(events.run(config, snapshots.clone(), leader.clone()));
    match publish {
        Some(cfg) => StatusPublisher::new(client, cfg, class).run(snapshots, leader, stop).await,
        None => {
            tracing::info!(
                "neither --publish-service nor --publish-status-address is set: Ingress statuses are left alone"
            );
            let mut stop = stop;
            let _ = stop.wait_for(|s| *s).await;
        }
    }
    events.abort();
    stop_election.send_replace(true);
    let _ = elect.await;
}
