use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::validate::{double_option, Errors};

crate::text_enum! {
    /// What a financial code books.
    FinancialCodeKind {
        Revenue => "revenue",
        Tax => "tax",
        Credit => "credit",
        WriteOff => "write_off",
        Fee => "fee",
        Refund => "refund",
        Expense => "expense",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::financial_codes, treat_none_as_null = true)]
pub struct FinancialCodeRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: FinancialCodeKind,
    pub description: Option<String>,
    pub active: bool,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A GL / financial code.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinancialCodeView {
    pub id: Uuid,
    #[schema(example = "4100-LEASE")]
    pub code: String,
    #[schema(example = "Lease revenue")]
    pub name: String,
    pub kind: FinancialCodeKind,
    pub description: Option<String>,
    /// Inactive codes stay on old documents but cannot be used on new ones.
    pub active: bool,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<FinancialCodeRow> for FinancialCodeView {
    fn from(r: FinancialCodeRow) -> Self {
        FinancialCodeView {
            id: r.id,
            code: r.code,
            name: r.name,
            kind: r.kind,
            description: r.description,
            active: r.active,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new financial code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "4100-LEASE", "name": "Lease revenue", "kind": "revenue"}))]
pub struct NewFinancialCode {
    /// 1 to 32 of A-Z, 0-9, `-`, `_`, `.`; unique and never changed.
    #[schema(pattern = "^[A-Z0-9][A-Z0-9._-]*$", min_length = 1, max_length = 32)]
    pub code: String,
    #[schema(max_length = 200)]
    pub name: String,
    pub kind: FinancialCodeKind,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// Changes to a financial code: its name and description. The code and kind are fixed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Lease revenue - equipment", "version": 1}))]
pub struct FinancialCodePatch {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 1000, value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl FinancialCodePatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.name.is_none() && self.description.is_none()
    }
}

/// Filters of the chart of codes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FinancialCodeFilter {
    pub kind: Option<FinancialCodeKind>,
    pub active: Option<bool>,
}

pub fn validate(row: &FinancialCodeRow) -> Result<(), ApiError> {
    let mut e = Errors::default();
    e.code("code", &row.code, 32);
    e.text("name", &row.name, 200);
    e.optional_text("description", row.description.as_deref(), 1000);
    Ok(e.finish()?)
}
