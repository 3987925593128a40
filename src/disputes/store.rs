//! SQL of disputes and their notes.
//!
//! Lock order: the dispute, then its invoice (never the other way round).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{DisputeFilter, DisputeRow, DisputeStatus, DisputeView, NoteRow, SlaState};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::dispute_notes::dsl as n;
use crate::schema::disputes::dsl as d;

#[derive(diesel::QueryableByName)]
struct Next {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The next dispute number, `DSP-000001`.
pub async fn next_number(conn: &mut Conn) -> Result<String, ApiError> {
    let next: Next = diesel::sql_query("SELECT nextval('dispute_numbers') AS n")
        .get_result(conn)
        .await?;
    Ok(format!("DSP-{:06}", next.n))
}

pub async fn insert(conn: &mut Conn, row: &DisputeRow) -> Result<(), ApiError> {
    diesel::insert_into(d::disputes)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// The dispute if the caller may see it: a partner token sees its partner's accounts only.
pub async fn find_visible(
    conn: &mut Conn,
    id: Uuid,
    partner: Option<Uuid>,
) -> Result<DisputeRow, ApiError> {
    use crate::schema::accounts::dsl as a;
    let mut query = d::disputes
        .inner_join(a::accounts)
        .filter(d::id.eq(id))
        .select(DisputeRow::as_select())
        .into_boxed();
    if let Some(partner) = partner {
        query = query.filter(a::partner_id.eq(partner));
    }
    query
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("dispute"))
}

/// Like [`find_visible`], locking the dispute.
pub async fn lock_visible(
    conn: &mut Conn,
    id: Uuid,
    partner: Option<Uuid>,
) -> Result<DisputeRow, ApiError> {
    find_visible(conn, id, partner).await?;
    Ok(d::disputes
        .find(id)
        .select(DisputeRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn update(conn: &mut Conn, row: &DisputeRow) -> Result<(), ApiError> {
    diesel::update(d::disputes.find(row.id))
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_note(conn: &mut Conn, row: &NoteRow) -> Result<(), ApiError> {
    diesel::insert_into(n::dispute_notes)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// Views of disputes with their notes: two queries whatever their number.
pub async fn views(
    conn: &mut Conn,
    rows: Vec<DisputeRow>,
    today: time::Date,
) -> Result<Vec<DisputeView>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut notes: HashMap<Uuid, Vec<NoteRow>> = HashMap::new();
    for note in n::dispute_notes
        .filter(n::dispute_id.eq_any(&ids))
        .select(NoteRow::as_select())
        .order(n::id)
        .load::<NoteRow>(conn)
        .await?
    {
        notes.entry(note.dispute_id).or_default().push(note);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let (id, sla) = (
                r.id,
                super::rules::sla_state(r.status, r.sla_due_date, today),
            );
            DisputeView::new(r, notes.remove(&id).unwrap_or_default(), sla)
        })
        .collect())
}

pub async fn view(
    conn: &mut Conn,
    row: DisputeRow,
    today: time::Date,
) -> Result<DisputeView, ApiError> {
    Ok(views(conn, vec![row], today).await?.remove(0))
}

/// Disputes matching the filter in creation order, after the cursor id.
pub async fn list(
    conn: &mut Conn,
    filter: &DisputeFilter,
    partner: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
    today: time::Date,
) -> Result<Vec<DisputeRow>, ApiError> {
    use crate::schema::accounts::dsl as a;
    let mut query = d::disputes
        .inner_join(a::accounts)
        .select(DisputeRow::as_select())
        .into_boxed();
    if let Some(partner) = partner {
        query = query.filter(a::partner_id.eq(partner));
    }
    if let Some(partner) = filter.partner_id {
        query = query.filter(a::partner_id.eq(partner));
    }
    if let Some(v) = filter.status {
        query = query.filter(d::status.eq(v));
    }
    if let Some(v) = filter.reason {
        query = query.filter(d::reason.eq(v));
    }
    if let Some(v) = filter.root_cause {
        query = query.filter(d::root_cause.eq(v));
    }
    if let Some(v) = &filter.assignee {
        query = query.filter(d::assignee.eq(v));
    }
    if let Some(v) = filter.account_id {
        query = query.filter(d::account_id.eq(v));
    }
    if let Some(v) = filter.invoice_id {
        query = query.filter(d::invoice_id.eq(v));
    }
    if let Some(sla) = filter.sla {
        query = query.filter(d::status.eq_any([DisputeStatus::Open, DisputeStatus::UnderReview]));
        query = match sla {
            SlaState::Breached => query.filter(d::sla_due_date.lt(today)),
            SlaState::OnTrack => query.filter(d::sla_due_date.ge(today)),
        };
    }
    if let Some(after) = after {
        query = query.filter(d::id.gt(after));
    }
    Ok(query.order(d::id.asc()).limit(limit + 1).load(conn).await?)
}
