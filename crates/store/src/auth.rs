//! Facts about sign-in: 利用申請 (applications), the clients they create with their public
//! keys, and the client-assertion ids already used (replay protection shared by every hub
//! process on the database). The store keeps and returns them; the application core decides.

use crate::access::{upsert_institution, InstitutionRow};
use crate::driver::{Conn, DbError, Param, Row};
use crate::{Store, StoreError};

/// An institution's application (利用申請).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationRow {
    pub app_id: String,
    pub number: String,
    pub kind: String,
    pub name: String,
    pub prefecture: i64,
    pub address: String,
    /// The public keys (a JWKS document), as sent.
    pub jwks: String,
    /// Where the keys will be published (kept for later; not fetched).
    pub jwks_url: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// The operator's reason for a rejection.
    pub reason: String,
    pub created_at: String,
    pub decided_at: Option<String>,
}

/// A client of an institution (its EMR system), with its keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRow {
    pub client_id: String,
    pub institution: String,
    pub enabled: bool,
    pub created_at: String,
}

/// One public key of a client, as a JWK (JSON text), named by its `kid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientKeyRow {
    pub client_id: String,
    pub kid: String,
    pub jwk: String,
    pub added_at: String,
}

const APPLICATION_COLUMNS: &str = "app_id, number, kind, name, prefecture, address, jwks, jwks_url, status, reason, created_at, decided_at";

fn application(row: Row) -> ApplicationRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    ApplicationRow {
        app_id: next().text(),
        number: next().text(),
        kind: next().text(),
        name: next().text(),
        prefecture: next().int(),
        address: next().text(),
        jwks: next().text(),
        jwks_url: next().text(),
        status: next().text(),
        reason: next().text(),
        created_at: next().text(),
        decided_at: next().opt_text(),
    }
}

fn client(row: Row) -> ClientRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    ClientRow {
        client_id: next().text(),
        institution: next().text(),
        enabled: next().int() != 0,
        created_at: next().text(),
    }
}

fn key(row: Row) -> ClientKeyRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    ClientKeyRow {
        client_id: next().text(),
        kid: next().text(),
        jwk: next().text(),
        added_at: next().text(),
    }
}

/// Adds a client, or updates its institution and state (its keys are the caller's business).
fn upsert_client(c: &mut dyn Conn, cl: &ClientRow) -> Result<(), crate::DbError> {
    c.execute(
        "INSERT INTO clients (client_id, institution, enabled, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (client_id) DO UPDATE SET institution = excluded.institution, enabled = excluded.enabled",
        &[
            cl.client_id.clone().into(),
            cl.institution.clone().into(),
            i64::from(cl.enabled).into(),
            cl.created_at.clone().into(),
        ],
    )?;
    Ok(())
}

fn put_keys(c: &mut dyn Conn, keys: &[ClientKeyRow]) -> Result<(), crate::DbError> {
    for k in keys {
        c.execute(
            "INSERT INTO client_keys (client_id, kid, jwk, added_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (client_id, kid) DO UPDATE SET jwk = excluded.jwk, added_at = excluded.added_at",
            &[
                k.client_id.clone().into(),
                k.kid.clone().into(),
                k.jwk.clone().into(),
                k.added_at.clone().into(),
            ],
        )?;
    }
    Ok(())
}

impl Store {
    /// Files an application.
    pub fn add_application(&self, row: &ApplicationRow) -> Result<(), StoreError> {
        let r = row.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO applications ({APPLICATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                &[
                    r.app_id.clone().into(),
                    r.number.clone().into(),
                    r.kind.clone().into(),
                    r.name.clone().into(),
                    r.prefecture.into(),
                    r.address.clone().into(),
                    r.jwks.clone().into(),
                    r.jwks_url.clone().into(),
                    r.status.clone().into(),
                    r.reason.clone().into(),
                    r.created_at.clone().into(),
                    r.decided_at.clone().into(),
                ],
            )?;
            Ok(())
        })
    }

    /// The applications (of one status when given), oldest first.
    pub fn applications(&self, status: Option<&str>) -> Result<Vec<ApplicationRow>, StoreError> {
        self.read(|c| {
            let rows = match status {
                Some(s) => c.query(
                    &format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE status = ?1 ORDER BY created_at, app_id"),
                    &[s.into()],
                )?,
                None => c.query(
                    &format!("SELECT {APPLICATION_COLUMNS} FROM applications ORDER BY created_at, app_id"),
                    &[],
                )?,
            };
            Ok(rows.into_iter().map(application).collect())
        })
    }

    /// One application.
    pub fn application(&self, app_id: &str) -> Result<Option<ApplicationRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE app_id = ?1"),
                &[app_id.into()],
            )?
            .into_iter()
            .next()
            .map(application))
        })
    }

    /// Rejects a pending application; `false` when it is no longer pending.
    pub fn reject_application(
        &self,
        app_id: &str,
        reason: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let (id, reason, now) = (app_id.to_string(), reason.to_string(), now.to_string());
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE applications SET status = 'rejected', reason = ?2, decided_at = ?3 WHERE app_id = ?1 AND status = 'pending'",
                &[id.clone().into(), reason.clone().into(), now.clone().into()],
            )? == 1)
        })
    }

    /// Approves a pending application in one transaction: the registry entry, the client and
    /// its keys. `false` (nothing written) when the application is no longer pending.
    pub fn approve_application(
        &self,
        app_id: &str,
        institution: &InstitutionRow,
        client: &ClientRow,
        keys: &[ClientKeyRow],
        now: &str,
    ) -> Result<bool, StoreError> {
        let (id, inst, cl, keys, now) = (
            app_id.to_string(),
            institution.clone(),
            client.clone(),
            keys.to_vec(),
            now.to_string(),
        );
        self.write(move |c| {
            let n = c.execute(
                "UPDATE applications SET status = 'approved', decided_at = ?2 WHERE app_id = ?1 AND status = 'pending'",
                &[id.clone().into(), now.clone().into()],
            )?;
            if n != 1 {
                return Ok(false);
            }
            upsert_institution(c, &inst)?;
            upsert_client(c, &cl)?;
            c.execute(
                "DELETE FROM client_keys WHERE client_id = ?1",
                &[cl.client_id.clone().into()],
            )?;
            put_keys(c, &keys)?;
            Ok(true)
        })
    }

    /// Adds or replaces a client with its keys (the command line's and the demo's direct
    /// registration); the client's other keys are kept.
    pub fn put_client(&self, client: &ClientRow, keys: &[ClientKeyRow]) -> Result<(), StoreError> {
        let (cl, keys) = (client.clone(), keys.to_vec());
        self.write(move |c| {
            upsert_client(c, &cl)?;
            put_keys(c, &keys)?;
            Ok(())
        })
    }

    /// One client.
    pub fn client(&self, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                "SELECT client_id, institution, enabled, created_at FROM clients WHERE client_id = ?1",
                &[client_id.into()],
            )?
            .into_iter()
            .next()
            .map(client))
        })
    }

    /// Every client, by id.
    pub fn clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                "SELECT client_id, institution, enabled, created_at FROM clients ORDER BY client_id",
                &[],
            )?
            .into_iter()
            .map(client)
            .collect())
        })
    }

    /// A client with the key named `kid` (`None` for the key when the client has no such key).
    pub fn client_with_key(
        &self,
        client_id: &str,
        kid: &str,
    ) -> Result<Option<(ClientRow, Option<ClientKeyRow>)>, StoreError> {
        self.read(|c| {
            let mut rows = c.query(
                "SELECT cl.client_id, cl.institution, cl.enabled, cl.created_at, k.client_id, k.kid, k.jwk, k.added_at \
                 FROM clients cl LEFT JOIN client_keys k ON k.client_id = cl.client_id AND k.kid = ?2 WHERE cl.client_id = ?1",
                &[client_id.into(), kid.into()],
            )?;
            Ok(rows.pop().map(|mut r| {
                let k = r.split_off(4);
                let key = (!matches!(k.first(), None | Some(Param::Null))).then(|| key(k));
                (client(r), key)
            }))
        })
    }

    /// The keys of a client, by `kid`.
    pub fn client_keys(&self, client_id: &str) -> Result<Vec<ClientKeyRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                "SELECT client_id, kid, jwk, added_at FROM client_keys WHERE client_id = ?1 ORDER BY kid",
                &[client_id.into()],
            )?
            .into_iter()
            .map(key)
            .collect())
        })
    }

    /// Adds (or replaces) keys of a client.
    pub fn add_client_keys(&self, keys: &[ClientKeyRow]) -> Result<(), StoreError> {
        let keys = keys.to_vec();
        self.write(move |c| Ok(put_keys(c, &keys)?))
    }

    /// Removes a key of a client; `false` when it has no such key.
    pub fn remove_client_key(&self, client_id: &str, kid: &str) -> Result<bool, StoreError> {
        let (id, kid) = (client_id.to_string(), kid.to_string());
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM client_keys WHERE client_id = ?1 AND kid = ?2",
                &[id.clone().into(), kid.clone().into()],
            )? == 1)
        })
    }

    /// Enables or disables a client; `false` when there is no such client.
    pub fn set_client_enabled(&self, client_id: &str, enabled: bool) -> Result<bool, StoreError> {
        let id = client_id.to_string();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE clients SET enabled = ?2 WHERE client_id = ?1",
                &[id.clone().into(), i64::from(enabled).into()],
            )? == 1)
        })
    }

    /// Records the use of a client assertion's `jti` until `expires_at`; `false` when it was
    /// used before (a replay). Atomic across processes: the primary key decides.
    pub fn use_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: &str,
    ) -> Result<bool, StoreError> {
        let (id, jti, exp) = (
            client_id.to_string(),
            jti.to_string(),
            expires_at.to_string(),
        );
        self.write(move |c| {
            Ok(c.execute(
                "INSERT INTO used_jtis (client_id, jti, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (client_id, jti) DO NOTHING",
                &[id.clone().into(), jti.clone().into(), exp.clone().into()],
            )? == 1)
        })
    }

    /// Forgets assertion ids that expired before `now` (an expired assertion is refused for
    /// its `exp` anyway); returns how many.
    pub fn forget_jtis(&self, now: &str) -> Result<u64, StoreError> {
        let now = now.to_string();
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM used_jtis WHERE expires_at < ?1",
                &[now.clone().into()],
            )?)
        })
    }
}

/// A person who signs in: a staff member of an institution or a patient.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AccountRow {
    pub account_id: String,
    /// `staff` or `patient`.
    pub kind: String,
    /// Staff: the institution's number; patients: empty.
    pub institution: String,
    /// Staff: the login id; patients: the normalised member id.
    pub login: String,
    pub name: String,
    /// Staff: `doctor`, `dentist`, `pharmacist` or `other`.
    pub qualification: String,
    pub emergency: bool,
    /// An administrator of the institution's staff accounts.
    pub admin: bool,
    /// argon2id (PHC string); empty until activated.
    pub password: String,
    /// base32; empty until activated.
    pub totp_secret: String,
    /// The last TOTP step accepted (a code is accepted once).
    pub totp_step: i64,
    pub failures: i64,
    /// Locked until this instant (empty: not locked).
    pub locked_until: String,
    /// SHA-256 of the one-time activation code; empty when none is open.
    pub activation: String,
    pub activation_until: String,
    pub enabled: bool,
    pub created_at: String,
}

/// A signed-in session (the cookie holds the value whose SHA-256 is `session_hash`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub session_hash: String,
    pub account_id: String,
    pub csrf: String,
    pub created_at: String,
    pub expires_at: String,
    pub idle_until: String,
    pub revoked: bool,
    /// Emergency access in effect since (empty: not in effect), its reason and its patient.
    pub emergency_since: String,
    pub emergency_reason: String,
    pub emergency_member: String,
    /// When the account's session before this one started (empty: none); set by the store.
    pub previous_visit: String,
}

const ACCOUNT_COLUMNS: &str = "account_id, kind, institution, login, name, qualification, emergency, admin, password, totp_secret, totp_step, failures, locked_until, activation, activation_until, enabled, created_at";

fn account(row: Row) -> AccountRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    AccountRow {
        account_id: next().text(),
        kind: next().text(),
        institution: next().text(),
        login: next().text(),
        name: next().text(),
        qualification: next().text(),
        emergency: next().int() != 0,
        admin: next().int() != 0,
        password: next().text(),
        totp_secret: next().text(),
        totp_step: next().int(),
        failures: next().int(),
        locked_until: next().text(),
        activation: next().text(),
        activation_until: next().text(),
        enabled: next().int() != 0,
        created_at: next().text(),
    }
}

fn account_params(a: &AccountRow) -> Vec<Param> {
    vec![
        a.account_id.clone().into(),
        a.kind.clone().into(),
        a.institution.clone().into(),
        a.login.clone().into(),
        a.name.clone().into(),
        a.qualification.clone().into(),
        i64::from(a.emergency).into(),
        i64::from(a.admin).into(),
        a.password.clone().into(),
        a.totp_secret.clone().into(),
        a.totp_step.into(),
        a.failures.into(),
        a.locked_until.clone().into(),
        a.activation.clone().into(),
        a.activation_until.clone().into(),
        i64::from(a.enabled).into(),
        a.created_at.clone().into(),
    ]
}

impl Store {
    /// Adds an account, or replaces the one with the same kind, institution and login (its id
    /// kept). Returns the stored row.
    pub fn put_account(&self, row: &AccountRow) -> Result<AccountRow, StoreError> {
        let r = row.clone();
        self.write(move |c| {
            let existing = c
                .query(
                    &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE kind = ?1 AND institution = ?2 AND login = ?3"),
                    &[r.kind.clone().into(), r.institution.clone().into(), r.login.clone().into()],
                )?
                .into_iter()
                .next()
                .map(account);
            let mut row = r.clone();
            if let Some(e) = existing {
                row.account_id = e.account_id;
                row.created_at = e.created_at;
                c.execute(
                    "DELETE FROM accounts WHERE account_id = ?1",
                    &[row.account_id.clone().into()],
                )?;
            }
            c.execute(
                &format!("INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"),
                &account_params(&row),
            )?;
            Ok(row)
        })
    }

    /// The account of a kind, institution and login.
    pub fn account(
        &self,
        kind: &str,
        institution: &str,
        login: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE kind = ?1 AND institution = ?2 AND login = ?3"),
                &[kind.into(), institution.into(), login.into()],
            )?
            .into_iter()
            .next()
            .map(account))
        })
    }

    /// The accounts of a kind and institution, by login.
    pub fn accounts(&self, kind: &str, institution: &str) -> Result<Vec<AccountRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE kind = ?1 AND institution = ?2 ORDER BY login"),
                &[kind.into(), institution.into()],
            )?
            .into_iter()
            .map(account)
            .collect())
        })
    }

    /// Sets a password and TOTP secret and closes the activation (`activation` must still be
    /// the open code's digest: a code works once). `false`: it was not.
    pub fn activate_account(
        &self,
        account_id: &str,
        activation: &str,
        password: &str,
        totp_secret: &str,
    ) -> Result<bool, StoreError> {
        let p: Vec<Param> = vec![
            account_id.into(),
            activation.into(),
            password.into(),
            totp_secret.into(),
        ];
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE accounts SET password = ?3, totp_secret = ?4, totp_step = 0, failures = 0, locked_until = '', activation = '', activation_until = '' \
                 WHERE account_id = ?1 AND activation = ?2 AND activation <> ''",
                &p,
            )? == 1)
        })
    }

    /// Counts a failed sign-in; at `limit` failures the account is locked until `until`.
    /// Returns the failures now.
    pub fn sign_in_failed(
        &self,
        account_id: &str,
        limit: i64,
        until: &str,
    ) -> Result<i64, StoreError> {
        let p: Vec<Param> = vec![account_id.into(), limit.into(), until.into()];
        self.write(move |c| {
            c.execute(
                "UPDATE accounts SET failures = failures + 1, \
                 locked_until = CASE WHEN failures + 1 >= ?2 THEN ?3 ELSE locked_until END WHERE account_id = ?1",
                &p,
            )?;
            Ok(c.query(
                "SELECT failures FROM accounts WHERE account_id = ?1",
                &[p[0].clone()],
            )?
            .first()
            .and_then(|r| r.first())
            .map_or(0, Param::int))
        })
    }

    /// Records a successful sign-in at TOTP `step`, only if the step is later than the last
    /// one accepted (so that one code signs in once, even in a race). `false`: it was not.
    pub fn sign_in_succeeded(&self, account_id: &str, step: i64) -> Result<bool, StoreError> {
        let p: Vec<Param> = vec![account_id.into(), step.into()];
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE accounts SET totp_step = ?2, failures = 0, locked_until = '' WHERE account_id = ?1 AND totp_step < ?2",
                &p,
            )? == 1)
        })
    }

    /// Enables or disables an account; a disabled account's sessions end.
    pub fn set_account_enabled(&self, account_id: &str, enabled: bool) -> Result<bool, StoreError> {
        let p: Vec<Param> = vec![account_id.into(), i64::from(enabled).into()];
        self.write(move |c| {
            let n = c.execute("UPDATE accounts SET enabled = ?2 WHERE account_id = ?1", &p)?;
            if !enabled {
                c.execute(
                    "UPDATE sessions SET revoked = 1 WHERE account_id = ?1",
                    &[p[0].clone()],
                )?;
            }
            Ok(n == 1)
        })
    }

    pub fn add_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        let p: Vec<Param> = vec![
            s.session_hash.clone().into(),
            s.account_id.clone().into(),
            s.csrf.clone().into(),
            s.created_at.clone().into(),
            s.expires_at.clone().into(),
            s.idle_until.clone().into(),
            i64::from(s.revoked).into(),
        ];
        self.write(move |c| {
            // The session remembers the account's previous visit; the account, this one.
            c.execute(
                "INSERT INTO sessions (session_hash, account_id, csrf, created_at, expires_at, idle_until, revoked, previous_visit) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, COALESCE((SELECT last_visit FROM accounts WHERE account_id = ?2), ''))",
                &p,
            )?;
            c.execute(
                "UPDATE accounts SET last_visit = ?2 WHERE account_id = ?1",
                &[p[1].clone(), p[3].clone()],
            )?;
            Ok(())
        })
    }

    /// A session with its account.
    pub fn session(
        &self,
        session_hash: &str,
    ) -> Result<Option<(SessionRow, AccountRow)>, StoreError> {
        self.read(|c| session_of(c, session_hash))
    }

    /// [`Store::session`] at once on the calling thread when that is a short call (see
    /// `Store::read_now`); `None`: read it from a blocking task.
    pub fn session_now(
        &self,
        session_hash: &str,
    ) -> Option<Result<Option<(SessionRow, AccountRow)>, StoreError>> {
        self.read_now(|c| session_of(c, session_hash))
    }

    /// Moves a session's idle expiry.
    pub fn touch_session(&self, session_hash: &str, idle_until: &str) -> Result<(), StoreError> {
        let p: Vec<Param> = vec![session_hash.into(), idle_until.into()];
        self.write(move |c| {
            c.execute(
                "UPDATE sessions SET idle_until = ?2 WHERE session_hash = ?1",
                &p,
            )?;
            Ok(())
        })
    }

    /// Starts (`since`, `reason` and `member` set) or ends (all empty) emergency access in a
    /// session.
    pub fn set_session_emergency(
        &self,
        session_hash: &str,
        since: &str,
        reason: &str,
        member: &str,
    ) -> Result<(), StoreError> {
        let p: Vec<Param> = vec![
            session_hash.into(),
            since.into(),
            reason.into(),
            member.into(),
        ];
        self.write(move |c| {
            c.execute(
                "UPDATE sessions SET emergency_since = ?2, emergency_reason = ?3, emergency_member = ?4 WHERE session_hash = ?1",
                &p,
            )?;
            Ok(())
        })
    }

    /// Ends a session (sign-out).
    pub fn revoke_session(&self, session_hash: &str) -> Result<(), StoreError> {
        let p: Vec<Param> = vec![session_hash.into()];
        self.write(move |c| {
            c.execute(
                "UPDATE sessions SET revoked = 1 WHERE session_hash = ?1",
                &p,
            )?;
            Ok(())
        })
    }

    /// Ends every session of an account (its credentials were reset).
    pub fn revoke_sessions_of(&self, account_id: &str) -> Result<(), StoreError> {
        let p: Vec<Param> = vec![account_id.into()];
        self.write(move |c| {
            c.execute("UPDATE sessions SET revoked = 1 WHERE account_id = ?1", &p)?;
            Ok(())
        })
    }

    /// Forgets sessions that expired before `now`; returns how many.
    pub fn forget_sessions(&self, now: &str) -> Result<u64, StoreError> {
        let now = now.to_string();
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM sessions WHERE expires_at < ?1 OR idle_until < ?1",
                &[now.clone().into()],
            )?)
        })
    }
}

/// A session with its account, read on connection `c`.
fn session_of(
    c: &mut dyn Conn,
    session_hash: &str,
) -> Result<Option<(SessionRow, AccountRow)>, DbError> {
    let cols = ACCOUNT_COLUMNS
        .split(", ")
        .map(|x| format!("a.{x}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut rows = c.query(
        &format!("SELECT s.session_hash, s.account_id, s.csrf, s.created_at, s.expires_at, s.idle_until, s.revoked, s.emergency_since, s.emergency_reason, s.emergency_member, s.previous_visit, {cols} \
                  FROM sessions s JOIN accounts a ON a.account_id = s.account_id WHERE s.session_hash = ?1"),
        &[session_hash.into()],
    )?;
    Ok(rows.pop().map(|mut r| {
        let a = r.split_off(11);
        let mut it = r.into_iter();
        let mut next = || it.next().unwrap_or(Param::Null);
        (
            SessionRow {
                session_hash: next().text(),
                account_id: next().text(),
                csrf: next().text(),
                created_at: next().text(),
                expires_at: next().text(),
                idle_until: next().text(),
                revoked: next().int() != 0,
                emergency_since: next().text(),
                emergency_reason: next().text(),
                emergency_member: next().text(),
                previous_visit: next().text(),
            },
            account(a),
        )
    }))
}
