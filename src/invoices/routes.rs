//! HTTP handlers of invoices: read one with its lines, list.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};
use uuid::Uuid;

use super::model::{InvoiceFilter, InvoiceView};
use super::store;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiQuery};
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::AppState;

/// Handles the GET /v1/invoices/{id} route: the invoice, its lines and their meter facts.
#[utoipa::path(
    tag = "invoices",
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The invoice; its version is the ETag", body = InvoiceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/invoices/{id}")]
pub async fn get_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope()).await?;
    let lines = store::lines_of(&mut conn, &[row.id]).await?;
    let version = row.version;
    Ok(versioned(
        StatusCode::OK,
        version,
        &InvoiceView::new(row, lines),
    ))
}

/// Handles the GET /v1/invoices route: invoices with their lines, in creation order.
#[utoipa::path(
    tag = "invoices",
    params(InvoiceFilter, PageParams),
    responses(
        (status = 200, description = "A page of invoices (a partner token sees its own accounts' only)", body = Page<InvoiceView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/invoices")]
pub async fn list_invoices(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<InvoiceFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(
        &mut conn,
        &filter.0,
        ctx.partner_scope(),
        page.0.after()?,
        limit,
    )
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut lines: HashMap<Uuid, Vec<_>> = HashMap::new();
    for line in store::lines_of(&mut conn, &ids).await? {
        lines.entry(line.invoice_id).or_default().push(line);
    }
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        |r| {
            let of = lines.remove(&r.id).unwrap_or_default();
            InvoiceView::new(r, of)
        },
    )))
}
