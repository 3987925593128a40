//! The aging detail: every invoice open at the end of `as_of` with its days past due and
//! bucket, and every account's unapplied cash and credits on a line of their own. It can be
//! the whole book, so it is written as the database hands the rows over, never held whole:
//! [`DetailWriter`] turns rows into the format's bytes and keeps the totals as they pass.

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{AgingParameters, AgingSummaryRow};
use crate::accounts::model::RiskLevel;
use crate::export::{self, Cell, Column, Kind, SheetWriter};
use crate::money::Currency;
use crate::reports::format::ReportFormat;

/// The filters of the aging detail.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgingDetailQuery {
    /// The day the aging is as of, at its end (default today).
    pub as_of: Option<Date>,
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

crate::text_enum! {
    /// What a line of the aging detail is: an open invoice, or an account's cash and credits
    /// on no invoice.
    AgingLineKind { Invoice => "invoice", Unapplied => "unapplied" }
}

/// One line: an open invoice (`balance`, `disputed`, its dates and bucket) or an account's
/// unapplied amount (`unapplied` only).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, diesel::QueryableByName)]
pub struct AgingDetailRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub account_number: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub legal_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[schema(inline)]
    pub kind: AgingLineKind,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    pub invoice_id: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub invoice_number: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    pub invoice_date: Option<Date>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    pub due_date: Option<Date>,
    /// `as_of` − due date: 0 or less is current.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    pub days_past_due: Option<i32>,
    /// `current`, `1-30`, `31-60`, `61-90`, `91-120` or `over_120`.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub bucket: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: Currency,
    /// The invoice's balance that day.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "250.00")]
    pub balance: Option<Decimal>,
    /// The part of it under a dispute active that day.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "0.00")]
    pub disputed: Option<Decimal>,
    /// The account's cash and credits on no invoice that day.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "0.00")]
    pub unapplied: Option<Decimal>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub collector: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub partner_code: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[schema(inline)]
    pub risk_level: RiskLevel,
}

impl AgingDetailRow {
    fn normalized(mut self) -> AgingDetailRow {
        let c = self.currency;
        for amount in [&mut self.balance, &mut self.disputed, &mut self.unapplied]
            .into_iter()
            .flatten()
        {
            *amount = c.normalize(*amount);
        }
        self
    }
}

/// The aging detail, as the JSON it is streamed as.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgingDetail {
    pub parameters: AgingParameters,
    /// By account number; an account's invoices by due date, then its unapplied amount.
    pub rows: Vec<AgingDetailRow>,
    /// One per currency, as the summary grouped by `total` gives them.
    pub totals: Vec<AgingSummaryRow>,
}

const COLUMNS: [Column; 17] = [
    Column::new("account_number", Kind::Text),
    Column::new("legal_name", Kind::Text),
    Column::new("kind", Kind::Text),
    Column::new("invoice_number", Kind::Text),
    Column::new("invoice_date", Kind::Date),
    Column::new("due_date", Kind::Date),
    Column::new("days_past_due", Kind::Integer),
    Column::new("bucket", Kind::Text),
    Column::new("currency", Kind::Text),
    Column::new("balance", Kind::Money),
    Column::new("disputed", Kind::Money),
    Column::new("unapplied", Kind::Money),
    Column::new("collector", Kind::Text),
    Column::new("partner_code", Kind::Text),
    Column::new("risk_level", Kind::Text),
    Column::new("account_id", Kind::Text),
    Column::new("invoice_id", Kind::Text),
];

fn cells(r: &AgingDetailRow) -> Vec<Cell> {
    vec![
        r.account_number.clone().into(),
        r.legal_name.clone().into(),
        r.kind.as_str().into(),
        r.invoice_number.clone().into(),
        r.invoice_date.into(),
        r.due_date.into(),
        r.days_past_due.map(i64::from).into(),
        r.bucket.clone().into(),
        r.currency.code().into(),
        r.balance.into(),
        r.disputed.into(),
        r.unapplied.into(),
        r.collector.clone().into(),
        r.partner_code.clone().into(),
        r.risk_level.as_str().into(),
        r.account_id.to_string().into(),
        r.invoice_id.map(|id| id.to_string()).into(),
    ]
}

/// A currency's totals as the rows pass.
#[derive(Default)]
struct Running {
    accounts: HashSet<Uuid>,
    open_invoices: i64,
    buckets: [Decimal; 6],
    disputed: Decimal,
    unapplied: Decimal,
}

impl Running {
    fn add(&mut self, r: &AgingDetailRow) {
        self.accounts.insert(r.account_id);
        if let Some(balance) = r.balance {
            self.open_invoices += 1;
            let days = r.days_past_due.unwrap_or(0);
            let bucket = match days {
                ..=0 => 0,
                1..=30 => 1,
                31..=60 => 2,
                61..=90 => 3,
                91..=120 => 4,
                _ => 5,
            };
            self.buckets[bucket] += balance;
        }
        self.disputed += r.disputed.unwrap_or_default();
        self.unapplied += r.unapplied.unwrap_or_default();
    }

    fn row(&self, currency: Currency) -> AgingSummaryRow {
        let [current, days_1_30, days_31_60, days_61_90, days_91_120, days_over_120] = self.buckets;
        let total = self.buckets.iter().sum::<Decimal>();
        AgingSummaryRow {
            key: None,
            label: "Total".into(),
            currency,
            accounts: self.accounts.len() as i64,
            open_invoices: self.open_invoices,
            current,
            days_1_30,
            days_31_60,
            days_61_90,
            days_91_120,
            days_over_120,
            total,
            disputed: self.disputed,
            unapplied: self.unapplied,
            net: total - self.unapplied,
        }
        .normalized()
    }
}

fn total_cells(t: &AgingSummaryRow) -> Vec<Cell> {
    let mut cells = vec![Cell::Empty; COLUMNS.len()];
    cells[0] = "Total".into();
    cells[1] = format!("{} accounts", t.accounts).into();
    cells[3] = format!("{} open invoices", t.open_invoices).into();
    cells[8] = t.currency.code().into();
    cells[9] = t.total.into();
    cells[10] = t.disputed.into();
    cells[11] = t.unapplied.into();
    cells
}

enum Sink {
    Csv,
    Json { first: bool },
    Xlsx(Box<SheetWriter>),
}

/// Rows in, the file's bytes out, a piece at a time; the totals at the end.
pub struct DetailWriter {
    parameters: AgingParameters,
    sink: Sink,
    totals: BTreeMap<&'static str, (Currency, Running)>,
}

impl DetailWriter {
    pub fn new(
        parameters: AgingParameters,
        format: ReportFormat,
    ) -> Result<DetailWriter, rust_xlsxwriter::XlsxError> {
        let sink = match format {
            ReportFormat::Csv => Sink::Csv,
            ReportFormat::Json => Sink::Json { first: true },
            ReportFormat::Xlsx => {
                Sink::Xlsx(Box::new(SheetWriter::new("Aging detail", &COLUMNS, true)?))
            }
        };
        Ok(DetailWriter {
            parameters,
            sink,
            totals: BTreeMap::new(),
        })
    }

    /// What comes before the first row.
    pub fn start(&self) -> String {
        match &self.sink {
            Sink::Csv => export::csv_header(&COLUMNS),
            Sink::Json { .. } => format!(
                "{{\"parameters\":{},\"rows\":[",
                serde_json::to_string(&self.parameters).unwrap_or_default()
            ),
            Sink::Xlsx(_) => String::new(),
        }
    }

    /// Adds a row to `out` (to the workbook for Excel).
    pub fn row(
        &mut self,
        row: AgingDetailRow,
        out: &mut String,
    ) -> Result<(), rust_xlsxwriter::XlsxError> {
        let row = row.normalized();
        self.totals
            .entry(row.currency.code())
            .or_insert_with(|| (row.currency, Running::default()))
            .1
            .add(&row);
        match &mut self.sink {
            Sink::Csv => export::csv_row(out, &cells(&row)),
            Sink::Json { first } => {
                if !*first {
                    out.push(',');
                }
                *first = false;
                out.push_str(&serde_json::to_string(&row).unwrap_or_default());
            }
            Sink::Xlsx(sheet) => sheet.row(&cells(&row))?,
        }
        Ok(())
    }

    /// What comes after the last row: the totals and the parameters. Excel's whole file is
    /// written to `file`.
    pub fn finish(
        self,
        file: Option<&mut std::fs::File>,
    ) -> Result<String, rust_xlsxwriter::XlsxError> {
        let totals: Vec<AgingSummaryRow> = self.totals.values().map(|(c, t)| t.row(*c)).collect();
        let listed = self.parameters.listed();
        Ok(match self.sink {
            Sink::Csv => {
                let mut out = String::new();
                for t in &totals {
                    export::csv_row(&mut out, &total_cells(t));
                }
                out.push_str(&export::csv_parameters(COLUMNS.len(), &listed));
                out
            }
            Sink::Json { .. } => format!(
                "],\"totals\":{}}}",
                serde_json::to_string(&totals).unwrap_or_default()
            ),
            Sink::Xlsx(mut sheet) => {
                let (last, before) = match totals.split_last() {
                    Some((last, before)) => (Some(total_cells(last)), before),
                    None => (None, &[][..]),
                };
                for t in before {
                    sheet.row(&total_cells(t))?;
                }
                if let Some(file) = file {
                    sheet.finish(last.as_deref(), &listed, file)?;
                }
                String::new()
            }
        })
    }
}
