//! The audit trail: what is recorded of a request, how a record is hashed into the chain, its
//! FHIR AuditEvent (after IHE BALP), the signed checkpoints of the chain's head, and the
//! verification of the whole chain. The store appends and reads rows; this module decides
//! their content.

use clins::policy::Principal;
use fhir::json::{Object, Value};
use store::{AuditRow, Checkpoint, Store};

use crate::access::Caller;
use crate::auth::jose;
use crate::refusal::Refusal;

/// One entry of a patient's access history: the record and the facility's name.
pub struct Access {
    pub row: AuditRow,
    pub facility: Option<String>,
}

/// A patient's access history, newest first (the patient's own, or the operator). The patient
/// sees the institutions that were shown the data: not their own requests, not refused ones,
/// and never the individual (that is left out of the AuditEvent by `audit_event`).
pub fn history(store: &Store, caller: &Caller, member_id: &str) -> Result<Vec<Access>, Refusal> {
    crate::access::audit_history(caller, member_id)?;
    let for_patient = caller.patient().is_some();
    let rows = store.audit_of_patient(member_id, 1000)?;
    let mut names: std::collections::HashMap<String, Option<String>> = Default::default();
    let mut out = Vec::new();
    for row in rows {
        if for_patient && (row.institution.is_empty() || row.outcome != "0") {
            continue;
        }
        let facility = names
            .entry(row.institution.clone())
            .or_insert_with(|| {
                store
                    .institution(&row.institution)
                    .ok()
                    .flatten()
                    .map(|i| i.name)
            })
            .clone();
        out.push(Access { row, facility });
    }
    Ok(out)
}

/// The hash of a record given its predecessor's: SHA-256 (hex) over the predecessor's hash and
/// every field of the record but `prev` and `hash`, each length-prefixed (so that no two
/// different records write the same bytes).
pub fn hash(prev: &str, r: &AuditRow) -> String {
    fhir::base64::hex(digest(prev, r).as_ref())
}

/// Decimal digits of a number, on the stack.
fn decimal(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

/// The SHA-256 of [`hash`], as bytes.
fn digest(prev: &str, r: &AuditRow) -> ring::digest::Digest {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let (mut b1, mut b2) = ([0u8; 20], [0u8; 20]);
    let seq = decimal(r.seq, &mut b1);
    let status = decimal(r.status, &mut b2);
    for field in std::iter::once(prev).chain(r.content(seq, status)) {
        ctx.update(&(field.len() as u64).to_be_bytes());
        ctx.update(field.as_bytes());
    }
    ctx.finish()
}

/// Whether a stored hex hash is the digest's (no string is made).
fn hex_is(stored: &str, d: &[u8]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let s = stored.as_bytes();
    s.len() == d.len() * 2
        && d.iter().enumerate().all(|(i, b)| {
            s[2 * i] == DIGITS[usize::from(b >> 4)] && s[2 * i + 1] == DIGITS[usize::from(b & 15)]
        })
}

/// Who did it, as recorded: the principal's institution, practitioner and role, the purpose
/// of use.
pub fn caller_fields(caller: &Caller, row: &mut AuditRow) {
    row.role = caller.principal.role().to_string();
    match &caller.principal {
        Principal::Institution {
            number,
            practitioner,
            kind,
            ..
        } => {
            row.institution = number.clone();
            row.practitioner = practitioner
                .as_ref()
                .map(|p| p.id.clone())
                .unwrap_or_default();
            row.purpose = if caller.emergency_claimed {
                "ETREAT"
            } else if *kind == clins::policy::InstitutionKind::Insurer {
                "HPAYMT"
            } else {
                "TREAT"
            }
            .into();
        }
        Principal::Patient { member_id } => {
            row.purpose = "PATRQT".into();
            if row.member_id.is_empty() {
                row.member_id = member_id.clone();
            }
        }
        Principal::QualificationService | Principal::Operator => {
            row.purpose = "HOPERAT".into();
        }
    }
}

/// Appends a record (durable when this returns).
pub fn record(store: &Store, row: AuditRow) -> Result<(), Refusal> {
    store.append_audit(vec![row], hash)?;
    Ok(())
}

/// The store for a write: with the request's record (`audit`, completed by `fill` with what
/// the write is about) appended to the audit trail in the write's own transaction — both
/// commit, or neither; `store` itself without one.
pub fn writing(store: &Store, audit: Option<AuditRow>, fill: impl FnOnce(&mut AuditRow)) -> Store {
    match audit {
        Some(mut r) => {
            fill(&mut r);
            store.with_audit(r, hash)
        }
        None => store.clone(),
    }
}

/// Every record of every chain, page by page, in chain order.
fn each_page(store: &Store, mut f: impl FnMut(Vec<AuditRow>)) -> Result<(), store::StoreError> {
    for chain in store.audit_chains() {
        let mut after = 0;
        loop {
            let page = store.audit_page(chain, after, 10_000)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            f(page);
        }
    }
    Ok(())
}

/// The number of records in every chain.
pub fn total(store: &Store) -> Result<i64, store::StoreError> {
    let mut n = 0;
    for chain in store.audit_chains() {
        n += store.audit_head(chain)?.0;
    }
    Ok(n)
}

/// The FHIR outcome code of an HTTP status.
pub fn outcome(status: u16) -> &'static str {
    match status {
        0..=399 => "0",
        400..=499 => "4",
        _ => "8",
    }
}

fn coding(system: &str, code: &str, display: Option<&str>) -> Value {
    let mut o = Object::new();
    o.insert("system", Value::string(system));
    o.insert("code", Value::string(code));
    if let Some(d) = display {
        o.insert("display", Value::string(d));
    }
    Value::Object(o)
}

/// The id of a record's AuditEvent: `w<seq>` in the `writes` chain, `a<seq>` in the other.
pub fn event_id(r: &AuditRow) -> String {
    let prefix = if r.chain == store::WRITES { 'w' } else { 'a' };
    format!("{prefix}{}", r.seq)
}

/// A record as a FHIR R4 AuditEvent, shaped after IHE BALP (RESTful activity with a patient
/// entity, the agents of the institution, the user and the client, `purposeOfUse`).
/// `facility`: the institution's name; `for_patient`: the patient's own view, which names the
/// facility and never the individual (service-rules §1.8).
pub fn audit_event(r: &AuditRow, facility: Option<&str>, for_patient: bool) -> Value {
    let mut e = Object::new();
    e.insert("resourceType", Value::string("AuditEvent"));
    e.insert("id", Value::string(event_id(r)));
    if matches!(r.basis.as_str(), "emergency" | "disaster") {
        // Access without consent: marked, so that it stands out in the patient's history.
        let mut meta = Object::new();
        meta.insert(
            "tag",
            Value::Array(vec![coding(
                "https://clins-hub.org/fhir/CodeSystem/access-method",
                &r.basis,
                Some(if r.basis == "emergency" {
                    "救急時閲覧 (emergency access)"
                } else {
                    "災害時閲覧 (disaster access)"
                }),
            )]),
        );
        e.insert("meta", Value::Object(meta));
    }
    e.insert(
        "type",
        coding(
            "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "rest",
            Some("RESTful Operation"),
        ),
    );
    let (sub, action) = match r.action.as_str() {
        "submit" | "consent" | "token" | "sign-in" | "registry" | "application" => ("create", "C"),
        "withdraw" | "revoke" | "purge" => ("delete", "D"),
        "search" | "summary" | "documents" | "history" => ("search-type", "E"),
        _ => ("read", "R"),
    };
    e.insert(
        "subtype",
        Value::Array(vec![coding(
            "http://hl7.org/fhir/restful-interaction",
            sub,
            None,
        )]),
    );
    e.insert("action", Value::string(action));
    e.insert("recorded", Value::string(r.at.as_str()));
    e.insert("outcome", Value::string(r.outcome.as_str()));
    if !r.detail.is_empty() && !for_patient {
        e.insert("outcomeDesc", Value::string(r.detail.as_str()));
    }
    if !r.purpose.is_empty() {
        e.insert(
            "purposeOfEvent",
            Value::Array(vec![Value::Object({
                let mut c = Object::new();
                c.insert(
                    "coding",
                    Value::Array(vec![coding(
                        "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        &r.purpose,
                        None,
                    )]),
                );
                c
            })]),
        );
    }
    let mut agents = Vec::new();
    if !r.institution.is_empty() {
        let mut a = Object::new();
        a.insert(
            "type",
            Value::Object({
                let mut t = Object::new();
                t.insert(
                    "coding",
                    Value::Array(vec![coding(
                        "http://terminology.hl7.org/CodeSystem/v3-RoleClass",
                        "PROV",
                        Some("healthcare provider"),
                    )]),
                );
                t
            }),
        );
        let mut who = Object::new();
        let mut ident = Object::new();
        ident.insert(
            "system",
            Value::string("http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no"),
        );
        ident.insert("value", Value::string(r.institution.as_str()));
        who.insert("identifier", Value::Object(ident));
        if let Some(name) = facility {
            who.insert("display", Value::string(name));
        }
        a.insert("who", Value::Object(who));
        a.insert("requestor", Value::Bool(r.practitioner.is_empty()));
        agents.push(Value::Object(a));
    }
    if !for_patient && !r.practitioner.is_empty() {
        let mut a = Object::new();
        let mut who = Object::new();
        let mut ident = Object::new();
        ident.insert("value", Value::string(r.practitioner.as_str()));
        who.insert("identifier", Value::Object(ident));
        a.insert("who", Value::Object(who));
        a.insert("requestor", Value::Bool(true));
        agents.push(Value::Object(a));
    }
    if r.institution.is_empty() {
        let mut a = Object::new();
        let mut who = Object::new();
        who.insert("display", Value::string(r.role.as_str()));
        a.insert("who", Value::Object(who));
        a.insert("requestor", Value::Bool(true));
        agents.push(Value::Object(a));
    }
    e.insert("agent", Value::Array(agents));
    let mut source = Object::new();
    let mut obs = Object::new();
    obs.insert("display", Value::string("clins-hub"));
    source.insert("observer", Value::Object(obs));
    e.insert("source", Value::Object(source));
    let mut entities = Vec::new();
    if !r.member_id.is_empty() {
        let mut en = Object::new();
        let mut what = Object::new();
        let mut ident = Object::new();
        ident.insert(
            "system",
            Value::string("http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"),
        );
        ident.insert("value", Value::string(r.member_id.as_str()));
        what.insert("identifier", Value::Object(ident));
        en.insert("what", Value::Object(what));
        en.insert(
            "type",
            coding(
                "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "1",
                Some("Person"),
            ),
        );
        en.insert(
            "role",
            coding(
                "http://terminology.hl7.org/CodeSystem/object-role",
                "1",
                Some("Patient"),
            ),
        );
        let mut detail = Vec::new();
        for (k, v) in [("items", &r.items), ("basis", &r.basis)] {
            if !v.is_empty() {
                let mut d = Object::new();
                d.insert("type", Value::string(k));
                d.insert("valueString", Value::string(v.as_str()));
                detail.push(Value::Object(d));
            }
        }
        if !detail.is_empty() {
            en.insert("detail", Value::Array(detail));
        }
        entities.push(Value::Object(en));
    }
    if !for_patient && !r.request.is_empty() {
        let mut en = Object::new();
        en.insert(
            "type",
            coding(
                "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "2",
                Some("System Object"),
            ),
        );
        en.insert(
            "query",
            Value::string(fhir::base64::encode(
                r.request.as_bytes(),
                fhir::base64::Alphabet::Standard,
                true,
            )),
        );
        entities.push(Value::Object(en));
    }
    if !entities.is_empty() {
        e.insert("entity", Value::Array(entities));
    }
    Value::Object(e)
}

/// The message a checkpoint signs: the chain's name, length and head.
fn checkpoint_message(chain: &str, seq: i64, head: &str) -> String {
    format!("clins-hub audit checkpoint\n{chain}\n{seq}\n{head}")
}

/// Signs every chain's head now (each that has grown since its last checkpoint) and records
/// the checkpoints; with `anchor`, also appends them to that file (a copy outside the
/// database, which makes a rollback of the database visible). Returns the chains and
/// checkpoints made.
pub fn checkpoint(
    store: &Store,
    key: &jose::SigningKey,
    now: &str,
    anchor: Option<&std::path::Path>,
) -> Result<Vec<(String, Checkpoint)>, Refusal> {
    let mut made = Vec::new();
    for chain in store.audit_chains() {
        let (seq, head) = store.audit_head(chain)?;
        if seq == 0
            || store
                .checkpoints(chain)?
                .last()
                .is_some_and(|c| c.seq >= seq)
        {
            continue;
        }
        let signature = key
            .sign_bytes(checkpoint_message(chain, seq, &head).as_bytes())
            .map_err(Refusal::internal)?;
        let cp = Checkpoint {
            seq,
            head,
            at: now.to_string(),
            kid: key.kid.clone(),
            signature,
        };
        store.add_checkpoint(chain, &cp)?;
        if let Some(path) = anchor {
            use std::io::Write;
            let line = format!(
                "{chain}\t{}\t{}\t{}\t{}\t{}\n",
                cp.seq, cp.head, cp.at, cp.kid, cp.signature
            );
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()).and_then(|_| f.sync_data()))
                .map_err(|e| Refusal::internal(format!("audit anchor {}: {e}", path.display())))?;
        }
        made.push((chain.to_string(), cp));
    }
    Ok(made)
}

/// Reads an anchor file's checkpoints, with their chains.
pub fn read_anchor(path: &std::path::Path) -> Result<Vec<(String, Checkpoint)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((
                f.first()?.to_string(),
                Checkpoint {
                    seq: f.get(1)?.parse().ok()?,
                    head: f.get(2)?.to_string(),
                    at: f.get(3)?.to_string(),
                    kid: f.get(4)?.to_string(),
                    signature: f.get(5)?.to_string(),
                },
            ))
        })
        .collect())
}

/// What verification found.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    pub records: i64,
    pub checkpoints: usize,
    /// The chains checked.
    pub chains: Vec<String>,
    /// The first problem: the chain, the sequence number it concerns and what is wrong.
    pub broken: Option<(String, i64, String)>,
}

/// Checks every chain ([`verify_chain`]); stops at the first broken one.
pub fn verify(
    store: &Store,
    key: &jose::PublicKey,
    anchor: &[(String, Checkpoint)],
    mut progress: impl FnMut(i64),
) -> Result<Verified, Refusal> {
    let mut all = Verified::default();
    for chain in store.audit_chains() {
        let theirs: Vec<Checkpoint> = anchor
            .iter()
            .filter(|(c, _)| c == chain)
            .map(|(_, cp)| cp.clone())
            .collect();
        let done = all.records;
        let v = verify_chain(store, chain, key, &theirs, |n| progress(done + n))?;
        all.records += v.records;
        all.checkpoints += v.checkpoints;
        all.chains.push(chain.to_string());
        if let Some((seq, why)) = v.broken {
            all.broken = Some((chain.to_string(), seq, why));
            break;
        }
    }
    Ok(all)
}

/// What verification of one chain found.
#[derive(Default)]
struct ChainVerified {
    records: i64,
    checkpoints: usize,
    broken: Option<(i64, String)>,
}

/// Checks one chain: every sequence number present once and in order, every record's
/// `prev` its predecessor's hash and its `hash` its content's; every checkpoint (in the
/// database and in `anchor`) signed by `key` and matching the chain at its length — a chain
/// shorter than a checkpoint was truncated or rolled back.
fn verify_chain(
    store: &Store,
    chain: &str,
    key: &jose::PublicKey,
    anchor: &[Checkpoint],
    mut progress: impl FnMut(i64),
) -> Result<ChainVerified, Refusal> {
    let mut v = ChainVerified::default();
    let mut checkpoints = store.checkpoints(chain)?;
    checkpoints.extend(anchor.iter().cloned());
    checkpoints.sort_by_key(|c| c.seq);
    v.checkpoints = checkpoints.len();
    for c in &checkpoints {
        if !key.verify(
            jose::Alg::Es256,
            checkpoint_message(chain, c.seq, &c.head).as_bytes(),
            &fhir::base64::decode_url_strict(&c.signature).unwrap_or_default(),
        ) {
            v.broken = Some((
                c.seq,
                format!("checkpoint {} is not signed by the hub's key", c.seq),
            ));
            return Ok(v);
        }
    }
    let mut at_seq: std::collections::HashMap<i64, &Checkpoint> = Default::default();
    for c in &checkpoints {
        at_seq.insert(c.seq, c);
    }
    let (mut last_seq, mut last_hash) = (0i64, String::new());
    // Pages are read on one thread while the previous one is checked on this one.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<AuditRow>, store::StoreError>>(2);
    std::thread::scope(|s| -> Result<(), Refusal> {
        s.spawn(move || {
            let mut after = 0;
            loop {
                let page = store.audit_page(chain, after, 10_000);
                let stop = match &page {
                    Ok(p) => p.last().map(|r| r.seq),
                    Err(_) => None,
                };
                if tx.send(page).is_err() {
                    return;
                }
                match stop {
                    Some(s) => after = s,
                    None => return,
                }
            }
        });
        for page in rx {
            let page = page?;
            if page.is_empty() {
                break;
            }
            if check_page(&page, &at_seq, &mut last_seq, &mut last_hash, &mut v) {
                break;
            }
            progress(v.records);
        }
        Ok(())
    })?;
    if v.broken.is_some() {
        return Ok(v);
    }
    if let Some(c) = checkpoints.last() {
        if c.seq > last_seq {
            v.broken = Some((
                last_seq + 1,
                format!(
                    "the chain ends at record {last_seq}, but checkpoint {} ({}) saw {} records: it was truncated or rolled back",
                    c.seq, c.at, c.seq
                ),
            ));
        }
    }
    Ok(v)
}

/// Checks one page of the chain after `last_seq`/`last_hash`; `true` when a record is broken
/// (`v.broken` says which).
fn check_page(
    page: &[AuditRow],
    at_seq: &std::collections::HashMap<i64, &Checkpoint>,
    last_seq: &mut i64,
    last_hash: &mut String,
    v: &mut ChainVerified,
) -> bool {
    {
        for (i, r) in page.iter().enumerate() {
            let prev_hash = if i == 0 {
                last_hash.as_str()
            } else {
                page[i - 1].hash.as_str()
            };
            if r.seq != *last_seq + 1 {
                v.broken = Some((
                    *last_seq + 1,
                    format!(
                        "record {} is missing (the next is {})",
                        *last_seq + 1,
                        r.seq
                    ),
                ));
                return true;
            }
            if r.prev != prev_hash {
                v.broken = Some((
                    r.seq,
                    format!("record {} does not follow record {} (its predecessor was changed, removed or reordered)", r.seq, last_seq),
                ));
                return true;
            }
            if !hex_is(&r.hash, digest(&r.prev, r).as_ref()) {
                v.broken = Some((r.seq, format!("record {} was altered", r.seq)));
                return true;
            }
            if let Some(c) = at_seq.get(&r.seq) {
                if c.head != r.hash {
                    v.broken = Some((
                        r.seq,
                        format!(
                            "record {} differs from checkpoint {} (the chain was rewritten)",
                            r.seq, c.seq
                        ),
                    ));
                    return true;
                }
            }
            *last_seq = r.seq;
            v.records += 1;
        }
        if let Some(r) = page.last() {
            last_hash.clone_from(&r.hash);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_hex_comparison() {
        let mut b = [0u8; 20];
        for n in [0, 7, 10, 12345, -3, i64::MAX, i64::MIN + 1] {
            assert_eq!(decimal(n, &mut b), n.to_string());
        }
        let d = [0u8, 0xab, 0xff];
        assert!(hex_is("00abff", &d));
        assert!(!hex_is("00abfe", &d));
        assert!(!hex_is("00ABFF", &d));
        assert!(!hex_is("00ab", &d));
    }

    #[test]
    fn hash_covers_every_field() {
        let base = AuditRow {
            seq: 1,
            at: "2026-11-20T03:00:00.000Z".into(),
            action: "summary".into(),
            outcome: "0".into(),
            status: 200,
            member_id: "m".into(),
            institution: "1312000001".into(),
            ..AuditRow::default()
        };
        let h = hash("", &base);
        assert_eq!(h.len(), 64);
        let changed = [
            AuditRow {
                seq: 2,
                ..base.clone()
            },
            AuditRow {
                status: 403,
                ..base.clone()
            },
            AuditRow {
                member_id: "n".into(),
                ..base.clone()
            },
            AuditRow {
                items: "lab".into(),
                ..base.clone()
            },
            AuditRow {
                practitioner: "x".into(),
                ..base.clone()
            },
            // Moving a character between fields changes the hash (length prefixes).
            AuditRow {
                action: "summar".into(),
                outcome: "y0".into(),
                ..base.clone()
            },
        ];
        for c in changed {
            assert_ne!(hash("", &c), h, "{c:?}");
        }
        assert_ne!(hash("x", &base), h, "the predecessor is part of it");
    }
}

/// One institution's use of the service in a month (医療DX推進体制整備加算 evidence).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub institution: String,
    /// Accepted submissions by kind.
    pub submissions: std::collections::BTreeMap<String, i64>,
    /// Reads of patients' data that were answered (summaries, searches, reads, histories).
    pub views: i64,
    pub emergency: i64,
    pub disaster: i64,
    /// Viewing consents granted to the institution.
    pub consents: i64,
    /// Requests refused.
    pub refused: i64,
}

/// The usage of every institution in the month `YYYY-MM` (UTC), from the audit trail.
pub fn usage(store: &Store, month: &str) -> Result<Vec<Usage>, Refusal> {
    let ok = month.len() == 7
        && month.as_bytes()[4] == b'-'
        && month[..4].bytes().all(|b| b.is_ascii_digit())
        && matches!(month[5..].parse::<u8>(), Ok(1..=12));
    if !ok {
        return Err(Refusal::bad_request(
            "REPORT-MONTH",
            "",
            format!("month `{month}`: write YYYY-MM"),
            format!("月「{month}」は YYYY-MM の形で指定してください"),
        ));
    }
    let mut by: std::collections::BTreeMap<String, Usage> = Default::default();
    each_page(store, |page| {
        for r in page.iter().filter(|r| r.at.starts_with(month)) {
            let who = if r.action == "consent" {
                r.detail
                    .strip_prefix("grantee=")
                    .unwrap_or_default()
                    .to_string()
            } else {
                r.institution.clone()
            };
            if who.is_empty() {
                continue;
            }
            let u = by.entry(who.clone()).or_insert_with(|| Usage {
                institution: who,
                ..Usage::default()
            });
            if r.outcome != "0" {
                u.refused += 1;
                continue;
            }
            match r.action.as_str() {
                "submit" => {
                    *u.submissions.entry(r.items.clone()).or_default() += 1;
                }
                "summary" | "search" | "read" | "history" => {
                    u.views += 1;
                    match r.basis.as_str() {
                        "emergency" => u.emergency += 1,
                        "disaster" => u.disaster += 1,
                        _ => {}
                    }
                }
                "consent" => u.consents += 1,
                _ => {}
            }
        }
    })?;
    Ok(by.into_values().collect())
}

/// Who may query the audit trail for an institution's accesses: the operator (any), or an
/// administrator of the institution's staff (its own).
fn may_query(caller: &Caller, institution: Option<&str>) -> Result<(), Refusal> {
    match (&caller.principal, institution) {
        (Principal::Operator, _) => Ok(()),
        (Principal::Institution { number, .. }, Some(i)) if number == i && caller.staff_admin => {
            Ok(())
        }
        _ => Err(Refusal::forbidden(
            "AUDIT-NOT-PERMITTED",
            "the audit trail of an institution is read by its staff administrators and the operator",
            "施設のアクセス記録は当該施設の管理者と運用者のみが閲覧できます",
        )),
    }
}

/// A query of the audit trail.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// The caller's institution (required for a staff administrator).
    pub institution: Option<String>,
    pub practitioner: Option<String>,
    /// Instants; empty: unbounded.
    pub from: String,
    pub to: String,
    pub limit: i64,
}

/// The records of an institution's (or, for the operator, any) accesses, newest first.
pub fn query(store: &Store, caller: &Caller, q: &Query) -> Result<Vec<AuditRow>, Refusal> {
    may_query(caller, q.institution.as_deref())?;
    let to = if q.to.is_empty() {
        "9999"
    } else {
        q.to.as_str()
    };
    let limit = q.limit.clamp(1, 10_000);
    let mut rows = match &q.institution {
        Some(i) => store.audit_of_institution(i, &q.from, to, limit * 4)?,
        None => {
            let mut all = Vec::new();
            each_page(store, |page| {
                all.extend(
                    page.into_iter()
                        .filter(|r| r.at.as_str() >= q.from.as_str() && r.at.as_str() < to),
                );
            })?;
            all.sort_by(|a, b| b.at.cmp(&a.at).then(b.seq.cmp(&a.seq)));
            all
        }
    };
    if let Some(p) = &q.practitioner {
        rows.retain(|r| &r.practitioner == p);
    }
    rows.truncate(limit as usize);
    Ok(rows)
}

/// Something to review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// `many-patients`, `emergency-use`, `many-refusals`.
    pub rule: &'static str,
    pub institution: String,
    pub practitioner: String,
    /// The day (UTC) it concerns.
    pub day: String,
    pub count: i64,
    pub threshold: i64,
}

/// Thresholds of unusual access, per caller and day.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    /// Distinct patients viewed by one practitioner (or institution without one) in a day.
    pub patients_per_day: i64,
    /// Emergency accesses by one practitioner in a day.
    pub emergency_per_day: i64,
    /// Refused requests of one caller in a day.
    pub refusals_per_day: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            patients_per_day: 100,
            emergency_per_day: 5,
            refusals_per_day: 50,
        }
    }
}

/// Unusual access in `[from, to)` for the operator to review: many patients viewed by one
/// person in a day, frequent emergency use by one practitioner, many refusals of one caller.
pub fn unusual(
    store: &Store,
    caller: &Caller,
    from: &str,
    to: &str,
    t: Thresholds,
) -> Result<Vec<Finding>, Refusal> {
    may_query(caller, None)?;
    use std::collections::{BTreeMap, BTreeSet};
    type Key = (String, String, String);
    let mut patients: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    let mut emergency: BTreeMap<Key, i64> = BTreeMap::new();
    let mut refused: BTreeMap<Key, i64> = BTreeMap::new();
    let to = if to.is_empty() { "9999" } else { to };
    each_page(store, |page| {
        for r in page
            .iter()
            .filter(|r| r.at.as_str() >= from && r.at.as_str() < to && !r.institution.is_empty())
        {
            let key = (
                r.institution.clone(),
                r.practitioner.clone(),
                r.at.chars().take(10).collect::<String>(),
            );
            if r.outcome != "0" {
                *refused.entry(key).or_default() += 1;
                continue;
            }
            if !r.member_id.is_empty()
                && matches!(r.action.as_str(), "summary" | "search" | "read" | "history")
            {
                patients
                    .entry(key.clone())
                    .or_default()
                    .insert(r.member_id.clone());
                if r.basis == "emergency" {
                    *emergency.entry(key).or_default() += 1;
                }
            }
        }
    })?;
    let mut out = Vec::new();
    let mut add = |rule, (institution, practitioner, day): Key, count, threshold| {
        if count > threshold {
            out.push(Finding {
                rule,
                institution,
                practitioner,
                day,
                count,
                threshold,
            });
        }
    };
    for (k, set) in patients {
        add("many-patients", k, set.len() as i64, t.patients_per_day);
    }
    for (k, n) in emergency {
        add("emergency-use", k, n, t.emergency_per_day);
    }
    for (k, n) in refused {
        add("many-refusals", k, n, t.refusals_per_day);
    }
    Ok(out)
}

/// The audit writer: group commit without a writer thread. A caller queues its record and
/// either waits while another caller (the leader) commits everything queued in one
/// transaction, or, when no commit is under way, becomes the leader itself and commits on its
/// own thread — so a record costs no hand-off to another thread and back. Where an append
/// waits for no device (the embedded store's journal, synced in the background), each caller
/// appends its own record instead: the journal's lock orders them, and no caller sleeps until
/// another wakes it. Each caller returns once its record is durable (or with why it is not).
pub struct Recorder {
    store: Store,
    state: std::sync::Mutex<Queue>,
    committed: std::sync::Condvar,
}

#[derive(Default)]
struct Queue {
    rows: Vec<AuditRow>,
    /// Tickets handed out: the next record queued gets this one.
    next: u64,
    /// Every ticket below this one has been committed or has failed.
    done: u64,
    leader: bool,
    /// Recent failed ranges of tickets, with the reason (the oldest are forgotten).
    failed: std::collections::VecDeque<(u64, u64, String)>,
}

/// Most records committed in one transaction.
const MAX_BATCH: usize = 4096;

impl Recorder {
    pub fn new(store: Store) -> Recorder {
        Recorder {
            store,
            state: Default::default(),
            committed: Default::default(),
        }
    }

    /// Appends a record and returns once it is durable; blocks the calling thread (call it
    /// from a blocking task).
    pub fn record(&self, row: AuditRow) -> Result<(), String> {
        if self.store.audit_append_is_quick() {
            // No device to wait for: the append's own lock orders the records, and a caller
            // spins briefly on it rather than sleeping until a leader wakes it.
            return self
                .store
                .append_audit(vec![row], hash)
                .map_err(|e| e.to_string());
        }
        let unavailable = || "the audit writer is unavailable".to_string();
        let mut q = self.state.lock().map_err(|_| unavailable())?;
        let ticket = q.next;
        q.next += 1;
        q.rows.push(row);
        loop {
            if q.done > ticket {
                return match q.failed.iter().find(|(a, b, _)| (*a..*b).contains(&ticket)) {
                    Some((_, _, e)) => Err(e.clone()),
                    None => Ok(()),
                };
            }
            if q.leader {
                q = self.committed.wait(q).map_err(|_| unavailable())?;
                continue;
            }
            q.leader = true;
            let take = q.rows.len().min(MAX_BATCH);
            let rows: Vec<AuditRow> = q.rows.drain(..take).collect();
            let (start, end) = (q.done, q.done + take as u64);
            drop(q);
            let r = self.store.append_audit(rows, hash);
            q = self.state.lock().map_err(|_| unavailable())?;
            q.done = end;
            if let Err(e) = r {
                q.failed.push_back((start, end, e.to_string()));
                if q.failed.len() > 64 {
                    q.failed.pop_front();
                }
            }
            q.leader = false;
            self.committed.notify_all();
        }
    }
}
