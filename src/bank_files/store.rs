//! SQL of bank files: the files and their transactions, the learned payer identities, and the
//! set-based lookups matching reads for a whole file at once (one statement per kind of fact,
//! never one per transaction).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::matching::{Brief, Candidate};
use super::model::{BankFileRow, BankOutcome, BankTransactionRow, MatchRateRow};
use crate::db::Conn;
use crate::error::ApiError;
use crate::invoices::model::InvoiceStatus;
use crate::schema::{
    accounts, bank_files as f, bank_transactions as t, invoices, payer_identities,
};

/// Rows per INSERT (PostgreSQL takes at most 65,535 parameters; a transaction has 29).
const CHUNK: usize = 2_000;

/// Keeps the file; false when a file of the same SHA-256 is already kept (waiting for a
/// concurrent import of it to commit or roll back first).
pub async fn insert_file(
    conn: &mut Conn,
    row: &BankFileRow,
    content: &[u8],
) -> Result<bool, ApiError> {
    let n = diesel::insert_into(f::table)
        .values((row.clone(), f::content.eq(content)))
        .on_conflict(f::sha256)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

pub async fn file_by_sha(conn: &mut Conn, sha256: &str) -> Result<BankFileRow, ApiError> {
    Ok(f::table
        .filter(f::sha256.eq(sha256))
        .select(BankFileRow::as_select())
        .first(conn)
        .await?)
}

pub async fn find_file(conn: &mut Conn, id: Uuid) -> Result<BankFileRow, ApiError> {
    f::table
        .find(id)
        .select(BankFileRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("bank file"))
}

pub async fn list_files(
    conn: &mut Conn,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<BankFileRow>, ApiError> {
    let mut query = f::table.select(BankFileRow::as_select()).into_boxed();
    if let Some(after) = after {
        query = query.filter(f::id.lt(after));
    }
    Ok(query
        .order(f::id.desc())
        .limit(limit + 1)
        .load(conn)
        .await?)
}

/// The first occurrence of each identity already kept.
pub async fn first_occurrences(
    conn: &mut Conn,
    identities: &[String],
) -> Result<HashMap<String, Uuid>, ApiError> {
    let mut out = HashMap::new();
    for chunk in identities.chunks(10_000) {
        let rows: Vec<(String, Uuid)> = t::table
            .filter(t::identity.eq_any(chunk))
            .filter(t::duplicate_of.is_null())
            .select((t::identity, t::id))
            .load(conn)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Writes a file's transactions. A transaction another import holds (a file with the same
/// transaction, imported at this moment) breaks the identity's unique index: 409, to retry.
pub async fn insert_transactions(
    conn: &mut Conn,
    rows: &[BankTransactionRow],
) -> Result<(), ApiError> {
    for chunk in rows.chunks(CHUNK) {
        let inserted = diesel::insert_into(t::table)
            .values(chunk.to_vec())
            .execute(conn)
            .await;
        match inserted {
            Err(e) if crate::db::unique_violation(&e) == Some("bank_transactions_identity_idx") => {
                return Err(ApiError::conflict(
                    "bank_transaction_importing",
                    "Another file holding some of these transactions is being imported at this moment; send this one again when it is done.",
                ))
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

pub async fn transactions(
    conn: &mut Conn,
    file_id: Uuid,
    outcome: Option<BankOutcome>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<BankTransactionRow>, ApiError> {
    let mut query = t::table
        .filter(t::file_id.eq(file_id))
        .select(BankTransactionRow::as_select())
        .into_boxed();
    if let Some(outcome) = outcome {
        query = query.filter(t::outcome.eq(outcome));
    }
    if let Some(after) = after {
        query = query.filter(t::id.gt(after));
    }
    Ok(query.order(t::id.asc()).limit(limit + 1).load(conn).await?)
}

/// The suspense queue: unidentified cash, oldest first.
pub async fn unidentified(
    conn: &mut Conn,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<BankTransactionRow>, ApiError> {
    let mut query = t::table
        .filter(t::outcome.eq(BankOutcome::Unidentified))
        .select(BankTransactionRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(t::id.gt(after));
    }
    Ok(query.order(t::id.asc()).limit(limit + 1).load(conn).await?)
}

pub async fn lock_transaction(conn: &mut Conn, id: Uuid) -> Result<BankTransactionRow, ApiError> {
    t::table
        .find(id)
        .select(BankTransactionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("unidentified payment"))
}

/// Records that a person settled unidentified cash: the account, its payment, who and when.
pub async fn assign(
    conn: &mut Conn,
    id: Uuid,
    account: Uuid,
    payment: Uuid,
    by: &str,
    at: OffsetDateTime,
) -> Result<(), ApiError> {
    diesel::update(t::table.find(id))
        .set((
            t::outcome.eq(BankOutcome::Assigned),
            t::rule.eq(super::model::MatchRule::Manual),
            t::confidence.eq(Some(Decimal::ONE)),
            t::account_id.eq(account),
            t::payment_id.eq(payment),
            t::assigned_by.eq(by),
            t::assigned_at.eq(at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The match-rate report rows of each file: count and amount by outcome, rule and currency.
pub async fn match_rates(
    conn: &mut Conn,
    files: &[Uuid],
) -> Result<HashMap<Uuid, Vec<MatchRateRow>>, ApiError> {
    use diesel::dsl::{count_star, sum};
    type Counted = (
        Uuid,
        BankOutcome,
        Option<super::model::MatchRule>,
        Option<String>,
        i64,
        Option<Decimal>,
    );
    let rows: Vec<Counted> = t::table
        .filter(t::file_id.eq_any(files))
        .group_by((t::file_id, t::outcome, t::rule, t::currency))
        .select((
            t::file_id,
            t::outcome,
            t::rule,
            t::currency,
            count_star(),
            sum(t::amount),
        ))
        .order((t::file_id, t::outcome, t::rule, t::currency))
        .load(conn)
        .await?;
    let mut out: HashMap<Uuid, Vec<MatchRateRow>> = HashMap::new();
    for (file, outcome, rule, currency, count, amount) in rows {
        out.entry(file).or_default().push(MatchRateRow {
            outcome,
            rule,
            currency,
            count,
            amount: amount.unwrap_or_default(),
        });
    }
    Ok(out)
}

type CandidateColumns = (
    invoices::id,
    invoices::number,
    invoices::account_id,
    invoices::status,
    invoices::currency,
    invoices::balance_due,
    invoices::disputed_amount,
    invoices::due_date,
);

const CANDIDATE: CandidateColumns = (
    invoices::id,
    invoices::number,
    invoices::account_id,
    invoices::status,
    invoices::currency,
    invoices::balance_due,
    invoices::disputed_amount,
    invoices::due_date,
);

type CandidateRow = (
    Uuid,
    Option<String>,
    Uuid,
    InvoiceStatus,
    String,
    Decimal,
    Decimal,
    Date,
);

fn candidate(r: CandidateRow) -> Option<Candidate> {
    let (id, number, account_id, status, currency, balance_due, disputed_amount, due_date) = r;
    Some(Candidate {
        id,
        number: number?,
        account_id,
        open: status == InvoiceStatus::Open,
        currency,
        balance_due,
        disputed_amount,
        due_date,
    })
}

/// The invoices of these numbers (issued: a draft has none), by number.
pub async fn invoices_by_number(
    conn: &mut Conn,
    numbers: &[String],
) -> Result<HashMap<String, Candidate>, ApiError> {
    let mut out = HashMap::new();
    for chunk in numbers.chunks(10_000) {
        let rows: Vec<CandidateRow> = invoices::table
            .filter(invoices::number.eq_any(chunk))
            .select(CANDIDATE)
            .load(conn)
            .await?;
        out.extend(
            rows.into_iter()
                .filter_map(candidate)
                .map(|c| (c.number.clone(), c)),
        );
    }
    Ok(out)
}

/// The open invoices of these accounts, earliest due first, by account.
pub async fn open_invoices(
    conn: &mut Conn,
    accounts: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Candidate>>, ApiError> {
    let mut out: HashMap<Uuid, Vec<Candidate>> = HashMap::new();
    for chunk in accounts.chunks(10_000) {
        let rows: Vec<CandidateRow> = invoices::table
            .filter(invoices::account_id.eq_any(chunk))
            .filter(invoices::status.eq(InvoiceStatus::Open))
            .select(CANDIDATE)
            .order((
                invoices::account_id,
                invoices::due_date,
                invoices::invoice_date,
                invoices::id,
            ))
            .load(conn)
            .await?;
        for c in rows.into_iter().filter_map(candidate) {
            out.entry(c.account_id).or_default().push(c);
        }
    }
    Ok(out)
}

/// Open invoices whose balance is one of `amounts`: five per amount at most, earliest due
/// first (suggestions for unidentified cash): their ids ranked in one statement, then read.
pub async fn open_of_amounts(
    conn: &mut Conn,
    amounts: &[Decimal],
) -> Result<HashMap<Decimal, Vec<Candidate>>, ApiError> {
    let mut out: HashMap<Decimal, Vec<Candidate>> = HashMap::new();
    if amounts.is_empty() {
        return Ok(out);
    }
    let ids: Vec<Uuid> = diesel::sql_query(
        "SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY balance_due ORDER BY due_date, id) AS rank \
               FROM invoices WHERE status = 'open' AND balance_due = ANY($1)) ranked \
         WHERE rank <= 5",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Numeric>, _>(amounts)
    .load::<Id>(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect();
    let rows: Vec<CandidateRow> = invoices::table
        .filter(invoices::id.eq_any(&ids))
        .select(CANDIDATE)
        .order((invoices::due_date, invoices::id))
        .load(conn)
        .await?;
    for c in rows.into_iter().filter_map(candidate) {
        out.entry(c.balance_due).or_default().push(c);
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

/// Accounts by number, for the words given (as written or in capitals).
pub async fn accounts_by_number(
    conn: &mut Conn,
    words: &[String],
) -> Result<HashMap<String, Uuid>, ApiError> {
    let mut out = HashMap::new();
    for chunk in words.chunks(10_000) {
        let rows: Vec<(String, Uuid)> = accounts::table
            .filter(accounts::number.eq_any(chunk))
            .select((accounts::number, accounts::id))
            .load(conn)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// The accounts' numbers, names and currencies.
pub async fn briefs(conn: &mut Conn, ids: &[Uuid]) -> Result<HashMap<Uuid, Brief>, ApiError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(10_000) {
        let rows: Vec<(Uuid, String, String, String)> = accounts::table
            .filter(accounts::id.eq_any(chunk))
            .select((
                accounts::id,
                accounts::number,
                accounts::legal_name,
                accounts::currency,
            ))
            .load(conn)
            .await?;
        out.extend(rows.into_iter().map(|(id, number, name, currency)| {
            (
                id,
                Brief {
                    number,
                    name,
                    currency,
                },
            )
        }));
    }
    Ok(out)
}

/// Accounts whose legal name, in the payer-name form, is one of `names`.
pub async fn accounts_named(
    conn: &mut Conn,
    names: &[String],
) -> Result<Vec<(String, Uuid)>, ApiError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(diesel::sql_query(
        "SELECT name, id FROM (SELECT trim(regexp_replace(upper(legal_name), '[^[:alnum:]]+', ' ', 'g')) AS name, id FROM accounts) a WHERE name = ANY($1)",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(names)
    .load::<NamedAccount>(conn)
    .await?
    .into_iter()
    .map(|r| (r.name, r.id))
    .collect())
}

#[derive(QueryableByName)]
struct NamedAccount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

/// The accounts each learned payer identity (kind, normal form) was seen paying.
pub async fn payers(
    conn: &mut Conn,
    keys: &[(String, String)],
) -> Result<HashMap<(String, String), Vec<Uuid>>, ApiError> {
    let mut out: HashMap<(String, String), Vec<Uuid>> = HashMap::new();
    let values: Vec<&str> = keys.iter().map(|(_, v)| v.as_str()).collect();
    for chunk in values.chunks(10_000) {
        let rows: Vec<(String, String, Uuid)> = payer_identities::table
            .filter(payer_identities::value.eq_any(chunk))
            .select((
                payer_identities::kind,
                payer_identities::value,
                payer_identities::account_id,
            ))
            .order(payer_identities::account_id)
            .load(conn)
            .await?;
        for (kind, value, account) in rows {
            out.entry((kind, value)).or_default().push(account);
        }
    }
    Ok(out)
}

/// Remembers who paid for an account (kind, normal form, account, the transaction).
pub async fn learn(
    conn: &mut Conn,
    learned: &[(String, String, Uuid, Uuid)],
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    for chunk in learned.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(kind, value, account, from)| {
                (
                    payer_identities::kind.eq(kind),
                    payer_identities::value.eq(value),
                    payer_identities::account_id.eq(account),
                    payer_identities::learned_from.eq(Some(*from)),
                    payer_identities::created_at.eq(now),
                )
            })
            .collect();
        diesel::insert_into(payer_identities::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The payments each reference may name: those recorded from a bank transaction with that
/// reference, then those whose own reference it is (case aside).
pub async fn payments_by_reference(
    conn: &mut Conn,
    references: &[String],
) -> Result<HashMap<String, Vec<Uuid>>, ApiError> {
    use crate::schema::payments as p;
    let mut out: HashMap<String, Vec<Uuid>> = HashMap::new();
    if references.is_empty() {
        return Ok(out);
    }
    let from_bank: Vec<(Option<String>, Option<Uuid>)> = t::table
        .filter(t::bank_reference.eq_any(references))
        .filter(t::payment_id.is_not_null())
        .select((t::bank_reference, t::payment_id))
        .load(conn)
        .await?;
    for (reference, payment) in from_bank {
        if let (Some(r), Some(p)) = (reference, payment) {
            let ids = out.entry(r).or_default();
            if !ids.contains(&p) {
                ids.push(p);
            }
        }
    }
    let lower: Vec<String> = references.iter().map(|r| r.to_lowercase()).collect();
    let own: Vec<(Option<String>, Uuid)> = p::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(reference) = ANY(")
                .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(lower)
                .sql(")"),
        )
        .select((p::reference, p::id))
        .load(conn)
        .await?;
    for (reference, payment) in own {
        let Some(reference) = reference else { continue };
        for r in references
            .iter()
            .filter(|r| r.eq_ignore_ascii_case(&reference))
        {
            let ids = out.entry(r.clone()).or_default();
            if !ids.contains(&payment) {
                ids.push(payment);
            }
        }
    }
    Ok(out)
}
