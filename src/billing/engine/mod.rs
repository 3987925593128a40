//! Bills one contract as of a date: from everything loaded about it to the invoices, lines,
//! estimated readings and billed-period markers to write. No I/O here; the run loads the
//! inputs of many contracts at once and writes the outputs of many at once.

use std::collections::HashSet;

use rust_decimal::Decimal;
use time::{Date, Duration};
use uuid::Uuid;

use super::rules::{self, BilledUsage, Charge, Period, Plan, Span};
use crate::contracts::model::{AmendmentKind, AmendmentRow, ChargeRow, ContractRow};
use crate::equipment::model::{EquipmentRow, MeterRow, PlanRow};
use crate::invoices::model::{InvoiceRow, LineRow};
use crate::readings::model::ReadingRow;

mod contract;
mod meter;
mod true_up;

pub use contract::bill_contract;

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
