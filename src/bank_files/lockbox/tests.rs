use super::*;
use time::macros::date;

/// Three checks deposited on 24 November: Acme's 1,250.00 paying two invoices in full (its name
/// quoted for its comma, its first memo quoted for its quotes), Globex's 300.00 without
/// remittance, and Initech's 400.00 short-paying an invoice of 450.00 (its memo quoted for its
/// line break, so its row takes lines 5 and 6). The TOTAL row counts three checks of 1,950.00.
const FILE: &str = "\
batch_id,item,deposit_date,check_number,check_amount,currency,payer_name,payer_routing,payer_account,invoice_number,invoice_amount,memo
0042,1,2026-11-24,10231,1250.00,USD,\"Acme, Inc.\",021000021,4455667788,INV-2026-000123,1000.00,\"stub says \"\"final\"\"\"
0042,1,2026-11-24,10231,1250.00,USD,\"Acme, Inc.\",021000021,4455667788,INV-2026-000124,250.00,
0042,2,2026-11-24,5521,300.00,USD,Globex Corporation,026009593,12345,,,no stub
0043,1,2026-11-24,887,400.00,USD,Initech LLC,,00990011,INV-2026-000200,450.00,\"short pay:
damaged goods\"
TOTAL,3,,,1950.00,,,,,,,
";

fn refusal(text: &str) -> String {
    read(text).unwrap_err().to_string()
}

/// The file with the first `from` replaced by `to`.
fn with(from: &str, to: &str) -> String {
    assert!(FILE.contains(from), "{from:?} is not in the file");
    FILE.replacen(from, to, 1)
}

#[test]
fn a_file_of_three_checks_is_read_into_three_credits() {
    let entries = read(FILE).unwrap();
    let seen: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.location.as_str(),
                e.identity.as_str(),
                e.amount,
                e.remittance.len(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "line 2",
                "lockbox:2026-11-24:0042:1",
                Decimal::new(125_000, 2),
                2
            ),
            (
                "line 4",
                "lockbox:2026-11-24:0042:2",
                Decimal::new(30_000, 2),
                0
            ),
            (
                "line 5",
                "lockbox:2026-11-24:0043:1",
                Decimal::new(40_000, 2),
                1
            ),
        ]
    );
    assert!(entries
        .iter()
        .all(|e| e.kind == EntryKind::Credit && e.method == PaymentMethod::Lockbox));
}

#[test]
fn every_field_of_a_check_with_two_invoices_is_read() {
    let entries = read(FILE).unwrap();
    assert_eq!(
        entries[0],
        Entry {
            location: "line 2".into(),
            identity: "lockbox:2026-11-24:0042:1".into(),
            kind: EntryKind::Credit,
            amount: Decimal::new(125_000, 2),
            currency: Some("USD".into()),
            value_date: Some(date!(2026 - 11 - 24)),
            method: PaymentMethod::Lockbox,
            bank_reference: Some("10231".into()),
            payer_name: Some("Acme, Inc.".into()),
            payer_account: Some("021000021/4455667788".into()),
            text: "stub says \"final\"".into(),
            remittance: vec![
                Remitted {
                    invoice_number: "INV-2026-000123".into(),
                    amount: Some(Decimal::new(100_000, 2)),
                },
                Remitted {
                    invoice_number: "INV-2026-000124".into(),
                    amount: Some(Decimal::new(25_000, 2)),
                },
            ],
            returned_reference: None,
            return_code: None,
            raw: crate::bank_files::RawFields::of(&json!({
                "batch_id": "0042",
                "item": "1",
                "deposit_date": "2026-11-24",
                "check_number": "10231",
                "check_amount": "1250.00",
                "currency": "USD",
                "payer_name": "Acme, Inc.",
                "payer_routing": "021000021",
                "payer_account": "4455667788",
                "lines": [
                    {
                        "line": 2,
                        "invoice_number": "INV-2026-000123",
                        "invoice_amount": "1000.00",
                        "memo": "stub says \"final\"",
                    },
                    {
                        "line": 3,
                        "invoice_number": "INV-2026-000124",
                        "invoice_amount": "250.00",
                        "memo": "",
                    },
                ],
            })),
        }
    );
}

#[test]
fn a_check_without_remittance_and_a_short_pay_are_kept_as_written() {
    let entries = read(FILE).unwrap();
    let globex = &entries[1];
    assert_eq!(
        (
            globex.payer_name.as_deref(),
            globex.payer_account.as_deref(),
            globex.bank_reference.as_deref(),
            globex.text.as_str(),
            globex.remittance.as_slice(),
        ),
        (
            Some("Globex Corporation"),
            Some("026009593/12345"),
            Some("5521"),
            "no stub",
            &[][..]
        )
    );
    let initech = &entries[2];
    assert_eq!(
        (
            initech.amount,
            initech.payer_account.as_deref(),
            initech.text.as_str(),
            initech.remittance.as_slice(),
        ),
        (
            Decimal::new(40_000, 2),
            Some("00990011"),
            "short pay:\ndamaged goods",
            &[Remitted {
                invoice_number: "INV-2026-000200".into(),
                amount: Some(Decimal::new(45_000, 2)),
            }][..]
        )
    );
}

#[test]
fn crlf_a_byte_order_mark_and_no_total_row_are_read() {
    let text = format!("\u{feff}{}", FILE.replace('\n', "\r\n"));
    let text = text.replace("TOTAL,3,,,1950.00,,,,,,,\r\n", "");
    let entries = read(&text).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2].text, "short pay:\r\ndamaged goods");
}

#[test]
fn a_header_with_a_renamed_a_missing_or_an_extra_column_is_refused() {
    let exactly = "; the header is exactly batch_id,item,deposit_date,check_number,check_amount,\
                   currency,payer_name,payer_routing,payer_account,invoice_number,invoice_amount,\
                   memo";
    assert_eq!(
        refusal(&with("item,deposit_date", "item,date")),
        format!(
            "line 1: column 3 of the header is \"date\", a column the format does not have (the \
             format has \"deposit_date\" there){exactly}"
        )
    );
    assert_eq!(
        refusal(&with(",payer_routing,", ",")),
        format!("line 1: the header has no column \"payer_routing\"{exactly}")
    );
    assert_eq!(
        refusal(&with(
            "invoice_amount,memo",
            "invoice_amount,memo,reference"
        )),
        format!(
            "line 1: column 13 of the header is \"reference\", a column the format does not \
             have{exactly}"
        )
    );
}

#[test]
fn a_check_whose_amount_differs_between_its_rows_is_refused() {
    let text = with(
        "10231,1250.00,USD,\"Acme, Inc.\",021000021,4455667788,INV-2026-000124",
        "10231,1205.00,USD,\"Acme, Inc.\",021000021,4455667788,INV-2026-000124",
    );
    assert_eq!(
        refusal(&text),
        "line 3: check_amount is \"1205.00\" here but \"1250.00\" on line 2, the check's first \
         row; a check is written the same on each of its rows"
    );
}

#[test]
fn a_bad_deposit_date_is_refused() {
    for (bad, line) in [("2026-02-30", 4), ("24/11/2026", 4), ("2026-11-4", 4)] {
        assert_eq!(
            refusal(&with("0042,2,2026-11-24", &format!("0042,2,{bad}"))),
            format!("line {line}: deposit_date \"{bad}\" is not a date as YYYY-MM-DD")
        );
    }
}

#[test]
fn a_bad_amount_is_refused() {
    let plain = "is not a plain decimal amount (digits, optionally a minus sign and a decimal \
                 point with digits on both sides)";
    for (bad, reason) in [
        ("\"1,950.00\"", format!("check_amount \"1,950.00\" {plain}")),
        ("3e2", format!("check_amount \"3e2\" {plain}")),
        ("+300.00", format!("check_amount \"+300.00\" {plain}")),
        (
            "-300.00",
            "check_amount \"-300.00\" is not more than zero".into(),
        ),
        ("0.00", "check_amount \"0.00\" is not more than zero".into()),
        (
            "300.001",
            "check_amount \"300.001\" has more decimals than USD has (2)".into(),
        ),
        ("", "check_amount is empty".into()),
    ] {
        assert_eq!(
            refusal(&with("5521,300.00", &format!("5521,{bad}"))),
            format!("line 4: {reason}")
        );
    }
    assert_eq!(
        refusal(&with("INV-2026-000200,450.00", "INV-2026-000200,450.5.0")),
        format!("line 5: invoice_amount \"450.5.0\" {plain}")
    );
    assert_eq!(
        refusal(&with(",,,no stub", ",,300.00,no stub")),
        "line 4: invoice_amount \"300.00\" is given without an invoice_number"
    );
}

#[test]
fn a_total_row_that_disagrees_is_refused() {
    assert_eq!(
        refusal(&with("TOTAL,3,,,1950.00", "TOTAL,3,,,1905.00")),
        "line 7: the TOTAL row's check_amount is 1905.00, but the checks add up to 1950.00"
    );
    assert_eq!(
        refusal(&with("TOTAL,3,", "TOTAL,4,")),
        "line 7: the TOTAL row counts 4 checks, but the file has 3"
    );
    assert_eq!(
        refusal(&format!("{FILE}0044,1,2026-11-24,1,1.00,USD,,,,,,\n")),
        "line 8: a row after the TOTAL row of line 7, which is the last"
    );
}

#[test]
fn an_unterminated_quote_is_refused() {
    assert_eq!(
        refusal(&with("damaged goods\"", "damaged goods")),
        "line 5: a quoted field opened on this line is never closed"
    );
    assert_eq!(
        refusal(&with("Globex Corporation", "Globex \"Corp\"")),
        "line 4: a quote inside an unquoted field: a field holding quotes is quoted whole, its \
         quotes doubled"
    );
}

#[test]
fn a_row_with_the_wrong_number_of_fields_is_refused() {
    assert_eq!(
        refusal(&with(",,,no stub", ",,no stub")),
        "line 4: the row has 11 fields where the header has 12"
    );
    assert_eq!(
        refusal(&with("TOTAL", "\nTOTAL")),
        "line 7: the row has 1 field where the header has 12"
    );
}

#[test]
fn the_rows_of_a_check_are_together_and_each_names_an_invoice() {
    let text = format!(
        "{}0042,1,2026-11-24,10231,1250.00,USD,x,,,INV-1,1.00,\n",
        FILE.replace("TOTAL,3,,,1950.00,,,,,,,\n", "")
    );
    assert_eq!(
        refusal(&text),
        "line 7: batch \"0042\" item \"1\" of 2026-11-24 began on line 2; the rows of a check \
         follow each other"
    );
    let next_day = text.replace(
        "0042,1,2026-11-24,10231,1250.00,USD,x,",
        "0042,1,2026-11-25,10231,1250.00,USD,x,",
    );
    let entries = read(&next_day).unwrap();
    assert_eq!(entries[3].identity, "lockbox:2026-11-25:0042:1");
    let text = with(
        "no stub\n",
        "no stub\n0042,2,2026-11-24,5521,300.00,USD,Globex Corporation,026009593,12345,INV-9,,\n",
    );
    assert_eq!(
        refusal(&text),
        "line 5: the check on line 4 names no invoice, so it has no other row"
    );
    assert_eq!(
        refusal(&with("4455667788,INV-2026-000124,250.00", "4455667788,,")),
        "line 3: invoice_number is empty on a row of a check of several rows"
    );
}

#[test]
fn a_missing_or_unknown_currency_is_refused() {
    assert_eq!(
        refusal(&with("5521,300.00,USD", "5521,300.00,")),
        "line 4: currency is empty; the format has no default currency"
    );
    assert_eq!(
        refusal(&with("5521,300.00,USD", "5521,300.00,usd")),
        "line 4: currency \"usd\" is not an ISO 4217 code this service knows"
    );
}
