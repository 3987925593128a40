//! SQL of accounts.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{AccountFilter, AccountRow};
use super::rules::account_number;
use crate::db::{unique_violation, Cached, Conn};
use crate::error::ApiError;
use crate::schema::accounts::dsl as a;

fn write_error(err: diesel::result::Error) -> ApiError {
    match unique_violation(&err) {
        Some("accounts_number_key") => ApiError::Conflict {
            code: "duplicate_number",
            detail: "Another account has this number.".into(),
            field: Some("number"),
        },
        Some("accounts_external_crm_id_key") => ApiError::Conflict {
            code: "duplicate_external_crm_id",
            detail: "Another account has this CRM id.".into(),
            field: Some("external_crm_id"),
        },
        _ => err.into(),
    }
}

#[derive(diesel::QueryableByName)]
struct Next {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    #[diesel(sql_type = Bool)]
    taken: bool,
}

/// The next free generated number (`ACC-000001`, ...), skipping numbers given by hand. Taken
/// from a sequence: a creation that rolls back leaves a gap, and none waits for another. One
/// statement draws the number and says whether it is taken; the SQL spells the number as
/// [`account_number`] does.
pub async fn next_account_number(conn: &mut Conn) -> Result<String, ApiError> {
    loop {
        let next: Next = Cached(diesel::sql_query(
            "SELECT s.n, EXISTS (SELECT 1 FROM accounts WHERE number = 'ACC-' || \
                    CASE WHEN s.n < 1000000 THEN lpad(s.n::text, 6, '0') ELSE s.n::text END) \
                    AS taken \
               FROM (SELECT nextval('account_numbers') AS n) s",
        ))
        .get_result(conn)
        .await?;
        if !next.taken {
            return Ok(account_number(next.n));
        }
    }
}

pub async fn insert(conn: &mut Conn, row: &AccountRow) -> Result<AccountRow, ApiError> {
    Cached(
        diesel::insert_into(a::accounts)
            .values(row)
            .returning(AccountRow::as_returning()),
    )
    .get_result(conn)
    .await
    .map_err(write_error)
}

/// Inserts with the next generated number. A number given by hand in a concurrent, not yet
/// committed request only shows when the insert meets it: then the next number is taken,
/// inside a savepoint so the transaction survives.
pub async fn insert_numbered(conn: &mut Conn, mut row: AccountRow) -> Result<AccountRow, ApiError> {
    loop {
        row.number = next_account_number(conn).await?;
        match conn
            .transaction(async |conn| insert(conn, &row).await)
            .await
        {
            Err(ApiError::Conflict {
                code: "duplicate_number",
                ..
            }) => continue,
            other => return other,
        }
    }
}

pub async fn update(conn: &mut Conn, row: &AccountRow) -> Result<AccountRow, ApiError> {
    Cached(
        diesel::update(a::accounts.find(row.id))
            .set(row)
            .returning(AccountRow::as_returning()),
    )
    .get_result(conn)
    .await
    .map_err(write_error)
}

/// The account if the caller may see it: a partner token sees only its partner's accounts.
fn visible(row: Option<AccountRow>, partner: Option<Uuid>) -> Result<AccountRow, ApiError> {
    row.filter(|r| partner.is_none() || r.partner_id == partner)
        .ok_or(ApiError::NotFound("account"))
}

pub async fn find_visible(
    conn: &mut Conn,
    id: Uuid,
    partner: Option<Uuid>,
) -> Result<AccountRow, ApiError> {
    let row = a::accounts
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)
        .await
        .optional()?;
    visible(row, partner)
}

/// The account a request names in `field`: an unknown id is a 422 on that field (other
/// errors stay what they are).
pub async fn find_named(conn: &mut Conn, id: Uuid, field: &str) -> Result<AccountRow, ApiError> {
    match find_visible(conn, id, None).await {
        Err(ApiError::NotFound(_)) => {
            Err(ApiError::field(field, "unknown", "no account has this id"))
        }
        other => other,
    }
}

/// Like [`find_visible`], locking the row for the rest of the transaction.
pub async fn lock_visible(
    conn: &mut Conn,
    id: Uuid,
    partner: Option<Uuid>,
) -> Result<AccountRow, ApiError> {
    let row = a::accounts
        .find(id)
        .select(AccountRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    visible(row, partner)
}

/// Like [`find_named`], locking the row for the rest of the transaction.
pub async fn lock_named(conn: &mut Conn, id: Uuid, field: &str) -> Result<AccountRow, ApiError> {
    match lock_visible(conn, id, None).await {
        Err(ApiError::NotFound(_)) => {
            Err(ApiError::field(field, "unknown", "no account has this id"))
        }
        other => other,
    }
}

/// Serialises the changes of who sits under whom: a parent is checked (cycles, depth) and set
/// by one transaction at a time, so two concurrent changes cannot close a loop.
pub async fn lock_hierarchy(conn: &mut Conn) -> Result<(), ApiError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('account_hierarchy'))")
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Level {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    depth: i32,
}

/// How far the walks up and down a family go: beyond the most levels a family may have, so
/// that the rules see a family too deep rather than stop short of it.
const WALK_LIMIT: i32 = 2 * super::rules::MAX_FAMILY_DEPTH as i32;

/// The account's ancestors, nearest first: its parent, the parent's parent, and so on.
pub async fn ancestors(conn: &mut Conn, id: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let levels: Vec<Level> = diesel::sql_query(
        "WITH RECURSIVE up AS (
             SELECT parent_id AS id, 1 AS depth FROM accounts
              WHERE id = $1 AND parent_id IS NOT NULL
             UNION ALL
             SELECT a.parent_id, up.depth + 1 FROM accounts a JOIN up ON a.id = up.id
              WHERE a.parent_id IS NOT NULL AND up.depth < $2)
         SELECT id, depth FROM up ORDER BY depth",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Integer, _>(WALK_LIMIT)
    .load(conn)
    .await?;
    Ok(levels.into_iter().map(|l| l.id).collect())
}

/// The account and every account under it with its depth below the account (0: the account
/// itself), each parent before its children.
pub async fn subtree(conn: &mut Conn, id: Uuid) -> Result<Vec<(Uuid, i32)>, ApiError> {
    let levels: Vec<Level> = diesel::sql_query(
        "WITH RECURSIVE down AS (
             SELECT id, 0 AS depth FROM accounts WHERE id = $1
             UNION ALL
             SELECT a.id, down.depth + 1 FROM accounts a JOIN down ON a.parent_id = down.id
              WHERE down.depth < $2)
         SELECT id, depth FROM down ORDER BY depth, id",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Integer, _>(WALK_LIMIT)
    .load(conn)
    .await?;
    Ok(levels.into_iter().map(|l| (l.id, l.depth)).collect())
}

/// The accounts with these ids, in no particular order.
pub async fn find_many(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<AccountRow>, ApiError> {
    Ok(a::accounts
        .filter(a::id.eq_any(ids))
        .select(AccountRow::as_select())
        .load(conn)
        .await?)
}

/// `%`, `_` and `\` taken literally in a LIKE pattern.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub async fn list(
    conn: &mut Conn,
    filter: &AccountFilter,
    partner_scope: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AccountRow>, ApiError> {
    let mut query = a::accounts.select(AccountRow::as_select()).into_boxed();
    if let Some(partner) = partner_scope {
        query = query.filter(a::partner_id.eq(partner));
    }
    if let Some(partner) = filter.partner_id {
        query = query.filter(a::partner_id.eq(partner));
    }
    if let Some(status) = filter.status {
        query = query.filter(a::status.eq(status));
    }
    if let Some(status) = filter.collections_status {
        query = query.filter(a::collections_status.eq(status));
    }
    if let Some(status) = filter.credit_status {
        query = query.filter(a::credit_status.eq(status));
    }
    if let Some(crm) = &filter.external_crm_id {
        query = query.filter(a::external_crm_id.eq(crm));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // Same expression as the trigram index accounts_search_idx.
        query = query.filter(
            sql::<Bool>("(number || ' ' || legal_name) ILIKE ").bind::<Text, _>(like_literal(q)),
        );
    }
    if let Some(after) = after {
        query = query.filter(a::id.gt(after));
    }
    Ok(query.order(a::id.asc()).limit(limit + 1).load(conn).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(super::like_literal("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
