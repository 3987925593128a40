use actix_web::{get, web, HttpResponse};

use super::model::{AuditEventView, AuditFilter};
use super::store;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the GET /v1/audit-events route: the audit log, newest first.
#[utoipa::path(
    tag = "audit",
    params(AuditFilter, PageParams),
    responses(
        (status = 200, description = "A page of audit entries, newest first", body = Page<AuditEventView>),
        (status = 400, description = "Invalid query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read the audit log", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<AuditFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AuditRead)?;
    let limit = page.0.limit()?;
    let after = page.0.after::<i64>()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, AuditEventView::from)))
}
