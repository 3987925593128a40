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
    DeductionStatus, PaymentMethod, PaymentRow, PaymentStatus, RefundMethod, RefundRow,
};
use crate::readings::model::{ReadingRow, ReadingSource};

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

const CITIES: &[(&str, &str, &str)] = &[
    ("Springfield", "IL", "62701"),
    ("Columbus", "OH", "43004"),
    ("Austin", "TX", "73301"),
    ("Denver", "CO", "80202"),
    ("Raleigh", "NC", "27601"),
    ("Portland", "OR", "97201"),
    ("Madison", "WI", "53703"),
    ("Tampa", "FL", "33602"),
    ("Albany", "NY", "12207"),
    ("Phoenix", "AZ", "85004"),
    ("Richmond", "VA", "23219"),
    ("Boise", "ID", "83702"),
];
const NAMES: &[&str] = &[
    "Acme",
    "Blue River",
    "Cedar",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iron Gate",
    "Juniper",
    "Keystone",
    "Lakeside",
    "Maple",
    "Northwind",
    "Oakridge",
    "Pioneer",
    "Quarry",
    "Redwood",
    "Summit",
    "Tristate",
    "Union",
    "Valley",
    "Westfield",
    "Zenith",
];
const TRADES: &[&str] = &[
    "Manufacturing",
    "Logistics",
    "Dental",
    "Legal",
    "Printing",
    "Foods",
    "Medical",
    "Realty",
    "Engineering",
    "Schools",
    "Insurance",
    "Auto Parts",
    "Architects",
    "Accounting",
    "Hotels",
];
const SUFFIXES: &[&str] = &["Inc.", "LLC", "Co.", "Group", "Partners", "Ltd."];
const MODELS: &[(&str, &str)] = &[
    ("Ricoh", "IM C3000"),
    ("Canon", "imageRUNNER C5840i"),
    ("Xerox", "AltaLink C8170"),
    ("Konica Minolta", "bizhub C450i"),
    ("Sharp", "MX-4071"),
    ("Kyocera", "TASKalfa 4054ci"),
];
/// One-off charges: description, unit price in cents, taxable.
const CATALOG: &[(&str, i64, bool)] = &[
    ("Toner cartridge, black", 8950, true),
    ("Toner cartridge, colour", 13900, true),
    ("Service call, on site", 17500, true),
    ("Drum unit", 24500, true),
    ("Paper, 10 reams", 5490, true),
    ("Staple cartridge", 1875, true),
    ("Network setup, per hour", 12000, false),
    ("Fuser replacement", 31000, true),
    ("Delivery and installation", 9500, false),
];
const COLLECTORS: &[&str] = &["maria.chen", "david.okafor", "lena.fischer", "raj.patel"];
const CLERKS: &[&str] = &["ana.lopez", "tom.becker", "sara.kim"];

fn at(d: Date, hour: u8, minute: u8) -> OffsetDateTime {
    d.with_time(Time::from_hms(hour, minute, 0).expect("a valid time"))
        .assume_utc()
}

fn stamp(d: Date, hour: u8, actor: &str) -> Stamp {
    Stamp {
        now: at(d, hour, (hour as u32 * 7 % 60) as u8),
        actor: actor.to_string(),
        request_id: None,
    }
}

/// The first day of the month `months` before `d`'s.
fn months_before(d: Date, months: u32) -> Date {
    let index = d.year() * 12 + u8::from(d.month()) as i32 - 1 - months as i32;
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).expect("1..=12");
    Date::from_calendar_date(index.div_euclid(12), month, 1).expect("the first is a date")
}

fn next_month(d: Date) -> Date {
    let (year, month) = match d.month() {
        Month::December => (d.year() + 1, Month::January),
        m => (d.year(), m.next()),
    };
    Date::from_calendar_date(year, month, 1).expect("the first is a date")
}

fn percent_of(amount: Decimal, percent: i64) -> Decimal {
    Currency::parse("USD")
        .expect("USD")
        .round(amount * Decimal::from(percent) / Decimal::ONE_HUNDRED)
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

/// Contracts of each account: one each, the rest spread so that a few accounts have many.
fn contracts_per_account(options: &Options) -> Vec<usize> {
    let n = options.accounts;
    let mut per = vec![0usize; n];
    let mut rng = Rng::new(options.seed, u64::MAX);
    for c in 0..options.contracts {
        let a = if c < n {
            c
        } else {
            let u = rng.below(n as u64);
            (u * u / n as u64) as usize
        };
        per[a] += 1;
    }
    per
}

fn codes() -> (Codes, Vec<FinancialCodeRow>) {
    let now = at(
        Date::from_calendar_date(2020, Month::January, 1).expect("date"),
        9,
        0,
    );
    let mut rows = Vec::new();
    let mut code = |code: &str, name: &str, kind: FinancialCodeKind| {
        let id = Uuid::now_v7();
        rows.push(FinancialCodeRow {
            id,
            code: code.into(),
            name: name.into(),
            kind,
            description: None,
            active: true,
            version: 1,
            created_at: now,
            updated_at: now,
        });
        id
    };
    let codes = Codes {
        lease: code("4100-LEASE", "Lease revenue", FinancialCodeKind::Revenue),
        rental: code("4150-RENTAL", "Rental revenue", FinancialCodeKind::Revenue),
        service: code(
            "4200-SERVICE",
            "Service revenue",
            FinancialCodeKind::Revenue,
        ),
        usage: code("4300-USAGE", "Metered usage", FinancialCodeKind::Revenue),
        supplies: code(
            "4400-SUPPLIES",
            "Supplies and one-off charges",
            FinancialCodeKind::Revenue,
        ),
        credit: code(
            "5100-CREDITS",
            "Customer credits",
            FinancialCodeKind::Credit,
        ),
        write_off: code(
            "6100-WRITEOFF",
            "Small balances and bad debt",
            FinancialCodeKind::WriteOff,
        ),
    };
    code("4900-FEES", "Fees", FinancialCodeKind::Fee);
    code(
        "2300-REFUNDS",
        "Customer refunds",
        FinancialCodeKind::Refund,
    );
    code("2200-TAX", "Sales tax payable", FinancialCodeKind::Tax);
    (codes, rows)
}

fn partners(options: &Options) -> Vec<PartnerRow> {
    let count = (options.accounts / 200).clamp(1, 200);
    let now = at(months_before(options.as_of, options.months + 6), 9, 0);
    (0..count)
        .map(|i| PartnerRow {
            id: Uuid::now_v7(),
            code: format!("DLR-{:03}", i + 1),
            name: format!("{} Office Systems", NAMES[i % NAMES.len()]),
            status: PartnerStatus::Active,
            contact_email: Some(format!("ar@dealer{:03}.example.com", i + 1)),
            contact_phone: Some(format!("+1 555 01{:02}", i % 100)),
            version: 1,
            created_at: now,
            updated_at: now,
        })
        .collect()
}

/// The monthly billing runs of the history: the first of every month after the start,
/// before `as_of`'s month (whose run is left to do).
fn runs(start: Date, as_of: Date) -> Vec<RunRow> {
    let mut out = Vec::new();
    let mut d = next_month(start);
    let this_month = months_before(as_of, 0);
    while d < this_month {
        let started = at(d, 2, 0);
        out.push(RunRow {
            id: Uuid::now_v7(),
            as_of: d,
            account_id: None,
            contract_id: None,
            mode: RunMode::Issue,
            status: BillingRunStatus::Completed,
            contracts_total: Some(0),
            contracts_done: 0,
            invoices_created: 0,
            errors_count: 0,
            failure: None,
            requested_by: "billing-scheduler".into(),
            request_id: None,
            claimed_by: Some("worker-seed".into()),
            heartbeat_at: Some(started + Duration::minutes(20)),
            created_at: started,
            started_at: Some(started),
            finished_at: Some(started + Duration::minutes(20)),
        });
        d = next_month(d);
    }
    out
}

impl Book {
    /// An account with its contracts, equipment, meters and readings.
    #[allow(clippy::too_many_arguments)]
    fn new(
        index: usize,
        contracts: usize,
        first_contract: usize,
        partners: &[PartnerRow],
        shared_codes: Codes,
        options: &Options,
        start: Date,
        settings: &Settings,
    ) -> Book {
        let mut rng = Rng::new(options.seed, index as u64);
        let created = at(start - Duration::days(rng.range(1, 400)), 10, 0);
        let (city, region, postal) = *rng.pick(CITIES);
        let name = format!(
            "{} {} {}",
            rng.pick(NAMES),
            rng.pick(TRADES),
            rng.pick(SUFFIXES)
        );
        let tax_exempt = rng.chance(80);
        let autopay = rng.chance(150);
        let number = crate::accounts::rules::account_number(index as i64 + 1);
        let account = AccountRow {
            id: Uuid::now_v7(),
            number: number.clone(),
            legal_name: name.clone(),
            currency: "USD".into(),
            payment_terms_days: *rng.pick(&[15, 30, 30, 30, 30, 45, 60]),
            tax_exempt,
            tax_exemption_number: tax_exempt.then(|| format!("EX-{:07}", rng.below(10_000_000))),
            tax_rate: (!tax_exempt).then(|| {
                *rng.pick(&[
                    Decimal::new(625, 2),
                    Decimal::new(700, 2),
                    Decimal::new(825, 2),
                    Decimal::new(8875, 3),
                    Decimal::new(950, 2),
                ])
            }),
            credit_limit: Some(Decimal::from(rng.range(5, 150) * 1000)),
            credit_status: if rng.chance(50) {
                CreditStatus::Watch
            } else {
                CreditStatus::Good
            },
            risk_level: RiskLevel::Low,
            status: AccountStatus::Active,
            collections_status: CollectionsStatus::None,
            partner_id: (!partners.is_empty() && rng.chance(700)).then(|| rng.pick(partners).id),
            autopay_enabled: autopay,
            autopay_method: autopay.then_some(AutopayMethod::Ach),
            billing_address: Address {
                line1: format!("{} {} St", rng.range(1, 9999), rng.pick(NAMES)),
                line2: None,
                city: city.into(),
                region: Some(region.into()),
                postal_code: Some(postal.into()),
                country: "US".into(),
            },
            presentment: Presentment::default(),
            external_crm_id: Some(format!("CRM-{:08}", index + 1)),
            version: 1,
            created_at: created,
            updated_at: created,
            closed_at: None,
        };
        let slug: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(16)
            .collect::<String>()
            .to_lowercase();
        let mut out = Output::default();
        out.contacts.push(ContactRow {
            id: Uuid::now_v7(),
            account_id: account.id,
            name: "Accounts Payable".into(),
            email: Some(format!("ap@{slug}{}.example.com", index + 1)),
            phone: Some(format!("+1 555 {:04}", rng.below(10_000))),
            role: ContactRole::Billing,
            version: 1,
            created_at: created,
            updated_at: created,
        });
        if rng.chance(400) {
            out.contacts.push(ContactRow {
                id: Uuid::now_v7(),
                account_id: account.id,
                name: "Office Manager".into(),
                email: Some(format!("office@{slug}{}.example.com", index + 1)),
                phone: None,
                role: ContactRole::Primary,
                version: 1,
                created_at: created,
                updated_at: created,
            });
        }
        let payer = match rng.below(100) {
            0..=49 => Payer::Prompt,
            50..=74 => Payer::Normal,
            75..=89 => Payer::Slow,
            _ => Payer::Delinquent {
                stops: options.as_of - Duration::days(rng.range(30, 300)),
            },
        };
        let mut book = Book {
            short_payer: rng.chance(120),
            rng,
            terms: HashMap::from([(
                account.id,
                AccountTerms {
                    payment_terms_days: account.payment_terms_days,
                    tax_rate: crate::invoices::rules::tax_rate(&account),
                },
            )]),
            account,
            payer,
            contracts: Vec::new(),
            invoices: Vec::new(),
            index: HashMap::new(),
            open: Vec::new(),
            to_pay: Vec::new(),
            payments: Vec::new(),
            deductions: Vec::new(),
            open_deduction: HashMap::new(),
            disputes: Vec::new(),
            disputed: HashSet::new(),
            memos: Vec::new(),
            events: BinaryHeap::new(),
            seq: 0,
            out,
        };
        for k in 0..contracts {
            let contract =
                book.contract(first_contract + k, shared_codes, options, start, settings);
            book.contracts.push(contract);
        }
        book
    }

    /// A contract signed in the history, with its charges and, for most leases and rentals,
    /// a copier whose meters are read every period.
    fn contract(
        &mut self,
        n: usize,
        codes: Codes,
        options: &Options,
        start: Date,
        settings: &Settings,
    ) -> Contract {
        let rng = &mut self.rng;
        let latest = options.as_of - Duration::days(45);
        let span = (latest - start).whole_days().max(1);
        let start_date = if rng.chance(550) {
            start + Duration::days(rng.range(0, 25).min(span))
        } else {
            start + Duration::days(rng.range(0, span))
        };
        let kind = match rng.below(10) {
            0..=4 => ContractKind::Lease,
            5..=6 => ContractKind::Rental,
            _ => ContractKind::Service,
        };
        let frequency = match rng.below(100) {
            0..=84 => BillingFrequency::Monthly,
            85..=96 => BillingFrequency::Quarterly,
            _ => BillingFrequency::Annual,
        };
        let anchor_day = if rng.chance(750) {
            1
        } else {
            start_date.day().min(28) as i16
        };
        let timing = if kind == ContractKind::Service && rng.chance(600) {
            BillingTiming::Arrears
        } else {
            BillingTiming::Advance
        };
        let created = at(start_date - Duration::days(rng.range(3, 20)), 11, 0);
        let term_years = *rng.pick(&[3, 4, 5]);
        let end_date = start_date
            .replace_day(start_date.day().min(28))
            .and_then(|d| d.replace_year(d.year() + term_years))
            .ok()
            .map(|d| d - Duration::days(1));
        let contract = ContractRow {
            id: Uuid::now_v7(),
            number: crate::contracts::rules::contract_number(n as i64 + 1),
            account_id: self.account.id,
            kind,
            status: ContractStatus::Active,
            currency: "USD".into(),
            start_date,
            end_date: (kind != ContractKind::Service)
                .then_some(end_date)
                .flatten(),
            billing_frequency: frequency,
            anchor_day,
            billing_timing: timing,
            payment_terms_days: None,
            description: Some(format!("{} agreement", kind.as_str())),
            external_reference: None,
            terminated_on: None,
            version: 2,
            created_at: created,
            updated_at: created,
            activated_at: Some(created + Duration::hours(2)),
            anchor_month: None,
        };
        let (code, base) = match kind {
            ContractKind::Lease => (codes.lease, rng.cents(8_000, 150_000)),
            ContractKind::Rental => (codes.rental, rng.cents(5_000, 60_000)),
            _ => (codes.service, rng.cents(4_000, 40_000)),
        };
        let base = base.round_dp(0);
        let mut charges = vec![ChargeRow {
            id: Uuid::now_v7(),
            contract_id: contract.id,
            description: match kind {
                ContractKind::Lease => "Lease payment".into(),
                ContractKind::Rental => "Equipment rental".into(),
                _ => "Service agreement".into(),
            },
            amount: base,
            financial_code_id: code,
            taxable: kind != ContractKind::Service || rng.chance(500),
            effective_from: start_date,
            effective_to: None,
            amendment_id: None,
            created_at: created,
        }];
        if rng.chance(300) {
            charges.push(ChargeRow {
                id: Uuid::now_v7(),
                contract_id: contract.id,
                description: "Maintenance".into(),
                amount: rng.cents(1_500, 12_000),
                financial_code_id: codes.service,
                taxable: true,
                effective_from: start_date,
                effective_to: None,
                amendment_id: None,
                created_at: created,
            });
        }
        let mut meters = Vec::new();
        if kind != ContractKind::Service && rng.chance(650) {
            meters = self.copier(&contract, codes, options, settings, created);
        }
        self.out.charges.extend(charges.iter().cloned());
        self.out.contracts.push(contract.clone());
        Contract {
            input: ContractInput {
                contract,
                charges,
                amendments: Vec::new(),
                meters,
                billed_starts: HashSet::new(),
            },
        }
    }

    /// A copier on the contract with a black-and-white meter and often a colour one, read
    /// near the end of every period (a few readings missing: billing estimates those).
    fn copier(
        &mut self,
        contract: &ContractRow,
        codes: Codes,
        options: &Options,
        settings: &Settings,
        created: OffsetDateTime,
    ) -> Vec<MeterInput> {
        let rng = &mut self.rng;
        let (make, model) = *rng.pick(MODELS);
        let equipment = EquipmentRow {
            id: Uuid::now_v7(),
            contract_id: contract.id,
            serial_number: format!("{}-{}", &make[..2].to_uppercase(), &contract.number[4..])
                + &format!("{:02}", rng.below(100)),
            make: make.into(),
            model: model.into(),
            install_address: Some(self.account.billing_address.clone()),
            installed_on: contract.start_date,
            removed_on: None,
            pickup_status: None,
            version: 1,
            created_at: created,
            updated_at: created,
        };
        let periods = crate::billing::rules::periods(
            contract.start_date,
            contract.last_billable_day(),
            options.as_of,
            contract.billing_frequency,
            contract.anchor_day as u8,
            contract.anchor_month.map(|m| m.clamp(1, 12) as u8),
        );
        let mut meters = Vec::new();
        let kinds: &[&str] = if rng.chance(550) {
            &["bw", "color"]
        } else {
            &["bw"]
        };
        for kind in kinds {
            let (daily, included, rate) = if *kind == "bw" {
                (
                    rng.range(80, 700),
                    rng.range(1, 10) * 1000,
                    Decimal::new(rng.range(60, 120), 4),
                )
            } else {
                (
                    rng.range(15, 160),
                    rng.range(0, 4) * 500,
                    Decimal::new(rng.range(400, 900), 4),
                )
            };
            let meter = MeterRow {
                id: Uuid::now_v7(),
                equipment_id: equipment.id,
                contract_id: contract.id,
                meter_type: (*kind).into(),
                financial_code_id: codes.usage,
                expected_monthly_volume: Some(daily * 30),
                created_at: created,
            };
            let plan = PlanRow {
                id: Uuid::now_v7(),
                meter_id: meter.id,
                effective_from: contract.start_date,
                included_units: included,
                overage_rate: rate,
                minimum_charge: if rng.chance(200) {
                    Decimal::new(2500, 2)
                } else {
                    Decimal::ZERO
                },
                amendment_id: None,
                created_at: created,
            };
            let mut value = rng.range(1_000, 250_000);
            let mut actuals = vec![reading(
                &meter,
                contract.start_date,
                value,
                ReadingSource::Technician,
                created,
            )];
            let mut last = contract.start_date;
            for p in &periods {
                let boundary = p.boundary();
                let read_on = boundary
                    - Duration::days(rng.range(0, settings.billing.reading_window_days.min(2)));
                if read_on <= last || read_on > options.as_of || rng.chance(80) {
                    continue;
                }
                let days = (read_on - last).whole_days();
                value += daily * days * rng.range(80, 120) / 100;
                let source = *rng.pick(&[
                    ReadingSource::Device,
                    ReadingSource::Device,
                    ReadingSource::Customer,
                    ReadingSource::Partner,
                ]);
                actuals.push(reading(&meter, read_on, value, source, at(read_on, 18, 0)));
                last = read_on;
            }
            self.out.readings.extend(actuals.iter().cloned());
            self.out.meters.push(meter.clone());
            self.out.plans.push(plan.clone());
            meters.push(MeterInput {
                meter,
                equipment: equipment.clone(),
                plans: vec![plan],
                actuals,
                billed: Vec::new(),
            });
        }
        self.out.equipment.push(equipment);
        meters
    }

    /// How many invoices the contracts' billing runs make, about.
    fn periodic_invoices(&self, runs: &[RunRow]) -> u64 {
        self.contracts
            .iter()
            .map(|c| {
                let after = runs
                    .iter()
                    .filter(|r| r.as_of > c.input.contract.start_date)
                    .count() as u64;
                match c.input.contract.billing_frequency {
                    BillingFrequency::Monthly => after,
                    BillingFrequency::Quarterly => after.div_ceil(3),
                    BillingFrequency::Annual => after.div_ceil(12),
                }
            })
            .sum()
    }

    fn schedule(&mut self, on: Date, event: Event) {
        self.seq += 1;
        self.events.push(Reverse((on, self.seq, event)));
    }

    /// One day of the account's history.
    fn day(&mut self, d: Date, shared: &Shared) {
        if d.day() == 1 || d == shared.start {
            let month_end = (next_month(d) - Duration::days(1)).min(shared.options.as_of);
            let span = (month_end - d).whole_days();
            for _ in 0..self.rng.count(shared.manual_rate.0, shared.manual_rate.1) {
                let on = d + Duration::days(self.rng.range(0, span));
                self.schedule(on, Event::Manual);
            }
        }
        if let Some(&run) = shared.run_on.get(&d) {
            self.bill(d, run, shared);
        }
        while let Some(Reverse((on, _, _))) = self.events.peek() {
            if *on > d {
                break;
            }
            let Some(Reverse((_, _, event))) = self.events.pop() else {
                break;
            };
            match event {
                Event::Manual => self.manual_invoice(d, shared),
                Event::Pay(i) => self.pay(d, i, shared),
                Event::OpenDispute(i) => self.open_dispute(d, i, None, shared),
                Event::ResolveDispute(k) => self.resolve_dispute(d, k, shared),
                Event::FollowUpDeduction(k) => self.follow_up_deduction(d, k, shared),
                Event::Goodwill(i) => self.goodwill(d, i, shared),
                Event::Refund(p) => self.refund(d, p),
                Event::ApplyCash(p) => self.apply_cash(d, p),
            }
        }
    }

    /// The billing run of the day bills every contract through the billing engine.
    fn bill(&mut self, d: Date, run: usize, shared: &Shared) {
        let run_row = &shared.runs[run];
        let now = at(d, 2, 5);
        let actor = format!("billing-run:{}", run_row.id);
        for k in 0..self.contracts.len() {
            if self.contracts[k].input.contract.start_date > d {
                continue;
            }
            let bill = match engine::bill_contract(
                &self.contracts[k].input,
                &self.terms,
                d,
                d,
                run_row.id,
                &shared.settings.billing,
                now,
            ) {
                Ok(bill) => bill,
                Err(e) => {
                    let id = self.contracts[k].input.contract.id;
                    self.out.billing_errors.push(BillingErrorRow {
                        run_id: run_row.id,
                        contract_id: id,
                        code: e.code,
                        reason: e.reason,
                    });
                    continue;
                }
            };
            let input = &mut self.contracts[k].input;
            let contract_id = input.contract.id;
            for (start, end, invoice_id) in &bill.billed_periods {
                input.billed_starts.insert(*start);
                self.out.billed_periods.push(BilledPeriodRow {
                    contract_id,
                    period_start: *start,
                    period_end: *end,
                    invoice_id: *invoice_id,
                });
            }
            for m in input.meters.iter_mut() {
                for p in &bill.rerated {
                    if let Some(b) = m
                        .billed
                        .iter_mut()
                        .find(|b| b.meter_id == p.meter_id && b.period_start == p.period_start)
                    {
                        *b = p.clone();
                    }
                }
                m.billed.extend(
                    bill.new_meter_periods
                        .iter()
                        .filter(|p| p.meter_id == m.meter.id)
                        .cloned(),
                );
            }
            self.out.readings.extend(bill.estimates);
            self.out.lines.extend(bill.lines);
            for mut invoice in bill.invoices {
                if crate::invoices::rules::issue_problems(&invoice).is_empty() {
                    let number = shared.invoice_number(d.year());
                    let entry =
                        crate::invoices::rules::issue(&mut invoice, number, d, now, &actor, None);
                    self.out.ledger.extend(entry);
                } else {
                    self.out.billing_errors.push(BillingErrorRow {
                        run_id: run_row.id,
                        contract_id,
                        code: "not_issued",
                        reason:
                            "invoice left as a draft: total: an invoice cannot total below zero"
                                .into(),
                    });
                }
                self.add_invoice(d, invoice, shared);
            }
        }
    }

    /// A one-off invoice for supplies or a service call, issued the day it is made.
    fn manual_invoice(&mut self, d: Date, shared: &Shared) {
        let clerk = *self.rng.pick(CLERKS);
        let now = at(d, 9 + self.rng.below(8) as u8, self.rng.below(60) as u8);
        let lines: Vec<NewLine> = (0..self.rng.range(1, 3))
            .map(|_| {
                let (description, cents, taxable) = *self.rng.pick(CATALOG);
                NewLine {
                    description: description.into(),
                    quantity: Decimal::from(self.rng.range(1, 6)),
                    unit_price: Decimal::new(cents, 2),
                    financial_code_id: shared.codes.supplies,
                    taxable: Some(taxable),
                }
            })
            .collect();
        let contract = (!self.contracts.is_empty() && self.rng.chance(300)).then(|| {
            let k = self.rng.below(self.contracts.len() as u64) as usize;
            self.contracts[k].input.contract.id
        });
        let id = Uuid::now_v7();
        let mut invoice = crate::invoices::rules::new_draft(
            &self.account,
            id,
            contract,
            self.account.payment_terms_days,
            now,
        );
        let usd = Currency::parse("USD").expect("USD");
        let rows = crate::invoices::rules::manual_lines(id, &lines, usd);
        crate::invoices::rules::set_totals(&mut invoice, &rows, usd);
        self.out.lines.extend(rows);
        let number = shared.invoice_number(d.year());
        let entry = crate::invoices::rules::issue(&mut invoice, number, d, now, clerk, None);
        self.out.ledger.extend(entry);
        self.add_invoice(d, invoice, shared);
    }

    /// Keeps a new invoice and decides what will happen to it: when the customer means to
    /// pay it, whether it will be disputed or credited.
    fn add_invoice(&mut self, d: Date, invoice: InvoiceRow, shared: &Shared) {
        let i = self.invoices.len();
        let open = invoice.status == InvoiceStatus::Open;
        let due = invoice.due_date;
        self.index.insert(invoice.id, i);
        self.invoices.push(invoice);
        shared.invoices.fetch_add(1, Ordering::Relaxed);
        if !open {
            return;
        }
        self.open.push(i);
        let pay_on =
            (due + Duration::days(self.payer.delay(&mut self.rng))).max(d + Duration::days(1));
        let stopped = matches!(self.payer, Payer::Delinquent { stops } if pay_on >= stops);
        if !stopped && pay_on <= shared.options.as_of {
            self.schedule(pay_on, Event::Pay(i));
        }
        if self.rng.chance(15) {
            let on = d + Duration::days(self.rng.range(3, 20));
            if on <= shared.options.as_of {
                self.schedule(on, Event::OpenDispute(i));
            }
        } else if self.rng.chance(4) {
            let on = d + Duration::days(self.rng.range(5, 30));
            if on <= shared.options.as_of {
                self.schedule(on, Event::Goodwill(i));
            }
        }
    }

    /// The customer pays the invoices it decided to pay, in one payment or several, or
    /// waits to pay them together with later ones.
    fn pay(&mut self, d: Date, i: usize, shared: &Shared) {
        self.to_pay.push(i);
        let (num, den) = shared.pay_rate;
        let payments = self.rng.count(num, den);
        if payments == 0 && self.to_pay.len() < 8 {
            return;
        }
        let mut due: Vec<(usize, Decimal)> = std::mem::take(&mut self.to_pay)
            .into_iter()
            .map(|i| (i, crate::payments::rules::payable(&self.invoices[i])))
            .filter(|(_, a)| *a > Decimal::ZERO)
            .collect();
        due.sort_by_key(|(i, _)| *i);
        due.dedup_by_key(|(i, _)| *i);
        let total: Decimal = due.iter().map(|(_, a)| *a).sum();
        if total.is_zero() {
            return;
        }
        if self.short_payer && payments == 1 && self.rng.chance(250) {
            self.remit_short(d, &due, shared);
            return;
        }
        let parts = payments.max(1) as i64;
        let mut left = total;
        for k in 0..parts {
            let mut amount = if k + 1 == parts {
                left
            } else {
                (total / Decimal::from(parts)).round_dp(2)
            };
            if amount <= Decimal::ZERO {
                break;
            }
            left -= amount;
            if k + 1 == parts && self.rng.chance(25) {
                // Paid a round sum, or twice: the rest stays as unapplied cash.
                amount += Decimal::from(self.rng.range(1, 100));
            }
            if self.rng.chance(40) {
                // No remittance advice: the cash waits for someone to apply it, and some
                // is never matched to an invoice (a credit balance on the account).
                let p = self.receive(d, amount, ApplicationMode::None, shared);
                let on = d + Duration::days(self.rng.range(1, 15));
                if on <= shared.options.as_of && !self.rng.chance(150) {
                    self.schedule(on, Event::ApplyCash(p));
                }
                continue;
            }
            let p = self.receive(d, amount, ApplicationMode::Auto, shared);
            let stamp = self.payment_stamp(p);
            self.apply_auto(p, &stamp);
            if self.payments[p].unapplied() > Decimal::ZERO && self.rng.chance(300) {
                let on = d + Duration::days(self.rng.range(10, 30));
                if on <= shared.options.as_of {
                    self.schedule(on, Event::Refund(p));
                }
            }
        }
    }

    fn payment_stamp(&self, p: usize) -> Stamp {
        let actor = match self.payments[p].method {
            PaymentMethod::Lockbox => "lockbox-import",
            PaymentMethod::Ach => "ach-import",
            _ => "cash.applications",
        };
        Stamp {
            now: self.payments[p].created_at,
            actor: actor.into(),
            request_id: None,
        }
    }

    /// A new payment of `amount` received on `d`, with its receipt entry.
    fn receive(
        &mut self,
        d: Date,
        amount: Decimal,
        mode: ApplicationMode,
        shared: &Shared,
    ) -> usize {
        let method = if self.account.autopay_enabled {
            PaymentMethod::Ach
        } else {
            *self.rng.pick(&[
                PaymentMethod::Ach,
                PaymentMethod::Ach,
                PaymentMethod::Ach,
                PaymentMethod::Check,
                PaymentMethod::Check,
                PaymentMethod::Check,
                PaymentMethod::Wire,
                PaymentMethod::Card,
                PaymentMethod::Lockbox,
                PaymentMethod::Portal,
            ])
        };
        let reference = match method {
            PaymentMethod::Check | PaymentMethod::Lockbox => {
                format!("{:06}", self.rng.below(1_000_000))
            }
            PaymentMethod::Ach => format!("{:015}", self.rng.below(1_000_000_000_000_000)),
            PaymentMethod::Wire => format!("FT{:010}", self.rng.below(10_000_000_000)),
            _ => format!("ch_{:012x}", self.rng.below(1 << 48)),
        };
        let now = at(d, 8 + self.rng.below(10) as u8, self.rng.below(60) as u8);
        let payment = PaymentRow {
            id: Uuid::now_v7(),
            number: shared.payment_number(),
            account_id: self.account.id,
            amount,
            currency: "USD".into(),
            method,
            reference: Some(reference),
            received_date: d,
            application_mode: mode,
            memo: None,
            amount_applied: Decimal::ZERO,
            amount_refunded: Decimal::ZERO,
            status: PaymentStatus::Unapplied,
            returned_on: None,
            return_reason: None,
            return_code: None,
            return_note: None,
            return_fee_invoice_id: None,
            version: 1,
            created_by: String::new(),
            created_at: now,
            updated_at: now,
        };
        self.payments.push(payment);
        let p = self.payments.len() - 1;
        let stamp = self.payment_stamp(p);
        self.payments[p].created_by = stamp.actor.clone();
        let receipt = crate::payments::rules::receipt(&self.payments[p], &stamp);
        self.out.ledger.push(receipt);
        p
    }

    /// Auto application: the account's open invoices, oldest due first.
    fn apply_auto(&mut self, p: usize, stamp: &Stamp) {
        self.apply_oldest_first(p, ApplicationSource::Auto, stamp);
    }

    /// Cash that came without remittance advice, applied by hand days later to the oldest
    /// invoices, dated the day it is applied.
    fn apply_cash(&mut self, d: Date, p: usize) {
        let clerk = *self.rng.pick(CLERKS);
        let stamp = stamp(d, 10, clerk);
        self.apply_oldest_first(p, ApplicationSource::Manual, &stamp);
    }

    fn apply_oldest_first(&mut self, p: usize, source: ApplicationSource, stamp: &Stamp) {
        let available = self.payments[p].unapplied();
        let plan = crate::payments::rules::auto_plan(
            available,
            self.open.iter().map(|&i| &self.invoices[i]),
        );
        let mut touched = Vec::new();
        for (id, amount) in plan {
            let i = self.index[&id];
            self.apply(p, i, amount, source, stamp);
            touched.push(i);
        }
        let version = self.payments[p].version;
        self.settled(p, &touched, stamp);
        if source == ApplicationSource::Manual {
            // Each application by hand is a change of its own.
            self.payments[p].version = version;
        }
    }

    fn apply(
        &mut self,
        p: usize,
        i: usize,
        amount: Decimal,
        source: ApplicationSource,
        stamp: &Stamp,
    ) {
        let payment = &mut self.payments[p];
        let invoice = &mut self.invoices[i];
        let made = if source == ApplicationSource::Manual {
            stamp.today()
        } else {
            payment.received_date
        };
        let date = made.max(invoice.invoice_date);
        let (application, entries) =
            crate::payments::rules::apply(payment, invoice, amount, source, date, stamp);
        self.out.applications.push(application);
        self.out.ledger.extend(entries);
    }

    /// After applications: the payment's version as the API leaves it, paid invoices out of
    /// the open list, open deductions kept within what their invoices are short.
    fn settled(&mut self, p: usize, touched: &[usize], stamp: &Stamp) {
        self.payments[p].version = 1;
        self.sync_deductions(touched, Some(self.payments[p].id), stamp);
        let invoices = &self.invoices;
        self.open
            .retain(|&i| invoices[i].status == InvoiceStatus::Open);
    }

    /// What `payments::store::sync_deductions` does: an invoice no longer short settles its
    /// open deduction; one less short shrinks it.
    fn sync_deductions(&mut self, touched: &[usize], payment: Option<Uuid>, stamp: &Stamp) {
        for i in touched {
            let Some(&k) = self.open_deduction.get(i) else {
                continue;
            };
            let invoice = &self.invoices[*i];
            let short = invoice.balance_due - invoice.disputed_amount;
            let d = &mut self.deductions[k];
            if short <= Decimal::ZERO {
                d.status = DeductionStatus::Paid;
                d.resolved_at = Some(stamp.now);
                d.resolved_by = Some(stamp.actor.clone());
                d.settled_by_payment_id = payment;
                d.version += 1;
                d.updated_at = stamp.now;
                self.open_deduction.remove(i);
            } else if d.amount > short {
                d.amount = short;
                d.version += 1;
                d.updated_at = stamp.now;
            }
        }
    }

    /// A payment with a remittance that pays one invoice short, leaving a deduction.
    fn remit_short(&mut self, d: Date, due: &[(usize, Decimal)], shared: &Shared) {
        let short_one = self.rng.below(due.len() as u64) as usize;
        let mut lines = Vec::new();
        for (k, (i, amount)) in due.iter().enumerate() {
            if self.open_deduction.contains_key(i) {
                continue;
            }
            let paid = if k == short_one {
                let cut = if self.rng.chance(400) {
                    Decimal::new(self.rng.range(1, 500), 2)
                } else {
                    percent_of(*amount, self.rng.range(2, 15))
                };
                (*amount - cut).max(Decimal::new(1, 2))
            } else {
                *amount
            };
            lines.push((*i, paid, k == short_one));
        }
        let total: Decimal = lines.iter().map(|(_, a, _)| *a).sum();
        if lines.is_empty() || total.is_zero() {
            return;
        }
        let p = self.receive(d, total, ApplicationMode::Remittance, shared);
        let stamp = self.payment_stamp(p);
        let mut touched = Vec::new();
        let mut new_deductions = Vec::new();
        for (i, amount, short) in &lines {
            self.apply(p, *i, *amount, ApplicationSource::Remittance, &stamp);
            touched.push(*i);
            if !short {
                continue;
            }
            let reason = *self.rng.pick(&[
                DeductionReason::Pricing,
                DeductionReason::Tax,
                DeductionReason::Damaged,
                DeductionReason::NotReceived,
                DeductionReason::Promotional,
                DeductionReason::Other,
            ]);
            new_deductions.extend(
                crate::payments::rules::deduction(
                    &self.payments[p],
                    &self.invoices[*i],
                    Some(reason),
                    None,
                    &stamp,
                )
                .map(|row| (*i, row)),
            );
        }
        // As the API does: existing deductions are synced, then new ones are added.
        self.settled(p, &touched, &stamp);
        for (i, row) in new_deductions {
            self.deductions.push(row);
            let k = self.deductions.len() - 1;
            self.open_deduction.insert(i, k);
            let on = d + Duration::days(self.rng.range(10, 45));
            if on <= shared.options.as_of {
                self.schedule(on, Event::FollowUpDeduction(k));
            }
        }
    }

    /// Billing follows a deduction up: a small one is written off, a larger one often
    /// becomes a dispute; the rest wait for the customer.
    fn follow_up_deduction(&mut self, d: Date, k: usize, shared: &Shared) {
        if self.deductions[k].status != DeductionStatus::Open {
            return;
        }
        let i = self.index[&self.deductions[k].invoice_id];
        let clerk = *self.rng.pick(CLERKS);
        let stamp = stamp(d, 14, clerk);
        let tolerance = shared.settings.small_balance_tolerance;
        if crate::payments::rules::write_off_refusal(
            &self.deductions[k],
            &self.invoices[i],
            tolerance,
        )
        .is_none()
        {
            let deduction = &mut self.deductions[k];
            let reason = format!(
                "Small-balance write-off of a {} deduction",
                deduction.reason.as_str()
            );
            let adjustment = AdjustmentRow {
                id: Uuid::now_v7(),
                account_id: deduction.account_id,
                invoice_id: Some(deduction.invoice_id),
                kind: AdjustmentKind::SmallBalanceWriteOff,
                amount: deduction.amount,
                currency: deduction.currency.clone(),
                financial_code_id: shared.codes.write_off,
                reason: reason.clone(),
                deduction_id: Some(deduction.id),
                payment_id: None,
                created_by: stamp.actor.clone(),
                created_at: stamp.now,
            };
            let invoice = &mut self.invoices[i];
            let description = format!(
                "Small-balance write-off on {}: {reason}",
                invoice.number.as_deref().unwrap_or_default()
            );
            let entry = crate::adjustments::rules::write_off(
                invoice,
                deduction.amount,
                adjustment.id,
                description,
                &stamp,
            );
            crate::payments::rules::resolve(deduction, DeductionStatus::WrittenOff, &stamp);
            deduction.adjustment_id = Some(adjustment.id);
            self.open_deduction.remove(&i);
            self.out.ledger.push(entry);
            self.out.adjustments.push(adjustment);
            let invoices = &self.invoices;
            self.open
                .retain(|&i| invoices[i].status == InvoiceStatus::Open);
        } else if self.rng.chance(500) {
            self.open_dispute(d, i, Some(k), shared);
        }
    }

    /// A dispute on an open invoice (for part of its undisputed balance, or for a deduction),
    /// resolved some days later unless it is recent.
    fn open_dispute(&mut self, d: Date, i: usize, deduction: Option<usize>, shared: &Shared) {
        let invoice = &self.invoices[i];
        let room = crate::disputes::rules::undisputed(invoice);
        if invoice.status != InvoiceStatus::Open || room <= Decimal::ZERO {
            return;
        }
        if deduction.is_none() && self.open_deduction.contains_key(&i) {
            return;
        }
        let (amount, reason) = match deduction {
            Some(k) => (
                self.deductions[k].amount,
                crate::disputes::rules::reason_of(self.deductions[k].reason),
            ),
            None => {
                let amount = if self.rng.chance(400) {
                    room
                } else {
                    percent_of(room, self.rng.range(5, 60)).max(Decimal::new(1, 2))
                };
                let reason = *self.rng.pick(&[
                    DisputeReason::Pricing,
                    DisputeReason::MeterReading,
                    DisputeReason::Duplicate,
                    DisputeReason::Tax,
                    DisputeReason::ServiceNotRendered,
                    DisputeReason::Other,
                ]);
                (amount, reason)
            }
        };
        let stamp = stamp(
            d,
            11,
            if deduction.is_some() {
                "billing.desk"
            } else {
                "customer.portal"
            },
        );
        let contact = self.out.contacts.first();
        let row = DisputeRow {
            id: Uuid::now_v7(),
            number: shared.dispute_number(),
            account_id: self.account.id,
            invoice_id: invoice.id,
            invoice_line_id: None,
            deduction_id: deduction.map(|k| self.deductions[k].id),
            amount,
            currency: invoice.currency.clone(),
            reason,
            description: format!(
                "Customer questions {} on invoice {}",
                reason.as_str().replace('_', " "),
                invoice.number.as_deref().unwrap_or_default()
            ),
            contact_name: contact.map(|c| c.name.clone()),
            contact_email: contact.and_then(|c| c.email.clone()),
            contact_phone: None,
            status: DisputeStatus::Open,
            assignee: None,
            opened_on: d,
            sla_due_date: crate::disputes::rules::add_business_days(
                d,
                shared.settings.dispute_sla_business_days,
                &shared.settings.holidays,
            ),
            root_cause: None,
            resolution_note: None,
            approved_amount: None,
            credit_memo_id: None,
            resolved_at: None,
            resolved_by: None,
            opened_by: stamp.actor.clone(),
            version: 1,
            created_at: stamp.now,
            updated_at: stamp.now,
            tax_amount: Decimal::ZERO,
        };
        let invoice = &mut self.invoices[i];
        invoice.disputed_amount += amount;
        invoice.version += 1;
        invoice.updated_at = stamp.now;
        if let Some(k) = deduction {
            let ded = &mut self.deductions[k];
            crate::payments::rules::resolve(ded, DeductionStatus::Disputed, &stamp);
            ded.dispute_id = Some(row.id);
            self.open_deduction.remove(&i);
        }
        self.disputes.push(row);
        self.disputed.insert(i);
        let k = self.disputes.len() - 1;
        let on = d + Duration::days(self.rng.range(2, 40));
        if on <= shared.options.as_of {
            self.schedule(on, Event::ResolveDispute(k));
        } else if on - Duration::days(20) <= shared.options.as_of {
            let dispute = &mut self.disputes[k];
            dispute.status = DisputeStatus::UnderReview;
            dispute.assignee = Some((*self.rng.pick(COLLECTORS)).into());
            dispute.version += 1;
        }
    }

    /// A dispute ends: found valid (a credit memo for the approved amount, applied to the
    /// invoice), invalid, or withdrawn by the customer.
    fn resolve_dispute(&mut self, d: Date, k: usize, shared: &Shared) {
        let resolver = *self.rng.pick(COLLECTORS);
        let stamp = stamp(d, 15, resolver);
        let roll = self.rng.below(100);
        let dispute = &mut self.disputes[k];
        let i = self.index[&dispute.invoice_id];
        let invoice = &mut self.invoices[i];
        invoice.disputed_amount = (invoice.disputed_amount - dispute.amount).max(Decimal::ZERO);
        invoice.version += 1;
        invoice.updated_at = stamp.now;
        dispute.resolved_at = Some(stamp.now);
        dispute.resolved_by = Some(stamp.actor.clone());
        dispute.assignee.get_or_insert_with(|| resolver.into());
        dispute.version += 1;
        dispute.updated_at = stamp.now;
        if roll < 15 {
            dispute.status = DisputeStatus::Withdrawn;
        } else if roll < 45 {
            dispute.status = DisputeStatus::ResolvedInvalid;
            dispute.root_cause = Some(RootCause::CustomerMisunderstanding);
            dispute.resolution_note = Some("Charges confirmed against the contract".into());
        } else {
            let approved = if roll < 85 {
                dispute.amount
            } else {
                percent_of(dispute.amount, 50).max(Decimal::new(1, 2))
            };
            dispute.status = DisputeStatus::ResolvedValid;
            dispute.approved_amount = Some(approved);
            dispute.root_cause = Some(*self.rng.pick(&[
                RootCause::BillingError,
                RootCause::MeterMisread,
                RootCause::PricingSetup,
                RootCause::ContractSetup,
            ]));
            dispute.resolution_note = Some("Credit approved".into());
            let description = format!(
                "Dispute {} resolved ({}): {}",
                dispute.number,
                dispute.root_cause.expect("set").as_str().replace('_', " "),
                dispute.reason.as_str().replace('_', " ")
            );
            let dispute_id = dispute.id;
            let memo_id = self.credit(
                d,
                i,
                CreditReason::Dispute,
                description,
                approved,
                Some(dispute_id),
                &stamp,
                shared,
            );
            self.disputes[k].credit_memo_id = Some(memo_id);
        }
        let dispute = &self.disputes[k];
        if dispute.status != DisputeStatus::ResolvedValid {
            // A dispute of a deduction that ends without a credit gives the deduction back.
            if let Some(ded) = dispute.deduction_id {
                let k = self
                    .deductions
                    .iter()
                    .position(|x| x.id == ded)
                    .expect("its deduction");
                let invoice = &self.invoices[i];
                let short = invoice.balance_due - invoice.disputed_amount;
                if invoice.status == InvoiceStatus::Open
                    && short > Decimal::ZERO
                    && !self.open_deduction.contains_key(&i)
                {
                    let x = &mut self.deductions[k];
                    x.status = DeductionStatus::Open;
                    x.amount = x.amount.min(short);
                    x.resolved_at = None;
                    x.resolved_by = None;
                    x.version += 1;
                    x.updated_at = stamp.now;
                    self.open_deduction.insert(i, k);
                }
            }
        }
        self.disputed.remove(&i);
        let invoices = &self.invoices;
        self.open
            .retain(|&i| invoices[i].status == InvoiceStatus::Open);
    }

    /// A goodwill credit on an invoice that is still open.
    fn goodwill(&mut self, d: Date, i: usize, shared: &Shared) {
        let room = crate::credit_memos::rules::creditable(&self.invoices[i]);
        if room <= Decimal::ZERO {
            return;
        }
        let amount = percent_of(room, self.rng.range(5, 25)).max(Decimal::new(1, 2));
        let clerk = *self.rng.pick(CLERKS);
        let stamp = stamp(d, 16, clerk);
        self.credit(
            d,
            i,
            CreditReason::Goodwill,
            "Goodwill credit".into(),
            amount,
            None,
            &stamp,
            shared,
        );
    }

    /// A credit memo issued and applied to invoice `i` as far as its balance allows (the
    /// rest stays on account), as `credit_memos::service::issue_and_apply` does.
    #[allow(clippy::too_many_arguments)]
    fn credit(
        &mut self,
        d: Date,
        i: usize,
        reason: CreditReason,
        description: String,
        amount: Decimal,
        dispute: Option<Uuid>,
        stamp: &Stamp,
        shared: &Shared,
    ) -> Uuid {
        let lines = [crate::credit_memos::service::plain_line(
            description,
            amount,
        )];
        let mut memo = crate::credit_memos::service::new_memo(
            self.account.id,
            "USD",
            reason,
            shared.codes.credit,
            &lines,
            None,
            dispute,
            stamp,
        );
        self.out
            .memo_lines
            .extend(crate::credit_memos::service::line_rows(memo.id, &lines));
        self.out.memo_targets.push(TargetRow {
            credit_memo_id: memo.id,
            invoice_id: self.invoices[i].id,
            amount,
        });
        crate::credit_memos::rules::submit(&mut memo, true, stamp);
        let year = d.year();
        let n = shared.next(&format!("CM-{year}"));
        let entry =
            crate::credit_memos::rules::issue(&mut memo, format!("CM-{year}-{n:06}"), stamp);
        self.out.ledger.push(entry);
        let invoice = &mut self.invoices[i];
        let apply = amount
            .min(crate::credit_memos::rules::creditable(invoice))
            .min(memo.unapplied());
        if apply > Decimal::ZERO {
            let date = d.max(invoice.invoice_date);
            let (application, pair) =
                crate::credit_memos::rules::apply(&mut memo, invoice, apply, date, stamp);
            self.out.memo_applications.push(application);
            self.out.ledger.extend(pair);
        }
        self.sync_deductions(&[i], None, stamp);
        let invoices = &self.invoices;
        self.open
            .retain(|&i| invoices[i].status == InvoiceStatus::Open);
        let id = memo.id;
        self.memos.push(memo);
        id
    }

    /// The unapplied cash of an overpayment goes back to the customer.
    fn refund(&mut self, d: Date, p: usize) {
        let amount = self.payments[p].unapplied();
        if amount <= Decimal::ZERO {
            return;
        }
        let stamp = stamp(d, 13, "treasury");
        let row = RefundRow {
            id: Uuid::now_v7(),
            payment_id: self.payments[p].id,
            amount,
            method: RefundMethod::Ach,
            reference: Some(format!("RF{:08}", self.rng.below(100_000_000))),
            refunded_on: d,
            reason: Some("Overpayment returned to the customer".into()),
            created_by: stamp.actor.clone(),
            created_at: stamp.now,
        };
        let (row, entry) = crate::payments::rules::refund(&mut self.payments[p], row, &stamp);
        self.out.refunds.push(row);
        self.out.ledger.push(entry);
    }

    /// The account's rows once its history is written.
    fn finish(mut self) -> Output {
        for c in self.contracts {
            for m in c.input.meters {
                self.out.meter_periods.extend(m.billed);
            }
        }
        self.out.accounts.push(self.account);
        self.out.invoices = self.invoices;
        self.out.payments = self.payments;
        self.out.deductions = self.deductions;
        self.out.disputes = self.disputes;
        self.out.memos = self.memos;
        self.out
    }
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
    out.series.push(("account".into(), options.accounts as i64));
    out.series
        .push(("contract".into(), options.contracts as i64));
    out.series.sort();
    out.last_payment_number = counters.payments;
    out.last_dispute_number = counters.disputes;
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
