//! TLS termination: certificates from the Secrets each Ingress names in
//! `spec.tls`, chosen by SNI (exact host, then `*.` wildcard), else the
//! default certificate. The table is swapped whole on each configuration:
//! new handshakes use it at once, open connections keep what they have.
//!
//! Every rustls user in the binary (this listener, the upstream client,
//! kube's client) uses the ring provider: with two providers in the tree
//! rustls cannot pick one and kube's client panics at start.

pub mod certs;
pub mod secret;

use std::fmt::Write as _;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::cluster::ClusterState;
use crate::diagnostics::Diagnostic;
use crate::routing::ObjectKey;
use crate::translate::TranslateOptions;
use certs::CertTable;
use secret::Served;

/// The live certificates, and what builds them.
pub struct TlsStore {
    certs: ArcSwap<CertTable>,
    /// Served when no certificate matches and no default Secret is usable.
    generated: Served,
    /// `--default-ssl-certificate`.
    default_secret: Option<ObjectKey>,
}

impl TlsStore {
    /// A store serving only the generated default certificate until the
    /// first configuration is applied.
    pub fn new(default_secret: Option<ObjectKey>) -> Result<Self, String> {
        let generated = secret::self_signed().map_err(|e| format!("cannot generate the default certificate: {e}"))?;
        let certs = ArcSwap::from_pointee(CertTable::only(generated.clone()));
        Ok(Self { certs, generated, default_secret })
    }

    /// Builds the certificate table for `state` and swaps it in.
    pub fn apply(&self, state: &ClusterState, opts: &TranslateOptions) -> Vec<Diagnostic> {
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        let (table, diagnostics) = certs::build(state, opts, self.default_secret.as_ref(), &self.generated, now);
        self.certs.store(Arc::new(table));
        diagnostics
    }

    /// The rustls configuration of the HTTPS listeners: TLS 1.2 and 1.3,
    /// ALPN h2 and http/1.1, certificates by SNI from this store.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// `wasmgress_tls_certificate_expiry_timestamp_seconds{host}` for /metrics.
    pub fn write_metrics(&self, out: &mut String) {
        let table = self.certs.load();
        let expiries = table.expiries();
        if expiries.is_empty() {
            return;
        }
        out.push_str("# HELP wasmgress_tls_certificate_expiry_timestamp_seconds When the certificate served for a host expires.\n");
        out.push_str("# TYPE wasmgress_tls_certificate_expiry_timestamp_seconds gauge\n");
        for (host, at) in expiries {
            let _ = writeln!(out, "wasmgress_tls_certificate_expiry_timestamp_seconds{{host=\"{host}\"}} {at}");
        }
    }
}

struct Resolver(Arc<TlsStore>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.certs.load().resolve(hello.server_name()))
    }
}
