use super::*;
use crate::bank_files::{EntryKind, Remitted};
use crate::payments::model::PaymentMethod;
use serde_json::json;
use time::macros::date;

/// camt.053.001.08, one day of a euro account: five entries (see the file's comment).
const STATEMENT: &str = include_str!("tests/camt053_v08.xml");
/// camt.054.001.08, the intraday notification of the statement's first two entries.
const NOTIFICATION: &str = include_str!("tests/camt054_v08.xml");
/// camt.053.001.02, a dollar account: a lockbox deposit, a wire paid out, a fee reversal.
const STATEMENT_V02: &str = include_str!("tests/camt053_v02.xml");

const ACCOUNT: &str = "DE89370400440532013000";
const STMT: &str = "Document/BkToCstmrStmt/Stmt[1]";

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn statement() -> Vec<Entry> {
    read(STATEMENT.as_bytes(), CamtKind::Statement).unwrap()
}

/// The document with its first `from` made `to`.
fn edit(xml: &str, from: &str, to: &str) -> String {
    assert!(xml.contains(from), "the fixture has no {from:?}");
    xml.replacen(from, to, 1)
}

/// Reads `xml` expecting a refusal at `location` whose reason says each of `words`.
fn refused(xml: &str, kind: CamtKind, location: &str, words: &[&str]) {
    let error = read(xml.as_bytes(), kind).unwrap_err();
    assert_eq!(error.location, location, "{error}");
    for word in words {
        assert!(error.reason.contains(word), "{error} does not say {word:?}");
    }
}

/// The fields the statement's entries share, for the tests to override.
fn booked_credit(location: &str, identity: &str, amount: &str, raw: serde_json::Value) -> Entry {
    Entry {
        location: format!("{STMT}/{location}"),
        identity: format!("camt:{ACCOUNT}:{identity}"),
        kind: EntryKind::Credit,
        amount: d(amount),
        currency: Some("EUR".into()),
        value_date: Some(date!(2026 - 11 - 23)),
        method: PaymentMethod::Wire,
        bank_reference: None,
        payer_name: None,
        payer_account: None,
        text: String::new(),
        remittance: Vec::new(),
        returned_reference: None,
        return_code: None,
        raw: crate::bank_files::RawFields::of(&raw),
    }
}

#[test]
fn a_statement_gives_one_entry_per_transaction() {
    let entries = statement();
    let locations: Vec<&str> = entries.iter().map(|e| e.location.as_str()).collect();
    assert_eq!(
        locations,
        [
            format!("{STMT}/Ntry[1]/NtryDtls[1]/TxDtls[1]"),
            format!("{STMT}/Ntry[2]/NtryDtls[1]/TxDtls[1]"),
            format!("{STMT}/Ntry[2]/NtryDtls[1]/TxDtls[2]"),
            format!("{STMT}/Ntry[3]/NtryDtls[1]/TxDtls[1]"),
            format!("{STMT}/Ntry[4]/NtryDtls[1]/TxDtls[1]"),
            format!("{STMT}/Ntry[5]"),
        ]
    );
}

#[test]
fn a_credit_pays_two_invoices_by_its_structured_remittance() {
    let entry = &statement()[0];
    let expected = Entry {
        method: PaymentMethod::Ach,
        bank_reference: Some("E2E-ACME-0001".into()),
        payer_name: Some("ACME GmbH".into()),
        payer_account: Some("DE44500105175407324931".into()),
        remittance: vec![
            Remitted {
                invoice_number: "INV-2026-000123".into(),
                amount: Some(d("1000.00")),
            },
            Remitted {
                invoice_number: "INV-2026-000124".into(),
                amount: Some(d("500.00")),
            },
        ],
        ..booked_credit(
            "Ntry[1]/NtryDtls[1]/TxDtls[1]",
            "TX-0001",
            "1500.00",
            json!({
                "MsgId": "STMT-20261123-0001", "Acct": ACCOUNT, "NtryRef": "1",
                "Amt": "1500.00", "Ccy": "EUR", "CdtDbtInd": "CRDT", "Sts": "BOOK",
                "BookgDt": "2026-11-23", "ValDt": "2026-11-23", "AcctSvcrRef": "2026112300001",
                "BkTxCd": "PMNT/RCDT/ESCT", "Prtry": "NTRF+166",
                "TxDtls": 1, "TxAmt": "1500.00", "EndToEndId": "E2E-ACME-0001",
                "InstrId": "ACME-PAY-77", "Refs/AcctSvcrRef": "TX-0001",
                "Dbtr": "ACME GmbH", "DbtrAcct": "DE44500105175407324931",
                "Strd": [
                    { "Nb": "INV-2026-000123", "Amt": "1000.00" },
                    { "Nb": "INV-2026-000124", "Amt": "500.00" },
                ],
            }),
        )
    };
    assert_eq!(*entry, expected);
    assert_eq!(entry.amount.to_string(), "1500.00");
}

#[test]
fn a_batch_entry_gives_each_transaction_its_amount_and_identity() {
    let entries = statement();
    let ntry = json!({
        "MsgId": "STMT-20261123-0001", "Acct": ACCOUNT, "NtryRef": "2", "Amt": "800.00",
        "Ccy": "EUR", "CdtDbtInd": "CRDT", "Sts": "BOOK", "BookgDt": "2026-11-23",
        "ValDt": "2026-11-23", "AcctSvcrRef": "2026112300002", "BkTxCd": "PMNT/RCDT/DMCT",
        "AddtlNtryInf": "SAMMLER-GUTSCHRIFT",
    });
    let with = |fields: serde_json::Value| {
        let mut raw = ntry.clone();
        for (k, v) in fields.as_object().unwrap() {
            raw[k] = v.clone();
        }
        raw
    };
    assert_eq!(
        entries[1],
        Entry {
            bank_reference: Some("E2E-GLOBEX-1".into()),
            payer_name: Some("Globex & Co".into()),
            payer_account: Some("00123456".into()),
            text: "INV-2026-000200 SAMMLER-GUTSCHRIFT".into(),
            ..booked_credit(
                "Ntry[2]/NtryDtls[1]/TxDtls[1]",
                "2026112300002/1",
                "300.00",
                with(json!({
                    "TxDtls": 1, "TxAmt": "300.00", "EndToEndId": "E2E-GLOBEX-1",
                    "Dbtr": "Globex & Co", "DbtrAcct": "00123456",
                    "Ustrd": ["INV-2026-000200"],
                })),
            )
        }
    );
    // No end-to-end id: the bank's reference of the entry is the transaction's.
    assert_eq!(
        entries[2],
        Entry {
            bank_reference: Some("2026112300002".into()),
            payer_name: Some("Soylent Corp".into()),
            text: "INV-2026-000201 INV-2026-000202 SAMMLER-GUTSCHRIFT".into(),
            ..booked_credit(
                "Ntry[2]/NtryDtls[1]/TxDtls[2]",
                "2026112300002/2",
                "500.00",
                with(json!({
                    "TxDtls": 2, "TxAmt": "500.00", "EndToEndId": "NOTPROVIDED",
                    "InstrId": "SOYL-991", "Dbtr": "Soylent Corp",
                    "Ustrd": ["INV-2026-000201 INV-2026-000202"],
                })),
            )
        }
    );
}

#[test]
fn an_unstructured_credit_keeps_its_text_and_takes_its_entrys_amount() {
    let entry = &statement()[3];
    let expected = Entry {
        value_date: Some(date!(2026 - 11 - 24)),
        bank_reference: Some("E2E-INITECH-77".into()),
        payer_name: Some("Initech LLC".into()),
        payer_account: Some("GB29NWBK60161331926819".into()),
        text: "Invoice INV-2026-000300 thank you SWIFT MT103".into(),
        ..booked_credit(
            "Ntry[3]/NtryDtls[1]/TxDtls[1]",
            "E2E-INITECH-77",
            "250.00",
            json!({
                "MsgId": "STMT-20261123-0001", "Acct": ACCOUNT, "NtryRef": "3",
                "Amt": "250.00", "Ccy": "EUR", "CdtDbtInd": "CRDT", "Sts": "BOOK",
                "BookgDt": "2026-11-23T10:15:00+01:00", "ValDt": "2026-11-24",
                "BkTxCd": "PMNT/RCDT/XBCT", "TxDtls": 1, "TxAmt": "250.00",
                "EndToEndId": "E2E-INITECH-77", "Dbtr": "Initech LLC",
                "DbtrAcct": "GB29NWBK60161331926819",
                "Ustrd": ["Invoice INV-2026-000300", "thank you"], "AddtlTxInf": "SWIFT MT103",
            }),
        )
    };
    assert_eq!(*entry, expected);
}

#[test]
fn a_returned_direct_debit_names_the_payment_and_the_reason() {
    let entry = &statement()[4];
    let expected = Entry {
        kind: EntryKind::Return,
        method: PaymentMethod::Ach,
        bank_reference: Some("E2E-DD-0042".into()),
        // The return names the original's parties: the payer is its debtor.
        payer_name: Some("Hooli Inc".into()),
        payer_account: Some("FR1420041010050500013M02606".into()),
        text: "RUECKLASTSCHRIFT".into(),
        returned_reference: Some("E2E-DD-0042".into()),
        return_code: Some("AC04".into()),
        ..booked_credit(
            "Ntry[4]/NtryDtls[1]/TxDtls[1]",
            "TX-RTN-9",
            "420.00",
            json!({
                "MsgId": "STMT-20261123-0001", "Acct": ACCOUNT, "NtryRef": "4",
                "Amt": "420.00", "Ccy": "EUR", "CdtDbtInd": "DBIT", "Sts": "BOOK",
                "BookgDt": "2026-11-23", "ValDt": "2026-11-23", "AcctSvcrRef": "2026112300004",
                "BkTxCd": "PMNT/IDDT/UPDD", "TxDtls": 1, "TxAmt": "420.00",
                "EndToEndId": "E2E-DD-0042", "InstrId": "DD-2026-11-0042",
                "Refs/AcctSvcrRef": "TX-RTN-9", "Dbtr": "Hooli Inc",
                "DbtrAcct": "FR1420041010050500013M02606", "RtrInf/Rsn": "AC04",
                "AddtlTxInf": "RUECKLASTSCHRIFT",
            }),
        )
    };
    assert_eq!(*entry, expected);
}

#[test]
fn a_pending_entry_is_kept_but_not_acted_on() {
    let entry = &statement()[5];
    let expected = Entry {
        kind: EntryKind::Other,
        value_date: Some(date!(2026 - 11 - 25)),
        method: PaymentMethod::Check,
        bank_reference: Some("2026112500009".into()),
        text: "CHEQUE 000731 UNDER COLLECTION".into(),
        ..booked_credit(
            "Ntry[5]",
            "2026112500009/1",
            "99.99",
            json!({
                "MsgId": "STMT-20261123-0001", "Acct": ACCOUNT, "NtryRef": "5",
                "Amt": "99.99", "Ccy": "EUR", "CdtDbtInd": "CRDT", "Sts": "PDNG",
                "ValDt": "2026-11-25", "AcctSvcrRef": "2026112500009",
                "BkTxCd": "PMNT/RCHQ/CCHQ", "AddtlNtryInf": "CHEQUE 000731 UNDER COLLECTION",
            }),
        )
    };
    assert_eq!(*entry, expected);
}

#[test]
fn a_notification_and_the_later_statement_give_the_same_identities() {
    let notified = read(NOTIFICATION.as_bytes(), CamtKind::Notification).unwrap();
    let booked = statement();
    let identities =
        |entries: &[Entry]| -> Vec<String> { entries.iter().map(|e| e.identity.clone()).collect() };
    assert_eq!(identities(&notified), identities(&booked[..3]));
    let first = &notified[0];
    assert_eq!(
        (
            first.location.as_str(),
            first.kind,
            first.amount,
            first.value_date
        ),
        (
            "Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/NtryDtls[1]/TxDtls[1]",
            EntryKind::Credit,
            d("1500.00"),
            Some(date!(2026 - 11 - 23))
        )
    );
    assert_eq!(
        first.text,
        "INV-2026-000123 INV-2026-000124 SEPA CREDIT TRANSFER"
    );
    assert_eq!(
        first.raw.value()["BookgDt"],
        "2026-11-23T09:30:12.345+01:00"
    );
    // No value date: the booking date's day stands for it.
    assert_eq!(notified[1].value_date, Some(date!(2026 - 11 - 23)));
    assert_eq!(notified[1].bank_reference.as_deref(), Some("E2E-GLOBEX-1"));
}

#[test]
fn the_first_version_is_read_the_same_way() {
    let entries = read(STATEMENT_V02.as_bytes(), CamtKind::Statement).unwrap();
    assert_eq!(entries.len(), 3);
    let lockbox = &entries[0];
    assert_eq!(
        (
            lockbox.identity.as_str(),
            lockbox.kind,
            lockbox.method,
            lockbox.amount,
            lockbox.currency.as_deref(),
            lockbox.value_date,
            lockbox.bank_reference.as_deref(),
            lockbox.payer_name.as_deref(),
        ),
        (
            "camt:1234567890:LBX-0001",
            EntryKind::Credit,
            PaymentMethod::Lockbox,
            d("3625.50"),
            Some("USD"),
            Some(date!(2026 - 11 - 23)),
            Some("LBX-0001"),
            Some("Acme, Inc."),
        )
    );
    assert_eq!(
        lockbox.remittance,
        [Remitted {
            invoice_number: "INV-2026-000500".into(),
            amount: Some(d("3625.50")),
        }]
    );
    // A wire paid out: the payee is the creditor; kept, not acted on.
    let wire = &entries[1];
    assert_eq!(
        (
            wire.identity.as_str(),
            wire.kind,
            wire.method,
            wire.payer_name.as_deref(),
            wire.payer_account.as_deref(),
            wire.returned_reference.as_deref(),
        ),
        (
            "camt:1234567890:FW2611230007/1",
            EntryKind::Other,
            PaymentMethod::Wire,
            Some("Umbrella Supplies"),
            Some("5550001"),
            None,
        )
    );
    // A fee reversal is money in but no payment, and names no reference: its identity is a
    // digest of what it is, the same each time it is read.
    let reversal = &entries[2];
    assert_eq!(
        (reversal.kind, reversal.method),
        (EntryKind::Other, PaymentMethod::Ach)
    );
    assert_eq!(
        (reversal.text.as_str(), reversal.bank_reference.as_deref()),
        ("FEE REVERSAL", None)
    );
    let digest = reversal
        .identity
        .strip_prefix("camt:1234567890:sha256-")
        .unwrap();
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()));
    let again = read(STATEMENT_V02.as_bytes(), CamtKind::Statement).unwrap();
    assert_eq!(again[2].identity, reversal.identity);
}

#[test]
fn a_return_is_known_by_its_return_information_its_code_or_as_a_reversal() {
    let kind = |xml: &str, i: usize| {
        let entry = &read(xml.as_bytes(), CamtKind::Statement).unwrap()[i];
        (
            entry.kind,
            entry.return_code.clone(),
            entry.returned_reference.clone(),
        )
    };
    let rtr_inf = STATEMENT.find("            <RtrInf>").unwrap();
    let rtr_inf_end = STATEMENT.find("</RtrInf>\n").unwrap() + "</RtrInf>\n".len();
    let by_code = edit(STATEMENT, &STATEMENT[rtr_inf..rtr_inf_end], "");
    let e2e = Some("E2E-DD-0042".to_string());
    assert_eq!(kind(&by_code, 4), (EntryKind::Return, None, e2e.clone()));
    let plain = edit(&by_code, "<SubFmlyCd>UPDD<", "<SubFmlyCd>ESDD<");
    assert_eq!(kind(&plain, 4), (EntryKind::Other, None, None));
    let reversed = edit(
        &plain,
        "<CdtDbtInd>DBIT</CdtDbtInd>\n        <Sts>",
        "<CdtDbtInd>DBIT</CdtDbtInd>\n        <RvslInd>true</RvslInd>\n        <Sts>",
    );
    assert_eq!(kind(&reversed, 4), (EntryKind::Return, None, e2e));
    // Money given back of the holder's own debit is no payment.
    let credit_back = edit(STATEMENT, "<SubFmlyCd>XBCT<", "<SubFmlyCd>RRTN<");
    assert_eq!(kind(&credit_back, 3), (EntryKind::Other, None, None));
}

#[test]
fn two_transactions_alike_keep_two_identities() {
    let start = STATEMENT_V02
        .find("      <Ntry>\n        <Amt Ccy=\"USD\">25.00")
        .unwrap();
    let end = STATEMENT_V02.find("    </Stmt>").unwrap();
    let reversal = &STATEMENT_V02[start..end];
    let twice = edit(STATEMENT_V02, reversal, &reversal.repeat(2));
    let twice = edit(&twice, "<NbOfNtries>3<", "<NbOfNtries>4<");
    let twice = edit(&twice, "<Sum>6250.50<", "<Sum>6275.50<");
    let twice = edit(&twice, "<TtlNetNtryAmt>1050.50<", "<TtlNetNtryAmt>1075.50<");
    let entries = read(twice.as_bytes(), CamtKind::Statement).unwrap();
    let first = &entries[2].identity;
    assert!(first.starts_with("camt:1234567890:sha256-"));
    assert_eq!(entries[3].identity, format!("{first}#2"));
    assert_eq!(
        entries[3].location,
        "Document/BkToCstmrStmt/Stmt[1]/Ntry[4]"
    );
}

/// The files refused, each naming where and why.
mod refusals;
