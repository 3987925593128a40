//! Contract documents as stored and as sent: what a document is, its rows and its view.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::contracts::model::OnAccount;

crate::text_enum! {
    /// What a contract document is.
    DocumentKind {
        SignedAgreement => "signed_agreement",
        Addendum => "addendum",
        Amendment => "amendment",
        Other => "other",
    }
}

crate::text_enum! {
    /// The media types a contract document may have.
    DocumentContentType {
        Pdf => "application/pdf",
        Png => "image/png",
        Jpeg => "image/jpeg",
        Tiff => "image/tiff",
    }
}

impl DocumentContentType {
    /// The type named by a `Content-Type` header value (parameters and case ignored).
    pub fn from_header(value: &str) -> Option<DocumentContentType> {
        let essence = value.split(';').next().unwrap_or("").trim();
        DocumentContentType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().eq_ignore_ascii_case(essence))
    }

    /// Whether `content` starts with this type's magic number.
    pub fn matches(self, content: &[u8]) -> bool {
        match self {
            DocumentContentType::Pdf => content.starts_with(b"%PDF-"),
            DocumentContentType::Png => content.starts_with(b"\x89PNG\r\n\x1a\n"),
            DocumentContentType::Jpeg => content.starts_with(&[0xFF, 0xD8, 0xFF]),
            DocumentContentType::Tiff => {
                content.starts_with(b"II*\0") || content.starts_with(b"MM\0*")
            }
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::schema::contract_documents)]
pub struct NewDocumentRow<'a> {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub kind: DocumentKind,
    pub filename: &'a str,
    pub content_type: DocumentContentType,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub content: &'a [u8],
    pub uploaded_by: &'a str,
    pub created_at: OffsetDateTime,
}

impl<'a> NewDocumentRow<'a> {
    /// The row of `file`, attached to contract `contract_id` as `kind` under `filename` by
    /// the caller of `ctx`.
    pub fn new(
        contract_id: Uuid,
        kind: DocumentKind,
        filename: &'a str,
        file: &'a super::UploadedFile,
        ctx: &'a crate::context::Ctx,
    ) -> Self {
        NewDocumentRow {
            id: Uuid::now_v7(),
            contract_id,
            kind,
            filename,
            content_type: file.content_type,
            size_bytes: file.content.len() as i64,
            sha256: &file.sha256,
            content: &file.content,
            uploaded_by: &ctx.principal.subject,
            created_at: ctx.now,
        }
    }
}

/// A document's metadata: every column but the content.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::contract_documents)]
pub struct DocumentMetaRow {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub kind: DocumentKind,
    pub filename: String,
    pub content_type: DocumentContentType,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub created_at: OffsetDateTime,
}

/// A document attached to a contract (its content is fetched on its own).
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub kind: DocumentKind,
    #[schema(example = "Master lease agreement - signed.pdf")]
    pub filename: String,
    pub content_type: DocumentContentType,
    #[schema(example = 482133)]
    pub size_bytes: i64,
    /// Lowercase hex SHA-256 of the content; also the ETag of the download.
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    pub sha256: String,
    /// Token subject of whoever uploaded it.
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<DocumentMetaRow> for DocumentView {
    fn from(r: DocumentMetaRow) -> Self {
        DocumentView {
            id: r.id,
            contract_id: r.contract_id,
            kind: r.kind,
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            uploaded_by: r.uploaded_by,
            created_at: r.created_at,
        }
    }
}

/// Query parameters of an upload. Both are checked by the handler so that a problem with
/// either is a 422 naming it, like any other field of a new document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The document's file name: 1 to 255 characters, without `/` or control characters.
    #[param(required = true, example = "Master lease agreement - signed.pdf")]
    pub filename: Option<String>,
    /// `signed_agreement`, `addendum`, `amendment` or `other` (the default).
    #[param(value_type = Option<DocumentKind>)]
    pub kind: Option<String>,
}

impl crate::audit::Audited for OnAccount<DocumentView> {
    const ENTITY: &'static str = "contract";

    fn entity_id(&self) -> Uuid {
        self.view.contract_id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// What makes two uploads "the same" for `Idempotency-Key`: the metadata and the content's hash.
#[derive(Serialize)]
pub struct UploadFingerprint<'a> {
    pub filename: &'a str,
    pub kind: DocumentKind,
    pub content_type: DocumentContentType,
    pub size_bytes: usize,
    pub sha256: &'a str,
}
