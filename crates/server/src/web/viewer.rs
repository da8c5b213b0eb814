//! The clinician viewer: staff sign-in, patient lookup by insurance member id, and the patient
//! page — safety first (a red band of drug contraindications and drug allergies), then
//! allergies, infections, diagnoses, prescriptions of every institution (duplicates of an
//! ingredient across institutions highlighted), and labs with trend charts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use fhir::json::Value;

use app::read::PatientRef;
use clins::policy::{Basis, Mark, FLAG_SUSPECTED};

use super::chart::{trend, Point};
use super::html::{day, esc, note, see_other, Lang};
use super::{Posted, Web};
use crate::audit::Slot;
use crate::AppState;

fn lookup_form(web: &Web, value: &str) -> String {
    format!(
        "<form method=\"get\" action=\"/viewer/patient\" class=\"card\" role=\"search\">\
         <label for=\"member\">{}</label><input type=\"text\" id=\"member\" name=\"member\" value=\"{}\" required aria-describedby=\"member-hint\" autocomplete=\"off\">\
         <p class=\"hint\" id=\"member-hint\">{}</p><button type=\"submit\">{}</button></form>",
        web.t("被保険者番号（保険者番号:記号:番号:枝番）", "Insurance member id (insurer:symbol:number:branch)"),
        esc(value),
        web.t("例 01010164:11743978:248:01（枝番は省略可）", "e.g. 01010164:11743978:248:01 (the branch may be empty)"),
        web.t("患者を表示", "Show patient"),
    )
}

/// `GET /viewer`: the lookup.
pub async fn lookup(web: Web) -> Response {
    let mut p = web.page(web.t("患者検索", "Patient lookup"));
    p.h(1, web.t("患者検索", "Patient lookup"));
    let f = lookup_form(&web, "");
    p.w(&f);
    let _ = write!(
        p.body,
        "<p><a href=\"/viewer/inbox\">{}</a></p>",
        web.t("受信した紹介状を見る", "Referrals received")
    );
    let form = identify_form(&web);
    p.w(&form);
    p.finish()
}

/// The 4 情報 lookup (emergency or disaster only): name, birth date, sex, address; with the
/// emergency privilege, a reason and the one-time code again.
fn identify_form(web: &Web) -> String {
    let t = |ja, en| web.t(ja, en);
    let mut out = String::new();
    let _ = write!(
        out,
        "<section class=\"card\" aria-labelledby=\"h-4\"><h2 id=\"h-4\">{}</h2><p class=\"hint\">{}</p>\
         <form method=\"post\" action=\"/viewer/identify\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"q-name\">{}</label><input type=\"text\" id=\"q-name\" name=\"name\" required>\
         <label for=\"q-birth\">{}</label><input type=\"date\" id=\"q-birth\" name=\"birthdate\" required>\
         <label for=\"q-gender\">{}</label><select id=\"q-gender\" name=\"gender\"><option value=\"male\">{}</option><option value=\"female\">{}</option><option value=\"other\">{}</option><option value=\"unknown\">{}</option></select>\
         <label for=\"q-address\">{}</label><input type=\"text\" id=\"q-address\" name=\"address\" required>",
        t("救急・災害時: 4情報で患者を特定", "Emergency or disaster: identify the patient by the 4 items"),
        t(
            "被保険者番号がわからないとき（意識障害、災害時）に限ります。一致する患者が1人のときだけ表示します。",
            "Only when the member id is not known (unconscious patient, disaster). A patient is shown only when exactly one matches."
        ),
        esc(&web.csrf),
        t("氏名（漢字またはカナ）", "Name (kanji or kana)"),
        t("生年月日", "Birth date"),
        t("性別", "Sex"),
        t("男性", "male"),
        t("女性", "female"),
        t("その他", "other"),
        t("不明", "unknown"),
        t("住所", "Address"),
    );
    if web.may_break_glass() {
        let _ = write!(
            out,
            "<label for=\"q-reason\">{}</label><input type=\"text\" id=\"q-reason\" name=\"reason\" maxlength=\"200\" aria-describedby=\"q-reason-hint\">\
             <p class=\"hint\" id=\"q-reason-hint\">{}</p>\
             <label for=\"q-totp\">{}</label><input type=\"text\" id=\"q-totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\">",
            t("救急時閲覧の理由", "Reason for emergency access"),
            t("災害時（災害の宣言の範囲内）は空欄のままにします。", "Leave empty in a declared disaster."),
            t("ワンタイムコード（再確認）", "One-time code (asked again)"),
        );
    }
    let _ = write!(
        out,
        "<button type=\"submit\">{}</button></form></section>",
        t("特定する", "Identify")
    );
    out
}

/// `POST /viewer/identify`: the 4 情報 lookup. With a reason, emergency access is confirmed
/// (the one-time code) before anything is looked up, and put into effect for the patient
/// found; without, the caller's disaster declaration must cover it (the access decision says).
pub async fn identify(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    posted: Posted,
) -> Response {
    let web = &posted.web;
    let f = &posted.form;
    let query = app::identify::Query {
        name: f.get("name").to_string(),
        birth_date: f.get("birthdate").to_string(),
        gender: f.get("gender").to_string(),
        address: f.get("address").to_string(),
    };
    let (reason, totp) = (f.get("reason").to_string(), f.get("totp").to_string());
    let (h, cookie, mut caller) = (hub.clone(), web.cookie.clone(), web.caller.clone());
    let a2 = audit.clone();
    let done = tokio::task::spawn_blocking(move || {
        let now = h.clock.now();
        let emergency = if reason.trim().is_empty() {
            None
        } else {
            Some(app::auth::people::confirm_emergency(
                &h.store, &cookie, &reason, &totp, &now,
            )?)
        };
        caller.emergency_claimed = emergency.is_some();
        if let Some(a) = &a2 {
            a.caller(&caller, "");
        }
        let (key, _) = app::identify::identify(&h.store, &caller, &query, &now)?;
        let (member, _) = h
            .store
            .patient(key)?
            .ok_or_else(|| app::Refusal::not_found("a patient with these 4 情報"))?;
        if let Some(a) = &a2 {
            a.patient(&member);
        }
        if let Some(reason) = emergency {
            app::auth::people::emergency_for(&h.store, &cookie, &member, &reason, &now)?;
        }
        Ok::<_, app::Refusal>(member)
    })
    .await;
    match done {
        Ok(Ok(member)) => see_other(&format!(
            "/viewer/patient?member={}",
            crate::percent_encode(&member)
        )),
        Ok(Err(r)) => super::refused(
            web,
            web.t("4情報による特定", "Identification by the 4 items"),
            &r,
        ),
        Err(_) => see_other("/viewer"),
    }
}

/// A path through objects, taking the first item of each array on the way.
fn first<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| {
        let next = v.get(k)?;
        Some(next.items().first().unwrap_or(next))
    })
}

fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    first(v, path).and_then(Value::as_str).unwrap_or("")
}

/// The words of a CodeableConcept: its text, else the first display, else the first code.
fn concept(v: Option<&Value>) -> String {
    let Some(c) = v else { return String::new() };
    if let Some(t) = c.get("text").and_then(Value::as_str) {
        return t.to_string();
    }
    let codings = c.get("coding").map(Value::items).unwrap_or_default();
    codings
        .iter()
        .find_map(|x| x.get("display").and_then(Value::as_str))
        .or_else(|| {
            codings
                .iter()
                .find_map(|x| x.get("code").and_then(Value::as_str))
        })
        .unwrap_or("")
        .to_string()
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_str().parse().ok().filter(|x: &f64| x.is_finite()),
        _ => None,
    }
}

/// One shown entry with its parsed resource and source.
struct Entry {
    item: String,
    code_key: String,
    institution: String,
    registered: String,
    flags: i64,
    mark: Mark,
    res: Value,
}

fn source(hub: &app::Hub, e: &Entry, lang: Lang) -> String {
    format!(
        "<span class=\"src\">{} {} · {}</span>",
        lang.t("登録元", "Source"),
        esc(&hub.directory.name(&e.institution)),
        esc(&day(&e.registered))
    )
}

fn none_recorded(lang: Lang) -> String {
    format!(
        "<p class=\"none\">{}</p>",
        lang.t(
            "記録なし（登録された情報はありません）",
            "None recorded (nothing has been registered)"
        )
    )
}

fn is_drug_allergy(e: &Entry) -> bool {
    e.item == "drug-contraindication"
        || (e.item == "allergy"
            && e.res
                .get("category")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .any(|c| c.as_str() == Some("medication")))
}

fn allergy_row(hub: &app::Hub, e: &Entry, lang: Lang) -> String {
    let substance = concept(e.res.get("code"));
    let reaction = e
        .res
        .get("reaction")
        .and_then(|r| r.items().first())
        .and_then(|r| r.get("manifestation"))
        .and_then(|m| m.items().first())
        .map(|m| concept(Some(m)))
        .unwrap_or_default();
    let crit = match s(&e.res, "criticality") {
        "high" => lang.t("重篤度: 高", "Criticality: high"),
        "low" => lang.t("重篤度: 低", "Criticality: low"),
        _ => "",
    };
    let kind = if e.item == "drug-contraindication" {
        lang.t("薬剤禁忌", "Drug contraindication")
    } else {
        lang.t("薬剤アレルギー", "Drug allergy")
    };
    format!(
        "<li><strong>{}</strong> <span class=\"tag\">{}</span>{}{} <span class=\"crit\">{}</span> {}</li>",
        esc(&substance),
        esc(kind),
        if reaction.is_empty() { "" } else { " — " },
        esc(&reaction),
        esc(crit),
        source(hub, e, lang)
    )
}

/// The YJ code of a prescription's medication (the 7-character ingredient prefix groups).
fn yj(res: &Value) -> Option<String> {
    res.pointer("medicationCodeableConcept.coding")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .find(|c| {
            let sys = c.get("system").and_then(Value::as_str).unwrap_or("");
            sys.contains("YJ") || sys.ends_with("1.2.392.100495.20.2.74")
        })
        .and_then(|c| c.get("code").and_then(Value::as_str))
        .map(str::to_string)
}

/// Renders the patient page's sections into `out`.
fn sections(out: &mut String, hub: &app::Hub, entries: &[Entry], lang: Lang, patient_view: bool) {
    let t = |ja, en| lang.t(ja, en);
    let by = |item: &str| {
        entries
            .iter()
            .filter(|e| e.item == item)
            .collect::<Vec<_>>()
    };
    // 1. The red band: never collapsed, "none recorded" said in words.
    let danger: Vec<&Entry> = entries.iter().filter(|e| is_drug_allergy(e)).collect();
    let _ = write!(
        out,
        "<section class=\"danger\" aria-labelledby=\"h-danger\"><h2 id=\"h-danger\">{}</h2>",
        t(
            "薬剤禁忌・薬剤アレルギー",
            "Drug contraindications and drug allergies"
        )
    );
    if danger.is_empty() {
        out.push_str(&none_recorded(lang));
    } else {
        out.push_str("<ul>");
        for e in &danger {
            out.push_str(&allergy_row(hub, e, lang));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    // 2. Other allergies.
    let others: Vec<&Entry> = by("allergy")
        .into_iter()
        .filter(|e| !is_drug_allergy(e))
        .collect();
    let _ = write!(
        out,
        "<section aria-labelledby=\"h-allergy\"><h2 id=\"h-allergy\">{}</h2>",
        t("その他のアレルギー", "Other allergies")
    );
    if others.is_empty() {
        out.push_str(&none_recorded(lang));
    } else {
        out.push_str("<ul>");
        for e in others {
            let _ = write!(
                out,
                "<li><strong>{}</strong> {}</li>",
                esc(&concept(e.res.get("code"))),
                source(hub, e, lang)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    // 3. Infections, positive first.
    let mut inf = by("infection");
    let positive = |e: &Entry| {
        let code = s(&e.res, "interpretation.coding.code");
        matches!(code, "POS" | "A" | "AA" | "H" | "DET")
            || concept(e.res.get("valueCodeableConcept")).contains('陽')
    };
    inf.sort_by_key(|e| !positive(e));
    let _ = write!(
        out,
        "<section aria-labelledby=\"h-inf\"><h2 id=\"h-inf\">{}</h2>",
        t("感染症", "Infections")
    );
    if inf.is_empty() {
        out.push_str(&none_recorded(lang));
    } else {
        out.push_str("<ul>");
        for e in inf {
            let value = concept(e.res.get("valueCodeableConcept"));
            let value = if value.is_empty() {
                s(&e.res, "valueString").to_string()
            } else {
                value
            };
            let _ = write!(
                out,
                "<li{}><strong>{}</strong> {} {}{} {}</li>",
                if positive(e) { " class=\"pos\"" } else { "" },
                esc(&concept(e.res.get("code"))),
                esc(&value),
                if positive(e) {
                    t("（陽性）", "(positive)")
                } else {
                    ""
                },
                esc(&day(s(&e.res, "effectiveDateTime"))),
                source(hub, e, lang)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    // 4. Diagnoses: current first, 未告知 and 疑い in words.
    let mut cond = by("condition");
    cond.sort_by_key(|e| s(&e.res, "clinicalStatus.coding.code") != "active");
    let _ = write!(
        out,
        "<section aria-labelledby=\"h-cond\"><h2 id=\"h-cond\">{}</h2>",
        t("傷病名", "Diagnoses")
    );
    if cond.is_empty() {
        out.push_str(&none_recorded(lang));
    } else {
        let _ = write!(
            out,
            "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            t("傷病名", "Diagnosis"),
            t("状態", "Status"),
            t("発症日", "Onset"),
            t("登録元", "Source")
        );
        for e in cond {
            let mut marks = String::new();
            if e.mark == Mark::Uninformed && !patient_view {
                let _ = write!(
                    marks,
                    " <span class=\"flag\">{}</span>",
                    t("未告知", "not told to the patient")
                );
            }
            if e.flags & FLAG_SUSPECTED != 0 {
                let _ = write!(
                    marks,
                    " <span class=\"flag\">{}</span>",
                    t("疑い", "suspected")
                );
            }
            let status = match s(&e.res, "clinicalStatus.coding.code") {
                "active" => t("現在", "current"),
                "resolved" | "inactive" | "remission" => t("過去", "past"),
                other => other,
            };
            let _ = write!(
                out,
                "<tr{}><td>{}{}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
                if status == t("現在", "current") {
                    ""
                } else {
                    " class=\"past\""
                },
                esc(&concept(e.res.get("code"))),
                marks,
                esc(status),
                esc(&day(s(&e.res, "onsetDateTime"))),
                esc(&hub.directory.name(&e.institution)),
                esc(&day(&e.registered))
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    // 5. Prescriptions of every institution, grouped by ingredient.
    let rx = by("prescription");
    let _ = write!(
        out,
        "<section aria-labelledby=\"h-rx\"><h2 id=\"h-rx\">{}</h2>",
        t("処方", "Prescriptions")
    );
    if rx.is_empty() {
        out.push_str(&none_recorded(lang));
    } else {
        let mut groups: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
        for e in &rx {
            let key = yj(&e.res)
                .map(|c| c.chars().take(7).collect())
                .unwrap_or_else(|| concept(e.res.get("medicationCodeableConcept")));
            groups.entry(key).or_default().push(e);
        }
        let distinct = groups.len();
        let _ = write!(
            out,
            "<p>{} <strong>{distinct}</strong>{}</p>",
            t("成分の数:", "Distinct ingredients:"),
            if distinct >= 6 {
                t("（多剤併用: 6剤以上）", " (polypharmacy: 6 or more)")
            } else {
                ""
            }
        );
        let _ = write!(
            out,
            "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            t("薬剤", "Medication"),
            t("用法", "Dosage"),
            t("処方日", "Prescribed"),
            t("処方元", "Prescriber")
        );
        for group in groups.values() {
            let mut insts: Vec<&str> = group.iter().map(|e| e.institution.as_str()).collect();
            insts.sort_unstable();
            insts.dedup();
            let dup = insts.len() > 1;
            for e in group {
                let _ = write!(
                    out,
                    "<tr{}><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    if dup { " class=\"dup\"" } else { "" },
                    esc(&concept(e.res.get("medicationCodeableConcept"))),
                    if dup {
                        format!(
                            " <span class=\"flag\">{}</span>",
                            t(
                                "重複の可能性（同一成分・複数施設）",
                                "possible duplicate: same ingredient from several institutions"
                            )
                        )
                    } else {
                        String::new()
                    },
                    esc(s(&e.res, "dosageInstruction.text")),
                    esc(&day(s(&e.res, "authoredOn"))),
                    esc(&hub.directory.name(&e.institution))
                );
            }
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    // 6. Labs: the latest value per item, each with its trend.
    let labs = by("lab");
    let _ = write!(
        out,
        "<section aria-labelledby=\"h-lab\"><h2 id=\"h-lab\">{}</h2>",
        t("検査", "Laboratory results")
    );
    if labs.is_empty() {
        out.push_str(&none_recorded(lang));
    } else {
        let mut groups: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
        for e in &labs {
            groups.entry(e.code_key.as_str()).or_default().push(e);
        }
        let _ = write!(
            out,
            "<table class=\"labs\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            t("項目", "Test"),
            t("最新値", "Latest"),
            t("基準範囲", "Reference range"),
            t("検査日", "Date"),
            t("推移", "Trend")
        );
        for group in groups.values_mut() {
            group
                .sort_by(|a, b| s(&b.res, "effectiveDateTime").cmp(s(&a.res, "effectiveDateTime")));
            let latest = group[0];
            let name = concept(latest.res.get("code"));
            let unit = s(&latest.res, "valueQuantity.unit").to_string();
            let value = number(first(&latest.res, "valueQuantity.value"));
            let low = number(first(&latest.res, "referenceRange.low.value"));
            let high = number(first(&latest.res, "referenceRange.high.value"));
            let flag = match s(&latest.res, "interpretation.coding.code") {
                "H" | "HH" => Some(("H", t("高値", "high"))),
                "L" | "LL" => Some(("L", t("低値", "low"))),
                _ => match (value, low, high) {
                    (Some(v), _, Some(h)) if v > h => Some(("H", t("高値", "high"))),
                    (Some(v), Some(l), _) if v < l => Some(("L", t("低値", "low"))),
                    _ => None,
                },
            };
            let shown = value.map_or_else(
                || s(&latest.res, "valueString").to_string(),
                |v| format!("{v} {unit}"),
            );
            let points: Vec<Point> = group
                .iter()
                .filter_map(|e| {
                    Some(Point {
                        date: s(&e.res, "effectiveDateTime").to_string(),
                        value: number(first(&e.res, "valueQuantity.value"))?,
                        source: hub.directory.name(&e.institution),
                    })
                })
                .collect();
            let range = match (low, high) {
                (Some(l), Some(h)) => format!("{l}–{h} {unit}"),
                _ => "—".into(),
            };
            let _ = write!(
                out,
                "<tr{}><th scope=\"row\">{}</th><td>{}{}</td><td>{}</td><td>{} <span class=\"src\">{}</span></td><td><details><summary>{} ({})</summary>{}</details></td></tr>",
                if flag.is_some() { " class=\"abn\"" } else { "" },
                esc(&name),
                esc(&shown),
                flag.map(|(m, w)| format!(" <span class=\"hl\">{m}</span> <span class=\"sr\">{}</span>", esc(w))).unwrap_or_default(),
                esc(&range),
                esc(&day(s(&latest.res, "effectiveDateTime"))),
                esc(&hub.directory.name(&latest.institution)),
                t("グラフ", "Chart"),
                points.len(),
                trend(&name, &unit, &points, low, high)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}

/// Age in whole years on the day `today` (a day number) of someone born on `birth`
/// (`YYYY-MM-DD`): the year difference, less one before the birthday (29 February counts as
/// 1 March in other years).
fn age_on(birth: &str, today: i64) -> Option<i64> {
    app::dates::day_number(birth)?;
    let y: i64 = birth.get(..4)?.parse().ok()?;
    let m: u32 = birth.get(5..7)?.parse().ok()?;
    let d: u32 = birth.get(8..10)?.parse().ok()?;
    let (ty, tm, td) = store::civil_from_days(today);
    let (m, d) =
        if (m, d) == (2, 29) && store::civil_from_days(store::days_from_civil(ty, 2, 29)).1 != 2 {
            (3, 1)
        } else {
            (m, d)
        };
    Some(ty - y - i64::from((tm, td) < (m, d)))
}

fn patient_banner(
    out: &mut String,
    patient: &[u8],
    member: &str,
    basis: Option<Basis>,
    lang: Lang,
    today: i64,
) {
    let t = |ja, en| lang.t(ja, en);
    let p =
        fhir::json::parse_members(patient, &["name", "birthDate", "gender"]).unwrap_or(Value::Null);
    let names = p.get("name").map(Value::items).unwrap_or_default();
    let name_of = |rep: &str| {
        names
            .iter()
            .find(|n| {
                n.get("extension")
                    .map(Value::items)
                    .unwrap_or_default()
                    .iter()
                    .any(|x| x.get("valueCode").and_then(Value::as_str) == Some(rep))
            })
            .and_then(|n| n.get("text").and_then(Value::as_str))
            .unwrap_or("")
            .to_string()
    };
    let kanji = name_of("IDE");
    let kana = name_of("SYL");
    let kanji = if kanji.is_empty() {
        names
            .first()
            .and_then(|n| n.get("text").and_then(Value::as_str))
            .unwrap_or("")
            .to_string()
    } else {
        kanji
    };
    let birth = s(&p, "birthDate");
    let age = age_on(birth, today);
    let sex = match s(&p, "gender") {
        "male" => t("男性", "male"),
        "female" => t("女性", "female"),
        _ => t("性別不明", "sex unknown"),
    };
    let state = match basis {
        Some(Basis::Consent) => t("閲覧同意あり", "Viewing consent granted"),
        Some(Basis::Emergency) => t("救急時閲覧", "Emergency access"),
        Some(Basis::Disaster) => t("災害時閲覧", "Disaster access"),
        Some(Basis::Submitter) => t("自施設の登録のみ", "Own institution's records"),
        Some(Basis::Own) => t("ご本人", "Own record"),
        _ => "",
    };
    let _ = write!(
        out,
        "<section class=\"banner\" aria-label=\"{}\"><p class=\"name\"><span lang=\"ja\">{}</span> <span class=\"kana\" lang=\"ja\">{}</span></p>\
         <p>{} · {} {} ({}) · {} <span class=\"mono\">{}</span> · <strong>{}</strong></p></section>",
        t("患者", "Patient"),
        esc(&kanji),
        esc(&kana),
        esc(sex),
        t("生年月日", "born"),
        esc(&day(birth)),
        age.map_or_else(String::new, |a| format!("{a}{}", t("歳", " y"))),
        t("被保険者番号", "Member id"),
        esc(member),
        esc(state)
    );
}

/// The elements of a stored resource the page shows (the rest — narrative, contained
/// resources, extensions — is skipped unparsed).
const SHOWN: &[&str] = &[
    "category",
    "code",
    "criticality",
    "reaction",
    "clinicalStatus",
    "verificationStatus",
    "onsetDateTime",
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "interpretation",
    "referenceRange",
    "effectiveDateTime",
    "medicationCodeableConcept",
    "dosageInstruction",
    "authoredOn",
];

/// Parses the stored entries of a summary.
fn entries(s: &app::read::Summary) -> Vec<Entry> {
    s.entries
        .iter()
        .map(|(r, mark)| Entry {
            item: r.item.clone(),
            code_key: r.code_key.clone(),
            institution: r.institution.clone(),
            registered: r.registered_at.clone(),
            flags: r.flags,
            mark: *mark,
            res: fhir::json::parse_members(&r.body, SHOWN).unwrap_or(Value::Null),
        })
        .collect()
}

/// The body of a patient's summary page (banner and sections), for the viewer and the portal.
pub fn summary_body(
    hub: &app::Hub,
    s: &app::read::Summary,
    lang: Lang,
    patient_view: bool,
) -> String {
    let mut out = String::with_capacity(32 * 1024);
    patient_banner(
        &mut out,
        &s.patient.1,
        &s.member_id,
        s.basis,
        lang,
        hub.clock.today(),
    );
    sections(&mut out, hub, &entries(s), lang, patient_view);
    out
}

/// `GET /viewer/patient?member=…`: the consent state first; the summary when it may be shown.
pub async fn patient(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    web: Web,
    RawQuery(q): RawQuery,
) -> Response {
    let raw = crate::query_pairs(&q)
        .into_iter()
        .find(|(k, _)| k == "member")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let member = match clins::InsuranceMemberId::parse_key(raw.trim()) {
        Ok(m) => m.normalized(),
        Err(e) => {
            let mut p = web.page(web.t("患者検索", "Patient lookup"));
            p.status = StatusCode::BAD_REQUEST;
            p.h(1, web.t("患者検索", "Patient lookup"));
            p.w(&note(
                "error",
                if web.lang == Lang::Ja { &e.ja } else { &e.en },
            ));
            let f = lookup_form(&web, &raw);
            p.w(&f);
            return p.finish();
        }
    };
    if let Some(a) = &audit {
        a.patient(&member);
    }
    let h = hub.clone();
    let caller = web.caller_for(&member);
    if let Some(a) = &audit {
        a.caller(&caller, "");
    }
    // One blocking task for the read, the page's body and the audit record: no hand-off
    // between threads on the way.
    let (m, slot, lang) = (member.clone(), audit.clone(), web.lang);
    let result = tokio::task::spawn_blocking(move || {
        let s = app::read::summary(&h, &caller, &PatientRef::Member(m))?;
        if let Some(a) = &slot {
            a.shown(&s.member_id, s.basis, &s.entries);
        }
        let mut body = summary_body(&h, &s, lang, false);
        let docs = super::documents::of_summary(&h, &caller, &s, lang, super::Area::Viewer);
        let _ = write!(
            body,
            "<section aria-labelledby=\"h-docs\"><h2 id=\"h-docs\">{}</h2>{docs}</section>",
            lang.t("文書", "Documents"),
        );
        // Durable before the page leaves; a record that cannot be written withholds it.
        match &slot {
            Some(a) if a.commit(&h, 200).is_err() => Ok::<_, app::Refusal>(None),
            _ => Ok(Some(body)),
        }
    })
    .await;
    let title = web.t("患者情報", "Patient summary");
    match result {
        Ok(Ok(Some(body))) => {
            let mut p = web.page(title);
            p.h(1, title);
            p.w(&body);
            p.finish()
        }
        Ok(Err(r)) => {
            // The same status as the API's answer; the page says what to do.
            let mut p = web.page(title);
            p.status = crate::http::status_of(r.why);
            p.h(1, title);
            let _ = write!(
                p.body,
                "<section class=\"card\"><h2>{}</h2><p>{}</p><p>{}</p>",
                web.t("閲覧できません", "Cannot be shown"),
                esc(&super::words(&r, web.lang)),
                web.t(
                    "閲覧同意がない場合: 患者さんにマイナ保険証でカードリーダーから同意していただくか、マイナポータルで同意を登録していただいてください。",
                    "Without a viewing consent: ask the patient to consent at the card reader with their My Number insurance card, or in the patient portal."
                ),
            );
            if hub.demo.get().is_some() {
                let _ = write!(
                    p.body,
                    "<form method=\"post\" action=\"/viewer/consent\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"member\" value=\"{}\">\
                     <button type=\"submit\">{}</button></form>",
                    esc(&web.csrf),
                    esc(&member),
                    web.t("（デモ）カードリーダーで同意を記録", "(Demo) Record the patient's consent at the card reader")
                );
            }
            p.w("</section>");
            if web.may_break_glass() && web.emergency.as_ref().is_none_or(|e| e.2 != member) {
                let _ = write!(
                    p.body,
                    "<section class=\"card\" aria-labelledby=\"h-er\"><h2 id=\"h-er\">{}</h2><p>{}</p>\
                     <form method=\"post\" action=\"/viewer/emergency\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"member\" value=\"{}\">\
                     <label for=\"reason\">{}</label><input type=\"text\" id=\"reason\" name=\"reason\" required maxlength=\"200\">\
                     <label for=\"er-totp\">{}</label><input type=\"text\" id=\"er-totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required pattern=\"[0-9]{{6}}\">\
                     <button type=\"submit\" class=\"danger-button\">{}</button></form></section>",
                    web.t("救急時閲覧", "Emergency access"),
                    web.t(
                        "意識障害などで同意が得られない場合に限り、理由を記録して閲覧できます。閲覧は患者さんのアクセス履歴に「救急時」と表示されます。",
                        "Only when consent cannot be obtained (e.g. the patient is unconscious): the reason is recorded, and the access is shown to the patient as an emergency access."
                    ),
                    esc(&web.csrf),
                    esc(&member),
                    web.t("理由", "Reason"),
                    web.t("ワンタイムコード（再確認）", "One-time code (asked again)"),
                    web.t("救急時閲覧を開始", "Start emergency access")
                );
            }
            let f = lookup_form(&web, &raw);
            p.w(&f);
            p.finish()
        }
        Ok(Ok(None)) | Err(_) => {
            let mut p = web.page(title);
            p.status = StatusCode::SERVICE_UNAVAILABLE;
            p.w(&note(
                "error",
                web.t(
                    "一時的に表示できません。再度お試しください。",
                    "Temporarily unavailable: try again.",
                ),
            ));
            p.finish()
        }
    }
}

/// `POST /viewer/consent` (demo only): the qualification-service stand-in records the
/// patient's card consent for the signed-in staff's institution, then the summary opens.
pub async fn card_consent(
    State(hub): State<AppState>,
    audit: Option<Extension<Slot>>,
    posted: Posted,
) -> Response {
    let web = &posted.web;
    let member = posted.form.get("member").to_string();
    let Some(institution) = web.caller.institution().map(str::to_string) else {
        return see_other("/viewer");
    };
    if hub.demo.get().is_none() {
        return see_other("/viewer");
    }
    let consent = format!(
        "{{\"resourceType\":\"Consent\",\"status\":\"active\",\"patient\":{{\"identifier\":{{\"value\":{}}}}},\"provision\":{{\"actor\":[{{\"reference\":{{\"identifier\":{{\"value\":{}}}}}}}]}}}}",
        fhir::json::to_string(&Value::string(member.clone())),
        fhir::json::to_string(&Value::string(institution))
    );
    let h = hub.clone();
    let record = audit.as_ref().map(|a| a.template(&hub, 201));
    let done = tokio::task::spawn_blocking(move || {
        let v = fhir::json::parse_bytes(consent.as_bytes()).map_err(|e| e.to_string())?;
        let qs = app::Caller::new(clins::policy::Principal::QualificationService);
        app::consent::post(&h.store, &qs, &v, &h.clock.now(), h.consent_hours, record)
            .map_err(|e| super::words(&e, Lang::En))
    })
    .await;
    match done {
        Ok(Ok(_)) => {
            if let Some(a) = &audit {
                a.recorded();
            }
            see_other(&format!(
                "/viewer/patient?member={}",
                crate::percent_encode(&member)
            ))
        }
        Ok(Err(e)) => super::refused(
            web,
            web.t("同意を記録できません", "The consent was not recorded"),
            &app::Refusal::bad_request("CONSENT-FORM", "", e.clone(), e),
        ),
        Err(_) => see_other("/viewer"),
    }
}

/// `POST /viewer/emergency`: reason and a fresh one-time code start emergency access in the
/// session; then the patient's page.
pub async fn emergency(State(hub): State<AppState>, posted: Posted) -> Response {
    let web = &posted.web;
    let member = posted.form.get("member").to_string();
    let (reason, totp) = (
        posted.form.get("reason").to_string(),
        posted.form.get("totp").to_string(),
    );
    let (h, cookie, m) = (hub.clone(), web.cookie.clone(), member.clone());
    let done = tokio::task::spawn_blocking(move || {
        app::auth::people::start_emergency(&h.store, &cookie, &m, &reason, &totp, &h.clock.now())
    })
    .await;
    match done {
        Ok(Ok(())) => see_other(&format!(
            "/viewer/patient?member={}",
            crate::percent_encode(&member)
        )),
        Ok(Err(r)) => super::refused(web, web.t("救急時閲覧", "Emergency access"), &r),
        Err(_) => see_other("/viewer"),
    }
}

/// `POST /viewer/emergency/end`: ends emergency access.
pub async fn end_emergency(State(hub): State<AppState>, posted: Posted) -> Response {
    let (h, cookie) = (hub.clone(), posted.web.cookie.clone());
    let _ =
        tokio::task::spawn_blocking(move || app::auth::people::end_emergency(&h.store, &cookie))
            .await;
    see_other("/viewer")
}

#[cfg(test)]
mod tests {
    use super::age_on;

    fn day(s: &str) -> i64 {
        app::dates::day_number(s).unwrap()
    }

    #[test]
    fn age_counts_whole_years_and_the_birthday_itself() {
        assert_eq!(age_on("2000-03-01", day("2026-03-01")), Some(26));
        assert_eq!(age_on("2000-03-01", day("2026-02-28")), Some(25));
        assert_eq!(age_on("2004-02-29", day("2026-02-28")), Some(21));
        assert_eq!(age_on("2004-02-29", day("2026-03-01")), Some(22));
        assert_eq!(age_on("2004-02-29", day("2028-02-28")), Some(23));
        assert_eq!(age_on("2004-02-29", day("2028-02-29")), Some(24));
        assert_eq!(age_on("1936-12-31", day("2026-12-30")), Some(89));
        assert_eq!(age_on("1936-12-31", day("2026-12-31")), Some(90));
        assert_eq!(age_on("", day("2026-03-01")), None);
    }
}
