//! TLS towards upstreams (`wasmgress.io/backend-protocol: HTTPS`): the
//! system's roots plus any the operator adds, or, when an Ingress turns
//! verification off, no check at all.

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// The two client configurations a worker uses.
#[derive(Clone)]
pub struct UpstreamTls {
    verified: Arc<ClientConfig>,
    unverified: Arc<ClientConfig>,
}

/// The system's trust store, read once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "cannot read part of the system's trusted certificates");
        }
        found.certs
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl UpstreamTls {
    /// Trusts the system's roots and `extra` (e.g. the cluster's CA).
    pub fn new(extra: &[CertificateDer<'static>]) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        let (_, ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
        if ignored > 0 {
            tracing::debug!(ignored, "system certificates rustls cannot use");
        }
        for cert in extra {
            if let Err(e) = roots.add(cert.clone()) {
                tracing::warn!(error = %e, "an upstream CA certificate is not usable");
            }
        }
        let builder = || {
            ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
        };
        let mut verified = builder().with_root_certificates(roots).with_no_client_auth();
        let mut unverified = builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider())))
            .with_no_client_auth();
        // The gateway speaks HTTP/1.1 over these connections.
        verified.alpn_protocols = vec![b"http/1.1".to_vec()];
        unverified.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self { verified: Arc::new(verified), unverified: Arc::new(unverified) }
    }

    pub fn config(&self, verify: bool) -> Arc<ClientConfig> {
        if verify { self.verified.clone() } else { self.unverified.clone() }
    }
}

/// `backend-tls-verify: "false"`: encryption without authentication, as
/// the operator asked. Signatures are still checked, so the handshake is
/// with the holder of the certificate's key.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
