//! SQL of CRM events.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;

use super::model::{CrmEventFilter, CrmEventRow, EventStatus};
use crate::db::{Cached, Conn};
use crate::error::ApiError;
use crate::schema::crm_events::dsl as ev;

/// Inserts the event unless its (source, id) is already stored: the stored row, or `None`
/// when the same event is stored already. A concurrent insert of the same event waits here
/// until the first commits (then this one is not inserted) or rolls back (then it is).
pub async fn insert(conn: &mut Conn, row: &CrmEventRow) -> Result<Option<CrmEventRow>, ApiError> {
    Ok(Cached(
        diesel::insert_into(ev::crm_events)
            .values(row)
            .on_conflict((ev::source, ev::id))
            .do_nothing()
            .returning(CrmEventRow::as_returning()),
    )
    .get_result(conn)
    .await
    .optional()?)
}

/// Saves what processing made of the event.
pub async fn save(conn: &mut Conn, row: &CrmEventRow) -> Result<CrmEventRow, ApiError> {
    Ok(diesel::update(ev::crm_events.find((&row.source, &row.id)))
        .set(row)
        .returning(CrmEventRow::as_returning())
        .get_result(conn)
        .await?)
}

/// The event, or 404.
pub async fn find(conn: &mut Conn, source: &str, id: &str) -> Result<CrmEventRow, ApiError> {
    ev::crm_events
        .find((source, id))
        .select(CrmEventRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("CRM event"))
}

/// Like [`find`], locking the row for the rest of the transaction.
pub async fn lock(conn: &mut Conn, source: &str, id: &str) -> Result<CrmEventRow, ApiError> {
    ev::crm_events
        .find((source, id))
        .select(CrmEventRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("CRM event"))
}

/// Serialises the events about one record (of one source) until the transaction ends.
pub async fn lock_subject(conn: &mut Conn, source: &str, subject: &str) -> Result<(), ApiError> {
    Cached(
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1 || ':' || $2))")
            .bind::<Text, _>(source)
            .bind::<Text, _>(subject),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// When the latest processed event about the record occurred (the event `id` left out).
pub async fn latest_processed(
    conn: &mut Conn,
    source: &str,
    subject: &str,
    id: &str,
) -> Result<Option<OffsetDateTime>, ApiError> {
    Ok(ev::crm_events
        .filter(ev::source.eq(source))
        .filter(ev::subject.eq(subject))
        .filter(ev::status.eq(EventStatus::Processed))
        .filter(ev::id.ne(id))
        .select(diesel::dsl::max(ev::occurred_at))
        .first::<Option<OffsetDateTime>>(conn)
        .await?)
}

/// The position of an event in the list: when it was received, then its source and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub received_at: OffsetDateTime,
    pub source: String,
    pub id: String,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nanos = self.received_at.unix_timestamp_nanos();
        write!(f, "{nanos}:{}:{}", self.source, self.id)
    }
}

impl std::str::FromStr for Position {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        // Sources have no ':' (configuration refuses them); an event id may.
        let mut parts = s.splitn(3, ':');
        let nanos: i128 = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let source = parts.next().ok_or(())?.to_string();
        let id = parts.next().ok_or(())?.to_string();
        let received_at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| ())?;
        Ok(Position {
            received_at,
            source,
            id,
        })
    }
}

impl Position {
    pub fn of(row: &CrmEventRow) -> Position {
        Position {
            received_at: row.received_at,
            source: row.source.clone(),
            id: row.id.clone(),
        }
    }
}

/// Events in the order they were received, filtered, after `after`.
pub async fn list(
    conn: &mut Conn,
    filter: &CrmEventFilter,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<CrmEventRow>, ApiError> {
    let mut query = ev::crm_events
        .select(CrmEventRow::as_select())
        .order((ev::received_at, ev::source, ev::id))
        .limit(limit + 1)
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(ev::status.eq(status));
    }
    if let Some(source) = &filter.source {
        query = query.filter(ev::source.eq(source));
    }
    if let Some(after) = after {
        query = query.filter(
            sql::<Bool>("(received_at, source, id) > (")
                .bind::<Timestamptz, _>(after.received_at)
                .sql(", ")
                .bind::<Text, _>(after.source)
                .sql(", ")
                .bind::<Text, _>(after.id)
                .sql(")"),
        );
    }
    Ok(query.load(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_reads_back_what_it_writes_even_with_colons_in_the_id() {
        let p = Position {
            received_at: time::macros::datetime!(2026-11-25 12:00:00.123456 UTC),
            source: "crm".into(),
            id: "evt:1:a".into(),
        };
        assert_eq!(p.to_string().parse::<Position>(), Ok(p));
        assert!("x:crm:1".parse::<Position>().is_err());
        assert!("12".parse::<Position>().is_err());
    }
}
