//! Configuration, read from the environment (see the README's table).

use std::net::SocketAddr;
use std::path::PathBuf;

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

/// Who issues the invoices, as printed on them.
#[derive(Clone, Debug)]
pub struct Seller {
    pub name: String,
    /// Address lines.
    pub address: Vec<String>,
    pub tax_id: Option<String>,
    /// Where payments go (lines).
    pub remit_to: Vec<String>,
    /// How to pay (lines: bank transfer details, portal address, ...).
    pub payment_instructions: Vec<String>,
}

impl Default for Seller {
    fn default() -> Self {
        Seller {
            name: "(set SELLER_NAME)".into(),
            address: Vec::new(),
            tax_id: None,
            remit_to: Vec::new(),
            payment_instructions: Vec::new(),
        }
    }
}

/// Lines of a multi-line setting, separated by `|`.
fn lines(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split('|')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Cash application settings.
#[derive(Clone, Debug)]
pub struct PaymentSettings {
    /// Deductions up to this amount may be written off as small balances.
    pub small_balance_tolerance: rust_decimal::Decimal,
    /// The returned-payment fee: its amount and the code (kind `fee`) of its invoice line.
    pub returned_payment_fee: Option<(rust_decimal::Decimal, String)>,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        PaymentSettings {
            small_balance_tolerance: rust_decimal::Decimal::new(500, 2),
            returned_payment_fee: None,
        }
    }
}

/// `SMALL_BALANCE_TOLERANCE`, and `RETURNED_PAYMENT_FEE` with `RETURNED_PAYMENT_FEE_CODE`.
fn payment_settings() -> Result<PaymentSettings, ConfigError> {
    let amount = |name: &'static str, default| -> Result<rust_decimal::Decimal, ConfigError> {
        let value: rust_decimal::Decimal = parse(name, default)?;
        if value.is_sign_negative() || value.scale() > 4 {
            return Err(ConfigError {
                name,
                reason: format!("{value} is not a non-negative amount"),
            });
        }
        Ok(value)
    };
    let defaults = PaymentSettings::default();
    let fee = match (
        var("RETURNED_PAYMENT_FEE"),
        var("RETURNED_PAYMENT_FEE_CODE"),
    ) {
        (None, None) => None,
        (Some(_), Some(code)) => {
            let fee = amount("RETURNED_PAYMENT_FEE", rust_decimal::Decimal::ZERO)?;
            if fee.is_zero() {
                return Err(ConfigError {
                    name: "RETURNED_PAYMENT_FEE",
                    reason: "must be more than zero (leave it unset for no fee)".into(),
                });
            }
            Some((fee, code.trim().to_string()))
        }
        (Some(_), None) => {
            return Err(ConfigError {
                name: "RETURNED_PAYMENT_FEE_CODE",
                reason: "is needed with RETURNED_PAYMENT_FEE".into(),
            })
        }
        (None, Some(_)) => {
            return Err(ConfigError {
                name: "RETURNED_PAYMENT_FEE",
                reason: "is needed with RETURNED_PAYMENT_FEE_CODE".into(),
            })
        }
    };
    Ok(PaymentSettings {
        small_balance_tolerance: amount(
            "SMALL_BALANCE_TOLERANCE",
            defaults.small_balance_tolerance,
        )?,
        returned_payment_fee: fee,
    })
}

/// Dispute and credit settings.
#[derive(Clone, Debug)]
pub struct CreditSettings {
    /// Business days a dispute has before its SLA is breached.
    pub dispute_sla_business_days: u32,
    /// Days that are not business days besides Saturdays and Sundays.
    pub holidays: Vec<time::Date>,
    /// The largest credit memo each role may issue without approval (`None`: unlimited);
    /// roles not listed need approval for any amount.
    pub approval_limits: Vec<(crate::auth::Role, Option<rust_decimal::Decimal>)>,
}

impl Default for CreditSettings {
    fn default() -> Self {
        use crate::auth::Role;
        CreditSettings {
            dispute_sla_business_days: 10,
            holidays: Vec::new(),
            approval_limits: vec![
                (Role::Billing, Some(rust_decimal::Decimal::new(50000, 2))),
                (Role::CollectionsManager, None),
                (Role::Admin, None),
            ],
        }
    }
}

impl CreditSettings {
    /// Whether `role` may issue a credit of `amount` without approval.
    pub fn within_limit(&self, role: crate::auth::Role, amount: rust_decimal::Decimal) -> bool {
        self.approval_limits
            .iter()
            .find(|(r, _)| *r == role)
            .is_some_and(|(_, limit)| limit.is_none_or(|l| amount <= l))
    }
}

/// `DISPUTE_SLA_BUSINESS_DAYS`, `HOLIDAYS` (dates separated by commas) and
/// `CREDIT_APPROVAL_LIMITS` (`role=amount` or `role=unlimited`, separated by commas).
fn credit_settings() -> Result<CreditSettings, ConfigError> {
    let defaults = CreditSettings::default();
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let holidays = match var("HOLIDAYS") {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                time::Date::parse(d, format).map_err(|e| ConfigError {
                    name: "HOLIDAYS",
                    reason: format!("{d:?} is not a date like 2026-12-25: {e}"),
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let approval_limits = match var("CREDIT_APPROVAL_LIMITS") {
        None => defaults.approval_limits,
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                let bad = |reason: String| ConfigError {
                    name: "CREDIT_APPROVAL_LIMITS",
                    reason,
                };
                let (role, limit) = entry
                    .split_once('=')
                    .ok_or_else(|| bad(format!("{entry:?} is not role=amount")))?;
                let role: crate::auth::Role = role.trim().parse().map_err(bad)?;
                let limit = match limit.trim() {
                    "unlimited" => None,
                    amount => Some(
                        amount
                            .parse::<rust_decimal::Decimal>()
                            .ok()
                            .filter(|a| !a.is_sign_negative())
                            .ok_or_else(|| bad(format!("{amount:?} is not an amount")))?,
                    ),
                };
                Ok((role, limit))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(CreditSettings {
        dispute_sla_business_days: parse(
            "DISPUTE_SLA_BUSINESS_DAYS",
            defaults.dispute_sla_business_days,
        )?
        .clamp(1, 365),
        holidays,
        approval_limits,
    })
}

/// The risk score's weights (points out of 100 per factor), the amount and counts at which
/// each factor is full, and the level thresholds; the dunning job's interval.
#[derive(Clone, Debug)]
pub struct CollectionsSettings {
    pub risk: crate::collections::risk::Weights,
    /// Minutes between scheduled dunning runs; 0 turns the schedule off.
    pub dunning_interval_minutes: u64,
    /// Grace days of a promise to pay when none is given.
    pub promise_grace_days: i32,
}

impl Default for CollectionsSettings {
    fn default() -> Self {
        CollectionsSettings {
            risk: crate::collections::risk::Weights::default(),
            dunning_interval_minutes: 60,
            promise_grace_days: 3,
        }
    }
}

/// `RISK_WEIGHTS` (`factor=points,…`), `RISK_FULL_AT` (`factor=value,…`), `RISK_THRESHOLDS`
/// (three scores: medium, high, critical), `DUNNING_INTERVAL_MINUTES`,
/// `PROMISE_GRACE_DAYS`.
fn collections_settings() -> Result<CollectionsSettings, ConfigError> {
    let defaults = CollectionsSettings::default();
    let mut risk = defaults.risk;
    if let Some(raw) = var("RISK_WEIGHTS") {
        risk.set_weights(&raw).map_err(|reason| ConfigError {
            name: "RISK_WEIGHTS",
            reason,
        })?;
    }
    if let Some(raw) = var("RISK_FULL_AT") {
        risk.set_full_at(&raw).map_err(|reason| ConfigError {
            name: "RISK_FULL_AT",
            reason,
        })?;
    }
    if let Some(raw) = var("RISK_THRESHOLDS") {
        risk.set_thresholds(&raw).map_err(|reason| ConfigError {
            name: "RISK_THRESHOLDS",
            reason,
        })?;
    }
    Ok(CollectionsSettings {
        risk,
        dunning_interval_minutes: parse("DUNNING_INTERVAL_MINUTES", 60u64)?,
        promise_grace_days: parse("PROMISE_GRACE_DAYS", 3i32)?.clamp(0, 60),
    })
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The service's queries connect with this URL (`None`: start a private PostgreSQL under
    /// `pg_dir`). In production its role is `receivables_service`, which owns no table.
    pub database_url: Option<String>,
    /// Migrations (and `seed`) connect with this URL, as the owner of the tables; `None`:
    /// with `database_url`.
    pub migration_database_url: Option<String>,
    pub bind: SocketAddr,
    /// Where `/metrics` is served instead of the API's address (`None`: on the API's).
    pub metrics_address: Option<SocketAddr>,
    pub pool_size: usize,
    pub json_limit: usize,
    pub jwt: JwtSettings,
    pub dev_mode: bool,
    pub run_migrations: bool,
    pub workers: Option<usize>,
    pub pg_dir: PathBuf,
    pub idempotency_ttl_hours: i32,
    pub billing: crate::billing::engine::Settings,
    pub payments: PaymentSettings,
    pub credits: CreditSettings,
    pub collections: CollectionsSettings,
    pub seller: Seller,
}

impl Config {
    /// The URL migrations run with: the owner's when it is set apart.
    pub fn owner_url(&self) -> Option<&str> {
        self.migration_database_url
            .as_deref()
            .or(self.database_url.as_deref())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
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

fn flag(name: &'static str) -> Result<bool, ConfigError> {
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
fn key_entries(name: &'static str) -> Result<Vec<(String, String, String)>, ConfigError> {
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

/// `INVOICE_NUMBER_PREFIX` (1 to 10 of A–Z and 0–9) and `INVOICE_NUMBER_FORMAT`.
fn numbering() -> Result<crate::invoices::rules::Numbering, ConfigError> {
    let default = crate::invoices::rules::Numbering::default();
    let prefix = var("INVOICE_NUMBER_PREFIX").unwrap_or(default.prefix);
    if !((1..=10).contains(&prefix.len())
        && prefix
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    {
        return Err(ConfigError {
            name: "INVOICE_NUMBER_PREFIX",
            reason: format!("{prefix:?} is not 1 to 10 of A-Z and 0-9"),
        });
    }
    let format = var("INVOICE_NUMBER_FORMAT").unwrap_or(default.format);
    crate::invoices::rules::Numbering::new(&prefix, &format).map_err(|reason| ConfigError {
        name: "INVOICE_NUMBER_FORMAT",
        reason,
    })
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let hs256_secret = match var("JWT_HS256_SECRET") {
            None => None,
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError {
                    name: "JWT_HS256_SECRET",
                    reason: "must be at least 32 bytes".into(),
                })
            }
            Some(secret) => Some((
                var("JWT_HS256_KID").unwrap_or_else(|| "hs256".into()),
                secret.into_bytes(),
            )),
        };
        let signing_key = key_entries("JWT_SIGNING_KEY")?.into_iter().next();
        Ok(Config {
            database_url: var("DATABASE_URL"),
            migration_database_url: var("MIGRATION_DATABASE_URL"),
            bind: parse("BIND_ADDRESS", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            metrics_address: var("METRICS_ADDRESS")
                .map(|v| {
                    v.parse().map_err(|e| ConfigError {
                        name: "METRICS_ADDRESS",
                        reason: format!("{v:?} is not an address and port: {e}"),
                    })
                })
                .transpose()?,
            pool_size: parse("DATABASE_POOL_SIZE", 16usize)?,
            json_limit: parse("JSON_BODY_LIMIT", 256 * 1024usize)?,
            jwt: JwtSettings {
                issuer: var("JWT_ISSUER").unwrap_or_else(|| "receivables".into()),
                audience: var("JWT_AUDIENCE").unwrap_or_else(|| "receivables-api".into()),
                hs256_secret,
                public_keys: key_entries("JWT_PUBLIC_KEYS")?,
                signing_key,
            },
            dev_mode: flag("RECEIVABLES_DEV_MODE")?,
            run_migrations: !flag("SKIP_MIGRATIONS")?,
            workers: var("WORKERS")
                .map(|_| parse("WORKERS", 2usize))
                .transpose()?,
            pg_dir: PathBuf::from(var("RECEIVABLES_PG_DIR").unwrap_or_else(|| "var/pg".into())),
            idempotency_ttl_hours: parse("IDEMPOTENCY_TTL_HOURS", 24i32)?.max(24),
            seller: Seller {
                name: var("SELLER_NAME").unwrap_or_else(|| Seller::default().name),
                address: lines("SELLER_ADDRESS"),
                tax_id: var("SELLER_TAX_ID"),
                remit_to: lines("REMIT_TO"),
                payment_instructions: lines("PAYMENT_INSTRUCTIONS"),
            },
            payments: payment_settings()?,
            credits: credit_settings()?,
            collections: collections_settings()?,
            billing: crate::billing::engine::Settings {
                numbering: numbering()?,
                estimate_readings: parse("ESTIMATE_READINGS", 3usize)?.max(1),
                reading_window_days: parse("READING_WINDOW_DAYS", 3i64)?.clamp(0, 15),
            },
        })
    }

    pub fn has_verification_key(&self) -> bool {
        self.jwt.hs256_secret.is_some() || !self.jwt.public_keys.is_empty()
    }
}
