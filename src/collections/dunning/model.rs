//! The rows and views of dunning policies: a policy, its versions' steps, what a caller
//! sends to make or change one, and the policy an account gets.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Uuid as SqlUuid};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::validate::double_option;

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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// An earlier version to read (default the newest).
    pub version: Option<i32>,
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

impl crate::audit::Audited for PolicyView {
    const ENTITY: &'static str = "dunning_policy";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}
