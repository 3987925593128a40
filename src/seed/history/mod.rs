//! The history a seed run writes, simulated day by day through the rules the API uses:
//! accounts sign contracts (some with metered copiers read every period), monthly billing
//! runs bill them with the billing engine, one-off invoices come in between, and customers
//! pay as they tend to: on time, late, short (leaving deductions) or not at all; some
//! dispute invoices, which are resolved with credit memos or refused.
//!
//! Every balance comes from the rules of `invoices`, `payments`, `credit_memos` and
//! `adjustments`, so the ledger reconciles exactly as it does for data entered through the
//! API. Accounts are simulated on as many threads as there are cores, day by day in step,
//! so that document numbers follow their dates.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};

use rust_decimal::Decimal;
use time::{Date, Duration, Month, OffsetDateTime, Time};
use uuid::Uuid;

use super::copy::{BilledPeriodRow, BillingErrorRow};
use super::random::Rng;
use crate::accounts::contacts::{ContactRole, ContactRow};
use crate::accounts::model::{
    AccountRow, AccountStatus, Address, AutopayMethod, CollectionsStatus, CreditStatus,
    Presentment, RiskLevel,
};
use crate::adjustments::model::{AdjustmentKind, AdjustmentRow};
use crate::billing::engine::{self, AccountTerms, ContractInput, MeterInput, MeterPeriodRow};
use crate::billing::model::{BillingRunStatus, RunMode, RunRow};
use crate::contracts::model::{
    BillingFrequency, BillingTiming, ChargeRow, ContractKind, ContractRow, ContractStatus,
};
use crate::credit_memos::model::{
    CreditApplicationRow, CreditLineRow, CreditMemoRow, CreditReason, TargetRow,
};
use crate::disputes::model::{DisputeReason, DisputeRow, DisputeStatus, RootCause};
use crate::equipment::model::{EquipmentRow, MeterRow, PlanRow};
use crate::financial_codes::model::{FinancialCodeKind, FinancialCodeRow};
use crate::invoices::model::{InvoiceRow, InvoiceStatus, LineRow, NewLine};
use crate::ledger::model::{EntryRow, Stamp};
use crate::money::Currency;
use crate::partners::model::{PartnerRow, PartnerStatus};
use crate::payments::model::{
    ApplicationMode, ApplicationRow, ApplicationSource, DeductionReason, DeductionRow,
    DeductionStatus, PaymentMethod, PaymentRow, RefundMethod, RefundRow,
};
use crate::readings::model::{ReadingRow, ReadingSource};

mod billing;
mod book;
mod disputes;
mod payments;
mod plan;

use plan::*;

/// What to seed.
#[derive(Debug, Clone)]
pub struct Options {
    pub accounts: usize,
    pub contracts: usize,
    /// Invoices in all, about: the contracts' billing, then one-off invoices for the rest.
    pub invoices: usize,
    /// Payments in all, about.
    pub payments: usize,
    /// Months of history before `as_of`.
    pub months: u32,
    pub seed: u64,
    /// The last day of the history (today by default).
    pub as_of: Date,
    /// Threads that simulate accounts.
    pub threads: usize,
}

/// The settings of the service that shape the data, from its configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub billing: engine::Settings,
    pub small_balance_tolerance: Decimal,
    pub dispute_sla_business_days: u32,
    pub holidays: Vec<Date>,
}

/// Everything a seed run writes.
#[derive(Default)]
pub struct Output {
    pub partners: Vec<PartnerRow>,
    pub codes: Vec<FinancialCodeRow>,
    pub runs: Vec<RunRow>,
    pub accounts: Vec<AccountRow>,
    pub contacts: Vec<ContactRow>,
    pub contracts: Vec<ContractRow>,
    pub charges: Vec<ChargeRow>,
    pub equipment: Vec<EquipmentRow>,
    pub meters: Vec<MeterRow>,
    pub plans: Vec<PlanRow>,
    pub readings: Vec<ReadingRow>,
    pub invoices: Vec<InvoiceRow>,
    pub lines: Vec<LineRow>,
    pub billed_periods: Vec<BilledPeriodRow>,
    pub meter_periods: Vec<MeterPeriodRow>,
    pub ledger: Vec<EntryRow>,
    pub payments: Vec<PaymentRow>,
    pub applications: Vec<ApplicationRow>,
    pub refunds: Vec<RefundRow>,
    pub deductions: Vec<DeductionRow>,
    pub disputes: Vec<DisputeRow>,
    pub memos: Vec<CreditMemoRow>,
    pub memo_lines: Vec<CreditLineRow>,
    pub memo_targets: Vec<TargetRow>,
    pub memo_applications: Vec<CreditApplicationRow>,
    pub adjustments: Vec<AdjustmentRow>,
    /// Gapless series and their last numbers (`number_series`).
    pub series: Vec<(String, i64)>,
    pub last_payment_number: i64,
    pub last_dispute_number: i64,
    pub last_account_number: i64,
    /// Contracts a billing run could not bill, with why.
    pub billing_errors: Vec<BillingErrorRow>,
}

/// The financial codes every seeded document carries.
#[derive(Debug, Clone, Copy)]
struct Codes {
    lease: Uuid,
    rental: Uuid,
    service: Uuid,
    usage: Uuid,
    supplies: Uuid,
    credit: Uuid,
    write_off: Uuid,
}

/// How an account pays.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Payer {
    /// Around the due date.
    Prompt,
    /// Within three weeks after it.
    Normal,
    /// One to ten weeks after it.
    Slow,
    /// Months late, and nothing at all from a day on.
    Delinquent { stops: Date },
}

impl Payer {
    fn delay(self, rng: &mut Rng) -> i64 {
        match self {
            Payer::Prompt => rng.range(-8, 4),
            Payer::Normal => rng.range(0, 20),
            Payer::Slow => rng.range(10, 70),
            Payer::Delinquent { .. } => rng.range(25, 120),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A one-off invoice.
    Manual,
    /// The customer means to pay this invoice.
    Pay(usize),
    OpenDispute(usize),
    ResolveDispute(usize),
    /// Billing looks at an open deduction: writes it off or turns it into a dispute.
    FollowUpDeduction(usize),
    /// A goodwill credit on an invoice.
    Goodwill(usize),
    /// Unapplied cash of a payment goes back to the customer.
    Refund(usize),
    /// Cash received without remittance advice is applied by hand.
    ApplyCash(usize),
}

/// What the simulation shares between its threads: the plan and the document counters.
struct Shared {
    options: Options,
    settings: Settings,
    codes: Codes,
    start: Date,
    runs: Vec<RunRow>,
    run_on: HashMap<Date, usize>,
    /// One-off invoices per account and month, and payments per invoice paid, as fractions.
    manual_rate: (u64, u64),
    pay_rate: (u64, u64),
    counters: Mutex<Counters>,
    invoices: AtomicU64,
    days_done: AtomicU64,
}

#[derive(Default)]
struct Counters {
    series: HashMap<String, i64>,
    payments: i64,
    disputes: i64,
}

impl Shared {
    fn next(&self, series: &str) -> i64 {
        let mut c = self.counters.lock().expect("counters");
        let n = c.series.entry(series.to_string()).or_insert(0);
        *n += 1;
        *n
    }

    fn invoice_number(&self, year: i32) -> String {
        let numbering = &self.settings.billing.numbering;
        numbering.number(year, self.next(&numbering.series(year)))
    }

    fn payment_number(&self) -> String {
        let mut c = self.counters.lock().expect("counters");
        c.payments += 1;
        format!("PMT-{:06}", c.payments)
    }

    fn dispute_number(&self) -> String {
        let mut c = self.counters.lock().expect("counters");
        c.disputes += 1;
        format!("DSP-{:06}", c.disputes)
    }
}

/// A contract and what billing knows of it so far.
struct Contract {
    input: ContractInput,
}

/// One account's books while its history is simulated.
struct Book {
    rng: Rng,
    account: AccountRow,
    payer: Payer,
    short_payer: bool,
    terms: HashMap<Uuid, AccountTerms>,
    contracts: Vec<Contract>,
    invoices: Vec<InvoiceRow>,
    index: HashMap<Uuid, usize>,
    open: Vec<usize>,
    /// Invoices the customer has decided to pay with its next payment.
    to_pay: Vec<usize>,
    payments: Vec<PaymentRow>,
    deductions: Vec<DeductionRow>,
    /// Invoice index → its open deduction.
    open_deduction: HashMap<usize, usize>,
    disputes: Vec<DisputeRow>,
    disputed: HashSet<usize>,
    memos: Vec<CreditMemoRow>,
    events: BinaryHeap<Reverse<(Date, u64, Event)>>,
    seq: u64,
    out: Output,
}

/// Simulates the whole history; `progress` is told the days done and the invoices made.
/// Answers the reference data (partners, codes, runs, counters) first, then each account's
/// rows.
pub fn simulate(
    options: &Options,
    settings: &Settings,
    progress: &(dyn Fn(u64, u64, u64) + Sync),
) -> Vec<Output> {
    let start = months_before(options.as_of, options.months);
    let (codes, code_rows) = codes();
    let partner_rows = partners(options);
    let mut run_rows = runs(start, options.as_of);
    let per_account = contracts_per_account(options);
    let threads = options.threads.max(1);
    let mut first_contract = Vec::with_capacity(per_account.len());
    let mut n = 0;
    for c in &per_account {
        first_contract.push(n);
        n += c;
    }
    // Accounts and their contracts, each thread taking every `threads`-th account.
    let shards: Vec<Vec<Book>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (per_account, first_contract, partner_rows) =
                    (&per_account, &first_contract, &partner_rows);
                s.spawn(move || {
                    (t..options.accounts)
                        .step_by(threads)
                        .map(|a| {
                            Book::new(
                                a,
                                per_account[a],
                                first_contract[a],
                                partner_rows,
                                codes,
                                options,
                                start,
                                settings,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a seeding thread"))
            .collect()
    });
    let periodic: u64 = shards
        .iter()
        .flatten()
        .map(|b| b.periodic_invoices(&run_rows))
        .sum();
    let account_months = (options.accounts as u64 * options.months.max(1) as u64).max(1);
    let manual = (options.invoices as u64).saturating_sub(periodic);
    let shared = Shared {
        options: options.clone(),
        settings: settings.clone(),
        codes,
        start,
        run_on: run_rows
            .iter()
            .enumerate()
            .map(|(k, r)| (r.as_of, k))
            .collect(),
        runs: run_rows.clone(),
        manual_rate: (manual, account_months),
        // About nine invoices in ten get paid by the end of the history.
        pay_rate: (
            options.payments as u64 * 10,
            (options.invoices as u64 * 9).max(1),
        ),
        counters: Mutex::new(Counters::default()),
        invoices: AtomicU64::new(0),
        days_done: AtomicU64::new(0),
    };
    let days = (options.as_of - start).whole_days() as u64 + 1;
    let barrier = Barrier::new(threads);
    let books: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = shards
            .into_iter()
            .enumerate()
            .map(|(t, mut books)| {
                let (shared, barrier) = (&shared, &barrier);
                s.spawn(move || {
                    let mut d = start;
                    while d <= options.as_of {
                        for book in books.iter_mut() {
                            book.day(d, shared);
                        }
                        barrier.wait();
                        if t == 0 {
                            let done = shared.days_done.fetch_add(1, Ordering::Relaxed) + 1;
                            progress(done, days, shared.invoices.load(Ordering::Relaxed));
                        }
                        d += Duration::days(1);
                    }
                    books.into_iter().map(Book::finish).collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a seeding thread"))
            .collect()
    });
    let mut out = Output {
        partners: partner_rows,
        codes: code_rows,
        ..Output::default()
    };
    // The runs' figures, from what they billed.
    let mut invoices_of: HashMap<Uuid, i32> = HashMap::new();
    let mut errors_of: HashMap<Uuid, i32> = HashMap::new();
    let mut starts = Vec::new();
    for book in &books {
        for i in &book.invoices {
            if let Some(run) = i.billing_run_id {
                *invoices_of.entry(run).or_default() += 1;
            }
        }
        for e in &book.billing_errors {
            *errors_of.entry(e.run_id).or_default() += 1;
        }
        starts.extend(book.contracts.iter().map(|c| c.start_date));
    }
    for run in run_rows.iter_mut() {
        let contracts = starts.iter().filter(|s| **s <= run.as_of).count() as i32;
        run.contracts_total = Some(contracts);
        run.contracts_done = contracts;
        run.invoices_created = invoices_of.get(&run.id).copied().unwrap_or(0);
        run.errors_count = errors_of.get(&run.id).copied().unwrap_or(0);
    }
    out.runs = run_rows;
    let counters = shared.counters.into_inner().expect("counters");
    out.series = counters.series.into_iter().collect();
    out.series
        .push(("contract".into(), options.contracts as i64));
    out.series.sort();
    out.last_payment_number = counters.payments;
    out.last_dispute_number = counters.disputes;
    out.last_account_number = options.accounts as i64;
    let mut all = vec![out];
    all.extend(books);
    all
}

/// A reading taken on the meter.
fn reading(
    meter: &MeterRow,
    on: Date,
    value: i64,
    source: ReadingSource,
    at: OffsetDateTime,
) -> ReadingRow {
    ReadingRow {
        id: Uuid::now_v7(),
        meter_id: meter.id,
        read_on: on,
        value,
        source,
        reset: None,
        starting_value: None,
        final_value: None,
        estimate_method: None,
        estimate_basis: None,
        billing_run_id: None,
        note: None,
        created_by: match source {
            ReadingSource::Technician => "field.service".into(),
            ReadingSource::Device => "device-gateway".into(),
            ReadingSource::Partner => "partner-portal".into(),
            _ => "customer-portal".into(),
        },
        created_at: at,
        voided_at: None,
        voided_by: None,
        void_reason: None,
        replaces_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn months_count_back_from_the_first() {
        assert_eq!(
            months_before(date!(2026 - 11 - 28), 24),
            date!(2024 - 11 - 01)
        );
        assert_eq!(
            months_before(date!(2026 - 01 - 31), 1),
            date!(2025 - 12 - 01)
        );
        assert_eq!(next_month(date!(2025 - 12 - 01)), date!(2026 - 01 - 01));
    }

    #[test]
    fn runs_fall_on_the_first_of_each_month_before_this_one() {
        let r = runs(date!(2026 - 08 - 01), date!(2026 - 11 - 28));
        let dates: Vec<Date> = r.iter().map(|r| r.as_of).collect();
        assert_eq!(dates, [date!(2026 - 09 - 01), date!(2026 - 10 - 01)]);
    }

    #[test]
    fn every_account_has_a_contract_and_the_rest_are_spread() {
        let options = Options {
            accounts: 50,
            contracts: 120,
            invoices: 0,
            payments: 0,
            months: 1,
            seed: 3,
            as_of: date!(2026 - 11 - 28),
            threads: 1,
        };
        let per = contracts_per_account(&options);
        assert_eq!(per.iter().sum::<usize>(), 120);
        assert!(per.iter().all(|c| *c >= 1));
    }
}
