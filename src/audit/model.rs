use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = crate::schema::audit_events)]
pub struct AuditRow {
    pub id: i64,
    pub occurred_at: OffsetDateTime,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub account_id: Option<Uuid>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

/// One audit entry: who changed what, from what to what, in which request.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    #[schema(example = 42)]
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The token subject that made the change.
    #[schema(example = "jane.doe")]
    pub actor: String,
    #[schema(example = "billing")]
    pub actor_role: String,
    #[schema(example = "account.updated")]
    pub action: String,
    #[schema(example = "account")]
    pub entity_type: String,
    pub entity_id: Uuid,
    pub account_id: Option<Uuid>,
    /// The entity before the change (absent for creations).
    pub before: Option<serde_json::Value>,
    /// The entity after the change (absent for deletions).
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

impl From<AuditRow> for AuditEventView {
    fn from(r: AuditRow) -> Self {
        AuditEventView {
            id: r.id,
            occurred_at: r.occurred_at,
            actor: r.actor,
            actor_role: r.actor_role,
            action: r.action,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            account_id: r.account_id,
            before: r.before,
            after: r.after,
            request_id: r.request_id,
        }
    }
}

/// Filters of the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Entity type: `account`, `contact`, `partner`, `financial_code`, `task`, `contract`.
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    /// Every entry about an account and what hangs under it.
    pub account_id: Option<Uuid>,
    pub actor: Option<String>,
    pub action: Option<String>,
}
