//! Goal rows and their JSON shapes.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::money::Currency;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::collection_goals, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct GoalRow {
    pub id: Uuid,
    pub collector: Option<String>,
    pub team: Option<String>,
    /// The first day of the month.
    pub month: Date,
    pub currency: Currency,
    pub target_collected: Option<Decimal>,
    pub target_past_due_percent: Option<Decimal>,
    pub created_by: String,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A monthly collection goal of a collector or of a team.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CollectionGoalView {
    pub id: Uuid,
    /// The collector (the token subject their portfolio names); absent for a team's goal.
    #[schema(example = "jane.doe")]
    pub collector: Option<String>,
    /// The team; absent for a collector's goal.
    pub team: Option<String>,
    /// The month, `YYYY-MM`.
    #[schema(example = "2026-11")]
    pub month: String,
    pub currency: Currency,
    /// The amount to collect in the month.
    #[schema(value_type = Option<crate::money::DecimalString>, example = "50000.00")]
    pub target_collected: Option<Decimal>,
    /// The largest share (percent) of the portfolio's balance to be past due at the month's
    /// end.
    #[schema(value_type = Option<crate::money::DecimalString>, example = "15.00")]
    pub target_past_due_percent: Option<Decimal>,
    pub created_by: String,
    /// Optimistic-concurrency version; also sent as the ETag.
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<GoalRow> for CollectionGoalView {
    fn from(r: GoalRow) -> Self {
        CollectionGoalView {
            id: r.id,
            collector: r.collector,
            team: r.team,
            month: crate::reports::kpis::month_label(r.month),
            currency: r.currency,
            target_collected: r.target_collected.map(|t| r.currency.normalize(t)),
            target_past_due_percent: r.target_past_due_percent.map(percent),
            created_by: r.created_by,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A percentage written with two decimals.
pub fn percent(value: Decimal) -> Decimal {
    let mut v = value;
    v.rescale(2);
    v
}

/// A new goal: `collector` or `team` (one of them), `month`, `currency`, and
/// `target_collected` and/or `target_past_due_percent`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"collector": "jane.doe", "month": "2026-12", "currency": "USD",
    "target_collected": "50000.00", "target_past_due_percent": "15"}))]
pub struct NewCollectionGoal {
    /// The collector (the token subject collection profiles name); or give `team`.
    #[schema(max_length = 200)]
    pub collector: Option<String>,
    /// A team's name; or give `collector`.
    #[schema(max_length = 200)]
    pub team: Option<String>,
    /// `YYYY-MM`.
    #[schema(example = "2026-12", pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: String,
    pub currency: Currency,
    /// More than zero, in the currency's decimals.
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "50000.00")]
    pub target_collected: Option<Decimal>,
    /// 0 to 100, up to two decimals.
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "15")]
    pub target_past_due_percent: Option<Decimal>,
}

impl NewCollectionGoal {
    /// The goal's row (checked by `rules::check_new`, which gave `month`), set by `actor`.
    pub fn into_row(self, month: Date, actor: &str, now: OffsetDateTime) -> GoalRow {
        GoalRow {
            id: Uuid::now_v7(),
            collector: self.collector.map(|c| c.trim().to_string()),
            team: self.team.map(|t| t.trim().to_string()),
            month,
            currency: self.currency,
            target_collected: self.target_collected,
            target_past_due_percent: self.target_past_due_percent,
            created_by: actor.to_string(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Changes to a goal's targets (who, month and currency stay); `null` clears a target, one
/// of the two must remain.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"target_collected": "55000.00", "version": 1}))]
pub struct CollectionGoalPatch {
    #[serde(default, deserialize_with = "double_option_decimal")]
    #[schema(value_type = Option<crate::money::DecimalString>)]
    pub target_collected: Option<Option<Decimal>>,
    #[serde(default, deserialize_with = "double_option_decimal")]
    #[schema(value_type = Option<crate::money::DecimalString>)]
    pub target_past_due_percent: Option<Option<Decimal>>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

fn double_option_decimal<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<Option<Decimal>>, D::Error> {
    crate::money::decimal_option::deserialize(de).map(Some)
}

impl CollectionGoalPatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.target_collected.is_none() && self.target_past_due_percent.is_none()
    }

    /// The goal as it will be after this patch.
    pub fn apply(&self, current: &GoalRow, now: OffsetDateTime) -> GoalRow {
        GoalRow {
            target_collected: self.target_collected.unwrap_or(current.target_collected),
            target_past_due_percent: self
                .target_past_due_percent
                .unwrap_or(current.target_past_due_percent),
            version: current.version + 1,
            updated_at: now,
            ..current.clone()
        }
    }
}

/// Filters of the goal list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CollectionGoalFilter {
    /// Only the goals of this month, `YYYY-MM`.
    #[param(example = "2026-12")]
    pub month: Option<String>,
    /// Only this collector's goals.
    pub collector: Option<String>,
    /// Only this team's goals.
    pub team: Option<String>,
}
