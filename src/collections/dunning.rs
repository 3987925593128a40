//! Dunning policies: ordered steps by days past due, each an action with a template and a
//! minimum balance. Every change makes a new version; earlier versions keep their steps, and
//! runs use the newest. An account's policy is its own, else its segment's, else the default.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency::{self, Begin};
use crate::openapi::responses::*;
use crate::schema::dunning_policies::dsl as dp;
use crate::schema::dunning_steps::dsl as ds;
use crate::validate::{double_option, Errors};
use crate::AppState;

crate::text_enum! {
    /// What a step does.
    DunningAction {
        ReminderEmail => "reminder_email",
        LateNoticeLetter => "late_notice_letter",
        CallTask => "call_task",
        SuspensionWarning => "suspension_warning",
        SuspensionOrder => "suspension_order",
        TerminationOrder => "termination_order",
        EquipmentPickupOrder => "equipment_pickup_order",
        AgencyPlacementRecommendation => "agency_placement_recommendation",
        WriteOffRecommendation => "write_off_recommendation",
    }
}

impl DunningAction {
    /// Whether the step sends the customer a notice.
    pub fn is_notice(self) -> bool {
        matches!(
            self,
            DunningAction::ReminderEmail
                | DunningAction::LateNoticeLetter
                | DunningAction::SuspensionWarning
        )
    }

    /// The template a step of this action gets when none is given: subject and text.
    pub fn default_template(self) -> (&'static str, &'static str) {
        use DunningAction::*;
        match self {
            ReminderEmail => (
                "Reminder: invoice {{invoice.number}} is past due",
                "Dear {{account.name}},\n\nOur records show {{amount}} {{currency}} outstanding on invoice {{invoice.number}}, due on {{invoice.due_date}} ({{days_past_due}} days ago). Please arrange payment, or let us know if it is already on its way.\n\nAccount {{account.number}}",
            ),
            LateNoticeLetter => (
                "Late notice: invoice {{invoice.number}}",
                "Dear {{account.name}},\n\nInvoice {{invoice.number}}, due on {{invoice.due_date}}, is {{days_past_due}} days past due with {{amount}} {{currency}} outstanding. Please pay this amount within ten days.\n\nAccount {{account.number}}",
            ),
            SuspensionWarning => (
                "Service suspension warning: account {{account.number}}",
                "Dear {{account.name}},\n\nInvoice {{invoice.number}} is {{days_past_due}} days past due with {{amount}} {{currency}} outstanding. Unless it is paid, the service under your contracts will be suspended.\n\nAccount {{account.number}}",
            ),
            CallTask => (
                "Call {{account.name}} about {{invoice.number}}",
                "{{amount}} {{currency}} is {{days_past_due}} days past due on invoice {{invoice.number}}.",
            ),
            SuspensionOrder => (
                "Suspend service: {{invoice.number}} {{days_past_due}} days past due",
                "{{amount}} {{currency}} is {{days_past_due}} days past due on invoice {{invoice.number}}.",
            ),
            TerminationOrder => (
                "Terminate service: {{invoice.number}} {{days_past_due}} days past due",
                "{{amount}} {{currency}} is {{days_past_due}} days past due on invoice {{invoice.number}}.",
            ),
            EquipmentPickupOrder => (
                "Pick up equipment: {{invoice.number}} {{days_past_due}} days past due",
                "{{amount}} {{currency}} is {{days_past_due}} days past due on invoice {{invoice.number}}.",
            ),
            AgencyPlacementRecommendation => (
                "Consider agency placement of {{account.name}}",
                "{{amount}} {{currency}} is {{days_past_due}} days past due on invoice {{invoice.number}}.",
            ),
            WriteOffRecommendation => (
                "Consider writing off {{invoice.number}}",
                "{{amount}} {{currency}} is {{days_past_due}} days past due on invoice {{invoice.number}}.",
            ),
        }
    }
}

/// What a `min_balance` column (numeric(18, 4)) holds: less than 10^14.
pub const MAX_MIN_BALANCE: Decimal = Decimal::from_parts(276447232, 23283, 0, false, 0);

/// The fields a template may use, as `{{name}}`.
pub const FIELDS: &[&str] = &[
    "account.name",
    "account.number",
    "invoice.number",
    "invoice.due_date",
    "invoice.total",
    "amount",
    "currency",
    "days_past_due",
    "today",
];

/// The field names a template uses, or the first unknown one / unclosed brace.
fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "has a {{ without }}".to_string())?;
        let name = after[..end].trim();
        if !FIELDS.contains(&name) {
            return Err(format!(
                "uses {{{{{name}}}}}; the fields are {}",
                FIELDS.join(", ")
            ));
        }
        names.push(name);
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// Fills a checked template with `values`, escaping them for HTML when `html`.
pub fn render(template: &str, values: &HashMap<&str, String>, html: bool) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let value = values.get(after[..end].trim()).map_or("", String::as_str);
        if html {
            out.push_str(&crate::invoices::document::escape(value));
        } else {
            out.push_str(value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// An HTML body made from a text template: one paragraph per blank-line block.
pub fn html_of_text(text: &str) -> String {
    text.split("\n\n")
        .map(|para| {
            let escaped = crate::invoices::document::escape(para.trim());
            format!("<p>{}</p>", escaped.replace('\n', "<br>"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn is_segment(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::dunning_policies, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct PolicyRow {
    pub id: Uuid,
    pub name: String,
    pub segment: Option<String>,
    pub is_default: bool,
    pub version: i32,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::dunning_steps)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct StepRow {
    pub policy_id: Uuid,
    pub policy_version: i32,
    pub step_no: i32,
    pub days_past_due: i32,
    pub action: DunningAction,
    pub min_balance: Decimal,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
}

/// A notice's wording. Fields: `{{account.name}}`, `{{account.number}}`,
/// `{{invoice.number}}`, `{{invoice.due_date}}`, `{{invoice.total}}`, `{{amount}}` (what is
/// dunned: the undisputed balance), `{{currency}}`, `{{days_past_due}}`, `{{today}}`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[schema(
        max_length = 500,
        example = "Reminder: invoice {{invoice.number}} is past due"
    )]
    pub subject: String,
    #[schema(max_length = 20000)]
    pub text: String,
    /// Made from `text` when absent.
    #[schema(max_length = 50000)]
    pub html: Option<String>,
}

/// A step as given.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStep {
    /// Fires once the invoice is this many days past due.
    pub days_past_due: i32,
    pub action: DunningAction,
    /// Fires only when the invoice's undisputed balance is at least this (default 0).
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "50.00")]
    pub min_balance: Option<Decimal>,
    /// The action's default wording when absent.
    pub template: Option<Template>,
}

/// A step of a policy version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepView {
    /// Position in the policy, from 1: with the policy, what makes a step fire once per
    /// invoice across versions.
    pub step_no: i32,
    pub days_past_due: i32,
    pub action: DunningAction,
    #[schema(value_type = crate::money::DecimalString, example = "0")]
    pub min_balance: Decimal,
    pub template: Template,
}

impl From<StepRow> for StepView {
    fn from(s: StepRow) -> Self {
        StepView {
            step_no: s.step_no,
            days_past_due: s.days_past_due,
            action: s.action,
            min_balance: s.min_balance.normalize(),
            template: Template {
                subject: s.subject,
                text: s.body_text,
                html: Some(s.body_html),
            },
        }
    }
}

/// A dunning policy at one version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: Uuid,
    pub name: String,
    pub segment: Option<String>,
    pub is_default: bool,
    /// The newest version (that runs use) unless another was asked for.
    pub version: i32,
    pub latest_version: i32,
    pub steps: Vec<StepView>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A policy to create.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    #[schema(max_length = 200, example = "Standard")]
    pub name: String,
    /// The default policy of accounts in this segment.
    pub segment: Option<String>,
    /// The default policy of accounts with neither their own nor a segment policy.
    #[serde(default)]
    pub is_default: bool,
    /// In order; days past due may not decrease.
    pub steps: Vec<NewStep>,
}

/// Changes making a new version; absent fields stay, `steps` replaces them all.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyPatch {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub segment: Option<Option<String>>,
    pub is_default: Option<bool>,
    pub steps: Option<Vec<NewStep>>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl PolicyPatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.name.is_none()
            && self.segment.is_none()
            && self.is_default.is_none()
            && self.steps.is_none()
    }
}

/// Checks the steps and turns them into rows of `policy_id` at `version`.
pub fn step_rows(policy_id: Uuid, version: i32, steps: &[NewStep], e: &mut Errors) -> Vec<StepRow> {
    if steps.is_empty() || steps.len() > 20 {
        e.add("steps", "invalid", "a policy has 1 to 20 steps");
    }
    let mut rows = Vec::with_capacity(steps.len());
    let mut last_days = 0;
    for (k, step) in steps.iter().enumerate() {
        let at = |name: &str| format!("steps[{k}].{name}");
        if !(0..=3650).contains(&step.days_past_due) {
            e.add(&at("days_past_due"), "out_of_range", "must be 0 to 3650");
        } else if step.days_past_due < last_days {
            e.add(
                &at("days_past_due"),
                "out_of_order",
                "steps are in order of days past due",
            );
        }
        last_days = step.days_past_due;
        let min_balance = step.min_balance.unwrap_or(Decimal::ZERO);
        if min_balance.is_sign_negative()
            || min_balance.scale() > 4
            || min_balance >= MAX_MIN_BALANCE
        {
            e.add(
                &at("min_balance"),
                "invalid",
                "must be an amount ≥ 0 and below 100000000000000",
            );
        }
        let (subject, text) = step.action.default_template();
        let template = step.template.clone().unwrap_or(Template {
            subject: subject.into(),
            text: text.into(),
            html: None,
        });
        for (name, value, max) in [
            ("template.subject", Some(template.subject.as_str()), 500),
            ("template.text", Some(template.text.as_str()), 20_000),
            ("template.html", template.html.as_deref(), 50_000),
        ] {
            let Some(value) = value else { continue };
            e.text(&at(name), value, max);
            if let Err(reason) = placeholders(value) {
                e.add(&at(name), "unknown_field", reason);
            }
        }
        let html = template
            .html
            .clone()
            .unwrap_or_else(|| html_of_text(&template.text));
        rows.push(StepRow {
            policy_id,
            policy_version: version,
            step_no: k as i32 + 1,
            days_past_due: step.days_past_due,
            action: step.action,
            min_balance,
            subject: template.subject.trim().to_string(),
            body_text: template.text,
            body_html: html,
        });
    }
    rows
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<PolicyRow, ApiError> {
    dp::dunning_policies
        .find(id)
        .select(PolicyRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("dunning policy"))
}

/// The steps of each (policy, version) given: one query.
pub async fn steps_of(
    conn: &mut Conn,
    versions: &[(Uuid, i32)],
) -> Result<HashMap<(Uuid, i32), Vec<StepRow>>, ApiError> {
    let ids: Vec<Uuid> = versions.iter().map(|v| v.0).collect();
    let rows: Vec<StepRow> = ds::dunning_steps
        .filter(ds::policy_id.eq_any(&ids))
        .select(StepRow::as_select())
        .order((ds::policy_id, ds::policy_version, ds::step_no))
        .load(conn)
        .await?;
    let mut out: HashMap<(Uuid, i32), Vec<StepRow>> = HashMap::new();
    for row in rows {
        let key = (row.policy_id, row.policy_version);
        if versions.contains(&key) {
            out.entry(key).or_default().push(row);
        }
    }
    Ok(out)
}

async fn view(conn: &mut Conn, row: PolicyRow, version: i32) -> Result<PolicyView, ApiError> {
    let mut steps = steps_of(conn, &[(row.id, version)]).await?;
    Ok(PolicyView {
        id: row.id,
        name: row.name,
        segment: row.segment,
        is_default: row.is_default,
        version,
        latest_version: row.version,
        steps: steps
            .remove(&(row.id, version))
            .unwrap_or_default()
            .into_iter()
            .map(StepView::from)
            .collect(),
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

crate::text_enum! {
    /// Why an account has its dunning policy.
    PolicySource { Account => "account", Segment => "segment", Default => "default" }
}

/// The policy dunning uses for an account.
#[derive(Debug, Clone, Serialize, ToSchema, diesel::QueryableByName)]
pub struct EffectivePolicy {
    #[diesel(sql_type = SqlUuid)]
    #[serde(skip)]
    pub account_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Integer)]
    pub version: i32,
    #[diesel(sql_type = Text)]
    pub source: PolicySource,
}

/// The effective policy of each account given that has one: one query.
pub async fn effective(
    conn: &mut Conn,
    accounts: &[Uuid],
) -> Result<HashMap<Uuid, EffectivePolicy>, ApiError> {
    let rows: Vec<EffectivePolicy> = diesel::sql_query(
        "SELECT a.id AS account_id, p.id, p.name, p.version, x.source
           FROM accounts a
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
           LEFT JOIN dunning_policies sp ON sp.segment = cp.segment
           LEFT JOIN dunning_policies dp ON dp.is_default
          CROSS JOIN LATERAL (
                SELECT CASE WHEN cp.dunning_policy_id IS NOT NULL THEN cp.dunning_policy_id
                            WHEN sp.id IS NOT NULL THEN sp.id ELSE dp.id END AS policy_id,
                       CASE WHEN cp.dunning_policy_id IS NOT NULL THEN 'account'
                            WHEN sp.id IS NOT NULL THEN 'segment' ELSE 'default' END AS source) x
           JOIN dunning_policies p ON p.id = x.policy_id
          WHERE a.id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(accounts)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.account_id, r)).collect())
}

/// Refuses a second default policy or a second policy for a segment (409).
async fn check_unique(
    conn: &mut Conn,
    id: Uuid,
    segment: Option<&str>,
    is_default: bool,
) -> Result<(), ApiError> {
    if let Some(segment) = segment {
        let other: Option<Uuid> = dp::dunning_policies
            .filter(dp::segment.eq(segment).and(dp::id.ne(id)))
            .select(dp::id)
            .first(conn)
            .await
            .optional()?;
        if other.is_some() {
            return Err(ApiError::Conflict {
                code: "segment_taken",
                detail: format!("another policy is the default of segment {segment}"),
                field: Some("segment"),
            });
        }
    }
    if is_default {
        let other: Option<Uuid> = dp::dunning_policies
            .filter(dp::is_default.eq(true).and(dp::id.ne(id)))
            .select(dp::id)
            .first(conn)
            .await
            .optional()?;
        if other.is_some() {
            return Err(ApiError::Conflict {
                code: "default_taken",
                detail: "another policy is the default; unset it first".into(),
                field: Some("is_default"),
            });
        }
    }
    Ok(())
}

fn check_policy_fields(name: &str, segment: Option<&str>, e: &mut Errors) {
    e.text("name", name, 200);
    if segment.is_some_and(|s| !is_segment(s)) {
        e.add(
            "segment",
            "invalid",
            "a lowercase letter, then up to 31 of a-z, 0-9 and _",
        );
    }
}

/// Serialises policy changes: unique names, segments and the default are checked under it.
async fn lock_policies(conn: &mut Conn) -> Result<(), ApiError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('dunning_policies'))")
        .execute(conn)
        .await?;
    Ok(())
}

async fn audit_policy(
    conn: &mut Conn,
    ctx: &Ctx,
    action: &str,
    before: Option<&PolicyView>,
    after: &PolicyView,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        ctx,
        Change {
            action,
            entity_type: "dunning_policy",
            entity_id: after.id,
            account_id: None,
            before,
            after: Some(after),
        },
    )
    .await
}

/// Handles the POST /v1/collections/dunning-policies route: creates a policy at version 1.
#[utoipa::path(
    tag = "collections",
    request_body = NewPolicy,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The policy was created", body = PolicyView),
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
#[post("/collections/dunning-policies")]
pub async fn create_policy(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPolicy>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let new = body.0;
    let id = Uuid::now_v7();
    let mut e = Errors::default();
    check_policy_fields(&new.name, new.segment.as_deref(), &mut e);
    let steps = step_rows(id, 1, &new.steps, &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/dunning-policies", &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            lock_policies(conn).await?;
            check_unique(conn, id, new.segment.as_deref(), new.is_default).await?;
            let taken: i64 = dp::dunning_policies
                .filter(dp::name.eq(new.name.trim()))
                .count()
                .get_result(conn)
                .await?;
            if taken > 0 {
                return Err(ApiError::Conflict {
                    code: "name_taken",
                    detail: "another policy has this name".into(),
                    field: Some("name"),
                });
            }
            let now = ctx.now;
            let row = PolicyRow {
                id,
                name: new.name.trim().to_string(),
                segment: new.segment.clone(),
                is_default: new.is_default,
                version: 1,
                created_by: ctx.principal.subject.clone(),
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(dp::dunning_policies)
                .values(&row)
                .execute(conn)
                .await?;
            diesel::insert_into(ds::dunning_steps)
                .values(&steps)
                .execute(conn)
                .await?;
            let view = view(conn, row, 1).await?;
            audit_policy(conn, &ctx, "dunning_policy.created", None, &view).await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/collections/dunning-policies route: every policy at its newest
/// version, by name.
#[utoipa::path(
    tag = "collections",
    responses(
        (status = 200, description = "The policies", body = Vec<PolicyView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/dunning-policies")]
pub async fn list_policies(state: web::Data<AppState>, ctx: Ctx) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows: Vec<PolicyRow> = dp::dunning_policies
        .select(PolicyRow::as_select())
        .order(dp::name)
        .load(&mut conn)
        .await?;
    let versions: Vec<(Uuid, i32)> = rows.iter().map(|r| (r.id, r.version)).collect();
    let mut steps = steps_of(&mut conn, &versions).await?;
    let views: Vec<PolicyView> = rows
        .into_iter()
        .map(|row| PolicyView {
            steps: steps
                .remove(&(row.id, row.version))
                .unwrap_or_default()
                .into_iter()
                .map(StepView::from)
                .collect(),
            id: row.id,
            name: row.name,
            segment: row.segment,
            is_default: row.is_default,
            version: row.version,
            latest_version: row.version,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// An earlier version to read (default the newest).
    pub version: Option<i32>,
}

/// Handles the GET /v1/collections/dunning-policies/{id} route: a policy at its newest
/// version, or at `version`.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Policy id"), VersionQuery),
    responses(
        (status = 200, description = "The policy", body = PolicyView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/dunning-policies/{id}")]
pub async fn get_policy(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    query: ApiQuery<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = find(&mut conn, id.into_inner()).await?;
    let latest = row.version;
    let version = query.0.version.unwrap_or(latest);
    if !(1..=latest).contains(&version) {
        return Err(ApiError::NotFound("dunning policy version"));
    }
    let view = view(&mut conn, row, version).await?;
    Ok(versioned(StatusCode::OK, latest, &view))
}

/// Handles the PATCH /v1/collections/dunning-policies/{id} route: makes a new version with
/// the changes; steps given replace the steps. Earlier versions stay readable.
#[utoipa::path(
    tag = "collections",
    request_body = PolicyPatch,
    params(
        ("id" = Uuid, Path, description = "Policy id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed"),
    ),
    responses(
        (status = 200, description = "The policy at its new version", body = PolicyView),
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
#[patch("/collections/dunning-policies/{id}")]
pub async fn update_policy(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<PolicyPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let id = id.into_inner();
    let patch = body.0;
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let view = conn
        .transaction(async |conn| {
            lock_policies(conn).await?;
            let current = find(conn, id).await?;
            expected.check(current.version)?;
            let before = view(conn, current.clone(), current.version).await?;
            let mut next = current.clone();
            next.version += 1;
            next.updated_at = ctx.now;
            if let Some(name) = &patch.name {
                next.name = name.trim().to_string();
            }
            if let Some(segment) = &patch.segment {
                next.segment = segment.clone();
            }
            if let Some(flag) = patch.is_default {
                next.is_default = flag;
            }
            let mut e = Errors::default();
            check_policy_fields(&next.name, next.segment.as_deref(), &mut e);
            let steps = match &patch.steps {
                Some(steps) => step_rows(id, next.version, steps, &mut e),
                None => steps_of(conn, &[(id, current.version)])
                    .await?
                    .remove(&(id, current.version))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mut s| {
                        s.policy_version = next.version;
                        s
                    })
                    .collect(),
            };
            e.finish()?;
            check_unique(conn, id, next.segment.as_deref(), next.is_default).await?;
            let taken: i64 = dp::dunning_policies
                .filter(dp::name.eq(&next.name).and(dp::id.ne(id)))
                .count()
                .get_result(conn)
                .await?;
            if taken > 0 {
                return Err(ApiError::Conflict {
                    code: "name_taken",
                    detail: "another policy has this name".into(),
                    field: Some("name"),
                });
            }
            diesel::update(dp::dunning_policies.find(id))
                .set(&next)
                .execute(conn)
                .await?;
            diesel::insert_into(ds::dunning_steps)
                .values(&steps)
                .execute(conn)
                .await?;
            let version = next.version;
            let after = view(conn, next, version).await?;
            audit_policy(conn, &ctx, "dunning_policy.updated", Some(&before), &after).await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(versioned(StatusCode::OK, view.version, &view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_name_known_fields_only() {
        assert_eq!(
            placeholders("Hi {{account.name}}, {{ amount }} {{currency}}").unwrap(),
            ["account.name", "amount", "currency"]
        );
        assert!(placeholders("{{account.secret}}").is_err());
        assert!(placeholders("{{amount").is_err());
    }

    #[test]
    fn rendering_fills_fields_and_escapes_html() {
        let values: HashMap<&str, String> = [
            ("account.name", "Smith & <Sons>".to_string()),
            ("amount", "120.00".to_string()),
        ]
        .into_iter()
        .collect();
        let t = "Dear {{account.name}}: {{amount}}";
        assert_eq!(render(t, &values, false), "Dear Smith & <Sons>: 120.00");
        assert_eq!(
            render(t, &values, true),
            "Dear Smith &amp; &lt;Sons&gt;: 120.00"
        );
        assert_eq!(
            html_of_text("A & B\nC\n\nD"),
            "<p>A &amp; B<br>C</p>\n<p>D</p>"
        );
    }

    #[test]
    fn steps_are_ordered_checked_and_numbered() {
        let step = |days: i32, action| NewStep {
            days_past_due: days,
            action,
            min_balance: None,
            template: None,
        };
        let mut e = Errors::default();
        let rows = step_rows(
            Uuid::nil(),
            1,
            &[
                step(1, DunningAction::ReminderEmail),
                step(30, DunningAction::LateNoticeLetter),
            ],
            &mut e,
        );
        assert!(e.0.is_empty());
        assert_eq!(rows[1].step_no, 2);
        assert!(rows[0]
            .body_html
            .starts_with("<p>Dear {{account.name}},</p>"));

        let mut e = Errors::default();
        step_rows(
            Uuid::nil(),
            1,
            &[
                step(30, DunningAction::ReminderEmail),
                step(10, DunningAction::CallTask),
            ],
            &mut e,
        );
        assert_eq!(e.0[0].field, "steps[1].days_past_due");
        let mut e = Errors::default();
        step_rows(Uuid::nil(), 1, &[], &mut e);
        assert_eq!(e.0[0].field, "steps");
    }

    #[test]
    fn segments_are_codes() {
        assert!(is_segment("small_business"));
        assert!(!is_segment("Small"));
        assert!(!is_segment(""));
    }
}
