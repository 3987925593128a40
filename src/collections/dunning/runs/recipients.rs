//! Where an account's notices go.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::NoticeChannel;
use crate::collections::dunning::model::DunningAction;
use crate::db::Conn;
use crate::error::ApiError;

/// The address of a postal notice.
pub fn postal(name: &str, a: &crate::accounts::model::Address) -> String {
    let mut lines = vec![name.to_string(), a.line1.clone()];
    lines.extend(a.line2.clone());
    let mut city = a.city.clone();
    if let Some(r) = &a.region {
        city.push_str(&format!(", {r}"));
    }
    if let Some(p) = &a.postal_code {
        city.push_str(&format!(" {p}"));
    }
    lines.push(city);
    lines.push(a.country.clone());
    lines.join("\n")
}

/// Where an account's notices go: the billing contact's email (else accounts payable's,
/// primary's, any's) for emails, the billing address for letters and for emails without one.
pub struct Recipients {
    pub email: Option<String>,
    pub postal: String,
}

impl Recipients {
    /// The recipients of many accounts: two queries.
    pub async fn of_many(
        conn: &mut Conn,
        accounts: &[Uuid],
    ) -> Result<HashMap<Uuid, Recipients>, ApiError> {
        use crate::accounts::model::AccountRow;
        use crate::schema::accounts::dsl as a;
        use crate::schema::contacts::dsl as c;
        let rows: Vec<AccountRow> = a::accounts
            .filter(a::id.eq_any(accounts))
            .select(AccountRow::as_select())
            .load(conn)
            .await?;
        let contacts: Vec<(Uuid, String, Option<String>)> = c::contacts
            .filter(c::account_id.eq_any(accounts))
            .filter(c::email.is_not_null())
            .select((c::account_id, c::role, c::email))
            .order(c::created_at)
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|account| {
                let own: Vec<(String, Option<String>)> = contacts
                    .iter()
                    .filter(|(id, _, _)| *id == account.id)
                    .map(|(_, role, email)| (role.clone(), email.clone()))
                    .collect();
                (account.id, Recipients::from_contacts(&account, &own))
            })
            .collect())
    }

    pub fn from_contacts(
        account: &crate::accounts::model::AccountRow,
        contacts: &[(String, Option<String>)],
    ) -> Recipients {
        let email = ["billing", "accounts_payable", "primary", ""]
            .iter()
            .find_map(|role| {
                contacts
                    .iter()
                    .find(|(r, _)| role.is_empty() || r == role)
                    .and_then(|(_, e)| e.clone())
            });
        Recipients {
            email,
            postal: postal(&account.legal_name, &account.billing_address),
        }
    }

    /// One query for the account's contacts, read once per account and run.
    pub async fn of(
        conn: &mut Conn,
        account: &crate::accounts::model::AccountRow,
    ) -> Result<Recipients, ApiError> {
        use crate::schema::contacts::dsl as c;
        let contacts: Vec<(String, Option<String>)> = c::contacts
            .filter(c::account_id.eq(account.id))
            .filter(c::email.is_not_null())
            .select((c::role, c::email))
            .order(c::created_at)
            .load(conn)
            .await?;
        Ok(Recipients::from_contacts(account, &contacts))
    }

    pub fn for_action(&self, action: DunningAction) -> (NoticeChannel, String) {
        match &self.email {
            Some(email) if action != DunningAction::LateNoticeLetter => {
                (NoticeChannel::Email, email.clone())
            }
            _ => (NoticeChannel::Letter, self.postal.clone()),
        }
    }
}
