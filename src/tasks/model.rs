use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::validate::{double_option, Errors};

crate::text_enum! {
    /// What kind of record a task is about.
    SubjectType {
        Account => "account",
        Contract => "contract",
        Invoice => "invoice",
        Equipment => "equipment",
        Meter => "meter",
        WebhookEndpoint => "webhook_endpoint",
    }
}

crate::text_enum! {
    /// Where a task stands. A done or cancelled task can be reopened.
    TaskStatus {
        Open => "open",
        InProgress => "in_progress",
        Done => "done",
        Cancelled => "cancelled",
    }
}

crate::text_enum! {
    /// How urgent a task is.
    Priority {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
}

impl TaskStatus {
    /// Whether the task is finished (done or cancelled).
    pub fn is_closed(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Cancelled)
    }

    /// Whether a task may move from `self` to `next`: open and in progress move freely
    /// between each other and to done or cancelled; a closed task can only be reopened.
    pub fn can_become(self, next: TaskStatus) -> bool {
        self == next || !self.is_closed() || next == TaskStatus::Open
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::tasks, treat_none_as_null = true)]
pub struct TaskRow {
    pub id: Uuid,
    /// The task's type code (`first_invoice_review`, `call_customer`, ...).
    #[diesel(column_name = type_)]
    pub kind: String,
    pub subject_type: SubjectType,
    pub subject_id: Uuid,
    pub account_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub due_date: Date,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub status: TaskStatus,
    pub created_by: String,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

impl TaskRow {
    /// A new open, unassigned task without description, created now by `created_by` (a token
    /// subject, or the name of the job that raises it). Set `description` or `assignee` on
    /// the result before inserting it when needed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: &str,
        subject_type: SubjectType,
        subject_id: Uuid,
        account_id: Option<Uuid>,
        title: String,
        due_date: Date,
        priority: Priority,
        created_by: &str,
        now: OffsetDateTime,
    ) -> TaskRow {
        TaskRow {
            id: Uuid::now_v7(),
            kind: kind.to_string(),
            subject_type,
            subject_id,
            account_id,
            title,
            description: None,
            due_date,
            priority,
            assignee: None,
            status: TaskStatus::Open,
            created_by: created_by.to_string(),
            version: 1,
            created_at: now,
            updated_at: now,
            completed_at: None,
        }
    }
}

/// A work item: what to do, about what, by when, and who does it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: Uuid,
    /// Type code of the task.
    #[serde(rename = "type")]
    #[schema(example = "first_invoice_review")]
    pub kind: String,
    pub subject_type: SubjectType,
    /// Id of the account, contract, invoice, equipment or meter the task is about.
    pub subject_id: Uuid,
    /// The account the task concerns, when there is one.
    pub account_id: Option<Uuid>,
    #[schema(example = "Review the first invoice after the upgrade")]
    pub title: String,
    pub description: Option<String>,
    #[schema(example = "2026-12-05")]
    pub due_date: Date,
    pub priority: Priority,
    /// Token subject of the person the task is assigned to.
    #[schema(example = "jane.doe")]
    pub assignee: Option<String>,
    pub status: TaskStatus,
    /// Token subject of whoever created the task (or the job that raised it).
    pub created_by: String,
    /// Optimistic-concurrency version; also sent as the ETag.
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the task was last marked done; cleared when it is reopened.
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
}

impl From<TaskRow> for TaskView {
    fn from(r: TaskRow) -> Self {
        TaskView {
            id: r.id,
            kind: r.kind,
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            account_id: r.account_id,
            title: r.title,
            description: r.description,
            due_date: r.due_date,
            priority: r.priority,
            assignee: r.assignee,
            status: r.status,
            created_by: r.created_by,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
        }
    }
}

fn normal() -> Priority {
    Priority::Normal
}

/// A new task.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "type": "call_customer", "subject_type": "account",
    "subject_id": "0193b1f4-6c1e-7c52-9d1a-3f2b8e0c4a11", "account_id": "0193b1f4-6c1e-7c52-9d1a-3f2b8e0c4a11",
    "title": "Call about the overdue March invoice", "due_date": "2026-12-05", "priority": "high",
    "assignee": "jane.doe"
}))]
pub struct NewTask {
    /// Type code: a lowercase letter, then up to 63 of a-z, 0-9 and `_`.
    #[serde(rename = "type")]
    pub kind: String,
    pub subject_type: SubjectType,
    pub subject_id: Uuid,
    /// The account the task concerns; it must exist.
    pub account_id: Option<Uuid>,
    #[schema(max_length = 200)]
    pub title: String,
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    pub due_date: Date,
    /// Default `normal`.
    #[serde(default = "normal")]
    pub priority: Priority,
    #[schema(max_length = 200)]
    pub assignee: Option<String>,
}

impl NewTask {
    pub fn into_row(self, created_by: &str, now: OffsetDateTime) -> TaskRow {
        let mut row = TaskRow::new(
            &self.kind,
            self.subject_type,
            self.subject_id,
            self.account_id,
            self.title,
            self.due_date,
            self.priority,
            created_by,
            now,
        );
        row.description = self.description;
        row.assignee = self.assignee;
        row
    }
}

/// Changes to a task; `null` clears the assignee or the description.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "done", "version": 2}))]
pub struct TaskPatch {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 200, value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    /// Open and in progress move freely, to done or cancelled too; done and cancelled tasks
    /// can only be reopened (`open`).
    pub status: Option<TaskStatus>,
    pub priority: Option<Priority>,
    pub due_date: Option<Date>,
    #[schema(max_length = 200)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 4000, value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self.assignee.is_none()
            && self.status.is_none()
            && self.priority.is_none()
            && self.due_date.is_none()
            && self.title.is_none()
            && self.description.is_none()
    }

    /// The task with the changes applied at `now`: `completed_at` is set when the task
    /// becomes done and cleared when it leaves done. Refuses moves out of a closed status
    /// other than reopening.
    pub fn apply(&self, current: &TaskRow, now: OffsetDateTime) -> Result<TaskRow, ApiError> {
        let status = self.status.unwrap_or(current.status);
        if !current.status.can_become(status) {
            return Err(ApiError::Conflict {
                code: "invalid_status_transition",
                detail: format!(
                    "The task is {}; it can only be reopened (status open), not made {}.",
                    current.status.as_str(),
                    status.as_str()
                ),
                field: Some("status"),
            });
        }
        let completed_at = match (current.status, status) {
            (TaskStatus::Done, TaskStatus::Done) => current.completed_at,
            (_, TaskStatus::Done) => Some(now),
            _ => None,
        };
        Ok(TaskRow {
            assignee: self
                .assignee
                .clone()
                .unwrap_or_else(|| current.assignee.clone()),
            status,
            priority: self.priority.unwrap_or(current.priority),
            due_date: self.due_date.unwrap_or(current.due_date),
            title: self.title.clone().unwrap_or_else(|| current.title.clone()),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| current.description.clone()),
            completed_at,
            updated_at: now,
            version: current.version + 1,
            ..current.clone()
        })
    }
}

/// Filters of the task list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskFilter {
    /// Type code, e.g. `first_invoice_review`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<TaskStatus>,
    /// Token subject of the assignee.
    pub assignee: Option<String>,
    pub subject_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    /// Only tasks due before this date (the date itself excluded).
    #[param(example = "2026-12-31")]
    pub due_before: Option<Date>,
    pub priority: Option<Priority>,
}

/// Whether `code` is a task type code: a lowercase letter, then up to 63 of a-z, 0-9, `_`.
pub fn is_type_code(code: &str) -> bool {
    let mut chars = code.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && code.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The checks every task passes before it is stored, however it was created.
pub fn validate(row: &TaskRow) -> Result<(), ApiError> {
    let mut e = Errors::default();
    if !is_type_code(&row.kind) {
        e.add(
            "type",
            "invalid",
            "must be a lowercase letter followed by up to 63 of a-z, 0-9 and '_'",
        );
    }
    e.text("title", &row.title, 200);
    e.optional_text("description", row.description.as_deref(), 4000);
    e.optional_text("assignee", row.assignee.as_deref(), 200);
    Ok(e.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn task() -> TaskRow {
        TaskRow::new(
            "first_invoice_review",
            SubjectType::Contract,
            Uuid::now_v7(),
            None,
            "Review the first invoice".into(),
            date!(2026 - 12 - 5),
            Priority::High,
            "billing-run",
            datetime!(2026-11-25 12:00 UTC),
        )
    }

    fn patch(status: TaskStatus) -> TaskPatch {
        TaskPatch {
            assignee: None,
            status: Some(status),
            priority: None,
            due_date: None,
            title: None,
            description: None,
            version: None,
        }
    }

    #[test]
    fn type_codes_are_lowercase_snake() {
        assert!(is_type_code("call_customer"));
        assert!(is_type_code("a"));
        assert!(is_type_code(&format!("a{}", "b".repeat(63))));
        assert!(!is_type_code(&format!("a{}", "b".repeat(64))));
        assert!(!is_type_code(""));
        assert!(!is_type_code("Call"));
        assert!(!is_type_code("1st_review"));
        assert!(!is_type_code("call-customer"));
        assert!(!is_type_code("_call"));
    }

    #[test]
    fn a_new_task_is_open_and_valid() {
        let t = task();
        assert_eq!(t.status, TaskStatus::Open);
        assert_eq!(t.version, 1);
        assert!(t.completed_at.is_none());
        assert!(validate(&t).is_ok());
        let bad = TaskRow {
            kind: "First Review".into(),
            title: " ".into(),
            ..t
        };
        match validate(&bad) {
            Err(ApiError::Validation(errors)) => assert_eq!(
                errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
                ["type", "title"]
            ),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn completing_stamps_and_reopening_clears() {
        let now = datetime!(2026-12-01 10:00 UTC);
        let done = patch(TaskStatus::Done).apply(&task(), now).unwrap();
        assert_eq!(done.completed_at, Some(now));
        assert_eq!(done.version, 2);
        let later = datetime!(2026-12-02 10:00 UTC);
        let still = patch(TaskStatus::Done).apply(&done, later).unwrap();
        assert_eq!(
            still.completed_at,
            Some(now),
            "staying done keeps the stamp"
        );
        let reopened = patch(TaskStatus::Open).apply(&done, later).unwrap();
        assert_eq!(reopened.status, TaskStatus::Open);
        assert!(reopened.completed_at.is_none());
    }

    #[test]
    fn closed_tasks_can_only_be_reopened() {
        let now = datetime!(2026-12-01 10:00 UTC);
        let cancelled = patch(TaskStatus::Cancelled).apply(&task(), now).unwrap();
        assert!(cancelled.completed_at.is_none());
        for next in [TaskStatus::InProgress, TaskStatus::Done] {
            assert!(matches!(
                patch(next).apply(&cancelled, now),
                Err(ApiError::Conflict {
                    code: "invalid_status_transition",
                    ..
                })
            ));
        }
        assert!(patch(TaskStatus::Open).apply(&cancelled, now).is_ok());
        assert!(TaskStatus::InProgress.can_become(TaskStatus::Cancelled));
        assert!(TaskStatus::Open.can_become(TaskStatus::Done));
        assert!(!TaskStatus::Done.can_become(TaskStatus::Cancelled));
    }
}
