//! The audit of every request: a layer around every route that touches patient data or
//! credentials records one audit record per request, allowed or refused, durable before the
//! answer leaves (a request whose record cannot be written is answered 503 instead). The
//! `Auth` extractor notes who called; handlers note the patient and the items shown. Also
//! `GET /fhir/AuditEvent?patient=…`, the patient's access history.

use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fhir::json::{self, Value};
use store::AuditRow;

use crate::http::{fhir, ApiError, Auth};
use crate::{blocking, AppState};

/// What a request's handlers learned for its audit record, and whether a handler has
/// committed the record itself.
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Noted>>);

#[derive(Default)]
struct Noted {
    row: AuditRow,
    recorded: bool,
}

/// Completes a row with what the answer was: its time, status and outcome (the items shown
/// only when something was shown).
fn finish(row: &mut AuditRow, now: String, status: u16) {
    row.at = now;
    row.status = i64::from(status);
    row.outcome = app::audit::outcome(status).to_string();
    if status >= 400 {
        row.items.clear();
    }
}

impl Slot {
    fn with(&self, f: impl FnOnce(&mut AuditRow)) {
        if let Ok(mut n) = self.0.lock() {
            f(&mut n.row);
        }
    }

    /// Commits the record now, from a handler's blocking task, for an answer with `status`
    /// that the handler is about to return: the layer then writes nothing more. Waiting here,
    /// on a thread that is running already, is cheaper than handing the record to another
    /// thread and being woken again.
    pub fn commit(&self, hub: &app::Hub, status: u16) -> Result<(), ApiError> {
        match hub.audit.record(self.template(hub, status)) {
            Ok(()) => {
                self.recorded();
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "the audit record could not be written; the answer is withheld");
                Err(withheld_for(&e))
            }
        }
    }
    /// The record so far, as it will read for an answer with `status` (for a write that
    /// commits it in its own transaction: then call [`Slot::recorded`]).
    pub fn template(&self, hub: &app::Hub, status: u16) -> AuditRow {
        let mut row = self.0.lock().map(|n| n.row.clone()).unwrap_or_default();
        finish(&mut row, hub.clock.now(), status);
        row
    }

    /// The record was committed (with the write): the layer writes nothing more.
    pub fn recorded(&self) {
        if let Ok(mut n) = self.0.lock() {
            n.recorded = true;
        }
    }

    /// The authenticated caller.
    pub fn caller(&self, caller: &app::Caller, client: &str) {
        self.with(|r| {
            app::audit::caller_fields(caller, r);
            r.client = client.to_string();
        });
    }
    /// The patient concerned (normalised member id).
    pub fn patient(&self, member_id: &str) {
        self.with(|r| r.member_id = member_id.to_string());
    }
    /// The items shown or written.
    pub fn items<'a>(&self, items: impl IntoIterator<Item = &'a str>) {
        let mut list: Vec<&str> = items.into_iter().collect();
        list.sort_unstable();
        list.dedup();
        let joined = list.join(",");
        self.with(|r| r.items = joined);
    }
    /// Why the caller was allowed to see the patient.
    pub fn basis(&self, basis: Option<clins::policy::Basis>) {
        if let Some(b) = basis {
            self.with(|r| r.basis = b.code().to_string());
        }
    }
    /// What a read showed: the patient (when known), why, and the items of the entries.
    pub fn shown(
        &self,
        member_id: &str,
        basis: Option<clins::policy::Basis>,
        entries: &[(store::StoredResource, clins::policy::Mark)],
    ) {
        if !member_id.is_empty() {
            self.patient(member_id);
        }
        self.basis(basis);
        // Most entries are of the six items: marked in place, without a list to sort.
        let mut six = [false; 6];
        let mut other: Vec<&str> = Vec::new();
        for (r, _) in entries {
            match clins::policy::Item::SHARED
                .iter()
                .position(|i| i.code() == r.item)
            {
                Some(p) => six[p] = true,
                None if !other.contains(&r.item.as_str()) => other.push(&r.item),
                None => {}
            }
        }
        let shown = clins::policy::Item::SHARED
            .iter()
            .zip(six)
            .filter(|(_, on)| *on)
            .map(|(i, _)| i.code());
        self.items(shown.chain(other));
    }
    /// Why it was allowed, or more about what was done.
    pub fn detail(&self, detail: &str) {
        let d = detail.to_string();
        self.with(|r| r.detail = d);
    }
}

/// The refusal's detail code, attached to an error response for its audit record.
#[derive(Clone)]
pub struct RefusalCode(pub String);

/// Routes that are not audited: they touch neither patient data nor credentials.
fn audited(method: &axum::http::Method, path: &str) -> bool {
    !(path.starts_with("/health")
        || path == "/metrics"
        || path == "/fhir/metadata"
        || path.starts_with("/.well-known")
        || path == "/"
        || path == "/lang"
        || path.starts_with("/static/")
        || (method == axum::http::Method::GET && path.ends_with("/signin")))
}

/// The action of a route.
fn action(method: &str, route: &str) -> &'static str {
    match (method, route) {
        (_, "/fhir/Bundle/$submit") => "submit",
        (_, "/fhir/Bundle/$withdraw") => "withdraw",
        (_, "/fhir/Patient/$summary") => "summary",
        ("POST", "/fhir/Consent") => "consent",
        ("DELETE", _) => "revoke",
        (_, "/auth/token") => "token",
        (_, "/auth/login") => "sign-in",
        ("POST", r) if r.ends_with("/signin") => "sign-in",
        (_, r) if r.ends_with("/signout") => "sign-out",
        (_, "/viewer/patient") | (_, "/portal/record") => "summary",
        (_, "/viewer/consent") | (_, "/portal/release") => "consent",
        (_, "/viewer/emergency") | (_, "/viewer/emergency/end") => "emergency",
        (_, "/portal/revoke") => "revoke",
        (_, "/portal/download") => "read",
        (_, "/viewer/document")
        | (_, "/portal/document")
        | (_, "/viewer/attachment")
        | (_, "/portal/attachment")
        | (_, "/portal/checkups")
        | (_, "/portal/summary") => "read",
        (_, "/viewer/inbox") | (_, "/viewer/identify") => "search",
        (_, "/portal") => "history",
        (_, "/admin/approve") => "application",
        (_, "/admin/institution") | (_, "/admin/disaster") | (_, "/admin/disaster/end") => {
            "registry"
        }
        (_, "/auth/logout") => "sign-out",
        (_, "/auth/activate") => "activation",
        (_, r) if r.starts_with("/admin/applications") => "application",
        (_, r) if r.starts_with("/admin") || r.starts_with("/auth/staff") => "registry",
        (_, r) if r.ends_with("/_history") || r.ends_with("/{vid}") => "history",
        (_, r) if r.ends_with("/{id}") => "read",
        (_, "/fhir/{rtype}") => "search",
        _ => "other",
    }
}

/// The layer: one record per audited request.
pub async fn layer(State(hub): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .filter(|p| audited(req.method(), p))
    else {
        return next.run(req).await;
    };
    let method = req.method().as_str().to_string();
    let slot = Slot::default();
    slot.with(|r| {
        r.action = action(&method, &route).to_string();
        // Method and route template: no ids, no query values.
        r.request = format!("{method} {route}");
        r.role = "unauthenticated".into();
    });
    req.extensions_mut().insert(slot.clone());
    let res = next.run(req).await;
    // Written already by the handler (with its write, or on its own thread): nothing to copy.
    match slot.0.lock() {
        Ok(n) if n.recorded => return res,
        Ok(_) => {}
        Err(_) => return withheld().into_response(),
    }
    let mut row = slot.template(&hub, res.status().as_u16());
    if let Some(c) = res.extensions().get::<RefusalCode>() {
        row.detail = c.0.clone();
    }
    let written = tokio::task::spawn_blocking(move || hub.audit.record(row)).await;
    match written {
        Ok(Ok(())) => res,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the audit record could not be written; the answer is withheld");
            withheld_for(&e).into_response()
        }
        Err(_) => withheld().into_response(),
    }
}

/// [`withheld`], or 507 `STORE-FULL` when the record could not be written for a full disk.
fn withheld_for(e: &str) -> ApiError {
    if store::DbError::Other(e.to_string()).is_full() {
        app::Refusal::full().into()
    } else {
        withheld()
    }
}

/// The answer instead of one whose audit record could not be written.
fn withheld() -> ApiError {
    ApiError::unavailable("the audit trail could not be written; nothing was answered, retry later")
}

/// `GET /fhir/AuditEvent?patient=<member id>`: the patient's access history (own record, or
/// the operator), newest first: for the patient, the facility and never the individual.
pub async fn history(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = crate::query_pairs(&q);
    let member = pairs
        .iter()
        .find(|(k, _)| k == "patient")
        .map(|(_, v)| v.clone())
        .or_else(|| caller.patient().map(str::to_string))
        .ok_or_else(|| {
            ApiError::bad_request(
                "AUDIT-PATIENT",
                "patient",
                "name the patient: patient=<insurance member id>",
                "patient=<被保険者個人識別子> で患者を指定してください",
            )
        })?;
    let member = clins::InsuranceMemberId::parse_key(member.trim())
        .map_err(|e| ApiError::bad_request("AUDIT-PATIENT", "patient", e.en, e.ja))?
        .normalized();
    blocking(move || {
        let for_patient = caller.patient().is_some();
        let mut entries = Vec::new();
        for app::audit::Access {
            row: r,
            facility: name,
        } in app::audit::history(&hub.store, &caller, &member)?
        {
            let r = &r;
            let mut e = json::Object::new();
            e.insert(
                "fullUrl",
                Value::string(format!(
                    "{}/AuditEvent/{}",
                    hub.base,
                    app::audit::event_id(r)
                )),
            );
            e.insert(
                "resource",
                app::audit::audit_event(r, name.as_deref(), for_patient),
            );
            entries.push(Value::Object(e));
        }
        let mut b = json::Object::new();
        b.insert("resourceType", Value::string("Bundle"));
        b.insert("type", Value::string("searchset"));
        b.insert("total", Value::Number(entries.len().to_string().into()));
        b.insert("entry", Value::Array(entries));
        Ok(fhir(StatusCode::OK, json::to_string(&Value::Object(b))))
    })
    .await
}

fn param(pairs: &[(String, String)], k: &str) -> Option<String> {
    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

/// `GET /admin/audit?institution=&practitioner=&from=&to=&_count=`: accesses as AuditEvents
/// (the operator: any institution; a staff administrator: its own institution's staff).
pub async fn query(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = crate::query_pairs(&q);
    let institution = param(&pairs, "institution").or_else(|| {
        (caller.staff_admin)
            .then(|| caller.institution().map(str::to_string))
            .flatten()
    });
    let query = app::audit::Query {
        institution,
        practitioner: param(&pairs, "practitioner"),
        from: param(&pairs, "from").unwrap_or_default(),
        to: param(&pairs, "to").unwrap_or_default(),
        limit: param(&pairs, "_count")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1000),
    };
    blocking(move || {
        let rows = app::audit::query(&hub.store, &caller, &query)?;
        let events: Vec<Value> = rows
            .iter()
            .map(|r| app::audit::audit_event(r, None, false))
            .collect();
        Ok(crate::http::json(
            StatusCode::OK,
            json::to_string(&Value::Array(events)),
        ))
    })
    .await
}

/// `GET /admin/audit/unusual?from=&to=[&patients=N&emergency=N&refusals=N]` (operator): what to
/// review.
pub async fn unusual(
    State(hub): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = crate::query_pairs(&q);
    let num = |k: &str, d: i64| param(&pairs, k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let d = app::audit::Thresholds::default();
    let t = app::audit::Thresholds {
        patients_per_day: num("patients", d.patients_per_day),
        emergency_per_day: num("emergency", d.emergency_per_day),
        refusals_per_day: num("refusals", d.refusals_per_day),
    };
    let (from, to) = (
        param(&pairs, "from").unwrap_or_default(),
        param(&pairs, "to").unwrap_or_default(),
    );
    blocking(move || {
        let found = app::audit::unusual(&hub.store, &caller, &from, &to, t)?;
        let list: Vec<Value> = found
            .iter()
            .map(|f| {
                let mut o = json::Object::new();
                o.insert("rule", Value::string(f.rule));
                o.insert("institution", Value::string(f.institution.as_str()));
                o.insert("practitioner", Value::string(f.practitioner.as_str()));
                o.insert("day", Value::string(f.day.as_str()));
                o.insert("count", Value::Number(f.count.to_string().into()));
                o.insert("threshold", Value::Number(f.threshold.to_string().into()));
                Value::Object(o)
            })
            .collect();
        Ok(crate::http::json(
            StatusCode::OK,
            json::to_string(&Value::Array(list)),
        ))
    })
    .await
}
