//! The plan of a history: names, cities and the catalogue it draws from, the financial codes,
//! dealers and monthly runs, and how contracts spread over accounts.

use super::*;

pub(super) const CITIES: &[(&str, &str, &str)] = &[
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
pub(super) const NAMES: &[&str] = &[
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
pub(super) const TRADES: &[&str] = &[
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
pub(super) const SUFFIXES: &[&str] = &["Inc.", "LLC", "Co.", "Group", "Partners", "Ltd."];
pub(super) const MODELS: &[(&str, &str)] = &[
    ("Ricoh", "IM C3000"),
    ("Canon", "imageRUNNER C5840i"),
    ("Xerox", "AltaLink C8170"),
    ("Konica Minolta", "bizhub C450i"),
    ("Sharp", "MX-4071"),
    ("Kyocera", "TASKalfa 4054ci"),
];
/// One-off charges: description, unit price in cents, taxable.
pub(super) const CATALOG: &[(&str, i64, bool)] = &[
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
pub(super) const COLLECTORS: &[&str] = &["maria.chen", "david.okafor", "lena.fischer", "raj.patel"];
pub(super) const CLERKS: &[&str] = &["ana.lopez", "tom.becker", "sara.kim"];

pub(super) fn at(d: Date, hour: u8, minute: u8) -> OffsetDateTime {
    d.with_time(Time::from_hms(hour, minute, 0).expect("a valid time"))
        .assume_utc()
}

pub(super) fn stamp(d: Date, hour: u8, actor: &str) -> Stamp {
    Stamp {
        now: at(d, hour, (hour as u32 * 7 % 60) as u8),
        actor: actor.to_string(),
        request_id: None,
    }
}

/// The first day of the month `months` before `d`'s.
pub(super) fn months_before(d: Date, months: u32) -> Date {
    let index = d.year() * 12 + u8::from(d.month()) as i32 - 1 - months as i32;
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).expect("1..=12");
    Date::from_calendar_date(index.div_euclid(12), month, 1).expect("the first is a date")
}

pub(super) fn next_month(d: Date) -> Date {
    let (year, month) = match d.month() {
        Month::December => (d.year() + 1, Month::January),
        m => (d.year(), m.next()),
    };
    Date::from_calendar_date(year, month, 1).expect("the first is a date")
}

pub(super) fn percent_of(amount: Decimal, percent: i64) -> Decimal {
    Currency::parse("USD")
        .expect("USD")
        .round(amount * Decimal::from(percent) / Decimal::ONE_HUNDRED)
}

/// Contracts of each account: one each, the rest spread so that a few accounts have many.
pub(super) fn contracts_per_account(options: &Options) -> Vec<usize> {
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

pub(super) fn codes() -> (Codes, Vec<FinancialCodeRow>) {
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

pub(super) fn partners(options: &Options) -> Vec<PartnerRow> {
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
pub(super) fn runs(start: Date, as_of: Date) -> Vec<RunRow> {
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
