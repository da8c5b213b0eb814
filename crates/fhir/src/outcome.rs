//! The one error currency: issues that become an OperationOutcome.
//!
//! Every issue carries a FHIR `issue.code`, a stable clins-hub detail code (documented in
//! `docs/errors.md`), a FHIRPath `expression` pointing at the element, and a message in English
//! and Japanese.

use crate::json::{Object, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
    pub fn is_error(self) -> bool {
        matches!(self, Severity::Fatal | Severity::Error)
    }
}

/// `OperationOutcome.issue.code` (value set `issue-type`), the subset the hub raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IssueType {
    Invalid,
    Structure,
    Required,
    Value,
    Invariant,
    CodeInvalid,
    NotSupported,
    NotFound,
    TooLong,
    TooCostly,
    /// Refused for the rate of requests (429).
    Throttled,
    BusinessRule,
    Duplicate,
    Processing,
    Informational,
    Incomplete,
    Security,
    Forbidden,
    Conflict,
    Exception,
    Transient,
    /// A client too slow: part of `transient` in the value set.
    Timeout,
    Login,
    Deleted,
}

impl IssueType {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::Invariant => "invariant",
            IssueType::CodeInvalid => "code-invalid",
            IssueType::NotSupported => "not-supported",
            IssueType::NotFound => "not-found",
            IssueType::TooLong => "too-long",
            IssueType::TooCostly => "too-costly",
            IssueType::Throttled => "throttled",
            IssueType::BusinessRule => "business-rule",
            IssueType::Duplicate => "duplicate",
            IssueType::Processing => "processing",
            IssueType::Informational => "informational",
            IssueType::Incomplete => "incomplete",
            IssueType::Security => "security",
            IssueType::Forbidden => "forbidden",
            IssueType::Conflict => "conflict",
            IssueType::Exception => "exception",
            IssueType::Transient => "transient",
            IssueType::Timeout => "timeout",
            IssueType::Login => "login",
            IssueType::Deleted => "deleted",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueType,
    /// Stable clins-hub detail code, e.g. `CLINS-BUNDLE-ID-FORMAT`.
    pub detail: &'static str,
    /// FHIRPath to the element, e.g. `Bundle.entry[1].resource.code`.
    pub expression: String,
    pub en: String,
    pub ja: String,
}

impl Issue {
    pub fn new(
        severity: Severity,
        code: IssueType,
        detail: &'static str,
        expression: impl Into<String>,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) -> Self {
        Issue {
            severity,
            code,
            detail,
            expression: expression.into(),
            en: en.into(),
            ja: ja.into(),
        }
    }
    pub fn error(
        code: IssueType,
        detail: &'static str,
        expression: impl Into<String>,
        en: impl Into<String>,
        ja: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, code, detail, expression, en, ja)
    }
    /// "ja / en", the form used in OperationOutcome `diagnostics` and text reports.
    pub fn message(&self) -> String {
        format!("{} / {}", self.ja, self.en)
    }
}

/// Builds the OperationOutcome resource for a list of issues. An empty list gives a single
/// `information` issue saying that all is well, as FHIR requires at least one issue.
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let mut list = Vec::with_capacity(issues.len().max(1));
    for i in issues {
        let mut o = Object::new();
        o.insert("severity", Value::string(i.severity.as_str()));
        o.insert("code", Value::string(i.code.as_str()));
        let mut coding = Object::new();
        coding.insert(
            "system",
            Value::string("https://clins-hub.org/fhir/CodeSystem/issue-detail"),
        );
        coding.insert("code", Value::string(i.detail));
        let mut details = Object::new();
        details.insert("coding", Value::Array(vec![Value::Object(coding)]));
        details.insert("text", Value::string(i.ja.as_str()));
        o.insert("details", Value::Object(details));
        o.insert("diagnostics", Value::string(i.en.as_str()));
        if !i.expression.is_empty() {
            o.insert(
                "expression",
                Value::Array(vec![Value::string(i.expression.as_str())]),
            );
        }
        list.push(Value::Object(o));
    }
    if list.is_empty() {
        let mut o = Object::new();
        o.insert("severity", Value::string("information"));
        o.insert("code", Value::string("informational"));
        let mut details = Object::new();
        details.insert("text", Value::string("検証エラーはありません"));
        o.insert("details", Value::Object(details));
        o.insert("diagnostics", Value::string("No issues found"));
        list.push(Value::Object(o));
    }
    let mut oo = Object::new();
    oo.insert("resourceType", Value::string("OperationOutcome"));
    oo.insert("issue", Value::Array(list));
    Value::Object(oo)
}

/// Counts issues at error or fatal severity.
pub fn error_count(issues: &[Issue]) -> usize {
    issues.iter().filter(|i| i.severity.is_error()).count()
}
