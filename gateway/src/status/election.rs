//! Leader election over a `coordination.k8s.io/v1` Lease, the way
//! client-go does it: the holder renews the Lease; a candidate takes it over
//! once it has seen no renewal for a whole lease duration (measured on its
//! own clock, so clock skew between nodes does not matter); every write
//! carries the resourceVersion it read, so two candidates cannot both win.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::watch;

/// Which Lease, who we are, and how fast leadership moves.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub namespace: String,
    /// The Lease's name (`--election-id`).
    pub lease_name: String,
    /// This replica's name in the Lease (the pod name).
    pub identity: String,
    /// How long a leader that stopped renewing keeps the Lease.
    pub lease_duration: Duration,
    /// How often the leader renews and candidates retry.
    pub retry_period: Duration,
}

impl ElectionConfig {
    pub fn new(namespace: impl Into<String>, lease_name: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            lease_name: lease_name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The Lease as last read, and when this replica saw it change.
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    at: Instant,
}

pub struct Election {
    api: Api<Lease>,
    cfg: ElectionConfig,
    observed: Option<Observed>,
    /// When the leader last renewed successfully.
    renewed: Option<Instant>,
}

impl Election {
    pub fn new(client: kube::Client, cfg: ElectionConfig) -> Self {
        Self { api: Api::namespaced(client, &cfg.namespace), cfg, observed: None, renewed: None }
    }

    /// Campaigns and renews until `stop` fires, publishing on `leader`
    /// whether this replica leads; then hands the Lease back if it held it,
    /// so the next leader need not wait for it to expire.
    pub async fn run(mut self, leader: watch::Sender<bool>, mut stop: watch::Receiver<bool>) {
        loop {
            let leads = self.try_acquire_or_renew().await;
            if leader.send_if_modified(|l| std::mem::replace(l, leads) != leads) {
                if leads {
                    tracing::info!(lease = %self.cfg.lease_name, identity = %self.cfg.identity, "became the leader");
                } else {
                    tracing::info!(lease = %self.cfg.lease_name, identity = %self.cfg.identity, "no longer the leader");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.cfg.retry_period) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        if *leader.borrow() {
            leader.send_replace(false);
            if let Err(e) = self.release().await {
                tracing::warn!(error = %e, "cannot release the leader Lease; it expires on its own");
            }
        }
    }

    /// One round: true when this replica holds the Lease afterwards.
    async fn try_acquire_or_renew(&mut self) -> bool {
        match self.round().await {
            Ok(leads) => {
                self.renewed = leads.then(Instant::now);
                leads
            }
            Err(e) => {
                // A leader that cannot reach the API keeps leading only
                // until others may take over: never two leaders at once.
                let deadline = self.cfg.lease_duration.mul_f32(2.0 / 3.0);
                let still = self.renewed.is_some_and(|t| t.elapsed() < deadline) && !is_conflict(&e);
                tracing::warn!(error = %e, still_leader = still, "leader election round failed");
                if !still {
                    self.renewed = None;
                }
                still
            }
        }
    }

    async fn round(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let Some(mut lease) = self.api.get_opt(&self.cfg.lease_name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.cfg.lease_name.clone()), ..Default::default() },
                spec: Some(self.spec(now.clone(), 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        self.observe(&holder, &spec.renew_time);
        let ours = holder.as_deref() == Some(self.cfg.identity.as_str());
        if !ours && holder.is_some() && !self.expired(&spec) {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        let acquired = if ours { spec.acquire_time.clone().unwrap_or(now.clone()) } else { now.clone() };
        lease.spec = Some(LeaseSpec { acquire_time: Some(acquired), ..self.spec(now, transitions) });
        // The resourceVersion read above makes this write conditional.
        match self.api.replace(&self.cfg.lease_name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn spec(&self, now: MicroTime, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.cfg.identity.clone()),
            lease_duration_seconds: Some(self.cfg.lease_duration.as_secs().max(1) as i32),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    /// Remembers when the Lease's record last changed, on our clock.
    fn observe(&mut self, holder: &Option<String>, renew_time: &Option<MicroTime>) {
        let same = self.observed.as_ref().is_some_and(|o| &o.holder == holder && &o.renew_time == renew_time);
        if !same {
            self.observed =
                Some(Observed { holder: holder.clone(), renew_time: renew_time.clone(), at: Instant::now() });
        }
    }

    fn expired(&self, spec: &LeaseSpec) -> bool {
        let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64);
        self.observed.as_ref().is_none_or(|o| o.at.elapsed() > duration)
    }

    /// Gives the Lease up: no holder, so a candidate takes it at once.
    async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.cfg.lease_name).await? else { return Ok(()) };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.cfg.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.api.replace(&self.cfg.lease_name, &PostParams::default(), &lease).await?;
        tracing::info!(lease = %self.cfg.lease_name, "released the leader Lease");
        Ok(())
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}
