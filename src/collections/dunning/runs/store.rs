//! SQL of dunning runs: the past-due invoices a run may act on, what it has to do, the claim
//! of a step on an invoice, and the notices.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Date as SqlDate, Integer, Numeric, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::NoticeRow;
use crate::collections::dunning::model::StepRow;
use crate::collections::dunning::rules::due_steps;
use crate::collections::dunning::store as policies;
use crate::db::Conn;
use crate::error::ApiError;
use crate::money::Currency;
use crate::schema::notices::dsl as nt;

/// A past-due invoice dunning may act on.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    pub invoice_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = Text)]
    pub invoice_number: String,
    #[diesel(sql_type = SqlDate)]
    pub due_date: Date,
    #[diesel(sql_type = Numeric)]
    pub total: Decimal,
    #[diesel(sql_type = Text)]
    pub currency: Currency,
    /// The undisputed balance.
    #[diesel(sql_type = Numeric)]
    pub amount: Decimal,
    #[diesel(sql_type = Integer)]
    pub days: i32,
    #[diesel(sql_type = SqlUuid)]
    pub policy_id: Uuid,
    #[diesel(sql_type = Integer)]
    pub policy_version: i32,
    #[diesel(sql_type = Text)]
    pub account_number: String,
    #[diesel(sql_type = Text)]
    pub legal_name: String,
}

pub async fn candidates(conn: &mut Conn, as_of: Date) -> Result<Vec<Candidate>, ApiError> {
    Ok(diesel::sql_query(
        "SELECT i.id AS invoice_id, i.account_id, i.number AS invoice_number, i.due_date,
                i.total, i.currency, i.balance_due - i.disputed_amount AS amount,
                ($1 - i.due_date) AS days, p.id AS policy_id, p.version AS policy_version,
                a.number AS account_number, a.legal_name
           FROM invoices i
           JOIN accounts a ON a.id = i.account_id
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
           LEFT JOIN dunning_policies sp ON sp.segment = cp.segment
           LEFT JOIN dunning_policies dp ON dp.is_default
           JOIN dunning_policies p ON p.id = COALESCE(cp.dunning_policy_id, sp.id, dp.id)
          WHERE i.status = 'open' AND i.due_date < $1 AND i.balance_due > i.disputed_amount
            AND a.status <> 'closed'
            AND a.collections_status NOT IN ('with_agency', 'written_off')
            AND NOT COALESCE(cp.do_not_dun, false)
            AND NOT EXISTS (SELECT 1 FROM promise_invoices pv
                              JOIN promises pr ON pr.id = pv.promise_id
                             WHERE pv.invoice_id = i.id AND pr.status = 'active')
          ORDER BY i.account_id, i.due_date, i.id",
    )
    .bind::<SqlDate, _>(as_of)
    .load(conn)
    .await?)
}

#[derive(diesel::QueryableByName)]
pub struct Next {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

#[derive(diesel::QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = Integer)]
    pub step_no: i32,
}

/// Records the due steps of an invoice (the performed one and those it supersedes); whether
/// this run claimed the step to perform (another run may have got there first).
pub async fn claim(
    conn: &mut Conn,
    run_id: Uuid,
    c: &Candidate,
    perform: &StepRow,
    superseded: &[&StepRow],
    now: time::OffsetDateTime,
) -> Result<bool, ApiError> {
    let mut steps: Vec<(&StepRow, &str)> = superseded.iter().map(|s| (*s, "superseded")).collect();
    steps.push((perform, "performed"));
    let mut claimed = false;
    for (step, outcome) in steps {
        let row: Option<Claimed> = diesel::sql_query(
            "INSERT INTO dunning_actions (invoice_id, policy_id, step_no, policy_version,
                    account_id, run_id, action, outcome, days_past_due, amount, performed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT DO NOTHING
             RETURNING step_no",
        )
        .bind::<SqlUuid, _>(c.invoice_id)
        .bind::<SqlUuid, _>(c.policy_id)
        .bind::<Integer, _>(step.step_no)
        .bind::<Integer, _>(step.policy_version)
        .bind::<SqlUuid, _>(c.account_id)
        .bind::<SqlUuid, _>(run_id)
        .bind::<Text, _>(step.action.as_str())
        .bind::<Text, _>(outcome)
        .bind::<Integer, _>(c.days)
        .bind::<Numeric, _>(c.amount)
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .get_result(conn)
        .await
        .optional()?;
        claimed = row.is_some_and(|r| r.step_no == step.step_no);
    }
    Ok(claimed)
}

/// What a run as of a day has to do: the candidates, their policies' steps, and the steps
/// already recorded on them. Three queries whatever the number of invoices.
pub struct Plan {
    pub candidates: Vec<Candidate>,
    pub steps: HashMap<(Uuid, i32), Vec<StepRow>>,
    pub recorded: HashMap<(Uuid, Uuid), Vec<i32>>,
}

impl Plan {
    pub async fn as_of(conn: &mut Conn, as_of: Date) -> Result<Plan, ApiError> {
        let candidates = candidates(conn, as_of).await?;
        let mut versions: Vec<(Uuid, i32)> = candidates
            .iter()
            .map(|c| (c.policy_id, c.policy_version))
            .collect();
        versions.sort();
        versions.dedup();
        let steps = policies::steps_of(conn, &versions).await?;
        let mut recorded: HashMap<(Uuid, Uuid), Vec<i32>> = HashMap::new();
        use crate::schema::dunning_actions::dsl as da;
        let ids: Vec<Uuid> = candidates.iter().map(|c| c.invoice_id).collect();
        for (invoice, policy, step) in da::dunning_actions
            .filter(da::invoice_id.eq_any(&ids))
            .select((da::invoice_id, da::policy_id, da::step_no))
            .load::<(Uuid, Uuid, i32)>(conn)
            .await?
        {
            recorded.entry((invoice, policy)).or_default().push(step);
        }
        Ok(Plan {
            candidates,
            steps,
            recorded,
        })
    }

    /// Per account (in the candidates' order), each invoice with a step due, that step and
    /// the earlier due ones it supersedes.
    pub fn work(&self) -> Vec<(Uuid, Vec<Work<'_>>)> {
        let mut by_account: Vec<(Uuid, Vec<Work<'_>>)> = Vec::new();
        for c in &self.candidates {
            let Some(policy_steps) = self.steps.get(&(c.policy_id, c.policy_version)) else {
                continue;
            };
            let done = self
                .recorded
                .get(&(c.invoice_id, c.policy_id))
                .map_or(&[][..], |v| v.as_slice());
            let Some((step, earlier)) = due_steps(policy_steps, c.days, c.amount, done) else {
                continue;
            };
            match by_account.last_mut() {
                Some((a, list)) if *a == c.account_id => list.push((c, step, earlier)),
                _ => by_account.push((c.account_id, vec![(c, step, earlier)])),
            }
        }
        by_account
    }
}

/// An invoice, the step to perform on it and the earlier due ones it supersedes.
pub type Work<'a> = (&'a Candidate, &'a StepRow, Vec<&'a StepRow>);

pub async fn find_notice(conn: &mut Conn, id: Uuid) -> Result<NoticeRow, ApiError> {
    nt::notices
        .find(id)
        .select(NoticeRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("notice"))
}
