use super::*;
use rust_decimal::Decimal;
use time::macros::date;

/// A field at positions `from` to `to` (1-based, both included): a number, zero-filled and
/// right-justified, or text, left-justified and blank-filled, as the specification has them.
enum F<'a> {
    N(usize, usize, u64),
    A(usize, usize, &'a str),
}

/// A record of type `kind` with its fields at their positions, blank elsewhere.
fn record(kind: char, fields: &[F<'_>]) -> String {
    let mut out = vec![b' '; 94];
    out[0] = kind as u8;
    let mut end = 1;
    for field in fields {
        let (from, to, text) = match *field {
            F::N(from, to, n) => (from, to, format!("{n:0width$}", width = to - from + 1)),
            F::A(from, to, s) => (from, to, format!("{s:<width$}", width = to - from + 1)),
        };
        assert!(from > end, "the field at {from} overlaps the one before it");
        assert_eq!(
            text.len(),
            to - from + 1,
            "{text:?} does not fit {from} to {to}"
        );
        out[from - 1..to].copy_from_slice(text.as_bytes());
        end = to;
    }
    let record = String::from_utf8(out).unwrap();
    assert_eq!(record.len(), 94);
    record
}

fn file_header() -> String {
    record(
        '1',
        &[
            F::N(2, 3, 1),
            F::A(4, 13, " 123456789"),
            F::A(14, 23, " 091000019"),
            F::N(24, 29, 261124),
            F::N(30, 33, 600),
            F::A(34, 34, "A"),
            F::N(35, 37, 94),
            F::N(38, 39, 10),
            F::N(40, 40, 1),
            F::A(41, 63, "ACME RECEIVABLES"),
            F::A(64, 86, "FIRST NATIONAL BANK"),
        ],
    )
}

fn batch_header(class: u64, sec: &str, description: &str, effective: u64, number: u64) -> String {
    record(
        '5',
        &[
            F::N(2, 4, class),
            F::A(5, 20, "ACME RECEIVABLES"),
            F::A(41, 50, "1234567890"),
            F::A(51, 53, sec),
            F::A(54, 63, description),
            F::A(64, 69, "NOV 26"),
            F::N(70, 75, effective),
            F::A(79, 79, "1"),
            F::N(80, 87, 9100001),
            F::N(88, 94, number),
        ],
    )
}

/// An entry detail whose receiving DFI is the originator's bank (09100001), as in a return.
fn detail(code: u64, account: &str, cents: u64, name: &str, trace: u64) -> String {
    record(
        '6',
        &[
            F::N(2, 3, code),
            F::N(4, 11, 9100001),
            F::N(12, 12, 9),
            F::A(13, 29, account),
            F::N(30, 39, cents),
            F::A(40, 54, "CUST-0042"),
            F::A(55, 76, name),
            F::N(79, 79, 1),
            F::N(80, 94, trace),
        ],
    )
}

fn returned(reason: &str, original: u64, rdfi: u64, information: &str, trace: u64) -> String {
    record(
        '7',
        &[
            F::A(2, 3, "99"),
            F::A(4, 6, reason),
            F::N(7, 21, original),
            F::N(28, 35, rdfi),
            F::A(36, 79, information),
            F::N(80, 94, trace),
        ],
    )
}

fn change(code: &str, original: u64, rdfi: u64, corrected: &str, trace: u64) -> String {
    record(
        '7',
        &[
            F::A(2, 3, "98"),
            F::A(4, 6, code),
            F::N(7, 21, original),
            F::N(28, 35, rdfi),
            F::A(36, 64, corrected),
            F::N(80, 94, trace),
        ],
    )
}

fn batch_control(class: u64, count: u64, hash: u64, debit: u64, credit: u64, n: u64) -> String {
    record(
        '8',
        &[
            F::N(2, 4, class),
            F::N(5, 10, count),
            F::N(11, 20, hash),
            F::N(21, 32, debit),
            F::N(33, 44, credit),
            F::A(45, 54, "1234567890"),
            F::N(80, 87, 9100001),
            F::N(88, 94, n),
        ],
    )
}

fn file_control(
    batches: u64,
    blocks: u64,
    count: u64,
    hash: u64,
    debit: u64,
    credit: u64,
) -> String {
    record(
        '9',
        &[
            F::N(2, 7, batches),
            F::N(8, 13, blocks),
            F::N(14, 21, count),
            F::N(22, 31, hash),
            F::N(32, 43, debit),
            F::N(44, 55, credit),
        ],
    )
}

/// The records of a return file, a line each: a batch of returned debits (an R01 of 1,250.00
/// and a notification of change, which moves no money) and a batch of one returned credit (an
/// R03 of 480.50). Every entry's receiving DFI is 09100001, so the first batch's hash is
/// 18200002, the second's 9100001, the file's 27300003. Twelve records make two blocks.
fn lines() -> Vec<String> {
    vec![
        file_header(),
        batch_header(200, "PPD", "INVOICES", 261124, 1),
        detail(
            26,
            "123456789",
            125_000,
            "GLOBEX CORPORATION",
            91000010000001,
        ),
        returned(
            "R01",
            123456780000123,
            2100002,
            "INSUFFICIENT FUNDS",
            91000010000001,
        ),
        detail(26, "5550001", 0, "UMBRELLA CORP", 91000010000002),
        change(
            "C01",
            123456780000125,
            7100005,
            "1234567890123",
            91000010000002,
        ),
        batch_control(200, 4, 18200002, 125_000, 0, 1),
        batch_header(220, "CCD", "REFUND", 261125, 2),
        detail(21, "98765", 48_050, "INITECH LLC", 91000010000003),
        returned("R03", 123456780000124, 6100001, "", 91000010000003),
        batch_control(220, 2, 9100001, 0, 48_050, 2),
        file_control(2, 2, 6, 27300003, 125_000, 48_050),
    ]
}

/// The records, padded with records of 9s to whole blocks of ten.
fn file(mut lines: Vec<String>) -> String {
    while lines.len() % 10 != 0 {
        lines.push("9".repeat(94));
    }
    lines.join("\n") + "\n"
}

/// Overwrites a record from position `from` (1-based).
fn patch(record: &mut String, from: usize, value: &str) {
    record.replace_range(from - 1..from - 1 + value.len(), value);
}

fn refusal(lines: Vec<String>) -> String {
    read(&file(lines)).unwrap_err().to_string()
}

#[test]
fn a_file_of_two_returns_and_a_notification_of_change_is_read() {
    let entries = read(&file(lines())).unwrap();
    let seen: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.location.as_str(),
                e.kind,
                e.amount,
                e.return_code.as_deref(),
                e.returned_reference.as_deref(),
                e.value_date,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "line 3",
                EntryKind::Return,
                Decimal::new(125_000, 2),
                Some("R01"),
                Some("123456780000123"),
                Some(date!(2026 - 11 - 24))
            ),
            (
                "line 5",
                EntryKind::Other,
                Decimal::ZERO,
                None,
                None,
                Some(date!(2026 - 11 - 24))
            ),
            (
                "line 9",
                EntryKind::Return,
                Decimal::new(48_050, 2),
                Some("R03"),
                Some("123456780000124"),
                Some(date!(2026 - 11 - 25))
            ),
        ]
    );
    assert_eq!(entries[1].text, "1234567890123; INVOICES");
    assert_eq!(entries[1].raw.value()["addenda"][0]["change_code"], "C01");
    assert_eq!(entries[2].text, "REFUND");
}

#[test]
fn every_field_of_a_return_is_read() {
    let entries = read(&file(lines())).unwrap();
    assert_eq!(
        entries[0],
        Entry {
            location: "line 3".into(),
            identity: "nacha:091000010000001".into(),
            kind: EntryKind::Return,
            amount: Decimal::new(125_000, 2),
            currency: Some("USD".into()),
            value_date: Some(date!(2026 - 11 - 24)),
            method: PaymentMethod::Ach,
            bank_reference: Some("091000010000001".into()),
            payer_name: Some("GLOBEX CORPORATION".into()),
            payer_account: Some("123456789".into()),
            text: "INSUFFICIENT FUNDS; INVOICES".into(),
            remittance: vec![],
            returned_reference: Some("123456780000123".into()),
            return_code: Some("R01".into()),
            raw: crate::bank_files::RawFields::of(&json!({
                "transaction_code": "26",
                "receiving_dfi_identification": "09100001",
                "check_digit": "9",
                "dfi_account_number": "123456789",
                "amount": "0000125000",
                "individual_identification_number": "CUST-0042",
                "individual_name": "GLOBEX CORPORATION",
                "discretionary_data": "",
                "addenda_record_indicator": "1",
                "trace_number": "091000010000001",
                "addenda": [{
                    "addenda_type_code": "99",
                    "return_reason_code": "R01",
                    "original_entry_trace_number": "123456780000123",
                    "date_of_death": "",
                    "original_receiving_dfi_identification": "02100002",
                    "addenda_information": "INSUFFICIENT FUNDS",
                    "trace_number": "091000010000001",
                }],
                "batch": {
                    "service_class_code": "200",
                    "company_name": "ACME RECEIVABLES",
                    "company_discretionary_data": "",
                    "company_identification": "1234567890",
                    "standard_entry_class_code": "PPD",
                    "company_entry_description": "INVOICES",
                    "company_descriptive_date": "NOV 26",
                    "effective_entry_date": "261124",
                    "settlement_date": "",
                    "originator_status_code": "1",
                    "originating_dfi_identification": "09100001",
                    "batch_number": "0000001",
                },
                "file": {
                    "priority_code": "01",
                    "immediate_destination": "123456789",
                    "immediate_origin": "091000019",
                    "file_creation_date": "261124",
                    "file_creation_time": "0600",
                    "file_id_modifier": "A",
                    "immediate_destination_name": "ACME RECEIVABLES",
                    "immediate_origin_name": "FIRST NATIONAL BANK",
                    "reference_code": "",
                },
            })),
        }
    );
}

#[test]
fn crlf_line_ends_are_read_and_a_file_without_padding_too() {
    let lines = lines();
    let crlf = lines.join("\r\n") + "\r\n";
    assert_eq!(read(&crlf).unwrap(), read(&file(lines.clone())).unwrap());
}

#[test]
fn a_record_of_93_characters_is_refused() {
    let mut lines = lines();
    lines[3].pop();
    assert_eq!(
        refusal(lines),
        "line 4: a NACHA record is 94 characters long; this one has 93"
    );
}

#[test]
fn a_batch_whose_entry_hash_disagrees_is_refused() {
    let mut lines = lines();
    patch(&mut lines[6], 11, "0018200003");
    assert_eq!(
        refusal(lines),
        "line 7: the entry hash (positions 11 to 20) says 18200003, but the batch's entries make \
         18200002"
    );
}

#[test]
fn a_batch_whose_debit_total_disagrees_is_refused() {
    let mut lines = lines();
    patch(&mut lines[6], 21, "000000125001");
    assert_eq!(
        refusal(lines),
        "line 7: the total debit amount in cents (positions 21 to 32) says 125001, but the \
         batch's debits make 125000"
    );
}

#[test]
fn a_file_whose_entry_count_disagrees_is_refused() {
    let mut lines = lines();
    patch(&mut lines[11], 14, "00000007");
    assert_eq!(
        refusal(lines),
        "line 12: the entry/addenda count (positions 14 to 21) says 7, but the file has 6"
    );
}

#[test]
fn a_wrong_block_count_is_refused() {
    let mut lines = lines();
    patch(&mut lines[11], 8, "000001");
    assert_eq!(
        refusal(lines),
        "line 12: the block count (positions 8 to 13) says 1, but the file's 20 records, ten \
         to a block, make 2"
    );
}

#[test]
fn an_addenda_indicator_without_an_addenda_is_refused() {
    let mut lines = lines();
    lines.remove(3);
    assert_eq!(
        refusal(lines),
        "line 3: the addenda record indicator (position 79) is 1, but no addenda (7) follows \
         the entry"
    );
}

#[test]
fn an_addenda_after_an_indicator_of_0_is_refused() {
    let mut lines = lines();
    patch(&mut lines[2], 79, "0");
    assert_eq!(
        refusal(lines),
        "line 4: an addenda (7) follows an entry whose addenda record indicator (position 79) \
         is 0"
    );
}

#[test]
fn a_return_code_not_r_and_two_digits_is_refused() {
    let mut lines = lines();
    patch(&mut lines[3], 4, "X01");
    assert_eq!(
        refusal(lines),
        "line 4: the return reason code (positions 4 to 6) is \"X01\", which is not R and two \
         digits"
    );
}

#[test]
fn an_impossible_effective_date_is_refused() {
    let mut lines = lines();
    patch(&mut lines[7], 70, "261131");
    assert_eq!(
        refusal(lines),
        "line 8: the effective entry date \"261131\" is not a date as YYMMDD"
    );
}

#[test]
fn records_out_of_order_are_refused() {
    let mut lines = lines();
    lines.remove(1);
    assert_eq!(
        refusal(lines),
        "line 2: expected a batch header (5) or the file control (9), found a 6 record"
    );
}

#[test]
fn padding_past_the_last_block_is_refused() {
    let mut text = file(lines());
    text.push_str(&format!("{}\n", "9".repeat(94)).repeat(10));
    assert_eq!(
        read(&text).unwrap_err().to_string(),
        "line 21: padding runs past the block the file control ends"
    );
}
