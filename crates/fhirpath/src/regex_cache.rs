//! Compiled regular expressions for `matches()` / `replaceMatches()`, cached by pattern.
//!
//! FHIRPath regular expressions run in single-line mode (`.` matches a newline); `matches()`
//! looks for a match anywhere in the string, `matchesFull()` for a match of the whole string.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;

use crate::eval::{fail, EvalError};

type RegexMap = HashMap<(String, bool), Arc<Regex>>;

pub(crate) fn get(pattern: &str, full: bool) -> Result<Arc<Regex>, EvalError> {
    static CACHE: OnceLock<Mutex<RegexMap>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (pattern.to_string(), full);
    if let Ok(c) = cache.lock() {
        if let Some(r) = c.get(&key) {
            return Ok(r.clone());
        }
    }
    let source = if full {
        format!("(?s)^(?:{pattern})$")
    } else {
        format!("(?s){pattern}")
    };
    let re = match regex::RegexBuilder::new(&source)
        .size_limit(1 << 20)
        .build()
    {
        Ok(r) => Arc::new(r),
        Err(e) => return fail(format!("invalid regular expression {pattern:?}: {e}")),
    };
    if let Ok(mut c) = cache.lock() {
        if c.len() < 10_000 {
            c.insert(key, re.clone());
        }
    }
    Ok(re)
}
