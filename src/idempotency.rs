//! `Idempotency-Key` for POSTs that create or move money.
//!
//! The key row is inserted at the start of the transaction that makes the effect and completed
//! with the response before it commits. A concurrent request with the same key blocks on that
//! row; when the first commits, it finds the completed row and replays it. A failed request
//! rolls its key back, so the caller may retry it.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use diesel::prelude::*;
use diesel::upsert::on_constraint;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::{self, Audited};
use crate::context::Ctx;
use crate::db::{Cached, Conn, DbPool};
use crate::error::ApiError;
use crate::schema::idempotency_keys::dsl as k;

/// Hash of what makes two requests "the same": method, path and the parsed body.
pub fn fingerprint(method: &str, path: &str, body: &impl Serialize) -> Result<String, ApiError> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(body)?);
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A response as it was first sent.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: StatusCode,
    pub body: serde_json::Value,
    pub replayed: bool,
}

impl Stored {
    /// The response, with `Idempotent-Replayed: true` when it is a replay, and the
    /// resource's version as the `ETag` when it has one.
    pub fn into_response(self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        if self.replayed {
            builder.insert_header(("Idempotent-Replayed", "true"));
        }
        if let Some(version) = self.body.get("version").and_then(|v| v.as_i64()) {
            builder.insert_header(actix_web::http::header::ETag(
                actix_web::http::header::EntityTag::new_strong(version.to_string()),
            ));
        }
        builder.json(self.body)
    }
}

/// The claim a request holds on its key inside its transaction.
pub struct Claim {
    key: Option<(String, String)>,
}

pub enum Begin {
    Fresh(Claim),
    Replay(Stored),
}

/// Claims `key` for this caller, or returns the stored response of its first use.
pub async fn begin(
    conn: &mut Conn,
    ctx: &Ctx,
    key: Option<&str>,
    fingerprint: &str,
) -> Result<Begin, ApiError> {
    let Some(key) = key else {
        return Ok(Begin::Fresh(Claim { key: None }));
    };
    let scope = ctx.idempotency_scope();
    let inserted = Cached(
        diesel::insert_into(k::idempotency_keys)
            .values((
                k::principal.eq(&scope),
                k::key.eq(key),
                k::fingerprint.eq(fingerprint),
                k::created_at.eq(ctx.now),
            ))
            .on_conflict(on_constraint("idempotency_keys_pkey"))
            .do_nothing(),
    )
    .execute(conn)
    .await?;
    if inserted == 1 {
        return Ok(Begin::Fresh(Claim {
            key: Some((scope, key.to_string())),
        }));
    }
    let (stored_fingerprint, status, body): (String, Option<i16>, Option<serde_json::Value>) =
        k::idempotency_keys
            .find((&scope, key))
            .select((k::fingerprint, k::response_status, k::response_body))
            .first(conn)
            .await?;
    if stored_fingerprint != fingerprint {
        return Err(ApiError::IdempotencyMismatch);
    }
    let status = status
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .ok_or_else(|| ApiError::internal("idempotency key committed without a response"))?;
    Ok(Begin::Replay(Stored {
        status,
        body: body.unwrap_or(serde_json::Value::Null),
        replayed: true,
    }))
}

impl Claim {
    /// Records the response with the key, in the same transaction as the effect.
    pub async fn finish(
        self,
        conn: &mut Conn,
        status: StatusCode,
        body: &impl Serialize,
    ) -> Result<Stored, ApiError> {
        let body = serde_json::to_value(body)?;
        if let Some((scope, key)) = &self.key {
            Cached(diesel::update(k::idempotency_keys.find((scope, key))).set((
                k::response_status.eq(status.as_u16() as i16),
                k::response_body.eq(&body),
            )))
            .execute(conn)
            .await?;
        }
        Ok(Stored {
            status,
            body,
            replayed: false,
        })
    }
}

/// What a write did: the status it answers with, the action the audit log records, and the
/// resource as it was (`None` when the write made it) and as it is.
pub struct Written<T> {
    pub status: StatusCode,
    pub action: &'static str,
    pub before: Option<T>,
    pub after: T,
}

impl<T> Written<T> {
    /// A resource the write made: 201 Created.
    pub fn created(action: &'static str, after: T) -> Self {
        Written {
            status: StatusCode::CREATED,
            action,
            before: None,
            after,
        }
    }

    /// A resource the write changed: 200 OK.
    pub fn changed(action: &'static str, before: T, after: T) -> Self {
        Written {
            status: StatusCode::OK,
            action,
            before: Some(before),
            after,
        }
    }
}

impl<T: Audited> Written<T> {
    /// Records the write in the audit log (from what the resource was to what it is); the
    /// resource as it is now.
    pub async fn audit(self, conn: &mut Conn, ctx: &Ctx) -> Result<T, ApiError> {
        audit::changed(
            conn,
            ctx,
            self.action,
            self.before.as_ref(),
            Some(&self.after),
        )
        .await?;
        Ok(self.after)
    }
}

/// An `async` closure over the transaction's connection whose future can cross threads, as
/// the pool's transactions require. Implemented by every such closure; it only names the
/// closure's future so that its `Send` can be asked for.
pub trait Effect<C, R>: AsyncFnOnce(C) -> R + FnOnce(C) -> <Self as Effect<C, R>>::Fut {
    type Fut: Future<Output = R>;
}

impl<F, C, Fut, R> Effect<C, R> for F
where
    F: AsyncFnOnce(C) -> R + FnOnce(C) -> Fut,
    Fut: Future<Output = R>,
{
    type Fut = Fut;
}

/// Runs one write in one transaction: claims `key` (or replays its first response), runs
/// `effect`, and stores the response it returns (its status and body) with the key. Any
/// error rolls all of it back, the key's claim included, so the caller may retry. Without a
/// key the write simply runs once. The effect records its own audit entries: use [`write`]
/// for the usual one entry whose `after` is the response.
pub async fn run<R, F>(
    pool: &DbPool,
    ctx: &Ctx,
    key: Option<&str>,
    fingerprint: &str,
    effect: F,
) -> Result<Stored, ApiError>
where
    R: Serialize + Send + Sync,
    for<'r> F: AsyncFnOnce(&'r mut Conn) -> Result<(StatusCode, R), ApiError>
        + Effect<&'r mut Conn, Result<(StatusCode, R), ApiError>, Fut: Send>
        + Send,
{
    let mut conn = crate::db::conn(pool).await?;
    conn.transaction(async |conn| {
        let claim = match begin(conn, ctx, key, fingerprint).await? {
            Begin::Replay(stored) => return Ok(stored),
            Begin::Fresh(claim) => claim,
        };
        let (status, body) = effect(conn).await?;
        claim.finish(conn, status, &body).await
    })
    .await
}

/// [`run`] for a command that changes one resource: records in the audit log what it did
/// (`Written`'s action, before and after), and answers with the resource as it is.
pub async fn write<T, F>(
    pool: &DbPool,
    ctx: &Ctx,
    key: Option<&str>,
    fingerprint: &str,
    effect: F,
) -> Result<Stored, ApiError>
where
    T: Audited + Send + Sync,
    for<'r> F: AsyncFnOnce(&'r mut Conn) -> Result<Written<T>, ApiError>
        + Effect<&'r mut Conn, Result<Written<T>, ApiError>, Fut: Send>
        + Send,
{
    run(pool, ctx, key, fingerprint, async |conn| {
        let written = effect(conn).await?;
        let status = written.status;
        Ok((status, written.audit(conn, ctx).await?))
    })
    .await
}

/// Replaces the response recorded with `key`, for an effect that goes on after the
/// transaction that claimed it (a dunning run records the run as started, then as finished).
pub async fn record_final(
    conn: &mut Conn,
    ctx: &Ctx,
    key: Option<&str>,
    body: &impl Serialize,
) -> Result<(), ApiError> {
    let Some(key) = key else { return Ok(()) };
    let body = serde_json::to_value(body)?;
    Cached(
        diesel::update(k::idempotency_keys.find((ctx.idempotency_scope(), key)))
            .set(k::response_body.eq(&body)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes keys older than the retention (at least 24 hours). Returns how many went.
pub async fn purge_expired(
    conn: &mut Conn,
    ttl_hours: i32,
    now: time::OffsetDateTime,
) -> Result<usize, ApiError> {
    let cutoff = now - time::Duration::hours(i64::from(ttl_hours.max(24)));
    Ok(
        diesel::delete(k::idempotency_keys.filter(k::created_at.lt(cutoff)))
            .execute(conn)
            .await?,
    )
}
