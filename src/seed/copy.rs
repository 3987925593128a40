//! Bulk writing with `COPY … FROM STDIN (FORMAT binary)`: each row type says which table and
//! columns it fills and writes its values in that order, in PostgreSQL's binary wire format
//! (cheaper for the server to read than text: no parsing of ids, amounts and dates). The
//! rows are the same structs the API reads and writes, so a seeded row is one the service
//! knows.

use futures_util::SinkExt;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// About how many bytes are encoded per message sent to the server.
const MESSAGE: usize = 1 << 20;

/// The signature, flags and header extension that open a binary COPY stream.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// PostgreSQL's epoch for dates and timestamps.
const PG_EPOCH: Date = time::macros::date!(2000 - 01 - 01);

/// A value as COPY's binary format writes it: its length, then its bytes (`-1`: null).
pub trait Field {
    fn put(&self, out: &mut Vec<u8>);
}

fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

impl Field for String {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(self.as_bytes(), out);
    }
}

impl Field for crate::money::Currency {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(self.code().as_bytes(), out);
    }
}

impl Field for &str {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(self.as_bytes(), out);
    }
}

impl Field for Uuid {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(self.as_bytes(), out);
    }
}

impl Field for bool {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(&[u8::from(*self)], out);
    }
}

impl Field for i16 {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(&self.to_be_bytes(), out);
    }
}

impl Field for i32 {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(&self.to_be_bytes(), out);
    }
}

impl Field for i64 {
    fn put(&self, out: &mut Vec<u8>) {
        put_bytes(&self.to_be_bytes(), out);
    }
}

impl Field for Date {
    /// Days since 2000-01-01.
    fn put(&self, out: &mut Vec<u8>) {
        ((*self - PG_EPOCH).whole_days() as i32).put(out);
    }
}

impl Field for OffsetDateTime {
    /// Microseconds since 2000-01-01 00:00 UTC.
    fn put(&self, out: &mut Vec<u8>) {
        let since = *self - PG_EPOCH.midnight().assume_utc();
        (since.whole_microseconds() as i64).put(out);
    }
}

impl Field for Decimal {
    /// `numeric`: base-10000 digits, most significant first, with the weight of the first
    /// digit, the sign and the display scale.
    fn put(&self, out: &mut Vec<u8>) {
        let scale = self.scale();
        let pad = (4 - scale % 4) % 4;
        let mut m = self.mantissa().unsigned_abs() * 10u128.pow(pad);
        let mut groups = Vec::with_capacity(8);
        while m > 0 {
            groups.push((m % 10_000) as i16);
            m /= 10_000;
        }
        let fraction_groups = ((scale + pad) / 4) as i32;
        let mut weight = groups.len() as i32 - fraction_groups - 1;
        groups.reverse();
        // Zero groups before the first digit and after the last carry nothing.
        let leading = groups.iter().take_while(|g| **g == 0).count();
        weight -= leading as i32;
        let trailing = groups[leading..]
            .iter()
            .rev()
            .take_while(|g| **g == 0)
            .count();
        let digits = &groups[leading..groups.len() - trailing];
        let weight = if digits.is_empty() { 0 } else { weight };
        let sign: u16 = if self.is_sign_negative() && !digits.is_empty() {
            0x4000
        } else {
            0
        };
        out.extend_from_slice(&(8 + 2 * digits.len() as i32).to_be_bytes());
        out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        out.extend_from_slice(&(weight as i16).to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&(scale as u16).to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
    }
}

impl Field for serde_json::Value {
    /// `jsonb`: format version 1, then the text.
    fn put(&self, out: &mut Vec<u8>) {
        let text = self.to_string();
        out.extend_from_slice(&(text.len() as i32 + 1).to_be_bytes());
        out.push(1);
        out.extend_from_slice(text.as_bytes());
    }
}

impl<T: Field> Field for Option<T> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.put(out),
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
}

/// The closed sets of text values (`text_enum!`).
macro_rules! str_fields {
    ($($t:ty),+ $(,)?) => { $(impl Field for $t { fn put(&self, out: &mut Vec<u8>) { put_bytes(self.as_str().as_bytes(), out); } })+ };
}
str_fields!(
    crate::accounts::model::AccountStatus,
    crate::accounts::model::CreditStatus,
    crate::accounts::model::RiskLevel,
    crate::accounts::model::CollectionsStatus,
    crate::accounts::model::AutopayMethod,
    crate::accounts::contacts::ContactRole,
    crate::partners::model::PartnerStatus,
    crate::financial_codes::model::FinancialCodeKind,
    crate::contracts::model::ContractKind,
    crate::contracts::model::ContractStatus,
    crate::contracts::model::BillingFrequency,
    crate::contracts::model::BillingTiming,
    crate::equipment::model::PickupStatus,
    crate::readings::model::ReadingSource,
    crate::readings::model::ResetKind,
    crate::billing::model::RunMode,
    crate::billing::model::BillingRunStatus,
    crate::invoices::model::InvoiceStatus,
    crate::ledger::model::LedgerKind,
    crate::ledger::model::DocumentType,
    crate::payments::model::PaymentMethod,
    crate::payments::model::ApplicationMode,
    crate::payments::model::PaymentStatus,
    crate::payments::model::ApplicationSource,
    crate::payments::model::RefundMethod,
    crate::payments::model::ReturnReason,
    crate::payments::model::DeductionReason,
    crate::payments::model::DeductionStatus,
    crate::disputes::model::DisputeReason,
    crate::disputes::model::DisputeStatus,
    crate::disputes::model::RootCause,
    crate::credit_memos::model::CreditMemoStatus,
    crate::credit_memos::model::CreditReason,
    crate::adjustments::model::AdjustmentKind,
);

/// The JSON columns, as `jsonb`.
macro_rules! json_fields {
    ($($t:ty),+ $(,)?) => { $(impl Field for $t { fn put(&self, out: &mut Vec<u8>) {
        let text = serde_json::to_string(self).expect("a JSON column serializes");
        out.extend_from_slice(&(text.len() as i32 + 1).to_be_bytes());
        out.push(1);
        out.extend_from_slice(text.as_bytes());
    } })+ };
}
json_fields!(
    crate::accounts::model::Address,
    crate::accounts::model::Presentment,
    crate::invoices::model::References,
);

/// A row type that COPY can write: its table, its columns, and its values in their order.
pub trait CopyRow {
    const TABLE: &'static str;
    const COLUMNS: &'static [&'static str];
    fn put_row(&self, out: &mut Vec<u8>);
}

/// Declares the table and columns of a row type; each field fills the column of its name.
macro_rules! copy_row {
    ($ty:ty => $table:literal { $($field:ident),+ $(,)? }) => {
        impl CopyRow for $ty {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            fn put_row(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&(Self::COLUMNS.len() as i16).to_be_bytes());
                $( Field::put(&self.$field, out); )+
            }
        }
    };
}

use crate::accounts::contacts::ContactRow;
use crate::accounts::model::AccountRow;
use crate::adjustments::model::AdjustmentRow;
use crate::billing::engine::MeterPeriodRow;
use crate::billing::model::RunRow;
use crate::contracts::model::{ChargeRow, ContractRow};
use crate::credit_memos::model::{CreditApplicationRow, CreditLineRow, CreditMemoRow, TargetRow};
use crate::disputes::model::DisputeRow;
use crate::equipment::model::{EquipmentRow, MeterRow, PlanRow};
use crate::financial_codes::model::FinancialCodeRow;
use crate::invoices::model::{InvoiceRow, LineRow};
use crate::ledger::model::EntryRow;
use crate::partners::model::PartnerRow;
use crate::payments::model::{ApplicationRow, DeductionRow, PaymentRow, RefundRow};
use crate::readings::model::ReadingRow;

/// A contract period whose recurring charges an invoice billed (`billed_periods`).
#[derive(Debug, Clone)]
pub struct BilledPeriodRow {
    pub contract_id: Uuid,
    pub period_start: Date,
    pub period_end: Date,
    pub invoice_id: Uuid,
}

/// A contract a billing run could not bill, and why (`billing_run_errors`).
#[derive(Debug, Clone)]
pub struct BillingErrorRow {
    pub run_id: Uuid,
    pub contract_id: Uuid,
    pub code: &'static str,
    pub reason: String,
}

copy_row!(BillingErrorRow => "billing_run_errors" { run_id, contract_id, code, reason });
copy_row!(PartnerRow => "partners" { id, code, name, status, contact_email, contact_phone, version, created_at, updated_at });
copy_row!(FinancialCodeRow => "financial_codes" { id, code, name, kind, description, active, version, created_at, updated_at });
copy_row!(AccountRow => "accounts" { id, number, legal_name, currency, payment_terms_days, tax_exempt,
    tax_exemption_number, tax_rate, credit_limit, credit_status, risk_level, status, collections_status,
    partner_id, autopay_enabled, autopay_method, billing_address, presentment, external_crm_id, version,
    created_at, updated_at, closed_at });
copy_row!(ContactRow => "contacts" { id, account_id, name, email, phone, role, version, created_at, updated_at });
copy_row!(ContractRow => "contracts" { id, number, account_id, kind, status, currency, start_date, end_date,
    billing_frequency, anchor_day, billing_timing, payment_terms_days, description, external_reference,
    terminated_on, version, created_at, updated_at, activated_at });
copy_row!(ChargeRow => "contract_charges" { id, contract_id, description, amount, financial_code_id, taxable,
    effective_from, effective_to, amendment_id, created_at });
copy_row!(EquipmentRow => "equipment" { id, contract_id, serial_number, make, model, install_address,
    installed_on, removed_on, pickup_status, version, created_at, updated_at });
copy_row!(MeterRow => "meters" { id, equipment_id, contract_id, meter_type, financial_code_id,
    expected_monthly_volume, created_at });
copy_row!(PlanRow => "meter_plans" { id, meter_id, effective_from, included_units, overage_rate,
    minimum_charge, amendment_id, created_at });
copy_row!(ReadingRow => "meter_readings" { id, meter_id, read_on, value, source, reset, starting_value,
    final_value, estimate_method, estimate_basis, billing_run_id, note, created_by, created_at });
copy_row!(RunRow => "billing_runs" { id, as_of, account_id, contract_id, mode, status, contracts_total,
    contracts_done, invoices_created, errors_count, failure, requested_by, request_id, claimed_by,
    heartbeat_at, created_at, started_at, finished_at });
copy_row!(InvoiceRow => "invoices" { id, number, account_id, contract_id, billing_run_id, status, currency,
    invoice_date, due_date, payment_terms_days, period_start, period_end, subtotal, taxable_amount,
    tax_rate, tax_total, total, review_required, review_reason, issued_at, version, created_at,
    updated_at, po_number, reference_fields, memo, amount_paid, amount_credited, amount_written_off,
    balance_due, disputed_amount, voided_at, void_reason });
copy_row!(LineRow => "invoice_lines" { id, invoice_id, line_no, kind, description, quantity, unit_price,
    amount, financial_code_id, taxable, contract_id, charge_id, meter_id, period_start, period_end,
    billed_days, period_days, meter_type, start_reading, start_read_on, start_estimated, end_reading,
    end_read_on, end_estimated, estimate_method, usage, included_units, overage_units, overage_rate,
    explanation });
copy_row!(BilledPeriodRow => "billed_periods" { contract_id, period_start, period_end, invoice_id });
copy_row!(MeterPeriodRow => "meter_periods" { meter_id, period_start, period_end, contract_id, invoice_id,
    start_value, end_value, end_read_on, end_estimated, end_reading_id, usage, included_units,
    overage_rate, minimum_charge, charged, rerated_start_value, rerated_end_value, rerated_usage,
    rerated_charged, rerated_invoice_id });
copy_row!(EntryRow => "ledger_entries" { id, account_id, invoice_id, kind, amount, currency, entry_date,
    document_type, document_id, description, created_by, request_id, created_at });
copy_row!(PaymentRow => "payments" { id, number, account_id, amount, currency, method, reference,
    received_date, application_mode, memo, amount_applied, amount_refunded, status, returned_on,
    return_reason, return_code, return_note, return_fee_invoice_id, version, created_by, created_at,
    updated_at });
copy_row!(ApplicationRow => "payment_applications" { id, payment_id, invoice_id, amount, source, applied_on,
    created_by, created_at, reversed_at, reversed_by, reversal_reason });
copy_row!(RefundRow => "payment_refunds" { id, payment_id, amount, method, reference, refunded_on, reason,
    created_by, created_at });
copy_row!(DeductionRow => "deductions" { id, account_id, payment_id, invoice_id, amount, currency, reason,
    status, note, resolved_at, resolved_by, adjustment_id, settled_by_payment_id, version, created_at,
    updated_at, dispute_id });
copy_row!(DisputeRow => "disputes" { id, number, account_id, invoice_id, invoice_line_id, deduction_id,
    amount, currency, reason, description, contact_name, contact_email, contact_phone, status, assignee,
    opened_on, sla_due_date, root_cause, resolution_note, approved_amount, credit_memo_id, resolved_at,
    resolved_by, opened_by, version, created_at, updated_at });
copy_row!(CreditMemoRow => "credit_memos" { id, number, account_id, status, reason, financial_code_id,
    currency, total, amount_applied, amount_refunded, dispute_id, memo, credit_date, submitted_by,
    submitted_at, approved_by, approved_at, approval_note, rejected_by, rejection_note, issued_at,
    voided_at, void_reason, created_by, version, created_at, updated_at });
copy_row!(CreditLineRow => "credit_memo_lines" { id, credit_memo_id, line_no, description, amount });
copy_row!(TargetRow => "credit_memo_targets" { credit_memo_id, invoice_id, amount });
copy_row!(CreditApplicationRow => "credit_applications" { id, credit_memo_id, invoice_id, amount,
    applied_on, created_by, created_at });
copy_row!(AdjustmentRow => "adjustments" { id, account_id, invoice_id, kind, amount, currency,
    financial_code_id, reason, deduction_id, created_by, created_at, payment_id });

/// Rows of one table to copy, whatever their type, kept in parts (one per account, say)
/// so that nothing is copied in memory before it is sent.
pub trait CopySource: Send {
    fn table(&self) -> &'static str;
    fn statement(&self) -> String;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends rows from `at` (part, row) until `out` holds about `bytes`; answers how many
    /// rows it appended, and whether any are left.
    fn encode(&self, at: &mut (usize, usize), bytes: usize, out: &mut Vec<u8>) -> (u64, bool);
}

impl<R: CopyRow + Send> CopySource for Vec<Vec<R>> {
    fn table(&self) -> &'static str {
        R::TABLE
    }
    fn statement(&self) -> String {
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            R::TABLE,
            R::COLUMNS.join(", ")
        )
    }
    fn len(&self) -> usize {
        self.iter().map(Vec::len).sum()
    }
    fn encode(&self, at: &mut (usize, usize), bytes: usize, out: &mut Vec<u8>) -> (u64, bool) {
        let mut rows = 0;
        while let Some(part) = self.get(at.0) {
            while let Some(row) = part.get(at.1) {
                row.put_row(out);
                at.1 += 1;
                rows += 1;
                if out.len() >= bytes {
                    return (rows, true);
                }
            }
            *at = (at.0 + 1, 0);
        }
        (rows, false)
    }
}

/// An error of the database with what it says, not only that it is one.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {detail}", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}

/// Copies every row of `source`; `sent` is told of the rows as they go.
pub async fn copy(
    client: &tokio_postgres::Client,
    source: &dyn CopySource,
    sent: &dyn Fn(u64),
) -> Result<u64, String> {
    let fail = |e: tokio_postgres::Error| format!("COPY {}: {}", source.table(), describe(&e));
    let sink = client
        .copy_in::<_, std::io::Cursor<Vec<u8>>>(&source.statement())
        .await
        .map_err(fail)?;
    let mut sink = std::pin::pin!(sink);
    let mut out = HEADER.to_vec();
    let mut at = (0, 0);
    let mut more = true;
    while more {
        let rows;
        (rows, more) = source.encode(&mut at, MESSAGE, &mut out);
        if !more {
            out.extend_from_slice(&(-1i16).to_be_bytes());
        }
        let message = std::mem::replace(&mut out, Vec::with_capacity(MESSAGE + 4096));
        sink.send(std::io::Cursor::new(message))
            .await
            .map_err(fail)?;
        sent(rows);
    }
    sink.as_mut().finish().await.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(f: &dyn Field) -> Vec<u8> {
        let mut out = Vec::new();
        f.put(&mut out);
        out
    }

    fn numeric(d: &str) -> Vec<i16> {
        let out = bytes(&d.parse::<Decimal>().unwrap());
        out[4..]
            .chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn numerics_are_base_10000_digits_with_weight_sign_and_scale() {
        // ndigits, weight, sign, dscale, digits...
        assert_eq!(numeric("123.45"), [2, 0, 0, 2, 123, 4500]);
        assert_eq!(numeric("-0.0085"), [1, -1, 0x4000, 4, 85]);
        assert_eq!(numeric("1250000.00"), [1, 1, 0, 2, 125]);
        assert_eq!(numeric("10000"), [1, 1, 0, 0, 1]);
        assert_eq!(numeric("0.00"), [0, 0, 0, 2]);
        assert_eq!(numeric("8.875"), [2, 0, 0, 3, 8, 8750]);
        assert_eq!(numeric("0.000123"), [2, -1, 0, 6, 1, 2300]);
    }

    #[test]
    fn values_are_length_prefixed_in_network_order() {
        assert_eq!(bytes(&"ab".to_string()), [0, 0, 0, 2, b'a', b'b']);
        assert_eq!(bytes(&None::<String>), [0xff, 0xff, 0xff, 0xff]);
        assert_eq!(bytes(&true), [0, 0, 0, 1, 1]);
        assert_eq!(bytes(&7i32), [0, 0, 0, 4, 0, 0, 0, 7]);
        assert_eq!(
            bytes(&time::macros::date!(2000 - 01 - 02)),
            [0, 0, 0, 4, 0, 0, 0, 1]
        );
        assert_eq!(
            bytes(&time::macros::datetime!(2000-01-01 00:00:01 +01:00)),
            [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0x29, 0x7b, 0x9e, 0x40]
        );
        assert_eq!(
            bytes(&crate::invoices::model::InvoiceStatus::Open),
            [0, 0, 0, 4, b'o', b'p', b'e', b'n']
        );
    }

    #[test]
    fn a_row_fills_its_columns_in_order() {
        let row = BilledPeriodRow {
            contract_id: Uuid::nil(),
            period_start: time::macros::date!(2000 - 01 - 01),
            period_end: time::macros::date!(2000 - 01 - 31),
            invoice_id: Uuid::max(),
        };
        let mut out = Vec::new();
        row.put_row(&mut out);
        assert_eq!(out.len(), 2 + 20 + 8 + 8 + 20);
        assert_eq!(&out[..2], &[0, 4]);
        assert_eq!(
            vec![vec![row]].statement(),
            "COPY billed_periods (contract_id, period_start, period_end, invoice_id) FROM STDIN (FORMAT binary)"
        );
    }
}
