//! TLS: the hub's listener speaks TLS 1.3 and 1.2 and refuses TLS 1.1; with a client CA it
//! refuses clients without a certificate; a non-loopback address without TLS needs
//! `--behind-tls-proxy`; on PostgreSQL, `sslmode` is honoured. The certificates are made by
//! openssl for each run (`.ci/run` installs openssl and curl).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is needed by the TLS tests");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in a new folder.
fn certificates() -> PathBuf {
    let dir = temp(&format!("tls-{}", store::random_id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, subject) in [
        ("ca", "/CN=clins test CA"),
        ("server", "/CN=localhost"),
        ("client", "/CN=1312000001"),
    ] {
        openssl(
            &dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ],
        );
        if name == "ca" {
            openssl(
                &dir,
                &[
                    "req", "-x509", "-new", "-key", "ca.key", "-subj", subject, "-days", "2",
                    "-out", "ca.pem",
                ],
            );
        } else {
            openssl(
                &dir,
                &[
                    "req",
                    "-new",
                    "-key",
                    &format!("{name}.key"),
                    "-subj",
                    subject,
                    "-out",
                    &format!("{name}.csr"),
                ],
            );
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &format!("{name}.ext"),
                    "-out",
                    &format!("{name}.pem"),
                ],
            );
        }
    }
    dir
}

/// `openssl s_client` with a protocol version flag; its output.
fn handshake(port: u16, dir: &Path, version: &str) -> (bool, String) {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            version,
            "-CAfile",
        ])
        .arg(dir.join("ca.pem"))
        // Let the client offer old versions, so that it is the server that refuses them.
        .args(["-cipher", "DEFAULT:@SECLEVEL=0", "-brief"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn curl(port: u16, dir: &Path, client_cert: bool) -> Output {
    let mut c = Command::new("curl");
    c.args([
        "-s",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "--max-time",
        "10",
        "--cacert",
    ])
    .arg(dir.join("ca.pem"));
    if client_cert {
        c.arg("--cert")
            .arg(dir.join("client.pem"))
            .arg("--key")
            .arg(dir.join("client.key"));
    }
    c.arg(format!("https://127.0.0.1:{port}/fhir/metadata"))
        .output()
        .expect("curl is needed by the TLS tests")
}

pub fn tls(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let dir = certificates();
    let cert = dir.join("server.pem").to_string_lossy().into_owned();
    let key = dir.join("server.key").to_string_lossy().into_owned();
    let ca = dir.join("ca.pem").to_string_lossy().into_owned();
    {
        let hub = Hub::start_with(
            &backend,
            &[],
            None,
            &["--tls-cert", &cert, "--tls-key", &key],
        );
        let (ok, text) = handshake(hub.port, &dir, "-tls1_3");
        assert!(ok && text.contains("TLSv1.3"), "TLS 1.3: {text}");
        let (ok, text) = handshake(hub.port, &dir, "-tls1_2");
        assert!(ok && text.contains("TLSv1.2"), "TLS 1.2: {text}");
        let (ok, text) = handshake(hub.port, &dir, "-tls1_1");
        assert!(
            !ok && !text.contains("Protocol version: TLSv1.1"),
            "TLS 1.1 refused: {text}"
        );
        let out = curl(hub.port, &dir, false);
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.ends_with("\n200"), "HTTPS request: {body}");
        assert!(body.contains("CapabilityStatement"));
        // The base URL is https.
        assert!(body.contains("https://127.0.0.1:"), "{body}");
        // Plain HTTP to the TLS port gets no HTTP answer.
        let plain = std::net::TcpStream::connect(("127.0.0.1", hub.port)).map(|mut s| {
            use std::io::{Read, Write};
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .ok();
            let _ = s.write_all(b"GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n\r\n");
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            buf
        });
        assert!(
            !String::from_utf8_lossy(&plain.unwrap_or_default()).contains("CapabilityStatement")
        );
    }
    {
        // Mutual TLS: without a client certificate the handshake fails.
        let hub = Hub::start_with(
            &backend,
            &[],
            None,
            &[
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--tls-client-ca",
                &ca,
            ],
        );
        let out = curl(hub.port, &dir, false);
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            !body.contains("CapabilityStatement"),
            "no client certificate: {body}"
        );
        let out = curl(hub.port, &dir, true);
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.ends_with("\n200"), "with a client certificate: {body}");
    }
    // A non-loopback address without TLS is refused, and the message says what to do.
    let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .arg("serve")
        .args(backend_args(&backend))
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "plain HTTP on 0.0.0.0 must not start"
    );
    assert!(
        err.contains("--behind-tls-proxy") && err.contains("--tls-cert"),
        "{err}"
    );
    // A key that does not fit the certificate is a clear start-up error.
    let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .arg("serve")
        .args(backend_args(&backend))
        .args(["--listen", "127.0.0.1:0", "--tls-cert", &cert, "--tls-key"])
        .arg(dir.join("client.key"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("do not fit"), "{err}");

    if let Backend::Postgres(url) = &backend {
        postgres_tls(url, &backend);
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop_backend(&backend);
}

/// `sslmode` on the hub's database URL: require encrypts; verify-full refuses a server whose
/// certificate it cannot verify, with a clear message.
fn postgres_tls(url: &str, backend: &Backend) {
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let ssl_on = admin
        .query_one("SHOW ssl", &[])
        .map(|r| r.get::<_, String>(0) == "on")
        .unwrap_or(false);
    if !ssl_on {
        println!("skipped: the PostgreSQL server has ssl off, so sslmode=require cannot be tested");
        return;
    }
    let db = url.rsplit('/').next().unwrap().to_string();
    let tls = Backend::Postgres(format!("{url}?sslmode=require"));
    let hub = Hub::start(&tls, &[], None);
    let r = request(hub.port, "GET", "/health/ready", &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let encrypted: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1 AND s.ssl",
            &[&db],
        )
        .unwrap()
        .get(0);
    let plain: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1 AND NOT s.ssl AND a.pid <> pg_backend_pid()",
            &[&db],
        )
        .unwrap()
        .get(0);
    assert!(
        encrypted > 0 && plain == 0,
        "hub connections: {encrypted} with TLS, {plain} without"
    );
    drop(hub);
    // verify-full against a server certificate of an unknown CA: refused at start.
    let other_ca = certificates();
    let strict = format!(
        "{url}?sslmode=verify-full&sslrootcert={}",
        other_ca.join("ca.pem").to_string_lossy()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args(["serve", "--database", &strict, "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "verify-full with a foreign CA must not connect"
    );
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let _ = std::fs::remove_dir_all(&other_ca);
    let _ = backend;
}
