//! Changes to a directory: filesystem events, coalesced, plus a periodic
//! rescan in case events are lost (e.g. when the directory is replaced, as
//! a ConfigMap mount does). Shared by the manifest and plugin directories.

use std::path::Path;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Waits for changes to one directory.
pub struct DirWatch {
    // Dropping the watcher stops its events.
    _watcher: Option<RecommendedWatcher>,
    events: mpsc::Receiver<()>,
    ticker: tokio::time::Interval,
}

impl DirWatch {
    /// Watches `dir` (`what` names it in logs), rescanning every `rescan`.
    pub fn new(dir: &Path, what: &str, rescan: Duration) -> Self {
        let (event_tx, events) = mpsc::channel::<()>(1);
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Reading the files is itself an event (open, access): reacting
            // to it would reload forever.
            if res.is_ok_and(|e| !matches!(e.kind, notify::EventKind::Access(_))) {
                let _ = event_tx.try_send(());
            }
        });
        let watcher = match watcher {
            Ok(mut w) => match w.watch(dir, RecursiveMode::Recursive) {
                Ok(()) => Some(w),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the {what} directory; rescanning periodically");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "no filesystem notifications; rescanning the {what} directory periodically");
                None
            }
        };
        let mut ticker = tokio::time::interval(rescan);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self { _watcher: watcher, events, ticker }
    }

    /// Returns at the next change (or rescan), once a burst of writes has
    /// gone quiet: editors and `kubectl cp` write in bursts.
    pub async fn changed(&mut self) {
        tokio::select! {
            Some(()) = self.events.recv() => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                while self.events.try_recv().is_ok() {}
            }
            _ = self.ticker.tick() => {}
        }
    }
}
