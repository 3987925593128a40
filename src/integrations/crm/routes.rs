//! HTTP handlers of CRM events: receive a signed event, list and read stored events, retry a
//! failed one.

use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use super::model::{CrmEvent, CrmEventFilter, CrmEventView};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::signature;
use crate::state::AppState;

/// The raw body as signed: read under the JSON limit (413 beyond), sent as JSON (415).
fn raw_body(
    req: &HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let body = body.map_err(|err| match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit },
        _ => ApiError::BadRequest {
            code: "unreadable_body",
            detail: format!("The body could not be read: {err}."),
            errors: Vec::new(),
        },
    })?;
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "The body must be JSON, sent with Content-Type: application/json.".into(),
        ));
    }
    Ok(body)
}

/// Handles the POST /v1/integrations/crm/events route: a CRM posts one signed event.
///
/// `Receivables-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` under
/// one of the source's secrets is checked over the raw bytes before the JSON is read; a
/// missing, malformed or wrong signature, or one more than 5 minutes from the service's clock,
/// is a 401. The event is stored with what processing made of it (`processed`, `failed` with
/// the refusal, `ignored` when a later event about the same record was processed): 201 the
/// first time, 200 with the stored event when its id comes again, whatever its body.
#[utoipa::path(
    tag = "integrations",
    request_body = CrmEvent,
    params(("Receivables-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">")),
    responses(
        (status = 201, description = "The event was stored and processed; `status` says how", body = CrmEventView),
        (status = 200, description = "The event's id was received before: the stored event", body = CrmEventView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/integrations/crm/events")]
pub async fn receive_crm_event(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::IntegrationEventsWrite)?;
    let config = &state.config;
    let raw = raw_body(&req, body, config.json_limit)?;
    let header = req
        .headers()
        .get(signature::HEADER)
        .map(|v| v.to_str().unwrap_or(""));
    let signer = service::authenticate(&config.crm, header, &raw, ctx.now)?;
    let event = service::read_event(&raw, ctx.now)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (status, view) =
        service::receive(&mut conn, &ctx, &config.billing, signer, &raw, &event).await?;
    let mut response = HttpResponse::build(status);
    if status == StatusCode::OK {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(view))
}

/// Handles the GET /v1/integrations/crm/events route: stored events in the order received,
/// filtered (`?status=failed`: what is waiting for a fix and a retry).
#[utoipa::path(
    tag = "integrations",
    params(CrmEventFilter, PageParams),
    responses(
        (status = 200, description = "A page of events", body = Page<CrmEventView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/integrations/crm/events")]
pub async fn list_crm_events(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<CrmEventFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::IntegrationEventsManage)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        store::Position::of,
        CrmEventView::from,
    )))
}

/// Handles the GET /v1/integrations/crm/events/{source}/{id} route: one stored event.
#[utoipa::path(
    tag = "integrations",
    params(
        ("source" = String, Path, description = "The CRM source, as configured"),
        ("id" = String, Path, description = "The CRM's id of the event"),
    ),
    responses(
        (status = 200, description = "The event", body = CrmEventView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/integrations/crm/events/{source}/{id}")]
pub async fn get_crm_event(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::IntegrationEventsManage)?;
    let (source, id) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, &source, &id).await?;
    Ok(HttpResponse::Ok().json(CrmEventView::from(row)))
}

/// Handles the POST /v1/integrations/crm/events/{source}/{id}/retry route: processes a failed
/// event again from its stored raw body, after a fix.
///
/// The event's signature is not checked again (it was when it arrived). The answer is the
/// event as processed now (`attempts` counts this one); an event that is not `failed` is a
/// 409 `event_not_failed`.
#[utoipa::path(
    tag = "integrations",
    params(
        ("source" = String, Path, description = "The CRM source, as configured"),
        ("id" = String, Path, description = "The CRM's id of the event"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The event, processed again; `status` says how", body = CrmEventView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = []))
)]
#[post("/integrations/crm/events/{source}/{id}/retry")]
pub async fn retry_crm_event(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::IntegrationEventsManage)?;
    let (source, id) = path.into_inner();
    let url = format!("/v1/integrations/crm/events/{source}/{id}/retry");
    let fingerprint = idempotency::fingerprint("POST", &url, &())?;
    let billing = &state.config.billing;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::retry(conn, &ctx, billing, &source, &id).await,
    )
    .await?;
    Ok(stored.into_response())
}
