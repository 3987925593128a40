//! Returns in a bank file: the payment each names, returned through the payment return rules.

use rust_decimal::Decimal;

use super::{truncate, Run};
use crate::bank_files::model::{BankOutcome, BankTransactionRow, MatchRule};
use crate::bank_files::Entry;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::payments::model::{PaymentStatus, ReturnReason};
use crate::payments::requests::ReturnPayment;

impl Run<'_> {
    /// A return: the payment it names is returned through the payment return rules (its
    /// applications reversed, deductions cancelled, the fee billed when one is configured).
    pub(super) async fn give_back(
        &mut self,
        conn: &mut Conn,
        ctx: &Ctx,
        entry: &Entry,
        row: &mut BankTransactionRow,
    ) -> Result<(), ApiError> {
        row.rule = Some(MatchRule::Return);
        row.outcome = BankOutcome::ReturnUnmatched;
        let Some(reference) = entry.returned_reference.as_deref() else {
            row.explanation = "the return names no payment".into();
            return Ok(());
        };
        let payment = match self.payments.get(reference).map(Vec::as_slice) {
            Some([one]) => crate::payments::store::find(conn, *one).await?,
            Some(several) if several.len() > 1 => {
                row.explanation =
                    format!("{} payments carry the reference {reference}", several.len());
                return Ok(());
            }
            _ => {
                row.explanation = format!("no payment carries the reference {reference}");
                return Ok(());
            }
        };
        row.account_id = Some(payment.account_id);
        row.payment_id = Some(payment.id);
        if payment.status == PaymentStatus::Returned {
            row.explanation = format!("payment {} was already returned", payment.number);
            return Ok(());
        }
        if payment.amount != entry.amount {
            row.explanation = format!(
                "payment {} is of {}, the return of {}",
                payment.number, payment.amount, entry.amount
            );
            return Ok(());
        }
        let earliest = crate::payments::store::last_movement(conn, payment.id)
            .await?
            .unwrap_or(payment.received_date);
        let returned_on = entry
            .value_date
            .filter(|d| *d >= earliest && *d <= ctx.today());
        let code = entry.return_code.clone();
        let how = ReturnPayment {
            reason: return_reason(code.as_deref()),
            return_code: code.map(|c| truncate(&c, 20)),
            returned_on,
            note: Some(truncate(
                &format!("bank file, {}: {}", entry.location, entry.text),
                1000,
            )),
            charge_fee: self.setup.fee.is_some(),
        };
        let written = crate::payments::service::return_payment(
            conn,
            ctx,
            payment.id,
            &how,
            self.setup.fee,
            self.setup.numbering,
        )
        .await?;
        written.audit(conn, ctx).await?;
        row.outcome = BankOutcome::Returned;
        row.confidence = Some(Decimal::ONE);
        row.explanation = format!(
            "payment {} returned ({})",
            payment.number,
            how.return_code.as_deref().unwrap_or(how.reason.as_str())
        );
        Ok(())
    }
}

/// The return reason of a bank's code: insufficient funds (ACH R01, R09; ISO AM04; a
/// returned deposited item, BAI2 555) is `nsf`, any other is `ach_return`.
pub fn return_reason(code: Option<&str>) -> ReturnReason {
    match code {
        Some("R01" | "R09" | "AM04" | "555") => ReturnReason::Nsf,
        _ => ReturnReason::AchReturn,
    }
}
