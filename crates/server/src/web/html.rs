//! HTML of the pages: escaping, the page frame (language, header, banners) and the response
//! headers every page carries (a strict Content-Security-Policy: nothing from another host, no
//! inline script or style).

use std::fmt::Write as _;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The language of a page: Japanese first, English by the switch in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
    /// The text in this language.
    pub fn t<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

/// Text made safe for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A date or instant as `2026/12/07` (the service's dates are Western calendar).
pub fn day(s: &str) -> String {
    let d = s.get(..10).unwrap_or(s);
    d.replace('-', "/")
}

/// The Content-Security-Policy of every page: the hub's own stylesheet and script only.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A page being written: its frame is added by `finish`.
pub struct Page {
    pub lang: Lang,
    pub title: String,
    /// Where the language switch returns to (this page's path and query).
    pub here: String,
    /// The signed-in person, shown in the header with a sign-out button.
    pub who: Option<(String, String, &'static str)>,
    /// Banners above the content (emergency in effect).
    pub banner: String,
    pub body: String,
    pub status: StatusCode,
}

impl Page {
    pub fn new(lang: Lang, title: &str, here: &str) -> Page {
        Page {
            lang,
            title: title.to_string(),
            here: here.to_string(),
            who: None,
            banner: String::new(),
            body: String::with_capacity(16 * 1024),
            status: StatusCode::OK,
        }
    }

    /// Appends formatted text (already escaped where it must be).
    pub fn w(&mut self, s: &str) -> &mut Self {
        self.body.push_str(s);
        self
    }

    /// Appends a heading, escaped.
    pub fn h(&mut self, level: u8, text: &str) -> &mut Self {
        let _ = write!(self.body, "<h{level}>{}</h{level}>", esc(text));
        self
    }

    pub fn finish(self) -> Response {
        let l = self.lang;
        let mut out = String::with_capacity(self.body.len() + 2048);
        let other = match l {
            Lang::Ja => ("en", "English"),
            Lang::En => ("ja", "日本語"),
        };
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{} — clins-hub</title><link rel=\"stylesheet\" href=\"/static/app.css\">\
             <link rel=\"icon\" href=\"data:,\"></head><body>\
             <a class=\"skip\" href=\"#main\">{}</a><header class=\"top\"><a class=\"brand\" href=\"/\">clins-hub</a>\
             <nav aria-label=\"{}\"><a href=\"/lang?to={}&amp;back={}\" lang=\"{}\" hreflang=\"{}\">{}</a>",
            l.code(),
            esc(&self.title),
            l.t("本文へ移動", "Skip to content"),
            l.t("言語とアカウント", "Language and account"),
            other.0,
            esc(&crate::percent_encode(&self.here)),
            other.0,
            other.0,
            other.1,
        );
        if let Some((name, csrf, area)) = &self.who {
            let _ = write!(
                out,
                "<span class=\"who\">{}</span><form method=\"post\" action=\"/{area}/signout\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                esc(name),
                esc(csrf),
                l.t("サインアウト", "Sign out")
            );
        }
        out.push_str("</nav></header>");
        out.push_str(&self.banner);
        out.push_str("<main id=\"main\">");
        out.push_str(&self.body);
        out.push_str("</main></body></html>\n");
        html_response(self.status, out)
    }
}

/// An HTML response with the headers every page carries.
pub fn html_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    r
}

pub fn secure_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A download: the bytes with their type, saved as `filename` (ASCII, chosen by the hub).
pub fn attachment(bytes: Vec<u8>, content_type: HeaderValue, filename: &str) -> Response {
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    secure_headers(h);
    r
}

/// A 303 to `to` (after a form, or to the sign-in page).
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    secure_headers(r.headers_mut());
    r
}

/// A message box: `kind` is `error`, `ok` or `info`.
pub fn note(kind: &str, text: &str) -> String {
    let role = if kind == "error" { "alert" } else { "status" };
    format!("<p class=\"note {kind}\" role=\"{role}\">{}</p>", esc(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn dates_are_written_with_slashes() {
        assert_eq!(day("2026-12-07T10:00:00+09:00"), "2026/12/07");
        assert_eq!(day("2026-12"), "2026/12");
    }
}
