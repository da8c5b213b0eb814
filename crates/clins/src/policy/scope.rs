//! SMART App Launch v2 scopes (`system/Condition.rs`, `user/*.cruds`, and the v1 forms
//! `.read`/`.write`/`.*`): what a token lets its holder do, on top of the access decision.
//! A scope never widens what the decision allows; a missing scope narrows it.

/// One FHIR interaction, as the scopes name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interaction {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

impl Interaction {
    fn bit(self) -> u8 {
        match self {
            Interaction::Create => 1,
            Interaction::Read => 2,
            Interaction::Update => 4,
            Interaction::Delete => 8,
            Interaction::Search => 16,
        }
    }
    /// The scope letter of the interaction (`c r u d s`).
    pub fn letter(self) -> char {
        match self {
            Interaction::Create => 'c',
            Interaction::Read => 'r',
            Interaction::Update => 'u',
            Interaction::Delete => 'd',
            Interaction::Search => 's',
        }
    }
}

/// The context a scope is for: the client itself, a user of it, or one patient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeContext {
    System,
    User,
    Patient,
}

/// One granted scope: a context, a resource type (`*`: every type) and the interactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub context: ScopeContext,
    pub resource: String,
    mask: u8,
}

impl Scope {
    /// Parses one scope. `None` for anything that is not a resource scope this hub grants:
    /// other scopes (`openid`, `launch`), granular scopes with a query (`?category=…`, not
    /// supported: granting them whole would widen them), unknown letters, letters out of
    /// order or repeated (SMART v2 requires `c r u d s` in that order).
    pub fn parse(text: &str) -> Option<Scope> {
        let (context, rest) = text.split_once('/')?;
        let context = match context {
            "system" => ScopeContext::System,
            "user" => ScopeContext::User,
            "patient" => ScopeContext::Patient,
            _ => return None,
        };
        let (resource, perms) = rest.split_once('.')?;
        let type_ok = resource == "*"
            || (resource.len() <= 64
                && resource.starts_with(|c: char| c.is_ascii_uppercase())
                && resource.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !type_ok {
            return None;
        }
        let mask = match perms {
            "read" => 2 | 16,
            "write" => 1 | 4 | 8,
            "*" => 31,
            _ => {
                let order = "cruds";
                let mut mask = 0u8;
                let mut last = None;
                for ch in perms.chars() {
                    let at = order.find(ch)?;
                    if last.is_some_and(|l| at <= l) {
                        return None;
                    }
                    last = Some(at);
                    mask |= 1 << at;
                }
                if mask == 0 {
                    return None;
                }
                mask
            }
        };
        Some(Scope {
            context,
            resource: resource.to_string(),
            mask,
        })
    }

    /// The scope in SMART v2 form (`system/Condition.rs`).
    pub fn text(&self) -> String {
        let context = match self.context {
            ScopeContext::System => "system",
            ScopeContext::User => "user",
            ScopeContext::Patient => "patient",
        };
        let letters: String = [
            Interaction::Create,
            Interaction::Read,
            Interaction::Update,
            Interaction::Delete,
            Interaction::Search,
        ]
        .iter()
        .filter(|i| self.mask & i.bit() != 0)
        .map(|i| i.letter())
        .collect();
        format!("{context}/{}.{letters}", self.resource)
    }

    fn permits(&self, resource: &str, interaction: Interaction) -> bool {
        (self.resource == "*" || self.resource == resource) && self.mask & interaction.bit() != 0
    }
}

/// What a caller's credentials allow: every interaction (development authentication, the
/// command line, staff and patient sessions whose limits are their role's), or the granted
/// scopes of a token.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Scopes {
    #[default]
    Unrestricted,
    Granted(Vec<Scope>),
}

impl Scopes {
    /// Parses a space-separated scope list; the scopes this hub does not grant are left out
    /// (see [`Scope::parse`]).
    pub fn parse(text: &str) -> Scopes {
        Scopes::Granted(
            text.split_ascii_whitespace()
                .filter_map(Scope::parse)
                .collect(),
        )
    }

    /// Whether `interaction` on resources of type `resource` is allowed.
    pub fn permits(&self, resource: &str, interaction: Interaction) -> bool {
        match self {
            Scopes::Unrestricted => true,
            Scopes::Granted(list) => list.iter().any(|s| s.permits(resource, interaction)),
        }
    }

    /// The granted scopes in SMART v2 form, space-separated (empty when unrestricted).
    pub fn text(&self) -> String {
        match self {
            Scopes::Unrestricted => String::new(),
            Scopes::Granted(list) => list.iter().map(Scope::text).collect::<Vec<_>>().join(" "),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Scopes::Granted(list) if list.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Interaction::*;

    #[test]
    fn scopes_table() {
        // (granted, resource, interaction, permitted)
        let table: &[(&str, &str, Interaction, bool)] = &[
            ("system/Condition.rs", "Condition", Read, true),
            ("system/Condition.rs", "Condition", Search, true),
            ("system/Condition.rs", "Condition", Create, false),
            ("system/Condition.rs", "Observation", Read, false),
            ("system/Condition.r", "Condition", Search, false),
            ("system/Condition.s", "Condition", Read, false),
            ("system/*.rs", "Observation", Read, true),
            ("system/*.rs", "Bundle", Create, false),
            ("system/Bundle.c", "Bundle", Create, true),
            ("system/Bundle.c", "Bundle", Delete, false),
            ("system/Bundle.cd", "Bundle", Delete, true),
            ("user/*.cruds", "Consent", Delete, true),
            ("system/Observation.read", "Observation", Search, true),
            ("system/Observation.read", "Observation", Create, false),
            ("system/Bundle.write", "Bundle", Create, true),
            ("system/Bundle.write", "Bundle", Read, false),
            ("system/*.*", "Patient", Update, true),
            // Not granted: order, repetition, unknown letters, queries, bad types, contexts.
            ("system/Condition.sr", "Condition", Read, false),
            ("system/Condition.rr", "Condition", Read, false),
            ("system/Condition.rx", "Condition", Read, false),
            ("system/Condition.", "Condition", Read, false),
            (
                "system/Observation.rs?category=laboratory",
                "Observation",
                Read,
                false,
            ),
            ("system/condition.rs", "condition", Read, false),
            ("admin/Condition.rs", "Condition", Read, false),
            ("system/Condition", "Condition", Read, false),
            ("openid", "Condition", Read, false),
            ("", "Condition", Read, false),
            // Several scopes: any one permits.
            (
                "system/Condition.rs system/Bundle.c",
                "Bundle",
                Create,
                true,
            ),
            (
                "system/Condition.rs  system/Bundle.c",
                "Condition",
                Search,
                true,
            ),
            (
                "system/Condition.rs system/Bundle.c",
                "Observation",
                Read,
                false,
            ),
        ];
        for (granted, resource, interaction, want) in table {
            assert_eq!(
                Scopes::parse(granted).permits(resource, *interaction),
                *want,
                "{granted} / {resource} / {interaction:?}"
            );
        }
        assert!(Scopes::Unrestricted.permits("Anything", Delete));
    }

    #[test]
    fn scopes_are_written_in_v2_form() {
        let s = Scopes::parse("system/Observation.read user/Bundle.write system/*.* junk");
        assert_eq!(
            s.text(),
            "system/Observation.rs user/Bundle.cud system/*.cruds"
        );
        assert_eq!(Scopes::parse(&s.text()), s, "the written form parses back");
        assert!(Scopes::parse("openid launch").is_empty());
        assert!(!Scopes::Unrestricted.is_empty());
    }
}
