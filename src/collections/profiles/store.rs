//! SQL of collections profiles and portfolio rules.

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{ProfileRow, RuleRow};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::assignment_rules::dsl as r;
use crate::schema::collection_profiles::dsl as p;

pub async fn find(conn: &mut Conn, account_id: Uuid) -> Result<ProfileRow, ApiError> {
    Ok(p::collection_profiles
        .find(account_id)
        .select(ProfileRow::as_select())
        .first(conn)
        .await
        .optional()?
        .unwrap_or_else(|| ProfileRow::blank(account_id)))
}

pub async fn save(conn: &mut Conn, row: &ProfileRow) -> Result<(), ApiError> {
    diesel::insert_into(p::collection_profiles)
        .values(row)
        .on_conflict(p::account_id)
        .do_update()
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn rules(conn: &mut Conn) -> Result<Vec<RuleRow>, ApiError> {
    Ok(r::assignment_rules
        .select(RuleRow::as_select())
        .order(r::position)
        .load(conn)
        .await?)
}

#[derive(diesel::QueryableByName)]
pub struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub partner_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub collector: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub assignment_rule_id: Option<Uuid>,
}
