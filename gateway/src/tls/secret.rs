//! A `kubernetes.io/tls` Secret as a served certificate: the chain and key
//! parsed from PEM (PKCS#1, PKCS#8 or SEC1 keys), checked to belong
//! together, with the leaf's expiry read from its DER.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate ready to serve.
#[derive(Debug, Clone)]
pub struct Served {
    pub key: Arc<CertifiedKey>,
    /// The leaf certificate's notAfter, in seconds since the Unix epoch.
    pub not_after: Option<i64>,
}

/// Reads the Secret's `tls.crt` and `tls.key` (from `data`, or `stringData`
/// as written in a manifest file).
pub fn parse(secret: &Secret) -> Result<Served, String> {
    if let Some(t) = secret.type_.as_deref()
        && t != "kubernetes.io/tls"
    {
        return Err(format!("is of type {t}, not kubernetes.io/tls"));
    }
    let field = |name: &str| -> Option<Vec<u8>> {
        let data = secret.data.as_ref().and_then(|d| d.get(name)).map(|b| b.0.clone());
        data.or_else(|| secret.string_data.as_ref().and_then(|d| d.get(name)).map(|s| s.clone().into_bytes()))
    };
    let crt = field("tls.crt").ok_or("has no tls.crt")?;
    let key = field("tls.key").ok_or("has no tls.key")?;
    from_pem(&crt, &key)
}

/// A certificate chain and its key, both PEM.
pub fn from_pem(crt: &[u8], key: &[u8]) -> Result<Served, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(crt)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.crt is not PEM: {e}"))?;
    let Some(leaf) = chain.first() else { return Err("tls.crt holds no certificate".into()) };
    let not_after = not_after(leaf);
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("tls.key is not a PEM private key: {e}"))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("tls.key is not a usable key: {e}"))?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|_| "tls.key does not match the certificate in tls.crt".to_string())?;
    Ok(Served { key: Arc::new(certified), not_after })
}

/// One DER element: (tag, contents, rest).
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The validity's notAfter of an X.509 certificate (RFC 5280 §4.1): the
/// second element of `validity`, after version, serial, signature and issuer.
pub fn not_after(cert: &[u8]) -> Option<i64> {
    let (_, certificate, _) = element(cert)?;
    let (_, tbs, _) = element(certificate)?;
    let mut rest = tbs;
    let (tag, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after; // explicit version
    }
    for _ in 0..3 {
        rest = element(rest)?.2; // serial, signature algorithm, issuer
    }
    let (_, validity, _) = element(rest)?;
    let (_, _, after_not_before) = element(validity)?;
    let (tag, time, _) = element(after_not_before)?;
    let text = std::str::from_utf8(time).ok()?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i16 = text.get(0..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(0..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| rest.get(r).and_then(|s| s.parse::<i8>().ok());
    let dt = k8s_openapi::jiff::civil::date(year, num(0..2)?, num(2..4)?).at(num(4..6)?, num(6..8)?, num(8..10)?, 0);
    Some(dt.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second())
}

/// A self-signed certificate for names nobody configured, so TLS is always
/// served (clients see a certificate they do not trust, as with nginx's).
pub fn self_signed() -> Result<Served, String> {
    let mut params = rcgen::CertificateParams::new(vec!["wasmgress.invalid".to_string()]).map_err(|e| e.to_string())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "wasmgress default certificate");
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(names: &[&str], not_after: (i32, u8, u8)) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = rcgen::KeyPair::generate().unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    #[test]
    fn reads_the_expiry_of_utc_and_generalized_times() {
        let (crt, key) = cert(&["a.example"], (2031, 7, 1));
        let served = from_pem(crt.as_bytes(), key.as_bytes()).unwrap();
        assert_eq!(served.not_after, Some(1_940_630_400)); // 2031-07-01T00:00:00Z
        // After 2049, X.509 switches to GeneralizedTime.
        let (crt, key) = cert(&["a.example"], (2051, 1, 2));
        assert_eq!(from_pem(crt.as_bytes(), key.as_bytes()).unwrap().not_after, Some(2_556_230_400));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (crt, _) = cert(&["a.example"], (2031, 1, 1));
        let (_, other_key) = cert(&["b.example"], (2031, 1, 1));
        let e = from_pem(crt.as_bytes(), other_key.as_bytes()).unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        assert!(from_pem(b"nope", other_key.as_bytes()).unwrap_err().contains("no certificate"));
    }

    /// Test-only keys made with openssl in the two legacy encodings
    /// (rcgen above writes PKCS#8).
    #[test]
    fn pkcs1_rsa_and_sec1_ec_keys_are_read() {
        let rsa = from_pem(include_bytes!("testdata/rsa.crt"), include_bytes!("testdata/rsa-pkcs1.key"));
        assert!(rsa.is_ok(), "{:?}", rsa.err());
        let ec = from_pem(include_bytes!("testdata/ec.crt"), include_bytes!("testdata/ec-sec1.key"));
        assert!(ec.is_ok(), "{:?}", ec.err());
        let swapped = from_pem(include_bytes!("testdata/rsa.crt"), include_bytes!("testdata/ec-sec1.key"));
        assert!(swapped.unwrap_err().contains("does not match"));
    }

    #[test]
    fn the_default_certificate_is_generated() {
        let served = self_signed().unwrap();
        assert!(served.not_after.is_some());
    }
}
