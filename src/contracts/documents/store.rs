//! SQL of contract documents.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{DocumentMetaRow, NewDocumentRow};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::contract_documents::dsl as d;

/// The account of a contract, or 404 when there is no such contract.
pub async fn contract_account(conn: &mut Conn, contract_id: Uuid) -> Result<Uuid, ApiError> {
    use crate::schema::contracts::dsl as c;
    c::contracts
        .find(contract_id)
        .select(c::account_id)
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("contract"))
}

/// Stores a new document; its metadata as stored.
pub async fn insert(
    conn: &mut Conn,
    row: &NewDocumentRow<'_>,
) -> Result<DocumentMetaRow, ApiError> {
    Ok(diesel::insert_into(d::contract_documents)
        .values(row)
        .returning(DocumentMetaRow::as_returning())
        .get_result(conn)
        .await?)
}

/// The contract's documents after the cursor id, oldest first (one more than `limit`).
pub async fn list(
    conn: &mut Conn,
    contract_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DocumentMetaRow>, ApiError> {
    let mut query = d::contract_documents
        .filter(d::contract_id.eq(contract_id))
        .select(DocumentMetaRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(d::id.gt(after));
    }
    Ok(query.order(d::id.asc()).limit(limit + 1).load(conn).await?)
}

/// A document of the contract with its content, or 404.
pub async fn with_content(
    conn: &mut Conn,
    contract_id: Uuid,
    document_id: Uuid,
) -> Result<(DocumentMetaRow, Vec<u8>), ApiError> {
    d::contract_documents
        .filter(d::contract_id.eq(contract_id))
        .find(document_id)
        .select((DocumentMetaRow::as_select(), d::content))
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("document"))
}
