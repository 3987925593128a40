//! Collections: what is past due and how late (aging), who is most at risk (risk scores,
//! portfolios and worklists), what was said (notes), what is sent when (dunning policies,
//! runs and notices), what was agreed (promises to pay), what is done to the service (service
//! orders), what goes to an agency (placements) and what collectors aim at (goals).

pub mod aging;
pub mod dunning;
pub mod events;
pub mod goals;
pub mod notes;
pub mod placements;
pub mod profiles;
pub mod promises;
pub mod risk;
pub mod service_orders;
pub mod settings;

use diesel::sql_types::{Array, Text, Uuid as SqlUuid};
use diesel::OptionalExtension;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use crate::accounts::model::{AccountStatus, CollectionsStatus};
use crate::audit::{self, Audited};
use crate::auth::{Principal, Role};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;

/// The caller recorded for changes the collections job makes on its own, at `now`.
pub fn system_ctx(now: time::OffsetDateTime) -> Ctx {
    Ctx {
        principal: Principal {
            subject: "system:collections".into(),
            role: Role::Admin,
            partner_id: None,
        },
        request_id: None,
        now,
    }
}

#[derive(diesel::QueryableByName)]
struct Previous {
    #[diesel(sql_type = Text)]
    previous: String,
}

/// Moves one of the account's status columns to `to` when it is one of `from`, with an audit
/// entry `{action}` holding the column before and after; whether it moved.
async fn move_account(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    column: &'static str,
    from: &[&str],
    to: &str,
    action: &str,
) -> Result<bool, ApiError> {
    let moved: Option<Previous> = diesel::sql_query(format!(
        "UPDATE accounts a
            SET {column} = $2, version = a.version + 1, updated_at = $4
           FROM (SELECT id, {column} AS previous FROM accounts WHERE id = $1 FOR UPDATE) p
          WHERE a.id = p.id AND p.previous = ANY($3) AND p.previous <> $2
      RETURNING p.previous"
    ))
    .bind::<SqlUuid, _>(account_id)
    .bind::<Text, _>(to)
    .bind::<Array<Text>, _>(from)
    .bind::<diesel::sql_types::Timestamptz, _>(ctx.now)
    .get_result(conn)
    .await
    .optional()?;
    let Some(previous) = moved else {
        return Ok(false);
    };
    let status = |value: &str| StatusColumn {
        account_id,
        column,
        value: value.to_string(),
    };
    audit::changed(
        conn,
        ctx,
        action,
        Some(&status(&previous.previous)),
        Some(&status(to)),
    )
    .await?;
    Ok(true)
}

/// One status column of an account, as the audit log records its move: `{column: value}`.
struct StatusColumn {
    account_id: Uuid,
    column: &'static str,
    value: String,
}

impl serde::Serialize for StatusColumn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.column, &self.value)?;
        map.end()
    }
}

impl Audited for StatusColumn {
    const ENTITY: &'static str = "account";

    fn entity_id(&self) -> Uuid {
        self.account_id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// Moves the account's collections status to `to` when it is one of `from`; whether it moved.
pub async fn set_status(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    from: &[CollectionsStatus],
    to: CollectionsStatus,
) -> Result<bool, ApiError> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let moved = move_account(
        conn,
        ctx,
        account_id,
        "collections_status",
        &from,
        to.as_str(),
        "account.collections_status_changed",
    )
    .await?;
    if moved {
        crate::accounts::service::collections_status_changed(conn, ctx.now, account_id).await?;
    }
    Ok(moved)
}

/// Moves the account's lifecycle status (by a completed service order) when it is one of
/// `from`; whether it moved.
pub async fn set_account_status(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    from: &[AccountStatus],
    to: AccountStatus,
) -> Result<bool, ApiError> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    move_account(
        conn,
        ctx,
        account_id,
        "status",
        &from,
        to.as_str(),
        "account.status_changed",
    )
    .await
}

/// The account's undisputed balance past due at the end of `today`.
pub async fn past_due(conn: &mut Conn, account_id: Uuid, today: Date) -> Result<Decimal, ApiError> {
    use crate::invoices::model::InvoiceStatus;
    use crate::schema::invoices::dsl as i;
    use diesel::{ExpressionMethods, QueryDsl};
    // A query of the DSL, not raw SQL: its prepared statement is kept (it runs whenever
    // cash moves).
    let amount: Option<Decimal> = i::invoices
        .filter(i::account_id.eq(account_id))
        .filter(i::status.eq(InvoiceStatus::Open))
        .filter(i::due_date.lt(today))
        .select(diesel::dsl::sum(i::balance_due - i::disputed_amount))
        .first(conn)
        .await?;
    Ok(amount.unwrap_or(Decimal::ZERO))
}

/// Of `accounts`, those where cash moving may change something for collections on `today`
/// (what [`events::cash_moved`] acts on): an active promise, an open suspension or
/// termination order made by dunning, or in dunning or suspended with nothing past due any
/// more; in the order given.
pub async fn with_collections_work(
    conn: &mut Conn,
    accounts: &[Uuid],
    today: Date,
) -> Result<Vec<Uuid>, ApiError> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let found: Vec<Found> = diesel::sql_query(
        "SELECT a.id FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)
           JOIN accounts a ON a.id = u.id
          WHERE ((a.collections_status = 'in_dunning' OR a.status = 'suspended')
                 AND (SELECT COALESCE(sum(i.balance_due - i.disputed_amount), 0) FROM invoices i
                       WHERE i.account_id = a.id AND i.status = 'open' AND i.due_date < $2) <= 0)
             OR EXISTS (SELECT 1 FROM promises p
                         WHERE p.account_id = a.id AND p.status = 'active')
             OR EXISTS (SELECT 1 FROM service_orders o
                         WHERE o.account_id = a.id AND o.status IN ('pending', 'sent')
                           AND o.source = 'dunning' AND o.kind IN ('suspend', 'terminate'))
          ORDER BY u.n",
    )
    .bind::<Array<SqlUuid>, _>(accounts)
    .bind::<diesel::sql_types::Date, _>(today)
    .load(conn)
    .await?;
    Ok(found.into_iter().map(|f| f.id).collect())
}

/// An account's past-due open balance at the end of a day, and the parts of it collections
/// may act on.
#[derive(Debug, Clone, Copy, PartialEq, Default, diesel::QueryableByName)]
pub struct PastDue {
    /// Balances of open invoices due before the day.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub total: Decimal,
    /// Less what is under dispute.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub undisputed: Decimal,
    /// Less, too, the invoices an active promise to pay covers.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub unpromised: Decimal,
}

impl PastDue {
    /// Why a suspension or termination ordered by dunning has lost its reason, if it has:
    /// nothing past due is left that dunning would act on.
    pub fn obsolete_because(&self) -> Option<&'static str> {
        if self.total <= Decimal::ZERO {
            Some("the past-due balance was paid or credited")
        } else if self.undisputed <= Decimal::ZERO {
            Some("the past-due balance is under dispute")
        } else if self.unpromised <= Decimal::ZERO {
            Some("the past-due balance is covered by an active promise to pay")
        } else {
            None
        }
    }
}

/// The account's [`PastDue`] at the end of `today`: one query.
pub async fn past_due_parts(
    conn: &mut Conn,
    account_id: Uuid,
    today: Date,
) -> Result<PastDue, ApiError> {
    Ok(diesel::sql_query(
        "SELECT COALESCE(sum(i.balance_due), 0) AS total,
                COALESCE(sum(i.balance_due - i.disputed_amount), 0) AS undisputed,
                COALESCE(sum(i.balance_due - i.disputed_amount) FILTER (WHERE NOT EXISTS (
                    SELECT 1 FROM promise_invoices pv JOIN promises pr ON pr.id = pv.promise_id
                     WHERE pv.invoice_id = i.id AND pr.status = 'active')), 0) AS unpromised
           FROM invoices i
          WHERE i.account_id = $1 AND i.status = 'open' AND i.due_date < $2",
    )
    .bind::<SqlUuid, _>(account_id)
    .bind::<diesel::sql_types::Date, _>(today)
    .get_result(conn)
    .await?)
}

/// Where a closed arrangement leaves the account: still in dunning while anything is past due.
pub async fn status_after_arrangement(
    conn: &mut Conn,
    account_id: Uuid,
    today: Date,
) -> Result<CollectionsStatus, ApiError> {
    Ok(
        if past_due(conn, account_id, today).await? > Decimal::ZERO {
            CollectionsStatus::InDunning
        } else {
            CollectionsStatus::None
        },
    )
}

/// Opens a collections task on the account (or one of its invoices), assigned to the
/// account's collector; audited.
#[allow(clippy::too_many_arguments)]
pub async fn open_task(
    conn: &mut Conn,
    ctx: &Ctx,
    kind: &str,
    account_id: Uuid,
    invoice_id: Option<Uuid>,
    title: String,
    description: String,
    priority: crate::tasks::model::Priority,
    due_date: Date,
) -> Result<crate::tasks::model::TaskRow, ApiError> {
    use crate::tasks::model::{SubjectType, TaskRow, TaskView};
    let collector = profiles::find(conn, account_id).await?.collector;
    let (subject_type, subject_id) = match invoice_id {
        Some(id) => (SubjectType::Invoice, id),
        None => (SubjectType::Account, account_id),
    };
    let mut row = TaskRow::new(
        kind,
        subject_type,
        subject_id,
        Some(account_id),
        title.chars().take(200).collect(),
        due_date,
        priority,
        &ctx.principal.subject,
        ctx.now,
    );
    row.description = Some(description);
    row.assignee = collector;
    let row = crate::tasks::store::insert(conn, &row).await?;
    let view = TaskView::from(row.clone());
    // The task's account is `account_id` (given to `TaskRow::new` above).
    audit::changed(conn, ctx, "task.created", None, Some(&view)).await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn past_due(total: i64, undisputed: i64, unpromised: i64) -> PastDue {
        PastDue {
            total: Decimal::from(total),
            undisputed: Decimal::from(undisputed),
            unpromised: Decimal::from(unpromised),
        }
    }

    #[test]
    fn a_dunning_order_keeps_its_reason_while_something_past_due_is_dunnable() {
        let cases = [
            (past_due(0, 0, 0), Some("paid or credited")),
            (past_due(300, 0, 0), Some("under dispute")),
            (past_due(300, 200, 0), Some("active promise")),
            (past_due(300, 200, 50), None),
            (past_due(300, 300, 300), None),
        ];
        for (p, expected) in cases {
            let got = p.obsolete_because();
            match expected {
                Some(words) => assert!(got.is_some_and(|g| g.contains(words)), "{p:?}: {got:?}"),
                None => assert_eq!(got, None, "{p:?}"),
            }
        }
    }
}
