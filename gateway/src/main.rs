//! The `wasmgress` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use wasmgress::diagnostics::Severity;
use wasmgress::gateway::{ClusterConfig, PluginConfig, SourceConfig};
use wasmgress::proxy::ProxyOptions;
use wasmgress::proxy::intake::IntakeLimits;
use wasmgress::proxy::server::ListenerOptions;
use wasmgress::proxy::upstream::UpstreamOptions;
use wasmgress::routing::ObjectKey;
use wasmgress::source::files::FileSource;
use wasmgress::status::election::ElectionConfig;
use wasmgress::status::publish::{PublishAddress, PublishConfig};
use wasmgress::telemetry::access::Sink;
use wasmgress::telemetry::trace::Tracing;
use wasmgress::translate::{PluginResolver, TranslateOptions, UncheckedPlugins, translate_with_plugins};
use wasmgress::wasm::{PluginRuntime, Plugins, RuntimeOptions};
use wasmgress::{Gateway, GatewayConfig, demo, duration, size};

// A proxy allocates small, short-lived buffers per request on every worker
// thread: mimalloc's thread-local free lists serve that pattern well.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "wasmgress",
    version,
    about = "Kubernetes Ingress controller and HTTP gateway with WebAssembly plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format.
    #[arg(long, global = true, env = "WASMGRESS_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// Worker threads serving traffic (default: one per CPU).
    #[arg(long, global = true, env = "WASMGRESS_WORKERS")]
    workers: Option<usize>,
}

#[derive(Clone, Copy, ValueEnum)]
enum AccessLog {
    Off,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve traffic for the cluster's Ingresses, or those in a directory of manifests.
    Run(Box<RunArgs>),
    /// Check a directory of manifests; exit non-zero if any object is rejected.
    Validate {
        /// The directory of manifests.
        dir: PathBuf,
        #[command(flatten)]
        class: ClassArgs,
        /// Also check plugin annotations against the plugins installed here
        /// (without it they are only parsed).
        #[arg(long)]
        plugins: Option<PathBuf>,
    },
    /// Serve the example manifests with built-in echo backends.
    Demo {
        /// The directory of example manifests.
        #[arg(long, env = "WASMGRESS_MANIFESTS")]
        manifests: Option<PathBuf>,
        #[arg(long, env = "WASMGRESS_HTTP_LISTEN", default_value = "127.0.0.1:8080")]
        http_listen: SocketAddr,
        #[arg(long, env = "WASMGRESS_HTTPS_LISTEN", default_value = "127.0.0.1:8443", value_parser = parse_listen)]
        https_listen: Listen,
        #[arg(long, env = "WASMGRESS_ADMIN_LISTEN", default_value = "127.0.0.1:9090")]
        admin_listen: SocketAddr,
        /// Installed plugins for the demo's plugin routes (`NAME.wasm`).
        #[arg(long, env = "WASMGRESS_PLUGINS")]
        plugins: Option<PathBuf>,
    },
    /// Run an echo backend (for benchmarks and experiments).
    #[command(hide = true)]
    Echo {
        #[arg(long, default_value = "127.0.0.1:18000")]
        listen: SocketAddr,
        #[arg(long, default_value = "echo")]
        name: String,
    },
}

/// Which Ingresses are ours.
#[derive(Args, Clone)]
struct ClassArgs {
    /// The IngressClass name this controller serves.
    #[arg(long, env = "WASMGRESS_INGRESS_CLASS", default_value = "wasmgress")]
    ingress_class: String,
    /// The `spec.controller` of IngressClasses this controller serves.
    #[arg(long, env = "WASMGRESS_CONTROLLER_NAME", default_value = "wasmgress.io/ingress-controller")]
    controller_name: String,
    /// Also serve Ingresses that name no class.
    #[arg(long, env = "WASMGRESS_WATCH_INGRESS_WITHOUT_CLASS")]
    watch_ingress_without_class: bool,
    /// NAMESPACE/NAME of a Service answering requests that match no rule.
    #[arg(long, env = "WASMGRESS_DEFAULT_BACKEND_SERVICE", value_parser = parse_object_key)]
    default_backend_service: Option<ObjectKey>,
}

impl ClassArgs {
    fn options(&self) -> TranslateOptions {
        TranslateOptions {
            ingress_class: self.ingress_class.clone(),
            controller_name: self.controller_name.clone(),
            watch_ingress_without_class: self.watch_ingress_without_class,
            default_backend_service: self.default_backend_service.clone(),
        }
    }
}

#[derive(Args)]
struct RunArgs {
    /// Directory of Ingress, IngressClass, Service, EndpointSlice and Secret manifests, watched for changes,
    /// instead of a cluster.
    #[arg(long, env = "WASMGRESS_MANIFESTS")]
    manifests: Option<PathBuf>,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[arg(long, env = "WASMGRESS_HTTP_LISTEN", default_value = "0.0.0.0:8080")]
    http_listen: SocketAddr,
    /// TLS termination (certificates from the Ingresses' spec.tls Secrets), or `off`.
    #[arg(long, env = "WASMGRESS_HTTPS_LISTEN", default_value = "0.0.0.0:8443", value_parser = parse_listen)]
    https_listen: Listen,
    /// NAMESPACE/NAME of the TLS Secret for hosts without a certificate (default: a generated self-signed one).
    #[arg(long, env = "WASMGRESS_DEFAULT_SSL_CERTIFICATE", value_parser = parse_object_key)]
    default_ssl_certificate: Option<ObjectKey>,
    /// Serves /healthz, /readyz and /diagnostics.
    #[arg(long, env = "WASMGRESS_ADMIN_LISTEN", default_value = "127.0.0.1:9090")]
    admin_listen: SocketAddr,
    #[command(flatten)]
    class: ClassArgs,
    /// Continue the trace of an incoming `traceparent` (false: start a new trace, linked to it).
    #[arg(long, env = "WASMGRESS_TRUST_INCOMING_TRACE", default_value_t = true, action = clap::ArgAction::Set)]
    trust_incoming_trace: bool,
    /// One JSON line per request on stdout, or off.
    #[arg(long, env = "WASMGRESS_ACCESS_LOG", default_value = "json")]
    access_log: AccessLog,
    /// Keep X-Forwarded-* headers sent by clients (only behind a trusted proxy).
    #[arg(long, env = "WASMGRESS_TRUST_FORWARDED_HEADERS")]
    trust_forwarded_headers: bool,
    /// Timeout to connect to an upstream endpoint.
    #[arg(long, env = "WASMGRESS_UPSTREAM_CONNECT_TIMEOUT", default_value = "5s", value_parser = duration::parse)]
    upstream_connect_timeout: Duration,
    /// PEM file of CA certificates trusted for HTTPS upstreams, besides the system's.
    #[arg(long, env = "WASMGRESS_UPSTREAM_CA_FILE")]
    upstream_ca_file: Option<PathBuf>,
    /// HTTP/1.1 connections busy at once per upstream endpoint and worker;
    /// more requests wait for one (within their response timeout).
    #[arg(long, env = "WASMGRESS_UPSTREAM_MAX_CONNECTIONS", default_value_t = 1024)]
    upstream_max_connections: usize,
    /// Timeout for an upstream's response headers (per Ingress: wasmgress.io/proxy-read-timeout).
    #[arg(long, env = "WASMGRESS_UPSTREAM_RESPONSE_TIMEOUT", default_value = "60s", value_parser = duration::parse)]
    upstream_response_timeout: Duration,
    /// Timeout for a client to send its request headers.
    #[arg(long, env = "WASMGRESS_CLIENT_HEADER_TIMEOUT", default_value = "30s", value_parser = duration::parse)]
    client_header_timeout: Duration,
    /// Timeout between two pieces of a client's request body (then 408).
    #[arg(long, env = "WASMGRESS_CLIENT_BODY_TIMEOUT", default_value = "60s", value_parser = duration::parse)]
    client_body_timeout: Duration,
    /// The largest request body (then 413), unless an Ingress sets
    /// wasmgress.io/proxy-body-size; 0: no limit. nginx units (8m) or Ki/Mi/Gi.
    #[arg(long, env = "WASMGRESS_PROXY_BODY_SIZE", default_value = "1m", value_parser = size::parse)]
    proxy_body_size: u64,
    /// The largest request head: request line and headers (then 431).
    #[arg(long, env = "WASMGRESS_MAX_HEADER_BYTES", default_value = "32Ki", value_parser = parse_size)]
    max_header_bytes: usize,
    /// The longest request target, path and query (then 414).
    #[arg(long, env = "WASMGRESS_MAX_REQUEST_TARGET", default_value = "8Ki", value_parser = parse_size)]
    max_request_target: usize,
    /// Open client connections per listener; more wait until one closes.
    #[arg(long, env = "WASMGRESS_MAX_CONNECTIONS", default_value_t = 16_384)]
    max_connections: usize,
    /// Directory of installed plugins (`NAME.wasm`); default: `plugins/` next to the binary, if present.
    #[arg(long, env = "WASMGRESS_PLUGINS")]
    plugins: Option<PathBuf>,
    /// Directory for precompiled plugins, so a restart does not recompile.
    #[arg(long, env = "WASMGRESS_PLUGIN_CACHE")]
    plugin_cache: Option<PathBuf>,
    /// The longest one plugin callback may run.
    #[arg(long, env = "WASMGRESS_PLUGIN_CALLBACK_DEADLINE", default_value = "10ms", value_parser = duration::parse)]
    plugin_callback_deadline: Duration,
    /// The longest a plugin instance's start-up (configuration) may run.
    #[arg(long, env = "WASMGRESS_PLUGIN_STARTUP_DEADLINE", default_value = "1s", value_parser = duration::parse)]
    plugin_startup_deadline: Duration,
    /// Memory cap per plugin instance (bytes, or with Ki/Mi/Gi).
    #[arg(long, env = "WASMGRESS_PLUGIN_MEMORY_LIMIT", default_value = "64Mi", value_parser = parse_size)]
    plugin_memory_limit: usize,
    /// The most body bytes a plugin may hold back to inspect; beyond it the
    /// plugin's failure policy applies (413 when closed).
    #[arg(long, env = "WASMGRESS_MAX_INSPECT_BODY", default_value = "1Mi", value_parser = parse_size)]
    max_inspect_body: usize,
    /// How long in-flight requests may run after SIGTERM.
    #[arg(long, env = "WASMGRESS_SHUTDOWN_GRACE_PERIOD", default_value = "30s", value_parser = duration::parse)]
    shutdown_grace_period: Duration,
}

/// How to reach the cluster and what to write back to it.
#[derive(Args)]
struct ClusterArgs {
    /// Kubeconfig file (default: `KUBECONFIG`, `~/.kube/config`, or the in-cluster service account).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Watch Ingresses, Services, EndpointSlices and Secrets in this namespace only.
    #[arg(long, env = "WASMGRESS_WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    /// Name of the Lease replicas elect their leader with.
    #[arg(long, env = "WASMGRESS_ELECTION_ID", default_value = "wasmgress-leader")]
    election_id: String,
    /// Namespace of the Lease (default: the pod's, or the kubeconfig context's).
    #[arg(long, env = "POD_NAMESPACE")]
    election_namespace: Option<String>,
    /// This replica's name in the Lease (default: host name and process id).
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
    /// How long a leader that stopped renewing keeps the Lease.
    #[arg(long, env = "WASMGRESS_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = duration::parse)]
    election_lease_duration: Duration,
    /// How often the leader renews the Lease and the others try to take it.
    #[arg(long, env = "WASMGRESS_ELECTION_RETRY_PERIOD", default_value = "2s", value_parser = duration::parse)]
    election_retry_period: Duration,
    /// NAMESPACE/NAME of the Service in front of the gateway; its load-balancer addresses go in Ingress statuses.
    #[arg(long, env = "WASMGRESS_PUBLISH_SERVICE", value_parser = parse_object_key, conflicts_with = "publish_status_address")]
    publish_service: Option<ObjectKey>,
    /// Addresses (IPs or host names, comma-separated) to put in Ingress statuses.
    #[arg(long, env = "WASMGRESS_PUBLISH_STATUS_ADDRESS", value_delimiter = ',')]
    publish_status_address: Vec<String>,
    /// Empty the Ingress statuses when the leader shuts down (for the last replica going away).
    #[arg(long, env = "WASMGRESS_UPDATE_STATUS_ON_SHUTDOWN")]
    update_status_on_shutdown: bool,
}

impl ClusterArgs {
    async fn config(&self) -> anyhow::Result<ClusterConfig> {
        let client = wasmgress::source::kube::client(self.kubeconfig.as_deref()).await?;
        let namespace = self.election_namespace.clone().unwrap_or_else(|| client.default_namespace().to_string());
        let identity = self.pod_name.clone().unwrap_or_else(default_identity);
        let election = ElectionConfig {
            lease_duration: self.election_lease_duration,
            retry_period: self.election_retry_period,
            ..ElectionConfig::new(namespace, &self.election_id, identity)
        };
        let address = match (&self.publish_service, self.publish_status_address.is_empty()) {
            (Some(service), _) => Some(PublishAddress::Service(service.clone())),
            (None, false) => Some(PublishAddress::Fixed(self.publish_status_address.clone())),
            (None, true) => None,
        };
        let publish =
            address.map(|address| PublishConfig { address, clear_on_shutdown: self.update_status_on_shutdown });
        Ok(ClusterConfig { client, watch_namespace: self.watch_namespace.clone(), election, publish })
    }
}

/// Outside a pod: the host name and process id, unique per replica.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}-{}", host.trim(), std::process::id())
}

/// A listen address, or `off`.
#[derive(Clone, Copy)]
struct Listen(Option<SocketAddr>);

fn parse_listen(s: &str) -> Result<Listen, String> {
    match s {
        "off" => Ok(Listen(None)),
        _ => s.parse().map(|a| Listen(Some(a))).map_err(|_| format!("{s:?} is not HOST:PORT or off")),
    }
}

fn parse_size(s: &str) -> Result<usize, String> {
    usize::try_from(size::parse(s)?).map_err(|_| format!("{s:?} is too large"))
}

/// `plugins/` next to the binary, when it exists.
fn default_plugin_dir() -> Option<PathBuf> {
    let dir = std::env::current_exe().ok()?.parent()?.join("plugins");
    dir.is_dir().then_some(dir)
}

fn parse_object_key(s: &str) -> Result<ObjectKey, String> {
    match s.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => Ok(ObjectKey::new(ns, name)),
        _ => Err(format!("{s:?} is not NAMESPACE/NAME")),
    }
}

impl RunArgs {
    /// The certificates of `--upstream-ca-file`.
    fn upstream_roots(&self) -> anyhow::Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
        use rustls_pki_types::pem::PemObject;
        let Some(path) = &self.upstream_ca_file else { return Ok(Vec::new()) };
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .with_context(|| format!("--upstream-ca-file {}", path.display()))?;
        anyhow::ensure!(!certs.is_empty(), "--upstream-ca-file {} holds no certificate", path.display());
        Ok(certs)
    }

    async fn config(&self) -> anyhow::Result<GatewayConfig> {
        let source = match &self.manifests {
            Some(dir) => SourceConfig::Files(dir.clone()),
            None => SourceConfig::Cluster(Box::new(self.cluster.config().await?)),
        };
        Ok(GatewayConfig {
            http_listen: self.http_listen,
            https_listen: self.https_listen.0,
            default_ssl_certificate: self.default_ssl_certificate.clone(),
            admin_listen: self.admin_listen,
            translate: self.class.options(),
            proxy: ProxyOptions {
                trust_forwarded_headers: self.trust_forwarded_headers,
                upstream: UpstreamOptions {
                    connect_timeout: self.upstream_connect_timeout,
                    response_timeout: self.upstream_response_timeout,
                    extra_roots: self.upstream_roots()?,
                    max_connections_per_endpoint: self.upstream_max_connections,
                    ..UpstreamOptions::default()
                },
                tracing: Tracing::from_env(self.trust_incoming_trace)?,
                access_log: match self.access_log {
                    AccessLog::Off => Sink::Off,
                    AccessLog::Json => Sink::Stdout,
                },
                intake: IntakeLimits {
                    max_request_target: self.max_request_target,
                    max_body: (self.proxy_body_size > 0).then_some(self.proxy_body_size),
                    body_timeout: self.client_body_timeout,
                },
                ..ProxyOptions::default()
            },
            listener: ListenerOptions {
                header_read_timeout: self.client_header_timeout,
                shutdown_grace: self.shutdown_grace_period,
                max_connections: self.max_connections,
                max_header_bytes: self.max_header_bytes,
            },
            plugins: self.plugins.clone().or_else(default_plugin_dir).map(|dir| PluginConfig {
                dir,
                cache: self.plugin_cache.clone(),
                runtime: RuntimeOptions {
                    callback_deadline: self.plugin_callback_deadline,
                    startup_deadline: self.plugin_startup_deadline,
                    memory_limit: self.plugin_memory_limit,
                    max_inspect_body: self.max_inspect_body,
                },
            }),
            ..GatewayConfig::with_source(source)
        })
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WASMGRESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    // Traffic is served by the gateway's own worker threads; this runtime
    // only runs the control plane (or, for `echo`, the whole backend).
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    match cli.command {
        Command::Echo { .. } => runtime.worker_threads(cli.workers.unwrap_or_else(default_workers).max(1)),
        _ => runtime.worker_threads(1),
    };
    let runtime = match runtime.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command, cli.workers.unwrap_or_else(default_workers))) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

async fn dispatch(command: Command, workers: usize) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(args) => {
            serve_until_signal(GatewayConfig { workers, ..args.config().await? }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { dir, class, plugins } => validate(&dir, &class.options(), plugins),
        Command::Demo { manifests, http_listen, https_listen, admin_listen, plugins } => {
            run_demo(manifests, (http_listen, https_listen.0), admin_listen, plugins, workers).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Echo { listen, name } => {
            let listener =
                tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            wasmgress::echo::serve(listener, name).await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve_until_signal(cfg: GatewayConfig) -> anyhow::Result<()> {
    let signal = listen_for_signal()?;
    let gateway = Gateway::start(cfg).await?;
    signal.await;
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    gateway.shutdown();
    gateway.wait().await;
    Ok(())
}

/// Listens for SIGTERM and SIGINT from now on, before the gateway starts:
/// a signal sent while it starts then stops it cleanly once started,
/// instead of killing it with the default action.
fn listen_for_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    wasmgress::gateway::shutdown_signal().context("cannot listen for SIGTERM/SIGINT")
}

fn validate(dir: &std::path::Path, opts: &TranslateOptions, plugins: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let snapshot = FileSource::new(dir).load().with_context(|| format!("cannot read {}", dir.display()))?;
    let resolver: Box<dyn PluginResolver> = match plugins {
        None => Box::new(UncheckedPlugins),
        Some(plugins) => {
            let runtime = PluginRuntime::new(RuntimeOptions::default()).map_err(|e| anyhow::anyhow!("{e:#}"))?;
            Box::new(Plugins::load(runtime, plugins, None))
        }
    };
    let (table, mut diagnostics) = translate_with_plugins(&snapshot.state, opts, &*resolver);
    diagnostics.extend(resolver.diagnostics());
    diagnostics.extend(snapshot.diagnostics);
    for d in &diagnostics {
        let label = match d.severity {
            Severity::Rejected => "error",
            Severity::Warning => "warning",
        };
        println!("{label}: {d}");
    }
    let rejected = diagnostics.iter().filter(|d| d.severity == Severity::Rejected).count();
    println!(
        "{} Ingresses, {} path rules, {} rejected, {} warnings",
        snapshot.state.ingresses.len(),
        table.rule_count(),
        rejected,
        diagnostics.len() - rejected
    );
    Ok(if rejected > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The example manifests: next to the working directory when run from the
/// repository, else where this binary was built from.
fn default_examples() -> PathBuf {
    let local = PathBuf::from("manifests/examples");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples")
}

async fn run_demo(
    manifests: Option<PathBuf>,
    (http_listen, https_listen): (SocketAddr, Option<SocketAddr>),
    admin_listen: SocketAddr,
    plugins: Option<PathBuf>,
    workers: usize,
) -> anyhow::Result<()> {
    let signal = listen_for_signal()?;
    let dir = manifests.unwrap_or_else(default_examples);
    let snapshot = FileSource::new(&dir).load().with_context(|| format!("cannot read {}", dir.display()))?;
    let backends = demo::start_backends(&snapshot.state).await?;
    let plugins = plugins.map(|dir| PluginConfig { dir, cache: None, runtime: RuntimeOptions::default() });
    let cfg = GatewayConfig { http_listen, https_listen, admin_listen, workers, plugins, ..GatewayConfig::new(&dir) };
    let gateway = Gateway::start(cfg).await?;
    println!("\nwasmgress demo: serving {} on http://{}", dir.display(), gateway.http_addr());
    for (addr, service) in &backends {
        println!("  echo backend for Service {service} on {addr}");
    }
    for d in &gateway.status().borrow().diagnostics {
        println!("  note: {d}");
    }
    println!("\nTry:");
    for cmd in demo::curl_commands(&snapshot.state, gateway.http_addr()) {
        println!("  {cmd}");
    }
    if let Some(https) = gateway.https_addr() {
        println!(
            "  curl -sk --resolve foo.mydomain.com:{0}:{1} https://foo.mydomain.com:{0}/   # HTTPS (a generated certificate: -k)",
            https.port(),
            https.ip()
        );
    }
    println!("  curl -s http://{}/diagnostics   # what the gateway thinks of the manifests", gateway.admin_addr());
    println!("\nEdit the files in {} and the routes follow. Ctrl-C stops.\n", dir.display());
    signal.await;
    gateway.shutdown();
    gateway.wait().await;
    Ok(())
}
