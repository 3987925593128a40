//! Bills one contract as of a date: from everything loaded about it to the invoices, lines,
//! estimated readings and billed-period markers to write. No I/O here; the run loads the
//! inputs of many contracts at once and writes the outputs of many at once.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use super::rules::{self, BilledUsage, Charge, ExpectedVolume, Period, Plan, Point, Span};
use crate::contracts::model::{AmendmentKind, AmendmentRow, BillingTiming, ChargeRow, ContractRow};
use crate::equipment::model::{EquipmentRow, MeterRow, PlanRow};
use crate::invoices::model::{InvoiceRow, InvoiceStatus, LineKind, LineRow};
use crate::money::Currency;
use crate::readings::model::{ReadingRow, ReadingSource};

/// Billing settings from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How issued invoices are numbered.
    pub numbering: crate::invoices::rules::Numbering,
    /// N: estimates average the last N + 1 actual readings.
    pub estimate_readings: usize,
    /// An actual reading this many days either side of a period's end closes it.
    pub reading_window_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            numbering: Default::default(),
            estimate_readings: 3,
            reading_window_days: 3,
        }
    }
}

/// The terms of an account that billing uses.
#[derive(Debug, Clone, Copy)]
pub struct AccountTerms {
    pub payment_terms_days: i32,
    /// Percent; zero when exempt.
    pub tax_rate: Decimal,
}

/// A meter period already billed.
#[derive(
    Debug,
    Clone,
    PartialEq,
    diesel::Queryable,
    diesel::Selectable,
    diesel::Insertable,
    diesel::AsChangeset,
)]
#[diesel(table_name = crate::schema::meter_periods, treat_none_as_null = true)]
pub struct MeterPeriodRow {
    pub meter_id: Uuid,
    pub period_start: Date,
    pub period_end: Date,
    pub contract_id: Uuid,
    pub invoice_id: Uuid,
    pub start_value: i64,
    pub end_value: i64,
    pub end_read_on: Date,
    pub end_estimated: bool,
    pub end_reading_id: Uuid,
    pub usage: i64,
    pub included_units: i64,
    pub overage_rate: Decimal,
    pub minimum_charge: Decimal,
    pub charged: Decimal,
    pub rerated_start_value: Option<i64>,
    pub rerated_end_value: Option<i64>,
    pub rerated_usage: Option<i64>,
    pub rerated_charged: Option<Decimal>,
    pub rerated_invoice_id: Option<Uuid>,
    /// The corrected value of its end reading, when that was corrected after billing: the
    /// next invoice re-rates the period to it when it is lower.
    pub corrected_end_value: Option<i64>,
}

impl MeterPeriodRow {
    fn current_end(&self) -> i64 {
        self.rerated_end_value.unwrap_or(self.end_value)
    }

    fn as_billed(&self) -> BilledUsage {
        BilledUsage {
            start_value: self.rerated_start_value.unwrap_or(self.start_value),
            end_value: self.current_end(),
            end_estimated: self.end_estimated,
            plan: Plan {
                included_units: self.included_units,
                overage_rate: self.overage_rate,
                minimum_charge: self.minimum_charge,
            },
            charged: self.rerated_charged.unwrap_or(self.charged),
        }
    }
}

/// A meter with everything billing needs about it.
#[derive(Debug, Clone)]
pub struct MeterInput {
    pub meter: MeterRow,
    pub equipment: EquipmentRow,
    pub plans: Vec<PlanRow>,
    /// Actual readings in date order.
    pub actuals: Vec<ReadingRow>,
    /// Billed periods in date order.
    pub billed: Vec<MeterPeriodRow>,
}

/// A contract with everything billing needs about it.
#[derive(Debug, Clone)]
pub struct ContractInput {
    pub contract: ContractRow,
    pub charges: Vec<ChargeRow>,
    pub amendments: Vec<AmendmentRow>,
    pub meters: Vec<MeterInput>,
    /// Starts of the periods whose recurring charges are billed.
    pub billed_starts: HashSet<Date>,
}

/// What billing one contract writes.
#[derive(Debug, Default)]
pub struct ContractBill {
    pub contract_id: Uuid,
    pub invoices: Vec<InvoiceRow>,
    pub lines: Vec<LineRow>,
    /// (period start, period end, invoice id).
    pub billed_periods: Vec<(Date, Date, Uuid)>,
    pub new_meter_periods: Vec<MeterPeriodRow>,
    /// Billed periods re-rated by a true-up (already carrying their rerated fields).
    pub rerated: Vec<MeterPeriodRow>,
    pub estimates: Vec<ReadingRow>,
    /// (amendment id, invoice id): amendments whose first invoice is this one.
    pub reviewed: Vec<(Uuid, Uuid)>,
    /// True-ups that would take an invoice below zero: credited instead, per account, against
    /// the invoices that billed the usage (the lines as they would have been, negative).
    pub credits: Vec<(Uuid, Vec<LineRow>)>,
}

/// Why a contract was not billed.
#[derive(Debug, Clone, PartialEq)]
pub struct BillError {
    pub code: &'static str,
    pub reason: String,
}

fn fmt_date(d: Date) -> String {
    format!("{} {} {}", d.day(), &d.month().to_string()[..3], d.year())
}

/// Who owned the contract from which date, oldest first.
pub fn owners(c: &ContractRow, amendments: &[AmendmentRow]) -> Vec<(Date, Uuid)> {
    let changes: Vec<&AmendmentRow> = amendments
        .iter()
        .filter(|a| a.kind == AmendmentKind::OwnershipChange)
        .collect();
    let first = changes
        .first()
        .and_then(|a| a.previous_account_id)
        .unwrap_or(c.account_id);
    let mut out = vec![(c.start_date, first)];
    for a in changes {
        if let Some(to) = a.account_id {
            out.push((a.effective_date.max(c.start_date), to));
        }
    }
    out
}

/// The contract's billing periods that start by `horizon` (see [`rules::periods`]).
pub fn periods_of(c: &ContractRow, horizon: Date) -> Vec<Period> {
    rules::periods(
        c.start_date,
        c.last_billable_day(),
        horizon,
        c.billing_frequency,
        c.anchor_day.clamp(1, 31) as u8,
        c.anchor_month.map(|m| m.clamp(1, 12) as u8),
    )
}

/// The contract's recurring charges as billing applies them.
pub fn charges_of(rows: &[ChargeRow]) -> Vec<Charge<&ChargeRow>> {
    rows.iter()
        .map(|ch| Charge {
            key: ch,
            amount: ch.amount,
            from: ch.effective_from,
            to: ch.effective_to,
        })
        .collect()
}

/// The spans the contract was suspended (resumption day excluded).
pub fn suspensions(amendments: &[AmendmentRow]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut since: Option<Date> = None;
    for a in amendments {
        match a.kind {
            AmendmentKind::Suspension => since = since.or(Some(a.effective_date)),
            AmendmentKind::Resumption => {
                if let Some(from) = since.take() {
                    if let Some(span) = Span::new(from, a.effective_date - Duration::days(1)) {
                        out.push(span);
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(from) = since {
        out.push(Span {
            from,
            to: Date::MAX,
        });
    }
    out
}

fn owner_on(owners: &[(Date, Uuid)], day: Date) -> Uuid {
    owners
        .iter()
        .rev()
        .find(|(from, _)| *from <= day)
        .unwrap_or(&owners[0])
        .1
}

/// The invoice being built for one account.
struct Draft {
    account_id: Uuid,
    id: Uuid,
    lines: Vec<LineRow>,
}

struct Drafts(Vec<Draft>);

impl Drafts {
    fn for_account(&mut self, account_id: Uuid) -> &mut Draft {
        if let Some(i) = self.0.iter().position(|d| d.account_id == account_id) {
            return &mut self.0[i];
        }
        self.0.push(Draft {
            account_id,
            id: Uuid::now_v7(),
            lines: Vec::new(),
        });
        self.0.last_mut().expect("just pushed")
    }
}

/// A point of a meter's billed chain: the value, its date, and how it was read.
#[derive(Debug, Clone, Copy)]
struct ChainPoint {
    on: Date,
    value: i64,
    estimated: bool,
}

/// Bills what is due on the contract as of `as_of`.
///
/// Meter periods are billed once closed by `usage_as_of` (the earlier of `as_of` and today:
/// a reading is never estimated for a day still to come).
pub fn bill_contract(
    input: &ContractInput,
    accounts: &HashMap<Uuid, AccountTerms>,
    as_of: Date,
    usage_as_of: Date,
    run_id: Uuid,
    settings: &Settings,
    now: OffsetDateTime,
) -> Result<ContractBill, BillError> {
    let c = &input.contract;
    let currency = c.currency();
    let owners = owners(c, &input.amendments);
    let suspended = suspensions(&input.amendments);
    let periods = periods_of(c, as_of);
    let mut drafts = Drafts(Vec::new());
    let mut bill = ContractBill {
        contract_id: c.id,
        ..ContractBill::default()
    };

    // Recurring charges of every period due and not billed yet.
    let charges = charges_of(&input.charges);
    for p in &periods {
        let due = match c.billing_timing {
            BillingTiming::Advance => p.start <= as_of,
            BillingTiming::Arrears => p.end < as_of,
        };
        if !due || input.billed_starts.contains(&p.start) {
            continue;
        }
        let lines = rules::charge_lines(p, &charges, &owners, &suspended, currency);
        if lines.is_empty() {
            continue;
        }
        let mut first_invoice = None;
        for l in lines {
            let draft = drafts.for_account(l.account);
            first_invoice.get_or_insert(draft.id);
            let prorated = l.billed_days != l.period_days;
            draft.lines.push(LineRow {
                kind: LineKind::Recurring.as_str().into(),
                description: format!(
                    "{}, {} – {}{}",
                    l.key.description,
                    fmt_date(l.span.from),
                    fmt_date(l.span.to),
                    if prorated {
                        format!(" ({}/{} days)", l.billed_days, l.period_days)
                    } else {
                        String::new()
                    }
                ),
                quantity: Decimal::ONE,
                unit_price: l.amount,
                amount: l.amount,
                financial_code_id: l.key.financial_code_id,
                taxable: l.key.taxable,
                charge_id: Some(l.key.id),
                period_start: Some(l.span.from),
                period_end: Some(l.span.to),
                billed_days: Some(l.billed_days as i32),
                period_days: Some(l.period_days as i32),
                explanation: Some(if prorated {
                    format!(
                        "{} × {}/{} days, rounded half-up",
                        currency.normalize(l.key.amount),
                        l.billed_days,
                        l.period_days
                    )
                } else {
                    format!("full period at {}", currency.normalize(l.key.amount))
                }),
                ..Default::default()
            });
        }
        bill.billed_periods
            .push((p.start, p.end, first_invoice.expect("a line was added")));
    }

    // Meter usage of every period that has closed and is not billed yet.
    for m in &input.meters {
        bill_meter(
            m,
            &periods,
            usage_as_of,
            c.terminated_on,
            run_id,
            settings,
            currency,
            &owners,
            &mut drafts,
            &mut bill,
            now,
        )?;
    }

    // A re-rate that left nothing to bill names no invoice: none is made for it.
    for period in bill.rerated.iter_mut() {
        let empty = period
            .rerated_invoice_id
            .is_some_and(|id| drafts.0.iter().any(|d| d.id == id && d.lines.is_empty()));
        if empty {
            period.rerated_invoice_id = None;
        }
    }

    // Assemble the invoices.
    let contract_terms = c.payment_terms_days;
    for mut draft in drafts.0 {
        let terms = accounts
            .get(&draft.account_id)
            .copied()
            .unwrap_or(AccountTerms {
                payment_terms_days: 30,
                tax_rate: Decimal::ZERO,
            });
        // An invoice never goes below zero: when its true-ups outweigh the rest, they are
        // credited against the invoices that billed the usage, and it keeps the rest.
        if crate::invoices::rules::totals(&draft.lines, terms.tax_rate, currency).3 < Decimal::ZERO
        {
            let (true_ups, rest): (Vec<LineRow>, Vec<LineRow>) = draft
                .lines
                .into_iter()
                .partition(|l| l.kind == LineKind::TrueUp.as_str());
            draft.lines = rest;
            // Their re-rates are the credit memo's now, not this invoice's.
            for period in bill.rerated.iter_mut() {
                let moved = true_ups.iter().any(|l| {
                    l.meter_id == Some(period.meter_id)
                        && l.period_start == Some(period.period_start)
                });
                if moved && period.rerated_invoice_id == Some(draft.id) {
                    period.rerated_invoice_id = None;
                }
            }
            bill.credits.push((draft.account_id, true_ups));
        }
        if draft.lines.is_empty() {
            continue;
        }
        let mut lines = draft.lines;
        for (i, l) in lines.iter_mut().enumerate() {
            l.id = Uuid::now_v7();
            l.invoice_id = draft.id;
            l.line_no = i as i32 + 1;
            l.contract_id = Some(c.id);
        }
        let (subtotal, taxable, tax_total, total) =
            crate::invoices::rules::totals(&lines, terms.tax_rate, currency);
        let days = contract_terms.unwrap_or(terms.payment_terms_days);
        let period_start = lines.iter().filter_map(|l| l.period_start).min();
        let period_end = lines.iter().filter_map(|l| l.period_end).max();
        let mut reasons = Vec::new();
        for a in &input.amendments {
            let pending = a.needs_review
                && a.review_invoice_id.is_none()
                && !bill.reviewed.iter().any(|(id, _)| *id == a.id);
            let concerns =
                a.kind != AmendmentKind::OwnershipChange || a.account_id == Some(draft.account_id);
            let after = lines
                .iter()
                .any(|l| l.period_end.is_some_and(|end| end >= a.effective_date));
            if pending && concerns && after {
                reasons.push(format!(
                    "first invoice after the {} of {} effective {}",
                    a.kind.as_str().replace('_', " "),
                    c.number,
                    a.effective_date
                ));
                bill.reviewed.push((a.id, draft.id));
            }
        }
        bill.invoices.push(InvoiceRow {
            id: draft.id,
            number: None,
            account_id: draft.account_id,
            contract_id: Some(c.id),
            billing_run_id: Some(run_id),
            status: InvoiceStatus::Draft,
            currency: c.currency.clone(),
            invoice_date: as_of,
            due_date: as_of + Duration::days(days as i64),
            payment_terms_days: days,
            period_start,
            period_end,
            subtotal,
            taxable_amount: taxable,
            tax_rate: terms.tax_rate,
            tax_total,
            total,
            review_required: !reasons.is_empty(),
            review_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
            issued_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
            po_number: None,
            reference_fields: Default::default(),
            memo: None,
            amount_paid: Decimal::ZERO,
            amount_credited: Decimal::ZERO,
            amount_written_off: Decimal::ZERO,
            balance_due: Decimal::ZERO,
            disputed_amount: Decimal::ZERO,
            voided_at: None,
            void_reason: None,
            credited_taxable: Decimal::ZERO,
        });
        bill.lines.extend(lines);
    }
    Ok(bill)
}

/// The plan in effect on `day`: the latest starting on or before it, else the first.
fn plan_on(plans: &[PlanRow], day: Date) -> Option<&PlanRow> {
    plans
        .iter()
        .filter(|p| p.effective_from <= day)
        .max_by_key(|p| p.effective_from)
        .or_else(|| plans.iter().min_by_key(|p| p.effective_from))
}

#[allow(clippy::too_many_arguments)]
fn bill_meter(
    m: &MeterInput,
    periods: &[Period],
    as_of: Date,
    terminated_on: Option<Date>,
    run_id: Uuid,
    settings: &Settings,
    currency: Currency,
    owners: &[(Date, Uuid)],
    drafts: &mut Drafts,
    bill: &mut ContractBill,
    now: OffsetDateTime,
) -> Result<(), BillError> {
    let meter = &m.meter;
    let name = format!(
        "{} meter of {}",
        meter.meter_type, m.equipment.serial_number
    );
    // The billed chain: persisted periods, then those billed in this run.
    let mut chain: Vec<MeterPeriodRow> = m.billed.clone();
    let persisted = chain.len();
    let last_billed_start = chain.last().map(|b| b.period_start);
    let mut last: Option<ChainPoint> = chain.last().map(|b| ChainPoint {
        on: b.end_read_on,
        value: b.current_end(),
        estimated: b.end_estimated,
    });
    // The last billed period's end reading was corrected below what was billed: the next
    // invoice re-rates it (and any estimates before it above the corrected value).
    let mut pending_correction = chain
        .last()
        .and_then(|b| b.corrected_end_value.filter(|v| *v < b.current_end()));
    for p in periods {
        let boundary = p.boundary();
        if boundary > as_of || last_billed_start.is_some_and(|s| p.start <= s) {
            continue;
        }
        let installed = m.equipment.installed_on <= p.end
            && m.equipment.removed_on.is_none_or(|r| r >= p.start);
        if !installed {
            continue;
        }
        if let Some(corrected) = pending_correction.take() {
            let (read_on, billed_value) = chain
                .last()
                .map(|b| (b.end_read_on, b.current_end()))
                .expect("a correction is of a billed period");
            let mut billed: Vec<BilledUsage> =
                chain.iter().map(MeterPeriodRow::as_billed).collect();
            if let Some(revised) = billed.last_mut() {
                // Its end is revised, as an estimate's is by the actual reading.
                revised.end_estimated = true;
            }
            let end = ChainPoint {
                on: read_on,
                value: corrected,
                estimated: false,
            };
            let account = owner_on(owners, p.start);
            let invoice_id = drafts.for_account(account).id;
            let rerates = rules::true_up(&billed, corrected, currency);
            let why = format!(
                "the reading of {read_on} was corrected from {billed_value} to {corrected}"
            );
            let lines = &mut drafts.for_account(account).lines;
            true_up_lines(
                &mut chain, rerates, end, &why, &name, meter, currency, invoice_id, lines,
            );
            last = Some(end);
        }
        let start = match last {
            Some(point) => point,
            None => {
                let first = m
                    .actuals
                    .iter()
                    .filter(|r| r.read_on <= p.start)
                    .max_by_key(|r| r.read_on)
                    .or_else(|| m.actuals.iter().find(|r| r.read_on < boundary));
                match first {
                    Some(r) => ChainPoint {
                        on: r.read_on,
                        value: r.value,
                        estimated: false,
                    },
                    None => {
                        return Err(BillError {
                            code: "no_start_reading",
                            reason: format!(
                                "the {name} has no reading to start from; post its reading at installation"
                            ),
                        })
                    }
                }
            }
        };
        // Actual readings since the start, up to as_of.
        let since: Vec<&ReadingRow> = m
            .actuals
            .iter()
            .filter(|r| r.read_on > start.on && r.read_on <= as_of)
            .collect();
        let w = settings.reading_window_days;
        // The final period of a terminated contract ends at the pick-up reading (the first
        // actual reading after the termination) when there is none near its end.
        let is_final = terminated_on == Some(p.end);
        let end_actual = since
            .iter()
            .filter(|r| (r.read_on - boundary).whole_days().abs() <= w)
            .min_by_key(|r| ((r.read_on - boundary).whole_days().abs(), r.read_on))
            .or_else(|| {
                since
                    .iter()
                    .filter(|r| is_final && r.read_on > boundary)
                    .min_by_key(|r| r.read_on)
            });
        let plan_row = plan_on(&m.plans, p.start).ok_or_else(|| BillError {
            code: "no_meter_plan",
            reason: format!("the {name} has no plan"),
        })?;
        let plan = Plan {
            included_units: plan_row.included_units,
            overage_rate: plan_row.overage_rate,
            minimum_charge: plan_row.minimum_charge,
        }
        .prorated(p.days(), p.full_days(), currency);
        let (end, end_id, estimate_method, estimate_note) = match end_actual {
            Some(r) => (
                ChainPoint {
                    on: r.read_on,
                    value: r.value,
                    estimated: false,
                },
                r.id,
                None,
                None,
            ),
            None => {
                // Actual readings since the last register reset, for the average.
                let reset_at = m
                    .actuals
                    .iter()
                    .rposition(|r| r.reset.is_some() && r.read_on < boundary);
                let basis: Vec<Point> = m.actuals[reset_at.unwrap_or(0)..]
                    .iter()
                    .filter(|r| r.read_on < boundary)
                    .map(|r| Point {
                        on: r.read_on,
                        value: r.value,
                    })
                    .collect();
                let expected = meter.expected_monthly_volume.map(|v| ExpectedVolume {
                    monthly_units: v,
                    period_months: months_of(p),
                    full_period_days: p.full_days(),
                });
                let from = Point {
                    on: start.on,
                    value: start.value,
                };
                let est = rules::estimate(
                    &basis,
                    boundary,
                    settings.estimate_readings,
                    from,
                    expected,
                )
                .ok_or_else(|| BillError {
                    code: "no_basis_for_estimate",
                    reason: format!(
                        "no basis for estimate: the {name} has no actual reading closing the period ending {} and neither enough history nor an expected monthly volume",
                        p.end
                    ),
                })?;
                let id = Uuid::now_v7();
                bill.estimates.push(ReadingRow {
                    id,
                    meter_id: meter.id,
                    read_on: boundary,
                    value: est.value,
                    source: ReadingSource::Estimated,
                    reset: None,
                    starting_value: None,
                    final_value: None,
                    estimate_method: Some(est.method.as_str().into()),
                    estimate_basis: Some(
                        serde_json::to_value(&est.basis).expect("an estimate basis serialises"),
                    ),
                    billing_run_id: Some(run_id),
                    note: Some(est.explanation.clone()),
                    created_by: format!("billing-run:{run_id}"),
                    created_at: now,
                    voided_at: None,
                    voided_by: None,
                    void_reason: None,
                    replaces_id: None,
                });
                (
                    ChainPoint {
                        on: boundary,
                        value: est.value,
                        estimated: true,
                    },
                    id,
                    Some(est.method.as_str().to_string()),
                    Some(est.explanation),
                )
            }
        };
        let account = owner_on(owners, p.start);
        let invoice_id = drafts.for_account(account).id;
        // Usage: through any register reset, else end − start, else a true-up.
        let resets: Vec<&&ReadingRow> = since
            .iter()
            .filter(|r| r.reset.is_some() && r.read_on <= end.on)
            .collect();
        let mut start_value = start.value;
        let usage = if !resets.is_empty() {
            let mut cur = start.value;
            let mut used = 0;
            for r in since.iter().filter(|r| r.read_on <= end.on) {
                if r.reset.is_some() {
                    used += (r.final_value.unwrap_or(cur) - cur).max(0);
                    cur = r.starting_value.unwrap_or(0);
                }
                used += (r.value - cur).max(0);
                cur = r.value;
            }
            used
        } else if end.value >= start.value {
            end.value - start.value
        } else {
            // An actual below the billed estimate: re-rate the over-estimated periods.
            let billed: Vec<BilledUsage> = chain.iter().map(MeterPeriodRow::as_billed).collect();
            let rerates = rules::true_up(&billed, end.value, currency);
            let why = format!(
                "the actual reading {} of {} is below the billed estimate",
                end.value, end.on
            );
            let lines = &mut drafts.for_account(account).lines;
            true_up_lines(
                &mut chain, rerates, end, &why, &name, meter, currency, invoice_id, lines,
            );
            start_value = end.value;
            0
        };
        let rated = rules::rate_usage(usage, plan, currency);
        let draft = drafts.for_account(account);
        draft.lines.push(LineRow {
            kind: LineKind::Usage.as_str().into(),
            description: format!(
                "{} usage, {} – {}{}",
                meter.meter_type,
                fmt_date(p.start),
                fmt_date(p.end),
                if end.estimated { " (estimated)" } else { "" }
            ),
            quantity: Decimal::from(rated.overage_units),
            unit_price: plan.overage_rate,
            amount: rated.overage_amount,
            financial_code_id: meter.financial_code_id,
            taxable: true,
            meter_id: Some(meter.id),
            meter_type: Some(meter.meter_type.clone()),
            period_start: Some(p.start),
            period_end: Some(p.end),
            billed_days: Some(p.days() as i32),
            period_days: Some(p.full_days() as i32),
            start_reading: Some(start_value),
            start_read_on: Some(start.on),
            start_estimated: Some(start.estimated),
            end_reading: Some(end.value),
            end_read_on: Some(end.on),
            end_estimated: Some(end.estimated),
            estimate_method: estimate_method.clone(),
            usage: Some(usage),
            included_units: Some(plan.included_units),
            overage_units: Some(rated.overage_units),
            overage_rate: Some(plan.overage_rate),
            explanation: Some(format!(
                "usage {usage} = {} − {start_value}; overage {} = max(usage − {} included, 0) × {} = {}{}",
                end.value,
                rated.overage_units,
                plan.included_units,
                plan.overage_rate.normalize(),
                rated.overage_amount,
                estimate_note
                    .map(|n| format!("; end reading {n}"))
                    .unwrap_or_default()
                    + &if start.estimated {
                        format!("; start reading is the estimate billed for {}", start.on)
                    } else {
                        String::new()
                    }
            )),
            ..Default::default()
        });
        if rated.minimum_top_up > Decimal::ZERO {
            draft.lines.push(LineRow {
                kind: LineKind::Minimum.as_str().into(),
                description: format!(
                    "{} minimum charge, {} – {}",
                    meter.meter_type,
                    fmt_date(p.start),
                    fmt_date(p.end)
                ),
                quantity: Decimal::ONE,
                unit_price: rated.minimum_top_up,
                amount: rated.minimum_top_up,
                financial_code_id: meter.financial_code_id,
                taxable: true,
                meter_id: Some(meter.id),
                meter_type: Some(meter.meter_type.clone()),
                period_start: Some(p.start),
                period_end: Some(p.end),
                explanation: Some(format!(
                    "minimum {} less overage {}",
                    plan.minimum_charge, rated.overage_amount
                )),
                ..Default::default()
            });
        }
        chain.push(MeterPeriodRow {
            meter_id: meter.id,
            period_start: p.start,
            period_end: p.end,
            contract_id: meter.contract_id,
            invoice_id,
            start_value,
            end_value: end.value,
            end_read_on: end.on,
            end_estimated: end.estimated,
            end_reading_id: end_id,
            usage,
            included_units: plan.included_units,
            overage_rate: plan.overage_rate,
            minimum_charge: plan.minimum_charge,
            charged: rated.charged(),
            rerated_start_value: None,
            rerated_end_value: None,
            rerated_usage: None,
            rerated_charged: None,
            rerated_invoice_id: None,
            corrected_end_value: None,
        });
        last = Some(end);
    }
    settle_final_estimate(
        &mut chain,
        m,
        terminated_on,
        as_of,
        currency,
        &name,
        owners,
        drafts,
    );

    for (i, period) in chain.into_iter().enumerate() {
        if i >= persisted {
            bill.new_meter_periods.push(period);
        } else if period != m.billed[i] {
            bill.rerated.push(period);
        }
    }
    Ok(())
}

/// Re-rates the billed periods of `rerates` as if they had ended at `end`, marking them
/// re-rated by `invoice_id`, and adds a `true_up` line crediting each over-charge; `why`
/// says what revised them.
#[allow(clippy::too_many_arguments)]
fn true_up_lines(
    chain: &mut [MeterPeriodRow],
    rerates: Vec<rules::Rerate>,
    end: ChainPoint,
    why: &str,
    name: &str,
    meter: &MeterRow,
    currency: Currency,
    invoice_id: Uuid,
    lines: &mut Vec<LineRow>,
) {
    for r in rerates {
        let period = &mut chain[r.index];
        let old_usage = period.as_billed();
        period.rerated_start_value = Some(r.start_value);
        period.rerated_end_value = Some(r.end_value);
        period.rerated_usage = Some(r.rated.usage);
        period.rerated_charged = Some(r.rated.charged());
        period.rerated_invoice_id = Some(invoice_id);
        if r.credit <= Decimal::ZERO {
            continue;
        }
        lines.push(LineRow {
            kind: LineKind::TrueUp.as_str().into(),
            description: format!(
                "True-up of the {name}, {} – {}: billed usage {} re-rated to {}",
                fmt_date(period.period_start),
                fmt_date(period.period_end),
                old_usage.end_value - old_usage.start_value,
                r.rated.usage
            ),
            quantity: Decimal::ONE,
            unit_price: -r.credit,
            amount: -r.credit,
            financial_code_id: meter.financial_code_id,
            taxable: true,
            meter_id: Some(meter.id),
            meter_type: Some(meter.meter_type.clone()),
            period_start: Some(period.period_start),
            period_end: Some(period.period_end),
            start_reading: Some(r.start_value),
            end_reading: Some(r.end_value),
            end_read_on: Some(end.on),
            end_estimated: Some(false),
            usage: Some(r.rated.usage),
            included_units: Some(period.included_units),
            overage_units: Some(r.rated.overage_units),
            overage_rate: Some(period.overage_rate),
            explanation: Some(format!(
                "{why}; charged {} then, {} now: {} credited",
                currency.normalize(old_usage.charged),
                currency.normalize(r.rated.charged()),
                currency.normalize(r.credit)
            )),
            ..Default::default()
        });
    }
}

/// A terminated contract's final period billed on an estimate is settled by the pick-up
/// reading (the first actual reading after the estimate, by `as_of`): the period is re-rated
/// to it, and the difference credited (a `true_up` line) or charged (a `usage` line), once.
#[allow(clippy::too_many_arguments)]
fn settle_final_estimate(
    chain: &mut [MeterPeriodRow],
    m: &MeterInput,
    terminated_on: Option<Date>,
    as_of: Date,
    currency: Currency,
    name: &str,
    owners: &[(Date, Uuid)],
    drafts: &mut Drafts,
) {
    let Some(k) = chain.len().checked_sub(1) else {
        return;
    };
    let last = &chain[k];
    let settles = terminated_on == Some(last.period_end)
        && last.end_estimated
        && last.rerated_end_value.is_none();
    if !settles {
        return;
    }
    let Some(reading) = m
        .actuals
        .iter()
        .filter(|r| r.read_on > last.end_read_on && r.read_on <= as_of)
        .min_by_key(|r| r.read_on)
    else {
        return;
    };
    let account = owner_on(owners, last.period_start);
    let invoice_id = drafts.for_account(account).id;
    let end = ChainPoint {
        on: reading.read_on,
        value: reading.value,
        estimated: false,
    };
    let billed = last.as_billed();
    let why = format!(
        "the final period was billed on an estimate of {}; the pick-up reading of {} is {}",
        billed.end_value, reading.read_on, reading.value
    );
    if reading.value < billed.end_value {
        let all: Vec<BilledUsage> = chain.iter().map(MeterPeriodRow::as_billed).collect();
        let rerates = rules::true_up(&all, reading.value, currency);
        let lines = &mut drafts.for_account(account).lines;
        true_up_lines(
            chain, rerates, end, &why, name, &m.meter, currency, invoice_id, lines,
        );
        return;
    }
    let usage = reading.value - billed.start_value;
    let rated = rules::rate_usage(usage, billed.plan, currency);
    let extra = rated.charged() - billed.charged;
    let last = &mut chain[k];
    last.rerated_start_value = Some(billed.start_value);
    last.rerated_end_value = Some(reading.value);
    last.rerated_usage = Some(usage);
    last.rerated_charged = Some(rated.charged());
    last.rerated_invoice_id = Some(invoice_id);
    if extra <= Decimal::ZERO {
        return;
    }
    drafts.for_account(account).lines.push(LineRow {
        kind: LineKind::Usage.as_str().into(),
        description: format!(
            "Final usage of the {name}, {} – {}: estimated {} re-rated to {usage}",
            fmt_date(last.period_start),
            fmt_date(last.period_end),
            billed.end_value - billed.start_value
        ),
        quantity: Decimal::ONE,
        unit_price: extra,
        amount: extra,
        financial_code_id: m.meter.financial_code_id,
        taxable: true,
        meter_id: Some(m.meter.id),
        meter_type: Some(m.meter.meter_type.clone()),
        period_start: Some(last.period_start),
        period_end: Some(last.period_end),
        start_reading: Some(billed.start_value),
        end_reading: Some(reading.value),
        end_read_on: Some(reading.read_on),
        end_estimated: Some(false),
        usage: Some(usage),
        included_units: Some(last.included_units),
        overage_units: Some(rated.overage_units),
        overage_rate: Some(last.overage_rate),
        explanation: Some(format!(
            "{why}; charged {} then, {} now: {} more",
            currency.normalize(billed.charged),
            currency.normalize(rated.charged()),
            currency.normalize(extra)
        )),
        ..Default::default()
    });
}

/// Months in a full period of the grid (1, 3 or 12), from its length.
fn months_of(p: &Period) -> i64 {
    match p.full_days() {
        0..=31 => 1,
        32..=92 => 3,
        _ => 12,
    }
}
