//! NACHA returns: the ACH file an originator receives from its bank of the entries that came
//! back (the NACHA Operating Rules' file format), read strictly.
//!
//! A file is lines of 94-character records (ended by LF or CRLF), each numbered by its first
//! character: 1 file header, 5 batch header, 6 entry detail, 7 addenda, 8 batch control, 9
//! file control. They come in the order `1 (5 (6 7*)+ 8)* 9`, then records of ninety-four
//! `9`s that pad the last block of ten records. Positions below are the specification's:
//! 1-based, both ends included.
//!
//! - File header: immediate destination 4–13, immediate origin 14–23, creation date 24–29
//!   (YYMMDD), record size 35–37 (`094`), blocking factor 38–39 (`10`), format code 40 (`1`).
//! - Batch header: service class 2–4 (200, 220, 225 or 280), company name 5–20, company
//!   identification 41–50, standard entry class 51–53 (IAT batches have another layout and are
//!   refused), company entry description 54–63, effective entry date 70–75 (YYMMDD), batch
//!   number 88–94.
//! - Entry detail: transaction code 2–3 (last digit 1–4 a credit, 6–9 or 55 a debit), receiving
//!   DFI identification 4–11, DFI account number 13–29, amount in cents 30–39, individual
//!   name 55–76, addenda record indicator 79 (`1` when addenda follow, else `0`), trace number
//!   80–94.
//! - Addenda: type 2–3. `99` a return: reason code 4–6 (`R` and two digits), original entry
//!   trace number 7–21, addenda information 36–79. `98` a notification of change: change code
//!   4–6 (`C` and two digits), original trace 7–21, corrected data 36–64. Both carry the trace
//!   number of their entry in 80–94 and are the entry's only addenda. `05` remittance: payment
//!   related information 4–83.
//! - Batch control: service class 2–4 (the header's), entry and addenda count 5–10, entry hash
//!   11–20 (the low ten digits of the sum of the entries' receiving DFI identifications),
//!   total debit 21–32 and total credit 33–44 in cents, batch number 88–94 (the header's).
//! - File control: batch count 2–7, block count 8–13 (every record, padding included, in
//!   blocks of ten, the last one counted whole), entry and addenda count 14–21, entry hash
//!   22–31 (the low ten digits of the batch hashes' sum), total debit 32–43, total credit
//!   44–55.
//!
//! Every control figure is checked: a file that disagrees with itself is refused whole, naming
//! the line and the reason. Padding is optional, but when present it fills the last block
//! exactly.
//!
//! Each entry detail becomes an [`Entry`]. One with a `99` addenda is a return
//! ([`EntryKind::Return`]) of the payment whose trace number the addenda gives, unless its
//! amount is zero (a returned prenotification: no money moved), which is kept as
//! [`EntryKind::Other`] with its return code. A notification of change, a `05` remittance or
//! an entry without addenda is kept as [`EntryKind::Other`], not acted on.

use serde_json::{json, Map, Value};
use time::{Date, Month};

use super::{from_minor, Entry, EntryKind, FileError};
use crate::payments::model::PaymentMethod;

const RECORD_LENGTH: usize = 94;
const BLOCKING_FACTOR: usize = 10;
const HASH_MODULUS: u64 = 10_000_000_000;

/// The named fields of each record, by position, as they go into [`Entry::raw`].
type Layout = &'static [(&'static str, usize, usize)];

const FILE_HEADER: Layout = &[
    ("priority_code", 2, 3),
    ("immediate_destination", 4, 13),
    ("immediate_origin", 14, 23),
    ("file_creation_date", 24, 29),
    ("file_creation_time", 30, 33),
    ("file_id_modifier", 34, 34),
    ("immediate_destination_name", 41, 63),
    ("immediate_origin_name", 64, 86),
    ("reference_code", 87, 94),
];
const BATCH_HEADER: Layout = &[
    ("service_class_code", 2, 4),
    ("company_name", 5, 20),
    ("company_discretionary_data", 21, 40),
    ("company_identification", 41, 50),
    ("standard_entry_class_code", 51, 53),
    ("company_entry_description", 54, 63),
    ("company_descriptive_date", 64, 69),
    ("effective_entry_date", 70, 75),
    ("settlement_date", 76, 78),
    ("originator_status_code", 79, 79),
    ("originating_dfi_identification", 80, 87),
    ("batch_number", 88, 94),
];
const ENTRY_DETAIL: Layout = &[
    ("transaction_code", 2, 3),
    ("receiving_dfi_identification", 4, 11),
    ("check_digit", 12, 12),
    ("dfi_account_number", 13, 29),
    ("amount", 30, 39),
    ("individual_identification_number", 40, 54),
    ("individual_name", 55, 76),
    ("discretionary_data", 77, 78),
    ("addenda_record_indicator", 79, 79),
    ("trace_number", 80, 94),
];
const RETURN_ADDENDA: Layout = &[
    ("addenda_type_code", 2, 3),
    ("return_reason_code", 4, 6),
    ("original_entry_trace_number", 7, 21),
    ("date_of_death", 22, 27),
    ("original_receiving_dfi_identification", 28, 35),
    ("addenda_information", 36, 79),
    ("trace_number", 80, 94),
];
const CHANGE_ADDENDA: Layout = &[
    ("addenda_type_code", 2, 3),
    ("change_code", 4, 6),
    ("original_entry_trace_number", 7, 21),
    ("original_receiving_dfi_identification", 28, 35),
    ("corrected_data", 36, 64),
    ("trace_number", 80, 94),
];
const REMITTANCE_ADDENDA: Layout = &[
    ("addenda_type_code", 2, 3),
    ("payment_related_information", 4, 83),
    ("addenda_sequence_number", 84, 87),
    ("entry_detail_sequence_number", 88, 94),
];

/// One record: its line (1-based) and its 94 ASCII characters.
#[derive(Debug, Clone, Copy)]
struct Record<'a> {
    line: usize,
    text: &'a str,
}

impl<'a> Record<'a> {
    fn kind(self) -> u8 {
        self.text.as_bytes()[0]
    }

    /// Positions `from` to `to`, 1-based and both included, as the specification numbers them.
    fn at(self, from: usize, to: usize) -> &'a str {
        &self.text[from - 1..to]
    }

    fn trimmed(self, from: usize, to: usize) -> &'a str {
        self.at(from, to).trim()
    }

    fn refuse<T>(self, reason: impl Into<String>) -> Result<T, FileError> {
        Err(FileError::at_line(self.line, reason))
    }

    /// A field of digits only, zero-filled as the specification has them.
    fn number(self, from: usize, to: usize, name: &str) -> Result<u64, FileError> {
        let text = self.at(from, to);
        match text.parse::<u64>() {
            Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => self.refuse(format!(
                "the {name} (positions {from} to {to}) is {text:?}, which is not a number"
            )),
        }
    }

    fn date(self, from: usize, to: usize, name: &str) -> Result<Date, FileError> {
        let text = self.at(from, to);
        let bad = || self.refuse(format!("the {name} {text:?} is not a date as YYMMDD"));
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return bad();
        }
        let n = |a: usize| text[a..a + 2].parse::<u8>().unwrap_or(0);
        let Ok(month) = Month::try_from(n(2)) else {
            return bad();
        };
        Date::from_calendar_date(2000 + i32::from(n(0)), month, n(4)).or_else(|_| bad())
    }

    /// The record's named fields, trimmed, as a JSON object.
    fn fields(self, layout: Layout) -> Map<String, Value> {
        layout
            .iter()
            .map(|&(name, from, to)| (name.to_string(), json!(self.trimmed(from, to))))
            .collect()
    }
}

fn records(text: &str) -> Result<Vec<Record<'_>>, FileError> {
    if text.is_empty() {
        return Err(FileError::at_line(1, "the file is empty"));
    }
    let mut out = Vec::new();
    for (i, text) in text.lines().enumerate() {
        let record = Record { line: i + 1, text };
        let length = text.chars().count();
        if length != RECORD_LENGTH {
            return record.refuse(format!(
                "a NACHA record is {RECORD_LENGTH} characters long; this one has {length}"
            ));
        }
        if !text.is_ascii() {
            return record.refuse("the record holds a character that is not ASCII");
        }
        if !matches!(record.kind(), b'1' | b'5' | b'6' | b'7' | b'8' | b'9') {
            return record.refuse(format!(
                "{:?} is not a NACHA record type (1, 5, 6, 7, 8 or 9)",
                record.at(1, 1)
            ));
        }
        out.push(record);
    }
    Ok(out)
}

/// The records in order, taken one at a time.
struct Cursor<'a> {
    records: &'a [Record<'a>],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.records.get(self.at).map(|r| r.kind())
    }

    /// The next record, which must be of `kind`; `what` names what was expected.
    fn take(&mut self, kind: u8, what: &str) -> Result<Record<'a>, FileError> {
        let Some(&record) = self.records.get(self.at) else {
            let last = self.records.last().map_or(1, |r| r.line);
            return Err(FileError::at_line(
                last,
                format!("the file ends where {what} was expected"),
            ));
        };
        if record.kind() != kind {
            let found = match record.kind() {
                b'7' => "an addenda (7) that follows no entry detail".to_string(),
                k => format!("a {} record", char::from(k)),
            };
            return record.refuse(format!("expected {what}, found {found}"));
        }
        self.at += 1;
        Ok(record)
    }
}

/// What a batch or the file adds up to, for its control record.
#[derive(Default)]
struct Totals {
    batches: u64,
    records: u64,
    hash: u64,
    debit: u64,
    credit: u64,
}

/// A batch header, read.
struct Batch<'a> {
    service_class: u64,
    description: &'a str,
    effective: Date,
    number: u64,
    fields: Value,
}

fn batch_header(r: Record<'_>) -> Result<Batch<'_>, FileError> {
    let service_class = r.number(2, 4, "service class code")?;
    if !matches!(service_class, 200 | 220 | 225 | 280) {
        return r.refuse(format!(
            "service class code {service_class} is not one NACHA has (200, 220, 225 or 280)"
        ));
    }
    if r.at(51, 53) == "IAT" {
        return r.refuse("IAT batches have a layout of their own and are not read");
    }
    Ok(Batch {
        service_class,
        description: r.trimmed(54, 63),
        effective: r.date(70, 75, "effective entry date")?,
        number: r.number(88, 94, "batch number")?,
        fields: Value::Object(r.fields(BATCH_HEADER)),
    })
}

/// Refuses a control record whose figures are not what the records before it make: for each,
/// its positions, its name, what it is checked against, and what that makes.
fn agree(r: Record<'_>, figures: &[(usize, usize, &str, &str, u64)]) -> Result<(), FileError> {
    for &(from, to, name, source, counted) in figures {
        let stated = r.number(from, to, name)?;
        if stated != counted {
            return r.refuse(format!(
                "the {name} (positions {from} to {to}) says {stated}, but {source} {counted}"
            ));
        }
    }
    Ok(())
}

fn batch_control(r: Record<'_>, batch: &Batch<'_>, t: &Totals) -> Result<(), FileError> {
    agree(
        r,
        &[
            (
                2,
                4,
                "service class code",
                "the batch header has",
                batch.service_class,
            ),
            (5, 10, "entry/addenda count", "the batch has", t.records),
            (11, 20, "entry hash", "the batch's entries make", t.hash),
            (
                21,
                32,
                "total debit amount in cents",
                "the batch's debits make",
                t.debit,
            ),
            (
                33,
                44,
                "total credit amount in cents",
                "the batch's credits make",
                t.credit,
            ),
            (88, 94, "batch number", "the batch header has", batch.number),
        ],
    )
}

fn file_control(r: Record<'_>, t: &Totals, records: usize) -> Result<(), FileError> {
    let blocks = records.div_ceil(BLOCKING_FACTOR) as u64;
    let in_blocks = format!("the file's {records} records, ten to a block, make");
    agree(
        r,
        &[
            (2, 7, "batch count", "the file has", t.batches),
            (8, 13, "block count", &in_blocks, blocks),
            (14, 21, "entry/addenda count", "the file has", t.records),
            (22, 31, "entry hash", "the batches make", t.hash),
            (
                32,
                43,
                "total debit amount in cents",
                "the batches' debits make",
                t.debit,
            ),
            (
                44,
                55,
                "total credit amount in cents",
                "the batches' credits make",
                t.credit,
            ),
        ],
    )
}

/// Whether a transaction code is a debit; refuses a code NACHA does not have.
fn is_debit(r: Record<'_>) -> Result<bool, FileError> {
    match r.number(2, 3, "transaction code")? {
        21..=24 | 31..=34 | 41..=44 | 51..=54 => Ok(false),
        26..=29 | 36..=39 | 46..=49 | 55 | 56 => Ok(true),
        code => r.refuse(format!("transaction code {code:02} is not one NACHA has")),
    }
}

/// A reason or change code: `letter` and two digits.
fn code(r: Record<'_>, letter: char, name: &str) -> Result<String, FileError> {
    let text = r.at(4, 6);
    let mut chars = text.chars();
    if chars.next() != Some(letter) || !chars.all(|c| c.is_ascii_digit()) {
        return r.refuse(format!(
            "the {name} (positions 4 to 6) is {text:?}, which is not {letter} and two digits"
        ));
    }
    Ok(text.to_string())
}

/// What an entry's addenda say.
#[derive(Default)]
struct Addenda {
    is_return: bool,
    return_code: Option<String>,
    original_trace: Option<String>,
    information: Vec<String>,
    fields: Vec<Value>,
}

fn addenda(entry: Record<'_>, records: &[Record<'_>]) -> Result<Addenda, FileError> {
    let mut out = Addenda::default();
    let trace = entry.at(80, 94);
    match (entry.at(79, 79), records.first()) {
        ("1", None) => {
            return entry.refuse(
                "the addenda record indicator (position 79) is 1, but no addenda (7) follows \
                 the entry",
            )
        }
        ("0", Some(a)) => {
            return a.refuse(
                "an addenda (7) follows an entry whose addenda record indicator (position 79) \
                 is 0",
            )
        }
        ("0" | "1", _) => {}
        (other, _) => {
            return entry.refuse(format!(
                "the addenda record indicator (position 79) is {other:?}, which is neither 0 nor 1"
            ))
        }
    }
    for &a in records {
        let kind = a.at(2, 3);
        if matches!(kind, "98" | "99") && records.len() > 1 {
            return a.refuse(format!(
                "an entry with a type {kind} addenda has no other addenda, and this entry has {}",
                records.len()
            ));
        }
        let (layout, information) = match kind {
            "99" => {
                out.is_return = true;
                out.return_code = Some(code(a, 'R', "return reason code")?);
                (RETURN_ADDENDA, a.trimmed(36, 79))
            }
            "98" => {
                code(a, 'C', "change code")?;
                (CHANGE_ADDENDA, a.trimmed(36, 64))
            }
            "05" => (REMITTANCE_ADDENDA, a.trimmed(4, 83)),
            other => {
                return a.refuse(format!(
                    "addenda type {other:?} is not read; a return file's addenda are of type \
                     05, 98 or 99"
                ))
            }
        };
        if kind != "05" {
            if a.at(80, 94) != trace {
                return a.refuse(format!(
                    "the addenda's trace number {:?} is not its entry's, {trace:?}",
                    a.at(80, 94)
                ));
            }
            let original = a.trimmed(7, 21);
            if original.is_empty() {
                return a.refuse("the original entry trace number (positions 7 to 21) is blank");
            }
            out.original_trace = Some(original.to_string());
        }
        if !information.is_empty() {
            out.information.push(information.to_string());
        }
        out.fields.push(Value::Object(a.fields(layout)));
    }
    Ok(out)
}

/// An entry detail record and its addenda, as an [`Entry`].
fn entry(
    r: Record<'_>,
    records: &[Record<'_>],
    batch: &Batch<'_>,
    file: &Value,
) -> Result<Entry, FileError> {
    let cents = r.number(30, 39, "amount")?;
    let trace = r.at(80, 94);
    r.number(80, 94, "trace number")?;
    let addenda = addenda(r, records)?;
    let kind = if addenda.is_return && cents > 0 {
        EntryKind::Return
    } else {
        EntryKind::Other
    };
    let mut text = addenda.information;
    if !batch.description.is_empty() {
        text.push(batch.description.to_string());
    }
    let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    let mut raw = r.fields(ENTRY_DETAIL);
    raw.insert("addenda".into(), Value::Array(addenda.fields));
    raw.insert("batch".into(), batch.fields.clone());
    raw.insert("file".into(), file.clone());
    Ok(Entry {
        location: format!("line {}", r.line),
        identity: format!("nacha:{trace}"),
        kind,
        amount: from_minor(cents as i64, 2),
        currency: Some("USD".into()),
        value_date: Some(batch.effective),
        method: PaymentMethod::Ach,
        bank_reference: Some(trace.to_string()),
        payer_name: some(r.trimmed(55, 76)),
        payer_account: some(r.trimmed(13, 29)),
        text: text.join("; "),
        remittance: Vec::new(),
        returned_reference: addenda.original_trace.filter(|_| addenda.is_return),
        return_code: addenda.return_code,
        raw: crate::bank_files::RawFields::of(&Value::Object(raw)),
    })
}

/// A batch from its header to its control; its entries go to `entries`.
fn batch(
    cursor: &mut Cursor<'_>,
    file: &Value,
    entries: &mut Vec<Entry>,
) -> Result<Totals, FileError> {
    let header = cursor.take(b'5', "a batch header (5)")?;
    let batch = batch_header(header)?;
    let mut t = Totals::default();
    while cursor.peek() == Some(b'6') {
        let detail = cursor.take(b'6', "an entry detail (6)")?;
        let start = cursor.at;
        while cursor.peek() == Some(b'7') {
            cursor.at += 1;
        }
        let addenda = &cursor.records[start..cursor.at];
        let cents = detail.number(30, 39, "amount")?;
        if is_debit(detail)? {
            t.debit += cents;
        } else {
            t.credit += cents;
        }
        t.hash = (t.hash + detail.number(4, 11, "receiving DFI identification")?) % HASH_MODULUS;
        t.records += 1 + addenda.len() as u64;
        entries.push(entry(detail, addenda, &batch, file)?);
    }
    let what = if t.records == 0 {
        "an entry detail (6): a batch has at least one entry"
    } else {
        "an entry detail (6) or the batch control (8)"
    };
    let control = cursor.take(b'8', what)?;
    batch_control(control, &batch, &t)?;
    Ok(t)
}

fn file_header(r: Record<'_>) -> Result<Value, FileError> {
    for (name, from, to, fixed) in [
        ("record size", 35, 37, "094"),
        ("blocking factor", 38, 39, "10"),
        ("format code", 40, 40, "1"),
    ] {
        if r.at(from, to) != fixed {
            return r.refuse(format!(
                "the {name} (positions {from} to {to}) is {:?}; NACHA files have {fixed:?}",
                r.at(from, to)
            ));
        }
    }
    r.date(24, 29, "file creation date")?;
    Ok(Value::Object(r.fields(FILE_HEADER)))
}

/// After the file control: records of all `9`s, filling the last block exactly.
fn padding(records: &[Record<'_>], from: usize) -> Result<(), FileError> {
    for &r in &records[from..] {
        if !r.text.bytes().all(|b| b == b'9') {
            return r.refuse(
                "after the file control, only padding records of ninety-four 9s may follow",
            );
        }
    }
    let padded = records.len() - from;
    if padded == 0 {
        return Ok(());
    }
    let end_of_block = from.div_ceil(BLOCKING_FACTOR) * BLOCKING_FACTOR;
    if let Some(r) = records.get(end_of_block) {
        return r.refuse("padding runs past the block the file control ends");
    }
    if records.len() != end_of_block {
        let last = records[records.len() - 1];
        return last.refuse(format!(
            "the padding leaves the last block with {} records; it fills it to ten",
            records.len() % BLOCKING_FACTOR
        ));
    }
    Ok(())
}

/// Reads a NACHA return file whole into its entries, or refuses it naming the first line that
/// is wrong.
pub fn read(text: &str) -> Result<Vec<Entry>, FileError> {
    let records = records(text)?;
    let mut cursor = Cursor {
        records: &records,
        at: 0,
    };
    let file = file_header(cursor.take(b'1', "the file header (1)")?)?;
    let mut entries = Vec::new();
    let mut totals = Totals::default();
    while cursor.peek() == Some(b'5') {
        let t = batch(&mut cursor, &file, &mut entries)?;
        totals.batches += 1;
        totals.records += t.records;
        totals.hash = (totals.hash + t.hash) % HASH_MODULUS;
        totals.debit += t.debit;
        totals.credit += t.credit;
    }
    let control = cursor.take(b'9', "a batch header (5) or the file control (9)")?;
    padding(&records, cursor.at)?;
    file_control(control, &totals, records.len())?;
    Ok(entries)
}

#[cfg(test)]
mod tests;
