use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::validate::{double_option, Errors};

crate::text_enum! {
    /// Whether a partner is doing business with us.
    PartnerStatus { Active => "active", Inactive => "inactive" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::partners, treat_none_as_null = true)]
pub struct PartnerRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub status: PartnerStatus,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A partner (dealer).
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerView {
    pub id: Uuid,
    /// Short unique code, e.g. `NORTHWEST-OFFICE`.
    #[schema(example = "NW-OFFICE")]
    pub code: String,
    #[schema(example = "Northwest Office Systems")]
    pub name: String,
    pub status: PartnerStatus,
    #[schema(example = "ar@nwoffice.example")]
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    /// Optimistic-concurrency version; also sent as the ETag.
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<PartnerRow> for PartnerView {
    fn from(r: PartnerRow) -> Self {
        PartnerView {
            id: r.id,
            code: r.code,
            name: r.name,
            status: r.status,
            contact_email: r.contact_email,
            contact_phone: r.contact_phone,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new partner.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "NW-OFFICE", "name": "Northwest Office Systems", "contact_email": "ar@nwoffice.example"}))]
pub struct NewPartner {
    /// 1 to 32 of A-Z, 0-9, `-`, `_`, `.`; unique.
    #[schema(pattern = "^[A-Z0-9][A-Z0-9._-]*$", min_length = 1, max_length = 32)]
    pub code: String,
    #[schema(max_length = 200)]
    pub name: String,
    #[serde(default = "active")]
    pub status: PartnerStatus,
    #[schema(value_type = Option<crate::validate::EmailAddress>)]
    pub contact_email: Option<String>,
    #[schema(value_type = Option<crate::validate::PhoneNumber>)]
    pub contact_phone: Option<String>,
}

fn active() -> PartnerStatus {
    PartnerStatus::Active
}

/// Changes to a partner; absent fields stay as they are, `null` clears an optional one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Northwest Office Systems LLC", "version": 1}))]
pub struct PartnerPatch {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub status: Option<PartnerStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<crate::validate::EmailAddress>)]
    pub contact_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<crate::validate::PhoneNumber>)]
    pub contact_phone: Option<Option<String>>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl PartnerPatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.name.is_none()
            && self.status.is_none()
            && self.contact_email.is_none()
            && self.contact_phone.is_none()
    }
}

/// Filters of the partner list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PartnerFilter {
    pub status: Option<PartnerStatus>,
}

pub fn validate(row: &PartnerRow) -> Result<(), ApiError> {
    let mut e = Errors::default();
    e.code("code", &row.code, 32);
    e.text("name", &row.name, 200);
    e.email("contact_email", row.contact_email.as_deref());
    e.phone("contact_phone", row.contact_phone.as_deref());
    Ok(e.finish()?)
}

impl NewPartner {
    pub fn into_row(self, now: OffsetDateTime) -> PartnerRow {
        PartnerRow {
            id: Uuid::now_v7(),
            code: self.code,
            name: self.name,
            status: self.status,
            contact_email: self.contact_email,
            contact_phone: self.contact_phone,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

impl PartnerPatch {
    /// The partner as it will be after this patch.
    pub fn apply(self, current: &PartnerRow, now: OffsetDateTime) -> PartnerRow {
        PartnerRow {
            name: self.name.unwrap_or_else(|| current.name.clone()),
            status: self.status.unwrap_or(current.status),
            contact_email: self
                .contact_email
                .unwrap_or_else(|| current.contact_email.clone()),
            contact_phone: self
                .contact_phone
                .unwrap_or_else(|| current.contact_phone.clone()),
            version: current.version + 1,
            updated_at: now,
            ..current.clone()
        }
    }
}
