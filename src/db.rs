//! The connection pool, embedded migrations, and helpers shared by every store.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::ApiError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;
pub type Conn = AsyncPgConnection;

/// Declares a closed set of text values stored in a `text` column and sent as a JSON string.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
                 utoipa::ToSchema, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name { $( #[serde(rename = $text)] $variant ),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg>>::from_sql(bytes)?;
                text.parse().map_err(Into::into)
            }
        }
    };
}

/// The connection pool. A connection goes back to work without a test query each time
/// (a round trip per request); one the server closed is dropped when it fails.
pub fn pool(url: &str, size: usize) -> Result<DbPool, String> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| e.to_string())
}

/// Key of the advisory lock that lets one instance at a time migrate.
const MIGRATION_LOCK: i64 = 0x0052_4543_564d_4947;

/// Applies pending migrations, one instance at a time (others wait, then find nothing
/// pending). Blocking: call it outside an async runtime, or from `spawn_blocking`.
pub fn run_migrations(url: &str) -> Result<Vec<String>, String> {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let mut conn =
        AsyncConnectionWrapper::<AsyncPgConnection>::establish(url).map_err(|e| e.to_string())?;
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .map_err(|e| e.to_string())?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(|v| v.to_string()).collect())
        .map_err(|e| e.to_string());
    let _ = conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    applied
}

pub async fn conn(pool: &DbPool) -> Result<Object<AsyncPgConnection>, ApiError> {
    pool.get()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))
}

/// The name of the unique constraint a write broke, if that is what happened.
pub fn unique_violation(err: &DieselError) -> Option<&str> {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            Some(info.constraint_name().unwrap_or("unknown"))
        }
        _ => None,
    }
}

/// Narrows a boxed query to the rows whose `column` is one of `ids`. One id is compared
/// with `=`, so that PostgreSQL keeps one plan for the prepared statement; with
/// `= ANY($1)` it plans the statement again at every execution (an array's length is
/// unknown to a generic plan, so the plan made for the actual one always looks cheaper).
#[macro_export]
macro_rules! filter_ids {
    ($query:expr, $column:expr, $ids:expr) => {
        match $ids {
            [one] => $query.filter($column.eq(*one)),
            ids => $query.filter($column.eq_any(ids)),
        }
    };
}

/// A statement kept prepared on its connection where Diesel would prepare it anew at every
/// execution: UPDATEs, upserts, multi-row inserts and raw SQL, whose text Diesel cannot
/// know from their type. Prepared statements are then kept by their SQL text, so this is
/// right for any statement but worth it only where the text takes few shapes (never for a
/// batch of any length: each length would stay prepared).
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(pub Q);

impl<Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>>
    diesel::query_builder::QueryFragment<diesel::pg::Pg> for Cached<Q>
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &diesel::pg::Pg) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

/// The longest batch a request's store keeps prepared with [`Cached`] (a payment posts
/// three ledger entries); longer ones (billing's) are prepared each time.
pub const FEW_ROWS: usize = 8;

impl<Q> diesel::query_builder::QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

/// Takes the next number of a series inside the caller's transaction: gapless, because a
/// rolled-back transaction gives its number back, and serialised by the row lock. A series
/// seen for the first time (a new year's invoices) starts at 1.
pub async fn next_number(conn: &mut Conn, series: &str) -> Result<i64, ApiError> {
    next_numbers(conn, series, 1).await
}

/// Takes the next `count` numbers of a series at once, like [`next_number`]; answers the
/// first. The caller uses every one of them in its transaction.
pub async fn next_numbers(conn: &mut Conn, series: &str, count: i64) -> Result<i64, ApiError> {
    use crate::schema::number_series::dsl;
    let value: i64 = Cached(
        diesel::insert_into(dsl::number_series)
            .values((dsl::series.eq(series), dsl::next_value.eq(1 + count)))
            .on_conflict(dsl::series)
            .do_update()
            .set(dsl::next_value.eq(dsl::next_value + count))
            .returning(dsl::next_value - count),
    )
    .get_result(conn)
    .await?;
    Ok(value)
}

use diesel::ExpressionMethods;

/// What the pool's role may do beyond reading and writing rows (`None`: nothing): a
/// superuser or a table's owner can disable the triggers that keep the audit log and the
/// ledger append-only.
pub async fn excess_privileges(pool: &DbPool) -> Result<Option<String>, String> {
    #[derive(diesel::QueryableByName)]
    struct Powers {
        #[diesel(sql_type = diesel::sql_types::Text)]
        role: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        superuser: bool,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        owned: i64,
    }
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let powers: Powers = diesel::sql_query(
        "SELECT current_user::text AS role, rolsuper AS superuser, \
                (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' \
                   AND tableowner = current_user) AS owned \
         FROM pg_roles WHERE rolname = current_user",
    )
    .get_result(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(if powers.superuser {
        Some(format!("{} is a superuser", powers.role))
    } else if powers.owned > 0 {
        Some(format!("{} owns {} tables", powers.role, powers.owned))
    } else {
        None
    })
}

/// Whether the database answers.
pub async fn ping(pool: &DbPool) -> Result<(), ApiError> {
    let mut conn = conn(pool).await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}

/// Stores a serde type in a `jsonb` column; the type derives `AsExpression` and `FromSqlRow`
/// with `#[diesel(sql_type = diesel::sql_types::Jsonb)]`.
#[macro_export]
macro_rules! jsonb_column {
    ($name:ty) => {
        impl diesel::serialize::ToSql<diesel::sql_types::Jsonb, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                use std::io::Write;
                out.write_all(&[1])?;
                serde_json::to_writer(out, self)?;
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Jsonb, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let value = <serde_json::Value as diesel::deserialize::FromSql<
                    diesel::sql_types::Jsonb,
                    diesel::pg::Pg,
                >>::from_sql(bytes)?;
                Ok(serde_json::from_value(value)?)
            }
        }
    };
}

/// Child rows read for several parents at once, by their parent's id (in the order read).
pub fn by_parent<T>(
    rows: Vec<T>,
    parent: impl Fn(&T) -> uuid::Uuid,
) -> std::collections::HashMap<uuid::Uuid, Vec<T>> {
    let mut out: std::collections::HashMap<uuid::Uuid, Vec<T>> = Default::default();
    for row in rows {
        out.entry(parent(&row)).or_default().push(row);
    }
    out
}
