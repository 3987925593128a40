//! The account's activity timeline for billing-history research: every invoice, payment,
//! credit, dispute, note, contract change, reading and data change recorded against the
//! account, newest first, each with a one-line summary.

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::store;
use crate::audit::model::{AuditFilter, AuditRow};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityFilter {
    /// Only one kind of item: `invoice`, `contract`, `account`, `contact`, `meter_reading`,
    /// `task`, `equipment`, `billing_run`, ...
    pub kind: Option<String>,
}

/// One item of the timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityItem {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// What it is about: `invoice`, `contract`, `account`, ...
    pub kind: String,
    /// What happened: `invoice.issued`, `contract.amended`, ...
    pub action: String,
    pub entity_id: Uuid,
    /// In words, for a person reading the history.
    #[schema(example = "Invoice INV-2026-000001 issued: 218.77 USD")]
    pub summary: String,
    pub actor: String,
    pub actor_role: String,
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The one-line summary of an audit entry.
pub fn summary(action: &str, after: Option<&Value>, before: Option<&Value>) -> String {
    let data = after.or(before).cloned().unwrap_or(Value::Null);
    let verb = action
        .split_once('.')
        .map_or(action, |(_, v)| v)
        .replace('_', " ");
    let (kind, _) = action.split_once('.').unwrap_or((action, ""));
    match kind {
        "invoice" => {
            let number = text(&data, "number").unwrap_or_else(|| "(draft)".into());
            let amount = match (text(&data, "total"), text(&data, "currency")) {
                (Some(t), Some(c)) => format!(": {t} {c}"),
                _ => String::new(),
            };
            format!("Invoice {number} {verb}{amount}")
        }
        "contract" => {
            let number = text(&data, "number").unwrap_or_default();
            let amendment = data
                .get("amendments")
                .and_then(Value::as_array)
                .and_then(|a| a.last())
                .and_then(|a| {
                    Some(format!(
                        " ({} effective {})",
                        text(a, "kind")?.replace('_', " "),
                        text(a, "effective_date")?
                    ))
                })
                .filter(|_| action == "contract.amended")
                .unwrap_or_default();
            format!("Contract {number} {verb}{amendment}")
        }
        "account" => format!("Account {verb}"),
        "contact" => format!("Contact {} {verb}", text(&data, "name").unwrap_or_default()),
        "meter_reading" => format!(
            "Meter reading {} on {} ({})",
            text(&data, "value").unwrap_or_default(),
            text(&data, "read_on").unwrap_or_default(),
            text(&data, "source").unwrap_or_default()
        ),
        "task" => format!("Task {:?} {verb}", text(&data, "title").unwrap_or_default()),
        "equipment" => format!(
            "Equipment {} {verb}",
            text(&data, "serial_number").unwrap_or_default()
        ),
        "payment" => {
            let number = text(&data, "number").unwrap_or_default();
            let currency = text(&data, "currency").unwrap_or_default();
            let detail = match action {
                "payment.received" => format!(
                    ": {} {currency}, {} applied, {} unapplied",
                    text(&data, "amount").unwrap_or_default(),
                    text(&data, "applied").unwrap_or_default(),
                    text(&data, "unapplied").unwrap_or_default()
                ),
                "payment.returned" => data
                    .get("return")
                    .and_then(|r| text(r, "reason"))
                    .map(|r| format!(" ({})", r.replace('_', " ")))
                    .unwrap_or_default(),
                _ => format!(
                    ": {} {currency} applied, {} unapplied",
                    text(&data, "applied").unwrap_or_default(),
                    text(&data, "unapplied").unwrap_or_default()
                ),
            };
            format!("Payment {number} {verb}{detail}")
        }
        "dispute" => format!(
            "Dispute {} {verb}: {} {} ({})",
            text(&data, "number").unwrap_or_default(),
            text(&data, "amount").unwrap_or_default(),
            text(&data, "currency").unwrap_or_default(),
            text(&data, "reason").unwrap_or_default().replace('_', " ")
        ),
        "credit_memo" => format!(
            "Credit memo {} {verb}: {} {}",
            text(&data, "number").unwrap_or_else(|| "(draft)".into()),
            text(&data, "total").unwrap_or_default(),
            text(&data, "currency").unwrap_or_default()
        ),
        "adjustment" => format!(
            "{} of {} {}",
            text(&data, "kind").unwrap_or_default().replace('_', " "),
            text(&data, "amount").unwrap_or_default(),
            text(&data, "currency").unwrap_or_default()
        ),
        "deduction" => format!(
            "Deduction of {} {} ({}) {verb}",
            text(&data, "amount").unwrap_or_default(),
            text(&data, "currency").unwrap_or_default(),
            text(&data, "reason").unwrap_or_default().replace('_', " ")
        ),
        "service_order" => {
            let why = match action {
                "service_order.cancelled" => text(&data, "cancel_reason")
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            format!(
                "Service order {} ({}) {verb}{why}",
                text(&data, "number").unwrap_or_default(),
                text(&data, "kind").unwrap_or_default().replace('_', " ")
            )
        }
        _ => action.replace(['.', '_'], " "),
    }
}

impl From<AuditRow> for ActivityItem {
    fn from(r: AuditRow) -> Self {
        ActivityItem {
            summary: summary(&r.action, r.after.as_ref(), r.before.as_ref()),
            id: r.id,
            occurred_at: r.occurred_at,
            kind: r.entity_type,
            action: r.action,
            entity_id: r.entity_id,
            actor: r.actor,
            actor_role: r.actor_role,
        }
    }
}

/// Handles the GET /v1/accounts/{id}/activity route: the account's timeline, newest first.
#[utoipa::path(
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id"), ActivityFilter, PageParams),
    responses(
        (status = 200, description = "A page of the timeline, newest first", body = Page<ActivityItem>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/activity")]
pub async fn account_activity(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    filter: ApiQuery<ActivityFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AuditRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let account = store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope()).await?;
    let audit_filter = AuditFilter {
        account_id: Some(account.id),
        entity_type: filter.0.kind.clone(),
        ..Default::default()
    };
    let rows = crate::audit::store::list(&mut conn, &audit_filter, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, ActivityItem::from)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summaries_say_what_happened_in_words() {
        let invoice = json!({"number": "INV-2026-000001", "total": "218.77", "currency": "USD"});
        assert_eq!(
            summary("invoice.issued", Some(&invoice), None),
            "Invoice INV-2026-000001 issued: 218.77 USD"
        );
        let contract = json!({"number": "CON-000001",
            "amendments": [{"kind": "ownership_change", "effective_date": "2026-11-01"}]});
        assert_eq!(
            summary("contract.amended", Some(&contract), None),
            "Contract CON-000001 amended (ownership change effective 2026-11-01)"
        );
        let payment = json!({"number": "PMT-000001", "amount": "1600.00", "currency": "USD",
            "applied": "1550.00", "unapplied": "50.00", "return": {"reason": "ach_return"}});
        assert_eq!(
            summary("payment.received", Some(&payment), None),
            "Payment PMT-000001 received: 1600.00 USD, 1550.00 applied, 50.00 unapplied"
        );
        assert_eq!(
            summary("payment.returned", Some(&payment), None),
            "Payment PMT-000001 returned (ach return)"
        );
        assert_eq!(
            summary("billing_run.requested", None, None),
            "billing run requested"
        );
    }
}
