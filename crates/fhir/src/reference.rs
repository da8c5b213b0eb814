//! References inside a resource and a Bundle (FHIR R4 §2.36 "Resolving references in Bundles").

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// FxHash-style hasher for the index: keys are fullUrls and ids of one Bundle.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

type Fx = BuildHasherDefault<FxHasher>;

use crate::json::Value;

/// The shape of a `Reference.reference` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind<'a> {
    /// `#id`: a contained resource (`#` alone is the container itself).
    Contained(&'a str),
    /// `urn:uuid:…` or `urn:oid:…`.
    Urn(&'a str),
    /// `Type/id` or `Type/id/_history/vid`.
    Relative {
        resource_type: &'a str,
        id: &'a str,
        version: Option<&'a str>,
    },
    /// An absolute URL (`http://server/fhir/Patient/1`).
    Absolute(&'a str),
    /// Anything else (for instance `Patient/` or a bare word).
    Other(&'a str),
}

pub fn classify(reference: &str) -> RefKind<'_> {
    if let Some(id) = reference.strip_prefix('#') {
        return RefKind::Contained(id);
    }
    if reference.starts_with("urn:uuid:") || reference.starts_with("urn:oid:") {
        return RefKind::Urn(reference);
    }
    if reference.contains("://") {
        return RefKind::Absolute(reference);
    }
    let parts: Vec<&str> = reference.split('/').collect();
    match parts.as_slice() {
        [t, id] if is_type_name(t) && !id.is_empty() => RefKind::Relative {
            resource_type: t,
            id,
            version: None,
        },
        [t, id, "_history", v] if is_type_name(t) && !id.is_empty() && !v.is_empty() => {
            RefKind::Relative {
                resource_type: t,
                id,
                version: Some(v),
            }
        }
        _ => RefKind::Other(reference),
    }
}

fn is_type_name(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && t.chars().all(|c| c.is_ascii_alphanumeric())
}

/// For an absolute RESTful URL `base/Type/id[/_history/v]`, the base and `Type/id`.
pub fn split_restful(url: &str) -> Option<(&str, &str, &str)> {
    let trimmed = match url.find("/_history/") {
        Some(i) => &url[..i],
        None => url,
    };
    let (rest, id) = trimmed.rsplit_once('/')?;
    let (base, t) = rest.rsplit_once('/')?;
    (is_type_name(t) && !id.is_empty()).then_some((base, t, id))
}

/// Index of a Bundle's entries for reference resolution.
#[derive(Debug, Default)]
pub struct BundleIndex {
    by_full_url: HashMap<String, usize, Fx>,
    by_type_id: HashMap<(String, String), Vec<usize>, Fx>,
    full_urls: Vec<Option<String>>,
}

impl BundleIndex {
    pub fn new(bundle: &Value) -> Self {
        let mut idx = BundleIndex::default();
        let Some(entries) = bundle.get("entry").and_then(Value::as_array) else {
            return idx;
        };
        for (i, e) in entries.iter().enumerate() {
            let full = e.get("fullUrl").and_then(Value::as_str);
            if let Some(f) = full {
                idx.by_full_url.entry(f.to_string()).or_insert(i);
            }
            idx.full_urls.push(full.map(str::to_string));
            let r = e.get("resource");
            let t = r
                .and_then(|r| r.get("resourceType"))
                .and_then(Value::as_str);
            let id = r.and_then(|r| r.get("id")).and_then(Value::as_str);
            if let (Some(t), Some(id)) = (t, id) {
                idx.by_type_id
                    .entry((t.to_string(), id.to_string()))
                    .or_default()
                    .push(i);
            }
        }
        idx
    }

    /// Number of entries that carry `full_url`.
    pub fn full_url_count(&self, full_url: &str) -> usize {
        self.full_urls
            .iter()
            .filter(|f| f.as_deref() == Some(full_url))
            .count()
    }

    /// Resolves `reference` as written in the entry at `from` (its fullUrl gives the base for
    /// relative references). Returns the index of the target entry.
    pub fn resolve(&self, reference: &str, from: Option<usize>) -> Option<usize> {
        match classify(reference) {
            RefKind::Urn(u) | RefKind::Absolute(u) => self.by_full_url.get(u).copied(),
            RefKind::Relative {
                resource_type, id, ..
            } => {
                let base_url = from
                    .and_then(|i| self.full_urls.get(i))
                    .and_then(|f| f.as_deref())
                    .and_then(split_restful);
                if let Some((base, _, _)) = base_url {
                    let abs = format!("{base}/{resource_type}/{id}");
                    if let Some(&i) = self.by_full_url.get(&abs) {
                        return Some(i);
                    }
                }
                self.by_type_id
                    .get(&(resource_type.to_string(), id.to_string()))
                    .and_then(|v| v.first().copied())
            }
            RefKind::Contained(_) | RefKind::Other(_) => None,
        }
    }
}

/// Ids of the resources contained in `resource`.
pub fn contained_ids(resource: &Value) -> Vec<&str> {
    resource
        .get("contained")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("id").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn classifies() {
        assert_eq!(classify("#enc"), RefKind::Contained("enc"));
        assert!(matches!(classify("urn:uuid:1"), RefKind::Urn(_)));
        assert!(matches!(
            classify("Patient/1/_history/2"),
            RefKind::Relative {
                version: Some("2"),
                ..
            }
        ));
        assert!(matches!(classify("patient/1"), RefKind::Other(_)));
        assert!(matches!(
            classify("http://x/fhir/Patient/1"),
            RefKind::Absolute(_)
        ));
    }

    #[test]
    fn resolves_in_bundle() {
        let b = parse(
            r#"{"resourceType":"Bundle","entry":[
            {"fullUrl":"urn:uuid:a","resource":{"resourceType":"Patient","id":"p"}},
            {"fullUrl":"http://s/fhir/Observation/o","resource":{"resourceType":"Observation","id":"o"}},
            {"fullUrl":"http://s/fhir/Patient/q","resource":{"resourceType":"Patient","id":"q"}}]}"#,
        )
        .unwrap();
        let idx = BundleIndex::new(&b);
        assert_eq!(idx.resolve("urn:uuid:a", Some(1)), Some(0));
        assert_eq!(idx.resolve("Patient/q", Some(1)), Some(2));
        assert_eq!(idx.resolve("Patient/p", Some(1)), Some(0));
        assert_eq!(idx.resolve("Patient/zz", Some(1)), None);
        assert_eq!(idx.resolve("urn:uuid:b", None), None);
    }
}
