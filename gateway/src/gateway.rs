//! A running gateway: source, control loop, traffic and admin listeners,
//! wired together in one visible place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::admin;
use crate::controller::{self, Applier, ConfigStatus};
use crate::proxy::ProxyOptions;
use crate::proxy::callout::ServiceCaller;
use crate::proxy::server::ListenerOptions;
use crate::proxy::workers;
use crate::routing::{ObjectKey, RouteTable};
use crate::source::files::FileSource;
use crate::source::kube::KubeSource;
use crate::source::watch::DirWatch;
use crate::status::election::ElectionConfig;
use crate::status::publish::PublishConfig;
use crate::telemetry::trace::Tracing;
use crate::tls::TlsStore;
use crate::translate::{NoPlugins, PluginResolver, TranslateOptions};
use crate::wasm::{PluginRuntime, Plugins, RuntimeOptions};

/// Everything a gateway needs to start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub http_listen: SocketAddr,
    /// TLS termination; `None`: no HTTPS listener.
    pub https_listen: Option<SocketAddr>,
    /// NAMESPACE/NAME of the Secret served for hosts without a certificate
    /// of their own (else a generated self-signed one).
    pub default_ssl_certificate: Option<ObjectKey>,
    pub admin_listen: SocketAddr,
    /// Where the Kubernetes objects come from.
    pub source: SourceConfig,
    /// How often the directory is rescanned besides filesystem events.
    pub rescan_interval: Duration,
    pub translate: TranslateOptions,
    pub proxy: ProxyOptions,
    pub listener: ListenerOptions,
    /// Threads serving traffic, each with its own runtime and socket.
    pub workers: usize,
    /// Where installed plugins are; `None`: no plugins.
    pub plugins: Option<PluginConfig>,
}

/// Where the Kubernetes objects come from.
#[derive(Clone)]
pub enum SourceConfig {
    /// A directory of manifests, watched for changes (no cluster needed).
    Files(PathBuf),
    /// A cluster's API server.
    Cluster(Box<ClusterConfig>),
}

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceConfig::Files(dir) => write!(f, "Files({})", dir.display()),
            SourceConfig::Cluster(c) => write!(f, "Cluster(namespace: {:?})", c.watch_namespace),
        }
    }
}

/// The cluster to watch and what to write back to it.
#[derive(Clone)]
pub struct ClusterConfig {
    pub client: kube::Client,
    /// Watch one namespace only (`--watch-namespace`).
    pub watch_namespace: Option<String>,
    pub election: ElectionConfig,
    /// `None`: Ingress statuses are not written.
    pub publish: Option<PublishConfig>,
}

/// The plugin directory and the limits plugins run under.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// `NAME.wasm` files the operator installed.
    pub dir: PathBuf,
    /// Where precompiled modules are kept across restarts.
    pub cache: Option<PathBuf>,
    pub runtime: RuntimeOptions,
}

impl GatewayConfig {
    /// Defaults for a directory of manifests, listening where the CLI does.
    pub fn new(manifests: impl Into<PathBuf>) -> Self {
        Self::with_source(SourceConfig::Files(manifests.into()))
    }

    /// Defaults for any source, listening where the CLI does.
    pub fn with_source(source: SourceConfig) -> Self {
        Self {
            http_listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            https_listen: Some(SocketAddr::from(([0, 0, 0, 0], 8443))),
            default_ssl_certificate: None,
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            source,
            rescan_interval: Duration::from_secs(5),
            translate: TranslateOptions::default(),
            proxy: ProxyOptions::default(),
            listener: ListenerOptions::default(),
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            plugins: None,
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read manifests from {dir}: {source}")]
    Manifests { dir: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the plugin runtime: {0}")]
    Plugins(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// A started gateway. Dropping it does not stop it: call `shutdown`.
pub struct Gateway {
    http_addr: SocketAddr,
    https_addr: Option<SocketAddr>,
    admin_addr: SocketAddr,
    routes: Arc<ArcSwap<RouteTable>>,
    status: watch::Receiver<ConfigStatus>,
    shutdown: watch::Sender<bool>,
    workers: Vec<oneshot::Receiver<()>>,
    /// What must finish before the process exits (status writes, the Lease).
    control: Vec<tokio::task::JoinHandle<()>>,
    tracing: Option<Arc<Tracing>>,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })
}

impl Gateway {
    /// Starts serving once the listeners are bound. From files, the first
    /// route table is applied before that; from a cluster, it follows the
    /// first complete listing (until then `/readyz` answers 503).
    pub async fn start(cfg: GatewayConfig) -> Result<Self, StartError> {
        // Files are read before serving; a cluster is listed in the
        // background and /readyz waits for its first route table.
        let (first, file_source) = match &cfg.source {
            SourceConfig::Files(dir) => {
                let mut source = FileSource::new(dir);
                let first = source.load().map_err(|source| StartError::Manifests { dir: dir.clone(), source })?;
                (Some(first), Some(source))
            }
            SourceConfig::Cluster(_) => (None, None),
        };
        let routes = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
        let mut installed = None;
        let plugins: Arc<dyn PluginResolver> = match &cfg.plugins {
            None => Arc::new(NoPlugins),
            Some(p) => {
                let runtime =
                    PluginRuntime::new(p.runtime.clone()).map_err(|e| StartError::Plugins(format!("{e:#}")))?;
                runtime.set_callout(Arc::new(ServiceCaller::new(&routes, cfg.proxy.upstream.clone())));
                if let Some(cache) = &p.cache
                    && let Err(e) = std::fs::create_dir_all(cache)
                {
                    tracing::warn!(dir = %cache.display(), error = %e, "cannot create the plugin cache directory");
                }
                let loaded = Arc::new(Plugins::load(runtime, p.dir.clone(), p.cache.clone()));
                installed = Some((loaded.clone(), p.dir.clone()));
                loaded
            }
        };
        let tls = match cfg.https_listen {
            None => None,
            Some(_) => Some(Arc::new(TlsStore::new(cfg.default_ssl_certificate.clone()).map_err(StartError::Tls)?)),
        };
        let server_config =
            tls.as_ref().map(|t| t.server_config()).transpose().map_err(|e| StartError::Tls(e.to_string()))?;
        let (status_tx, status) = watch::channel(ConfigStatus::default());
        let applier = Arc::new(Applier {
            opts: cfg.translate.clone(),
            plugins,
            routes: routes.clone(),
            status: status_tx,
            tls: tls.clone(),
        });
        if let Some(first) = &first {
            applier.apply(first);
        }

        let bind_error = |source| StartError::Bind { addr: cfg.http_listen, source };
        let http = workers::bind_reuseport(cfg.http_listen, cfg.workers).map_err(bind_error)?;
        let http_addr = http[0].local_addr().map_err(bind_error)?;
        let (https, https_addr) = match cfg.https_listen {
            None => (Vec::new(), None),
            Some(addr) => {
                let bind_error = |source| StartError::Bind { addr, source };
                let https = workers::bind_reuseport(addr, cfg.workers).map_err(bind_error)?;
                let local = https[0].local_addr().map_err(bind_error)?;
                (https, Some(local))
            }
        };
        let admin_listener = bind(cfg.admin_listen).await?;
        let admin_addr =
            admin_listener.local_addr().map_err(|source| StartError::Bind { addr: cfg.admin_listen, source })?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut control = Vec::new();
        let (snapshot_tx, snapshot_rx) = watch::channel(first.clone().unwrap_or_default());
        if let Some(source) = file_source {
            tokio::spawn(source.watch(snapshot_tx, cfg.rescan_interval));
        } else if let SourceConfig::Cluster(cluster) = &cfg.source {
            tokio::spawn(KubeSource::new(cluster.client.clone(), cluster.watch_namespace.clone()).run(snapshot_tx));
            control.push(tokio::spawn(crate::status::run(
                cluster.client.clone(),
                cluster.election.clone(),
                cluster.publish.clone(),
                cfg.translate.clone(),
                snapshot_rx.clone(),
                status.clone(),
                shutdown_rx.clone(),
            )));
        }
        let plugin_changes = installed.map(|(plugins, dir)| {
            let (tx, rx) = watch::channel(0);
            tokio::spawn(watch_plugins(plugins, dir, cfg.rescan_interval, tx));
            rx
        });
        tokio::spawn(controller::run(applier, snapshot_rx, plugin_changes, first.map(Arc::new)));

        let proxy = ProxyOptions { https_redirect: https_addr.is_some(), ..cfg.proxy.clone() };
        let workers = workers::spawn(
            http,
            https,
            server_config,
            routes.clone(),
            proxy,
            cfg.listener.clone(),
            shutdown_rx.clone(),
        )
        .map_err(bind_error)?;
        tokio::spawn(admin::serve(admin_listener, status.clone(), tls, shutdown_rx));
        tracing::info!(%http_addr, ?https_addr, %admin_addr, source = ?cfg.source, "wasmgress is serving");
        let tracing = cfg.proxy.tracing.clone();
        Ok(Self { http_addr, https_addr, admin_addr, routes, status, shutdown, workers, control, tracing })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The HTTPS listener, when TLS is on.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The live route table.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.routes.load_full()
    }

    /// Follows every configuration the gateway applies.
    pub fn status(&self) -> watch::Receiver<ConfigStatus> {
        self.status.clone()
    }

    /// Stops accepting connections and starts draining the open ones.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits until every worker has drained (after `shutdown`).
    pub async fn wait(self) {
        for w in self.workers {
            let _ = w.await;
        }
        for task in self.control {
            let _ = task.await;
        }
        if let Some(tracing) = self.tracing {
            // Blocks until the batch is exported, which runs on this runtime.
            let _ = tokio::task::spawn_blocking(move || tracing.shutdown()).await;
        }
    }
}

/// Reloads the plugin directory when it changes, counting each change
/// that matters on `changes`, until the controller stops listening.
async fn watch_plugins(plugins: Arc<Plugins>, dir: PathBuf, rescan: Duration, changes: watch::Sender<u64>) {
    let mut watch = DirWatch::new(&dir, "plugin", rescan);
    loop {
        tokio::select! {
            () = watch.changed() => {}
            _ = changes.closed() => return,
        }
        let plugins = plugins.clone();
        // Compiling is CPU work: off the serving threads.
        match tokio::task::spawn_blocking(move || plugins.reload()).await {
            Ok(true) => {
                changes.send_modify(|n| *n += 1);
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "reloading plugins failed; the loaded ones keep serving"),
        }
    }
}

/// Listens for SIGTERM and SIGINT, the signals that start a graceful
/// shutdown. The handlers are installed before this returns, so a signal
/// sent right after is not missed; the future resolves on the first one.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
