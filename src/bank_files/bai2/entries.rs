//! A BAI2 file's transactions as cash application reads them.
//!
//! Which 16 records are customer cash, by type code (BAI2 detail codes):
//! - lockbox: 115 lockbox deposit, 116 item in lockbox deposit, 118 lockbox adjustment credit;
//! - ACH: 142 ACH credit received, 143 item in ACH deposit, 145 ACH concentration credit,
//!   165 preauthorized ACH credit, 166 ACH settlement, 169 miscellaneous ACH credit;
//! - check: 175 check deposit package, 187 cash letter credit, 301 commercial deposit;
//! - wire: 195 incoming money transfer, 196 money transfer adjustment, 206 book transfer
//!   credit, 208 incoming international money transfer.
//!
//! Returns: 555 (deposited item returned), and an ACH debit (451, 455) whose text carries an
//! ACH return code (`R01`..`R99`). The payment returned is named by the customer reference
//! (the original check number or trace); the return code is the first `Rnn` of the text.
//! Every other record (balances, fees, other debits, information) is kept, not acted on.
//!
//! Remittance travels in the text as X12 820 RMR segments (`RMR*IV*INV-2026-000123*PI*950.00`),
//! which banks pass on from the payer's ACH CTX addenda: each names an invoice and the amount
//! paid.

use rust_decimal::Decimal;
use serde_json::json;

use super::{Bai2File, Direction, Transaction};
use crate::bank_files::{from_minor, Entry, EntryKind, FileError, Remitted};
use crate::money::Currency;
use crate::payments::model::PaymentMethod;

/// Reads a BAI2 file into its transactions, or refuses it naming the line.
pub fn read(text: &str) -> Result<Vec<Entry>, FileError> {
    let file = super::parse(text).map_err(|e| FileError::at_line(e.line, e.reason))?;
    entries(&file)
}

fn method(type_code: u16) -> Option<PaymentMethod> {
    match type_code {
        115 | 116 | 118 => Some(PaymentMethod::Lockbox),
        142 | 143 | 145 | 165 | 166 | 169 => Some(PaymentMethod::Ach),
        175 | 187 | 301 => Some(PaymentMethod::Check),
        195 | 196 | 206 | 208 => Some(PaymentMethod::Wire),
        _ => None,
    }
}

/// The first ACH return code (`R` and two digits) of a text.
fn return_code(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() == 3 && w.starts_with('R') && w[1..].bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
}

/// The X12 RMR segments of a text: `RMR*IV*{invoice}*PI*{amount}` (the amount optional).
fn remittance(text: &str, line: usize) -> Result<Vec<Remitted>, FileError> {
    let mut out = Vec::new();
    for segment in text.split(['\\', '~']) {
        let Some(at) = segment.find("RMR*") else {
            continue;
        };
        let parts: Vec<&str> = segment[at..].split('*').map(str::trim).collect();
        if parts.get(1).copied() != Some("IV") {
            continue;
        }
        let number = parts.get(2).copied().unwrap_or_default();
        if number.is_empty() {
            return Err(FileError::at_line(line, "an RMR segment names no invoice"));
        }
        let amount = match parts.get(4).copied().filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => match crate::money::parse_plain(a) {
                Ok(v) if v > Decimal::ZERO && v.scale() <= 2 => Some(v),
                _ => {
                    return Err(FileError::at_line(
                        line,
                        format!("the RMR amount {a:?} for {number} is not an amount above zero"),
                    ))
                }
            },
        };
        out.push(Remitted {
            invoice_number: number.to_string(),
            amount,
        });
    }
    Ok(out)
}

/// The keys banks write into ACH and wire text (`ORIG CO NAME:ACME ENTRY DESCR:PAYMENT`).
const TEXT_KEYS: &[&str] = &[
    "ORIG CO NAME:",
    "ORIG ID:",
    "DESC DATE:",
    "ENTRY DESCR:",
    "SEC:",
    "TRACE#:",
    "EED:",
    "IND ID:",
    "IND NAME:",
    "TRN:",
    "REF:",
    "OBI:",
    "B/O:",
    "BY ORDER OF:",
    "B/O BK:",
    "ORG:",
];

/// The payer's name when the text gives it: after `ORIG CO NAME:`, `B/O:` or `BY ORDER OF:`,
/// up to the next key.
fn payer_name(text: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    for key in ["ORIG CO NAME:", "BY ORDER OF:", "B/O:"] {
        if let Some(at) = upper.find(key) {
            let from = at + key.len();
            let end = TEXT_KEYS
                .iter()
                .filter_map(|k| upper[from..].find(k))
                .min()
                .map_or(text.len(), |k| from + k);
            let name = text[from..end].trim();
            if !name.is_empty() {
                return Some(name.to_string());
            }
        }
    }
    None
}

fn entry(
    t: &Transaction,
    account: &str,
    currency: Currency,
    as_of: time::Date,
) -> Result<Option<Entry>, FileError> {
    if t.amount_minor == 0 {
        return Ok(None);
    }
    let amount = from_minor(t.amount_minor, currency.minor_units());
    let code = (t.direction == Direction::Debit)
        .then(|| return_code(&t.text))
        .flatten();
    let kind = match (t.direction, method(t.type_code)) {
        (Direction::Credit, Some(_)) => EntryKind::Credit,
        (Direction::Debit, _) if t.type_code == 555 => EntryKind::Return,
        (Direction::Debit, _) if matches!(t.type_code, 451 | 455) && code.is_some() => {
            EntryKind::Return
        }
        _ => EntryKind::Other,
    };
    let reference = Some(t.bank_reference.clone()).filter(|r| !r.is_empty());
    let customer = Some(t.customer_reference.clone()).filter(|r| !r.is_empty());
    // The bank's reference is unique per transaction; without one, what the record says.
    let identity = match &reference {
        Some(r) => format!("bai2:{account}:{r}"),
        None => format!(
            "bai2:{account}:{as_of}:{}:{}:{}:{}",
            t.type_code,
            t.amount_minor,
            t.customer_reference,
            crate::contracts::documents::sha256_hex(t.text.as_bytes())
        ),
    };
    let method = method(t.type_code).unwrap_or(match t.type_code {
        451 | 455 => PaymentMethod::Ach,
        _ => PaymentMethod::Check,
    });
    Ok(Some(Entry {
        location: format!("line {}", t.line),
        identity,
        kind,
        amount,
        currency: Some(currency.code().to_string()),
        value_date: Some(t.value_date.unwrap_or(as_of)),
        method,
        bank_reference: reference,
        payer_name: payer_name(&t.text),
        payer_account: None,
        remittance: if kind == EntryKind::Credit {
            remittance(&t.text, t.line)?
        } else {
            Vec::new()
        },
        returned_reference: (kind == EntryKind::Return)
            .then(|| customer.clone())
            .flatten(),
        return_code: (kind == EntryKind::Return)
            .then(|| code.or_else(|| (t.type_code == 555).then(|| "555".to_string())))
            .flatten(),
        // The payer's reference (an invoice number, often) is read with the text.
        text: match kind {
            EntryKind::Credit if !t.customer_reference.is_empty() => {
                format!("{} {}", t.customer_reference, t.text)
                    .trim()
                    .to_string()
            }
            _ => t.text.clone(),
        },
        raw: crate::bank_files::RawFields::of(&json!({
            "account": account,
            "type_code": t.type_code,
            "amount": t.amount_minor,
            "funds_type": t.funds_type,
            "value_date": t.value_date.map(|d| d.to_string()),
            "bank_reference": t.bank_reference,
            "customer_reference": t.customer_reference,
            "text": t.text,
        })),
    }))
}

fn entries(file: &Bai2File) -> Result<Vec<Entry>, FileError> {
    let mut out = Vec::new();
    for group in &file.groups {
        for account in &group.accounts {
            let code = account.currency.as_deref().unwrap_or("USD");
            let currency = Currency::parse(code).ok_or_else(|| {
                FileError::at_line(
                    account.line,
                    format!("currency {code:?} is not an ISO code"),
                )
            })?;
            for t in &account.transactions {
                if let Some(e) = entry(t, &account.number, currency, group.as_of)? {
                    out.push(e);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const FILE: &str = "01,BANKOFAMER,RECEIVABLES,261124,0600,1124A,80,1,2/
02,RECEIVABLES,026009593,1,261123,2400,USD,2/
03,1234567890,USD,010,+2500000,,,015,+2612550,,/
16,115,150000,0,LBX0001,INV-2026-000123,LOCKBOX DEPOSIT ACME, INC./
16,165,95000,0,ACH0001,,ORIG CO NAME:GLOBEX CORP ENTRY DESCR:PAYMENT/
88,RMR*IV*INV-2026-000200*PI*950.00\\RMR*IV*INV-2026-000201*PI*/
16,555,100000,0,RTN0001,10442,RETURNED ITEM NSF/
16,451,20000,0,ACHR0001,ACH0009,ACH RETURN R01 INSUFFICIENT FUNDS/
16,354,1200,0,INT0001,,INTEREST/
49,+5478750,8/
98,+5478750,1,10/
99,+5478750,1,12/
";

    #[test]
    fn credits_returns_and_the_rest() {
        let read = read(FILE).unwrap();
        assert_eq!(read.len(), 5);
        let lockbox = &read[0];
        assert_eq!(
            (lockbox.kind, lockbox.method, lockbox.amount),
            (
                EntryKind::Credit,
                PaymentMethod::Lockbox,
                Decimal::new(150_000, 2)
            )
        );
        assert_eq!(lockbox.identity, "bai2:1234567890:LBX0001");
        assert_eq!(lockbox.value_date, Some(date!(2026 - 11 - 23)));
        assert_eq!(lockbox.location, "line 4");
        let ach = &read[1];
        assert_eq!(
            (ach.kind, ach.method),
            (EntryKind::Credit, PaymentMethod::Ach)
        );
        assert_eq!(ach.payer_name.as_deref(), Some("GLOBEX CORP"));
        assert_eq!(
            ach.remittance,
            vec![
                Remitted {
                    invoice_number: "INV-2026-000200".into(),
                    amount: Some(Decimal::new(95_000, 2))
                },
                Remitted {
                    invoice_number: "INV-2026-000201".into(),
                    amount: None
                },
            ]
        );
        let returned = &read[2];
        assert_eq!(returned.kind, EntryKind::Return);
        assert_eq!(returned.returned_reference.as_deref(), Some("10442"));
        assert_eq!(returned.return_code.as_deref(), Some("555"));
        let ach_return = &read[3];
        assert_eq!(ach_return.kind, EntryKind::Return);
        assert_eq!(ach_return.return_code.as_deref(), Some("R01"));
        assert_eq!(ach_return.returned_reference.as_deref(), Some("ACH0009"));
        assert_eq!(read[4].kind, EntryKind::Other);
    }

    #[test]
    fn a_bad_rmr_amount_refuses_the_file_at_its_line() {
        let bad = FILE.replace("PI*950.00", "PI*9X0");
        assert_eq!(
            read(&bad).unwrap_err(),
            FileError::at_line(
                5,
                "the RMR amount \"9X0\" for INV-2026-000200 is not an amount above zero"
            )
        );
    }
}
