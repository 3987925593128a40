//! The `receivables` command: reads configuration and runs the service or one of its tools.

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use receivables::auth::{self, Role};
use receivables::local_pg::LocalPostgres;
use receivables::Config;
use receivables::{db, observability, Application};

/// Where development mode keeps its ephemeral HS256 secret for `token --dev`.
const DEV_SECRET_FILE: &str = "var/dev-jwt-secret";
const DEV_KID: &str = "dev";

#[derive(Parser)]
#[command(name = "receivables", version, about = "Accounts-receivable service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (starts a private PostgreSQL when DATABASE_URL is not set).
    Serve {
        /// Development mode: without a configured key, sign with an ephemeral one.
        #[arg(long)]
        dev: bool,
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending migrations (as MIGRATION_DATABASE_URL's role, else DATABASE_URL's) and exit.
    Migrate,
    /// Mint an access token with the configured signing key.
    Token {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Partner id, required for --role partner.
        #[arg(long)]
        partner: Option<uuid::Uuid>,
        /// Subject (the user or system the token stands for).
        #[arg(long, default_value = "cli")]
        sub: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// Sign with the key of a server running in development mode.
        #[arg(long)]
        dev: bool,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Fill an empty database (MIGRATION_DATABASE_URL or DATABASE_URL, migrated first) with realistic, consistent data
    /// for benchmarks and demonstrations.
    Seed {
        #[arg(long, default_value_t = 10_000)]
        accounts: usize,
        #[arg(long, default_value_t = 20_000)]
        contracts: usize,
        /// About this many invoices: the contracts' monthly billing, then one-off invoices.
        #[arg(long, default_value_t = 1_000_000)]
        invoices: usize,
        /// About this many payments.
        #[arg(long, default_value_t = 700_000)]
        payments: usize,
        /// Months of history.
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=120))]
        months: u32,
        /// Seed of the random choices: the same seed draws the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The last day of the history (default today).
        #[arg(long, value_parser = parse_date)]
        as_of: Option<time::Date>,
    },
}

fn parse_date(s: &str) -> Result<time::Date, String> {
    time::Date::parse(s, &time::format_description::well_known::Iso8601::DATE)
        .map_err(|_| "a date like 2026-11-28".to_string())
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|_| {
        let roles: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role; one of {}", roles.join(", "))
    })
}

fn random_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_dev_secret(secret: &str) -> Result<(), String> {
    if let Some(dir) = Path::new(DEV_SECRET_FILE).parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    receivables::local_pg::write_private(Path::new(DEV_SECRET_FILE), secret)
}

fn serve(mut config: Config, dev: bool, no_migrate: bool) -> Result<(), String> {
    config.dev_mode |= dev;
    config.run_migrations &= !no_migrate;
    if !config.has_verification_key() {
        if !config.dev_mode {
            return Err(
                "no JWT key is configured: set JWT_HS256_SECRET (32+ bytes) or JWT_PUBLIC_KEYS, \
                        or start in development mode with `serve --dev`"
                    .into(),
            );
        }
        let secret = random_secret()?;
        write_dev_secret(&secret)?;
        config.jwt.hs256_secret = Some((DEV_KID.into(), secret.into_bytes()));
        log::warn!(
            "DEVELOPMENT MODE: signing tokens with an ephemeral HS256 key (kid {DEV_KID}) made for this run \
             and kept in {DEV_SECRET_FILE}; mint tokens with `receivables token --dev --role admin`. \
             Never use this mode in production."
        );
    }
    let local = match &config.database_url {
        Some(_) => None,
        None => {
            let pg = LocalPostgres::start(&config.pg_dir)?;
            println!(
                "Using private PostgreSQL at {} (data in {})",
                pg.display_url,
                config.pg_dir.display()
            );
            log::info!("private PostgreSQL at {}", pg.display_url);
            config.database_url = Some(pg.url.clone());
            config.migration_database_url = Some(pg.owner_url.clone());
            Some(pg)
        }
    };
    let result = run_server(config);
    if let Some(pg) = local {
        pg.stop();
    }
    result
}

fn run_server(config: Config) -> Result<(), String> {
    let url = config.database_url.clone().expect("database url is set");
    if config.run_migrations {
        let applied = db::run_migrations(config.owner_url().expect("database url is set"))?;
        log::info!(
            "migrations applied: {}",
            if applied.is_empty() {
                "none pending".into()
            } else {
                applied.join(", ")
            }
        );
    }
    actix_web::rt::System::new().block_on(async move {
        let pool = db::pool(&url, config.pool_size)?;
        if let Some(powers) = db::excess_privileges(&pool).await? {
            log::warn!(
                "the service's database role {powers}: the audit log and the ledger are \
                 append-only only against a role that cannot; run the service as \
                 receivables_service (README, \"Database roles\")"
            );
        }
        let listener = std::net::TcpListener::bind(config.bind)
            .map_err(|e| format!("cannot bind {}: {e}", config.bind))?;
        let ttl = config.idempotency_ttl_hours;
        let clock = receivables::clock::Clock::system();
        let app = Application::build(config.clone(), pool.clone(), listener, clock.clone())?;
        log::info!("listening on http://{}", config.bind);
        println!(
            "Receivables listening on http://{} (docs at /docs/)",
            config.bind
        );
        receivables::spawn_housekeeping(pool, ttl, clock);
        app.server.await.map_err(|e| e.to_string())?;
        log::info!("server stopped");
        Ok(())
    })
}

fn token(
    mut config: Config,
    role: Role,
    partner: Option<uuid::Uuid>,
    sub: &str,
    ttl: u64,
    dev: bool,
) -> Result<String, String> {
    if role == Role::Partner && partner.is_none() {
        return Err("--role partner needs --partner <partner id>".into());
    }
    if dev && config.jwt.hs256_secret.is_none() && config.jwt.signing_key.is_none() {
        let secret = std::fs::read_to_string(DEV_SECRET_FILE).map_err(|e| {
            format!("{DEV_SECRET_FILE}: {e} (start the service with `serve --dev` first)")
        })?;
        config.jwt.hs256_secret = Some((DEV_KID.into(), secret.trim().as_bytes().to_vec()));
    }
    auth::mint(&config.jwt, sub, role, partner, ttl)
}

fn run_seed(config: &Config, options: &receivables::seed::Options) -> Result<(), String> {
    let url = config.owner_url().ok_or(
        "seed needs DATABASE_URL or MIGRATION_DATABASE_URL (a migrated, empty database, \
         as its owner; it migrates it first)",
    )?;
    if options.accounts == 0 || options.contracts < options.accounts {
        return Err("--accounts must be at least 1 and --contracts at least --accounts".into());
    }
    db::run_migrations(url)?;
    let settings = receivables::seed::Settings {
        billing: config.billing.clone(),
        small_balance_tolerance: config.payments.small_balance_tolerance,
        dispute_sla_business_days: config.credits.dispute_sla_business_days,
        holidays: config.credits.holidays.clone(),
    };
    let progress = receivables::seed::Progress::new();
    let summary = std::thread::scope(|s| {
        s.spawn(|| progress.run());
        let summary = receivables::seed::run(url, options, &settings, &progress);
        progress.finish();
        summary
    })?;
    println!("{:<24} {:>12}", "table", "rows");
    for (table, rows) in &summary.rows {
        println!("{table:<24} {rows:>12}");
    }
    let total: u64 = summary.rows.iter().map(|(_, n)| n).sum();
    println!("{:<24} {total:>12}", "all tables");
    let steps: Vec<String> = summary
        .steps
        .iter()
        .map(|(step, took)| format!("{step} {:.1} s", took.as_secs_f64()))
        .collect();
    println!(
        "{} invoices in {:.1} s ({}): {} invoices/s",
        summary.invoices,
        summary.total().as_secs_f64(),
        steps.join(", "),
        summary.invoices_per_second()
    );
    if summary.problems.is_empty() {
        println!("the ledger reconciles with every invoice, payment, credit memo and account");
        Ok(())
    } else {
        Err(format!(
            "the seeded books do not reconcile: {}",
            summary.problems.join("; ")
        ))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    observability::init_logging();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("receivables: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Serve { dev, no_migrate } => serve(config, dev, no_migrate),
        Command::Migrate => match config.owner_url() {
            None => Err("migrate needs MIGRATION_DATABASE_URL or DATABASE_URL".into()),
            Some(url) => db::run_migrations(url).map(|applied| {
                println!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                );
            }),
        },
        Command::Token {
            role,
            partner,
            sub,
            ttl,
            dev,
        } => token(config, role, partner, &sub, ttl, dev).map(|t| println!("{t}")),
        Command::Openapi => {
            print!("{}", receivables::openapi_json());
            Ok(())
        }
        Command::Seed {
            accounts,
            contracts,
            invoices,
            payments,
            months,
            seed,
            as_of,
        } => {
            let options = receivables::seed::Options {
                accounts,
                contracts,
                invoices,
                payments,
                months,
                seed,
                as_of: as_of.unwrap_or_else(|| receivables::clock::Clock::system().today()),
                threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            };
            run_seed(&config, &options)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("receivables: {e}");
            ExitCode::FAILURE
        }
    }
}
