//! Reading configuration from the environment (see the README's table): the helpers every
//! domain reads its own settings with, and the settings of the foundation itself (tokens).
//! It imports no domain; `crate::Config` gathers the domains' settings.

/// Where verification keys and the token-minting key come from.
#[derive(Clone, Debug, Default)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    /// HS256 shared secret and its key id.
    pub hs256_secret: Option<(String, Vec<u8>)>,
    /// RS256 / EdDSA public keys: `kid`, algorithm name, PEM text.
    pub public_keys: Vec<(String, String, String)>,
    /// Private key used by `receivables token` for RS256 / EdDSA: `kid`, algorithm, PEM text.
    pub signing_key: Option<(String, String, String)>,
}

/// Lines of a multi-line setting, separated by `|`.
pub fn lines(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split('|')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

/// A variable's value; `None` when unset or blank.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A variable parsed as `T`, or `default` when unset.
pub fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError {
            name,
            reason: format!("{raw:?}: {e}"),
        }),
    }
}

/// A boolean variable (true/false, yes/no, on/off, 1/0); unset is false.
pub fn flag(name: &'static str) -> Result<bool, ConfigError> {
    match var(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(other) => Err(ConfigError {
            name,
            reason: format!("{other:?} is not a boolean (true/false)"),
        }),
    }
}

/// Reads `kid:ALG:/path/to/key.pem` entries separated by commas.
pub fn key_entries(name: &'static str) -> Result<Vec<(String, String, String)>, ConfigError> {
    let Some(raw) = var(name) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let mut parts = entry.splitn(3, ':');
            let (Some(kid), Some(alg), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(ConfigError {
                    name,
                    reason: format!("{entry:?} is not kid:ALG:/path/to/key.pem"),
                });
            };
            if !matches!(alg, "RS256" | "EdDSA") {
                return Err(ConfigError {
                    name,
                    reason: format!("algorithm {alg:?} is not RS256 or EdDSA"),
                });
            }
            let pem = std::fs::read_to_string(path).map_err(|e| ConfigError {
                name,
                reason: format!("cannot read {path}: {e}"),
            })?;
            Ok((kid.to_string(), alg.to_string(), pem))
        })
        .collect()
}
