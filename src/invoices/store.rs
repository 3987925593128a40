//! SQL of invoices and their lines.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use rust_decimal::Decimal;

use super::model::{InvoiceFilter, InvoiceRow, InvoiceSort, InvoiceStatus, LineRow, SortOrder};
use crate::db::{Cached, Conn};
use crate::error::ApiError;
use crate::schema::invoice_lines::dsl as l;
use crate::schema::invoices::dsl as i;

pub async fn insert_many(
    conn: &mut Conn,
    invoices: &[InvoiceRow],
    lines: &[LineRow],
) -> Result<(), ApiError> {
    for chunk in invoices.chunks(1000) {
        diesel::insert_into(i::invoices)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for chunk in lines.chunks(1000) {
        diesel::insert_into(l::invoice_lines)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Stores many drafts, now issued, in one statement: their numbers, status, due dates,
/// balances and issue stamps (the rest of each row is as it was inserted).
pub async fn issue_drafts(conn: &mut Conn, issued: &[InvoiceRow]) -> Result<(), ApiError> {
    use diesel::sql_types::{Array, Date, Int4, Nullable, Numeric, Text, Timestamptz};
    if issued.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = issued.iter().map(|r| r.id).collect();
    let numbers: Vec<Option<&str>> = issued.iter().map(|r| r.number.as_deref()).collect();
    let statuses: Vec<&str> = issued.iter().map(|r| r.status.as_str()).collect();
    let due: Vec<time::Date> = issued.iter().map(|r| r.due_date).collect();
    let balances: Vec<Decimal> = issued.iter().map(|r| r.balance_due).collect();
    let stamps: Vec<Option<time::OffsetDateTime>> = issued.iter().map(|r| r.issued_at).collect();
    let updated: Vec<time::OffsetDateTime> = issued.iter().map(|r| r.updated_at).collect();
    let versions: Vec<i32> = issued.iter().map(|r| r.version).collect();
    diesel::sql_query(
        "UPDATE invoices i SET number = u.number, status = u.status, due_date = u.due_date,
                balance_due = u.balance_due, issued_at = u.issued_at,
                updated_at = u.updated_at, version = u.version
           FROM unnest($1, $2, $3, $4, $5, $6, $7, $8)
                AS u(id, number, status, due_date, balance_due, issued_at, updated_at, version)
          WHERE i.id = u.id AND i.status = 'draft'",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Array<Nullable<Text>>, _>(&numbers)
    .bind::<Array<Text>, _>(&statuses)
    .bind::<Array<Date>, _>(&due)
    .bind::<Array<Numeric>, _>(&balances)
    .bind::<Array<Nullable<Timestamptz>>, _>(&stamps)
    .bind::<Array<Timestamptz>, _>(&updated)
    .bind::<Array<Int4>, _>(&versions)
    .execute(conn)
    .await?;
    Ok(())
}

/// The invoice if the caller may see it: a partner token sees its partner's accounts only.
pub async fn find_visible(
    mut conn: &Conn,
    id: Uuid,
    partner: Option<Uuid>,
) -> Result<InvoiceRow, ApiError> {
    use crate::schema::accounts::dsl as a;
    let mut query = i::invoices
        .inner_join(a::accounts)
        .filter(i::id.eq(id))
        .select(InvoiceRow::as_select())
        .into_boxed();
    if let Some(partner) = partner {
        query = query.filter(a::partner_id.eq(partner));
    }
    query
        .first(&mut conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("invoice"))
}

pub async fn lines_of(mut conn: &Conn, invoice_ids: &[Uuid]) -> Result<Vec<LineRow>, ApiError> {
    let query = l::invoice_lines
        .select(LineRow::as_select())
        .order((l::invoice_id.asc(), l::line_no.asc()))
        .into_boxed();
    Ok(crate::filter_ids!(query, l::invoice_id, invoice_ids)
        .load(&mut conn)
        .await?)
}

/// Invoice lines by id, each with its invoice: one query.
pub async fn lines_with_invoices(
    conn: &mut Conn,
    line_ids: &[Uuid],
) -> Result<Vec<(LineRow, InvoiceRow)>, ApiError> {
    Ok(l::invoice_lines
        .inner_join(i::invoices)
        .filter(l::id.eq_any(line_ids))
        .select((LineRow::as_select(), InvoiceRow::as_select()))
        .load(conn)
        .await?)
}

/// Where a sorted page ends: the sort key's value and the id (ties broken by id).
#[derive(Debug, Clone, PartialEq)]
pub struct SortCursor {
    pub key: String,
    pub id: Uuid,
}

impl std::str::FromStr for SortCursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (key, id) = s.rsplit_once('|').ok_or(())?;
        Ok(SortCursor {
            key: key.to_string(),
            id: id.parse().map_err(|_| ())?,
        })
    }
}

/// The cursor of a row in a list sorted by `sort`.
pub fn cursor_of(row: &InvoiceRow, sort: InvoiceSort) -> String {
    let key = match sort {
        InvoiceSort::Created => String::new(),
        InvoiceSort::InvoiceDate => row.invoice_date.to_string(),
        InvoiceSort::DueDate => row.due_date.to_string(),
        InvoiceSort::Total => row.total.to_string(),
    };
    format!("{key}|{}", row.id)
}

fn bad_cursor() -> ApiError {
    ApiError::field("cursor", "invalid", "is not a cursor returned by this list")
}

/// Invoices matching the filter, sorted, after the cursor.
pub async fn list(
    conn: &mut Conn,
    filter: &InvoiceFilter,
    partner: Option<Uuid>,
    after: Option<SortCursor>,
    limit: i64,
    today: time::Date,
) -> Result<Vec<InvoiceRow>, ApiError> {
    use crate::schema::accounts::dsl as a;
    let mut query = i::invoices
        .inner_join(a::accounts)
        .select(InvoiceRow::as_select())
        .into_boxed();
    if let Some(partner) = partner {
        query = query.filter(a::partner_id.eq(partner));
    }
    if let Some(partner) = filter.partner_id {
        query = query.filter(a::partner_id.eq(partner));
    }
    if let Some(account) = filter.account_id {
        query = query.filter(i::account_id.eq(account));
    }
    if let Some(contract) = filter.contract_id {
        query = query.filter(i::contract_id.eq(contract));
    }
    if let Some(run) = filter.billing_run_id {
        query = query.filter(i::billing_run_id.eq(run));
    }
    if let Some(status) = filter.status {
        query = query.filter(i::status.eq(status));
    }
    if let Some(review) = filter.review_required {
        query = query.filter(i::review_required.eq(review));
    }
    if let Some(from) = filter.issued_from {
        query = query.filter(i::invoice_date.ge(from));
    }
    if let Some(to) = filter.issued_to {
        query = query.filter(i::invoice_date.le(to));
    }
    if let Some(from) = filter.due_from {
        query = query.filter(i::due_date.ge(from));
    }
    if let Some(to) = filter.due_to {
        query = query.filter(i::due_date.le(to));
    }
    match filter.past_due {
        Some(true) => {
            query = query.filter(
                i::status
                    .eq(InvoiceStatus::Open)
                    .and(i::balance_due.gt(Decimal::ZERO))
                    .and(i::due_date.lt(today)),
            )
        }
        Some(false) => {
            query = query.filter(
                i::status
                    .ne(InvoiceStatus::Open)
                    .or(i::balance_due.eq(Decimal::ZERO))
                    .or(i::due_date.ge(today)),
            )
        }
        None => {}
    }
    match filter.has_dispute {
        Some(true) => query = query.filter(i::disputed_amount.gt(Decimal::ZERO)),
        Some(false) => query = query.filter(i::disputed_amount.eq(Decimal::ZERO)),
        None => {}
    }
    if let Some(min) = filter.min_total.as_deref() {
        let min = crate::money::parse_plain(min)
            .map_err(|e| ApiError::field("min_total", "invalid", e))?;
        query = query.filter(i::total.ge(min));
    }
    if let Some(max) = filter.max_total.as_deref() {
        let max = crate::money::parse_plain(max)
            .map_err(|e| ApiError::field("max_total", "invalid", e))?;
        query = query.filter(i::total.le(max));
    }
    let sort = filter.sort.unwrap_or(InvoiceSort::Created);
    let desc = filter.order == Some(SortOrder::Desc);
    macro_rules! keyset {
        ($column:expr, $value:expr) => {{
            if let Some(c) = &after {
                let v = $value(&c.key).ok_or_else(bad_cursor)?;
                query = if desc {
                    query.filter($column.lt(v).or($column.eq(v).and(i::id.lt(c.id))))
                } else {
                    query.filter($column.gt(v).or($column.eq(v).and(i::id.gt(c.id))))
                };
            }
            query = if desc {
                query.order(($column.desc(), i::id.desc()))
            } else {
                query.order(($column.asc(), i::id.asc()))
            };
        }};
    }
    let date =
        |k: &str| time::Date::parse(k, &time::format_description::well_known::Iso8601::DATE).ok();
    match sort {
        InvoiceSort::Created => {
            if let Some(c) = &after {
                query = if desc {
                    query.filter(i::id.lt(c.id))
                } else {
                    query.filter(i::id.gt(c.id))
                };
            }
            query = if desc {
                query.order(i::id.desc())
            } else {
                query.order(i::id.asc())
            };
        }
        InvoiceSort::InvoiceDate => keyset!(i::invoice_date, date),
        InvoiceSort::DueDate => keyset!(i::due_date, date),
        InvoiceSort::Total => keyset!(i::total, |k: &str| k.parse::<Decimal>().ok()),
    }
    Ok(query.limit(limit + 1).load(conn).await?)
}

/// Like [`find_visible`], locking the row.
pub async fn lock_visible(
    conn: &mut Conn,
    id: Uuid,
    partner: Option<Uuid>,
) -> Result<InvoiceRow, ApiError> {
    let row: InvoiceRow = i::invoices
        .find(id)
        .select(InvoiceRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("invoice"))?;
    if partner.is_some() {
        find_visible(conn, id, partner).await?;
    }
    Ok(row)
}

/// Locks the invoice a request names in `field`: an unknown id is a 422 on that field.
pub async fn lock_named(conn: &mut Conn, id: Uuid, field: &str) -> Result<InvoiceRow, ApiError> {
    match lock_visible(conn, id, None).await {
        Err(ApiError::NotFound(_)) => {
            Err(ApiError::field(field, "unknown", "no invoice has this id"))
        }
        other => other,
    }
}

pub async fn update(conn: &mut Conn, row: &InvoiceRow) -> Result<InvoiceRow, ApiError> {
    // Every column is set (`treat_none_as_null`), so the text never changes.
    Ok(Cached(
        diesel::update(i::invoices.find(row.id))
            .set(row)
            .returning(InvoiceRow::as_returning()),
    )
    .get_result(conn)
    .await?)
}

/// Like [`update`], also answering the status the invoice had before (the statement's
/// snapshot still sees the row as it was).
pub async fn update_from(
    conn: &mut Conn,
    row: &InvoiceRow,
) -> Result<(InvoiceRow, InvoiceStatus), ApiError> {
    let was = diesel::dsl::sql::<diesel::sql_types::Text>(
        "(SELECT o.status FROM invoices o WHERE o.id = invoices.id)",
    );
    let (row, was): (InvoiceRow, String) = Cached(
        diesel::update(i::invoices.find(row.id))
            .set(row)
            .returning((InvoiceRow::as_returning(), was)),
    )
    .get_result(conn)
    .await?;
    let was = was
        .parse()
        .map_err(|_| ApiError::internal("an invoice of an unknown status"))?;
    Ok((row, was))
}

/// Stores what cash changed on invoices (amount paid, balance due, status, version), one
/// statement for them all; answers the ids of those that became paid by it.
pub async fn update_cash(conn: &mut Conn, rows: &[InvoiceRow]) -> Result<Vec<Uuid>, ApiError> {
    use diesel::sql_types::{Array, Int4, Numeric, Text, Timestamptz, Uuid as SqlUuid};
    #[derive(diesel::QueryableByName)]
    struct Paid {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let mut paid = Vec::new();
    for chunk in rows.chunks(5_000) {
        let ids: Vec<Uuid> = chunk.iter().map(|r| r.id).collect();
        let amount_paid: Vec<Decimal> = chunk.iter().map(|r| r.amount_paid).collect();
        let balance: Vec<Decimal> = chunk.iter().map(|r| r.balance_due).collect();
        let status: Vec<&str> = chunk.iter().map(|r| r.status.as_str()).collect();
        let version: Vec<i32> = chunk.iter().map(|r| r.version).collect();
        let updated: Vec<time::OffsetDateTime> = chunk.iter().map(|r| r.updated_at).collect();
        let rows: Vec<Paid> = diesel::sql_query(
            // The subquery reads the invoice as it was before this statement.
            "WITH moved AS (
                 UPDATE invoices i SET amount_paid = u.amount_paid, balance_due = u.balance_due,
                        status = u.status, version = u.version, updated_at = u.updated_at
                   FROM unnest($1, $2, $3, $4, $5, $6)
                        AS u(id, amount_paid, balance_due, status, version, updated_at)
                  WHERE i.id = u.id
              RETURNING i.id, i.status, (SELECT o.status FROM invoices o WHERE o.id = i.id) AS was)
             SELECT id FROM moved WHERE status = 'paid' AND was <> 'paid'",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<Numeric>, _>(&amount_paid)
        .bind::<Array<Numeric>, _>(&balance)
        .bind::<Array<Text>, _>(&status)
        .bind::<Array<Int4>, _>(&version)
        .bind::<Array<Timestamptz>, _>(&updated)
        .load(conn)
        .await?;
        paid.extend(rows.into_iter().map(|r| r.id));
    }
    Ok(paid)
}

/// Invoices by id, in id order.
pub async fn many(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<InvoiceRow>, ApiError> {
    Ok(i::invoices
        .filter(i::id.eq_any(ids))
        .select(InvoiceRow::as_select())
        .order(i::id.asc())
        .load(conn)
        .await?)
}

/// Replaces a draft's lines.
pub async fn replace_lines(
    conn: &mut Conn,
    invoice_id: Uuid,
    lines: &[LineRow],
) -> Result<(), ApiError> {
    diesel::delete(l::invoice_lines.filter(l::invoice_id.eq(invoice_id)))
        .execute(conn)
        .await?;
    insert_many(conn, &[], lines).await
}

/// Deletes a draft and its lines.
pub async fn delete_draft(conn: &mut Conn, invoice_id: Uuid) -> Result<(), ApiError> {
    diesel::delete(l::invoice_lines.filter(l::invoice_id.eq(invoice_id)))
        .execute(conn)
        .await?;
    diesel::delete(i::invoices.find(invoice_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks invoices in id order (the order every money movement takes them in).
pub async fn lock_many(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<InvoiceRow>, ApiError> {
    Ok(i::invoices
        .filter(i::id.eq_any(ids))
        .select(InvoiceRow::as_select())
        .order(i::id.asc())
        .for_update()
        .load(conn)
        .await?)
}

/// The ids of invoices named by number.
pub async fn ids_by_number(
    conn: &mut Conn,
    numbers: &[&str],
) -> Result<std::collections::HashMap<String, Uuid>, ApiError> {
    if numbers.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(Option<String>, Uuid)> = i::invoices
        .filter(i::number.eq_any(numbers))
        .select((i::number, i::id))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(n, id)| n.map(|n| (n, id)))
        .collect())
}

/// Which of the ids name invoices.
pub async fn existing(
    conn: &mut Conn,
    ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, ApiError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(i::invoices
        .filter(i::id.eq_any(ids))
        .select(i::id)
        .load::<Uuid>(conn)
        .await?
        .into_iter()
        .collect())
}

/// Locks the open invoices with a balance of the account and of every account under it (a
/// head office's payment pays its sites'), in id order.
pub async fn lock_open_of_family(
    conn: &mut Conn,
    account_id: Uuid,
) -> Result<Vec<InvoiceRow>, ApiError> {
    use diesel::sql_types::{Bool, Uuid as SqlUuid};
    let family = diesel::dsl::sql::<Bool>(
        "invoices.account_id IN (WITH RECURSIVE down AS (
             SELECT ",
    )
    .bind::<SqlUuid, _>(account_id)
    .sql(
        "::uuid AS id, 0 AS depth
             UNION ALL
             SELECT a.id, down.depth + 1 FROM accounts a JOIN down ON a.parent_id = down.id
              WHERE down.depth < 10)
         SELECT id FROM down)",
    );
    Ok(crate::db::Cached(
        i::invoices
            .filter(family)
            .filter(i::status.eq(InvoiceStatus::Open))
            .filter(i::balance_due.gt(Decimal::ZERO))
            .select(InvoiceRow::as_select())
            .order(i::id.asc())
            .for_update(),
    )
    .load(conn)
    .await?)
}
