//! Documents on the pages: the list of a patient's documents the caller may see, the referral
//! inbox, one document rendered section by section (its narrative as text, its attachments to
//! download), and the portal's checkup results as trends across years. Retrieval goes through
//! `app::read::retrieve`, so the addressee's first reading marks a referral 取得済 as the API
//! does, and the request is audited.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Extension, RawQuery, State};
use axum::http::HeaderValue;
use axum::response::Response;
use fhir::json::Value;

use app::read::{DocumentEntry, DocumentQuery, PatientRef};

use super::chart::{trend, Point};
use super::html::{day, esc, see_other, Lang};
use super::{refused, settled, Area, Web};
use crate::audit::Slot;
use crate::AppState;

pub(super) fn kind_words(kind: &str, lang: Lang) -> &'static str {
    match kind {
        "eReferral" => lang.t("診療情報提供書", "Referral"),
        "eDischargeSummary" => lang.t("退院時サマリー", "Discharge summary"),
        "eCheckup" => lang.t("健康診断結果報告書", "Checkup report"),
        "ePCS" => lang.t("患者サマリー", "Patient summary"),
        _ => lang.t("文書", "Document"),
    }
}

fn status_words(status: &str, lang: Lang) -> String {
    match status {
        "current" => lang.t("未取得", "not retrieved yet").into(),
        "retrieved" => lang.t("取得済", "retrieved").into(),
        "held" => lang
            .t(
                "保留（患者の同意待ち）",
                "held (waiting for the patient's consent)",
            )
            .into(),
        "cancelled" => lang.t("取消", "cancelled").into(),
        other => other.to_string(),
    }
}

fn query_value(q: &Option<String>, key: &str) -> String {
    crate::query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// A table of documents with links to read them (`area` decides the link's path).
pub fn list(hub: &app::Hub, docs: &[DocumentEntry], lang: Lang, area: Area) -> String {
    let t = |ja, en| lang.t(ja, en);
    if docs.is_empty() {
        return format!(
            "<p class=\"none\">{}</p>",
            t("文書はありません", "No documents")
        );
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "<table class=\"docs\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t("文書", "Document"),
        t("作成日", "Date"),
        t("作成元", "From"),
        t("状態", "Status")
    );
    for (d, _) in docs {
        let _ = write!(
            out,
            "<tr><td><a href=\"/{}/document?id={}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            area.name(),
            esc(&crate::percent_encode(&d.doc_id)),
            esc(kind_words(&d.kind, lang)),
            esc(&day(&d.doc_date)),
            esc(&hub.directory.name(&d.institution)),
            esc(&status_words(&d.status, lang))
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// The documents of the patient of a summary just read (newest first, at most 50; the patient
/// and its consent are not looked up again), as a table; a refusal in words (never an empty
/// list that could mean "none").
pub fn of_summary(
    hub: &app::Hub,
    caller: &app::Caller,
    s: &app::read::Summary,
    lang: Lang,
    area: Area,
) -> String {
    match app::read::summary_documents(hub, caller, s, 50) {
        Ok(docs) => list(hub, &docs, lang, area),
        Err(r) => super::html::note("info", &super::words(&r, lang)),
    }
}

/// `GET /viewer/inbox`: the referrals addressed to the signed-in staff's institution.
pub async fn inbox(State(hub): State<AppState>, web: Web) -> Response {
    let title = web.t("受信した紹介状", "Referrals received");
    let Some(number) = web.caller.institution().map(str::to_string) else {
        return see_other("/viewer");
    };
    let (h, caller, lang) = (hub.clone(), web.caller.clone(), web.lang);
    let done = tokio::task::spawn_blocking(move || {
        let docs = app::read::documents(
            &h,
            &caller,
            &DocumentQuery {
                destination: Some(number),
                limit: 200,
                ..DocumentQuery::default()
            },
        )?;
        Ok::<_, app::Refusal>(list(&h, &docs, lang, Area::Viewer))
    })
    .await;
    match done {
        Ok(Ok(body)) => {
            let mut p = web.page(title);
            p.h(1, title);
            p.w(&body);
            p.finish()
        }
        Ok(Err(r)) => refused(&web, title, &r),
        Err(_) => see_other("/viewer"),
    }
}

/// The text of a narrative `div`: tags dropped, block ends as line breaks, entities decoded.
/// Nothing of the submitted markup reaches the page.
pub fn narrative_text(div: &str) -> String {
    let mut out = String::with_capacity(div.len());
    let mut rest = div;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[lt + 1..lt + gt]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4"
        ) && !out.ends_with('\n')
        {
            out.push('\n');
        }
        rest = &rest[lt + gt + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// The attachments of a document Bundle: (content type, title, base64 data).
fn attachments(bundle: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for e in bundle.get("entry").map(Value::items).unwrap_or_default() {
        let Some(r) = e.get("resource") else { continue };
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        match r.get("resourceType").and_then(Value::as_str) {
            Some("Binary") => out.push((s(r, "contentType"), String::new(), s(r, "data"))),
            Some("DocumentReference") => {
                for c in r.get("content").map(Value::items).unwrap_or_default() {
                    if let Some(a) = c.get("attachment") {
                        out.push((s(a, "contentType"), s(a, "title"), s(a, "data")));
                    }
                }
            }
            _ => {}
        }
    }
    out.retain(|(_, _, data)| !data.is_empty());
    out
}

fn sections(out: &mut String, secs: &[Value], depth: u8) {
    for s in secs {
        let title = s.get("title").and_then(Value::as_str).unwrap_or("");
        let text = s
            .pointer("text.div")
            .and_then(Value::as_str)
            .map(narrative_text)
            .unwrap_or_default();
        let level = (depth + 2).min(6);
        let _ = write!(
            out,
            "<section class=\"docsec\"><h{level}>{}</h{level}>",
            esc(title)
        );
        if !text.is_empty() {
            let _ = write!(
                out,
                "<p class=\"narrative\">{}</p>",
                esc(&text).replace('\n', "<br>")
            );
        }
        sections(
            out,
            s.get("section").map(Value::items).unwrap_or_default(),
            depth + 1,
        );
        out.push_str("</section>");
    }
}

/// A document retrieved for the caller (one access decision, as `GET /fhir/Bundle/{id}`),
/// its patient and kind noted on the request's audit record.
fn retrieved(
    hub: &app::Hub,
    caller: &app::Caller,
    id: &str,
    audit: Option<&Slot>,
) -> Result<(store::StoredDocument, Vec<u8>), app::Refusal> {
    let (doc, bytes) = app::read::retrieve_document(hub, caller, id)?;
    if let Some(a) = audit {
        a.patient(&doc.member_id);
        a.items([doc.kind.as_str()]);
    }
    Ok((doc, bytes))
}

/// `GET /{viewer,portal}/document?id=`: a document, section by section.
pub async fn document(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    web: Web,
    RawQuery(q): RawQuery,
) -> Response {
    let id = query_value(&q, "id");
    let (h, caller) = (hub.clone(), web.caller.clone());
    let (id2, a2) = (id.clone(), audit.clone());
    let done = tokio::task::spawn_blocking(move || {
        let (doc, bytes) = retrieved(&h, &caller, &id2, a2.as_deref())?;
        let from = h.directory.name(&doc.institution);
        Ok::<_, app::Refusal>((doc, bytes, from))
    })
    .await;
    let title = web.t("文書", "Document");
    let (doc, bytes, from) = match settled(&web, title, done) {
        Ok(v) => v,
        Err(page) => return page,
    };
    let bundle = fhir::json::parse_bytes(&bytes).unwrap_or(Value::Null);
    let composition = composition(&bundle);
    let heading = composition
        .and_then(|c| c.get("title").and_then(Value::as_str))
        .unwrap_or_else(|| kind_words(&doc.kind, web.lang))
        .to_string();
    let mut p = web.page(&heading);
    p.h(1, &heading);
    let _ = write!(
        p.body,
        "<p>{} {} · {} {} · {} {}</p>",
        web.t("作成元", "From"),
        esc(&from),
        web.t("作成日", "Date"),
        esc(&day(&doc.doc_date)),
        web.t("状態", "Status"),
        esc(&status_words(&doc.status, web.lang))
    );
    if let Some(c) = composition {
        sections(
            &mut p.body,
            c.get("section").map(Value::items).unwrap_or_default(),
            0,
        );
    }
    let att = attachments(&bundle);
    if !att.is_empty() {
        let _ = write!(
            p.body,
            "<section><h2>{}</h2><ul>",
            web.t("添付", "Attachments")
        );
        for (n, (ct, t, _)) in att.iter().enumerate() {
            let _ = write!(
                p.body,
                "<li><a href=\"/{}/attachment?id={}&amp;n={n}\">{}</a> <span class=\"src\">{}</span></li>",
                web.area.name(),
                esc(&crate::percent_encode(&id)),
                esc(if t.is_empty() { web.t("添付ファイル", "Attachment") } else { t }),
                esc(ct)
            );
        }
        p.w("</ul></section>");
    }
    p.finish()
}

/// `GET /{viewer,portal}/attachment?id=&n=`: an attachment of a document, downloaded.
pub async fn attachment(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    web: Web,
    RawQuery(q): RawQuery,
) -> Response {
    let id = query_value(&q, "id");
    let n: usize = query_value(&q, "n").parse().unwrap_or(usize::MAX);
    let (h, caller) = (hub.clone(), web.caller.clone());
    let a2 = audit.clone();
    let done = tokio::task::spawn_blocking(move || {
        retrieved(&h, &caller, &id, a2.as_deref()).map(|(_, bytes)| bytes)
    })
    .await;
    let bytes = match settled(&web, web.t("添付", "Attachment"), done) {
        Ok(v) => v,
        Err(page) => return page,
    };
    let bundle = fhir::json::parse_bytes(&bytes).unwrap_or(Value::Null);
    let Some((ct, _, data)) = attachments(&bundle).into_iter().nth(n) else {
        return refused(
            &web,
            web.t("添付", "Attachment"),
            &app::Refusal::not_found("the attachment"),
        );
    };
    let Some(raw) = fhir::base64::decode(&data, fhir::base64::Alphabet::Standard) else {
        return refused(
            &web,
            web.t("添付", "Attachment"),
            &app::Refusal::not_found("the attachment"),
        );
    };
    // Only types a browser shows safely are named; anything else is a download of bytes.
    let (ct, ext) = match ct.as_str() {
        "application/pdf" => ("application/pdf", "pdf"),
        "image/png" => ("image/png", "png"),
        "image/jpeg" => ("image/jpeg", "jpg"),
        "text/plain" => ("text/plain", "txt"),
        _ => ("application/octet-stream", "bin"),
    };
    super::html::attachment(
        raw,
        HeaderValue::from_static(ct),
        &format!("attachment-{n}.{ext}"),
    )
}

/// `GET /portal/checkups`: my checkup results, each item as a trend across years.
pub async fn checkups(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    web: Web,
) -> Response {
    let member = web.caller.patient().unwrap_or_default().to_string();
    if let Some(a) = &audit {
        a.patient(&member);
        a.items(["eCheckup"]);
    }
    let (h, caller) = (hub.clone(), web.caller.clone());
    let done = tokio::task::spawn_blocking(move || {
        let docs = app::read::documents(
            &h,
            &caller,
            &DocumentQuery {
                patient: Some(PatientRef::Member(member)),
                doc_type: None,
                limit: 100,
                ..DocumentQuery::default()
            },
        )?;
        let mut bundles = Vec::new();
        for (d, _) in docs.iter().filter(|(d, _)| d.kind == "eCheckup") {
            if let Ok(b) = app::read::retrieve(&h, &caller, &d.doc_id) {
                bundles.push((h.directory.name(&d.institution), b));
            }
        }
        Ok::<_, app::Refusal>((docs, bundles))
    })
    .await;
    let title = web.t("健診結果", "Checkup results");
    let (docs, bundles) = match settled(&web, title, done) {
        Ok(v) => v,
        Err(page) => return page,
    };
    // Per item (by its name): the values over the years, with the reference range last seen.
    type Series = (Vec<Point>, String, Option<f64>, Option<f64>);
    let mut items: BTreeMap<String, Series> = BTreeMap::new();
    for (from, bytes) in &bundles {
        let b = fhir::json::parse_bytes(bytes).unwrap_or(Value::Null);
        for e in b.get("entry").map(Value::items).unwrap_or_default() {
            let Some(r) = e.get("resource") else { continue };
            if r.get("resourceType").and_then(Value::as_str) != Some("Observation") {
                continue;
            }
            let Some(Value::Number(v)) = r.pointer("valueQuantity.value") else {
                continue;
            };
            let Ok(value) = v.as_str().parse::<f64>() else {
                continue;
            };
            let name = r
                .pointer("code.text")
                .and_then(Value::as_str)
                .or_else(|| {
                    r.pointer("code.coding")
                        .map(Value::items)
                        .unwrap_or_default()
                        .iter()
                        .find_map(|c| c.get("display").and_then(Value::as_str))
                })
                .unwrap_or("")
                .to_string();
            if name.is_empty() {
                continue;
            }
            let num = |p: &str| {
                r.get("referenceRange")
                    .and_then(|x| x.items().first())
                    .and_then(|x| x.pointer(p))
                    .and_then(|x| match x {
                        Value::Number(n) => {
                            n.as_str().parse::<f64>().ok().filter(|v| v.is_finite())
                        }
                        _ => None,
                    })
            };
            let entry = items
                .entry(name)
                .or_insert_with(|| (Vec::new(), String::new(), None, None));
            entry.0.push(Point {
                date: r
                    .get("effectiveDateTime")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                value,
                source: from.clone(),
            });
            if let Some(u) = r.pointer("valueQuantity.unit").and_then(Value::as_str) {
                entry.1 = u.to_string();
            }
            entry.2 = num("low.value").or(entry.2);
            entry.3 = num("high.value").or(entry.3);
        }
    }
    let mut p = web.page(title);
    p.h(1, title);
    p.w(&super::portal::nav(&web));
    if items.is_empty() {
        let _ = write!(
            p.body,
            "<p class=\"none\">{}</p>",
            web.t("健診結果はありません", "No checkup results")
        );
    }
    p.w("<div class=\"trends\">");
    for (name, (points, unit, low, high)) in &items {
        let mut sorted: Vec<&Point> = points.iter().collect();
        sorted.sort_by(|a, b| a.date.cmp(&b.date));
        let latest = sorted.last().map(|x| x.value);
        let words = match (latest, low, high) {
            (Some(v), _, Some(h)) if v > *h => web.t("基準より高い", "above the reference range"),
            (Some(v), Some(l), _) if v < *l => web.t("基準より低い", "below the reference range"),
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                web.t("基準範囲内", "within the reference range")
            }
            _ => "",
        };
        let _ = write!(
            p.body,
            "<section class=\"trend\"><h2>{}</h2><p>{} <strong>{} {}</strong> {}</p>{}</section>",
            esc(name),
            web.t("最新", "Latest"),
            latest.map(|v| v.to_string()).unwrap_or_default(),
            esc(unit),
            esc(words),
            trend(name, unit, points, *low, *high)
        );
    }
    p.w("</div>");
    let _ = write!(p.body, "<h2>{}</h2>", web.t("わたしの文書", "My documents"));
    let l = list(&hub, &docs, web.lang, Area::Portal);
    p.w(&l);
    p.finish()
}

/// The Composition of a document Bundle.
fn composition(bundle: &Value) -> Option<&Value> {
    bundle
        .get("entry")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("resource"))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Composition"))
}

/// `GET /portal/summary`: my 患者サマリー (療養計画書) — the newest one section by section, and
/// the list of those of the last six months (the access decision hides older ones).
pub async fn patient_summaries(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    web: Web,
) -> Response {
    let member = web.caller.patient().unwrap_or_default().to_string();
    if let Some(a) = &audit {
        a.patient(&member);
    }
    let (h, caller) = (hub.clone(), web.caller.clone());
    let done = tokio::task::spawn_blocking(move || {
        let docs: Vec<DocumentEntry> = app::read::documents(
            &h,
            &caller,
            &DocumentQuery {
                patient: Some(PatientRef::Member(member)),
                limit: 200,
                ..DocumentQuery::default()
            },
        )?
        .into_iter()
        .filter(|(d, _)| d.kind == "ePCS")
        .collect();
        let newest = match docs.first() {
            Some((d, _)) => Some((
                h.directory.name(&d.institution),
                app::read::retrieve(&h, &caller, &d.doc_id)?,
            )),
            None => None,
        };
        Ok::<_, app::Refusal>((docs, newest))
    })
    .await;
    let title = web.t("患者サマリー", "Patient summary (care plan)");
    let (docs, newest) = match settled(&web, title, done) {
        Ok(v) => v,
        Err(page) => return page,
    };
    if let Some(a) = &audit {
        if !docs.is_empty() {
            a.items(["ePCS"]);
        }
    }
    let mut p = web.page(title);
    p.h(1, title);
    p.w(&super::portal::nav(&web));
    let _ = write!(
        p.body,
        "<p>{}</p>",
        web.t(
            "医療機関が作成した療養計画・アドバイスと6情報をまとめたものです。作成から6か月を過ぎると表示されません。他の医療機関とは共有されません。",
            "Your care plan and advice from your institution, with your 6 items of information. Shown for six months after it is written; not shared with other institutions."
        )
    );
    match (&newest, docs.first()) {
        (Some((from, bytes)), Some((d, _))) => {
            let bundle = fhir::json::parse_bytes(bytes).unwrap_or(Value::Null);
            let c = composition(&bundle);
            let heading = c
                .and_then(|c| c.get("title").and_then(Value::as_str))
                .unwrap_or_else(|| kind_words(&d.kind, web.lang));
            let _ = write!(
                p.body,
                "<article class=\"card\" aria-labelledby=\"h-pcs\"><h2 id=\"h-pcs\">{}</h2><p>{} {} · {} {}</p>",
                esc(heading),
                web.t("作成元", "From"),
                esc(from),
                web.t("作成日", "Date"),
                esc(&day(&d.doc_date)),
            );
            if let Some(c) = c {
                sections(
                    &mut p.body,
                    c.get("section").map(Value::items).unwrap_or_default(),
                    1,
                );
            }
            p.w("</article>");
        }
        _ => {
            let _ = write!(
                p.body,
                "<p class=\"none\">{}</p>",
                web.t(
                    "この6か月に作成された患者サマリーはありません",
                    "No patient summary written in the last six months"
                )
            );
        }
    }
    if docs.len() > 1 {
        let _ = write!(
            p.body,
            "<h2>{}</h2>",
            web.t("これまでの患者サマリー", "Earlier summaries")
        );
        let l = list(&hub, &docs, web.lang, Area::Portal);
        p.w(&l);
    }
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::narrative_text;

    #[test]
    fn narrative_becomes_text_without_markup() {
        assert_eq!(
            narrative_text("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>一行目</p><p>A &amp; B &lt;x&gt;</p><script>x</script></div>"),
            "一行目\nA & B <x>\nx"
        );
        assert_eq!(narrative_text("no tags"), "no tags");
        assert_eq!(narrative_text("<b>unterminated"), "unterminated");
        assert_eq!(narrative_text("a <br"), "a");
    }
}
