//! Sign-in of people: staff of institutions (for the web viewer) and patients (the stand-in for
//! マイナポータル). Each account is opened with a one-time activation code — staff: from the
//! operator (an institution's first administrator) or the institution's administrator;
//! patients: from the qualification service at the card reader, or the operator — with which
//! the person sets a password (argon2id) and receives a TOTP secret. Signing in takes the
//! password and a current TOTP code (each code once); five failures lock the account for 15
//! minutes. A session lives in a cookie: 30 minutes idle, 12 hours at most, its CSRF token
//! required on every request that changes something.

use clins::policy::{Practitioner, Principal, Qualification};
use fhir::outcome::IssueType;
use store::{AccountRow, SessionRow, Store};

use super::secrets;
use crate::access::Caller;
use crate::dates::{instant_millis, plus_hours};
use crate::identity::{caller_number, Claim};
use crate::refusal::{Refusal, Why};

pub const MAX_FAILURES: i64 = 5;
pub const LOCK_MINUTES: i64 = 15;
pub const IDLE_MINUTES: i64 = 30;
pub const SESSION_HOURS: i64 = 12;
pub const ACTIVATION_HOURS: i64 = 72;
/// How long emergency access started in a web session lasts.
pub const EMERGENCY_MINUTES: i64 = 60;
/// The session cookie (the `__Host-` prefix: Secure, Path=/, no Domain).
pub const SESSION_COOKIE: &str = "__Host-clins-session";

/// Who signs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Person {
    Staff {
        institution: String,
        login: String,
    },
    /// By the normalised member id.
    Patient {
        member_id: String,
    },
    /// A person of the operator (the web console).
    Operator {
        login: String,
    },
}

impl Person {
    fn key(&self) -> (&'static str, &str, &str) {
        match self {
            Person::Staff { institution, login } => ("staff", institution, login),
            Person::Patient { member_id } => ("patient", "", member_id),
            Person::Operator { login } => ("operator", "", login),
        }
    }
}

fn invalid(detail: &'static str, en: impl Into<String>, ja: impl Into<String>) -> Refusal {
    Refusal::new(Why::BadRequest, IssueType::Value, detail, "", en, ja)
}

fn failed() -> Refusal {
    Refusal::new(
        Why::Unauthenticated,
        IssueType::Login,
        "SIGN-IN-FAILED",
        "",
        "sign-in failed: the account, password or one-time code is wrong, the code was used before, or the account is locked after repeated failures (15 minutes)",
        "サインインできません。アカウント、パスワード、ワンタイムコードのいずれかが誤っているか、コードが使用済みか、失敗が続いたためアカウントがロックされています（15分間）",
    )
}

fn minutes_after(now: &str, minutes: i64) -> String {
    instant_millis(now)
        .map(|ms| store::format_utc_millis(ms + minutes * 60_000))
        .unwrap_or_default()
}

fn later(a: &str, b: &str) -> bool {
    match (instant_millis(a), instant_millis(b)) {
        (Some(x), Some(y)) => x > y,
        _ => false,
    }
}

/// A login id: 1–64 letters, digits or `- _ . @`.
fn login_ok(login: &str) -> bool {
    crate::auth::practitioner_id_ok(login)
}

/// A new one-time activation code: the code (shown once), its digest (stored) and its expiry.
struct Activation {
    code: String,
    digest: String,
    until: String,
}

impl Activation {
    fn new(now: &str) -> Activation {
        let code = secrets::one_time_code();
        Activation {
            digest: secrets::digest_hex(&secrets::normalize_code(&code)),
            until: plus_hours(now, ACTIVATION_HOURS).unwrap_or_default(),
            code,
        }
    }
}

/// Whether `caller` manages the staff accounts of `institution`: the operator, or an
/// administrator among that institution's staff.
pub fn may_manage_staff(caller: &Caller, institution: &str) -> Result<(), Refusal> {
    let ok = match &caller.principal {
        Principal::Operator => true,
        Principal::Institution { number, .. } => number == institution && caller.staff_admin,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Refusal::forbidden(
            "STAFF-ADMIN-ONLY",
            "only the operator or an administrator of the institution's staff manages its accounts",
            "職員アカウントは運用者または当該施設の管理者のみが管理できます",
        ))
    }
}

/// An account's login id (1–64 letters, digits or `- _ . @`) and the person's name
/// (1–100 characters, no control characters), trimmed.
fn login_and_name<'a>(login: &'a str, name: &'a str) -> Result<(&'a str, &'a str), Refusal> {
    let login = login.trim();
    if !login_ok(login) {
        return Err(invalid(
            "STAFF-LOGIN",
            "the login id must be 1–64 letters, digits or - _ . @",
            "ログインIDは英数字と - _ . @ の1〜64文字にしてください",
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid(
            "STAFF-NAME",
            "give the person's name (1–100 characters)",
            "氏名を1〜100文字で指定してください",
        ));
    }
    Ok((login, name))
}

/// A staff account as asked for.
#[derive(Clone, Debug, Default)]
pub struct NewStaff {
    pub institution: String,
    pub login: String,
    pub name: String,
    pub qualification: String,
    pub emergency: bool,
    pub admin: bool,
}

/// Creates (or re-creates) a staff account with a one-time activation code, returned once.
pub fn add_staff(
    store: &Store,
    caller: &Caller,
    new: &NewStaff,
    now: &str,
) -> Result<(AccountRow, String), Refusal> {
    let institution = new.institution.trim();
    may_manage_staff(caller, institution)?;
    caller_number(institution).map_err(|(en, ja)| invalid("STAFF-INSTITUTION", en, ja))?;
    if store.institution(institution)?.is_none() {
        return Err(Refusal::not_found(&format!("institution {institution}")));
    }
    let (login, name) = login_and_name(&new.login, &new.name)?;
    let q = if new.qualification.is_empty() {
        Qualification::Other
    } else {
        Qualification::from_code(&new.qualification).ok_or_else(|| {
            invalid(
                "STAFF-QUALIFICATION",
                format!(
                    "qualification `{}`: use doctor, dentist, pharmacist or other",
                    new.qualification
                ),
                "資格は doctor、dentist、pharmacist、other のいずれかです",
            )
        })?
    };
    // Only the operator names administrators of an institution it has not got one of yet; an
    // institution's administrator may name others.
    let code = Activation::new(now);
    let row = store.put_account(&AccountRow {
        account_id: store::random_id(),
        kind: "staff".into(),
        institution: institution.to_string(),
        login: login.to_string(),
        name: name.to_string(),
        qualification: q.code().to_string(),
        emergency: new.emergency,
        admin: new.admin,
        activation: code.digest.clone(),
        activation_until: code.until.clone(),
        enabled: true,
        created_at: now.to_string(),
        ..AccountRow::default()
    })?;
    Ok((row, code.code))
}

/// The staff accounts of an institution.
pub fn staff(
    store: &Store,
    caller: &Caller,
    institution: &str,
) -> Result<Vec<AccountRow>, Refusal> {
    may_manage_staff(caller, institution.trim())?;
    Ok(store.accounts("staff", institution.trim())?)
}

fn staff_account(store: &Store, institution: &str, login: &str) -> Result<AccountRow, Refusal> {
    store
        .account("staff", institution.trim(), login.trim())?
        .ok_or_else(|| Refusal::not_found(&format!("staff account {}", login.trim())))
}

/// Disables (its sessions end at once) or re-enables a staff account.
pub fn set_staff_enabled(
    store: &Store,
    caller: &Caller,
    institution: &str,
    login: &str,
    enabled: bool,
) -> Result<(), Refusal> {
    may_manage_staff(caller, institution.trim())?;
    let a = staff_account(store, institution, login)?;
    store.set_account_enabled(&a.account_id, enabled)?;
    Ok(())
}

/// A new activation code for a staff account: its password and TOTP must be set again.
pub fn reset_staff(
    store: &Store,
    caller: &Caller,
    institution: &str,
    login: &str,
    now: &str,
) -> Result<String, Refusal> {
    may_manage_staff(caller, institution.trim())?;
    let a = staff_account(store, institution, login)?;
    let code = Activation::new(now);
    let id = a.account_id.clone();
    store.put_account(&AccountRow {
        password: String::new(),
        totp_secret: String::new(),
        totp_step: 0,
        failures: 0,
        locked_until: String::new(),
        activation: code.digest.clone(),
        activation_until: code.until.clone(),
        ..a
    })?;
    store.revoke_sessions_of(&id)?;
    Ok(code.code)
}

/// A patient's activation code, issued by the qualification service (after the card check)
/// or the operator. The code is shown once.
pub fn patient_activation(
    store: &Store,
    caller: &Caller,
    member_id: &str,
    now: &str,
) -> Result<String, Refusal> {
    if !matches!(
        caller.principal,
        Principal::QualificationService | Principal::Operator
    ) {
        return Err(Refusal::forbidden(
            "ACTIVATION-NOT-PERMITTED",
            "patients' activation codes are issued by the qualification service (at the card reader) or the operator",
            "患者のアクティベーションコードは資格確認（カードリーダー）または運用者のみが発行できます",
        ));
    }
    let member = clins::InsuranceMemberId::parse(member_id.trim())
        .map_err(|e| invalid("ACTIVATION-MEMBER", e.en, e.ja))?
        .normalized();
    let code = Activation::new(now);
    let existing = store.account("patient", "", &member)?;
    store.put_account(&AccountRow {
        account_id: existing
            .as_ref()
            .map_or_else(store::random_id, |a| a.account_id.clone()),
        kind: "patient".into(),
        login: member,
        activation: code.digest.clone(),
        activation_until: code.until.clone(),
        enabled: true,
        created_at: now.to_string(),
        ..AccountRow::default()
    })?;
    Ok(code.code)
}

/// What activation gives: the TOTP secret to enrol in an authenticator app.
#[derive(Clone, Debug)]
pub struct Enrolment {
    pub totp_secret: String,
    pub otpauth: String,
}

/// Sets the password with an activation code (once), and returns the new TOTP secret.
pub fn activate(
    store: &Store,
    who: &Person,
    code: &str,
    password: &str,
    now: &str,
) -> Result<Enrolment, Refusal> {
    if let Some((en, ja)) = secrets::password_problem(password) {
        return Err(invalid("PASSWORD-WEAK", en, ja));
    }
    let bad = || {
        Refusal::new(
            Why::Unauthenticated,
            IssueType::Login,
            "ACTIVATION-FAILED",
            "",
            "activation failed: the account or code is wrong, the code has expired (72 hours) or was used",
            "アクティベーションできません。アカウントまたはコードが誤っているか、期限（72時間）切れか使用済みです",
        )
    };
    let (kind, institution, login) = who.key();
    let a = store.account(kind, institution, login)?.ok_or_else(bad)?;
    let digest = secrets::digest_hex(&secrets::normalize_code(code));
    if a.activation.is_empty()
        || !secrets::same(a.activation.as_bytes(), digest.as_bytes())
        || !later(&a.activation_until, now)
        || !a.enabled
    {
        return Err(bad());
    }
    let secret = secrets::new_totp_secret();
    if !store.activate_account(
        &a.account_id,
        &a.activation,
        &secrets::hash_password(password),
        &secret,
    )? {
        return Err(bad());
    }
    let account = match who {
        Person::Staff { institution, login } => format!("{login}@{institution}"),
        Person::Patient { member_id } => member_id.clone(),
        Person::Operator { login } => format!("{login}@operator"),
    };
    Ok(Enrolment {
        otpauth: secrets::otpauth_uri(&secret, &account),
        totp_secret: secret,
    })
}

/// Creates (or re-creates) an account of the operator's staff (the web console) with a
/// one-time activation code, returned once. Only the operator (its command line) does this.
pub fn add_operator(
    store: &Store,
    caller: &Caller,
    login: &str,
    name: &str,
    now: &str,
) -> Result<(AccountRow, String), Refusal> {
    if !matches!(caller.principal, Principal::Operator) {
        return Err(Refusal::forbidden(
            "OPERATOR-ONLY",
            "only the operator creates the operator's accounts",
            "運用者のアカウントは運用者のみが作成できます",
        ));
    }
    let (login, name) = login_and_name(login, name)?;
    let code = Activation::new(now);
    let existing = store.account("operator", "", login)?;
    let row = store.put_account(&AccountRow {
        account_id: existing
            .as_ref()
            .map_or_else(store::random_id, |a| a.account_id.clone()),
        kind: "operator".into(),
        login: login.to_string(),
        name: name.to_string(),
        activation: code.digest.clone(),
        activation_until: code.until.clone(),
        enabled: true,
        created_at: now.to_string(),
        ..AccountRow::default()
    })?;
    // A re-created account starts over: its old sessions end.
    store.revoke_sessions_of(&row.account_id)?;
    Ok((row, code.code))
}

/// A session for an activated, enabled account without its password and code: only the
/// `demo` command's one-click sign-ins reach this (the route exists only in a demo).
pub fn demo_session(store: &Store, who: &Person, now: &str) -> Result<NewSession, Refusal> {
    let (kind, institution, login) = who.key();
    let a = store
        .account(kind, institution, login)?
        .filter(|a| a.enabled && !a.password.is_empty())
        .ok_or_else(failed)?;
    new_session(store, &a.account_id, now)
}

fn new_session(store: &Store, account_id: &str, now: &str) -> Result<NewSession, Refusal> {
    let cookie = secrets::random_token();
    let csrf = secrets::random_token();
    let expires_at = plus_hours(now, SESSION_HOURS).unwrap_or_default();
    store.add_session(&SessionRow {
        session_hash: secrets::digest_hex(&cookie),
        account_id: account_id.to_string(),
        csrf: csrf.clone(),
        created_at: now.to_string(),
        expires_at: expires_at.clone(),
        idle_until: minutes_after(now, IDLE_MINUTES),
        revoked: false,
        emergency_since: String::new(),
        emergency_reason: String::new(),
        emergency_member: String::new(),
        previous_visit: String::new(),
    })?;
    Ok(NewSession {
        cookie,
        csrf,
        expires_at,
    })
}

/// A new session: the cookie value (shown once, stored as its SHA-256) and its CSRF token.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub expires_at: String,
}

/// Signs a person in with password and TOTP code.
pub fn sign_in(
    store: &Store,
    who: &Person,
    password: &str,
    totp: &str,
    now: &str,
) -> Result<NewSession, Refusal> {
    let (kind, institution, login) = who.key();
    let Some(a) = store.account(kind, institution, login)? else {
        // The same work as for a real account, so that timing does not tell them apart.
        let _ = secrets::verify_password(password, &secrets::hash_password("x"));
        return Err(failed());
    };
    if !a.enabled || a.password.is_empty() || later(&a.locked_until, now) {
        let _ = secrets::verify_password(password, &a.password);
        return Err(failed());
    }
    let password_ok = secrets::verify_password(password, &a.password);
    let step = secrets::totp_step(instant_millis(now).unwrap_or(0).div_euclid(1000));
    let totp_step = secrets::totp_accept(&a.totp_secret, totp, step, a.totp_step);
    let Some(totp_step) = totp_step.filter(|_| password_ok) else {
        store.sign_in_failed(
            &a.account_id,
            MAX_FAILURES,
            &minutes_after(now, LOCK_MINUTES),
        )?;
        return Err(failed());
    };
    if !store.sign_in_succeeded(&a.account_id, totp_step)? {
        return Err(failed());
    }
    new_session(store, &a.account_id, now)
}

/// A live session: who it is, its CSRF token, and whether the person administers the staff.
#[derive(Clone, Debug)]
pub struct LiveSession {
    pub claim: Claim,
    /// Emergency access in effect: since when, the reason given, and the patient it is for.
    pub emergency: Option<(String, String, String)>,
    pub csrf: String,
    pub staff_admin: bool,
    pub name: String,
    /// When the person's session before this one started (empty: this is the first).
    pub previous_visit: String,
}

fn session_expired() -> Refusal {
    Refusal::new(
        Why::Unauthenticated,
        IssueType::Login,
        "SESSION-EXPIRED",
        "",
        "the session has ended (signed out, expired after 30 minutes idle or 12 hours, or the account was disabled): sign in again",
        "セッションが終了しました（サインアウト、30分の無操作または12時間の経過、アカウント停止）。再度サインインしてください",
    )
}

/// The session of a cookie value at `now` (its idle time renewed at most every 5 minutes).
pub fn session(store: &Store, cookie: &str, now: &str) -> Result<LiveSession, Refusal> {
    let hash = secrets::digest_hex(cookie);
    let (live, touch) = judge(store.session(&hash)?, now)?;
    if touch {
        store.touch_session(&hash, &minutes_after(now, IDLE_MINUTES))?;
    }
    Ok(live)
}

/// [`session`] at once on the calling thread when that is a short call: a read of the embedded
/// store with a connection idle, and no idle expiry to move. `None`: call [`session`] from a
/// blocking task.
pub fn session_now(store: &Store, cookie: &str, now: &str) -> Option<Result<LiveSession, Refusal>> {
    let hash = secrets::digest_hex(cookie);
    let found = match store.session_now(&hash)? {
        Ok(f) => f,
        Err(e) => return Some(Err(e.into())),
    };
    match judge(found, now) {
        Ok((_, true)) => None,
        Ok((live, false)) => Some(Ok(live)),
        Err(r) => Some(Err(r)),
    }
}

/// A session as found: live (and whether its idle expiry is due to be moved) or expired.
fn judge(
    found: Option<(store::SessionRow, store::AccountRow)>,
    now: &str,
) -> Result<(LiveSession, bool), Refusal> {
    let (s, a) = found.ok_or_else(session_expired)?;
    if s.revoked || !a.enabled || !later(&s.expires_at, now) || !later(&s.idle_until, now) {
        return Err(session_expired());
    }
    let touch = !later(&s.idle_until, &minutes_after(now, IDLE_MINUTES - 5));
    let claim = match a.kind.as_str() {
        "staff" => Claim::Institution {
            number: a.institution.clone(),
            practitioner: Some(Practitioner {
                id: a.login.clone(),
                emergency: a.emergency,
                // Password and TOTP: two factors.
                two_factor: true,
                qualification: Qualification::from_code(&a.qualification)
                    .unwrap_or(Qualification::Other),
            }),
        },
        "operator" => Claim::Operator,
        _ => Claim::Patient {
            member_id: a.login.clone(),
        },
    };
    let live = LiveSession {
        // At most an hour, and only while the account keeps the privilege.
        emergency: (!s.emergency_since.is_empty()
            && a.kind == "staff"
            && a.emergency
            && later(&minutes_after(&s.emergency_since, EMERGENCY_MINUTES), now))
        .then(|| {
            (
                s.emergency_since.clone(),
                s.emergency_reason.clone(),
                s.emergency_member.clone(),
            )
        }),
        claim,
        csrf: s.csrf,
        staff_admin: a.kind == "staff" && a.admin,
        name: a.name,
        previous_visit: s.previous_visit,
    };
    Ok((live, touch))
}

/// Starts emergency access (break-glass) in a staff session: the account must hold the
/// emergency privilege, give a reason, and confirm with a fresh one-time code (the second
/// factor asked again). Until it ends, the session's requests claim emergency access.
pub fn start_emergency(
    store: &Store,
    cookie: &str,
    member: &str,
    reason: &str,
    totp: &str,
    now: &str,
) -> Result<(), Refusal> {
    let member = clins::InsuranceMemberId::parse(member.trim())
        .map_err(|e| invalid("EMERGENCY-PATIENT", e.en, e.ja))?
        .normalized();
    let reason = confirm_emergency(store, cookie, reason, totp, now)?;
    emergency_for(store, cookie, &member, &reason, now)
}

/// Checks what emergency access needs before any patient is looked at: a live staff session,
/// the emergency privilege, a reason (returned trimmed), and a fresh one-time code (the second
/// factor asked again; wrong codes count towards the lock, as at sign-in).
pub fn confirm_emergency(
    store: &Store,
    cookie: &str,
    reason: &str,
    totp: &str,
    now: &str,
) -> Result<String, Refusal> {
    // A live session (not expired, not idle, not revoked), of staff.
    session(store, cookie, now)?;
    let hash = secrets::digest_hex(cookie);
    let (_, a) = store.session(&hash)?.ok_or_else(session_expired)?;
    if a.kind != "staff" {
        return Err(session_expired());
    }
    if !a.emergency {
        return Err(Refusal::forbidden(
            "EMERGENCY-NOT-PERMITTED",
            "this account has no emergency-access privilege",
            "このアカウントには救急時閲覧の権限がありません",
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 || reason.chars().any(char::is_control) {
        return Err(invalid(
            "EMERGENCY-REASON",
            "give the reason for emergency access (1–200 characters)",
            "救急時閲覧の理由を1〜200文字で入力してください",
        ));
    }
    // Locked after repeated wrong codes, as at sign-in.
    if later(&a.locked_until, now) {
        return Err(failed());
    }
    let step = secrets::totp_step(instant_millis(now).unwrap_or(0).div_euclid(1000));
    let Some(step) = secrets::totp_accept(&a.totp_secret, totp, step, a.totp_step) else {
        store.sign_in_failed(
            &a.account_id,
            MAX_FAILURES,
            &minutes_after(now, LOCK_MINUTES),
        )?;
        return Err(failed());
    };
    if !store.sign_in_succeeded(&a.account_id, step)? {
        return Err(failed());
    }
    Ok(reason.to_string())
}

/// Puts emergency access for `member` (normalised) into effect in a session whose emergency
/// was confirmed (`confirm_emergency`).
pub fn emergency_for(
    store: &Store,
    cookie: &str,
    member: &str,
    reason: &str,
    now: &str,
) -> Result<(), Refusal> {
    store.set_session_emergency(&secrets::digest_hex(cookie), now, reason, member)?;
    Ok(())
}

/// Ends emergency access in a session.
pub fn end_emergency(store: &Store, cookie: &str) -> Result<(), Refusal> {
    store.set_session_emergency(&secrets::digest_hex(cookie), "", "", "")?;
    Ok(())
}

/// Ends the session of a cookie value.
pub fn sign_out(store: &Store, cookie: &str) -> Result<(), Refusal> {
    store.revoke_session(&secrets::digest_hex(cookie))?;
    Ok(())
}
