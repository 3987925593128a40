//! The aging report: what was open on any date, by days past due, as the ledger says (today's
//! kept balances less what is dated after the day), with disputed amounts in a column of
//! their own; one set-based query whatever the number of accounts.

use actix_web::{get, web, HttpResponse};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::state::AppState;

crate::text_enum! {
    /// How the aging is grouped: by account, by partner (accounts without one together), or
    /// one row per currency.
    AgingGroup { Account => "account", Family => "family", Partner => "partner", Collector => "collector", None => "none" }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgingQuery {
    /// The day the aging is as of, at its end (default today).
    pub as_of: Option<Date>,
    /// `account` (default), `family` (each family under its top account; an account
    /// without parent or children is a family of one), `partner`, `collector` (the
    /// collector's token subject as the label; accounts in no portfolio together) or `none`.
    pub group_by: Option<AgingGroup>,
}

/// One row of the aging: balances open at the end of `as_of` by days past due.
#[derive(Debug, Clone, Serialize, ToSchema, diesel::QueryableByName)]
pub struct AgingRow {
    /// The account's, the family's top account's or the partner's id; absent for `none`,
    /// `collector` and accounts without a partner.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    pub key: Option<Uuid>,
    /// The account's number and name, the partner's code and name, or `All accounts`.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub label: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: Currency,
    /// Not yet due (0 days past due or less).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "250.00")]
    pub current: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_1_30: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_31_60: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_61_90: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_91_120: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_over_120: Decimal,
    /// The part of the buckets under active dispute that day (included in them).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub disputed: Decimal,
    /// Sum of the buckets: the open invoices' balances.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "250.00")]
    pub total: Decimal,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub open_invoices: i64,
}

impl AgingRow {
    fn normalized(mut self) -> AgingRow {
        let c = self.currency;
        for amount in [
            &mut self.current,
            &mut self.days_1_30,
            &mut self.days_31_60,
            &mut self.days_61_90,
            &mut self.days_91_120,
            &mut self.days_over_120,
            &mut self.disputed,
            &mut self.total,
        ] {
            *amount = c.normalize(*amount);
        }
        self
    }
}

/// The aging report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Aging {
    pub as_of: Date,
    pub group_by: AgingGroup,
    /// Largest total first.
    pub rows: Vec<AgingRow>,
    /// One row per currency: the sums of `rows`.
    pub totals: Vec<AgingRow>,
}

/// The open invoices at the end of `$1` (a date) as the common table `aged`: each with its
/// account, currency, balance that day, days past due, its id, number and dates, and the part
/// under a dispute active then (`$2`: the instant the day ends). For the aging and any report
/// of balances as of a date.
///
/// An invoice's balance at the end of a day is what its ledger entries dated by then add up
/// to. Every money movement keeps `balance_due` equal to all of them, so that is `balance_due`
/// less the entries dated after the day: only invoices open now or with such entries can have
/// a balance then, and as of today there are next to none (an invoice issued with a later
/// date, a payment dated ahead). The tests hold it equal to the same table summed from the
/// whole ledger, on random histories.
pub const AGED: &str = "WITH later AS (
             SELECT l.invoice_id, sum(l.amount) AS amount
               FROM ledger_entries l
              WHERE l.invoice_id IS NOT NULL AND l.entry_date > $1
              GROUP BY l.invoice_id
              HAVING sum(l.amount) <> 0),
         held AS (
             SELECT i.id, i.account_id, i.currency, i.number, i.invoice_date, i.due_date,
                    i.balance_due - COALESCE(x.amount, 0) AS balance
               FROM invoices i
               LEFT JOIN later x ON x.invoice_id = i.id
              WHERE i.status = 'open'
             UNION ALL
             SELECT i.id, i.account_id, i.currency, i.number, i.invoice_date, i.due_date,
                    i.balance_due - x.amount
               FROM later x
               JOIN invoices i ON i.id = x.invoice_id
              WHERE i.status <> 'open'),
         disputed AS (
             SELECT d.invoice_id, sum(d.amount) AS amount
               FROM disputes d
              WHERE d.opened_on <= $1 AND (d.resolved_at IS NULL OR d.resolved_at >= $2)
              GROUP BY d.invoice_id),
         aged AS (
             SELECT h.account_id, h.currency, h.balance, $1 - h.due_date AS days,
                    h.id AS invoice_id, h.number AS invoice_number, h.invoice_date, h.due_date,
                    LEAST(COALESCE(x.amount, 0), GREATEST(h.balance, 0)) AS disputed
               FROM held h
               LEFT JOIN disputed x ON x.invoice_id = h.id
              WHERE h.balance <> 0)";

/// Each account with the top of its family (itself when it has no parent), as a common
/// table `tops` to put before [`AGED`]'s.
pub const TOPS: &str = "WITH RECURSIVE tops AS (
             SELECT id, id AS top, 0 AS depth FROM accounts WHERE parent_id IS NULL
             UNION ALL
             SELECT c.id, t.top, t.depth + 1 FROM accounts c JOIN tops t ON c.parent_id = t.id
              WHERE t.depth < 10),";

fn sql(key: &str, label: &str, family: bool) -> String {
    let (aged, join) = if family {
        (
            AGED.replacen("WITH ", TOPS, 1),
            "JOIN tops t ON t.id = a.id JOIN accounts f ON f.id = t.top",
        )
    } else {
        (AGED.to_string(), "")
    };
    format!(
        "{aged}
         SELECT {key} AS key, {label} AS label, g.currency,
                COALESCE(sum(g.balance) FILTER (WHERE g.days <= 0), 0) AS current,
                COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 1 AND 30), 0) AS days_1_30,
                COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 31 AND 60), 0) AS days_31_60,
                COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 61 AND 90), 0) AS days_61_90,
                COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 91 AND 120), 0) AS days_91_120,
                COALESCE(sum(g.balance) FILTER (WHERE g.days > 120), 0) AS days_over_120,
                sum(g.disputed) AS disputed,
                sum(g.balance) AS total,
                count(*) AS open_invoices
           FROM aged g
           JOIN accounts a ON a.id = g.account_id
           LEFT JOIN partners p ON p.id = a.partner_id
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
           {join}
          GROUP BY 1, 2, 3
          ORDER BY total DESC, label, currency"
    )
}

/// Adds rows of one currency together.
fn sum_rows(currency: Currency, rows: &[AgingRow]) -> AgingRow {
    let mut t = AgingRow {
        key: None,
        label: "Total".into(),
        currency,
        current: Decimal::ZERO,
        days_1_30: Decimal::ZERO,
        days_31_60: Decimal::ZERO,
        days_61_90: Decimal::ZERO,
        days_91_120: Decimal::ZERO,
        days_over_120: Decimal::ZERO,
        disputed: Decimal::ZERO,
        total: Decimal::ZERO,
        open_invoices: 0,
    };
    for r in rows.iter().filter(|r| r.currency == currency) {
        t.current += r.current;
        t.days_1_30 += r.days_1_30;
        t.days_31_60 += r.days_31_60;
        t.days_61_90 += r.days_61_90;
        t.days_91_120 += r.days_91_120;
        t.days_over_120 += r.days_over_120;
        t.disputed += r.disputed;
        t.total += r.total;
        t.open_invoices += r.open_invoices;
    }
    t.normalized()
}

/// Handles the GET /v1/collections/aging route: balances open at the end of `as_of` in
/// current, 1–30, 31–60, 61–90, 91–120 and over 120 days past due, disputed apart, grouped by
/// account, family, partner, collector or not at all, with totals per currency.
///
/// Past dates are reconstructed from the ledger: a payment, credit or write-off dated after
/// `as_of` does not count, nor does a dispute opened after it or one already closed.
#[utoipa::path(
    tag = "collections",
    params(AgingQuery),
    responses(
        (status = 200, description = "The aging", body = Aging),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/collections/aging")]
pub async fn aging(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<AgingQuery>,
) -> Result<HttpResponse, ApiError> {
    use diesel::sql_types::{Date as SqlDate, Timestamptz};
    use diesel_async::RunQueryDsl;
    ctx.require(Permission::CollectionsRead)?;
    let mut e = crate::validate::Errors::default();
    crate::validate::check_business_date("as_of", query.0.as_of, &mut e);
    e.finish()?;
    let as_of = query.0.as_of.unwrap_or(ctx.now.date());
    let group_by = query.0.group_by.unwrap_or(AgingGroup::Account);
    let (key, label) = match group_by {
        AgingGroup::Account => ("a.id", "a.number || ' ' || a.legal_name"),
        AgingGroup::Family => ("f.id", "f.number || ' ' || f.legal_name"),
        AgingGroup::Partner => ("p.id", "COALESCE(p.code || ' ' || p.name, 'No partner')"),
        AgingGroup::Collector => ("NULL::uuid", "COALESCE(cp.collector, 'Unassigned')"),
        AgingGroup::None => ("NULL::uuid", "'All accounts'"),
    };
    // Disputes closed at or after the end of `as_of` were still active that day.
    let end = as_of.next_day().unwrap_or(as_of).midnight().assume_utc();
    let mut conn = crate::db::conn(&state.pool).await?;
    let family = group_by == AgingGroup::Family;
    let rows: Vec<AgingRow> = diesel::sql_query(sql(key, label, family))
        .bind::<SqlDate, _>(as_of)
        .bind::<Timestamptz, _>(end)
        .load(&mut conn)
        .await?;
    let rows: Vec<AgingRow> = rows.into_iter().map(AgingRow::normalized).collect();
    let currencies = Currency::distinct(rows.iter().map(|r| r.currency));
    let totals = currencies.into_iter().map(|c| sum_rows(c, &rows)).collect();
    Ok(HttpResponse::Ok().json(Aging {
        as_of,
        group_by,
        rows,
        totals,
    }))
}
