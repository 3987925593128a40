//! The CRM sources allowed to post events, and the secrets their signatures are checked with.

use crate::config::{var, ConfigError};

/// One CRM system and its signing secrets, in the order configured (during a rotation the old
/// and the new secret are both listed; each event records which one verified it).
#[derive(Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub secrets: Vec<Vec<u8>>,
}

/// `CRM_SIGNING_SECRETS`: every source and its secrets. No source: every event is refused.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CrmSettings {
    pub sources: Vec<Source>,
}

/// Secrets stay out of logs: only the sources and how many secrets each has are shown.
impl std::fmt::Debug for CrmSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_map();
        for source in &self.sources {
            list.entry(&source.name, &format!("{} secret(s)", source.secrets.len()));
        }
        list.finish()
    }
}

impl CrmSettings {
    /// Settings with one source and its secrets (tests and examples).
    pub fn single(source: &str, secrets: &[&str]) -> CrmSettings {
        CrmSettings {
            sources: vec![Source {
                name: source.to_string(),
                secrets: secrets.iter().map(|s| s.as_bytes().to_vec()).collect(),
            }],
        }
    }

    /// Every secret of every source, flattened in order, with the source and the secret's
    /// index within its source: what a signature is verified against.
    pub fn all_secrets(&self) -> Vec<(&str, usize, &[u8])> {
        self.sources
            .iter()
            .flat_map(|s| {
                s.secrets
                    .iter()
                    .enumerate()
                    .map(|(i, secret)| (s.name.as_str(), i, secret.as_slice()))
            })
            .collect()
    }
}

const NAME: &str = "CRM_SIGNING_SECRETS";

/// Reads `source:secret` entries separated by commas. A source named more than once keeps
/// every secret, in the order listed (rotation). Source names are 1–64 of `a-z A-Z 0-9 . _ -`
/// (they appear in URLs); a secret is at least 16 bytes.
pub fn parse(raw: &str) -> Result<CrmSettings, ConfigError> {
    let mut settings = CrmSettings::default();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, secret) = entry.split_once(':').ok_or_else(|| ConfigError {
            name: NAME,
            reason: format!("an entry is not source:secret (entry {})", redact(entry)),
        })?;
        let name = name.trim();
        let valid_name = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid_name {
            return Err(ConfigError {
                name: NAME,
                reason: format!("source {name:?} is not 1-64 of a-z, A-Z, 0-9, '.', '_', '-'"),
            });
        }
        if secret.len() < 16 {
            return Err(ConfigError {
                name: NAME,
                reason: format!("the secret of source {name:?} is shorter than 16 bytes"),
            });
        }
        match settings.sources.iter_mut().find(|s| s.name == name) {
            Some(source) => source.secrets.push(secret.as_bytes().to_vec()),
            None => settings.sources.push(Source {
                name: name.to_string(),
                secrets: vec![secret.as_bytes().to_vec()],
            }),
        }
    }
    Ok(settings)
}

/// An entry as an error message may show it: its first characters only.
fn redact(entry: &str) -> String {
    let shown: String = entry.chars().take(4).collect();
    format!("{shown:?}…")
}

/// `CRM_SIGNING_SECRETS`; unset: no source.
pub fn from_env() -> Result<CrmSettings, ConfigError> {
    match var(NAME) {
        None => Ok(CrmSettings::default()),
        Some(raw) => parse(&raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_one_source_are_its_secrets_in_order() {
        let s = parse("hubspot:old-secret-0123456789, salesforce:sf-secret-0123456789,hubspot:new-secret-0123456789").unwrap();
        assert_eq!(s.sources.len(), 2);
        assert_eq!(s.sources[0].name, "hubspot");
        assert_eq!(
            s.sources[0].secrets,
            vec![
                b"old-secret-0123456789".to_vec(),
                b"new-secret-0123456789".to_vec()
            ]
        );
        let all: Vec<(&str, usize)> = s.all_secrets().iter().map(|(n, i, _)| (*n, *i)).collect();
        assert_eq!(all, vec![("hubspot", 0), ("hubspot", 1), ("salesforce", 0)]);
    }

    #[test]
    fn a_secret_may_hold_colons_and_empty_entries_are_skipped() {
        let s = parse(",crm:a:b:c:0123456789abcdef,").unwrap();
        assert_eq!(
            s.sources[0].secrets,
            vec![b"a:b:c:0123456789abcdef".to_vec()]
        );
        assert_eq!(parse("").unwrap(), CrmSettings::default());
    }

    #[test]
    fn bad_entries_are_refused_without_showing_the_secret() {
        for raw in [
            "no-colon-here-0123456789",
            "crm:short",
            ":0123456789abcdef",
            "c r m:0123456789abcdef",
        ] {
            let err = parse(raw).unwrap_err();
            assert_eq!(err.name, NAME);
            assert!(!err.reason.contains("0123456789"), "{}", err.reason);
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let s = CrmSettings::single("crm", &["super-secret-value-0001"]);
        let shown = format!("{s:?}");
        assert!(
            shown.contains("crm") && !shown.contains("super-secret"),
            "{shown}"
        );
    }
}
