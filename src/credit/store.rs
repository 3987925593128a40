//! SQL of credit management: reviews, holds, the payment history's inputs, exposure, and the
//! accounts due for review or for an automatic hold.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date as SqlDate, Integer, Numeric, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::{DueAccount, HoldRow, ReviewFilter, ReviewRow};
use super::rules::HistoryInputs;
use super::settings::CreditManagementSettings;
use crate::accounts::model::RiskLevel;
use crate::db::{unique_violation, Conn};
use crate::error::ApiError;
use crate::schema::credit_holds::dsl as h;
use crate::schema::credit_reviews::dsl as r;

/// Common tables over the accounts in `$1` (a uuid array): `up`, each account and, while the
/// one reached uses its parent's credit (`credit_scope = 'parent'`), the accounts above it;
/// `heads`, the credit accounts they come to (an account with its own credit is its own);
/// `members`, each head's credit family: the head and the accounts under it that use its
/// credit, level by level.
pub const CREDIT_FAMILIES: &str = "WITH RECURSIVE up AS (
             SELECT id AS start, id, parent_id, credit_scope, 0 AS depth
               FROM accounts WHERE id = ANY($1)
             UNION ALL
             SELECT up.start, p.id, p.parent_id, p.credit_scope, up.depth + 1
               FROM accounts p JOIN up ON p.id = up.parent_id
              WHERE up.credit_scope = 'parent' AND up.depth < 10),
         heads AS (SELECT DISTINCT id FROM up WHERE credit_scope = 'own'),
         members AS (
             SELECT id AS head, id, 0 AS depth FROM heads
             UNION ALL
             SELECT m.head, a.id, m.depth + 1 FROM accounts a JOIN members m ON a.parent_id = m.id
              WHERE a.credit_scope = 'parent' AND m.depth < 10)";

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// The account whose credit `account_id` uses: itself, or with `credit_scope: parent` its
/// parent's credit account, up the tree.
pub async fn credit_head(conn: &mut Conn, account_id: Uuid) -> Result<Uuid, ApiError> {
    let head: Option<Id> = diesel::sql_query(format!("{CREDIT_FAMILIES} SELECT id FROM heads"))
        .bind::<Array<SqlUuid>, _>(&[account_id][..])
        .get_result(conn)
        .await
        .optional()?;
    Ok(head.map_or(account_id, |h| h.id))
}

/// The credit family of a head: itself first, then the accounts under it that use its credit.
pub async fn credit_members(conn: &mut Conn, head: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let ids: Vec<Id> = diesel::sql_query(format!(
        "{CREDIT_FAMILIES} SELECT id FROM members ORDER BY depth, id"
    ))
    .bind::<Array<SqlUuid>, _>(&[head][..])
    .load(conn)
    .await?;
    Ok(ids.into_iter().map(|i| i.id).collect())
}

/// The inputs of the payment history of a credit family (one account, or a head and the
/// accounts using its credit) over `from..=as_of`: one statement.
///
/// An invoice counts as paid on the received date of the latest payment applied to it (not
/// reversed) when it is paid in full and that date is in the period. The highest balance is
/// the largest end-of-day ledger balance of the period, the balance it started with included.
pub async fn history_inputs(
    conn: &mut Conn,
    accounts: &[Uuid],
    from: Date,
    as_of: Date,
) -> Result<HistoryInputs, ApiError> {
    Ok(diesel::sql_query(
        "WITH paid AS (
             SELECT i.total, i.invoice_date, i.due_date, pay.paid_on
               FROM invoices i
               JOIN LATERAL (SELECT max(p.received_date) AS paid_on
                               FROM payment_applications pa
                               JOIN payments p ON p.id = pa.payment_id
                              WHERE pa.invoice_id = i.id AND pa.reversed_at IS NULL) pay ON true
              WHERE i.account_id = ANY($1) AND i.status = 'paid' AND pay.paid_on BETWEEN $2 AND $3),
         daily AS (
             SELECT e.entry_date AS day, sum(sum(e.amount)) OVER (ORDER BY e.entry_date) AS balance
               FROM ledger_entries e
              WHERE e.account_id = ANY($1) AND e.entry_date <= $3
              GROUP BY e.entry_date),
         peak AS (
             SELECT balance, day FROM (
                 SELECT balance, day FROM daily WHERE day >= $2
                 UNION ALL
                 SELECT balance, $2 FROM (SELECT balance FROM daily WHERE day < $2
                                           ORDER BY day DESC LIMIT 1) before) b
              ORDER BY balance DESC, day LIMIT 1),
         open AS (
             SELECT COALESCE(sum(balance_due), 0) AS open_balance, count(*) AS open_invoices,
                    COALESCE(sum(balance_due) FILTER (WHERE due_date < $3), 0) AS past_due_balance,
                    count(*) FILTER (WHERE due_date < $3) AS past_due_invoices
               FROM invoices WHERE account_id = ANY($1) AND status = 'open')
         SELECT (SELECT count(*) FROM paid) AS invoices_paid,
                (SELECT COALESCE(sum(total), 0) FROM paid) AS amount_paid,
                (SELECT COALESCE(sum(total * (paid_on - invoice_date)), 0) FROM paid)
                    AS weighted_days_to_pay,
                (SELECT COALESCE(sum(total * GREATEST(paid_on - due_date, 0)), 0) FROM paid)
                    AS weighted_days_beyond_terms,
                (SELECT count(*) FROM paid WHERE paid_on <= due_date) AS paid_on_time,
                COALESCE((SELECT GREATEST(balance, 0) FROM peak), 0) AS highest_balance,
                (SELECT day FROM peak WHERE balance > 0) AS highest_balance_on,
                open.open_balance, open.open_invoices, open.past_due_balance, open.past_due_invoices,
                (SELECT count(*) FROM payments y WHERE y.account_id = ANY($1) AND y.status = 'returned'
                    AND y.returned_on BETWEEN $2 AND $3) AS returned_payments,
                (SELECT count(*) FROM promises p WHERE p.account_id = ANY($1) AND p.status = 'broken'
                    AND p.closed_on BETWEEN $2 AND $3) AS broken_promises,
                (SELECT count(*) FROM disputes d WHERE d.account_id = ANY($1)
                    AND d.status IN ('open', 'under_review')) AS open_disputes
           FROM open",
    )
    .bind::<Array<SqlUuid>, _>(accounts)
    .bind::<SqlDate, _>(from)
    .bind::<SqlDate, _>(as_of)
    .get_result(conn)
    .await?)
}

/// A credit family's balance and the recurring charges its active contracts are committed
/// to, with how many accounts it holds.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct ExposureInputs {
    #[diesel(sql_type = Numeric)]
    pub balance: Decimal,
    #[diesel(sql_type = Numeric)]
    pub committed: Decimal,
    #[diesel(sql_type = BigInt)]
    pub contracts: i64,
}

/// The ledger balance of the head's credit family and one period of the open-ended recurring
/// charges of its active contracts: one statement.
pub async fn exposure_inputs(conn: &mut Conn, head: Uuid) -> Result<ExposureInputs, ApiError> {
    Ok(diesel::sql_query(format!(
        "{CREDIT_FAMILIES}
         SELECT COALESCE((SELECT sum(amount) FROM ledger_entries
                           WHERE account_id IN (SELECT id FROM members)), 0) AS balance,
                COALESCE(sum(ch.amount), 0) AS committed,
                count(DISTINCT c.id) AS contracts
           FROM contracts c
           JOIN contract_charges ch ON ch.contract_id = c.id AND ch.effective_to IS NULL
          WHERE c.account_id IN (SELECT id FROM members) AND c.status = 'active'"
    ))
    .bind::<Array<SqlUuid>, _>(&[head][..])
    .get_result(conn)
    .await?)
}

fn review_write_error(err: diesel::result::Error) -> ApiError {
    match unique_violation(&err) {
        Some("credit_reviews_one_open_periodic") => ApiError::conflict(
            "review_open",
            "The account already has an open periodic review.",
        ),
        _ => err.into(),
    }
}

pub async fn insert_review(conn: &mut Conn, row: &ReviewRow) -> Result<ReviewRow, ApiError> {
    diesel::insert_into(r::credit_reviews)
        .values(row)
        .returning(ReviewRow::as_returning())
        .get_result(conn)
        .await
        .map_err(review_write_error)
}

pub async fn update_review(conn: &mut Conn, row: &ReviewRow) -> Result<ReviewRow, ApiError> {
    Ok(diesel::update(r::credit_reviews.find(row.id))
        .set(row)
        .returning(ReviewRow::as_returning())
        .get_result(conn)
        .await?)
}

/// The review if the caller may see it: a partner sees those of its partner's accounts.
pub async fn find_review(
    conn: &mut Conn,
    id: Uuid,
    partner: Option<Uuid>,
    lock: bool,
) -> Result<ReviewRow, ApiError> {
    let query = r::credit_reviews.find(id).select(ReviewRow::as_select());
    let row = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    let row = row.ok_or(ApiError::NotFound("credit review"))?;
    if partner.is_some()
        && crate::accounts::store::find_visible(conn, row.account_id, partner)
            .await
            .is_err()
    {
        return Err(ApiError::NotFound("credit review"));
    }
    Ok(row)
}

/// Reviews matching the filter in creation order after the cursor; one more than `limit`.
pub async fn list_reviews(
    conn: &mut Conn,
    filter: &ReviewFilter,
    partner: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReviewRow>, ApiError> {
    use crate::schema::accounts::dsl as a;
    let mut query = r::credit_reviews
        .select(ReviewRow::as_select())
        .into_boxed();
    if let Some(partner) = partner {
        query = query.filter(
            r::account_id.eq_any(a::accounts.filter(a::partner_id.eq(partner)).select(a::id)),
        );
    }
    if let Some(account) = filter.account_id {
        query = query.filter(r::account_id.eq(account));
    }
    if let Some(status) = filter.status {
        query = query.filter(r::status.eq(status));
    }
    if let Some(reason) = filter.reason {
        query = query.filter(r::reason.eq(reason));
    }
    if let Some(after) = after {
        query = query.filter(r::id.gt(after));
    }
    Ok(query.order(r::id.asc()).limit(limit + 1).load(conn).await?)
}

/// The account's hold in force, if any.
pub async fn active_hold(conn: &mut Conn, account_id: Uuid) -> Result<Option<HoldRow>, ApiError> {
    Ok(h::credit_holds
        .filter(h::account_id.eq(account_id))
        .filter(h::released_at.is_null())
        .select(HoldRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The account and the accounts above it whose credit it uses, nearest first (the last is
/// its credit account).
pub async fn credit_chain(conn: &mut Conn, account_id: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let ids: Vec<Id> = diesel::sql_query(format!(
        "{CREDIT_FAMILIES} SELECT id FROM up ORDER BY depth"
    ))
    .bind::<Array<SqlUuid>, _>(&[account_id][..])
    .load(conn)
    .await?;
    Ok(ids.into_iter().map(|i| i.id).collect())
}

/// The holds in force on any of the accounts, in the order given.
pub async fn active_holds(conn: &mut Conn, accounts: &[Uuid]) -> Result<Vec<HoldRow>, ApiError> {
    let mut holds: Vec<HoldRow> = h::credit_holds
        .filter(h::account_id.eq_any(accounts))
        .filter(h::released_at.is_null())
        .select(HoldRow::as_select())
        .load(conn)
        .await?;
    holds.sort_by_key(|h| accounts.iter().position(|a| *a == h.account_id));
    Ok(holds)
}

pub async fn insert_hold(conn: &mut Conn, row: &HoldRow) -> Result<HoldRow, ApiError> {
    diesel::insert_into(h::credit_holds)
        .values(row)
        .returning(HoldRow::as_returning())
        .get_result(conn)
        .await
        .map_err(|err| match unique_violation(&err) {
            Some("credit_holds_one_active") => {
                ApiError::conflict("hold_exists", "The account is already on credit hold.")
            }
            _ => err.into(),
        })
}

pub async fn update_hold(conn: &mut Conn, row: &HoldRow) -> Result<HoldRow, ApiError> {
    Ok(diesel::update(h::credit_holds.find(row.id))
        .set(row)
        .returning(HoldRow::as_returning())
        .get_result(conn)
        .await?)
}

/// The holds of an account, newest first.
pub async fn holds_of(conn: &mut Conn, account_id: Uuid) -> Result<Vec<HoldRow>, ApiError> {
    Ok(h::credit_holds
        .filter(h::account_id.eq(account_id))
        .select(HoldRow::as_select())
        .order(h::id.desc())
        .load(conn)
        .await?)
}

/// The months between reviews of each risk level, in [`RiskLevel::ALL`] order.
fn months(settings: &CreditManagementSettings) -> Vec<i32> {
    RiskLevel::ALL
        .iter()
        .map(|l| settings.months(*l) as i32)
        .collect()
}

/// The SQL of an account's next review date: the one recorded by its last decision, else its
/// opening date plus the months of its risk level (`$months`, in `RiskLevel::ALL` order).
fn next_review_sql(months: &str) -> String {
    format!(
        "COALESCE(a.next_review_date,
                  (a.created_at::date + make_interval(months => ({months})[array_position(
                      ARRAY['low', 'medium', 'high', 'critical'], a.risk_level)]))::date)"
    )
}

/// The account's next review date.
pub async fn next_review_date(
    conn: &mut Conn,
    account_id: Uuid,
    settings: &CreditManagementSettings,
) -> Result<Date, ApiError> {
    #[derive(diesel::QueryableByName)]
    struct Next {
        #[diesel(sql_type = SqlDate)]
        next: Date,
    }
    let next: Next = diesel::sql_query(format!(
        "SELECT {} AS next FROM accounts a WHERE a.id = $1",
        next_review_sql("$2::int[]")
    ))
    .bind::<SqlUuid, _>(account_id)
    .bind::<Array<Integer>, _>(months(settings))
    .get_result(conn)
    .await?;
    Ok(next.next)
}

pub async fn set_next_review_date(
    conn: &mut Conn,
    account_id: Uuid,
    date: Date,
) -> Result<(), ApiError> {
    use crate::schema::accounts::dsl as a;
    diesel::update(a::accounts.find(account_id))
        .set(a::next_review_date.eq(date))
        .execute(conn)
        .await?;
    Ok(())
}

/// Accounts (active or suspended, with their own credit: a family is reviewed on its credit
/// account) whose review is due by `as_of`, in account id order after
/// the cursor, with the periodic review open for them; one more than `limit`.
pub async fn due(
    conn: &mut Conn,
    as_of: Date,
    settings: &CreditManagementSettings,
    partner: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DueAccount>, ApiError> {
    Ok(diesel::sql_query(format!(
        "SELECT a.id AS account_id, a.number AS account_number, a.legal_name, a.risk_level,
                {next} AS next_review_date,
                (SELECT r.id FROM credit_reviews r WHERE r.account_id = a.id
                    AND r.reason = 'periodic' AND r.status IN ('pending', 'escalated')) AS open_review_id
           FROM accounts a
          WHERE a.status IN ('active', 'suspended') AND a.credit_scope = 'own' AND {next} <= $1
            AND ($3::uuid IS NULL OR a.partner_id = $3)
            AND ($4::uuid IS NULL OR a.id > $4)
          ORDER BY a.id LIMIT $5",
        next = next_review_sql("$2::int[]")
    ))
    .bind::<SqlDate, _>(as_of)
    .bind::<Array<Integer>, _>(months(settings))
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(partner)
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(after)
    .bind::<BigInt, _>(limit + 1)
    .load(conn)
    .await?)
}

/// A credit account the scheduled job puts on hold: the oldest undisputed past-due invoice of
/// its credit family.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Overdue {
    /// The account the hold goes on: the overdue account's credit account.
    #[diesel(sql_type = SqlUuid)]
    pub account_id: Uuid,
    /// The account whose invoice is overdue (itself, or one using its credit).
    #[diesel(sql_type = Text)]
    pub overdue_account_number: String,
    #[diesel(sql_type = Text)]
    pub invoice_number: String,
    #[diesel(sql_type = Integer)]
    pub days_past_due: i32,
}

/// Credit accounts without a hold in force whose credit family has an undisputed balance
/// more than `days` past due on `as_of`, each with its oldest such invoice. A hold released
/// by hand is a decision on what was overdue then: the account is held again only when an
/// invoice crosses the line after the release day.
pub async fn overdue_without_hold(
    conn: &mut Conn,
    as_of: Date,
    days: i32,
) -> Result<Vec<Overdue>, ApiError> {
    Ok(diesel::sql_query(
        "WITH RECURSIVE overdue AS (
             SELECT DISTINCT ON (i.account_id) i.account_id, a.number,
                    COALESCE(i.number, '') AS invoice_number, ($1 - i.due_date) AS days_past_due,
                    MAX(i.due_date) OVER (PARTITION BY i.account_id) + $2 + 1 AS crossed_on
               FROM invoices i JOIN accounts a ON a.id = i.account_id
              WHERE i.status = 'open' AND i.balance_due > i.disputed_amount
                AND i.due_date < $1 - $2 AND a.status <> 'closed'
              ORDER BY i.account_id, i.due_date, i.id),
         up AS (
             SELECT o.account_id AS start, a.id, a.parent_id, a.credit_scope, 0 AS depth
               FROM overdue o JOIN accounts a ON a.id = o.account_id
             UNION ALL
             SELECT up.start, p.id, p.parent_id, p.credit_scope, up.depth + 1
               FROM accounts p JOIN up ON p.id = up.parent_id
              WHERE up.credit_scope = 'parent' AND up.depth < 10)
         SELECT DISTINCT ON (up.id) up.id AS account_id, o.number AS overdue_account_number,
                o.invoice_number, o.days_past_due
           FROM overdue o
           JOIN up ON up.start = o.account_id AND up.credit_scope = 'own'
           JOIN accounts h ON h.id = up.id AND h.status <> 'closed'
          WHERE NOT EXISTS (SELECT 1 FROM credit_holds x
                             WHERE x.account_id = up.id
                               AND (x.released_at IS NULL
                                    OR (x.released_at AT TIME ZONE 'UTC')::date >= o.crossed_on))
          ORDER BY up.id, o.days_past_due DESC, o.number",
    )
    .bind::<SqlDate, _>(as_of)
    .bind::<Integer, _>(days)
    .load(conn)
    .await?)
}

/// An account with a credit limit, its exposure's inputs, and whether a limit task is open.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct LimitCheck {
    #[diesel(sql_type = SqlUuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = Text)]
    pub number: String,
    #[diesel(sql_type = Text)]
    pub legal_name: String,
    #[diesel(sql_type = Text)]
    pub currency: crate::money::Currency,
    #[diesel(sql_type = Numeric)]
    pub credit_limit: Decimal,
    #[diesel(sql_type = Numeric)]
    pub balance: Decimal,
    #[diesel(sql_type = Numeric)]
    pub committed: Decimal,
    #[diesel(sql_type = BigInt)]
    pub contracts: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub task_open: bool,
    /// Accounts in the credit family (1: the account alone).
    #[diesel(sql_type = BigInt)]
    pub members: i64,
}

/// The credit accounts of the accounts given (each itself, or the parent's credit account it
/// uses) that have a credit limit, with their credit family's exposure inputs and whether a
/// task of `kind` is open on them: one statement, after taking for each credit account a lock
/// held until the transaction ends, so that two transactions never both find no task and open
/// one.
pub async fn limit_checks(
    conn: &mut Conn,
    accounts: &[Uuid],
    kind: &str,
) -> Result<Vec<LimitCheck>, ApiError> {
    diesel::sql_query(format!(
        "{CREDIT_FAMILIES}
         SELECT count(pg_advisory_xact_lock(hashtextextended($2 || ':' || id::text, 0)))
           FROM (SELECT id FROM heads ORDER BY id) ids"
    ))
    .bind::<Array<SqlUuid>, _>(accounts)
    .bind::<Text, _>(kind)
    .execute(conn)
    .await?;
    Ok(diesel::sql_query(format!(
        "{CREDIT_FAMILIES},
         balances AS (
             SELECT m.head, sum(l.amount) AS balance
               FROM members m JOIN ledger_entries l ON l.account_id = m.id
              GROUP BY m.head),
         commitments AS (
             SELECT m.head, sum(ch.amount) AS committed, count(DISTINCT k.id) AS contracts
               FROM members m
               JOIN contracts k ON k.account_id = m.id AND k.status = 'active'
               JOIN contract_charges ch ON ch.contract_id = k.id AND ch.effective_to IS NULL
              GROUP BY m.head)
         SELECT a.id AS account_id, a.number, a.legal_name, a.currency, a.credit_limit,
                COALESCE(b.balance, 0) AS balance,
                COALESCE(c.committed, 0) AS committed, COALESCE(c.contracts, 0) AS contracts,
                EXISTS (SELECT 1 FROM tasks t WHERE t.account_id = a.id AND t.type = $2
                           AND t.status IN ('open', 'in_progress')) AS task_open,
                (SELECT count(*) FROM members m WHERE m.head = h.id) AS members
           FROM heads h
           JOIN accounts a ON a.id = h.id
           LEFT JOIN balances b ON b.head = h.id
           LEFT JOIN commitments c ON c.head = h.id
          WHERE a.credit_limit IS NOT NULL
          ORDER BY a.id"
    ))
    .bind::<Array<SqlUuid>, _>(accounts)
    .bind::<Text, _>(kind)
    .load(conn)
    .await?)
}

pub async fn insert_document(
    conn: &mut Conn,
    row: &super::model::NewDocumentRow<'_>,
) -> Result<super::model::DocumentRow, ApiError> {
    use super::model::DocumentRow;
    use crate::schema::credit_review_documents::dsl as cd;
    Ok(diesel::insert_into(cd::credit_review_documents)
        .values(row)
        .returning(DocumentRow::as_returning())
        .get_result(conn)
        .await?)
}

/// A review's documents in upload order after the cursor; one more than `limit`.
pub async fn documents(
    conn: &mut Conn,
    review_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<super::model::DocumentRow>, ApiError> {
    use super::model::DocumentRow;
    use crate::schema::credit_review_documents::dsl as cd;
    let mut query = cd::credit_review_documents
        .filter(cd::review_id.eq(review_id))
        .select(DocumentRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(cd::id.gt(after));
    }
    Ok(query
        .order(cd::id.asc())
        .limit(limit + 1)
        .load(conn)
        .await?)
}

/// One document of a review with its content.
pub async fn document_content(
    conn: &mut Conn,
    review_id: Uuid,
    id: Uuid,
) -> Result<(super::model::DocumentRow, Vec<u8>), ApiError> {
    use super::model::DocumentRow;
    use crate::schema::credit_review_documents::dsl as cd;
    cd::credit_review_documents
        .filter(cd::review_id.eq(review_id))
        .find(id)
        .select((DocumentRow::as_select(), cd::content))
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("document"))
}
