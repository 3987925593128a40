//! BAI2 (the BAI Cash Management Balance Reporting Specifications, version 2): the file a bank
//! sends of an account's balances and transactions, read strictly. A record is a line of
//! comma-separated fields ending with `/`, numbered by its type: 01 file header, 02 group
//! header, 03 account identifier (with summary amounts), 16 transaction detail, 88
//! continuation of the record before it, 49 account trailer, 98 group trailer, 99 file
//! trailer. Each trailer carries the sum of the amounts and the count of records under it,
//! and both are checked: a file that disagrees with itself is refused whole, naming the line
//! and the reason.
//!
//! Amounts are whole numbers of the currency's minor unit (`12550` is 125.50 dollars); they
//! are kept so, for the caller to read in the account's currency.

use time::{Date, Month};

/// Whether a transaction brings money in or takes it out, by its type code: 100–399 are
/// credits, 400–699 debits; the others (890–899 and the like) carry no money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Credit,
    Debit,
    Information,
}

/// A 16 record: one transaction on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The line of the file the record starts on (1-based).
    pub line: usize,
    pub type_code: u16,
    pub direction: Direction,
    /// In the currency's minor unit; 0 when the record gives none.
    pub amount_minor: i64,
    /// `0` immediate, `1` one day, `2` two or more days, `S` distributed, `V` value-dated,
    /// `D` distributed by days, `Z` unknown; empty when not given.
    pub funds_type: String,
    /// The day the funds are available, for funds type `V`.
    pub value_date: Option<Date>,
    pub bank_reference: String,
    pub customer_reference: String,
    /// Free text, continuation records joined with a space.
    pub text: String,
}

/// A 03 record and its transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub line: usize,
    pub number: String,
    /// The account's currency code, else the group's; `None` when neither says (the
    /// specification's default is the receiving bank's currency).
    pub currency: Option<String>,
    pub transactions: Vec<Transaction>,
}

/// A 02 record: the accounts of one bank as of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub line: usize,
    pub originator: String,
    pub as_of: Date,
    pub accounts: Vec<Account>,
}

/// A whole BAI2 file, its control totals checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bai2File {
    pub sender: String,
    pub receiver: String,
    pub created: Date,
    pub file_id: String,
    pub groups: Vec<Group>,
}

/// Why a file is refused: the line of the record and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bai2Error {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for Bai2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

fn refuse<T>(line: usize, reason: impl Into<String>) -> Result<T, Bai2Error> {
    Err(Bai2Error {
        line,
        reason: reason.into(),
    })
}

/// A logical record: its type, its fields (continuations joined), the line it starts on and
/// how many physical records it took.
struct Record {
    line: usize,
    kind: String,
    fields: Vec<String>,
    /// For a 16: the text field, which runs to the end of the record and may hold commas.
    rest: String,
    physical: i64,
}

fn records(text: &str) -> Result<Vec<Record>, Bai2Error> {
    let mut out: Vec<Record> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim_end();
        if raw.is_empty() {
            continue;
        }
        let (kind, body) = raw.split_once(',').unwrap_or((raw, ""));
        if kind == "88" {
            let Some(previous) = out.last_mut() else {
                return refuse(line, "a continuation (88) before any record");
            };
            previous.physical += 1;
            if previous.kind == "16" {
                let joined = body.trim_end_matches('/');
                if previous.rest.is_empty() {
                    previous.rest = joined.to_string();
                } else {
                    previous.rest = format!("{} {joined}", previous.rest);
                }
            } else {
                previous
                    .fields
                    .extend(body.trim_end_matches('/').split(',').map(str::to_string));
            }
            continue;
        }
        if !matches!(kind, "01" | "02" | "03" | "16" | "49" | "98" | "99") {
            return refuse(line, format!("{kind:?} is not a BAI2 record type"));
        }
        let (fields, rest) = if kind == "16" {
            split_detail(body)
        } else {
            let body = body.strip_suffix('/').unwrap_or(body);
            (body.split(',').map(str::to_string).collect(), String::new())
        };
        out.push(Record {
            line,
            kind: kind.to_string(),
            fields,
            rest,
            physical: 1,
        });
    }
    Ok(out)
}

/// A 16's fields up to the text, and the text: the type, amount and funds type, the funds
/// type's own fields (S: three amounts; V: date and time; D: a count and that many pairs),
/// the bank's and the customer's references, then the text to the end of the record.
fn split_detail(body: &str) -> (Vec<String>, String) {
    let parts: Vec<&str> = body.splitn(64, ',').collect();
    let funds = parts.get(2).copied().unwrap_or("");
    let extra = match funds {
        "S" => 3,
        "V" => 2,
        "D" => parts
            .get(3)
            .and_then(|n| n.trim_end_matches('/').parse::<usize>().ok())
            .map_or(1, |n| 1 + 2 * n),
        _ => 0,
    };
    let fixed = 3 + extra + 2;
    if parts.len() <= fixed {
        let last = parts.len().saturating_sub(1);
        let fields = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i == last {
                    p.trim_end_matches('/').to_string()
                } else {
                    p.to_string()
                }
            })
            .collect();
        return (fields, String::new());
    }
    let fields = parts[..fixed].iter().map(|p| p.to_string()).collect();
    let text = parts[fixed..].join(",");
    let text = text.strip_suffix('/').unwrap_or(&text).to_string();
    (fields, text)
}

fn field(r: &Record, i: usize) -> &str {
    r.fields.get(i).map_or("", |f| f.as_str())
}

fn date(r: &Record, i: usize, name: &str) -> Result<Date, Bai2Error> {
    let text = field(r, i);
    let bad = || refuse(r.line, format!("{name} {text:?} is not a date as YYMMDD"));
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return bad();
    }
    let n = |a: usize| text[a..a + 2].parse::<u8>().unwrap_or(0);
    let Ok(month) = Month::try_from(n(2)) else {
        return bad();
    };
    Date::from_calendar_date(2000 + i32::from(n(0)), month, n(4)).or_else(|_| bad())
}

fn amount(r: &Record, i: usize, name: &str, signed: bool) -> Result<i64, Bai2Error> {
    let text = field(r, i);
    if text.is_empty() {
        return Ok(0);
    }
    let (sign, digits) = match text.as_bytes()[0] {
        b'-' if signed => (-1, &text[1..]),
        b'+' if signed => (1, &text[1..]),
        _ => (1, text),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return refuse(
            r.line,
            format!("{name} {text:?} is not a whole number of minor units"),
        );
    }
    Ok(sign * digits.parse::<i64>().unwrap_or(0))
}

fn count(r: &Record, i: usize, name: &str) -> Result<i64, Bai2Error> {
    let n = amount(r, i, name, false)?;
    if field(r, i).is_empty() {
        return refuse(r.line, format!("{name} is missing"));
    }
    Ok(n)
}

fn direction(type_code: u16) -> Direction {
    match type_code {
        100..=399 => Direction::Credit,
        400..=699 => Direction::Debit,
        _ => Direction::Information,
    }
}

fn detail(r: &Record) -> Result<Transaction, Bai2Error> {
    let code = field(r, 0);
    let type_code = match code.parse::<u16>() {
        Ok(c) if code.len() == 3 => c,
        _ => return refuse(r.line, format!("type code {code:?} is not three digits")),
    };
    let amount_minor = amount(r, 1, "amount", false)?;
    let funds_type = field(r, 2).to_string();
    if !matches!(
        funds_type.as_str(),
        "" | "0" | "1" | "2" | "S" | "V" | "D" | "Z"
    ) {
        return refuse(
            r.line,
            format!("funds type {funds_type:?} is not one BAI2 has"),
        );
    }
    let value_date = if funds_type == "V" {
        Some(date(r, 3, "value date")?)
    } else {
        None
    };
    let n = r.fields.len();
    Ok(Transaction {
        line: r.line,
        type_code,
        direction: direction(type_code),
        amount_minor,
        funds_type,
        value_date,
        bank_reference: field(r, n.saturating_sub(2)).to_string(),
        customer_reference: field(r, n.saturating_sub(1)).to_string(),
        text: r.rest.trim().to_string(),
    })
}

/// The amounts of an 03 record's summaries (type, amount, item count, funds type; repeated),
/// which count in the account's control total.
fn summary_total(r: &Record) -> Result<i64, Bai2Error> {
    let mut total = 0;
    let mut i = 2;
    while i + 1 < r.fields.len() {
        total += amount(r, i + 1, "summary amount", true)?;
        let extra = match field(r, i + 3) {
            "S" => 3,
            "V" => 2,
            "D" => 1 + 2 * usize::try_from(count(r, i + 4, "distribution count")?).unwrap_or(0),
            _ => 0,
        };
        i += 4 + extra;
    }
    Ok(total)
}

fn expect(r: Option<&Record>, kind: &str, what: &str, last_line: usize) -> Result<(), Bai2Error> {
    match r {
        Some(r) if r.kind == kind => Ok(()),
        Some(r) => refuse(
            r.line,
            format!("expected {what} ({kind}), found a {} record", r.kind),
        ),
        None => refuse(last_line, format!("the file ends before {what} ({kind})")),
    }
}

fn check(r: &Record, name: &str, stated: i64, counted: i64) -> Result<(), Bai2Error> {
    if stated != counted {
        return refuse(
            r.line,
            format!("{name} says {stated}, the records before it make {counted}"),
        );
    }
    Ok(())
}

/// Reads a BAI2 file whole, or refuses it naming the first line that is wrong.
pub fn parse(text: &str) -> Result<Bai2File, Bai2Error> {
    let records = records(text)?;
    let last_line = text.lines().count().max(1);
    let mut at = 0;
    let next = |at: &mut usize| {
        let r = records.get(*at);
        *at += 1;
        r
    };
    let header = records.first();
    expect(header, "01", "the file header", last_line)?;
    let header = next(&mut at).expect("checked");
    if field(header, 7) != "2" {
        return refuse(
            header.line,
            format!(
                "version {:?}: only BAI2 (version 2) is read",
                field(header, 7)
            ),
        );
    }
    let mut file = Bai2File {
        sender: field(header, 0).to_string(),
        receiver: field(header, 1).to_string(),
        created: date(header, 2, "file creation date")?,
        file_id: field(header, 4).to_string(),
        groups: Vec::new(),
    };
    let (mut file_total, mut file_records) = (0i64, header.physical);
    while records.get(at).is_some_and(|r| r.kind == "02") {
        let g = next(&mut at).expect("checked");
        let mut group = Group {
            line: g.line,
            originator: field(g, 1).to_string(),
            as_of: date(g, 3, "as-of date")?,
            accounts: Vec::new(),
        };
        let group_currency = Some(field(g, 5)).filter(|c| !c.is_empty());
        let (mut group_total, mut group_records) = (0i64, g.physical);
        while records.get(at).is_some_and(|r| r.kind == "03") {
            let a = next(&mut at).expect("checked");
            if field(a, 0).is_empty() {
                return refuse(a.line, "the account number is missing");
            }
            let mut account = Account {
                line: a.line,
                number: field(a, 0).to_string(),
                currency: Some(field(a, 1))
                    .filter(|c| !c.is_empty())
                    .or(group_currency)
                    .map(str::to_string),
                transactions: Vec::new(),
            };
            let (mut total, mut physical) = (summary_total(a)?, a.physical);
            while records.get(at).is_some_and(|r| r.kind == "16") {
                let d = next(&mut at).expect("checked");
                let t = detail(d)?;
                total += t.amount_minor;
                physical += d.physical;
                account.transactions.push(t);
            }
            expect(records.get(at), "49", "the account trailer", last_line)?;
            let trailer = next(&mut at).expect("checked");
            physical += trailer.physical;
            check(
                trailer,
                "the account control total",
                amount(trailer, 0, "control total", true)?,
                total,
            )?;
            check(
                trailer,
                "the account's record count",
                count(trailer, 1, "record count")?,
                physical,
            )?;
            group_total += total;
            group_records += physical;
            group.accounts.push(account);
        }
        expect(records.get(at), "98", "the group trailer", last_line)?;
        let trailer = next(&mut at).expect("checked");
        group_records += trailer.physical;
        check(
            trailer,
            "the group control total",
            amount(trailer, 0, "control total", true)?,
            group_total,
        )?;
        check(
            trailer,
            "the group's account count",
            count(trailer, 1, "account count")?,
            group.accounts.len() as i64,
        )?;
        check(
            trailer,
            "the group's record count",
            count(trailer, 2, "record count")?,
            group_records,
        )?;
        file_total += group_total;
        file_records += group_records;
        file.groups.push(group);
    }
    expect(records.get(at), "99", "the file trailer", last_line)?;
    let trailer = next(&mut at).expect("checked");
    file_records += trailer.physical;
    check(
        trailer,
        "the file control total",
        amount(trailer, 0, "control total", true)?,
        file_total,
    )?;
    check(
        trailer,
        "the file's group count",
        count(trailer, 1, "group count")?,
        file.groups.len() as i64,
    )?;
    check(
        trailer,
        "the file's record count",
        count(trailer, 2, "record count")?,
        file_records,
    )?;
    if let Some(extra) = records.get(at) {
        return refuse(extra.line, "a record after the file trailer");
    }
    Ok(file)
}

mod entries;
pub use entries::read;

#[cfg(test)]
mod tests;
