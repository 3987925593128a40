//! The aging reports: what was open at the end of any date by days past due (current, 1–30,
//! 31–60, 61–90, 91–120, over 120), with the disputed part and the unapplied cash and credits
//! shown apart. `aging-summary` groups it by account, partner, collector, family or not at
//! all; `aging-detail` lists every open invoice and every unapplied amount (`detail`).
//! Both filter by partner, collector and risk level.

pub mod detail;
pub mod routes;
mod stream;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::format::ReportFormat;
use crate::accounts::model::RiskLevel;
use crate::export::{Cell, Column, Kind, Table};
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

crate::text_enum! {
    /// How the aging summary is grouped.
    AgingSummaryGroup { Account => "account", Partner => "partner", Collector => "collector", Family => "family", Total => "total" }
}

/// The filters both aging reports take.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgingSummaryQuery {
    /// The day the aging is as of, at its end (default today).
    pub as_of: Option<Date>,
    /// `account` (default), `partner` (accounts without one together), `collector` (the
    /// collector's token subject; accounts in no portfolio as `Unassigned`), `family` (each
    /// family under its top account) or `total` (one row per currency).
    #[param(inline)]
    pub group_by: Option<AgingSummaryGroup>,
    /// Only the accounts of this partner.
    pub partner_id: Option<Uuid>,
    /// Only the accounts in this collector's portfolio (the token subject).
    #[param(min_length = 1, max_length = 200)]
    pub collector: Option<String>,
    /// Only the accounts at this risk level (as it stands now).
    #[param(inline)]
    pub risk_level: Option<RiskLevel>,
    /// `json` (default), `csv` or `xlsx`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// The report's parameters, defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgingParameters {
    pub as_of: Date,
    pub partner_id: Option<Uuid>,
    pub collector: Option<String>,
    #[schema(inline)]
    pub risk_level: Option<RiskLevel>,
}

impl AgingParameters {
    /// Name and value of each, as the CSV and the workbook list them.
    pub fn listed(&self) -> Vec<(&'static str, String)> {
        vec![
            ("as_of", self.as_of.to_string()),
            (
                "partner_id",
                self.partner_id.map(|id| id.to_string()).unwrap_or_default(),
            ),
            ("collector", self.collector.clone().unwrap_or_default()),
            (
                "risk_level",
                self.risk_level
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
            ),
        ]
    }
}

/// 422 naming the field for a date out of range or an empty or overlong collector.
pub fn parameters(
    as_of: Option<Date>,
    partner_id: Option<Uuid>,
    collector: Option<&str>,
    risk_level: Option<RiskLevel>,
    today: Date,
) -> Result<AgingParameters, Refusal> {
    let mut e = Errors::default();
    crate::validate::check_business_date("as_of", as_of, &mut e);
    if let Some(c) = collector {
        if c.is_empty() || c.chars().count() > 200 {
            e.add("collector", "invalid", "must be 1 to 200 characters");
        }
    }
    e.finish()?;
    Ok(AgingParameters {
        as_of: as_of.unwrap_or(today),
        partner_id,
        collector: collector.map(str::to_string),
        risk_level,
    })
}

/// The end of `as_of` as an instant: disputes closed at or after it were still active that day.
pub fn end_of(as_of: Date) -> time::OffsetDateTime {
    as_of.next_day().unwrap_or(as_of).midnight().assume_utc()
}

/// One row of the summary: what a group's accounts owed at the end of `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, diesel::QueryableByName)]
pub struct AgingSummaryRow {
    /// The account's, the partner's or the family's top account's id; absent for `collector`,
    /// `total` and accounts without a partner.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    pub key: Option<Uuid>,
    /// The account's (or top account's) number and name, the partner's code and name, the
    /// collector, or `All accounts`.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub label: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: Currency,
    /// Accounts with an open invoice or unapplied cash or credits.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub accounts: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub open_invoices: i64,
    /// Not yet due (0 days past due or less).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "250.00")]
    pub current: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_1_30: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_31_60: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_61_90: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_91_120: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub days_over_120: Decimal,
    /// The buckets' sum: the open invoices' balances.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "250.00")]
    pub total: Decimal,
    /// The part of `total` under a dispute active that day (included in the buckets).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub disputed: Decimal,
    /// Cash and credits received but on no invoice that day (not in the buckets).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub unapplied: Decimal,
    /// `total` − `unapplied`: the accounts' ledger balance that day.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "250.00")]
    pub net: Decimal,
}

impl AgingSummaryRow {
    fn amounts(&mut self) -> [&mut Decimal; 10] {
        [
            &mut self.current,
            &mut self.days_1_30,
            &mut self.days_31_60,
            &mut self.days_61_90,
            &mut self.days_91_120,
            &mut self.days_over_120,
            &mut self.total,
            &mut self.disputed,
            &mut self.unapplied,
            &mut self.net,
        ]
    }

    /// The amounts at the currency's minor unit.
    pub fn normalized(mut self) -> AgingSummaryRow {
        let c = self.currency;
        for amount in self.amounts() {
            *amount = c.normalize(*amount);
        }
        self
    }

    fn add(&mut self, other: &AgingSummaryRow) {
        let mut other = other.clone();
        self.accounts += other.accounts;
        self.open_invoices += other.open_invoices;
        for (mine, theirs) in self.amounts().into_iter().zip(other.amounts()) {
            *mine += *theirs;
        }
    }
}

/// The aging summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgingSummary {
    pub parameters: AgingParameters,
    #[schema(inline)]
    pub group_by: AgingSummaryGroup,
    /// Largest total first.
    pub rows: Vec<AgingSummaryRow>,
    /// One per currency: the sums of `rows`.
    pub totals: Vec<AgingSummaryRow>,
}

pub fn summary(
    parameters: AgingParameters,
    group_by: AgingSummaryGroup,
    rows: Vec<AgingSummaryRow>,
) -> AgingSummary {
    let rows: Vec<AgingSummaryRow> = rows.into_iter().map(AgingSummaryRow::normalized).collect();
    let totals = Currency::distinct(rows.iter().map(|r| r.currency))
        .into_iter()
        .map(|currency| {
            let mut t = AgingSummaryRow {
                key: None,
                label: "Total".into(),
                currency,
                accounts: 0,
                open_invoices: 0,
                current: Decimal::ZERO,
                days_1_30: Decimal::ZERO,
                days_31_60: Decimal::ZERO,
                days_61_90: Decimal::ZERO,
                days_91_120: Decimal::ZERO,
                days_over_120: Decimal::ZERO,
                total: Decimal::ZERO,
                disputed: Decimal::ZERO,
                unapplied: Decimal::ZERO,
                net: Decimal::ZERO,
            };
            for r in rows.iter().filter(|r| r.currency == currency) {
                t.add(r);
            }
            t.normalized()
        })
        .collect();
    AgingSummary {
        parameters,
        group_by,
        rows,
        totals,
    }
}

const COLUMNS: [Column; 16] = [
    Column::new("label", Kind::Text),
    Column::new("currency", Kind::Text),
    Column::new("accounts", Kind::Integer),
    Column::new("open_invoices", Kind::Integer),
    Column::new("current", Kind::Money),
    Column::new("days_1_30", Kind::Money),
    Column::new("days_31_60", Kind::Money),
    Column::new("days_61_90", Kind::Money),
    Column::new("days_91_120", Kind::Money),
    Column::new("days_over_120", Kind::Money),
    Column::new("total", Kind::Money),
    Column::new("disputed", Kind::Money),
    Column::new("unapplied", Kind::Money),
    Column::new("net", Kind::Money),
    Column::new("group_by", Kind::Text),
    Column::new("key", Kind::Text),
];

fn cells(r: &AgingSummaryRow, group_by: AgingSummaryGroup) -> Vec<Cell> {
    vec![
        r.label.clone().into(),
        r.currency.code().into(),
        r.accounts.into(),
        r.open_invoices.into(),
        r.current.into(),
        r.days_1_30.into(),
        r.days_31_60.into(),
        r.days_61_90.into(),
        r.days_91_120.into(),
        r.days_over_120.into(),
        r.total.into(),
        r.disputed.into(),
        r.unapplied.into(),
        r.net.into(),
        group_by.as_str().into(),
        r.key.map(|k| k.to_string()).into(),
    ]
}

impl AgingSummary {
    /// The groups, then one totals row per currency (the last as the table's totals row).
    pub fn table(&self) -> Table {
        let rows = self.rows.iter().map(|r| cells(r, self.group_by)).collect();
        let totals = self
            .totals
            .iter()
            .map(|t| cells(t, self.group_by))
            .collect();
        let mut parameters = self.parameters.listed();
        parameters.insert(1, ("group_by", self.group_by.as_str().to_string()));
        Table::with_totals("Aging summary", COLUMNS.to_vec(), rows, totals, parameters)
    }
}
