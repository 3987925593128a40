//! Dunning runs: every few minutes on each instance, and on demand with an `as_of` date.
//!
//! A run first reviews active promises (breaking those missed), then takes every open invoice
//! with an undisputed balance past due, not covered by an active promise, of an account that
//! is neither marked do-not-dun, nor with an agency, written off or closed. For each, the
//! latest due step of the account's policy (days past due reached, minimum balance met) that
//! has not fired on the invoice is performed; earlier due steps it jumps over are recorded as
//! superseded. The primary key of `dunning_actions` (invoice, policy, step) makes each step
//! fire once per invoice however many runs or instances overlap; accounts are processed one
//! transaction each, under the account's row lock.
//!
//! A run never judges the future: promises are reviewed up to the run's `as_of`, which for a
//! run that acts is never after today. A run as of a later day is a preview: it answers what
//! would be done (each step and its rendered notice) and records nothing.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::{Date as SqlDate, Integer, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dunning::{self, DunningAction, StepRow};
use super::service_orders::{self, OrderKind, OrderSource};
use crate::accounts::model::CollectionsStatus;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::{Conn, DbPool};
use crate::error::ApiError;
use crate::extract::{ApiQuery, IdempotencyKey, OptionalJson};
use crate::idempotency::{self, Begin};
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::schema::dunning_runs::dsl as dr;
use crate::schema::notices::dsl as nt;
use crate::tasks::model::Priority;
use crate::AppState;

crate::text_enum! {
    /// What started a run.
    RunTrigger { Manual => "manual", Schedule => "schedule" }
}

crate::text_enum! {
    DunningRunStatus { Running => "running", Completed => "completed", Failed => "failed" }
}

crate::text_enum! {
    /// How a notice is delivered.
    NoticeChannel { Email => "email", Letter => "letter" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, ToSchema)]
#[diesel(table_name = crate::schema::dunning_runs, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct DunningRunView {
    pub id: Uuid,
    pub as_of: Date,
    pub trigger: RunTrigger,
    pub status: DunningRunStatus,
    pub started_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Past-due invoices the run considered.
    pub invoices_examined: i32,
    /// Steps it performed (each once per invoice).
    pub steps_performed: i32,
    pub notices: i32,
    pub tasks: i32,
    pub service_orders: i32,
    pub promises_kept: i32,
    pub promises_broken: i32,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::notices)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct NoticeRow {
    pub id: Uuid,
    pub number: String,
    pub account_id: Uuid,
    pub invoice_id: Uuid,
    pub policy_id: Uuid,
    pub step_no: i32,
    pub action: DunningAction,
    pub channel: NoticeChannel,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub amount: Decimal,
    pub currency: String,
    pub run_id: Uuid,
    pub created_at: OffsetDateTime,
}

/// A notice as rendered and recorded for delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeView {
    pub id: Uuid,
    #[schema(example = "NTC-000001")]
    pub number: String,
    pub account_id: Uuid,
    pub invoice_id: Uuid,
    pub policy_id: Uuid,
    pub step_no: i32,
    pub action: DunningAction,
    pub channel: NoticeChannel,
    /// An email address, or the postal addressee and address.
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// The undisputed past-due amount dunned.
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub amount: Decimal,
    #[schema(value_type = crate::money::CurrencyCode)]
    pub currency: String,
    pub run_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<NoticeRow> for NoticeView {
    fn from(r: NoticeRow) -> Self {
        let amount = Currency::parse(&r.currency).map_or(r.amount, |c| c.normalize(r.amount));
        NoticeView {
            id: r.id,
            number: r.number,
            account_id: r.account_id,
            invoice_id: r.invoice_id,
            policy_id: r.policy_id,
            step_no: r.step_no,
            action: r.action,
            channel: r.channel,
            recipient: r.recipient,
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            amount,
            currency: r.currency,
            run_id: r.run_id,
            created_at: r.created_at,
        }
    }
}

/// A run asked for by hand.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDunningRun {
    /// The day to dun as of (default today; within a year either way). Balances are today's.
    /// A day after today can only be previewed.
    pub as_of: Option<Date>,
    /// Answer what the run would do without doing it (default: true after today, else false).
    pub preview: Option<bool>,
}

/// A step a run would perform on an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedStep {
    pub account_id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_number: String,
    /// Days past due on the run's `as_of`.
    pub days_past_due: i32,
    /// The undisputed balance (today's).
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub amount: Decimal,
    #[schema(value_type = crate::money::CurrencyCode)]
    pub currency: String,
    pub step_no: i32,
    pub action: DunningAction,
    /// Earlier due steps it would record as superseded.
    pub superseded_steps: Vec<i32>,
    /// For notices: how it would go out and what it would say.
    pub channel: Option<NoticeChannel>,
    pub recipient: Option<String>,
    /// The notice's subject, or the task's or order's title.
    pub subject: String,
    pub body_text: String,
}

/// What a run would do, done nothing of: no step recorded, no notice, task or order made, no
/// promise reviewed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPreview {
    pub as_of: Date,
    /// Always true.
    pub preview: bool,
    /// Past-due invoices the run would consider (as of `as_of`; promises and disputes as they
    /// stand today).
    pub invoices_examined: i32,
    pub steps: Vec<PlannedStep>,
}

/// A past-due invoice dunning may act on.
#[derive(Debug, Clone, diesel::QueryableByName)]
struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    invoice_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    account_id: Uuid,
    #[diesel(sql_type = Text)]
    invoice_number: String,
    #[diesel(sql_type = SqlDate)]
    due_date: Date,
    #[diesel(sql_type = Numeric)]
    total: Decimal,
    #[diesel(sql_type = Text)]
    currency: String,
    /// The undisputed balance.
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
    #[diesel(sql_type = Integer)]
    days: i32,
    #[diesel(sql_type = SqlUuid)]
    policy_id: Uuid,
    #[diesel(sql_type = Integer)]
    policy_version: i32,
    #[diesel(sql_type = Text)]
    account_number: String,
    #[diesel(sql_type = Text)]
    legal_name: String,
}

async fn candidates(conn: &mut Conn, as_of: Date) -> Result<Vec<Candidate>, ApiError> {
    Ok(diesel::sql_query(
        "SELECT i.id AS invoice_id, i.account_id, i.number AS invoice_number, i.due_date,
                i.total, i.currency, i.balance_due - i.disputed_amount AS amount,
                ($1 - i.due_date) AS days, p.id AS policy_id, p.version AS policy_version,
                a.number AS account_number, a.legal_name
           FROM invoices i
           JOIN accounts a ON a.id = i.account_id
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
           LEFT JOIN dunning_policies sp ON sp.segment = cp.segment
           LEFT JOIN dunning_policies dp ON dp.is_default
           JOIN dunning_policies p ON p.id = COALESCE(cp.dunning_policy_id, sp.id, dp.id)
          WHERE i.status = 'open' AND i.due_date < $1 AND i.balance_due > i.disputed_amount
            AND a.status <> 'closed'
            AND a.collections_status NOT IN ('with_agency', 'written_off')
            AND NOT COALESCE(cp.do_not_dun, false)
            AND NOT EXISTS (SELECT 1 FROM promise_invoices pv
                              JOIN promises pr ON pr.id = pv.promise_id
                             WHERE pv.invoice_id = i.id AND pr.status = 'active')
          ORDER BY i.account_id, i.due_date, i.id",
    )
    .bind::<SqlDate, _>(as_of)
    .load(conn)
    .await?)
}

/// The step to perform on an invoice and the earlier due ones it supersedes, given the steps
/// already recorded for it.
pub fn due_steps<'a>(
    steps: &'a [StepRow],
    days: i32,
    amount: Decimal,
    recorded: &[i32],
) -> Option<(&'a StepRow, Vec<&'a StepRow>)> {
    let due: Vec<&StepRow> = steps
        .iter()
        .filter(|s| s.days_past_due <= days && amount >= s.min_balance)
        .filter(|s| !recorded.contains(&s.step_no))
        .collect();
    let (last, earlier) = due.split_last()?;
    // A step already recorded after the due ones means they were passed over for good.
    if recorded.iter().any(|r| *r > last.step_no) {
        return None;
    }
    Some((last, earlier.to_vec()))
}

/// The address of a postal notice.
fn postal(name: &str, a: &crate::accounts::model::Address) -> String {
    let mut lines = vec![name.to_string(), a.line1.clone()];
    lines.extend(a.line2.clone());
    let mut city = a.city.clone();
    if let Some(r) = &a.region {
        city.push_str(&format!(", {r}"));
    }
    if let Some(p) = &a.postal_code {
        city.push_str(&format!(" {p}"));
    }
    lines.push(city);
    lines.push(a.country.clone());
    lines.join("\n")
}

/// Where an account's notices go: the billing contact's email (else accounts payable's,
/// primary's, any's) for emails, the billing address for letters and for emails without one.
struct Recipients {
    email: Option<String>,
    postal: String,
}

impl Recipients {
    /// The recipients of many accounts: two queries.
    async fn of_many(
        conn: &mut Conn,
        accounts: &[Uuid],
    ) -> Result<HashMap<Uuid, Recipients>, ApiError> {
        use crate::accounts::model::AccountRow;
        use crate::schema::accounts::dsl as a;
        use crate::schema::contacts::dsl as c;
        let rows: Vec<AccountRow> = a::accounts
            .filter(a::id.eq_any(accounts))
            .select(AccountRow::as_select())
            .load(conn)
            .await?;
        let contacts: Vec<(Uuid, String, Option<String>)> = c::contacts
            .filter(c::account_id.eq_any(accounts))
            .filter(c::email.is_not_null())
            .select((c::account_id, c::role, c::email))
            .order(c::created_at)
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|account| {
                let own: Vec<(String, Option<String>)> = contacts
                    .iter()
                    .filter(|(id, _, _)| *id == account.id)
                    .map(|(_, role, email)| (role.clone(), email.clone()))
                    .collect();
                (account.id, Recipients::from_contacts(&account, &own))
            })
            .collect())
    }

    fn from_contacts(
        account: &crate::accounts::model::AccountRow,
        contacts: &[(String, Option<String>)],
    ) -> Recipients {
        let email = ["billing", "accounts_payable", "primary", ""]
            .iter()
            .find_map(|role| {
                contacts
                    .iter()
                    .find(|(r, _)| role.is_empty() || r == role)
                    .and_then(|(_, e)| e.clone())
            });
        Recipients {
            email,
            postal: postal(&account.legal_name, &account.billing_address),
        }
    }

    /// One query for the account's contacts, read once per account and run.
    async fn of(
        conn: &mut Conn,
        account: &crate::accounts::model::AccountRow,
    ) -> Result<Recipients, ApiError> {
        use crate::schema::contacts::dsl as c;
        let contacts: Vec<(String, Option<String>)> = c::contacts
            .filter(c::account_id.eq(account.id))
            .filter(c::email.is_not_null())
            .select((c::role, c::email))
            .order(c::created_at)
            .load(conn)
            .await?;
        Ok(Recipients::from_contacts(account, &contacts))
    }

    fn for_action(&self, action: DunningAction) -> (NoticeChannel, String) {
        match &self.email {
            Some(email) if action != DunningAction::LateNoticeLetter => {
                (NoticeChannel::Email, email.clone())
            }
            _ => (NoticeChannel::Letter, self.postal.clone()),
        }
    }
}

#[derive(Default)]
struct Counts {
    steps: i32,
    notices: i32,
    tasks: i32,
    orders: i32,
}

#[derive(diesel::QueryableByName)]
struct Next {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// What performing `step` on an invoice as of `as_of` says: the notice's (or the task's or
/// order's) subject and texts, rendered from the step's templates.
struct Rendered {
    subject: String,
    text: String,
    html: String,
}

fn render(c: &Candidate, step: &StepRow, as_of: Date) -> Rendered {
    let currency = Currency::parse(&c.currency);
    let money = |d: Decimal| currency.map_or(d, |cur| cur.normalize(d)).to_string();
    let values: HashMap<&str, String> = [
        ("account.name", c.legal_name.clone()),
        ("account.number", c.account_number.clone()),
        ("invoice.number", c.invoice_number.clone()),
        ("invoice.due_date", c.due_date.to_string()),
        ("invoice.total", money(c.total)),
        ("amount", money(c.amount)),
        ("currency", c.currency.clone()),
        ("days_past_due", c.days.to_string()),
        ("today", as_of.to_string()),
    ]
    .into_iter()
    .collect();
    Rendered {
        subject: dunning::render(&step.subject, &values, false),
        text: dunning::render(&step.body_text, &values, false),
        html: dunning::render(&step.body_html, &values, true),
    }
}

/// Performs one step on one invoice (its action row already claimed).
async fn perform(
    conn: &mut Conn,
    ctx: &Ctx,
    run: &DunningRunView,
    c: &Candidate,
    step: &StepRow,
    recipients: &Recipients,
    counts: &mut Counts,
) -> Result<(), ApiError> {
    let (run_id, as_of) = (run.id, run.as_of);
    let Rendered {
        subject,
        text,
        html,
    } = render(c, step, as_of);
    let (mut task_id, mut order_id) = (None, None);
    let task = |kind: &'static str, priority| (kind, priority);
    let (task_kind, order_kind) = match step.action {
        a if a.is_notice() => (None, None),
        DunningAction::CallTask => (Some(task("collections_call", Priority::Normal)), None),
        DunningAction::AgencyPlacementRecommendation => {
            (Some(task("agency_placement_review", Priority::High)), None)
        }
        DunningAction::WriteOffRecommendation => {
            (Some(task("write_off_review", Priority::High)), None)
        }
        DunningAction::SuspensionOrder => (None, Some(OrderKind::Suspend)),
        DunningAction::TerminationOrder => (None, Some(OrderKind::Terminate)),
        _ => (None, Some(OrderKind::EquipmentPickup)),
    };
    if step.action.is_notice() {
        let (channel, to) = recipients.for_action(step.action);
        let next: Next = diesel::sql_query("SELECT nextval('notice_numbers') AS n")
            .get_result(conn)
            .await?;
        let row = NoticeRow {
            id: Uuid::now_v7(),
            number: format!("NTC-{:06}", next.n),
            account_id: c.account_id,
            invoice_id: c.invoice_id,
            policy_id: c.policy_id,
            step_no: step.step_no,
            action: step.action,
            channel,
            recipient: to,
            subject,
            body_text: text,
            body_html: html,
            amount: c.amount,
            currency: c.currency.clone(),
            run_id,
            created_at: ctx.now,
        };
        diesel::insert_into(nt::notices)
            .values(&row)
            .execute(conn)
            .await?;
        let view = NoticeView::from(row);
        crate::audit::record(
            conn,
            ctx,
            crate::audit::Change {
                action: "notice.created",
                entity_type: "notice",
                entity_id: view.id,
                account_id: Some(c.account_id),
                before: None,
                after: Some(&view),
            },
        )
        .await?;
        counts.notices += 1;
    } else if let Some((kind, priority)) = task_kind {
        let row = super::open_task(
            conn,
            ctx,
            kind,
            c.account_id,
            Some(c.invoice_id),
            subject,
            text,
            priority,
            as_of,
        )
        .await?;
        task_id = Some(row.id);
        counts.tasks += 1;
    } else if let Some(kind) = order_kind {
        // One open order of a kind per account: a second invoice reaching the step joins it.
        if let Some(order) = service_orders::create(
            conn,
            ctx,
            c.account_id,
            kind,
            None,
            OrderSource::Dunning,
            subject,
        )
        .await?
        {
            order_id = Some(order.id);
            counts.orders += 1;
        }
    }
    if task_id.is_some() || order_id.is_some() {
        diesel::sql_query(
            "UPDATE dunning_actions SET task_id = $1, service_order_id = $2
              WHERE invoice_id = $3 AND policy_id = $4 AND step_no = $5",
        )
        .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(task_id)
        .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(order_id)
        .bind::<SqlUuid, _>(c.invoice_id)
        .bind::<SqlUuid, _>(c.policy_id)
        .bind::<Integer, _>(step.step_no)
        .execute(conn)
        .await?;
    }
    counts.steps += 1;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Integer)]
    step_no: i32,
}

/// Records the due steps of an invoice (the performed one and those it supersedes); whether
/// this run claimed the step to perform (another run may have got there first).
async fn claim(
    conn: &mut Conn,
    run_id: Uuid,
    c: &Candidate,
    perform: &StepRow,
    superseded: &[&StepRow],
    now: time::OffsetDateTime,
) -> Result<bool, ApiError> {
    let mut steps: Vec<(&StepRow, &str)> = superseded.iter().map(|s| (*s, "superseded")).collect();
    steps.push((perform, "performed"));
    let mut claimed = false;
    for (step, outcome) in steps {
        let row: Option<Claimed> = diesel::sql_query(
            "INSERT INTO dunning_actions (invoice_id, policy_id, step_no, policy_version,
                    account_id, run_id, action, outcome, days_past_due, amount, performed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT DO NOTHING
             RETURNING step_no",
        )
        .bind::<SqlUuid, _>(c.invoice_id)
        .bind::<SqlUuid, _>(c.policy_id)
        .bind::<Integer, _>(step.step_no)
        .bind::<Integer, _>(step.policy_version)
        .bind::<SqlUuid, _>(c.account_id)
        .bind::<SqlUuid, _>(run_id)
        .bind::<Text, _>(step.action.as_str())
        .bind::<Text, _>(outcome)
        .bind::<Integer, _>(c.days)
        .bind::<Numeric, _>(c.amount)
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .get_result(conn)
        .await
        .optional()?;
        claimed = row.is_some_and(|r| r.step_no == step.step_no);
    }
    Ok(claimed)
}

/// Performs a dunning run as of `as_of`, recorded in `dunning_runs`; its summary.
pub async fn run(
    pool: &DbPool,
    ctx: &Ctx,
    as_of: Date,
    trigger: RunTrigger,
) -> Result<DunningRunView, ApiError> {
    run_once(pool, ctx, as_of, trigger, None, "")
        .await
        .map(|(summary, _)| summary)
}

/// [`run`], claiming `key` with the run's start: a retry with the same key answers the run
/// (as it stands when the first is still running) instead of running again. The flag says
/// whether the answer is such a replay.
async fn run_once(
    pool: &DbPool,
    ctx: &Ctx,
    as_of: Date,
    trigger: RunTrigger,
    key: Option<&str>,
    fingerprint: &str,
) -> Result<(DunningRunView, bool), ApiError> {
    let mut conn = crate::db::conn(pool).await?;
    let mut summary = DunningRunView {
        id: Uuid::now_v7(),
        as_of,
        trigger,
        status: DunningRunStatus::Running,
        started_by: ctx.principal.subject.clone(),
        started_at: ctx.now,
        finished_at: None,
        invoices_examined: 0,
        steps_performed: 0,
        notices: 0,
        tasks: 0,
        service_orders: 0,
        promises_kept: 0,
        promises_broken: 0,
        error: None,
    };
    let started = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, ctx, key, fingerprint).await? {
                Begin::Replay(stored) => return Ok(Some(stored)),
                Begin::Fresh(claim) => claim,
            };
            diesel::insert_into(dr::dunning_runs)
                .values(&summary)
                .execute(conn)
                .await?;
            claim.finish(conn, StatusCode::CREATED, &summary).await?;
            Ok::<_, ApiError>(None)
        })
        .await?;
    if let Some(stored) = started {
        let id: Uuid = serde_json::from_value(stored.body["id"].clone())?;
        let current = dr::dunning_runs
            .find(id)
            .select(DunningRunView::as_select())
            .first(&mut conn)
            .await?;
        return Ok((current, true));
    }
    let outcome = dun(&mut conn, ctx, &mut summary).await;
    summary.finished_at = Some(ctx.now);
    match outcome {
        Ok(()) => summary.status = DunningRunStatus::Completed,
        Err(e) => {
            log::error!("dunning run {} failed: {e}", summary.id);
            summary.status = DunningRunStatus::Failed;
            summary.error = Some(e.to_string());
        }
    }
    conn.transaction(async |conn| {
        diesel::update(dr::dunning_runs.find(summary.id))
            .set(&summary)
            .execute(conn)
            .await?;
        idempotency::record_final(conn, ctx, key, &summary).await
    })
    .await?;
    Ok((summary, false))
}

/// What a run as of a day has to do: the candidates, their policies' steps, and the steps
/// already recorded on them. Three queries whatever the number of invoices.
struct Plan {
    candidates: Vec<Candidate>,
    steps: HashMap<(Uuid, i32), Vec<StepRow>>,
    recorded: HashMap<(Uuid, Uuid), Vec<i32>>,
}

impl Plan {
    async fn as_of(conn: &mut Conn, as_of: Date) -> Result<Plan, ApiError> {
        let candidates = candidates(conn, as_of).await?;
        let mut versions: Vec<(Uuid, i32)> = candidates
            .iter()
            .map(|c| (c.policy_id, c.policy_version))
            .collect();
        versions.sort();
        versions.dedup();
        let steps = dunning::steps_of(conn, &versions).await?;
        let mut recorded: HashMap<(Uuid, Uuid), Vec<i32>> = HashMap::new();
        use crate::schema::dunning_actions::dsl as da;
        let ids: Vec<Uuid> = candidates.iter().map(|c| c.invoice_id).collect();
        for (invoice, policy, step) in da::dunning_actions
            .filter(da::invoice_id.eq_any(&ids))
            .select((da::invoice_id, da::policy_id, da::step_no))
            .load::<(Uuid, Uuid, i32)>(conn)
            .await?
        {
            recorded.entry((invoice, policy)).or_default().push(step);
        }
        Ok(Plan {
            candidates,
            steps,
            recorded,
        })
    }

    /// Per account (in the candidates' order), each invoice with a step due, that step and
    /// the earlier due ones it supersedes.
    fn work(&self) -> Vec<(Uuid, Vec<Work<'_>>)> {
        let mut by_account: Vec<(Uuid, Vec<Work<'_>>)> = Vec::new();
        for c in &self.candidates {
            let Some(policy_steps) = self.steps.get(&(c.policy_id, c.policy_version)) else {
                continue;
            };
            let done = self
                .recorded
                .get(&(c.invoice_id, c.policy_id))
                .map_or(&[][..], |v| v.as_slice());
            let Some((step, earlier)) = due_steps(policy_steps, c.days, c.amount, done) else {
                continue;
            };
            match by_account.last_mut() {
                Some((a, list)) if *a == c.account_id => list.push((c, step, earlier)),
                _ => by_account.push((c.account_id, vec![(c, step, earlier)])),
            }
        }
        by_account
    }
}

/// An invoice, the step to perform on it and the earlier due ones it supersedes.
type Work<'a> = (&'a Candidate, &'a StepRow, Vec<&'a StepRow>);

async fn dun(conn: &mut Conn, ctx: &Ctx, summary: &mut DunningRunView) -> Result<(), ApiError> {
    let as_of = summary.as_of;
    // Never past today: a promise's deadline still to come is not missed.
    let review_until = as_of.min(ctx.today());
    let reviewed = conn
        .transaction(async |conn| {
            super::promises::review(conn, ctx, super::promises::Scope::All, review_until).await
        })
        .await?;
    summary.promises_kept = reviewed.kept;
    summary.promises_broken = reviewed.broken;
    let plan = Plan::as_of(conn, as_of).await?;
    summary.invoices_examined = plan.candidates.len() as i32;
    let mut counts = Counts::default();
    for (account_id, work) in plan.work() {
        let mut account_counts = Counts::default();
        let result = conn
            .transaction(async |conn| {
                let account = crate::accounts::store::lock_visible(conn, account_id, None).await?;
                let recipients = Recipients::of(conn, &account).await?;
                let mut any = false;
                for (c, step, earlier) in &work {
                    if claim(conn, summary.id, c, step, earlier, ctx.now).await? {
                        perform(
                            conn,
                            ctx,
                            summary,
                            c,
                            step,
                            &recipients,
                            &mut account_counts,
                        )
                        .await?;
                        any = true;
                    }
                }
                if any {
                    super::set_status(
                        conn,
                        ctx,
                        account_id,
                        &[CollectionsStatus::None],
                        CollectionsStatus::InDunning,
                    )
                    .await?;
                }
                Ok::<_, ApiError>(())
            })
            .await;
        match result {
            Ok(()) => {
                counts.steps += account_counts.steps;
                counts.notices += account_counts.notices;
                counts.tasks += account_counts.tasks;
                counts.orders += account_counts.orders;
            }
            // One account's data must not stop the others' dunning.
            Err(e) => log::warn!("dunning run {}: account {account_id}: {e}", summary.id),
        }
    }
    summary.steps_performed = counts.steps;
    summary.notices = counts.notices;
    summary.tasks = counts.tasks;
    summary.service_orders = counts.orders;
    Ok(())
}

/// What a run as of `as_of` would do, with nothing done: the same candidates and steps, the
/// notices rendered for the recipients they would go to.
pub async fn preview_run(conn: &mut Conn, as_of: Date) -> Result<RunPreview, ApiError> {
    let plan = Plan::as_of(conn, as_of).await?;
    let work = plan.work();
    let accounts: Vec<Uuid> = work.iter().map(|(a, _)| *a).collect();
    let recipients = Recipients::of_many(conn, &accounts).await?;
    let mut steps = Vec::new();
    for (account_id, list) in work {
        for (c, step, earlier) in list {
            let Rendered { subject, text, .. } = render(c, step, as_of);
            let to = step
                .action
                .is_notice()
                .then(|| recipients.get(&account_id))
                .flatten()
                .map(|r| r.for_action(step.action));
            steps.push(PlannedStep {
                account_id,
                invoice_id: c.invoice_id,
                invoice_number: c.invoice_number.clone(),
                days_past_due: c.days,
                amount: Currency::parse(&c.currency)
                    .map_or(c.amount, |cur| cur.normalize(c.amount)),
                currency: c.currency.clone(),
                step_no: step.step_no,
                action: step.action,
                superseded_steps: earlier.iter().map(|s| s.step_no).collect(),
                channel: to.as_ref().map(|(channel, _)| *channel),
                recipient: to.map(|(_, recipient)| recipient),
                subject,
                body_text: text,
            });
        }
    }
    Ok(RunPreview {
        as_of,
        preview: true,
        invoices_examined: plan.candidates.len() as i32,
        steps,
    })
}

/// Runs dunning as of today every `minutes` (0: never) while the server runs.
pub fn spawn(pool: DbPool, minutes: u64, clock: crate::clock::Clock) {
    if minutes == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(minutes * 60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ctx = super::system_ctx(clock.now());
            match run(&pool, &ctx, ctx.today(), RunTrigger::Schedule).await {
                Ok(r) => log::info!(
                    "dunning run {}: {} steps, {} notices, {} promises broken",
                    r.id,
                    r.steps_performed,
                    r.notices,
                    r.promises_broken
                ),
                Err(e) => log::warn!("dunning run: {e}"),
            }
        }
    });
}

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
    let today = ctx.now.date();
    let as_of = body.0.as_of.unwrap_or(today);
    if (as_of - today).whole_days().abs() > 366 {
        return Err(ApiError::field(
            "as_of",
            "out_of_range",
            format!(
                "must be between {} and {}",
                today - Duration::days(366),
                today + Duration::days(366)
            ),
        ));
    }
    let preview = match body.0.preview {
        Some(false) if as_of > today => {
            return Err(ApiError::field(
                "preview",
                "future_run",
                format!("a run as of {as_of}, after today ({today}), can only be a preview"),
            ))
        }
        Some(p) => p,
        None => as_of > today,
    };
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

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeFilter {
    pub account_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
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

async fn find_notice(conn: &mut Conn, id: Uuid) -> Result<NoticeRow, ApiError> {
    nt::notices
        .find(id)
        .select(NoticeRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("notice"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn step(no: i32, days: i32, min: &str) -> StepRow {
        StepRow {
            policy_id: Uuid::nil(),
            policy_version: 1,
            step_no: no,
            days_past_due: days,
            action: DunningAction::ReminderEmail,
            min_balance: min.parse().unwrap(),
            subject: String::new(),
            body_text: String::new(),
            body_html: String::new(),
        }
    }

    #[test]
    fn the_latest_due_step_fires_and_supersedes_the_earlier() {
        let steps = [step(1, 1, "0"), step(2, 15, "0"), step(3, 30, "100")];
        let amount: Decimal = "50".parse().unwrap();
        // 20 days: step 2 fires, step 1 is superseded; step 3 is neither due nor big enough.
        let (s, earlier) = due_steps(&steps, 20, amount, &[]).unwrap();
        assert_eq!(s.step_no, 2);
        assert_eq!(earlier.len(), 1);
        // Once recorded, nothing more until a later step is due.
        assert!(due_steps(&steps, 20, amount, &[1, 2]).is_none());
        // 40 days but below step 3's minimum balance: nothing.
        assert!(due_steps(&steps, 40, amount, &[1, 2]).is_none());
        let big: Decimal = "150".parse().unwrap();
        assert_eq!(due_steps(&steps, 40, big, &[1, 2]).unwrap().0.step_no, 3);
    }

    #[test]
    fn a_step_passed_over_never_fires_late() {
        // Step 2 had no balance to fire when step 3 fired; it stays passed over.
        let steps = [step(1, 1, "0"), step(2, 15, "500"), step(3, 30, "0")];
        let amount: Decimal = "600".parse().unwrap();
        assert!(due_steps(&steps, 31, amount, &[1, 3]).is_none());
    }
}
