//! The start page (`/`): what clins-hub is, and in a demo the one-click sign-ins.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use app::auth::people::{self, Person};

use super::html::{esc, see_other};
use super::{lang_of, plain, with_session, Form};
use crate::AppState;

/// `GET /`.
pub async fn home(State(hub): State<AppState>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    let t = |ja, en| lang.t(ja, en);
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>clins-hub</h1><p class=\"lead\">{}</p>",
        t(
            "電子カルテ情報共有サービスのオープンな実装です。医療機関が登録した3文書6情報（傷病名・アレルギー・薬剤禁忌・検査・感染症・処方）を、患者さんの同意のもとで他の医療機関・薬局・ご本人と共有し、すべての閲覧を記録します。",
            "An open implementation of Japan's EMR information sharing service: institutions submit 3 documents and 6 items (diagnoses, allergies, drug contraindications, labs, infections, prescriptions); the hub shares them, under the patient's consent, with other institutions, pharmacies and the patient, and records every access."
        )
    );
    if let Some(demo) = hub.demo.get() {
        let _ = write!(
            b,
            "<section class=\"card\"><h2>{}</h2><p>{}</p><ul class=\"demo\">",
            t("デモにサインイン", "Sign in to the demo"),
            t(
                "合成データ（実在しない患者）で動いています。ボタン一つで次の立場でサインインできます（デモのみ: 本番ではパスワードとワンタイムコードが必要です）。",
                "Synthetic data (no real patients). One click signs you in as one of these people (demo only: a real sign-in takes a password and a one-time code)."
            )
        );
        for (who, ja, en, area) in [
            (
                "doctor",
                "病院の医師（救急時閲覧の権限あり）",
                "Hospital doctor (with the emergency privilege)",
                "viewer",
            ),
            ("pharmacist", "薬局の薬剤師", "Pharmacist", "viewer"),
            (
                "patient",
                "患者（マイナポータルの代わり）",
                "Patient (the portal)",
                "portal",
            ),
            (
                "operator",
                "運用者（管理コンソール）",
                "Operator (console)",
                "admin",
            ),
        ] {
            let _ = write!(
                b,
                "<li><form method=\"post\" action=\"/demo/signin/{who}\"><button type=\"submit\">{}</button></form> <span class=\"hint\">/{area}</span></li>",
                esc(t(ja, en))
            );
        }
        let _ = write!(
            b,
            "</ul><h3>{}</h3><ol><li>{}</li><li>{}</li><li>{}</li><li>{}</li></ol><p>{} <span class=\"mono\">{}</span></p></section>",
            t("おすすめの順序", "A suggested tour"),
            t("医師でサインインし、下の被保険者番号で患者を検索します（まだ同意がありません）。", "Sign in as the doctor and look up the patient below (no consent yet)."),
            t("「カードリーダーで同意を記録」を押すと、患者サマリーが表示されます。", "Press \"Record the patient's consent at the card reader\": the summary opens."),
            t("患者でサインインし、アクセス履歴に医療機関の閲覧が載っていることを確かめ、同意を取り消します。", "Sign in as the patient: the access history shows the institution's view; revoke the consent."),
            t("運用者でサインインし、利用申請と監査ログの状態を確認します。", "Sign in as the operator: applications and the audit trail's state."),
            t("例の患者の被保険者番号:", "The example patient's member id:"),
            esc(&demo.patient)
        );
    } else {
        let _ = write!(
            b,
            "<ul><li><a href=\"/viewer\">{}</a></li><li><a href=\"/portal\">{}</a></li><li><a href=\"/admin\">{}</a></li></ul>",
            t("医療機関・薬局の閲覧", "Viewer for institutions and pharmacies"),
            t("患者ポータル", "Patient portal"),
            t("運用コンソール", "Operator console")
        );
    }
    plain(lang, "clins-hub", "/", StatusCode::OK, b)
}

/// `POST /demo/signin/{who}` (only routed in a demo): a session for one of the demo's people.
pub async fn demo_signin(
    State(hub): State<AppState>,
    Path(who): Path<String>,
    _form: Form,
) -> Response {
    let Some(demo) = hub.demo.get().cloned() else {
        return see_other("/");
    };
    let (person, to) = match who.as_str() {
        "doctor" => (
            Person::Staff {
                institution: demo.hospital.clone(),
                login: "doctor".into(),
            },
            "/viewer",
        ),
        "pharmacist" => (
            Person::Staff {
                institution: demo.pharmacy.clone(),
                login: "pharmacist".into(),
            },
            "/viewer",
        ),
        "patient" => (
            Person::Patient {
                member_id: demo.patient.clone(),
            },
            "/portal",
        ),
        "operator" => (
            Person::Operator {
                login: demo.operator.clone(),
            },
            "/admin",
        ),
        _ => return see_other("/"),
    };
    let h = hub.clone();
    match tokio::task::spawn_blocking(move || {
        people::demo_session(&h.store, &person, &h.clock.now())
    })
    .await
    {
        Ok(Ok(s)) => with_session(see_other(to), &s.cookie),
        _ => see_other("/"),
    }
}
