//! Bank files: what banks send of the cash that came in and went back (BAI2, camt.053 and
//! camt.054, NACHA returns, lockbox CSV), each read strictly by its own module into the
//! same [`Entry`] rows for cash application.

pub mod bai2;
pub mod camt;
pub mod lockbox;
pub mod matching;
pub mod model;
pub mod nacha;
pub mod references;
pub mod report;
pub mod routes;
pub mod service;
pub mod settings;
pub mod store;
pub mod subset;
pub mod upload;

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use crate::payments::model::PaymentMethod;

crate::text_enum! {
    /// What a bank line is to cash application: `credit` (money in: becomes a payment),
    /// `return` (money the bank took back: the return of the payment it names), `other`
    /// (kept, not acted on: fees, balances, other debits, information).
    EntryKind { Credit => "credit", Return => "return", Other => "other" }
}

/// An invoice the payer says it pays, and how much of it when the file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remitted {
    pub invoice_number: String,
    pub amount: Option<Decimal>,
}

/// One transaction of a bank file, in the terms cash application needs, whatever the format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Where it is in the file: `line 14`, or an XML path.
    pub location: String,
    /// Stable across files: the same transaction in a later file (an intraday report, then
    /// the day's statement) has the same identity, so its cash is recorded once.
    pub identity: String,
    pub kind: EntryKind,
    /// More than zero, in the currency's major unit.
    pub amount: Decimal,
    /// ISO code, when the file gives one.
    pub currency: Option<String>,
    pub value_date: Option<Date>,
    pub method: PaymentMethod,
    /// The bank's reference of the transaction (trace number, check number, AcctSvcrRef).
    pub bank_reference: Option<String>,
    pub payer_name: Option<String>,
    /// The payer's bank account as the file gives it.
    pub payer_account: Option<String>,
    /// Free text: what the payer wrote, what the bank added.
    pub text: String,
    /// Structured remittance: the invoices named, with amounts when given.
    pub remittance: Vec<Remitted>,
    /// For a return: the reference of the payment returned (original trace, end-to-end id).
    pub returned_reference: Option<String>,
    /// For a return: the bank's reason code (`R01`, `AC04`, ...).
    pub return_code: Option<String>,
    /// The fields of the record as the file has them, by name.
    pub raw: RawFields,
}

/// A record's fields as the file has them: a JSON object kept as its text, so that a large
/// file's records hold a string each rather than a tree of small allocations, and are
/// written to their `jsonb` column as they are.
#[derive(Debug, Clone, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Jsonb)]
pub struct RawFields(String);

impl RawFields {
    pub fn of(fields: &serde_json::Value) -> RawFields {
        RawFields(fields.to_string())
    }

    /// The fields as a JSON value.
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

impl Serialize for RawFields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl diesel::serialize::ToSql<diesel::sql_types::Jsonb, diesel::pg::Pg> for RawFields {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
    ) -> diesel::serialize::Result {
        use std::io::Write;
        // jsonb's binary form: its version, then the text.
        out.write_all(&[1])?;
        out.write_all(self.0.as_bytes())?;
        Ok(diesel::serialize::IsNull::No)
    }
}

impl diesel::deserialize::FromSql<diesel::sql_types::Jsonb, diesel::pg::Pg> for RawFields {
    fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        match bytes.as_bytes().split_first() {
            Some((1, text)) => Ok(RawFields(std::str::from_utf8(text)?.to_string())),
            _ => Err("unsupported jsonb encoding version".into()),
        }
    }
}

/// Why a file is refused: where (a line or an XML path) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub location: String,
    pub reason: String,
}

impl FileError {
    pub fn at_line(line: usize, reason: impl Into<String>) -> FileError {
        FileError {
            location: format!("line {line}"),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

/// An amount in a currency's minor unit as a decimal in its major unit (`12550` with two
/// decimals is 125.50).
pub fn from_minor(minor: i64, decimals: u32) -> Decimal {
    Decimal::new(minor, decimals)
}
