//! 利用申請: an institution applies with its number, kind, name, address and public keys;
//! the operator approves (which registers the institution and creates its client with those
//! keys) or rejects. The operator also disables and re-enables clients and rotates their keys:
//! several keys (`kid`s) may be active at once, and a removed key stops working at once.
//!
//! A client's id is its institution's number (one client per institution).

use clins::policy::Principal;
use fhir::json;
use fhir::outcome::IssueType;
use store::{ApplicationRow, ClientKeyRow, ClientRow, InstitutionRow, Store};

use super::jose;
use crate::refusal::{Refusal, Why};
use crate::registry::{self, NewInstitution};

/// An application as filed.
#[derive(Clone, Debug, Default)]
pub struct NewApplication {
    pub institution: NewInstitution,
    pub address: String,
    /// The public keys (a JWKS document).
    pub jwks: Option<String>,
    /// Where the institution will publish its keys (kept; keys are not fetched yet).
    pub jwks_url: Option<String>,
}

fn invalid(detail: &'static str, en: String, ja: String) -> Refusal {
    Refusal::new(Why::BadRequest, IssueType::Value, detail, "", en, ja)
}

fn administer(principal: &Principal) -> Result<(), Refusal> {
    crate::access::administer(&crate::Caller::new(principal.clone()))
}

/// Checks a JWKS document and returns its keys as rows of `client_id`.
pub fn key_rows(client_id: &str, jwks: &str, now: &str) -> Result<Vec<ClientKeyRow>, Refusal> {
    let keys = jose::parse_jwks(jwks).map_err(|e| {
        invalid(
            "APPLICATION-JWKS",
            format!("jwks: {e}"),
            format!("jwks（公開鍵）が不正です: {e}"),
        )
    })?;
    Ok(keys
        .into_iter()
        .map(|(k, v)| ClientKeyRow {
            client_id: client_id.to_string(),
            kid: k.kid,
            jwk: json::to_string(&v),
            added_at: now.to_string(),
        })
        .collect())
}

/// Files an application (anyone may; the operator decides). 409 while another application of
/// the same number is pending.
pub fn apply(store: &Store, new: &NewApplication, now: &str) -> Result<ApplicationRow, Refusal> {
    let row = registry::check(&new.institution)?;
    let address = new.address.trim();
    if address.is_empty() || address.chars().count() > 300 || address.chars().any(char::is_control)
    {
        return Err(invalid(
            "APPLICATION-ADDRESS",
            "give the institution's address (1–300 characters)".into(),
            "所在地を1〜300文字で指定してください".into(),
        ));
    }
    let jwks_url = new.jwks_url.as_deref().map(str::trim).unwrap_or_default();
    if !jwks_url.is_empty() && (!jwks_url.starts_with("https://") || jwks_url.len() > 500) {
        return Err(invalid(
            "APPLICATION-JWKS-URL",
            "jwks_url must be an https:// URL (at most 500 characters)".into(),
            "jwks_url は https:// で始まるURL（500文字以内）で指定してください".into(),
        ));
    }
    let jwks = new.jwks.as_deref().map(str::trim).unwrap_or_default();
    if jwks.is_empty() && jwks_url.is_empty() {
        return Err(invalid(
            "APPLICATION-JWKS",
            "give the public keys of the institution's system (jwks), or where they will be published (jwks_url)".into(),
            "システムの公開鍵（jwks）または公開先（jwks_url）を指定してください".into(),
        ));
    }
    if !jwks.is_empty() {
        key_rows(&row.number, jwks, now)?;
    }
    if store
        .applications(Some("pending"))?
        .iter()
        .any(|a| a.number == row.number)
    {
        return Err(Refusal::new(
            Why::Conflict,
            IssueType::Conflict,
            "APPLICATION-PENDING",
            "",
            format!(
                "an application of {} is already waiting for the operator",
                row.number
            ),
            format!("{} の利用申請は審査待ちです", row.number),
        ));
    }
    let app = ApplicationRow {
        app_id: store::random_id(),
        number: row.number,
        kind: row.kind,
        name: row.name,
        prefecture: row.prefecture,
        address: address.to_string(),
        jwks: jwks.to_string(),
        jwks_url: jwks_url.to_string(),
        status: "pending".into(),
        reason: String::new(),
        created_at: now.to_string(),
        decided_at: None,
    };
    store.add_application(&app)?;
    Ok(app)
}

/// The applications, of one status when given (operator).
pub fn list(
    store: &Store,
    principal: &Principal,
    status: Option<&str>,
) -> Result<Vec<ApplicationRow>, Refusal> {
    administer(principal)?;
    if let Some(s) = status {
        if !matches!(s, "pending" | "approved" | "rejected") {
            return Err(invalid(
                "APPLICATION-STATUS",
                format!("status `{s}`: use pending, approved or rejected"),
                format!("状態「{s}」は不正です（pending、approved、rejected）"),
            ));
        }
    }
    Ok(store.applications(status)?)
}

fn pending(store: &Store, app_id: &str) -> Result<ApplicationRow, Refusal> {
    let app = store
        .application(app_id.trim())?
        .ok_or_else(|| Refusal::not_found(&format!("application {}", app_id.trim())))?;
    if app.status != "pending" {
        return Err(decided(&app));
    }
    Ok(app)
}

fn decided(app: &ApplicationRow) -> Refusal {
    Refusal::new(
        Why::Conflict,
        IssueType::Conflict,
        "APPLICATION-DECIDED",
        "",
        format!("application {} is already {}", app.app_id, app.status),
        format!("利用申請 {} は審査済みです（{}）", app.app_id, app.status),
    )
}

/// Approves a pending application: the institution is registered (enabled) and its client
/// created with the application's keys, in one transaction.
pub fn approve(
    store: &Store,
    principal: &Principal,
    app_id: &str,
    now: &str,
) -> Result<(InstitutionRow, ClientRow), Refusal> {
    administer(principal)?;
    let app = pending(store, app_id)?;
    let institution = InstitutionRow {
        number: app.number.clone(),
        kind: app.kind.clone(),
        name: app.name.clone(),
        prefecture: app.prefecture,
        enabled: true,
        updated_at: now.to_string(),
    };
    let client = ClientRow {
        client_id: app.number.clone(),
        institution: app.number.clone(),
        enabled: true,
        created_at: now.to_string(),
    };
    let keys = if app.jwks.is_empty() {
        Vec::new()
    } else {
        key_rows(&client.client_id, &app.jwks, now)?
    };
    if !store.approve_application(&app.app_id, &institution, &client, &keys, now)? {
        let again = store.application(&app.app_id)?.unwrap_or(app);
        return Err(decided(&again));
    }
    Ok((institution, client))
}

/// Rejects a pending application with a reason the applicant is told.
pub fn reject(
    store: &Store,
    principal: &Principal,
    app_id: &str,
    reason: &str,
    now: &str,
) -> Result<(), Refusal> {
    administer(principal)?;
    let app = pending(store, app_id)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(invalid(
            "APPLICATION-REASON",
            "give the reason for the rejection (1–500 characters)".into(),
            "却下の理由を1〜500文字で指定してください".into(),
        ));
    }
    if !store.reject_application(&app.app_id, reason, now)? {
        let again = store.application(&app.app_id)?.unwrap_or(app);
        return Err(decided(&again));
    }
    Ok(())
}

/// Registers a client for a registered institution directly, with keys (the operator's
/// command line and the demo); existing keys of the client are kept.
pub fn register_client(
    store: &Store,
    principal: &Principal,
    number: &str,
    jwks: &str,
    now: &str,
) -> Result<ClientRow, Refusal> {
    administer(principal)?;
    let number = number.trim();
    if store.institution(number)?.is_none() {
        return Err(Refusal::not_found(&format!("institution {number}")));
    }
    let client = ClientRow {
        client_id: number.to_string(),
        institution: number.to_string(),
        enabled: true,
        created_at: now.to_string(),
    };
    let keys = key_rows(&client.client_id, jwks, now)?;
    store.put_client(&client, &keys)?;
    Ok(client)
}

/// Disables or re-enables a client (404 when there is none).
pub fn set_client_enabled(
    store: &Store,
    principal: &Principal,
    client_id: &str,
    enabled: bool,
) -> Result<(), Refusal> {
    administer(principal)?;
    if store.set_client_enabled(client_id.trim(), enabled)? {
        Ok(())
    } else {
        Err(Refusal::not_found(&format!("client {}", client_id.trim())))
    }
}

/// Adds keys to a client (rotation: add the new key, switch the system over, remove the old).
pub fn add_keys(
    store: &Store,
    principal: &Principal,
    client_id: &str,
    jwks: &str,
    now: &str,
) -> Result<Vec<String>, Refusal> {
    administer(principal)?;
    let client_id = client_id.trim();
    if store.client(client_id)?.is_none() {
        return Err(Refusal::not_found(&format!("client {client_id}")));
    }
    let keys = key_rows(client_id, jwks, now)?;
    store.add_client_keys(&keys)?;
    Ok(keys.into_iter().map(|k| k.kid).collect())
}

/// Removes a key of a client: assertions signed with it are refused from now on.
pub fn remove_key(
    store: &Store,
    principal: &Principal,
    client_id: &str,
    kid: &str,
) -> Result<(), Refusal> {
    administer(principal)?;
    if store.remove_client_key(client_id.trim(), kid.trim())? {
        Ok(())
    } else {
        Err(Refusal::not_found(&format!(
            "key {} of client {}",
            kid.trim(),
            client_id.trim()
        )))
    }
}

/// The clients with their keys' ids (operator).
pub fn clients(
    store: &Store,
    principal: &Principal,
) -> Result<Vec<(ClientRow, Vec<String>)>, Refusal> {
    administer(principal)?;
    let mut out = Vec::new();
    for c in store.clients()? {
        let kids = store
            .client_keys(&c.client_id)?
            .into_iter()
            .map(|k| k.kid)
            .collect();
        out.push((c, kids));
    }
    Ok(out)
}
