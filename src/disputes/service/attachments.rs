//! A file attached to a dispute the caller sees.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::audit::Audited;
use crate::context::Ctx;
use crate::contracts::documents::UploadedFile;
use crate::db::Conn;
use crate::disputes::attachments::{AttachmentRow, AttachmentView, NewAttachmentRow};
use crate::disputes::store;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::schema::dispute_attachments::dsl as da;

/// An attachment as it was added: the attachment, recorded in the audit log as a change of
/// its dispute on the dispute's account.
pub struct Attached {
    pub view: AttachmentView,
    pub account_id: Uuid,
}

impl Serialize for Attached {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view.serialize(serializer)
    }
}

impl Audited for Attached {
    const ENTITY: &'static str = "dispute";
    fn entity_id(&self) -> Uuid {
        self.view.dispute_id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// Attaches `content` (already checked, its hash `sha256`) to a dispute the caller sees.
pub async fn attach(
    conn: &mut Conn,
    ctx: &Ctx,
    dispute_id: Uuid,
    filename: &str,
    file: &UploadedFile,
) -> Result<Written<Attached>, ApiError> {
    let dispute = store::find_visible(conn, dispute_id, ctx.partner_scope()).await?;
    let view = AttachmentView::from(
        diesel::insert_into(da::dispute_attachments)
            .values(&NewAttachmentRow {
                id: Uuid::now_v7(),
                dispute_id,
                filename,
                content_type: file.content_type,
                size_bytes: file.content.len() as i64,
                sha256: &file.sha256,
                content: &file.content,
                uploaded_by: &ctx.principal.subject,
                created_at: ctx.now,
            })
            .returning(AttachmentRow::as_returning())
            .get_result(conn)
            .await?,
    );
    Ok(Written::created(
        "dispute.attachment_added",
        Attached {
            view,
            account_id: dispute.account_id,
        },
    ))
}
