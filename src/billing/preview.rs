//! A billing run's preview: what a run as of a date would bill, computed by the same engine
//! from the same data, with nothing written and no period consumed.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::engine::{self, Settings};
use super::model::RunErrorView;
use super::store;
use crate::db::Conn;
use crate::error::ApiError;
use crate::invoices::model::InvoiceView;
use crate::money::Currency;

/// The most contracts one preview computes; a larger scope is narrowed by account or contract.
pub const MAX_CONTRACTS: usize = 1_000;

/// What the previewed invoices of one currency add up to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewTotal {
    pub currency: Currency,
    pub invoices: usize,
    #[schema(value_type = crate::money::DecimalString, example = "1753.85")]
    pub subtotal: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub tax_total: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "1753.85")]
    pub total: Decimal,
}

/// A true-up the run would credit on a credit memo.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewCredit {
    pub account_id: Uuid,
    pub description: String,
    #[schema(value_type = crate::money::DecimalString, example = "2880.22")]
    pub amount: Decimal,
}

/// What a billing run would bill. The invoices are shown as drafts would be (their ids are
/// not stored: nothing was written, and the periods stay due).
#[derive(Debug, Serialize, ToSchema)]
pub struct BillingPreview {
    pub as_of: Date,
    pub account_id: Option<Uuid>,
    pub contract_id: Option<Uuid>,
    /// Always true.
    pub preview: bool,
    /// Contracts in scope.
    pub contracts: usize,
    pub invoices: Vec<InvoiceView>,
    /// True-ups too large for the next invoice, credited instead against the invoices that
    /// billed the usage (each amount is credited, net of tax).
    pub credits: Vec<PreviewCredit>,
    /// Contracts that could not be billed, and why.
    pub errors: Vec<RunErrorView>,
    pub totals: Vec<PreviewTotal>,
}

/// Bills the scope as a run would (meter periods closed by the earlier of `as_of` and today),
/// writing nothing. A scope of more than [`MAX_CONTRACTS`] is refused (422 on `mode`).
pub async fn preview(
    conn: &mut Conn,
    settings: &Settings,
    as_of: Date,
    account_id: Option<Uuid>,
    contract_id: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<BillingPreview, ApiError> {
    let ids = store::contracts_in_scope(conn, as_of, account_id, contract_id).await?;
    if ids.len() > MAX_CONTRACTS {
        return Err(ApiError::field(
            "mode",
            "preview_too_large",
            format!(
                "a preview covers at most {MAX_CONTRACTS} contracts and this one has {}; narrow it with account_id or contract_id",
                ids.len()
            ),
        ));
    }
    let (inputs, accounts) = store::read_inputs(conn, &ids).await?;
    let usage_as_of = as_of.min(now.date());
    let run_id = Uuid::now_v7();
    let mut invoices = Vec::new();
    let mut errors = Vec::new();
    let mut credits = Vec::new();
    for input in &inputs {
        match engine::bill_contract(input, &accounts, as_of, usage_as_of, run_id, settings, now) {
            Ok(bill) => {
                for (account_id, lines) in &bill.credits {
                    credits.extend(lines.iter().map(|l| PreviewCredit {
                        account_id: *account_id,
                        description: l.description.clone(),
                        amount: -l.amount,
                    }));
                }
                let mut lines = bill.lines;
                for invoice in bill.invoices {
                    let (own, rest): (Vec<_>, Vec<_>) =
                        lines.into_iter().partition(|l| l.invoice_id == invoice.id);
                    lines = rest;
                    let mut view = InvoiceView::new(invoice, own, now.date());
                    view.billing_run_id = None;
                    invoices.push(view);
                }
            }
            Err(e) => errors.push(RunErrorView {
                contract_id: input.contract.id,
                code: e.code.to_string(),
                reason: e.reason,
            }),
        }
    }
    let mut totals: BTreeMap<&str, PreviewTotal> = BTreeMap::new();
    for i in &invoices {
        let t = totals
            .entry(i.currency.code())
            .or_insert_with(|| PreviewTotal {
                currency: i.currency,
                invoices: 0,
                subtotal: Decimal::ZERO,
                tax_total: Decimal::ZERO,
                total: Decimal::ZERO,
            });
        t.invoices += 1;
        t.subtotal += i.subtotal;
        t.tax_total += i.tax_total;
        t.total += i.total;
    }
    let totals = totals
        .into_values()
        .map(|mut t| {
            t.subtotal = t.currency.normalize(t.subtotal);
            t.tax_total = t.currency.normalize(t.tax_total);
            t.total = t.currency.normalize(t.total);
            t
        })
        .collect();
    Ok(BillingPreview {
        as_of,
        account_id,
        contract_id,
        preview: true,
        contracts: ids.len(),
        invoices,
        credits,
        errors,
        totals,
    })
}
