//! The outputs of a chunk written set-wise: invoices, lines, readings, periods, reviews and
//! their audit entries; and the contracts a run expires.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::accounts::model::AccountRow;
use crate::billing::engine::ContractBill;
use crate::billing::model::RunRow;
use crate::contracts::model::ContractStatus;
use crate::db::Conn;
use crate::error::ApiError;
use crate::invoices;

/// Writes the bills of a chunk: invoices and lines, estimated readings, billed periods,
/// re-rated periods, flagged amendments and their review tasks, audit entries.
///
/// In `issue` mode each invoice is numbered and posted to the ledger; one whose account's
/// presentment preferences are not met (a required PO number, say) stays a draft and is
/// returned as an error of the run.
pub async fn write_bills(
    conn: &mut Conn,
    run: &RunRow,
    bills: &mut [ContractBill],
    numbering: &invoices::rules::Numbering,
    now: OffsetDateTime,
) -> Result<(i32, Vec<(Uuid, &'static str, String)>), ApiError> {
    use crate::schema::audit_events::dsl as au;
    use crate::schema::billed_periods::dsl as bp;
    use crate::schema::contract_amendments::dsl as am;
    use crate::schema::meter_periods::dsl as mp;
    use crate::schema::tasks::dsl as t;

    let mut invoices = Vec::new();
    let mut lines = Vec::new();
    let mut estimates = Vec::new();
    let mut billed = Vec::new();
    let mut new_periods = Vec::new();
    let mut reviewed = Vec::new();
    let actor = format!("billing-run:{}", run.id);
    let mut entries = Vec::new();
    let mut refused = Vec::new();
    let issuing = run.mode == crate::billing::model::RunMode::Issue;
    let owners: HashMap<Uuid, AccountRow> = if issuing {
        use crate::schema::accounts::dsl as a;
        let ids: Vec<Uuid> = bills
            .iter()
            .flat_map(|b| b.invoices.iter().map(|i| i.account_id))
            .collect();
        a::accounts
            .filter(a::id.eq_any(&ids))
            .select(AccountRow::as_select())
            .load::<AccountRow>(conn)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect()
    } else {
        HashMap::new()
    };
    let problems_of = |invoice: &invoices::model::InvoiceRow| {
        let mut problems = invoices::rules::issue_problems(invoice);
        if let Some(account) = owners.get(&invoice.account_id) {
            problems.extend(invoices::rules::presentment_problems(account, invoice));
        }
        problems
    };
    // First the drafts and all that hangs off them, while other chunks write theirs: the
    // invoice-number counter is not taken yet.
    let mut drafts = Vec::new();
    for bill in bills.iter_mut() {
        drafts.extend(bill.invoices.iter().cloned());
        lines.append(&mut bill.lines);
        estimates.append(&mut bill.estimates);
        billed.extend(bill.billed_periods.iter().map(|(start, end, invoice)| {
            (
                bp::contract_id.eq(bill
                    .invoices
                    .iter()
                    .find(|i| i.id == *invoice)
                    .and_then(|i| i.contract_id)
                    .unwrap_or_default()),
                bp::period_start.eq(*start),
                bp::period_end.eq(*end),
                bp::invoice_id.eq(*invoice),
            )
        }));
        new_periods.extend(bill.new_meter_periods.iter().cloned());
        reviewed.extend(bill.reviewed.iter().copied());
    }
    crate::readings::store::insert_many(conn, &estimates).await?;
    crate::invoices::store::insert_many(conn, &drafts, &lines).await?;
    for chunk in billed.chunks(5000) {
        diesel::insert_into(bp::billed_periods)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for chunk in new_periods.chunks(2000) {
        diesel::insert_into(mp::meter_periods)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for bill in bills.iter() {
        for p in &bill.rerated {
            diesel::update(mp::meter_periods.find((p.meter_id, p.period_start)))
                .set(p)
                .execute(conn)
                .await?;
        }
    }
    for (amendment, invoice_id) in &reviewed {
        diesel::update(am::contract_amendments.find(amendment))
            .set(am::review_invoice_id.eq(invoice_id))
            .execute(conn)
            .await?;
    }

    // Then the numbers of every invoice that will be issued, a block per year at once. The
    // counter stays locked until the chunk commits (so that a failed chunk leaves no gap),
    // which is why as little as possible is written after taking it.
    let mut wanted: std::collections::BTreeMap<i32, i64> = Default::default();
    for invoice in bills.iter().flat_map(|b| &b.invoices).filter(|_| issuing) {
        if problems_of(invoice).is_empty() {
            *wanted.entry(invoice.invoice_date.year()).or_default() += 1;
        }
    }
    let mut next: HashMap<i32, i64> = HashMap::new();
    for (year, count) in wanted {
        next.insert(
            year,
            crate::db::next_numbers(conn, &numbering.series(year), count).await?,
        );
    }
    let mut issued = Vec::new();
    for bill in bills.iter_mut() {
        for invoice in bill.invoices.iter_mut().filter(|_| issuing) {
            let problems = problems_of(invoice);
            if !problems.is_empty() {
                let reasons: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.message))
                    .collect();
                refused.push((
                    invoice.contract_id.unwrap_or_default(),
                    "not_issued",
                    format!("invoice left as a draft: {}", reasons.join("; ")),
                ));
                continue;
            }
            let year = invoice.invoice_date.year();
            let n = next.get_mut(&year).expect("a block for the year");
            let number = numbering.number(year, *n);
            *n += 1;
            let date = invoice.invoice_date;
            entries.extend(invoices::rules::issue(
                invoice,
                number,
                date,
                now,
                &actor,
                run.request_id.clone(),
            ));
            issued.push(invoice.clone());
        }
        invoices.extend(bill.invoices.iter().cloned());
    }
    crate::invoices::store::issue_drafts(conn, &issued).await?;
    crate::ledger::store::post(conn, &entries).await?;
    let issued_to: Vec<Uuid> = issued.iter().map(|i| i.account_id).collect();
    announce_issued(conn, issued, std::mem::take(&mut lines), now).await?;
    let ctx = crate::context::Ctx {
        principal: crate::auth::Principal {
            subject: actor.clone(),
            role: crate::auth::Role::Admin,
            partner_id: None,
        },
        request_id: run.request_id.clone(),
        now,
    };
    crate::credit::check_exposures(conn, &ctx, &issued_to).await?;
    let mut tasks = Vec::new();
    for invoice in invoices.iter().filter(|i| i.review_required) {
        let mut task = crate::tasks::TaskRow::new(
            "first_invoice_review",
            crate::tasks::SubjectType::Invoice,
            invoice.id,
            Some(invoice.account_id),
            format!(
                "Review invoice {} before it goes out",
                invoice
                    .number
                    .clone()
                    .unwrap_or_else(|| format!("draft {}", invoice.id))
            ),
            invoice.invoice_date + time::Duration::days(2),
            crate::tasks::Priority::Normal,
            &actor,
            now,
        );
        task.description = invoice.review_reason.clone();
        tasks.push(task);
    }
    if !tasks.is_empty() {
        diesel::insert_into(t::tasks)
            .values(&tasks)
            .execute(conn)
            .await?;
    }
    let task_audits: Vec<_> = tasks
        .iter()
        .map(|task| {
            (
                au::actor.eq(actor.clone()),
                au::actor_role.eq("system"),
                au::action.eq("task.created"),
                au::entity_type.eq("task"),
                au::entity_id.eq(task.id),
                au::account_id.eq(task.account_id),
                au::after.eq(serde_json::to_value(crate::tasks::TaskView::from(task.clone())).ok()),
                au::request_id.eq(run.request_id.clone()),
                au::occurred_at.eq(now),
            )
        })
        .collect();
    if !task_audits.is_empty() {
        diesel::insert_into(au::audit_events)
            .values(task_audits)
            .execute(conn)
            .await?;
    }
    let audits: Vec<_> = invoices
        .iter()
        .map(|i| {
            (
                au::actor.eq(actor.clone()),
                au::actor_role.eq("system"),
                au::action.eq("invoice.created"),
                au::entity_type.eq("invoice"),
                au::entity_id.eq(i.id),
                au::account_id.eq(Some(i.account_id)),
                au::after.eq(Some(serde_json::json!({
                    "number": i.number,
                    "status": i.status,
                    "contract_id": i.contract_id,
                    "billing_run_id": run.id,
                    "total": i.total.to_string(),
                    "currency": i.currency,
                    "period_start": i.period_start.map(|d| d.to_string()),
                    "period_end": i.period_end.map(|d| d.to_string()),
                    "review_required": i.review_required,
                }))),
                au::request_id.eq(run.request_id.clone()),
                au::occurred_at.eq(now),
            )
        })
        .collect();
    for chunk in audits.chunks(2000) {
        diesel::insert_into(au::audit_events)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok((invoices.len() as i32, refused))
}

/// Writes `invoice.issued` for each invoice the chunk issued, carrying it as GET answers it,
/// built from what was just written (a new invoice has its lines and nothing applied): no
/// query but the one statement that writes the events and their deliveries.
async fn announce_issued(
    conn: &mut Conn,
    issued: Vec<invoices::model::InvoiceRow>,
    lines: Vec<invoices::model::LineRow>,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    use crate::outbox::{self, Event, EventType};
    if issued.is_empty() {
        return Ok(());
    }
    let mut by_invoice: HashMap<Uuid, Vec<invoices::model::LineRow>> = HashMap::new();
    for line in lines {
        by_invoice.entry(line.invoice_id).or_default().push(line);
    }
    let mut events = Vec::with_capacity(issued.len());
    for invoice in issued {
        let mut lines = by_invoice.remove(&invoice.id).unwrap_or_default();
        lines.sort_by_key(|l| l.line_no);
        let view = invoices::model::InvoiceView::new(invoice, lines, now.date());
        events.push(Event::new(
            EventType::InvoiceIssued,
            view.id,
            Some(view.account_id),
            &view,
        )?);
    }
    outbox::emit_many(conn, now, &events).await
}

/// Active contracts whose end date passed by `as_of` become `expired` (their last periods are
/// still billed by later runs); each change is audited.
pub async fn expire_contracts(
    conn: &mut Conn,
    run: &RunRow,
    ids: &[Uuid],
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    use crate::schema::audit_events::dsl as au;
    use crate::schema::contracts::dsl as c;
    let expired: Vec<(Uuid, Uuid, Option<Date>)> = diesel::update(
        c::contracts
            .filter(c::id.eq_any(ids))
            .filter(c::status.eq(ContractStatus::Active))
            .filter(c::end_date.lt(run.as_of)),
    )
    .set((
        c::status.eq(ContractStatus::Expired),
        c::version.eq(c::version + 1),
        c::updated_at.eq(now),
    ))
    .returning((c::id, c::account_id, c::end_date))
    .get_results(conn)
    .await?;
    if expired.is_empty() {
        return Ok(());
    }
    let actor = format!("billing-run:{}", run.id);
    let rows: Vec<_> = expired
        .iter()
        .map(|(id, account, end)| {
            (
                au::actor.eq(actor.clone()),
                au::actor_role.eq("system"),
                au::action.eq("contract.expired"),
                au::entity_type.eq("contract"),
                au::entity_id.eq(*id),
                au::account_id.eq(Some(*account)),
                au::before.eq(Some(serde_json::json!({"status": "active"}))),
                au::after.eq(Some(serde_json::json!({
                    "status": "expired",
                    "end_date": end.map(|d| d.to_string()),
                }))),
                au::request_id.eq(run.request_id.clone()),
                au::occurred_at.eq(now),
            )
        })
        .collect();
    diesel::insert_into(au::audit_events)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}
