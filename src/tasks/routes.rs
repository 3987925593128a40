use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{validate, NewTask, TaskFilter, TaskPatch, TaskView};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/tasks route: creates an open task on behalf of the caller.
#[utoipa::path(
    tag = "tasks",
    request_body = NewTask,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The task was created", body = TaskView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/tasks")]
pub async fn create_task(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewTask>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::TasksWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/tasks", &new)?;
    let row = new.into_row(&ctx.principal.subject, ctx.now);
    validate(&row)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &row).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/tasks route: tasks in creation order, filtered.
#[utoipa::path(
    tag = "tasks",
    params(TaskFilter, PageParams),
    responses(
        (status = 200, description = "A page of tasks", body = Page<TaskView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/tasks")]
pub async fn list_tasks(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<TaskFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::TasksRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, TaskView::from)))
}

/// Handles the GET /v1/tasks/{id} route.
#[utoipa::path(
    tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task; its version is the ETag", body = TaskView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/tasks/{id}")]
pub async fn get_task(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::TasksRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, row.version, &TaskView::from(row)))
}

/// Handles the PATCH /v1/tasks/{id} route: assigns, reschedules, re-prioritises, completes,
/// cancels or reopens a task under optimistic concurrency.
#[utoipa::path(
    tag = "tasks",
    request_body = TaskPatch,
    params(
        ("id" = Uuid, Path, description = "Task id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed task", body = TaskView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/tasks/{id}")]
pub async fn update_task(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<TaskPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::TasksWrite)?;
    let patch = body.0;
    if patch.is_empty() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let id = id.into_inner();
    let stored = idempotency::write(&state.pool, &ctx, None, "", async |conn| {
        service::update(conn, &ctx, id, &patch, expected).await
    })
    .await?;
    Ok(stored.into_response())
}
