//! The command line of sign-in: 利用申請 (`institutions apply|applications|approve|reject`),
//! clients and their keys (`clients …`), a key pair for a client (`keygen`), and `token`,
//! which signs a client assertion and prints the access token the hub gives for it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use app::auth::jose::{self, ClientKey};
use clap::Subcommand;

use crate::show;
use fhir::json::{self, Value};

#[derive(Subcommand)]
pub enum ClientsAction {
    /// List the clients with their state and key ids.
    List,
    /// Give a registered institution a client with the keys of a JWKS file (keeps its other
    /// keys).
    Register {
        #[arg(value_name = "N")]
        number: String,
        #[arg(long, value_name = "FILE")]
        jwks: PathBuf,
    },
    /// Refuse the client's assertions and tokens until it is enabled again.
    Disable {
        #[arg(value_name = "CLIENT")]
        client: String,
    },
    /// Enable a disabled client.
    Enable {
        #[arg(value_name = "CLIENT")]
        client: String,
    },
    /// Add the keys of a JWKS file to a client (key rotation, step 1).
    AddKeys {
        #[arg(value_name = "CLIENT")]
        client: String,
        #[arg(long, value_name = "FILE")]
        jwks: PathBuf,
    },
    /// Remove a key (key rotation, last step): assertions signed with it fail at once.
    RemoveKey {
        #[arg(value_name = "CLIENT")]
        client: String,
        #[arg(value_name = "KID")]
        kid: String,
    },
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `clins-hub clients …` on an opened store.
pub fn clients(store: &store::Store, action: ClientsAction) -> Result<(), String> {
    use app::auth::applications as apps;
    let op = clins::policy::Principal::Operator;
    let now = store::now_utc();
    match action {
        ClientsAction::List => {
            for (c, kids) in apps::clients(store, &op).map_err(show)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.client_id,
                    c.institution,
                    if c.enabled { "enabled" } else { "disabled" },
                    kids.join(",")
                );
            }
        }
        ClientsAction::Register { number, jwks } => {
            let c =
                apps::register_client(store, &op, &number, &read(&jwks)?, &now).map_err(show)?;
            println!("client {} registered for {}", c.client_id, c.institution);
        }
        ClientsAction::Disable { client } => {
            apps::set_client_enabled(store, &op, &client, false).map_err(show)?;
            println!("disabled client {client}");
        }
        ClientsAction::Enable { client } => {
            apps::set_client_enabled(store, &op, &client, true).map_err(show)?;
            println!("enabled client {client}");
        }
        ClientsAction::AddKeys { client, jwks } => {
            let kids = apps::add_keys(store, &op, &client, &read(&jwks)?, &now).map_err(show)?;
            println!("client {client}: added {}", kids.join(", "));
        }
        ClientsAction::RemoveKey { client, kid } => {
            apps::remove_key(store, &op, &client, &kid).map_err(show)?;
            println!("client {client}: removed key {kid}");
        }
    }
    Ok(())
}

/// `clins-hub institutions apply`.
pub struct Apply {
    pub institution: app::registry::NewInstitution,
    pub address: String,
    pub jwks: Option<PathBuf>,
    pub jwks_url: Option<String>,
}

pub fn apply(store: &store::Store, a: Apply) -> Result<(), String> {
    let jwks = match &a.jwks {
        Some(p) => Some(read(p)?),
        None => None,
    };
    let new = app::auth::applications::NewApplication {
        institution: a.institution,
        address: a.address,
        jwks,
        jwks_url: a.jwks_url,
    };
    let row = app::auth::applications::apply(store, &new, &store::now_utc()).map_err(show)?;
    println!(
        "application {} filed for {} ({}); the operator approves it with: clins-hub institutions approve {}",
        row.app_id, row.number, row.name, row.app_id
    );
    Ok(())
}

pub fn applications(store: &store::Store, status: Option<&str>) -> Result<(), String> {
    let op = clins::policy::Principal::Operator;
    for a in app::auth::applications::list(store, &op, status).map_err(show)? {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            a.app_id, a.status, a.number, a.kind, a.created_at, a.name
        );
    }
    Ok(())
}

pub fn approve(store: &store::Store, id: &str) -> Result<(), String> {
    let op = clins::policy::Principal::Operator;
    let (inst, client) =
        app::auth::applications::approve(store, &op, id, &store::now_utc()).map_err(show)?;
    println!(
        "approved: {} ({}) is registered; its client id is {}",
        inst.number, inst.name, client.client_id
    );
    Ok(())
}

pub fn reject(store: &store::Store, id: &str, reason: &str) -> Result<(), String> {
    let op = clins::policy::Principal::Operator;
    app::auth::applications::reject(store, &op, id, reason, &store::now_utc()).map_err(show)?;
    println!("rejected application {id}");
    Ok(())
}

/// `clins-hub keygen --out KEY.pem`: a new P-256 key (PKCS#8 PEM, mode 0600) for a client;
/// prints its public JWKS, to send with the application.
pub fn keygen(out: &Path) -> Result<(), String> {
    if out.exists() {
        return Err(format!(
            "{} exists; choose another file (keys are never overwritten)",
            out.display()
        ));
    }
    let der = jose::SigningKey::generate()?;
    write_private(out, &jose::pem("PRIVATE KEY", &der))?;
    let key = ClientKey::from_pkcs8(&der)?;
    println!("{}", json::to_string(&jwks_of(&key)));
    eprintln!(
        "private key written to {} (keep it on the EMR system only)",
        out.display()
    );
    Ok(())
}

/// The public JWKS of a client key (its `kid` is the key's thumbprint).
pub fn jwks_of(key: &ClientKey) -> Value {
    let mut o = json::Object::new();
    o.insert("keys", Value::Array(vec![key.public_jwk(None)]));
    Value::Object(o)
}

/// Writes a private key readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> Result<(), String> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `clins-hub token`.
pub struct TokenArgs {
    pub client: String,
    pub key: PathBuf,
    pub kid: Option<String>,
    pub scope: String,
    pub url: String,
    pub practitioner: Option<app::auth::UserClaims>,
}

/// Signs a client assertion (and a user assertion), asks the hub's token endpoint and
/// prints the access token.
pub fn token(a: TokenArgs) -> Result<(), String> {
    let pem = std::fs::read(&a.key).map_err(|e| format!("{}: {e}", a.key.display()))?;
    let key = ClientKey::from_pkcs8(&pem)?;
    let kid = match a.kid {
        Some(k) => k,
        None => key
            .public_jwk(None)
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    };
    let base = a.url.trim_end_matches('/').trim_end_matches("/fhir");
    let token_url = format!("{base}/auth/token");
    let now = app::auth::now_seconds();
    let assertion = app::auth::client_assertion(&key, &kid, &a.client, &token_url, now)?;
    let mut form = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={}&scope={}",
        server::percent_encode(app::auth::JWT_BEARER),
        assertion,
        server::percent_encode(&a.scope)
    );
    if let Some(user) = &a.practitioner {
        let ua = app::auth::user_assertion(&key, &kid, &a.client, &token_url, now, user)?;
        form.push_str("&user_assertion=");
        form.push_str(&ua);
    }
    let (status, body) = http_post_form(&token_url, &form)?;
    let v = json::parse(&body).map_err(|_| format!("the hub answered {status}: {body}"))?;
    match v.get("access_token").and_then(Value::as_str) {
        Some(t) if status == 200 => {
            println!("{t}");
            Ok(())
        }
        _ => Err(format!(
            "the hub refused ({status} {}): {}",
            v.get("error").and_then(Value::as_str).unwrap_or("?"),
            v.get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("")
        )),
    }
}

/// A POST of a form to an `http://host:port/path` URL (one request, `Connection: close`).
fn http_post_form(url: &str, form: &str) -> Result<(u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("{url}: only http:// URLs are supported here (an https:// hub is reached through its TLS proxy's http side or with curl)")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = std::net::TcpStream::connect(authority)
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&resp);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("the hub's answer is not HTTP")?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_string()))
}

#[derive(Subcommand)]
pub enum StaffAction {
    /// Make a staff account (an institution's first administrator with --admin); prints its
    /// one-time activation code.
    Add {
        #[arg(long, value_name = "N")]
        institution: String,
        #[arg(long, value_name = "LOGIN")]
        login: String,
        #[arg(long, value_name = "NAME")]
        name: String,
        /// doctor, dentist, pharmacist or other.
        #[arg(long, value_name = "Q", default_value = "other")]
        qualification: String,
        /// Holds the emergency-access privilege (救急時閲覧).
        #[arg(long)]
        emergency: bool,
        /// Administers the institution's staff accounts.
        #[arg(long)]
        admin: bool,
    },
    /// List an institution's staff accounts.
    List {
        #[arg(value_name = "N")]
        institution: String,
    },
    /// A new activation code (password and TOTP set again; sessions end).
    Reset {
        #[arg(value_name = "N")]
        institution: String,
        #[arg(value_name = "LOGIN")]
        login: String,
    },
    /// Disable an account (its sessions end at once).
    Disable {
        #[arg(value_name = "N")]
        institution: String,
        #[arg(value_name = "LOGIN")]
        login: String,
    },
    /// Enable a disabled account.
    Enable {
        #[arg(value_name = "N")]
        institution: String,
        #[arg(value_name = "LOGIN")]
        login: String,
    },
}

/// `clins-hub staff …` (as the operator).
pub fn staff(store: &store::Store, action: StaffAction) -> Result<(), String> {
    use app::auth::people;
    let op = app::Caller::new(clins::policy::Principal::Operator);
    let now = store::now_utc();
    match action {
        StaffAction::Add {
            institution,
            login,
            name,
            qualification,
            emergency,
            admin,
        } => {
            let new = people::NewStaff {
                institution,
                login,
                name,
                qualification,
                emergency,
                admin,
            };
            let (a, code) = people::add_staff(store, &op, &new, &now).map_err(show)?;
            println!(
                "staff account {} of {} made; activation code (valid {} hours, shown once): {code}",
                a.login,
                a.institution,
                people::ACTIVATION_HOURS
            );
        }
        StaffAction::List { institution } => {
            for a in people::staff(store, &op, &institution).map_err(show)? {
                println!(
                    "{}\t{}\t{}{}{}\t{}",
                    a.login,
                    a.qualification,
                    if a.enabled { "enabled" } else { "disabled" },
                    if a.admin { ",admin" } else { "" },
                    if a.emergency { ",emergency" } else { "" },
                    a.name
                );
            }
        }
        StaffAction::Reset { institution, login } => {
            let code = people::reset_staff(store, &op, &institution, &login, &now).map_err(show)?;
            println!("new activation code for {login} (shown once): {code}");
        }
        StaffAction::Disable { institution, login } => {
            people::set_staff_enabled(store, &op, &institution, &login, false).map_err(show)?;
            println!("disabled {login} of {institution}");
        }
        StaffAction::Enable { institution, login } => {
            people::set_staff_enabled(store, &op, &institution, &login, true).map_err(show)?;
            println!("enabled {login} of {institution}");
        }
    }
    Ok(())
}

/// `clins-hub patients activation MEMBER` (as the operator): a patient's one-time code.
pub fn patient_activation(store: &store::Store, member: &str) -> Result<(), String> {
    let op = app::Caller::new(clins::policy::Principal::Operator);
    let code = app::auth::people::patient_activation(store, &op, member, &store::now_utc())
        .map_err(show)?;
    println!(
        "activation code for {member} (valid {} hours, shown once): {code}",
        app::auth::people::ACTIVATION_HOURS
    );
    Ok(())
}
