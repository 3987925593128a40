//! The service's whole configuration, gathered: the foundation's own (database, address,
//! tokens, read here with the helpers of `config`) and each domain's settings, which the
//! domain reads itself (`billing::settings`, `payments::settings`, ...).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{flag, key_entries, parse, var, ConfigError, JwtSettings};

#[derive(Clone, Debug)]
pub struct Config {
    /// The service's queries connect with this URL (`None`: start a private PostgreSQL under
    /// `pg_dir`). In production its role is `receivables_service`, which owns no table.
    pub database_url: Option<String>,
    /// Migrations (and `seed`) connect with this URL, as the owner of the tables; `None`:
    /// with `database_url`.
    pub migration_database_url: Option<String>,
    /// The reports read with this URL (a read replica); `None`: with `database_url`.
    pub database_read_url: Option<String>,
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
    pub payments: crate::payments::settings::PaymentSettings,
    pub credits: crate::credit_memos::settings::CreditSettings,
    pub credit_management: crate::credit::settings::CreditManagementSettings,
    pub collections: crate::collections::settings::CollectionsSettings,
    pub reports: crate::reports::settings::ReportSettings,
    pub bank_files: crate::bank_files::settings::BankFileSettings,
    pub seller: crate::invoices::settings::Seller,
    pub webhooks: crate::integrations::webhooks::settings::WebhookSettings,
    pub crm: crate::integrations::crm::settings::CrmSettings,
}

impl Config {
    /// The URL migrations run with: the owner's when it is set apart.
    pub fn owner_url(&self) -> Option<&str> {
        self.migration_database_url
            .as_deref()
            .or(self.database_url.as_deref())
    }
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
            database_read_url: var("DATABASE_READ_URL"),
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
            seller: crate::invoices::settings::Seller::from_env(),
            payments: crate::payments::settings::from_env()?,
            credits: crate::credit_memos::settings::from_env()?,
            credit_management: crate::credit::settings::from_env()?,
            collections: crate::collections::settings::from_env()?,
            reports: crate::reports::settings::from_env()?,
            bank_files: crate::bank_files::settings::from_env()?,
            billing: crate::billing::settings::from_env()?,
            webhooks: crate::integrations::webhooks::settings::from_env()?,
            crm: crate::integrations::crm::settings::from_env()?,
        })
    }

    pub fn has_verification_key(&self) -> bool {
        self.jwt.hs256_secret.is_some() || !self.jwt.public_keys.is_empty()
    }
}
