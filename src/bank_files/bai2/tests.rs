use super::*;
use time::macros::date;

/// One bank, one account, as of 23 November: the opening and closing ledger balances (010,
/// 015), a lockbox deposit whose text holds a comma, a value-dated incoming wire, a returned
/// item whose text goes on in a continuation record, and an information-only record. The
/// account's control total is every amount in its 03 and 16 records: 2,500,000 + 2,612,550 +
/// 150,000 + 362,550 + 100,000 = 5,725,100; it takes 7 physical records (the 88 counts).
const FILE: &str = "01,BANKOFAMER,RECEIVABLES,261124,0600,1124A,80,1,2/
02,RECEIVABLES,026009593,1,261123,2400,USD,2/
03,1234567890,USD,010,+2500000,,,015,+2612550,,/
16,115,150000,0,LBX0001,INV-2026-000123,LOCKBOX DEPOSIT ACME, INC./
16,195,362550,V,261124,0900,FW2611240001,,WIRE FROM GLOBEX CORP REF INV-2026-000200/
16,555,100000,0,RTN0001,,RETURNED ITEM/
88,NSF INSUFFICIENT FUNDS
16,890,,,,,FOR YOUR INFORMATION/
49,+5725100,7/
98,+5725100,1,9/
99,+5725100,1,11/
";

#[test]
fn a_file_is_read_with_its_groups_accounts_and_transactions() {
    let file = parse(FILE).unwrap();
    assert_eq!(
        (
            file.sender.as_str(),
            file.receiver.as_str(),
            file.created,
            file.file_id.as_str()
        ),
        ("BANKOFAMER", "RECEIVABLES", date!(2026 - 11 - 24), "1124A")
    );
    assert_eq!(file.groups.len(), 1);
    let group = &file.groups[0];
    assert_eq!(
        (group.originator.as_str(), group.as_of),
        ("026009593", date!(2026 - 11 - 23))
    );
    let account = &group.accounts[0];
    assert_eq!(
        (account.number.as_str(), account.currency.as_deref()),
        ("1234567890", Some("USD"))
    );
    let t = &account.transactions;
    assert_eq!(t.len(), 4);
    assert_eq!(
        t[0],
        Transaction {
            line: 4,
            type_code: 115,
            direction: Direction::Credit,
            amount_minor: 150_000,
            funds_type: "0".into(),
            value_date: None,
            bank_reference: "LBX0001".into(),
            customer_reference: "INV-2026-000123".into(),
            text: "LOCKBOX DEPOSIT ACME, INC.".into(),
        }
    );
    assert_eq!(
        (
            t[1].direction,
            t[1].amount_minor,
            t[1].value_date,
            t[1].bank_reference.as_str(),
            t[1].customer_reference.as_str()
        ),
        (
            Direction::Credit,
            362_550,
            Some(date!(2026 - 11 - 24)),
            "FW2611240001",
            ""
        )
    );
    assert_eq!(
        (t[2].direction, t[2].type_code, t[2].text.as_str()),
        (
            Direction::Debit,
            555,
            "RETURNED ITEM NSF INSUFFICIENT FUNDS"
        )
    );
    assert_eq!(
        (t[3].direction, t[3].amount_minor, t[3].text.as_str()),
        (Direction::Information, 0, "FOR YOUR INFORMATION")
    );
}

#[test]
fn the_account_currency_falls_back_to_the_group_and_crlf_lines_are_read() {
    let file = FILE
        .replace("03,1234567890,USD,", "03,1234567890,,")
        .replace('\n', "\r\n");
    let file = parse(&file).unwrap();
    assert_eq!(file.groups[0].accounts[0].currency.as_deref(), Some("USD"));
}

fn refused(text: &str) -> Bai2Error {
    parse(text).expect_err("refused")
}

#[test]
fn trailers_that_disagree_with_the_records_are_refused_naming_their_line() {
    let e = refused(&FILE.replace("49,+5725100,7/", "49,+5725000,7/"));
    assert_eq!(e.line, 9);
    assert!(
        e.reason.contains("account control total says 5725000"),
        "{e}"
    );
    let e = refused(&FILE.replace("49,+5725100,7/", "49,+5725100,6/"));
    assert!(e.reason.contains("record count says 6"), "{e}");
    let e = refused(&FILE.replace("98,+5725100,1,9/", "98,+5725100,2,9/"));
    assert_eq!((e.line, e.reason.contains("account count")), (10, true));
    let e = refused(&FILE.replace("99,+5725100,1,11/", "99,+5725100,1,10/"));
    assert_eq!(e.line, 11);
    assert!(e.reason.contains("file's record count says 10"), "{e}");
    let e = refused(&FILE.replace("99,+5725100,1,11/", "99,+5725101,1,11/"));
    assert!(e.reason.contains("file control total"), "{e}");
}

#[test]
fn malformed_records_are_refused_naming_the_line_and_the_field() {
    let cases = [
        ("16,115,150000,0,", "16,11A,150000,0,", 4, "type code"),
        ("16,115,150000,0,", "16,115,1500.00,0,", 4, "amount"),
        ("16,115,150000,0,", "16,115,150000,X,", 4, "funds type"),
        ("V,261124,0900", "V,261131,0900", 5, "value date"),
        (
            "02,RECEIVABLES,026009593,1,261123",
            "02,RECEIVABLES,026009593,1,2611",
            2,
            "as-of date",
        ),
        ("03,1234567890,USD", "03,,USD", 3, "account number"),
        ("16,890,,,,,", "17,890,,,,,", 8, "not a BAI2 record type"),
        (",80,1,2/", ",80,1,3/", 1, "version"),
    ];
    for (from, to, line, what) in cases {
        let e = refused(&FILE.replacen(from, to, 1));
        assert_eq!(e.line, line, "{to}: {e}");
        assert!(e.reason.contains(what), "{to}: {e}");
    }
}

#[test]
fn a_file_out_of_order_or_cut_short_is_refused() {
    let cut: String = FILE.lines().take(8).map(|l| format!("{l}\n")).collect();
    let e = refused(&cut);
    assert!(e.reason.contains("ends before the account trailer"), "{e}");
    let e = refused(&FILE.replacen("01,", "02,", 1));
    assert!(e.reason.contains("file header"), "{e}");
    let e = refused(&format!("{FILE}99,+0,0,2/\n"));
    assert!(e.reason.contains("after the file trailer"), "{e}");
    let e = refused(&format!("88,ORPHAN/\n{FILE}"));
    assert_eq!(e.line, 1);
}

#[test]
fn two_groups_and_two_accounts_add_up_in_their_trailers() {
    let file = "01,B,R,261124,0600,7,,,2/
02,R,O1,1,261123,,USD,2/
03,111,,015,+1000,,/
16,165,250,0,A1,,ACH CREDIT/
49,+1250,3/
03,222,,015,-500,,/
49,-500,2/
98,+750,2,7/
02,R,O2,1,261123,,CAD,2/
03,333,,/
16,475,99,0,C1,,CHECK PAID/
49,+99,3/
98,+99,1,5/
99,+849,2,14/
";
    let file = parse(file).unwrap();
    assert_eq!(file.groups.len(), 2);
    assert_eq!(file.groups[0].accounts.len(), 2);
    assert_eq!(file.groups[1].accounts[0].currency.as_deref(), Some("CAD"));
    assert_eq!(
        file.groups[1].accounts[0].transactions[0].direction,
        Direction::Debit
    );
}
