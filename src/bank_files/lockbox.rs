//! Lockbox CSV: the receivables' own export of the checks a lockbox bank deposited and the
//! remittance that came with them, read strictly.
//!
//! # The format
//!
//! UTF-8 text (a leading byte order mark is skipped), comma-separated values as RFC 4180 has
//! them: rows end with CRLF or LF (a carriage return alone is refused), the last one may
//! lack it, and no row is blank; a field holding a comma, a quote or a line break is quoted
//! whole (`"Acme, Inc."`), a quote inside it doubled (`"the ""blue"" invoice"`), and a quoted
//! field may run over several lines. A quote inside an unquoted field, anything but a comma or
//! the end of the row after a closing quote, and a quote never closed are refused. Fields are
//! taken as written, blanks included; only the payer's name and the memos are trimmed where
//! they become the entry's payer name and text.
//!
//! The first row is the header, exactly these twelve columns in this order:
//!
//! ```text
//! batch_id,item,deposit_date,check_number,check_amount,currency,payer_name,payer_routing,payer_account,invoice_number,invoice_amount,memo
//! ```
//!
//! Then one row per remittance line, each of twelve fields:
//!
//! | column | what it holds |
//! |---|---|
//! | `batch_id` | The lockbox batch; not empty, no colon. |
//! | `item` | The check's item in its batch; not empty, no colon. |
//! | `deposit_date` | The day the bank deposited the check, `YYYY-MM-DD`. |
//! | `check_number` | The check's number; may be empty. |
//! | `check_amount` | The check's amount, more than zero. |
//! | `currency` | The ISO 4217 code of the check's currency (`USD`); required, no default. |
//! | `payer_name` | Who wrote the check; may be empty. |
//! | `payer_routing` | The routing (transit) number of the payer's bank; may be empty. |
//! | `payer_account` | The payer's account number; may be empty. |
//! | `invoice_number` | An invoice the check pays; empty for a check without remittance. |
//! | `invoice_amount` | How much of it the check pays, more than zero; may be empty. |
//! | `memo` | Free text of the line; may be empty. |
//!
//! Amounts are plain decimals in the currency's major unit (`1250.00`, `1250`): digits and
//! at most one decimal point with digits on both sides, no sign, no thousands separator, no
//! exponent, and no more decimals than the currency has (two for USD).
//!
//! The rows of one check follow each other and share its `batch_id` and `item`; rows of the
//! same `batch_id`, `item` and `deposit_date` elsewhere in the file are refused (a file may
//! span several deposit days, whose batch numbers may repeat). Its check columns
//! (`deposit_date` to `payer_account`) are written the same on each of its rows. A check of several rows names an invoice on each;
//! a check without remittance is a single row with `invoice_number` and `invoice_amount`
//! empty. An `invoice_amount` needs an `invoice_number`; an invoice number without an amount
//! says the invoice is paid without saying how much. The invoice amounts need not add up to
//! the check amount: a payer may pay short, or more.
//!
//! An optional last row with `batch_id` `TOTAL` is the control row: its `item` is the number of
//! checks in the file, its `check_amount` the sum of their amounts (whatever their currency);
//! its other fields are not read. When present it must agree, and no row may follow it.
//!
//! A file is refused whole at the first thing wrong, naming its line (the line a row starts
//! on) and the reason.
//!
//! # What it becomes
//!
//! Each check is one [`Entry`]: a credit by lockbox, its identity
//! `lockbox:{deposit_date}:{batch_id}:{item}`, its bank reference the check number, its value
//! date the deposit date, its payer account `{payer_routing}/{payer_account}` (or whichever is
//! given), its text the distinct memos of its rows joined with `; `, its remittance the invoices
//! of its rows in file order, its location the line of its first row.
//!
//! ```text
//! batch_id,item,deposit_date,check_number,check_amount,currency,payer_name,payer_routing,payer_account,invoice_number,invoice_amount,memo
//! 0042,1,2026-11-24,10231,1250.00,USD,"Acme, Inc.",021000021,4455667788,INV-2026-000123,1000.00,
//! 0042,1,2026-11-24,10231,1250.00,USD,"Acme, Inc.",021000021,4455667788,INV-2026-000124,250.00,
//! 0042,2,2026-11-24,5521,300.00,USD,Globex Corporation,026009593,12345,,,no stub
//! TOTAL,2,,,1550.00,,,,,,,
//! ```

use std::collections::HashMap;
use std::iter::Peekable;
use std::str::Chars;

use rust_decimal::Decimal;
use serde_json::{json, Value};
use time::{Date, Month};

use super::{Entry, EntryKind, FileError, Remitted};
use crate::money::{parse_plain, Currency};
use crate::payments::model::PaymentMethod;

/// The header row, exactly.
pub const COLUMNS: [&str; 12] = [
    "batch_id",
    "item",
    "deposit_date",
    "check_number",
    "check_amount",
    "currency",
    "payer_name",
    "payer_routing",
    "payer_account",
    "invoice_number",
    "invoice_amount",
    "memo",
];

/// The columns of the check itself, written the same on each of its rows.
const CHECK_COLUMNS: [&str; 7] = [
    "deposit_date",
    "check_number",
    "check_amount",
    "currency",
    "payer_name",
    "payer_routing",
    "payer_account",
];

/// The `batch_id` of the control row.
pub const TOTAL: &str = "TOTAL";

/// A row of the file: the line it starts on and its fields.
#[derive(Debug)]
struct Row {
    line: usize,
    fields: Vec<String>,
}

impl Row {
    fn get(&self, column: &str) -> &str {
        COLUMNS
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.fields.get(i))
            .map_or("", String::as_str)
    }

    fn refuse<T>(&self, reason: impl Into<String>) -> Result<T, FileError> {
        Err(FileError::at_line(self.line, reason))
    }
}

/// How a field ended.
#[derive(PartialEq)]
enum End {
    Comma,
    Row,
    File,
}

/// The rest of a CRLF line break whose carriage return was just read.
fn line_feed(chars: &mut Peekable<Chars<'_>>, line: usize) -> Result<(), FileError> {
    match chars.next() {
        Some('\n') => Ok(()),
        _ => Err(FileError::at_line(
            line,
            "a carriage return not followed by a line feed; rows end with CRLF or LF",
        )),
    }
}

/// One field, quoted or not, from where `chars` stands.
fn field(chars: &mut Peekable<Chars<'_>>, line: &mut usize) -> Result<(String, End), FileError> {
    let mut out = String::new();
    if chars.peek() == Some(&'"') {
        let opened = *line;
        chars.next();
        loop {
            match chars.next() {
                None => {
                    return Err(FileError::at_line(
                        opened,
                        "a quoted field opened on this line is never closed",
                    ))
                }
                Some('"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    out.push('"');
                }
                Some('"') => break,
                Some(c) => {
                    if c == '\n' {
                        *line += 1;
                    }
                    out.push(c);
                }
            }
        }
        return match chars.next() {
            None => Ok((out, End::File)),
            Some(',') => Ok((out, End::Comma)),
            Some('\r') => {
                line_feed(chars, *line)?;
                *line += 1;
                Ok((out, End::Row))
            }
            Some('\n') => {
                *line += 1;
                Ok((out, End::Row))
            }
            Some(c) => Err(FileError::at_line(
                *line,
                format!(
                    "{c:?} follows a closing quote, where a comma or the end of the row belongs"
                ),
            )),
        };
    }
    loop {
        match chars.next() {
            None => return Ok((out, End::File)),
            Some(',') => return Ok((out, End::Comma)),
            Some('"') => {
                return Err(FileError::at_line(
                    *line,
                    "a quote inside an unquoted field: a field holding quotes is quoted whole, \
                     its quotes doubled",
                ))
            }
            Some('\r') => {
                line_feed(chars, *line)?;
                *line += 1;
                return Ok((out, End::Row));
            }
            Some('\n') => {
                *line += 1;
                return Ok((out, End::Row));
            }
            Some(c) => out.push(c),
        }
    }
}

/// The rows of RFC 4180 text.
fn rows(text: &str) -> Result<Vec<Row>, FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut rows = Vec::new();
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        loop {
            let (value, end) = field(&mut chars, &mut line)?;
            fields.push(value);
            if end != End::Comma {
                break;
            }
        }
        rows.push(Row {
            line: start,
            fields,
        });
    }
    Ok(rows)
}

fn header(row: &Row) -> Result<(), FileError> {
    let refuse = |reason: String| {
        row.refuse(format!(
            "{reason}; the header is exactly {}",
            COLUMNS.join(",")
        ))
    };
    for (i, found) in row.fields.iter().enumerate() {
        if !COLUMNS.contains(&found.as_str()) {
            let instead = match COLUMNS.get(i) {
                Some(c) if !row.fields.iter().any(|f| f == c) => {
                    format!(" (the format has {c:?} there)")
                }
                _ => String::new(),
            };
            return refuse(format!(
                "column {} of the header is {found:?}, a column the format does not have{instead}",
                i + 1
            ));
        }
    }
    for column in COLUMNS {
        if !row.fields.iter().any(|f| f == column) {
            return refuse(format!("the header has no column {column:?}"));
        }
    }
    for (i, (found, column)) in row.fields.iter().zip(COLUMNS).enumerate() {
        if found != column {
            return refuse(format!(
                "column {} of the header is {found:?} where the format has {column:?}",
                i + 1
            ));
        }
    }
    if row.fields.len() != COLUMNS.len() {
        return refuse(format!(
            "the header has {} columns where the format has {}",
            row.fields.len(),
            COLUMNS.len()
        ));
    }
    Ok(())
}

fn date(row: &Row, column: &str) -> Result<Date, FileError> {
    let text = row.get(column);
    let bad = || row.refuse(format!("{column} {text:?} is not a date as YYYY-MM-DD"));
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shaped {
        return bad();
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        text[0..4].parse::<i32>(),
        text[5..7].parse::<u8>(),
        text[8..10].parse::<u8>(),
    ) else {
        return bad();
    };
    let Ok(month) = Month::try_from(month) else {
        return bad();
    };
    Date::from_calendar_date(year, month, day).or_else(|_| bad())
}

fn currency(row: &Row) -> Result<Currency, FileError> {
    match row.get("currency") {
        "" => row.refuse("currency is empty; the format has no default currency"),
        code => Currency::parse(code).map_or_else(
            || {
                row.refuse(format!(
                    "currency {code:?} is not an ISO 4217 code this service knows"
                ))
            },
            Ok,
        ),
    }
}

/// An amount more than zero with no more decimals than the currency has.
fn amount(row: &Row, column: &str, currency: Currency) -> Result<Decimal, FileError> {
    let text = row.get(column);
    if text.is_empty() {
        return row.refuse(format!("{column} is empty"));
    }
    let value =
        parse_plain(text).map_err(|e| FileError::at_line(row.line, format!("{column} {e}")))?;
    if value <= Decimal::ZERO {
        return row.refuse(format!("{column} {text:?} is not more than zero"));
    }
    if value.scale() > currency.minor_units() {
        return row.refuse(format!(
            "{column} {text:?} has more decimals than {} has ({})",
            currency.code(),
            currency.minor_units()
        ));
    }
    Ok(currency.normalize(value))
}

fn key(row: &Row, column: &str) -> Result<(), FileError> {
    let text = row.get(column);
    if text.is_empty() || text.contains(':') {
        return row.refuse(format!("{column} {text:?} is empty or holds a colon"));
    }
    Ok(())
}

/// The invoice a row names, if any.
fn remitted(row: &Row, currency: Currency) -> Result<Option<Remitted>, FileError> {
    let (number, given) = (row.get("invoice_number"), row.get("invoice_amount"));
    if number.is_empty() {
        if !given.is_empty() {
            return row.refuse(format!(
                "invoice_amount {given:?} is given without an invoice_number"
            ));
        }
        return Ok(None);
    }
    let amount = match given {
        "" => None,
        _ => Some(amount(row, "invoice_amount", currency)?),
    };
    Ok(Some(Remitted {
        invoice_number: number.to_string(),
        amount,
    }))
}

/// A check being read: its rows, the values of its first row, and the invoices named.
struct Check {
    rows: Vec<Row>,
    deposit_date: Date,
    amount: Decimal,
    currency: Currency,
    remittance: Vec<Remitted>,
}

impl Check {
    fn start(row: Row) -> Result<Check, FileError> {
        key(&row, "batch_id")?;
        key(&row, "item")?;
        let deposit_date = date(&row, "deposit_date")?;
        let currency = currency(&row)?;
        let amount = amount(&row, "check_amount", currency)?;
        let remittance = remitted(&row, currency)?.into_iter().collect();
        Ok(Check {
            rows: vec![row],
            deposit_date,
            amount,
            currency,
            remittance,
        })
    }

    /// Another row of the check: the check written the same, an invoice named on each row.
    fn add(&mut self, row: Row) -> Result<(), FileError> {
        let first = &self.rows[0];
        for column in CHECK_COLUMNS {
            let (was, is) = (first.get(column), row.get(column));
            if was != is {
                return row.refuse(format!(
                    "{column} is {is:?} here but {was:?} on line {}, the check's first row; a \
                     check is written the same on each of its rows",
                    first.line
                ));
            }
        }
        if first.get("invoice_number").is_empty() {
            return row.refuse(format!(
                "the check on line {} names no invoice, so it has no other row",
                first.line
            ));
        }
        match remitted(&row, self.currency)? {
            Some(r) => self.remittance.push(r),
            None => {
                return row.refuse("invoice_number is empty on a row of a check of several rows")
            }
        }
        self.rows.push(row);
        Ok(())
    }

    fn entry(self) -> Entry {
        let first = &self.rows[0];
        let some = |s: &str| Some(s.to_string()).filter(|s| !s.trim().is_empty());
        let (routing, account) = (first.get("payer_routing"), first.get("payer_account"));
        let payer_account = match (routing.is_empty(), account.is_empty()) {
            (false, false) => Some(format!("{routing}/{account}")),
            (false, true) => some(routing),
            _ => some(account),
        };
        let mut memos: Vec<&str> = Vec::new();
        for memo in self.rows.iter().map(|r| r.get("memo").trim()) {
            if !memo.is_empty() && !memos.contains(&memo) {
                memos.push(memo);
            }
        }
        let mut raw = serde_json::Map::new();
        for column in ["batch_id", "item"].iter().chain(CHECK_COLUMNS.iter()) {
            raw.insert(column.to_string(), json!(first.get(column)));
        }
        let lines: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "line": r.line,
                    "invoice_number": r.get("invoice_number"),
                    "invoice_amount": r.get("invoice_amount"),
                    "memo": r.get("memo"),
                })
            })
            .collect();
        raw.insert("lines".into(), Value::Array(lines));
        Entry {
            location: format!("line {}", first.line),
            identity: format!(
                "lockbox:{}:{}:{}",
                first.get("deposit_date"),
                first.get("batch_id"),
                first.get("item")
            ),
            kind: EntryKind::Credit,
            amount: self.amount,
            currency: Some(self.currency.code().to_string()),
            value_date: Some(self.deposit_date),
            method: PaymentMethod::Lockbox,
            bank_reference: some(first.get("check_number")),
            payer_name: some(first.get("payer_name")).map(|s| s.trim().to_string()),
            payer_account,
            text: memos.join("; "),
            remittance: self.remittance,
            returned_reference: None,
            return_code: None,
            raw: crate::bank_files::RawFields::of(&Value::Object(raw)),
        }
    }
}

/// The control row against the checks read.
fn control(row: &Row, checks: &[Check]) -> Result<(), FileError> {
    let item = row.get("item");
    let count = match item.parse::<usize>() {
        Ok(n) if item.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => {
            return row.refuse(format!(
                "the TOTAL row's item {item:?} is not the number of checks"
            ))
        }
    };
    if count != checks.len() {
        return row.refuse(format!(
            "the TOTAL row counts {count} checks, but the file has {}",
            checks.len()
        ));
    }
    let text = row.get("check_amount");
    let stated = parse_plain(text)
        .map_err(|e| FileError::at_line(row.line, format!("the TOTAL row's check_amount {e}")))?;
    let sum: Decimal = checks.iter().map(|c| c.amount).sum();
    if stated != sum {
        return row.refuse(format!(
            "the TOTAL row's check_amount is {text}, but the checks add up to {sum}"
        ));
    }
    Ok(())
}

/// Reads a lockbox CSV file whole into one entry per check, or refuses it naming the first
/// line that is wrong.
pub fn read(text: &str) -> Result<Vec<Entry>, FileError> {
    let mut rows = rows(text)?.into_iter();
    let Some(first) = rows.next() else {
        return Err(FileError::at_line(
            1,
            "the file is empty: it has no header row",
        ));
    };
    header(&first)?;
    let mut checks: Vec<Check> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut total: Option<Row> = None;
    for row in rows {
        if let Some(total) = &total {
            return row.refuse(format!(
                "a row after the TOTAL row of line {}, which is the last",
                total.line
            ));
        }
        if row.fields.len() != COLUMNS.len() {
            let n = row.fields.len();
            return row.refuse(format!(
                "the row has {n} field{} where the header has {}",
                if n == 1 { "" } else { "s" },
                COLUMNS.len()
            ));
        }
        if row.get("batch_id") == TOTAL {
            total = Some(row);
            continue;
        }
        let id = (row.get("batch_id").to_string(), row.get("item").to_string());
        match checks.last_mut() {
            Some(check)
                if check.rows[0].get("batch_id") == id.0 && check.rows[0].get("item") == id.1 =>
            {
                check.add(row)?
            }
            _ => {
                let check = format!("{}:{}:{}", row.get("deposit_date"), id.0, id.1);
                if let Some(line) = seen.get(&check) {
                    return row.refuse(format!(
                        "batch {:?} item {:?} of {} began on line {line}; the rows of a check \
                         follow each other",
                        id.0,
                        id.1,
                        row.get("deposit_date")
                    ));
                }
                seen.insert(check, row.line);
                checks.push(Check::start(row)?);
            }
        }
    }
    if let Some(total) = &total {
        control(total, &checks)?;
    }
    Ok(checks.into_iter().map(Check::entry).collect())
}

#[cfg(test)]
mod tests;
