//! The operator console: applications to approve, the audit trail's chains, and unusual access
//! to review.

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::html::{day, esc, see_other};
use super::{refused, settled, Posted, Web};
use crate::AppState;

/// `GET /admin`: what waits for the operator.
pub async fn home(State(hub): State<AppState>, web: Web) -> Response {
    let (h, principal) = (hub.clone(), web.caller.principal.clone());
    let caller = web.caller.clone();
    let now = hub.clock.now();
    let data = tokio::task::spawn_blocking(move || {
        let pending = app::auth::applications::list(&h.store, &principal, Some("pending"))?;
        let mut chains = Vec::new();
        for c in h.store.audit_chains() {
            let (seq, head) = h.store.audit_head(c)?;
            let cps = h.store.checkpoints(c)?;
            chains.push((
                c.to_string(),
                seq,
                head,
                cps.last().map(|k| (k.seq, k.at.clone())),
            ));
        }
        let from = app::dates::plus_hours(&now, -24 * 7).unwrap_or_default();
        let findings = app::audit::unusual(&h.store, &caller, &from, &now, Default::default())?;
        let purges = app::purge::runs(&h.store, &caller, 10)?;
        Ok::<_, app::Refusal>((pending, chains, findings, purges))
    })
    .await;
    let title = web.t("運用コンソール", "Operator console");
    let (pending, chains, findings, purges) = match settled(&web, title, data) {
        Ok(v) => v,
        Err(page) => return page,
    };
    let t = |ja, en| web.t(ja, en);
    let mut p = web.page(title);
    p.h(1, title);
    p.w(&nav(&web));
    health(&mut p.body, &web);
    let _ = write!(
        p.body,
        "<section aria-labelledby=\"h-apps\"><h2 id=\"h-apps\">{}</h2>",
        t("承認待ちの利用申請", "Applications waiting for approval")
    );
    if pending.is_empty() {
        let _ = write!(
            p.body,
            "<p class=\"none\">{}</p>",
            t("承認待ちはありません。", "Nothing is waiting.")
        );
    } else {
        let _ = write!(
            p.body,
            "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\"><span class=\"sr\">{}</span></th></tr></thead><tbody>",
            t("名称", "Name"),
            t("種別", "Kind"),
            t("番号", "Number"),
            t("申請日", "Applied"),
            t("操作", "Action")
        );
        for a in &pending {
            let _ = write!(
                p.body,
                "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td><form method=\"post\" action=\"/admin/approve\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"id\" value=\"{}\"><button type=\"submit\">{} <span class=\"sr\">{}</span></button></form></td></tr>",
                esc(&a.name),
                esc(&a.kind),
                esc(&a.number),
                esc(&day(&a.created_at)),
                esc(&web.csrf),
                esc(&a.app_id),
                t("承認", "Approve"),
                esc(&a.name)
            );
        }
        p.w("</tbody></table>");
    }
    p.w("</section>");
    let _ = write!(p.body, "<section aria-labelledby=\"h-audit\"><h2 id=\"h-audit\">{}</h2><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t("監査ログ", "Audit trail"), t("チェーン", "Chain"), t("記録数", "Records"), t("先頭ハッシュ", "Head"), t("最新の署名付きチェックポイント", "Latest signed checkpoint"));
    for (c, seq, head, cp) in &chains {
        let _ = write!(
            p.body,
            "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}…</td><td>{}</td></tr>",
            esc(c),
            seq,
            esc(head.get(..16).unwrap_or(head)),
            cp.as_ref().map_or_else(
                || t("なし", "none").to_string(),
                |(s, at)| format!("#{s} {}", esc(&day(at)))
            )
        );
    }
    let _ = write!(
        p.body,
        "</tbody></table><p class=\"hint\">{}</p></section>",
        t(
            "改ざんの検査: clins-hub audit verify",
            "To check for tampering: clins-hub audit verify"
        )
    );
    let _ = write!(
        p.body,
        "<section aria-labelledby=\"h-unusual\"><h2 id=\"h-unusual\">{}</h2>",
        t(
            "確認が必要なアクセス（7日間）",
            "Unusual access to review (7 days)"
        )
    );
    if findings.is_empty() {
        let _ = write!(
            p.body,
            "<p class=\"none\">{}</p>",
            t("該当なし", "None found")
        );
    } else {
        p.w("<ul>");
        for f in &findings {
            let _ = write!(
                p.body,
                "<li>{} — {} {} {} ({} {}, {} {})</li>",
                esc(&f.day),
                esc(f.rule),
                esc(&f.institution),
                esc(&f.practitioner),
                t("件数", "count"),
                f.count,
                t("閾値", "threshold"),
                f.threshold
            );
        }
        p.w("</ul>");
    }
    p.w("</section>");
    purge_runs(&mut p.body, &web, &purges);
    p.finish()
}

/// This node's last ten minutes: requests, accepted submissions and server errors per second,
/// and the latency, each as a sparkline with its latest value.
fn health(out: &mut String, web: &Web) {
    let t = |ja, en| web.t(ja, en);
    let recent = crate::metrics::recent();
    let _ = write!(
        out,
        "<section aria-labelledby=\"h-health\"><h2 id=\"h-health\">{}</h2>",
        t(
            "サービスの状態（このノード、直近10分・10秒ごと）",
            "Service health (this node, last 10 minutes, every 10 s)"
        )
    );
    let Some(last) = recent.last() else {
        let _ = write!(
            out,
            "<p class=\"none\">{}</p></section>",
            t(
                "まだ計測値がありません（起動の1秒後から表示されます）。",
                "No measurements yet (shown from a second after the start)."
            )
        );
        return;
    };
    let series = |f: fn(&crate::metrics::Rates) -> f64| recent.iter().map(f).collect::<Vec<f64>>();
    let p99 = last.p99_ms.map_or_else(
        || t("1秒超", "over 1 s").to_string(),
        |ms| format!("≤ {ms} ms"),
    );
    let rows: [(&str, Vec<f64>, String); 4] = [
        (
            t("登録（件/秒）", "Submissions accepted per second"),
            series(|r| r.submissions_per_s),
            format!("{:.1}", last.submissions_per_s),
        ),
        (
            t("リクエスト（件/秒）", "Requests per second"),
            series(|r| r.requests_per_s),
            format!("{:.1}", last.requests_per_s),
        ),
        (
            t("平均応答時間（ms）", "Mean latency (ms)"),
            series(|r| r.mean_ms),
            format!("{:.1} ms (p99 {p99})", last.mean_ms),
        ),
        (
            t(
                "サーバーエラー（5xx 件/秒）",
                "Server errors (5xx) per second",
            ),
            series(|r| r.errors_per_s),
            format!("{:.2}", last.errors_per_s),
        ),
    ];
    out.push_str("<table class=\"health\"><tbody>");
    for (name, values, now) in &rows {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"mono\">{}</td></tr>",
            esc(name),
            super::chart::spark(name, values),
            esc(now)
        );
    }
    out.push_str("</tbody></table></section>");
}

/// The latest purge runs of data past its retention, from their audit records.
fn purge_runs(out: &mut String, web: &Web, runs: &[store::AuditRow]) {
    let t = |ja, en| web.t(ja, en);
    let _ = write!(
        out,
        "<section aria-labelledby=\"h-purge\"><h2 id=\"h-purge\">{}</h2>",
        t(
            "保存期間を過ぎたデータの削除",
            "Purges of data past its retention"
        )
    );
    if runs.is_empty() {
        let _ = write!(
            out,
            "<p class=\"none\">{}</p></section>",
            t(
                "削除の記録はまだありません（1時間ごとに実行）。",
                "No purge recorded yet (one runs every hour)."
            )
        );
        return;
    }
    let _ = write!(
        out,
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t("日時（UTC）", "Time (UTC)"),
        t("実行", "Run by"),
        t("削除した版", "Resource versions deleted"),
        t("期限切れにした文書", "Documents expired")
    );
    for r in runs {
        let count = |k: &str| {
            r.detail
                .split(' ')
                .find_map(|kv| kv.strip_prefix(k))
                .unwrap_or("?")
                .to_string()
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.at.get(..19).unwrap_or(&r.at)),
            esc(&r.request),
            esc(&count("resource-versions=")),
            esc(&count("documents="))
        );
    }
    out.push_str("</tbody></table></section>");
}

/// `POST /admin/approve`: approves an application (its institution and client registered).
pub async fn approve(State(hub): State<AppState>, posted: Posted) -> Response {
    let web = &posted.web;
    let id = posted.form.get("id").to_string();
    let (h, principal) = (hub.clone(), web.caller.principal.clone());
    let done = tokio::task::spawn_blocking(move || {
        app::auth::applications::approve(&h.store, &principal, &id, &h.clock.now())
    })
    .await;
    match done {
        Ok(Ok(_)) => see_other("/admin"),
        Ok(Err(r)) => refused(web, web.t("承認", "Approval"), &r),
        Err(_) => see_other("/admin"),
    }
}

fn nav(web: &Web) -> String {
    format!(
        "<nav class=\"tabs\" aria-label=\"{}\"><a href=\"/admin\">{}</a><a href=\"/admin/registry\">{}</a><a href=\"/admin/usage\">{}</a><a href=\"/admin/disasters\">{}</a></nav>",
        web.t("運用コンソール", "Console"),
        web.t("概要", "Overview"),
        web.t("登録機関", "Registry"),
        web.t("利用状況", "Usage"),
        web.t("災害時の宣言", "Disasters")
    )
}

fn query_value(q: &Option<String>, key: &str) -> String {
    crate::query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// `GET /admin/registry?q=`: registered institutions matching a number or a part of the name
/// (at most 100 shown), each with disable or enable.
pub async fn registry(State(hub): State<AppState>, web: Web, RawQuery(q): RawQuery) -> Response {
    let needle = query_value(&q, "q").trim().to_string();
    let (h, principal) = (hub.clone(), web.caller.principal.clone());
    let n2 = needle.clone();
    let done = tokio::task::spawn_blocking(move || {
        let all = app::registry::list(&h.store, &principal)?;
        let total = all.len();
        let shown: Vec<_> = all
            .into_iter()
            .filter(|i| n2.is_empty() || i.number.starts_with(&n2) || i.name.contains(&n2))
            .take(100)
            .collect();
        Ok::<_, app::Refusal>((total, shown))
    })
    .await;
    let title = web.t("登録機関", "Registry");
    let (total, shown) = match settled(&web, title, done) {
        Ok(v) => v,
        Err(page) => return page,
    };
    let t = |ja, en| web.t(ja, en);
    let mut p = web.page(title);
    p.h(1, title);
    p.w(&nav(&web));
    let _ = write!(
        p.body,
        "<form method=\"get\" action=\"/admin/registry\" role=\"search\"><label for=\"rq\">{}</label><input type=\"text\" id=\"rq\" name=\"q\" value=\"{}\"><button type=\"submit\">{}</button></form><p>{} {total}{}</p>",
        t("番号（先頭）または名称の一部", "Number (its start) or part of the name"),
        esc(&needle),
        t("検索", "Search"),
        t("登録数", "Registered:"),
        t("（最大100件表示）", " (at most 100 shown)")
    );
    let _ = write!(
        p.body,
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\"><span class=\"sr\">{}</span></th></tr></thead><tbody>",
        t("番号", "Number"),
        t("名称", "Name"),
        t("種別", "Kind"),
        t("状態", "State"),
        t("操作", "Action")
    );
    for i in &shown {
        let (state, verb, label) = if i.enabled {
            (t("利用中", "enabled"), "disable", t("停止", "Disable"))
        } else {
            (t("停止中", "disabled"), "enable", t("再開", "Enable"))
        };
        let _ = write!(
            p.body,
            "<tr{}><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td><form method=\"post\" action=\"/admin/institution\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"number\" value=\"{}\"><input type=\"hidden\" name=\"verb\" value=\"{verb}\"><button type=\"submit\" class=\"danger-button\">{} <span class=\"sr\">{}</span></button></form></td></tr>",
            if i.enabled { "" } else { " class=\"past\"" },
            esc(&i.number),
            esc(&i.name),
            esc(&i.kind),
            esc(state),
            esc(&web.csrf),
            esc(&i.number),
            esc(label),
            esc(&i.name)
        );
    }
    p.w("</tbody></table>");
    p.finish()
}

/// `POST /admin/institution`: disables or enables an institution (at once on this node).
pub async fn institution(State(hub): State<AppState>, posted: Posted) -> Response {
    let web = &posted.web;
    let number = posted.form.get("number").trim().to_string();
    let enabled = posted.form.get("verb") == "enable";
    let (h, principal) = (hub.clone(), web.caller.principal.clone());
    let n2 = number.clone();
    let done = tokio::task::spawn_blocking(move || {
        app::registry::set_enabled(&h.store, &principal, &n2, enabled, &h.clock.now())?;
        h.directory.invalidate(&n2);
        Ok::<_, app::Refusal>(())
    })
    .await;
    match done {
        Ok(Ok(())) => see_other(&format!(
            "/admin/registry?q={}",
            crate::percent_encode(&number)
        )),
        Ok(Err(r)) => refused(web, web.t("登録機関", "Registry"), &r),
        Err(_) => see_other("/admin/registry"),
    }
}

/// `GET /admin/usage?month=YYYY-MM`: the usage report per institution (as `clins-hub audit
/// report --month`).
pub async fn usage(State(hub): State<AppState>, web: Web, RawQuery(q): RawQuery) -> Response {
    let asked = query_value(&q, "month");
    let month = if asked.len() == 7
        && asked.bytes().enumerate().all(|(i, b)| {
            if i == 4 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        }) {
        asked
    } else {
        hub.clock.now().get(..7).unwrap_or("").to_string()
    };
    let (h, m2) = (hub.clone(), month.clone());
    let done = tokio::task::spawn_blocking(move || app::audit::usage(&h.store, &m2)).await;
    let title = web.t("利用状況", "Usage");
    let rows = match settled(&web, title, done) {
        Ok(v) => v,
        Err(page) => return page,
    };
    let t = |ja, en| web.t(ja, en);
    let mut p = web.page(title);
    p.h(1, title);
    p.w(&nav(&web));
    let _ = write!(
        p.body,
        "<form method=\"get\" action=\"/admin/usage\"><label for=\"um\">{}</label><input type=\"month\" id=\"um\" name=\"month\" value=\"{}\"><button type=\"submit\">{}</button></form>",
        t("月", "Month"),
        esc(&month),
        t("表示", "Show")
    );
    let _ = write!(
        p.body,
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t("医療機関", "Institution"),
        t("登録（種類別）", "Submissions by kind"),
        t("閲覧", "Views"),
        t("同意", "Consents"),
        t("救急時", "Emergency"),
        t("災害時", "Disaster"),
        t("拒否", "Refused")
    );
    if rows.is_empty() {
        let _ = write!(
            p.body,
            "<tr><td colspan=\"7\" class=\"none\">{}</td></tr>",
            t("この月の利用はありません", "No use in this month")
        );
    }
    for u in &rows {
        let subs = u
            .submissions
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            p.body,
            "<tr><td>{} <span class=\"mono src\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&hub.directory.name(&u.institution)),
            esc(&u.institution),
            esc(&subs),
            u.views,
            u.consents,
            u.emergency,
            u.disaster,
            u.refused
        );
    }
    p.w("</tbody></table>");
    p.finish()
}

/// `GET /admin/disasters`: declarations (ongoing and past) and the form to declare one.
pub async fn disasters(State(hub): State<AppState>, web: Web) -> Response {
    let (h, caller) = (hub.clone(), web.caller.clone());
    let done = tokio::task::spawn_blocking(move || app::disaster::list(&h.store, &caller)).await;
    let title = web.t("災害時の宣言", "Disaster declarations");
    let rows = match settled(&web, title, done) {
        Ok(v) => v,
        Err(page) => return page,
    };
    let t = |ja, en| web.t(ja, en);
    let now = hub.clock.now();
    let mut p = web.page(title);
    p.h(1, title);
    p.w(&nav(&web));
    let _ = write!(
        p.body,
        "<form method=\"post\" action=\"/admin/disaster\" class=\"card\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"d-from\">{}</label><input type=\"date\" id=\"d-from\" name=\"from\" required>\
         <label for=\"d-to\">{}</label><input type=\"date\" id=\"d-to\" name=\"to\" required>\
         <label for=\"d-pref\">{}</label><input type=\"text\" id=\"d-pref\" name=\"prefectures\" inputmode=\"numeric\" aria-describedby=\"d-hint\">\
         <label for=\"d-inst\">{}</label><input type=\"text\" id=\"d-inst\" name=\"institutions\" inputmode=\"numeric\" aria-describedby=\"d-hint\">\
         <p class=\"hint\" id=\"d-hint\">{}</p><button type=\"submit\" class=\"danger-button\">{}</button></form>",
        esc(&web.csrf),
        t("開始日（日本時間）", "From (day in Japan)"),
        t("終了日（この日を含む）", "To (this day included)"),
        t("都道府県番号（1〜47、カンマ区切り）", "Prefecture numbers (1–47, comma-separated)"),
        t("医療機関番号（カンマ区切り）", "Institution numbers (comma-separated)"),
        t(
            "宣言の範囲内の医療機関は、同意がなくても4情報で患者を特定して閲覧できます。閲覧は患者に「災害時」と表示されます。",
            "Institutions covered may identify patients by the 4 items and view them without consent; the patient sees such access as a disaster access."
        ),
        t("宣言する", "Declare")
    );
    let _ = write!(
        p.body,
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\"><span class=\"sr\">{}</span></th></tr></thead><tbody>",
        t("期間", "Period"),
        t("対象", "Covers"),
        t("状態", "State"),
        t("操作", "Action")
    );
    if rows.is_empty() {
        let _ = write!(
            p.body,
            "<tr><td colspan=\"4\" class=\"none\">{}</td></tr>",
            t("宣言はありません", "No declarations")
        );
    }
    for d in &rows {
        let live = d.ended_at.is_none() && d.end.as_str() > now.as_str();
        let covers = d
            .prefectures
            .iter()
            .map(|p| format!("{}{p}", t("都道府県 ", "prefecture ")))
            .chain(d.institutions.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            p.body,
            "<tr{}><td>{} – {} UTC</td><td>{}</td><td>{}</td><td>",
            if live { "" } else { " class=\"past\"" },
            esc(&d.start.get(..16).unwrap_or(&d.start).replace('T', " ")),
            esc(&d.end.get(..16).unwrap_or(&d.end).replace('T', " ")),
            esc(&covers),
            if live {
                t("有効", "in effect")
            } else {
                t("終了", "ended")
            }
        );
        if live {
            let _ = write!(
                p.body,
                "<form method=\"post\" action=\"/admin/disaster/end\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"id\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                esc(&web.csrf),
                esc(&d.disaster_id),
                t("終了する", "End")
            );
        }
        p.w("</td></tr>");
    }
    p.w("</tbody></table>");
    p.finish()
}

fn list_of(s: &str) -> Vec<String> {
    s.split([',', '、', ' '])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// `POST /admin/disaster`: declares a disaster (period, prefectures and/or institutions).
pub async fn declare(State(hub): State<AppState>, posted: Posted) -> Response {
    let web = &posted.web;
    let f = &posted.form;
    let prefectures: Result<Vec<u8>, _> = list_of(f.get("prefectures"))
        .iter()
        .map(|p| p.parse::<u8>())
        .collect();
    let Ok(prefectures) = prefectures else {
        return refused(
            web,
            web.t("災害時の宣言", "Disaster declarations"),
            &app::Refusal::bad_request(
                "DISASTER-COVER",
                "prefecture",
                "prefecture numbers are 1–47",
                "都道府県番号は1〜47です",
            ),
        );
    };
    // The form's dates are days in Japan, both included.
    let day_at = |d: &str, time: &str| {
        if d.len() == 10 {
            format!("{d}T{time}+09:00")
        } else {
            d.to_string()
        }
    };
    let d = app::disaster::Declaration {
        from: day_at(f.get("from"), "00:00:00"),
        to: day_at(f.get("to"), "23:59:59"),
        prefectures,
        institutions: list_of(f.get("institutions")),
    };
    let (h, caller) = (hub.clone(), web.caller.clone());
    let done = tokio::task::spawn_blocking(move || {
        app::disaster::declare(&h.store, &caller, &d, &h.clock.now())
    })
    .await;
    match done {
        Ok(Ok(_)) => see_other("/admin/disasters"),
        Ok(Err(r)) => refused(web, web.t("災害時の宣言", "Disaster declarations"), &r),
        Err(_) => see_other("/admin/disasters"),
    }
}

/// `POST /admin/disaster/end`: ends a declaration now.
pub async fn end_disaster(State(hub): State<AppState>, posted: Posted) -> Response {
    let web = &posted.web;
    let id = posted.form.get("id").to_string();
    let (h, caller) = (hub.clone(), web.caller.clone());
    let done = tokio::task::spawn_blocking(move || {
        app::disaster::end(&h.store, &caller, &id, &h.clock.now())
    })
    .await;
    match done {
        Ok(Ok(())) => see_other("/admin/disasters"),
        Ok(Err(r)) => refused(web, web.t("災害時の宣言", "Disaster declarations"), &r),
        Err(_) => see_other("/admin/disasters"),
    }
}
