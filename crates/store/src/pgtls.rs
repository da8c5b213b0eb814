//! TLS to PostgreSQL (rustls, ring provider), with libpq's `sslmode` meanings:
//!
//! | `sslmode` | the hub |
//! |---|---|
//! | absent, `disable`, `allow`, `prefer` | no TLS |
//! | `require` | TLS; the server's certificate is not checked (as libpq without a root certificate); with `sslrootcert`, as `verify-ca` |
//! | `verify-ca` | TLS; the chain must lead to `sslrootcert` (the name is not checked) |
//! | `verify-full` | TLS; the chain must lead to `sslrootcert` and name the host |
//!
//! `sslrootcert=FILE` (PEM) is read here; both parameters are taken out of the URL before it
//! reaches the PostgreSQL client, which knows neither `verify-*` nor `sslrootcert`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// How a URL asks for TLS: the URL for the client (with `sslmode=require` or without TLS) and
/// the TLS client configuration, if any.
pub fn parse(url: &str) -> Result<(String, Option<Arc<rustls::ClientConfig>>), String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => return Ok((url.to_string(), None)),
    };
    let mut mode = String::new();
    let mut root = None;
    let mut kept: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => mode = v.to_string(),
            Some(("sslrootcert", v)) => root = Some(percent_decode(v)),
            _ => kept.push(pair),
        }
    }
    let verify = match mode.as_str() {
        "" | "disable" | "allow" | "prefer" => {
            if !mode.is_empty() {
                kept.push(if mode == "disable" {
                    "sslmode=disable"
                } else {
                    "sslmode=prefer"
                });
            }
            let url = join(base, &kept);
            return Ok((url, None));
        }
        "require" if root.is_none() => Verify::Nothing,
        "require" | "verify-ca" => Verify::Chain,
        "verify-full" => Verify::ChainAndName,
        other => {
            return Err(format!(
                "sslmode={other}: use disable, prefer, require, verify-ca or verify-full"
            ))
        }
    };
    let provider = ring_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let config = if verify == Verify::Nothing {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let path = root.ok_or_else(|| {
            format!(
                "sslmode={mode} needs sslrootcert=FILE (the CA of the server's certificate, PEM)"
            )
        })?;
        let mut roots = rustls::RootCertStore::empty();
        for c in
            CertificateDer::pem_file_iter(&path).map_err(|e| format!("sslrootcert {path}: {e}"))?
        {
            let c = c.map_err(|e| format!("sslrootcert {path}: {e}"))?;
            roots
                .add(c)
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
        }
        if roots.is_empty() {
            return Err(format!("sslrootcert {path}: no certificate"));
        }
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| e.to_string())?;
        let verifier: Arc<dyn ServerCertVerifier> = if verify == Verify::Chain {
            Arc::new(ChainOnly(webpki))
        } else {
            webpki
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth()
    };
    kept.push("sslmode=require");
    Ok((join(base, &kept), Some(Arc::new(config))))
}

/// The rustls crypto provider of the hub, `ring` (its TLS listener uses it too). rustls 0.23.48
/// marks ring's provider deprecated for lacking post-quantum key exchange; the project builds
/// without cmake and aws-lc, so ring it is (docs/security.md).
#[allow(deprecated)]
pub fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verify {
    Nothing,
    Chain,
    ChainAndName,
}

fn join(base: &str, params: &[&str]) -> String {
    if params.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", params.join("&"))
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `sslmode=require` without a root certificate: the connection is encrypted, the server not
/// authenticated (libpq's meaning). The handshake's signatures are still verified.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
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
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is verified, the host name is not.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_read_and_taken_out() {
        let (u, t) = parse("postgres://u@h:5432/db").unwrap();
        assert_eq!(u, "postgres://u@h:5432/db");
        assert!(t.is_none());
        let (u, t) = parse("postgres://u@h/db?sslmode=disable&connect_timeout=5").unwrap();
        assert_eq!(u, "postgres://u@h/db?connect_timeout=5&sslmode=disable");
        assert!(t.is_none());
        let (u, t) = parse("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!(u, "postgres://u@h/db?sslmode=require");
        assert!(t.is_some());
        assert!(parse("postgres://u@h/db?sslmode=verify-full")
            .unwrap_err()
            .contains("sslrootcert"));
        assert!(
            parse("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fno%2Fsuch.pem")
                .unwrap_err()
                .contains("/no/such.pem")
        );
        assert!(parse("postgres://u@h/db?sslmode=bogus").is_err());
    }
}
