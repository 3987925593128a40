//! Account statements: the opening balance, every movement of what the customer owes in the
//! period with a running balance, the closing balance (which is the ledger's balance on the
//! last day), and an aging of what is open that day. JSON, CSV or PDF.
//!
//! A payment is one line, the money received; so is a credit memo, the credit issued. Their
//! applications to invoices only move money from unapplied cash or credit to an invoice (a
//! pair of ledger entries that cancel out on the account): they are listed apart, under
//! `applications`, and never move the running balance.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, Duration};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::ledger::model::{DocumentType, EntryRow, LedgerKind};
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::refusal::Refusal;
use crate::state::AppState;
use crate::validate::Errors;

mod family;
mod render;

pub use family::{family_statement, FamilyStatement};
pub use render::{csv, pdf};

crate::text_enum! {
    StatementFormat { Json => "json", Csv => "csv", Pdf => "pdf" }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// First day (default 30 days before `to`).
    pub from: Option<Date>,
    /// Last day (default today).
    pub to: Option<Date>,
    /// `json` (default), `csv` or `pdf`.
    #[param(inline)]
    pub format: Option<StatementFormat>,
}

/// One entry of a statement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementLine {
    pub date: Date,
    pub kind: LedgerKind,
    /// The invoice's number, or the document's kind.
    pub document: String,
    pub invoice_id: Option<Uuid>,
    pub description: String,
    #[schema(value_type = crate::money::DecimalString, example = "321.81")]
    pub amount: Decimal,
    /// The balance after this entry.
    #[schema(value_type = crate::money::DecimalString, example = "321.81")]
    pub balance: Decimal,
}

/// Cash or credit applied to an invoice (or taken back from it) in the period: what the
/// customer's money paid, without changing what the customer owes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementApplication {
    pub date: Date,
    /// `payment_applied`, `credit_applied`, or `payment_reversal` for an application undone.
    pub kind: LedgerKind,
    /// The payment's or credit memo's number.
    pub document: String,
    pub invoice_id: Uuid,
    pub invoice_number: Option<String>,
    /// Taken off the invoice's balance (negative when an application is undone).
    #[schema(value_type = crate::money::DecimalString, example = "100.00")]
    pub amount: Decimal,
}

/// What is open on the last day, by days past due.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct StatementAging {
    #[schema(value_type = crate::money::DecimalString)]
    pub current: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub days_1_30: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub days_31_60: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub days_61_90: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub days_91_120: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub days_over_120: Decimal,
    /// Sum of the buckets: the open invoices' balances.
    #[schema(value_type = crate::money::DecimalString)]
    pub total: Decimal,
}

impl StatementAging {
    /// The buckets in the currency's minor units.
    pub fn normalized(mut self, currency: Currency) -> StatementAging {
        for amount in [
            &mut self.current,
            &mut self.days_1_30,
            &mut self.days_31_60,
            &mut self.days_61_90,
            &mut self.days_91_120,
            &mut self.days_over_120,
            &mut self.total,
        ] {
            *amount = currency.normalize(*amount);
        }
        self
    }

    /// Adds another aging's buckets to these.
    pub fn add(&mut self, other: &StatementAging) {
        self.current += other.current;
        self.days_1_30 += other.days_1_30;
        self.days_31_60 += other.days_31_60;
        self.days_61_90 += other.days_61_90;
        self.days_91_120 += other.days_91_120;
        self.days_over_120 += other.days_over_120;
        self.total += other.total;
    }
}

/// Buckets invoice balances `(due date, balance)` by days past due on `as_of`.
pub fn age(open: &[(Date, Decimal)], as_of: Date) -> StatementAging {
    let mut a = StatementAging::default();
    for (due, balance) in open {
        let days = (as_of - *due).whole_days();
        let bucket = match days {
            d if d <= 0 => &mut a.current,
            1..=30 => &mut a.days_1_30,
            31..=60 => &mut a.days_31_60,
            61..=90 => &mut a.days_61_90,
            91..=120 => &mut a.days_91_120,
            _ => &mut a.days_over_120,
        };
        *bucket += *balance;
        a.total += *balance;
    }
    a
}

/// An account statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct Statement {
    pub account_id: Uuid,
    pub account_number: String,
    pub legal_name: String,
    pub currency: Currency,
    pub from: Date,
    pub to: Date,
    #[schema(value_type = crate::money::DecimalString)]
    pub opening_balance: Decimal,
    /// Every change of what the customer owes, in date order, with the running balance.
    pub lines: Vec<StatementLine>,
    /// Applications of payments and credits to invoices in the period (they move no balance).
    pub applications: Vec<StatementApplication>,
    /// Opening balance plus every line: the ledger's balance at the end of `to`.
    #[schema(value_type = crate::money::DecimalString)]
    pub closing_balance: Decimal,
    pub aging: StatementAging,
    /// Payments and credits not applied to invoices at the end of `to`.
    #[schema(value_type = crate::money::DecimalString)]
    pub unapplied: Decimal,
    /// The part of the open balance under active dispute at the end of `to` (not dunned).
    #[schema(value_type = crate::money::DecimalString)]
    pub disputed: Decimal,
}

/// A ledger entry with the number of its document, when it has one.
pub type NumberedEntry = (EntryRow, Option<String>);

/// Splits the period's entries into what changes the account's balance and the transfers
/// between unapplied cash or credit and an invoice: an invoice entry of an application (or
/// its reversal) with the account entry of the same change that cancels it.
pub fn transfers_apart(entries: Vec<NumberedEntry>) -> (Vec<NumberedEntry>, Vec<NumberedEntry>) {
    let transfer_kinds = [
        LedgerKind::PaymentApplied,
        LedgerKind::PaymentReversal,
        LedgerKind::CreditApplied,
    ];
    // The account entries that could cancel an invoice entry, by what identifies the change.
    type Key = (Uuid, LedgerKind, time::OffsetDateTime, Date, Decimal);
    let mut open: std::collections::HashMap<Key, Vec<usize>> = std::collections::HashMap::new();
    for (j, (o, _)) in entries.iter().enumerate() {
        if o.invoice_id.is_none() && transfer_kinds.contains(&o.kind) {
            let key = (o.document_id, o.kind, o.created_at, o.entry_date, o.amount);
            open.entry(key).or_default().push(j);
        }
    }
    let mut taken = vec![false; entries.len()];
    let mut pairs = std::collections::HashSet::new();
    for (i, (e, _)) in entries.iter().enumerate() {
        if e.invoice_id.is_none() || !transfer_kinds.contains(&e.kind) {
            continue;
        }
        let key = (e.document_id, e.kind, e.created_at, e.entry_date, -e.amount);
        if let Some(j) = open.get_mut(&key).and_then(|v| v.pop()) {
            taken[i] = true;
            taken[j] = true;
            pairs.insert(i);
        }
    }
    let mut moves = Vec::new();
    let mut transfers = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        if pairs.contains(&i) {
            transfers.push(entry);
        } else if !taken[i] {
            moves.push(entry);
        }
    }
    (moves, transfers)
}

/// Runs the lines' balances from the opening balance.
pub fn running(
    opening: Decimal,
    entries: Vec<(EntryRow, Option<String>)>,
    currency: Currency,
) -> (Vec<StatementLine>, Decimal) {
    let mut balance = opening;
    let lines = entries
        .into_iter()
        .map(|(e, number)| {
            balance += e.amount;
            StatementLine {
                date: e.entry_date,
                kind: e.kind,
                document: number.unwrap_or_else(|| e.document_type.as_str().replace('_', " ")),
                invoice_id: e.invoice_id,
                description: e.description,
                amount: currency.normalize(e.amount),
                balance: currency.normalize(balance),
            }
        })
        .collect();
    (lines, currency.normalize(balance))
}

/// The statements of `accounts` for `from..=to`: six statements whatever their number, each
/// account's movements and balances its own (an application of a parent's payment to a
/// site's invoice is a line on both: cash out of the parent, the invoice paid on the site).
pub(super) async fn build_many(
    conn: &mut Conn,
    accounts: &[crate::accounts::model::AccountRow],
    from: Date,
    to: Date,
) -> Result<Vec<Statement>, ApiError> {
    use crate::schema::invoices::dsl as i;
    use crate::schema::ledger_entries::dsl as l;
    use std::collections::HashMap;
    let ids: Vec<Uuid> = accounts.iter().map(|a| a.id).collect();
    let openings: HashMap<Uuid, Option<Decimal>> = l::ledger_entries
        .filter(l::account_id.eq_any(&ids))
        .filter(l::entry_date.lt(from))
        .group_by(l::account_id)
        .select((l::account_id, diesel::dsl::sum(l::amount)))
        .load::<(Uuid, Option<Decimal>)>(conn)
        .await?
        .into_iter()
        .collect();
    let entries: Vec<(EntryRow, Option<String>)> = l::ledger_entries
        .left_join(i::invoices)
        .filter(l::account_id.eq_any(&ids))
        .filter(l::entry_date.between(from, to))
        .select((EntryRow::as_select(), i::number.nullable()))
        .order((l::entry_date.asc(), l::seq.asc()))
        .load(conn)
        .await?;
    let numbers = document_numbers(conn, &entries).await?;
    let open: Vec<(Uuid, Date, Option<Decimal>)> = l::ledger_entries
        .inner_join(i::invoices)
        .filter(l::account_id.eq_any(&ids))
        .filter(l::entry_date.le(to))
        // An invoice's entries are all on its account.
        .group_by((i::account_id, i::id, i::due_date))
        .select((i::account_id, i::due_date, diesel::dsl::sum(l::amount)))
        .load(conn)
        .await?;
    let unapplied: HashMap<Uuid, Option<Decimal>> = l::ledger_entries
        .filter(l::account_id.eq_any(&ids))
        .filter(l::entry_date.le(to))
        .filter(l::invoice_id.is_null())
        .group_by(l::account_id)
        .select((l::account_id, diesel::dsl::sum(l::amount)))
        .load::<(Uuid, Option<Decimal>)>(conn)
        .await?
        .into_iter()
        .collect();
    // Disputes active at the end of `to`: opened by then and not closed by then.
    let disputed: HashMap<Uuid, Option<Decimal>> = {
        use crate::schema::disputes::dsl as d;
        let end = to.next_day().unwrap_or(to).midnight().assume_utc();
        d::disputes
            .filter(d::account_id.eq_any(&ids))
            .filter(d::opened_on.le(to))
            .filter(d::resolved_at.is_null().or(d::resolved_at.ge(end)))
            .group_by(d::account_id)
            .select((d::account_id, diesel::dsl::sum(d::amount + d::tax_amount)))
            .load::<(Uuid, Option<Decimal>)>(conn)
            .await?
            .into_iter()
            .collect()
    };
    let mut by_account: HashMap<Uuid, Vec<NumberedEntry>> = HashMap::new();
    for (e, number) in entries {
        // Entries of unapplied cash and credit name their payment or credit memo.
        let number = if e.invoice_id.is_none() {
            numbers.get(&e.document_id).cloned().or(number)
        } else {
            number
        };
        by_account
            .entry(e.account_id)
            .or_default()
            .push((e, number));
    }
    let mut open_by: HashMap<Uuid, Vec<(Date, Decimal)>> = HashMap::new();
    for (account, due, balance) in open {
        if let Some(b) = balance.filter(|b| !b.is_zero()) {
            open_by.entry(account).or_default().push((due, b));
        }
    }
    Ok(accounts
        .iter()
        .map(|account| {
            let currency = account.currency;
            let amount = |m: &HashMap<Uuid, Option<Decimal>>| {
                m.get(&account.id).copied().flatten().unwrap_or_default()
            };
            let (entries, transfers) =
                transfers_apart(by_account.remove(&account.id).unwrap_or_default());
            let applications = transfers
                .into_iter()
                .map(|(e, invoice_number)| StatementApplication {
                    date: e.entry_date,
                    kind: e.kind,
                    document: numbers
                        .get(&e.document_id)
                        .cloned()
                        .unwrap_or_else(|| e.document_type.as_str().replace('_', " ")),
                    invoice_id: e.invoice_id.expect("a transfer names its invoice"),
                    invoice_number,
                    amount: currency.normalize(-e.amount),
                })
                .collect();
            let opening = currency.normalize(amount(&openings));
            let (lines, closing) = running(opening, entries, currency);
            let aging =
                age(&open_by.remove(&account.id).unwrap_or_default(), to).normalized(currency);
            Statement {
                disputed: currency.normalize(amount(&disputed)),
                account_id: account.id,
                account_number: account.number.clone(),
                legal_name: account.legal_name.clone(),
                currency,
                from,
                to,
                opening_balance: opening,
                lines,
                applications,
                closing_balance: closing,
                aging,
                unapplied: currency.normalize(-amount(&unapplied)),
            }
        })
        .collect())
}

/// The numbers of the payments and credit memos whose unapplied cash or credit the entries
/// move.
async fn document_numbers(
    conn: &mut Conn,
    entries: &[NumberedEntry],
) -> Result<std::collections::HashMap<Uuid, String>, ApiError> {
    let on_account = |t: DocumentType| {
        entries
            .iter()
            .filter(move |(e, _)| e.invoice_id.is_none() && e.document_type == t)
            .map(|(e, _)| e.document_id)
            .collect::<Vec<Uuid>>()
    };
    let (payment_ids, memo_ids) = (
        on_account(DocumentType::Payment),
        on_account(DocumentType::CreditMemo),
    );
    let mut numbers = std::collections::HashMap::new();
    if !payment_ids.is_empty() {
        use crate::schema::payments::dsl as p;
        numbers.extend(
            p::payments
                .filter(p::id.eq_any(&payment_ids))
                .select((p::id, p::number))
                .load::<(Uuid, String)>(conn)
                .await?,
        );
    }
    if !memo_ids.is_empty() {
        use crate::schema::credit_memos::dsl as m;
        numbers.extend(
            m::credit_memos
                .filter(m::id.eq_any(&memo_ids))
                .select((m::id, m::number))
                .load::<(Uuid, Option<String>)>(conn)
                .await?
                .into_iter()
                .filter_map(|(id, n)| n.map(|n| (id, n))),
        );
    }
    Ok(numbers)
}

/// The period a statement covers: `to` (default today) back to `from` (default 30 days
/// earlier), at most five years, `from` not after `to`.
pub fn period(from: Option<Date>, to: Option<Date>, today: Date) -> Result<(Date, Date), Refusal> {
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - Duration::days(30));
    let mut e = Errors::default();
    if from > to {
        e.add("from", "after_to", "must not be after `to`");
    } else if (to - from).whole_days() > 366 * 5 {
        e.add(
            "from",
            "out_of_range",
            "a statement covers at most five years",
        );
    }
    e.finish()?;
    Ok((from, to))
}

/// Handles the GET /v1/accounts/{id}/statement route: the account's statement for a period.
#[utoipa::path(
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id"), StatementQuery),
    responses(
        (status = 200, description = "The statement", content(
            (Statement = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/pdf"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/statement")]
pub async fn account_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    query: ApiQuery<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let (from, to) = period(query.0.from, query.0.to, ctx.now.date())?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let account =
        crate::accounts::store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope())
            .await?;
    let statement = build_many(&mut conn, std::slice::from_ref(&account), from, to)
        .await?
        .remove(0);
    let name = format!("statement-{}-{from}-{to}", account.number);
    Ok(match query.0.format.unwrap_or(StatementFormat::Json) {
        StatementFormat::Json => HttpResponse::Ok().json(statement),
        StatementFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ))
            .body(csv(&statement)),
        StatementFormat::Pdf => HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}.pdf\""),
            ))
            .body(pdf(&statement)),
    })
}

#[cfg(test)]
mod tests;
