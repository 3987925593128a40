//! HTTP handlers of dunning runs and notices.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{
    DunningRunView, NewDunningRun, NoticeFilter, NoticeRow, NoticeView, RunPreview, RunTrigger,
};
use super::rules;
use super::service::{preview_run, run_once};
use super::store::find_notice;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiQuery, IdempotencyKey, OptionalJson};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::schema::dunning_runs::dsl as dr;
use crate::schema::notices::dsl as nt;
use crate::state::AppState;

/// Handles the POST /v1/collections/dunning-runs route: runs dunning now, as of `as_of`, and
/// answers its summary. Running again is harmless: each step fires once per invoice. A run as
/// of a day after today (or with `preview: true`) is a preview: 200 with what it would do,
/// nothing done.
#[utoipa::path(
    tag = "collections",
    request_body(content = Option<NewDunningRun>),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry answer the first run (as it stands) instead of running again; a preview claims no key")),
    responses(
        (status = 201, description = "The run, finished", body = DunningRunView),
        (status = 200, description = "A preview: what the run would do; nothing was done", body = RunPreview),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/collections/dunning-runs")]
pub async fn create_dunning_run(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: OptionalJson<NewDunningRun>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let (as_of, preview) = rules::requested(&body.0, ctx.now.date())?;
    if preview {
        let mut conn = crate::db::conn(&state.pool).await?;
        return Ok(HttpResponse::Ok().json(preview_run(&mut conn, as_of).await?));
    }
    let fingerprint = idempotency::fingerprint(
        "POST",
        "/v1/collections/dunning-runs",
        &NewDunningRun {
            as_of: Some(as_of),
            preview: Some(false),
        },
    )?;
    let (summary, replayed) = run_once(
        &state.pool,
        &ctx,
        as_of,
        RunTrigger::Manual,
        key.0.as_deref(),
        &fingerprint,
        &crate::credit::service::Job::of(&state.config),
    )
    .await?;
    let mut response = HttpResponse::build(StatusCode::CREATED);
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(summary))
}

/// Handles the GET /v1/collections/dunning-runs route: runs, newest first.
#[utoipa::path(
    tag = "collections",
    params(PageParams),
    responses(
        (status = 200, description = "A page of runs", body = Page<DunningRunView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/dunning-runs")]
pub async fn list_dunning_runs(
    state: web::Data<AppState>,
    ctx: Ctx,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let mut query = dr::dunning_runs
        .select(DunningRunView::as_select())
        .order(dr::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(dr::id.lt(after));
    }
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows: Vec<DunningRunView> = query.load(&mut conn).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, |r| r)))
}

/// Handles the GET /v1/collections/notices route: notices in the order created, by account
/// or invoice.
#[utoipa::path(
    tag = "collections",
    params(NoticeFilter, PageParams),
    responses(
        (status = 200, description = "A page of notices", body = Page<NoticeView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/notices")]
pub async fn list_notices(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<NoticeFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let mut query = nt::notices
        .select(NoticeRow::as_select())
        .order(nt::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = filter.0.account_id {
        query = query.filter(nt::account_id.eq(a));
    }
    if let Some(i) = filter.0.invoice_id {
        query = query.filter(nt::invoice_id.eq(i));
    }
    if let Some(after) = after {
        query = query.filter(nt::id.gt(after));
    }
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows: Vec<NoticeRow> = query.load(&mut conn).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, NoticeView::from)))
}

/// Handles the GET /v1/collections/notices/{id} route.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Notice id")),
    responses(
        (status = 200, description = "The notice", body = NoticeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/notices/{id}")]
pub async fn get_notice(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = find_notice(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(NoticeView::from(row)))
}

/// Handles the GET /v1/collections/notices/{id}/document route: the notice's HTML as sent.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Notice id")),
    responses(
        (status = 200, description = "The rendered notice", content_type = "text/html", body = String),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/notices/{id}/document")]
pub async fn notice_document(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = find_notice(&mut conn, id.into_inner()).await?;
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{}\n</body></html>\n",
        crate::invoices::document::escape(&row.subject),
        row.body_html
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}
