//! The patient portal: sign-in, who looked at my record (facility, time, items; emergency and
//! disaster stand out; never the individual), my consents with a revoke button each, my record
//! (without what the patient must not see), and the download of the whole record as a FHIR
//! Bundle.

use std::fmt::Write as _;

use axum::extract::{Extension, State};
use axum::http::HeaderValue;
use axum::response::Response;

use app::read::PatientRef;

use super::html::{day, esc, see_other, Lang};
use super::{refused, settled, Posted, Web};
use crate::audit::Slot;
use crate::AppState;

pub(super) fn nav(web: &Web) -> String {
    format!(
        "<nav class=\"tabs\" aria-label=\"{}\"><a href=\"/portal\">{}</a><a href=\"/portal/record\">{}</a><a href=\"/portal/checkups\">{}</a><a href=\"/portal/summary\">{}</a><a href=\"/portal/download\">{}</a></nav>",
        web.t("ポータル", "Portal"),
        web.t("ホーム", "Home"),
        web.t("わたしの記録", "My record"),
        web.t("健診結果", "Checkups"),
        web.t("患者サマリー", "Care plan"),
        web.t("記録をダウンロード（FHIR JSON）", "Download my record (FHIR JSON)")
    )
}

fn item_words(items: &str, lang: Lang) -> String {
    items
        .split(',')
        .filter(|i| !i.is_empty())
        .map(|i| {
            let it = clins::policy::Item::from_code(i);
            match lang {
                Lang::Ja => it.label_ja().to_string(),
                Lang::En => i.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("、")
}

/// `GET /portal`: recent accesses and consents in force.
pub async fn home(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    web: Web,
) -> Response {
    let member = web.caller.patient().unwrap_or_default().to_string();
    if let Some(a) = &audit {
        a.patient(&member);
    }
    let (h, caller, m) = (hub.clone(), web.caller.clone(), member.clone());
    let now = hub.clock.now();
    let (since, slot) = (web.previous_visit.clone(), audit.clone());
    let data = tokio::task::spawn_blocking(move || {
        // Nothing new to say (no previous visit, or nothing stored for the patient yet): no
        // section, and the rest of the page as always.
        let fresh = if since.is_empty() {
            None
        } else {
            new_since(&h, &caller, &m, &since, slot.as_deref()).ok()
        };
        let history = app::audit::history(&h.store, &caller, &m)?;
        let consents = app::consent::list(&h.store, &caller, Some(&m), 100)?;
        let held = app::read::documents(
            &h,
            &caller,
            &app::read::DocumentQuery {
                patient: Some(PatientRef::Member(m.clone())),
                status: Some(Some("held".into())),
                limit: 50,
                ..Default::default()
            },
        )
        .unwrap_or_default();
        let held: Vec<(String, String, String)> = held
            .into_iter()
            .map(|(d, _)| (d.doc_id, h.directory.name(&d.institution), d.doc_date))
            .collect();
        let names: Vec<String> = consents
            .iter()
            .map(|c| h.directory.name(&c.institution))
            .collect();
        Ok::<_, app::Refusal>((history, consents, names, held, fresh))
    })
    .await;
    let title = web.t("患者ポータル", "Patient portal");
    let (history, consents, names, held, fresh) = match settled(&web, title, data) {
        Ok(v) => v,
        Err(page) => return page,
    };
    let mut p = web.page(title);
    p.h(1, title);
    p.w(&nav(&web));
    if let Some(f) = &fresh {
        let since = web.previous_visit.as_str();
        let accesses = history.iter().filter(|a| a.row.at.as_str() > since).count();
        new_section(&mut p.body, &web, f, accesses);
    }
    // Who looked at my record.
    let _ = write!(
        p.body,
        "<section aria-labelledby=\"h-hist\"><h2 id=\"h-hist\">{}</h2>",
        web.t("わたしの記録を見た医療機関", "Who looked at my record")
    );
    // `app::audit::history` gives a patient only the institutions that were shown data.
    let shown: Vec<_> = history.iter().take(50).collect();
    if shown.is_empty() {
        p.w(&format!(
            "<p class=\"none\">{}</p>",
            web.t(
                "まだ閲覧はありません。",
                "No one has looked at your record yet."
            )
        ));
    } else {
        let _ = write!(
            p.body,
            "<table class=\"history\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            web.t("日時", "When"),
            web.t("医療機関", "Facility"),
            web.t("見た情報", "What was shown"),
            web.t("方法", "How")
        );
        for a in shown {
            let (method, special) = match a.row.basis.as_str() {
                "emergency" => (
                    web.t("救急時（同意なし）", "Emergency (without consent)"),
                    true,
                ),
                "disaster" => (
                    web.t("災害時（同意なし）", "Disaster (without consent)"),
                    true,
                ),
                "consent" => (web.t("同意にもとづく", "With your consent"), false),
                "submitter" => (
                    web.t("登録した医療機関", "The institution that registered it"),
                    false,
                ),
                other => (other, false),
            };
            let when = a.row.at.get(..16).unwrap_or(&a.row.at).replace('T', " ");
            let is_new = !web.previous_visit.is_empty() && a.row.at > web.previous_visit;
            let _ = write!(
                p.body,
                "<tr{}><td>{} UTC{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                if special { " class=\"emergency\"" } else { "" },
                esc(&day(&when)),
                if is_new {
                    format!(" <span class=\"tag\">{}</span>", web.t("新着", "new"))
                } else {
                    String::new()
                },
                esc(a.facility.as_deref().unwrap_or(&a.row.institution)),
                esc(&item_words(&a.row.items, web.lang)),
                if special { "<strong>⚠ </strong>" } else { "" },
                esc(method)
            );
        }
        p.w("</tbody></table>");
    }
    p.w("</section>");
    // Referrals held until I agree to their being sent.
    let _ = write!(
        p.body,
        "<section aria-labelledby=\"h-held\"><h2 id=\"h-held\">{}</h2>",
        web.t("同意待ちの紹介状", "Referrals waiting for my consent")
    );
    if held.is_empty() {
        let _ = write!(
            p.body,
            "<p class=\"none\">{}</p>",
            web.t("同意待ちの紹介状はありません。", "No referral is waiting.")
        );
    } else {
        p.w("<ul>");
        for (id, from, date) in &held {
            let _ = write!(
                p.body,
                "<li>{} {} ({}) <form method=\"post\" action=\"/portal/release\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"id\" value=\"{}\"><button type=\"submit\">{}</button></form></li>",
                esc(from),
                web.t("からの紹介状", "— referral"),
                esc(&day(date)),
                esc(&web.csrf),
                esc(id),
                web.t("送付に同意する", "Agree to its being sent")
            );
        }
        p.w("</ul>");
    }
    p.w("</section>");
    // Consents in force.
    let _ = write!(
        p.body,
        "<section aria-labelledby=\"h-consent\"><h2 id=\"h-consent\">{}</h2>",
        web.t("閲覧への同意", "Consents to view my record")
    );
    let live: Vec<_> = consents
        .iter()
        .zip(names.iter())
        .filter(|(c, _)| c.revoked_at.is_none() && c.end.as_str() > now.as_str())
        .collect();
    if live.is_empty() {
        p.w(&format!(
            "<p class=\"none\">{}</p>",
            web.t("有効な同意はありません。", "No consent is in force.")
        ));
    } else {
        p.w("<ul class=\"consents\">");
        for (c, name) in live {
            let _ = write!(
                p.body,
                "<li><strong>{}</strong> {} {} \
                 <form method=\"post\" action=\"/portal/revoke\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
                 <button type=\"submit\" class=\"danger-button\">{}</button></form></li>",
                esc(name),
                web.t("有効期限", "until"),
                esc(&c.end.get(..16).unwrap_or(&c.end).replace('T', " ")),
                esc(&web.csrf),
                esc(&c.consent_id),
                web.t("同意を取り消す", "Revoke")
            );
        }
        p.w("</ul>");
    }
    p.w("</section>");
    p.finish()
}

/// What was registered for the patient after `since` (the previous visit), as the patient may
/// see it: the 6情報 entries per item, and the documents.
struct Fresh {
    items: Vec<(String, usize)>,
    documents: Vec<(store::StoredDocument, String)>,
}

fn new_since(
    h: &app::Hub,
    caller: &app::Caller,
    member: &str,
    since: &str,
    audit: Option<&Slot>,
) -> Result<Fresh, app::Refusal> {
    let s = app::read::summary(h, caller, &PatientRef::Member(member.to_string()))?;
    let new: Vec<(store::StoredResource, clins::policy::Mark)> = s
        .entries
        .iter()
        .filter(|(r, _)| r.registered_at.as_str() > since)
        .cloned()
        .collect();
    if let Some(a) = audit {
        // Counts per item are shown: the record names those items.
        a.shown(&s.member_id, s.basis, &new);
    }
    let mut items: Vec<(String, usize)> = Vec::new();
    for (r, _) in &new {
        match items.iter_mut().find(|(i, _)| *i == r.item) {
            Some((_, n)) => *n += 1,
            None => items.push((r.item.clone(), 1)),
        }
    }
    let documents = app::read::summary_documents(h, caller, &s, 200)?
        .into_iter()
        .filter(|(d, _)| d.registered_at.as_str() > since)
        .map(|(d, _)| {
            let from = h.directory.name(&d.institution);
            (d, from)
        })
        .collect();
    Ok(Fresh { items, documents })
}

/// The "new since your last visit" section of the portal's home.
fn new_section(out: &mut String, web: &Web, f: &Fresh, accesses: usize) {
    let t = |ja, en| web.t(ja, en);
    let _ = write!(
        out,
        "<section class=\"card\" aria-labelledby=\"h-new\"><h2 id=\"h-new\">{}</h2>",
        match web.lang {
            Lang::Ja => format!(
                "前回のご利用（{}）以降の新着",
                esc(&day(&web.previous_visit))
            ),
            Lang::En => format!(
                "New since your last visit ({})",
                esc(&day(&web.previous_visit))
            ),
        }
    );
    if accesses == 0 && f.items.is_empty() && f.documents.is_empty() {
        let _ = write!(
            out,
            "<p class=\"none\">{}</p></section>",
            t("新着はありません。", "Nothing new.")
        );
        return;
    }
    out.push_str("<ul>");
    if accesses > 0 {
        let _ = write!(
            out,
            "<li>{} {accesses}{}</li>",
            t("わたしの記録へのアクセス", "Accesses to your record:"),
            t("件（下の一覧に「新着」）", " (marked new below)")
        );
    }
    for (item, n) in &f.items {
        let _ = write!(
            out,
            "<li><a href=\"/portal/record\">{}</a> {n}{}</li>",
            esc(&item_words(item, web.lang)),
            t("件", "")
        );
    }
    for (d, from) in &f.documents {
        let _ = write!(
            out,
            "<li><a href=\"/portal/document?id={}\">{}</a> {} · {}</li>",
            esc(&crate::percent_encode(&d.doc_id)),
            esc(super::documents::kind_words(&d.kind, web.lang)),
            esc(from),
            esc(&day(&d.doc_date))
        );
    }
    out.push_str("</ul></section>");
}

/// The signed-in patient's own summary, recorded as shown on the request's audit record,
/// made into `T` on the blocking pool; a refusal as a page.
async fn own_summary<T: Send + 'static>(
    hub: &AppState,
    audit: Option<Extension<Slot>>,
    web: &Web,
    title: &str,
    make: impl FnOnce(&app::Hub, &app::Caller, &app::read::Summary) -> T + Send + 'static,
) -> Result<T, Response> {
    let member = web.caller.patient().unwrap_or_default().to_string();
    if let Some(a) = &audit {
        a.patient(&member);
    }
    let (h, caller) = (hub.clone(), web.caller.clone());
    let done = tokio::task::spawn_blocking(move || {
        let s = app::read::summary(&h, &caller, &PatientRef::Member(member))?;
        if let Some(a) = &audit {
            a.shown(&s.member_id, s.basis, &s.entries);
        }
        Ok::<_, app::Refusal>(make(&h, &caller, &s))
    })
    .await;
    match done {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(r)) => Err(refused(web, title, &r)),
        Err(_) => Err(see_other("/portal")),
    }
}

/// `GET /portal/record`: my 6情報, as the patient may see them.
pub async fn record(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    web: Web,
) -> Response {
    let title = web.t("わたしの記録", "My record");
    let lang = web.lang;
    let made = own_summary(&hub, audit, &web, title, move |h, caller, s| {
        let mut body = super::viewer::summary_body(h, s, lang, true);
        let docs = super::documents::of_summary(h, caller, s, lang, super::Area::Portal);
        let _ = write!(
            body,
            "<section aria-labelledby=\"h-docs\"><h2 id=\"h-docs\">{}</h2>{docs}</section>",
            lang.t("文書", "Documents"),
        );
        body
    })
    .await;
    match made {
        Ok(body) => {
            let mut p = web.page(title);
            p.h(1, title);
            p.w(&nav(&web));
            p.w(&body);
            p.finish()
        }
        Err(r) => r,
    }
}

/// `GET /portal/download`: the whole own record as a FHIR Bundle (data portability).
pub async fn download(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    web: Web,
) -> Response {
    let title = web.t("ダウンロード", "Download");
    match own_summary(&hub, audit, &web, title, |h, _, s| {
        crate::read::summary::bundle(h, s)
    })
    .await
    {
        Ok(json) => super::html::attachment(
            json.into_bytes(),
            HeaderValue::from_static("application/fhir+json"),
            "my-record.json",
        ),
        Err(r) => r,
    }
}

/// `POST /portal/revoke`: revokes a consent at once.
pub async fn revoke(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    posted: Posted,
) -> Response {
    let web = &posted.web;
    let id = posted.form.get("id").to_string();
    let (h, caller) = (hub.clone(), web.caller.clone());
    let record = audit.as_ref().map(|a| a.template(&hub, 303));
    let done = tokio::task::spawn_blocking(move || {
        app::consent::revoke(&h.store, &caller, &id, &h.clock.now(), record)
    })
    .await;
    match done {
        Ok(Ok(_)) => {
            if let Some(a) = &audit {
                a.recorded();
            }
            see_other("/portal")
        }
        Ok(Err(r)) => refused(web, web.t("同意の取り消し", "Revoking a consent"), &r),
        Err(_) => see_other("/portal"),
    }
}

/// `POST /portal/release`: the patient agrees that a held referral goes to its addressee.
pub async fn release(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    posted: Posted,
) -> Response {
    let web = &posted.web;
    let id = posted.form.get("id").to_string();
    let mut c = String::from(
        "{\"resourceType\":\"Consent\",\"status\":\"active\",\"provision\":{\"data\":[{\"meaning\":\"instance\",\"reference\":{\"reference\":",
    );
    fhir::json::write_str(&mut c, &format!("DocumentReference/{id}"));
    c.push_str("}}]}}");
    let (h, caller) = (hub.clone(), web.caller.clone());
    let record = audit.as_ref().map(|a| a.template(&hub, 303));
    let done = tokio::task::spawn_blocking(move || {
        let v = fhir::json::parse(&c)
            .map_err(|e| app::Refusal::bad_request("CONSENT-FORM", "", e.en.clone(), e.ja))?;
        app::consent::post(
            &h.store,
            &caller,
            &v,
            &h.clock.now(),
            h.consent_hours,
            record,
        )
    })
    .await;
    match done {
        Ok(Ok(posted)) => {
            if let (Some(a), app::consent::Posted::Released(_, true)) = (&audit, &posted) {
                a.recorded();
            }
            see_other("/portal")
        }
        Ok(Err(r)) => refused(web, web.t("紹介状の送付", "Releasing a referral"), &r),
        Err(_) => see_other("/portal"),
    }
}
