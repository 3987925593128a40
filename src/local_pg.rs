//! A private PostgreSQL for zero-setup starts: when no `DATABASE_URL` is given, `serve` runs a
//! cluster from the PostgreSQL binaries installed on the machine, with its data under
//! `./var/pg` (kept between starts), and stops it when the service stops.

use std::path::{Path, PathBuf};
use std::process::Command;

const DATABASE: &str = "receivables";

/// A running private cluster.
pub struct LocalPostgres {
    bin: PathBuf,
    data: PathBuf,
    run_as: Option<String>,
    /// The service's URL: as `receivables_service`, which owns no table.
    pub url: String,
    /// The owner's URL, for migrations.
    pub owner_url: String,
    /// The service's URL with its password masked, for logs.
    pub display_url: String,
}

fn has_tools(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

/// Finds `initdb` and `pg_ctl`: `PG_BIN_DIR`, `pg_config --bindir`, the newest
/// `/usr/lib/postgresql/*/bin`, then `PATH`.
fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN_DIR").map(PathBuf::from) {
        return has_tools(&dir).then_some(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_tools(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| has_tools(dir))
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

impl LocalPostgres {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(path);
                cmd
            }
            None => Command::new(path),
        }
    }

    fn run(&self, mut cmd: Command, what: &str) -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Starts (or adopts) the cluster under `dir` and makes sure the database exists.
    pub fn start(dir: &Path) -> Result<LocalPostgres, String> {
        let bin = find_bin_dir().ok_or_else(|| {
            "no DATABASE_URL is set and no PostgreSQL server binaries (initdb, pg_ctl) were found.\n\
             Either set DATABASE_URL=postgres://user@host:5432/receivables, or install PostgreSQL \
             (Debian/Ubuntu: apt-get install -y postgresql; or set PG_BIN_DIR to its bin directory)."
                .to_string()
        })?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let dir = dir.canonicalize().map_err(|e| e.to_string())?;
        let fresh = !dir.join("data").join("PG_VERSION").exists();
        let password_file = dir.join("password");
        if fresh {
            write_private(&password_file, &random_password()?)?;
        }
        let service_password_file = dir.join("service-password");
        if !service_password_file.exists() {
            write_private(&service_password_file, &random_password()?)?;
        }
        let service_password = std::fs::read_to_string(&service_password_file)
            .map_err(|e| format!("{}: {e}", service_password_file.display()))?
            .trim()
            .to_string();
        // A cluster made before passwords were used has no file: it trusts loopback.
        let password = std::fs::read_to_string(&password_file)
            .ok()
            .map(|p| p.trim().to_string());
        // PostgreSQL refuses to run as root: run it as the `postgres` system user then.
        let run_as = if unsafe { libc::geteuid() } == 0 {
            let exists = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .is_ok_and(|o| o.status.success());
            if !exists {
                return Err(
                    "running as root needs a `postgres` system user to own the private cluster \
                            (apt-get install -y postgresql creates it), or set DATABASE_URL"
                        .into(),
                );
            }
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!(
                    "cannot hand {} to the postgres user",
                    dir.display()
                ));
            }
            Some("postgres".to_string())
        } else {
            None
        };
        let mut pg = LocalPostgres {
            bin,
            data: dir.join("data"),
            run_as,
            url: String::new(),
            owner_url: String::new(),
            display_url: String::new(),
        };
        if !pg.data.join("PG_VERSION").exists() {
            log::info!(
                "initialising a private PostgreSQL cluster in {}",
                pg.data.display()
            );
            let mut cmd = pg.command("initdb");
            cmd.arg("-D").arg(&pg.data).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ]);
            pg.run(cmd, "initdb")?;
        }
        let running = pg
            .command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&pg.data)
            .output()
            .is_ok_and(|o| o.status.success());
        let port = if running {
            let pid = std::fs::read_to_string(pg.data.join("postmaster.pid"))
                .map_err(|e| e.to_string())?;
            pid.lines()
                .nth(3)
                .and_then(|l| l.trim().parse::<u16>().ok())
                .ok_or("cannot read the port of the running private cluster")?
        } else {
            let port = free_port()?;
            let mut cmd = pg.command("pg_ctl");
            cmd.arg("start")
                .arg("-D")
                .arg(&pg.data)
                .arg("-l")
                .arg(dir.join("postgres.log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(format!(
                    "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
                ));
            pg.run(cmd, "pg_ctl start")?;
            port
        };
        let credentials = match &password {
            Some(p) => format!("postgres:{p}"),
            None => "postgres".to_string(),
        };
        let admin_url = format!("postgres://{credentials}@127.0.0.1:{port}/postgres");
        create_database(&admin_url)?;
        ensure_service_role(&admin_url, &service_password)?;
        pg.owner_url = format!("postgres://{credentials}@127.0.0.1:{port}/{DATABASE}");
        pg.url =
            format!("postgres://{SERVICE_ROLE}:{service_password}@127.0.0.1:{port}/{DATABASE}");
        pg.display_url = format!(
            "postgres://{SERVICE_ROLE}:***@127.0.0.1:{port}/{DATABASE} (password in {})",
            service_password_file.display()
        );
        Ok(pg)
    }

    /// Stops the cluster (fast shutdown: open sessions are ended, data is safe).
    pub fn stop(&self) {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w"]);
        match self.run(cmd, "pg_ctl stop") {
            Ok(()) => log::info!("private PostgreSQL stopped"),
            Err(e) => log::warn!("{e}"),
        }
    }
}

fn random_password() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, content: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(content.as_bytes())
        .map_err(|e| e.to_string())
}

/// The role the service's queries run as (made by the migrations; see README, "Database roles").
pub const SERVICE_ROLE: &str = "receivables_service";

/// Makes the service's role able to log in with `password`, creating it when the cluster has
/// none yet (the migrations then grant it its rights).
pub fn ensure_service_role(admin_url: &str, password: &str) -> Result<(), String> {
    use diesel::{Connection, RunQueryDsl};
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    let mut conn = AsyncConnectionWrapper::<diesel_async::AsyncPgConnection>::establish(admin_url)
        .map_err(|e| e.to_string())?;
    let password = password.replace('\'', "''");
    diesel::sql_query(format!(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN \
             CREATE ROLE {SERVICE_ROLE} LOGIN PASSWORD '{password}'; \
           ELSE \
             ALTER ROLE {SERVICE_ROLE} LOGIN PASSWORD '{password}'; \
           END IF; \
         END $$"
    ))
    .execute(&mut conn)
    .map_err(|e| format!("cannot set up the role {SERVICE_ROLE}: {e}"))?;
    Ok(())
}

fn create_database(admin_url: &str) -> Result<(), String> {
    use diesel::sql_types::Bool;
    use diesel::{Connection, RunQueryDsl};
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    let mut conn = AsyncConnectionWrapper::<diesel_async::AsyncPgConnection>::establish(admin_url)
        .map_err(|e| e.to_string())?;
    let exists: bool = diesel::select(diesel::dsl::sql::<Bool>(&format!(
        "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{DATABASE}')"
    )))
    .get_result(&mut conn)
    .map_err(|e| e.to_string())?;
    if !exists {
        diesel::sql_query(format!("CREATE DATABASE {DATABASE}"))
            .execute(&mut conn)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
