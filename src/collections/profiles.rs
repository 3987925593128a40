//! An account's collections profile (collector, segment, dunning policy, do-not-dun) and the
//! rules that fill collectors' portfolios; the collections view of one account.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::risk::{self, Risk};
use crate::accounts::model::{AccountStatus, CollectionsStatus, RiskLevel};
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, Expected, IdempotencyKey};
use crate::idempotency::{self, Begin};
use crate::openapi::responses::*;
use crate::schema::assignment_rules::dsl as r;
use crate::schema::collection_profiles::dsl as p;
use crate::validate::{double_option, Errors};
use crate::AppState;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::collection_profiles, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ProfileRow {
    pub account_id: Uuid,
    pub collector: Option<String>,
    pub assignment_rule_id: Option<Uuid>,
    pub assigned_at: Option<OffsetDateTime>,
    pub segment: Option<String>,
    pub dunning_policy_id: Option<Uuid>,
    pub do_not_dun: bool,
    pub do_not_dun_reason: Option<String>,
    pub version: i32,
    pub updated_at: OffsetDateTime,
}

impl ProfileRow {
    /// The profile of an account that has none yet (version 0).
    pub fn blank(account_id: Uuid) -> ProfileRow {
        ProfileRow {
            account_id,
            collector: None,
            assignment_rule_id: None,
            assigned_at: None,
            segment: None,
            dunning_policy_id: None,
            do_not_dun: false,
            do_not_dun_reason: None,
            version: 0,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

/// How collections treat an account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileView {
    /// Token subject of the collector whose portfolio holds the account.
    #[schema(example = "collector-7")]
    pub collector: Option<String>,
    /// The rule that assigned the collector; absent when assigned by hand.
    pub assignment_rule_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub assigned_at: Option<OffsetDateTime>,
    /// Picks the segment's default dunning policy when the account has none of its own.
    #[schema(example = "small_business")]
    pub segment: Option<String>,
    /// The account's own dunning policy.
    pub dunning_policy_id: Option<Uuid>,
    /// Dunning skips the account entirely.
    pub do_not_dun: bool,
    pub do_not_dun_reason: Option<String>,
    /// 0 until the profile is first changed.
    pub version: i32,
}

impl From<ProfileRow> for ProfileView {
    fn from(r: ProfileRow) -> Self {
        ProfileView {
            collector: r.collector,
            assignment_rule_id: r.assignment_rule_id,
            assigned_at: r.assigned_at,
            segment: r.segment,
            dunning_policy_id: r.dunning_policy_id,
            do_not_dun: r.do_not_dun,
            do_not_dun_reason: r.do_not_dun_reason,
            version: r.version,
        }
    }
}

/// Changes to a profile; absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Assigns the account to a collector by hand (rules leave it alone from then on);
    /// `null` takes it out of every portfolio until rules assign it again.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 200, value_type = Option<String>)]
    pub collector: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub segment: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub dunning_policy_id: Option<Option<Uuid>>,
    pub do_not_dun: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 2000, value_type = Option<String>)]
    pub do_not_dun_reason: Option<Option<String>>,
    /// The profile version being changed (optional; or send `If-Match`).
    pub version: Option<i32>,
}

pub async fn find(conn: &mut Conn, account_id: Uuid) -> Result<ProfileRow, ApiError> {
    Ok(p::collection_profiles
        .find(account_id)
        .select(ProfileRow::as_select())
        .first(conn)
        .await
        .optional()?
        .unwrap_or_else(|| ProfileRow::blank(account_id)))
}

async fn save(conn: &mut Conn, row: &ProfileRow) -> Result<(), ApiError> {
    diesel::insert_into(p::collection_profiles)
        .values(row)
        .on_conflict(p::account_id)
        .do_update()
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// What a profile patch is checked against: segment codes and an existing policy.
async fn apply_patch(
    conn: &mut Conn,
    patch: &ProfilePatch,
    current: &ProfileRow,
    now: OffsetDateTime,
) -> Result<ProfileRow, ApiError> {
    let mut e = Errors::default();
    let mut next = current.clone();
    if let Some(collector) = &patch.collector {
        if let Some(c) = collector {
            e.text("collector", c, 200);
        }
        next.collector = collector.as_deref().map(|c| c.trim().to_string());
        next.assignment_rule_id = None;
        next.assigned_at = next.collector.as_ref().map(|_| now);
    }
    if let Some(segment) = &patch.segment {
        if let Some(s) = segment {
            if !super::dunning::is_segment(s) {
                e.add(
                    "segment",
                    "invalid",
                    "a lowercase letter, then up to 31 of a-z, 0-9 and _",
                );
            }
        }
        next.segment = segment.clone();
    }
    if let Some(policy) = patch.dunning_policy_id {
        if let Some(id) = policy {
            if super::dunning::find(conn, id).await.is_err() {
                e.add(
                    "dunning_policy_id",
                    "unknown",
                    "no dunning policy has this id",
                );
            }
        }
        next.dunning_policy_id = policy;
    }
    if let Some(flag) = patch.do_not_dun {
        next.do_not_dun = flag;
    }
    if let Some(reason) = &patch.do_not_dun_reason {
        e.optional_text("do_not_dun_reason", reason.as_deref(), 2000);
        next.do_not_dun_reason = reason.clone();
    }
    if next.do_not_dun && next.do_not_dun_reason.is_none() {
        e.add(
            "do_not_dun_reason",
            "required",
            "say why the account is not to be dunned",
        );
    }
    e.finish()?;
    next.version = current.version + 1;
    next.updated_at = now;
    Ok(next)
}

/// The collections view of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionsAccountView {
    pub account_id: Uuid,
    #[schema(example = "ACC-000042")]
    pub number: String,
    pub legal_name: String,
    #[schema(value_type = crate::money::CurrencyCode)]
    pub currency: String,
    pub status: AccountStatus,
    pub collections_status: CollectionsStatus,
    pub profile: ProfileView,
    /// The policy dunning uses for the account, and why.
    pub dunning_policy: Option<super::dunning::EffectivePolicy>,
    pub risk: Risk,
    /// Open invoices' balances.
    #[schema(value_type = crate::money::DecimalString, example = "1250.00")]
    pub balance: Decimal,
    /// Past due and not disputed.
    #[schema(value_type = crate::money::DecimalString, example = "800.00")]
    pub past_due: Decimal,
    pub oldest_past_due_date: Option<Date>,
    pub days_past_due: i64,
    pub active_promise: Option<super::promises::PromiseView>,
    pub last_contact: Option<super::notes::NoteView>,
}

/// Handles the GET /v1/collections/accounts/{id} route: the account's collections profile,
/// effective dunning policy, risk score with each factor's part, balances, active promise
/// and last contact.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account as collections see it", body = CollectionsAccountView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/accounts/{id}")]
pub async fn get_collections_account(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let view = account_view(&mut conn, &state, id, ctx.today()).await?;
    Ok(versioned(StatusCode::OK, view.profile.version, &view))
}

async fn account_view(
    conn: &mut Conn,
    state: &AppState,
    id: Uuid,
    today: Date,
) -> Result<CollectionsAccountView, ApiError> {
    let account = crate::accounts::store::find_visible(conn, id, None).await?;
    let profile = find(conn, id).await?;
    let inputs = risk::factors(conn, today, Some(&[id]))
        .await?
        .pop()
        .ok_or(ApiError::NotFound("account"))?;
    let risk = risk::score(&inputs, today, &state.config.collections.risk);
    let dunning_policy = super::dunning::effective(conn, &[id]).await?.remove(&id);
    let active_promise = super::promises::active_views(conn, &[id])
        .await?
        .remove(&id);
    let last_contact = super::notes::last_contacts(conn, &[id]).await?.remove(&id);
    let currency = crate::money::Currency::parse(&account.currency);
    let norm = |d: Decimal| currency.map_or(d, |c| c.normalize(d));
    Ok(CollectionsAccountView {
        account_id: id,
        number: account.number,
        legal_name: account.legal_name,
        currency: account.currency.clone(),
        status: account.status,
        collections_status: account.collections_status,
        profile: profile.into(),
        dunning_policy,
        risk,
        balance: norm(inputs.balance),
        past_due: norm(inputs.past_due),
        oldest_past_due_date: inputs.oldest_due,
        days_past_due: inputs.days_past_due(today),
        active_promise,
        last_contact,
    })
}

/// Handles the PATCH /v1/collections/accounts/{id} route: assigns the collector by hand, sets
/// the segment, the account's own dunning policy and the do-not-dun flag (with its reason).
#[utoipa::path(
    tag = "collections",
    request_body = ProfilePatch,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the profile version being changed (optional)"),
    ),
    responses(
        (status = 200, description = "The account as collections now see it", body = CollectionsAccountView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[patch("/collections/accounts/{id}")]
pub async fn update_profile(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let id = id.into_inner();
    let patch = body.0;
    if patch.collector.is_none()
        && patch.segment.is_none()
        && patch.dunning_policy_id.is_none()
        && patch.do_not_dun.is_none()
        && patch.do_not_dun_reason.is_none()
    {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = match patch.version {
        Some(v) => Expected::from_request(&req, Some(v))?,
        None => Expected::optional(&req)?,
    };
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| {
        crate::accounts::store::lock_visible(conn, id, None).await?;
        let current = find(conn, id).await?;
        expected.check(current.version)?;
        let next = apply_patch(conn, &patch, &current, ctx.now).await?;
        save(conn, &next).await?;
        audit::record(
            conn,
            &ctx,
            Change {
                action: "collection_profile.updated",
                entity_type: "collection_profile",
                entity_id: id,
                account_id: Some(id),
                before: Some(&ProfileView::from(current)),
                after: Some(&ProfileView::from(next)),
            },
        )
        .await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    let view = account_view(&mut conn, &state, id, ctx.today()).await?;
    Ok(versioned(StatusCode::OK, view.profile.version, &view))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::assignment_rules)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct RuleRow {
    pub id: Uuid,
    pub position: i32,
    pub collector: String,
    pub partner_id: Option<Uuid>,
    pub risk_level: Option<RiskLevel>,
    pub min_balance: Option<Decimal>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
}

/// A rule that puts accounts in a collector's portfolio: every condition given must hold.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    pub id: Uuid,
    /// Rules are tried by position; the first that matches assigns.
    pub position: i32,
    pub collector: String,
    /// The account belongs to this partner.
    pub partner_id: Option<Uuid>,
    /// The account's risk level is this one.
    pub risk_level: Option<RiskLevel>,
    /// The account's open balance is at least this.
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "10000.00")]
    pub min_balance: Option<Decimal>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<RuleRow> for RuleView {
    fn from(r: RuleRow) -> Self {
        RuleView {
            id: r.id,
            position: r.position,
            collector: r.collector,
            partner_id: r.partner_id,
            risk_level: r.risk_level,
            min_balance: r.min_balance.map(|m| m.normalize()),
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// A rule to add.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    /// Unique; 1 is tried first.
    pub position: i32,
    #[schema(max_length = 200)]
    pub collector: String,
    pub partner_id: Option<Uuid>,
    pub risk_level: Option<RiskLevel>,
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "10000.00")]
    pub min_balance: Option<Decimal>,
}

/// Whether the rule takes an account with this partner, level and open balance.
pub fn matches(rule: &RuleRow, partner: Option<Uuid>, level: RiskLevel, balance: Decimal) -> bool {
    rule.partner_id.is_none_or(|p| partner == Some(p))
        && rule.risk_level.is_none_or(|l| l == level)
        && rule.min_balance.is_none_or(|m| balance >= m)
}

/// Handles the POST /v1/collections/assignment-rules route: adds a portfolio rule.
#[utoipa::path(
    tag = "collections",
    request_body = NewRule,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The rule was added", body = RuleView),
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
#[post("/collections/assignment-rules")]
pub async fn create_rule(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewRule>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let new = body.0;
    let mut e = Errors::default();
    if !(1..=10_000).contains(&new.position) {
        e.add("position", "out_of_range", "must be between 1 and 10000");
    }
    e.text("collector", &new.collector, 200);
    if new.min_balance.is_some_and(|m| {
        m.is_sign_negative() || m.scale() > 4 || m >= super::dunning::MAX_MIN_BALANCE
    }) {
        e.add(
            "min_balance",
            "invalid",
            "must be an amount ≥ 0 and below 100000000000000",
        );
    }
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/assignment-rules", &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            if let Some(partner) = new.partner_id {
                if !crate::partners::store::exists(conn, partner).await? {
                    return Err(ApiError::field(
                        "partner_id",
                        "unknown",
                        "no partner has this id",
                    ));
                }
            }
            let taken: Option<Uuid> = r::assignment_rules
                .filter(r::position.eq(new.position))
                .select(r::id)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            if taken.is_some() {
                return Err(ApiError::Conflict {
                    code: "position_taken",
                    detail: format!("another rule has position {}", new.position),
                    field: Some("position"),
                });
            }
            let row = RuleRow {
                id: Uuid::now_v7(),
                position: new.position,
                collector: new.collector.trim().to_string(),
                partner_id: new.partner_id,
                risk_level: new.risk_level,
                min_balance: new.min_balance,
                created_by: ctx.principal.subject.clone(),
                created_at: ctx.now,
            };
            diesel::insert_into(r::assignment_rules)
                .values(&row)
                .execute(conn)
                .await?;
            let view = RuleView::from(row);
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "assignment_rule.created",
                    entity_type: "assignment_rule",
                    entity_id: view.id,
                    account_id: None,
                    before: None,
                    after: Some(&view),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
        .await?;
    Ok(stored.into_response())
}

async fn rules(conn: &mut Conn) -> Result<Vec<RuleRow>, ApiError> {
    Ok(r::assignment_rules
        .select(RuleRow::as_select())
        .order(r::position)
        .load(conn)
        .await?)
}

/// Handles the GET /v1/collections/assignment-rules route: the rules in the order tried.
#[utoipa::path(
    tag = "collections",
    responses(
        (status = 200, description = "The rules by position", body = Vec<RuleView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/assignment-rules")]
pub async fn list_rules(state: web::Data<AppState>, ctx: Ctx) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = rules(&mut conn).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(RuleView::from).collect::<Vec<_>>()))
}

/// Handles the DELETE /v1/collections/assignment-rules/{id} route: removes a rule. Accounts
/// it assigned keep their collector until the rules are applied again.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Rule id")),
    responses(
        (status = 204, description = "The rule was removed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[delete("/collections/assignment-rules/{id}")]
pub async fn delete_rule(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| {
        let row: RuleRow = diesel::delete(r::assignment_rules.find(id))
            .returning(RuleRow::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or(ApiError::NotFound("assignment rule"))?;
        audit::record(
            conn,
            &ctx,
            Change {
                action: "assignment_rule.deleted",
                entity_type: "assignment_rule",
                entity_id: id,
                account_id: None,
                before: Some(&RuleView::from(row)),
                after: None,
            },
        )
        .await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One account whose collector the rules changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reassignment {
    pub account_id: Uuid,
    pub from: Option<String>,
    pub to: Option<String>,
    pub rule_id: Option<Uuid>,
}

/// What applying the rules did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesApplied {
    /// Accounts the rules decide (those not assigned by hand, and not closed).
    pub examined: usize,
    pub changes: Vec<Reassignment>,
}

#[derive(diesel::QueryableByName)]
struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    partner_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    collector: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    assignment_rule_id: Option<Uuid>,
}

/// Handles the POST /v1/collections/assignment-rules/apply route: assigns every account not
/// assigned by hand to the collector of the first rule it matches (by partner, risk level
/// and open balance), or to none.
#[utoipa::path(
    tag = "collections",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 200, description = "The accounts whose collector changed", body = RulesApplied),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[post("/collections/assignment-rules/apply")]
pub async fn apply_rules(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let weights = state.config.collections.risk.clone();
    let fingerprint =
        idempotency::fingerprint("POST", "/v1/collections/assignment-rules/apply", &())?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim =
                match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await? {
                    Begin::Replay(stored) => return Ok(stored),
                    Begin::Fresh(claim) => claim,
                };
            let now = ctx.now;
            let today = now.date();
            let rules = rules(conn).await?;
            // Profiles of the accounts decided here are locked so that a hand assignment made
            // meanwhile is not overwritten.
            let candidates: Vec<Candidate> = diesel::sql_query(
                "SELECT a.id, a.partner_id, cp.collector, cp.assignment_rule_id
                   FROM accounts a
                   LEFT JOIN collection_profiles cp ON cp.account_id = a.id
                  WHERE a.status <> 'closed'
                    AND (cp.collector IS NULL OR cp.assignment_rule_id IS NOT NULL)
                  ORDER BY a.id
                    FOR UPDATE OF a",
            )
            .load(conn)
            .await?;
            let ids: Vec<Uuid> = candidates.iter().map(|c| c.id).collect();
            let inputs: HashMap<Uuid, risk::Inputs> = risk::factors(conn, today, Some(&ids))
                .await?
                .into_iter()
                .map(|i| (i.account_id, i))
                .collect();
            let mut changes = Vec::new();
            for c in &candidates {
                let Some(i) = inputs.get(&c.id) else { continue };
                let level = risk::score(i, today, &weights).level;
                let rule = rules
                    .iter()
                    .find(|r| matches(r, c.partner_id, level, i.balance));
                let to = rule.map(|r| r.collector.clone());
                let rule_id = rule.map(|r| r.id);
                if to != c.collector || rule_id != c.assignment_rule_id {
                    changes.push(Reassignment {
                        account_id: c.id,
                        from: c.collector.clone(),
                        to,
                        rule_id,
                    });
                }
            }
            let accounts: Vec<Uuid> = changes.iter().map(|c| c.account_id).collect();
            let collectors: Vec<Option<String>> = changes.iter().map(|c| c.to.clone()).collect();
            let rule_ids: Vec<Option<Uuid>> = changes.iter().map(|c| c.rule_id).collect();
            diesel::sql_query(
                "INSERT INTO collection_profiles
                        (account_id, collector, assignment_rule_id, assigned_at, updated_at)
                 SELECT x.account_id, x.collector, x.rule_id,
                        CASE WHEN x.collector IS NULL THEN NULL ELSE $4 END, $4
                   FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS x(account_id, collector, rule_id)
                 ON CONFLICT (account_id) DO UPDATE
                    SET collector = EXCLUDED.collector,
                        assignment_rule_id = EXCLUDED.assignment_rule_id,
                        assigned_at = EXCLUDED.assigned_at,
                        version = collection_profiles.version + 1,
                        updated_at = EXCLUDED.updated_at",
            )
            .bind::<Array<SqlUuid>, _>(&accounts)
            .bind::<Array<Nullable<Text>>, _>(&collectors)
            .bind::<Array<Nullable<SqlUuid>>, _>(&rule_ids)
            .bind::<diesel::sql_types::Timestamptz, _>(now)
            .execute(conn)
            .await?;
            let applied = RulesApplied {
                examined: candidates.len(),
                changes,
            };
            if !applied.changes.is_empty() {
                audit::record(
                    conn,
                    &ctx,
                    Change {
                        action: "collection_portfolios.reassigned",
                        entity_type: "assignment_rule",
                        entity_id: Uuid::nil(),
                        account_id: None,
                        before: None,
                        after: Some(&applied),
                    },
                )
                .await?;
            }
            claim.finish(conn, StatusCode::OK, &applied).await
        })
        .await?;
    Ok(stored.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(partner: Option<Uuid>, level: Option<RiskLevel>, min: Option<&str>) -> RuleRow {
        RuleRow {
            id: Uuid::nil(),
            position: 1,
            collector: "c".into(),
            partner_id: partner,
            risk_level: level,
            min_balance: min.map(|m| m.parse().unwrap()),
            created_by: "t".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_rule_needs_every_condition_it_names() {
        let partner = Uuid::now_v7();
        let big: Decimal = "12000".parse().unwrap();
        assert!(matches(
            &rule(None, None, None),
            None,
            RiskLevel::Low,
            Decimal::ZERO
        ));
        assert!(matches(
            &rule(Some(partner), None, None),
            Some(partner),
            RiskLevel::Low,
            big
        ));
        assert!(!matches(
            &rule(Some(partner), None, None),
            None,
            RiskLevel::Low,
            big
        ));
        assert!(matches(
            &rule(None, Some(RiskLevel::High), Some("10000")),
            None,
            RiskLevel::High,
            big
        ));
        assert!(!matches(
            &rule(None, Some(RiskLevel::High), Some("10000")),
            None,
            RiskLevel::Critical,
            big
        ));
        assert!(!matches(
            &rule(None, None, Some("20000")),
            None,
            RiskLevel::High,
            big
        ));
    }
}
