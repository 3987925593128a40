//! Contract versus invoice versus payment: the periods a contract's schedule should have
//! billed, against the invoices that billed them and what is still owed on those invoices.
//! Missing, duplicate and unpaid periods are flagged.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{get, web, HttpResponse};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::model::{AmendmentRow, BilledBy, BilledLine, BillingTiming, ChargeRow, ContractRow};
use crate::auth::Permission;
use crate::billing::engine::{charges_of, owners, periods_of, suspensions};
use crate::billing::rules::{self, Period};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::invoices::model::InvoiceStatus;
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    /// Periods due by this date (default today).
    pub as_of: Option<Date>,
}

/// One period of the schedule.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PeriodCheck {
    pub period_start: Date,
    pub period_end: Date,
    /// What the schedule says the period's recurring charges are.
    #[schema(value_type = crate::money::DecimalString)]
    pub expected: Decimal,
    /// What non-void invoices billed for it, less what issued credit memos credited of those
    /// lines (a termination's credit of days after it, say).
    #[schema(value_type = crate::money::DecimalString)]
    pub billed: Decimal,
    /// The part of the billed lines credited back.
    #[schema(value_type = crate::money::DecimalString)]
    pub credited: Decimal,
    pub invoices: Vec<BilledBy>,
    /// Due but not billed.
    pub missing: bool,
    /// Billed on more than one invoice, or for more than expected.
    pub duplicate: bool,
    /// Billed on an invoice that still has a balance.
    pub unpaid: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationSummary {
    pub periods: usize,
    pub missing: usize,
    pub duplicate: usize,
    pub unpaid: usize,
    #[schema(value_type = crate::money::DecimalString)]
    pub expected: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub billed: Decimal,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    pub contract_id: Uuid,
    pub as_of: Date,
    pub currency: Currency,
    pub summary: ReconciliationSummary,
    pub periods: Vec<PeriodCheck>,
}

/// Checks each due period's expected charges against the lines that billed it.
pub fn reconcile(expected: &[(Period, Decimal)], lines: &[BilledLine]) -> Vec<PeriodCheck> {
    expected
        .iter()
        .map(|(p, amount)| {
            let mut by: BTreeMap<Uuid, BilledBy> = BTreeMap::new();
            let mut credited = Decimal::ZERO;
            for l in lines
                .iter()
                .filter(|l| l.period_start >= p.start && l.period_start <= p.end)
            {
                by.entry(l.invoice.invoice_id)
                    .or_insert_with(|| BilledBy {
                        amount: Decimal::ZERO,
                        ..l.invoice.clone()
                    })
                    .amount += l.amount;
                credited += l.credited;
            }
            let invoices: Vec<BilledBy> = by.into_values().collect();
            let billed: Decimal = invoices.iter().map(|i| i.amount).sum::<Decimal>() - credited;
            PeriodCheck {
                period_start: p.start,
                period_end: p.end,
                expected: *amount,
                credited,
                billed,
                missing: invoices.is_empty() && !amount.is_zero(),
                duplicate: invoices.len() > 1 || billed > *amount,
                unpaid: invoices
                    .iter()
                    .any(|i| i.status == InvoiceStatus::Open && i.balance_due > Decimal::ZERO),
                invoices,
            }
        })
        .collect()
}

/// The schedule's due periods and their expected recurring charges.
fn schedule(
    c: &ContractRow,
    charges: &[super::model::ChargeRow],
    amendments: &[super::model::AmendmentRow],
    as_of: Date,
) -> Vec<(Period, Decimal)> {
    let currency = c.currency();
    let owners = owners(c, amendments);
    let suspended = suspensions(amendments);
    let charges = charges_of(charges);
    periods_of(c, as_of)
        .into_iter()
        .filter(|p| match c.billing_timing {
            BillingTiming::Advance => p.start <= as_of,
            BillingTiming::Arrears => p.end < as_of,
        })
        .map(|p| {
            let amount = rules::charge_lines(&p, &charges, &owners, &suspended, currency)
                .iter()
                .map(|l| l.amount)
                .sum::<Decimal>();
            (p, currency.normalize(amount))
        })
        .collect()
}

/// Handles the GET /v1/contracts/{id}/reconciliation route: contract versus invoice versus
/// payment, period by period.
#[utoipa::path(
    tag = "contracts",
    params(("id" = Uuid, Path, description = "Contract id"), ReconciliationQuery),
    responses(
        (status = 200, description = "Every due period with what billed it and what is owed", body = Reconciliation),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/contracts/{id}/reconciliation")]
pub async fn contract_reconciliation(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    query: ApiQuery<ReconciliationQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)?;
    let as_of = query.0.as_of.unwrap_or(ctx.now.date());
    let mut conn = crate::db::conn(&state.pool).await?;
    let contract = super::store::find(&mut conn, id.into_inner()).await?;
    let charges = super::store::charges(&mut conn, contract.id).await?;
    let amendments = super::store::amendments(&mut conn, contract.id).await?;
    let lines = super::store::billed_lines(&mut conn, &contract).await?;
    Ok(HttpResponse::Ok().json(report(&contract, &charges, &amendments, &lines, as_of)))
}

/// The reconciliation of `contract` as of `as_of`: its schedule (from its `charges` and
/// `amendments`) against the recurring `lines` that billed it.
pub fn report(
    contract: &ContractRow,
    charges: &[ChargeRow],
    amendments: &[AmendmentRow],
    lines: &[BilledLine],
    as_of: Date,
) -> Reconciliation {
    let currency = contract.currency;
    let expected = schedule(contract, charges, amendments, as_of);
    let mut periods = reconcile(&expected, lines);
    for p in &mut periods {
        p.billed = currency.normalize(p.billed);
        p.credited = currency.normalize(p.credited);
        for inv in &mut p.invoices {
            inv.amount = currency.normalize(inv.amount);
        }
    }
    let distinct: BTreeSet<Date> = periods.iter().map(|p| p.period_start).collect();
    let summary = ReconciliationSummary {
        periods: distinct.len(),
        missing: periods.iter().filter(|p| p.missing).count(),
        duplicate: periods.iter().filter(|p| p.duplicate).count(),
        unpaid: periods.iter().filter(|p| p.unpaid).count(),
        expected: currency.normalize(periods.iter().map(|p| p.expected).sum()),
        billed: currency.normalize(periods.iter().map(|p| p.billed).sum()),
    };
    Reconciliation {
        contract_id: contract.id,
        as_of,
        currency,
        summary,
        periods,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use time::macros::date;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn period(start: Date, end: Date) -> Period {
        Period {
            start,
            end,
            full_start: start,
            full_end: end,
        }
    }

    fn line(
        start: Date,
        amount: &str,
        invoice: u128,
        status: InvoiceStatus,
        balance: &str,
    ) -> BilledLine {
        BilledLine {
            period_start: start,
            amount: d(amount),
            credited: Decimal::ZERO,
            invoice: BilledBy {
                invoice_id: Uuid::from_u128(invoice),
                number: None,
                status,
                amount: Decimal::ZERO,
                balance_due: d(balance),
            },
        }
    }

    #[test]
    fn missing_duplicate_and_unpaid_periods_are_flagged() {
        let oct = period(date!(2026 - 10 - 01), date!(2026 - 10 - 31));
        let nov = period(date!(2026 - 11 - 01), date!(2026 - 11 - 30));
        let dec = period(date!(2026 - 12 - 01), date!(2026 - 12 - 31));
        let expected = vec![(oct, d("250")), (nov, d("250")), (dec, d("250"))];
        let lines = vec![
            line(oct.start, "250", 1, InvoiceStatus::Paid, "0"),
            line(nov.start, "250", 2, InvoiceStatus::Open, "250"),
            line(nov.start, "250", 3, InvoiceStatus::Open, "250"),
        ];
        let got = reconcile(&expected, &lines);
        assert!(!got[0].missing && !got[0].duplicate && !got[0].unpaid);
        assert!(got[1].duplicate && got[1].unpaid);
        assert_eq!(got[1].billed, d("500"));
        assert!(got[2].missing);
    }

    #[test]
    fn a_credited_line_counts_net_of_its_credit() {
        use time::macros::date;
        let period = Period {
            start: date!(2026 - 11 - 01),
            end: date!(2026 - 11 - 15),
            full_start: date!(2026 - 11 - 01),
            full_end: date!(2026 - 11 - 30),
        };
        let mut line = line(date!(2026 - 11 - 01), "300.00", 1, InvoiceStatus::Open, "0");
        line.credited = d("150.00");
        let got = reconcile(&[(period, d("150.00"))], &[line]);
        assert_eq!(got[0].billed, d("150.00"));
        assert_eq!(got[0].credited, d("150.00"));
        assert!(!got[0].duplicate && !got[0].missing);
    }
}
