//! SQL of collections profiles and portfolio rules.

use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::model::{ProfileRow, Reassignment, RuleRow};
use crate::accounts::model::CollectionsStatus;
use crate::db::Conn;
use crate::error::ApiError;
use crate::money::Currency;
use crate::schema::assignment_rules::dsl as r;
use crate::schema::collection_profiles::dsl as p;

pub async fn find(conn: &mut Conn, account_id: Uuid) -> Result<ProfileRow, ApiError> {
    Ok(p::collection_profiles
        .find(account_id)
        .select(ProfileRow::as_select())
        .first(conn)
        .await
        .optional()?
        .unwrap_or_else(|| ProfileRow::blank(account_id)))
}

pub async fn save(conn: &mut Conn, row: &ProfileRow) -> Result<(), ApiError> {
    diesel::insert_into(p::collection_profiles)
        .values(row)
        .on_conflict(p::account_id)
        .do_update()
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn rules(conn: &mut Conn) -> Result<Vec<RuleRow>, ApiError> {
    Ok(r::assignment_rules
        .select(RuleRow::as_select())
        .order(r::position)
        .load(conn)
        .await?)
}

#[derive(diesel::QueryableByName)]
pub struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub partner_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub collector: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub assignment_rule_id: Option<Uuid>,
}

/// Whether a rule holds `position`, locking it so that two rules cannot take it at once.
pub async fn position_taken(conn: &mut Conn, position: i32) -> Result<bool, ApiError> {
    let taken: Option<Uuid> = r::assignment_rules
        .filter(r::position.eq(position))
        .select(r::id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    Ok(taken.is_some())
}

pub async fn insert_rule(conn: &mut Conn, row: &RuleRow) -> Result<(), ApiError> {
    diesel::insert_into(r::assignment_rules)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes a rule; the row it was, or `None` when there was none.
pub async fn delete_rule(conn: &mut Conn, id: Uuid) -> Result<Option<RuleRow>, ApiError> {
    Ok(diesel::delete(r::assignment_rules.find(id))
        .returning(RuleRow::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// The open accounts the rules decide (those not assigned by hand), with their profiles
/// locked so that a hand assignment made meanwhile is not overwritten.
pub async fn lock_candidates(conn: &mut Conn) -> Result<Vec<Candidate>, ApiError> {
    Ok(diesel::sql_query(
        "SELECT a.id, a.partner_id, cp.collector, cp.assignment_rule_id
           FROM accounts a
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
          WHERE a.status <> 'closed'
            AND (cp.collector IS NULL OR cp.assignment_rule_id IS NOT NULL)
          ORDER BY a.id
            FOR UPDATE OF a",
    )
    .load(conn)
    .await?)
}

/// Writes the reassignments in one statement, creating the profiles that do not exist yet.
pub async fn reassign(
    conn: &mut Conn,
    changes: &[Reassignment],
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let accounts: Vec<Uuid> = changes.iter().map(|c| c.account_id).collect();
    let collectors: Vec<Option<&str>> = changes.iter().map(|c| c.to.as_deref()).collect();
    let rule_ids: Vec<Option<Uuid>> = changes.iter().map(|c| c.rule_id).collect();
    diesel::sql_query(
        "INSERT INTO collection_profiles
                (account_id, collector, assignment_rule_id, assigned_at, updated_at)
         SELECT x.account_id, x.collector, x.rule_id,
                CASE WHEN x.collector IS NULL THEN NULL ELSE $4 END, $4
           FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS x(account_id, collector, rule_id)
         ON CONFLICT (account_id) DO UPDATE
            SET collector = EXCLUDED.collector,
                assignment_rule_id = EXCLUDED.assignment_rule_id,
                assigned_at = EXCLUDED.assigned_at,
                version = collection_profiles.version + 1,
                updated_at = EXCLUDED.updated_at",
    )
    .bind::<Array<SqlUuid>, _>(&accounts)
    .bind::<Array<Nullable<Text>>, _>(&collectors)
    .bind::<Array<Nullable<SqlUuid>>, _>(&rule_ids)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// An account of a collector's portfolio, as the worklist starts from it.
#[derive(diesel::QueryableByName)]
pub struct WorklistAccount {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub number: String,
    #[diesel(sql_type = Text)]
    pub legal_name: String,
    #[diesel(sql_type = Text)]
    pub currency: Currency,
    #[diesel(sql_type = Text)]
    pub collections_status: CollectionsStatus,
}

/// The accounts of `collector`'s portfolio that owe something undisputed past due on `today`
/// or have an active promise.
pub async fn worklist_accounts(
    conn: &mut Conn,
    collector: &str,
    today: Date,
) -> Result<Vec<WorklistAccount>, ApiError> {
    Ok(diesel::sql_query(
        "SELECT a.id, a.number, a.legal_name, a.currency, a.collections_status
           FROM collection_profiles cp
           JOIN accounts a ON a.id = cp.account_id
          WHERE cp.collector = $1
            AND (EXISTS (SELECT 1 FROM invoices i
                          WHERE i.account_id = a.id AND i.status = 'open' AND i.due_date < $2
                            AND i.balance_due > i.disputed_amount)
                 OR EXISTS (SELECT 1 FROM promises p
                             WHERE p.account_id = a.id AND p.status = 'active'))",
    )
    .bind::<Text, _>(collector)
    .bind::<diesel::sql_types::Date, _>(today)
    .load(conn)
    .await?)
}
