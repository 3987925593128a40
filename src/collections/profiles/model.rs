//! The rows and views of collections profiles and portfolio rules, and the collections view
//! of an account.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::model::{AccountStatus, CollectionsStatus, RiskLevel};
use crate::collections::risk::Risk;
use crate::money::Currency;
use crate::validate::double_option;

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

/// The collections view of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionsAccountView {
    pub account_id: Uuid,
    #[schema(example = "ACC-000042")]
    pub number: String,
    pub legal_name: String,
    pub currency: Currency,
    pub status: AccountStatus,
    pub collections_status: CollectionsStatus,
    pub profile: ProfileView,
    /// The policy dunning uses for the account, and why.
    pub dunning_policy: Option<crate::collections::dunning::model::EffectivePolicy>,
    pub risk: Risk,
    /// Open invoices' balances.
    #[schema(value_type = crate::money::DecimalString, example = "1250.00")]
    pub balance: Decimal,
    /// Past due and not disputed.
    #[schema(value_type = crate::money::DecimalString, example = "800.00")]
    pub past_due: Decimal,
    pub oldest_past_due_date: Option<Date>,
    pub days_past_due: i64,
    pub active_promise: Option<crate::collections::promises::PromiseView>,
    pub last_contact: Option<crate::collections::notes::NoteView>,
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

impl crate::audit::Audited for RuleView {
    const ENTITY: &'static str = "assignment_rule";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}
