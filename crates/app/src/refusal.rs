//! `Refusal`: why a use case did not do what was asked, as issues (the one error currency,
//! `fhir::outcome`) and a kind the HTTP edge maps to one status (docs/access.md).

use clins::policy::{Denial, EmergencyProblem};
use fhir::outcome::{Issue, IssueType, Severity};

/// What kind of refusal, independent of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The request is malformed (400).
    BadRequest,
    /// No or invalid credentials (401).
    Unauthenticated,
    /// The caller may not (403).
    Forbidden,
    /// Does not exist, or the caller may not know it exists (404).
    NotFound,
    /// Conflicts with the stored state, or is ambiguous (409).
    Conflict,
    /// Deleted, cancelled or expired (410).
    Gone,
    /// Valid syntax, invalid content (422).
    Invalid,
    /// Over the size limit (413).
    TooLarge,
    /// The store is not available (503).
    Unavailable,
    /// The store's disk is full (507).
    Full,
    /// A failure of the hub itself (500).
    Internal,
}

impl Why {
    /// A short label for reports (`clins-hub import`).
    pub fn label(self) -> &'static str {
        match self {
            Why::BadRequest => "malformed",
            Why::Unauthenticated => "not authenticated",
            Why::Forbidden => "not permitted",
            Why::NotFound => "not found",
            Why::Conflict => "conflict",
            Why::Gone => "gone",
            Why::Invalid => "invalid",
            Why::TooLarge => "too large",
            Why::Unavailable => "store unavailable",
            Why::Full => "storage full",
            Why::Internal => "internal error",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Refusal {
    pub why: Why,
    pub issues: Vec<Issue>,
}

impl Refusal {
    pub fn new(
        why: Why,
        code: IssueType,
        detail: &'static str,
        expression: &str,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) -> Refusal {
        let severity = if matches!(why, Why::Internal | Why::Unavailable) {
            Severity::Fatal
        } else {
            Severity::Error
        };
        Refusal {
            why,
            issues: vec![Issue::new(severity, code, detail, expression, en, ja)],
        }
    }
    pub fn bad_request(
        detail: &'static str,
        expression: &str,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) -> Refusal {
        Refusal::new(
            Why::BadRequest,
            IssueType::Invalid,
            detail,
            expression,
            en,
            ja,
        )
    }
    pub fn not_found(what: &str) -> Refusal {
        Refusal::new(
            Why::NotFound,
            IssueType::NotFound,
            "NOT-FOUND",
            "",
            format!("{what} does not exist"),
            format!("{what} は存在しません"),
        )
    }
    pub fn forbidden(
        detail: &'static str,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) -> Refusal {
        Refusal::new(Why::Forbidden, IssueType::Forbidden, detail, "", en, ja)
    }
    pub fn gone(what: &str) -> Refusal {
        Refusal::new(
            Why::Gone,
            IssueType::Deleted,
            "DELETED",
            "",
            format!("{what} was deleted, cancelled or has expired"),
            format!("{what} は削除・取消済み、または保存期間を過ぎています"),
        )
    }
    pub fn internal(en: impl std::fmt::Display) -> Refusal {
        Refusal::new(
            Why::Internal,
            IssueType::Exception,
            "INTERNAL",
            "",
            format!("internal error: {en}; nothing was stored"),
            "サーバー内部でエラーが発生しました。何も保存されていません",
        )
    }
    pub fn unavailable(en: impl std::fmt::Display) -> Refusal {
        Refusal::new(
            Why::Unavailable,
            IssueType::Transient,
            "STORE-UNAVAILABLE",
            "",
            format!("the store is not available: {en}; nothing was stored, retry later"),
            "データベースに接続できません。何も保存されていません。時間をおいて再送してください",
        )
    }

    /// The store's disk is full: nothing was stored (507).
    pub fn full() -> Refusal {
        Refusal::new(
            Why::Full,
            IssueType::Exception,
            "STORE-FULL",
            "",
            "the hub's storage is full; nothing was stored: retry later (the operator has been alerted in the log)",
            "ハブの記憶領域が不足しています。何も保存されていません。時間をおいて再送してください",
        )
    }

    /// The refusal of a policy denial; `what` names the thing asked for (for a 404 that reads
    /// exactly like the one of a thing that does not exist).
    pub fn denied(d: Denial, what: &str) -> Refusal {
        match d {
            Denial::Hidden => Refusal::not_found(what),
            Denial::Gone => Refusal::gone(what),
            Denial::NoConsent => Refusal::forbidden(
                "CONSENT-REQUIRED",
                "the patient has not granted your institution viewing consent (or it has expired or was revoked): ask the patient to consent at the card reader or in the portal",
                "この患者から貴機関への閲覧同意がありません（期限切れ・撤回を含む）。顔認証付きカードリーダーまたはポータルで同意を得てください",
            ),
            Denial::WrongRole => Refusal::forbidden(
                "ROLE-NOT-PERMITTED",
                "your role may not do this",
                "この操作は許可されていません",
            ),
            Denial::Held => Refusal::forbidden(
                "REFERRAL-HELD",
                "the referral (or the referral this document is attached to) is held (閲覧保留) until the patient consents to viewing",
                "この診療情報提供書（またはこの文書を添付した診療情報提供書）は閲覧保留中です。患者の閲覧同意後に取得できます",
            ),
            Denial::Emergency(p) => {
                let (detail, en, ja) = match p {
                    EmergencyProblem::NotHospital => (
                        "EMERGENCY-NOT-HOSPITAL",
                        "emergency access (ETREAT) is for hospitals only",
                        "救急時閲覧（ETREAT）は病院のみ利用できます",
                    ),
                    EmergencyProblem::NoPrivilege => (
                        "EMERGENCY-NO-PRIVILEGE",
                        "emergency access (ETREAT) needs a practitioner with the emergency privilege",
                        "救急時閲覧（ETREAT）には救急時閲覧権限を持つ医師が必要です",
                    ),
                    EmergencyProblem::NoTwoFactor => (
                        "EMERGENCY-NO-2FA",
                        "emergency access (ETREAT) needs a two-factor sign-in",
                        "救急時閲覧（ETREAT）には二要素認証でのログインが必要です",
                    ),
                    EmergencyProblem::NotCovered => (
                        "EMERGENCY-NOT-COVERED",
                        "emergency access (ETREAT) covers the 6情報 only; checkup reports need viewing consent",
                        "救急時閲覧（ETREAT）の対象は6情報のみです。健診結果には閲覧同意が必要です",
                    ),
                };
                Refusal::forbidden(detail, en, ja)
            }
        }
    }
}

/// A request body as JSON, or a 400 that says where it breaks (`JSON-EMPTY` for a body that
/// is empty or only whitespace, as the validator says it).
pub fn parse_json(body: &[u8]) -> Result<fhir::json::Value, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Refusal::new(
            Why::BadRequest,
            IssueType::Structure,
            "JSON-EMPTY",
            "",
            "the body is empty: send one FHIR resource as JSON",
            "送信データが空です。JSON形式のFHIRリソースを1件送信してください",
        ));
    }
    fhir::json::parse_bytes(body).map_err(|e| {
        Refusal::new(
            Why::BadRequest,
            IssueType::Structure,
            "JSON-SYNTAX",
            &format!("line {}, column {}", e.line, e.column),
            format!(
                "not valid JSON at line {}, column {}: {}",
                e.line, e.column, e.en
            ),
            format!("{}行{}列目でJSONとして不正です: {}", e.line, e.column, e.ja),
        )
    })
}

impl From<store::StoreError> for Refusal {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::NotFound => Refusal::not_found("the resource"),
            store::StoreError::Db(d) if d.is_full() => {
                tracing::error!(error = %d, "the store's disk is full: writes are refused with 507 until space is freed");
                Refusal::full()
            }
            store::StoreError::Db(d) => Refusal::unavailable(d),
            other => Refusal::internal(other),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.issues.first() {
            Some(i) => write!(f, "{:?}: [{}] {}", self.why, i.detail, i.en),
            None => write!(f, "{:?}", self.why),
        }
    }
}
