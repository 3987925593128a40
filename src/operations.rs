//! Health, readiness, metrics, the OpenAPI document, and the answers for unknown routes.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::openapi::responses::ServiceUnavailable;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Handles the GET /healthz route: the process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The process answers", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Handles the GET /readyz route: the database answers.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, response = ServiceUnavailable),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    crate::db::ping(&state.pool).await?;
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}

/// Handles the GET /metrics route: Prometheus text exposition. With `METRICS_ADDRESS` it is
/// served on that address only.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Requests by route and status, latency histograms, pool use", body = String, content_type = "text/plain"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(state.pool.status()))
}

/// Handles the GET /v1/openapi.json route: this document.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object))
)]
#[get("/v1/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}

/// `/docs` → `/docs/`, where the interactive documentation lives.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// Every request no route took: 405 with `Allow` when the path exists, else 404.
pub async fn unmatched(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    use actix_web::ResponseError;
    // `/metrics` served on its own address is not a path of the API's.
    if state.config.metrics_address.is_some() && req.path() == "/metrics" {
        return ApiError::NotFound("route").error_response();
    }
    match state.routes.allowed(req.path()) {
        Some(methods) if !methods.is_empty() => crate::openapi::method_not_allowed(&req, &methods),
        _ => ApiError::NotFound("route").error_response(),
    }
}
