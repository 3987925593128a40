//! A collector's worklist: the accounts of their portfolio that owe something past due or
//! have an active promise, riskiest first, then by next action date.

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, Duration};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::model::CollectionsStatus;
use crate::auth::Permission;
use crate::collections::notes::NoteView;
use crate::collections::promises::{InstalmentStatus, PromiseView};
use crate::collections::risk::{self, Risk};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorklistQuery {
    /// Token subject of the collector.
    pub collector: String,
}

crate::text_enum! {
    /// What to do next on an account.
    NextActionKind {
        Task => "task",
        PromiseDue => "promise_due",
        DunningStep => "dunning_step",
        Contact => "contact",
    }
}

/// The next thing to do on an account and when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextAction {
    pub kind: NextActionKind,
    pub date: Date,
    #[schema(example = "Call ACME about INV-2026-000123")]
    pub description: String,
}

/// One account of a worklist.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorklistItem {
    pub account_id: Uuid,
    pub number: String,
    pub legal_name: String,
    pub currency: Currency,
    pub collections_status: CollectionsStatus,
    pub risk: Risk,
    #[schema(value_type = crate::money::DecimalString, example = "1250.00")]
    pub balance: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "800.00")]
    pub past_due: Decimal,
    pub oldest_past_due_date: Option<Date>,
    pub days_past_due: i64,
    pub active_promise: Option<PromiseView>,
    pub last_contact: Option<NoteView>,
    pub next_action: NextAction,
}

/// The worklist.
#[derive(Debug, Serialize, ToSchema)]
pub struct Worklist {
    pub collector: String,
    pub as_of: Date,
    pub items: Vec<WorklistItem>,
}

/// The earliest of the candidates, or "contact the customer today" when there is none.
pub fn next_action(candidates: Vec<NextAction>, today: Date) -> NextAction {
    candidates
        .into_iter()
        .min_by_key(|a| a.date)
        .unwrap_or(NextAction {
            kind: NextActionKind::Contact,
            date: today,
            description: "Contact the customer about the past-due balance".into(),
        })
}

/// Handles the GET /v1/collections/worklist route: the collector's accounts that owe
/// something past due or have an active promise, each with its risk, balances, active
/// promise, last contact and next action (the earliest of its open tasks, the next promised
/// instalment's deadline and the next dunning step; else a contact today), riskiest first,
/// then by next action date.
#[utoipa::path(
    tag = "collections",
    params(WorklistQuery),
    responses(
        (status = 200, description = "The worklist", body = Worklist),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/worklist")]
pub async fn worklist(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<WorklistQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let list = build(
        &mut conn,
        query.0.collector,
        ctx.now.date(),
        &state.config.collections.risk,
    )
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The worklist of `collector` as of `today`: a fixed number of statements whatever the
/// number of accounts.
pub async fn build(
    conn: &mut Conn,
    collector: String,
    today: Date,
    weights: &risk::Weights,
) -> Result<Worklist, ApiError> {
    let bases = super::store::worklist_accounts(conn, &collector, today).await?;
    let ids: Vec<Uuid> = bases.iter().map(|b| b.id).collect();
    let mut inputs: HashMap<Uuid, risk::Inputs> = risk::factors(conn, today, Some(&ids))
        .await?
        .into_iter()
        .map(|i| (i.account_id, i))
        .collect();
    let mut promises = crate::collections::promises::active_views(conn, &ids).await?;
    let mut contacts = crate::collections::notes::last_contacts(conn, &ids).await?;
    let policies = crate::collections::dunning::store::effective(conn, &ids).await?;
    let mut versions: Vec<(Uuid, i32)> = policies.values().map(|p| (p.id, p.version)).collect();
    versions.sort();
    versions.dedup();
    let steps = crate::collections::dunning::store::steps_of(conn, &versions).await?;
    let tasks = crate::tasks::store::open_of_accounts(conn, &ids).await?;
    let mut items: Vec<WorklistItem> = Vec::with_capacity(bases.len());
    for b in bases {
        let Some(i) = inputs.remove(&b.id) else {
            continue;
        };
        let risk = risk::score(&i, today, weights);
        let promise = promises.remove(&b.id);
        let mut candidates = Vec::new();
        if let Some((_, due, title)) = tasks.iter().find(|(a, _, _)| *a == Some(b.id)) {
            candidates.push(NextAction {
                kind: NextActionKind::Task,
                date: *due,
                description: title.clone(),
            });
        }
        if let Some(p) = &promise {
            if let Some(next) = p
                .instalments
                .iter()
                .find(|x| x.status == InstalmentStatus::Pending)
            {
                candidates.push(NextAction {
                    kind: NextActionKind::PromiseDue,
                    date: next.deadline,
                    description: format!(
                        "Check instalment {} of {} {} promised for {}",
                        next.seq, next.amount, p.currency, next.due_date
                    ),
                });
            }
        }
        let days = i.days_past_due(today);
        if let (Some(oldest), Some(policy)) = (i.oldest_due, policies.get(&b.id)) {
            let upcoming = steps
                .get(&(policy.id, policy.version))
                .and_then(|s| s.iter().find(|s| i64::from(s.days_past_due) > days));
            if let Some(step) = upcoming {
                candidates.push(NextAction {
                    kind: NextActionKind::DunningStep,
                    date: oldest + Duration::days(step.days_past_due.into()),
                    description: format!(
                        "Dunning step {} ({})",
                        step.step_no,
                        step.action.as_str().replace('_', " ")
                    ),
                });
            }
        }
        let norm = |d: Decimal| b.currency.normalize(d);
        items.push(WorklistItem {
            account_id: b.id,
            number: b.number,
            legal_name: b.legal_name,
            currency: b.currency,
            collections_status: b.collections_status,
            risk,
            balance: norm(i.balance),
            past_due: norm(i.past_due),
            oldest_past_due_date: i.oldest_due,
            days_past_due: days,
            active_promise: promise,
            last_contact: contacts.remove(&b.id),
            next_action: next_action(candidates, today),
        });
    }
    items.sort_by(|a, b| {
        b.risk
            .score
            .cmp(&a.risk.score)
            .then(a.next_action.date.cmp(&b.next_action.date))
            .then(a.number.cmp(&b.number))
    });
    Ok(Worklist {
        collector,
        as_of: today,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_earliest_candidate_is_next_else_a_contact_today() {
        let today = date!(2026 - 11 - 22);
        let a = |kind, date| NextAction {
            kind,
            date,
            description: String::new(),
        };
        let next = next_action(
            vec![
                a(NextActionKind::Task, date!(2026 - 11 - 30)),
                a(NextActionKind::PromiseDue, date!(2026 - 11 - 25)),
            ],
            today,
        );
        assert_eq!(next.kind, NextActionKind::PromiseDue);
        assert_eq!(next_action(vec![], today).kind, NextActionKind::Contact);
        assert_eq!(next_action(vec![], today).date, today);
    }
}
