//! Bank files of each format over HTTP: camt.053 and camt.054 (structured remittance, the
//! same transaction notified then stated), NACHA returns (the payment named is returned and
//! its invoice reopened) and lockbox CSV (remittance lines, a short pay left as a
//! deduction); a malformed file of each format is refused whole.

use serde_json::{json, Value};
use time::Duration;

use crate::bank_files::{books, import, invoice};
use crate::helpers::*;

/// A camt credit transaction: end-to-end id, servicer reference, amount, debtor name, and
/// the structured remittance (invoice number, amount remitted) or unstructured text.
struct Credit<'a> {
    e2e: &'a str,
    reference: &'a str,
    amount: &'a str,
    debtor: &'a str,
    invoices: &'a [(&'a str, &'a str)],
    text: &'a str,
}

fn camt_entry(c: &Credit) -> String {
    let strd: String = c
        .invoices
        .iter()
        .map(|(number, amount)| {
            format!(
                "<Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>{number}</Nb></RfrdDocInf>\
                 <RfrdDocAmt><RmtdAmt Ccy=\"USD\">{amount}</RmtdAmt></RfrdDocAmt></Strd>"
            )
        })
        .collect();
    let ustrd = if c.text.is_empty() {
        String::new()
    } else {
        format!("<Ustrd>{}</Ustrd>", c.text)
    };
    let day = today() - Duration::days(1);
    format!(
        "<Ntry><Amt Ccy=\"USD\">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
         <BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>N-{reference}</AcctSvcrRef>\
         <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>\
         <NtryDtls><TxDtls><Refs><AcctSvcrRef>{reference}</AcctSvcrRef><EndToEndId>{e2e}</EndToEndId></Refs>\
         <Amt Ccy=\"USD\">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>\
         <RltdPties><Dbtr><Pty><Nm>{debtor}</Nm></Pty></Dbtr></RltdPties>\
         <RmtInf>{ustrd}{strd}</RmtInf></TxDtls></NtryDtls></Ntry>",
        amount = c.amount,
        reference = c.reference,
        e2e = c.e2e,
        debtor = c.debtor,
    )
}

/// A camt.053 statement (`notification` false) or camt.054 notification of the credits,
/// with the summary a bank computes.
fn camt(notification: bool, message: &str, credits: &[Credit]) -> String {
    let sum: rust_decimal::Decimal = credits
        .iter()
        .map(|c| c.amount.parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    let (version, root, inner) = if notification {
        ("054", "BkToCstmrDbtCdtNtfctn", "Ntfctn")
    } else {
        ("053", "BkToCstmrStmt", "Stmt")
    };
    let entries: String = credits.iter().map(camt_entry).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.{version}.001.08\"><{root}>\
         <GrpHdr><MsgId>{message}</MsgId><CreDtTm>{today}T06:00:00Z</CreDtTm></GrpHdr>\
         <{inner}><Id>{message}-1</Id><CreDtTm>{today}T06:00:00Z</CreDtTm>\
         <Acct><Id><Othr><Id>1234567890</Id></Othr></Id><Ccy>USD</Ccy></Acct>\
         <TxsSummry><TtlNtries><NbOfNtries>{n}</NbOfNtries><Sum>{sum}</Sum></TtlNtries></TxsSummry>\
         {entries}</{inner}></{root}></Document>",
        today = today(),
        n = credits.len(),
    )
}

async fn rows(app: &TestApp, file: &Value) -> Vec<Value> {
    app.get(
        &format!("/v1/bank-files/{}/transactions", id(file)),
        &billing(),
    )
    .await
    .expect(200)
    .body["data"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_camt_statement_applies_its_structured_remittance_and_a_notified_credit_once() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-8001", "Hooli Inc").await;
    let (a_id, a) = invoice(&app, &b, "1100.00", 30).await;
    let (b_id, bn) = invoice(&app, &b, "500.00", 20).await;
    let (c_id, cn) = invoice(&app, &b, "80.00", 10).await;
    let structured = Credit {
        e2e: "E2E-1",
        reference: "TX-1",
        amount: "1500.00",
        debtor: "Hooli Inc",
        invoices: &[(&a, "1000.00"), (&bn, "500.00")],
        text: "",
    };
    let text = format!("Payment of {}", cn.replace('-', ""));
    let unstructured = Credit {
        e2e: "E2E-2",
        reference: "TX-2",
        amount: "80.00",
        debtor: "Hooli Inc",
        invoices: &[],
        text: &text,
    };
    // The notification of the second credit arrives first.
    let notified = import(
        &app,
        "application/xml",
        "",
        camt(true, "NTF-1", std::slice::from_ref(&unstructured)).into_bytes(),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(notified["format"], "camt054");
    let stated = import(
        &app,
        "application/xml",
        "",
        camt(false, "STMT-1", &[structured, unstructured]).into_bytes(),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(stated["format"], "camt053");
    let r = rows(&app, &stated).await;
    assert_eq!(
        (r[0]["rule"].as_str(), r[0]["confidence"].as_str()),
        (Some("remittance"), Some("1.00"))
    );
    assert_eq!(r[0]["bank_reference"], "E2E-1");
    assert_eq!(r[0]["payer_name"], "Hooli Inc");
    assert_eq!(r[1]["outcome"], "duplicate");
    // 1,000.00 of 1,100.00 remitted: a deduction of 100.00; 500.00 pays the second whole.
    assert_eq!(
        app.value(&format!(
            "SELECT string_agg(status || ' ' || balance_due::numeric(12, 2), ', ' ORDER BY total DESC) FROM invoices WHERE id IN ('{a_id}', '{b_id}', '{c_id}')"
        ))
        .await,
        "open 100.00, paid 0.00, paid 0.00"
    );
    assert_eq!(
        app.value(&format!(
            "SELECT amount::numeric(12, 2)::text FROM deductions WHERE invoice_id = '{a_id}'"
        ))
        .await,
        "100.00"
    );
    assert_eq!(app.count("payments").await, 2);
    // Malformed XML is refused naming where it breaks; nothing is kept.
    let broken = camt(false, "STMT-2", &[]).replace("</GrpHdr>", "</GrpHeader>");
    let refused = import(&app, "application/xml", "", broken.into_bytes())
        .await
        .expect_problem(422, "validation_failed");
    assert!(
        refused.body["errors"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with("Document/BkToCstmrStmt/GrpHdr"),
        "{}",
        refused.body
    );
    assert_eq!(app.count("bank_files").await, 2);
}

/// A NACHA record: `kind`, then (from, to, text) fields, numbers given already zero-filled.
fn record(kind: char, fields: &[(usize, usize, String)]) -> String {
    let mut out = vec![b' '; 94];
    out[0] = kind as u8;
    for (from, to, text) in fields {
        let text = format!("{text:<w$}", w = to - from + 1);
        out[from - 1..*to].copy_from_slice(&text.as_bytes()[..to - from + 1]);
    }
    String::from_utf8(out).unwrap()
}

fn n(value: u64, width: usize) -> String {
    format!("{value:0width$}")
}

/// A return file of one returned debit: the entry of `cents` whose original trace was
/// `original`, returned with `code` as entry `trace`; controls and padding as NACHA has them.
fn nacha(original: u64, cents: u64, code: &str, trace: u64) -> String {
    let created = today();
    let ymd = format!(
        "{:02}{:02}{:02}",
        created.year() % 100,
        u8::from(created.month()),
        created.day()
    );
    let ymd: u64 = ymd.parse().unwrap();
    let lines = vec![
        record(
            '1',
            &[
                (2, 3, n(1, 2)),
                (4, 13, " 123456789".into()),
                (14, 23, " 091000019".into()),
                (24, 29, n(ymd, 6)),
                (30, 33, n(600, 4)),
                (34, 34, "A".into()),
                (35, 37, n(94, 3)),
                (38, 39, n(10, 2)),
                (40, 40, n(1, 1)),
                (41, 63, "ACME RECEIVABLES".into()),
                (64, 86, "FIRST NATIONAL BANK".into()),
            ],
        ),
        record(
            '5',
            &[
                (2, 4, n(225, 3)),
                (5, 20, "ACME RECEIVABLES".into()),
                (41, 50, "1234567890".into()),
                (51, 53, "PPD".into()),
                (54, 63, "INVOICES".into()),
                (70, 75, n(ymd, 6)),
                (79, 79, "1".into()),
                (80, 87, n(9100001, 8)),
                (88, 94, n(1, 7)),
            ],
        ),
        record(
            '6',
            &[
                (2, 3, n(26, 2)),
                (4, 11, n(9100001, 8)),
                (12, 12, n(9, 1)),
                (13, 29, "123456789".into()),
                (30, 39, n(cents, 10)),
                (40, 54, "CUST-0042".into()),
                (55, 76, "GLOBEX CORPORATION".into()),
                (79, 79, n(1, 1)),
                (80, 94, n(trace, 15)),
            ],
        ),
        record(
            '7',
            &[
                (2, 3, "99".into()),
                (4, 6, code.into()),
                (7, 21, n(original, 15)),
                (28, 35, n(2100002, 8)),
                (36, 79, "INSUFFICIENT FUNDS".into()),
                (80, 94, n(trace, 15)),
            ],
        ),
        record(
            '8',
            &[
                (2, 4, n(225, 3)),
                (5, 10, n(2, 6)),
                (11, 20, n(9100001, 10)),
                (21, 32, n(cents, 12)),
                (33, 44, n(0, 12)),
                (45, 54, "1234567890".into()),
                (80, 87, n(9100001, 8)),
                (88, 94, n(1, 7)),
            ],
        ),
        record(
            '9',
            &[
                (2, 7, n(1, 6)),
                (8, 13, n(1, 6)),
                (14, 21, n(2, 8)),
                (22, 31, n(9100001, 10)),
                (32, 43, n(cents, 12)),
                (44, 55, n(0, 12)),
            ],
        ),
    ];
    let mut lines = lines;
    while lines.len() % 10 != 0 {
        lines.push("9".repeat(94));
    }
    lines.join("\n") + "\n"
}

#[tokio::test]
async fn a_nacha_return_returns_the_payment_it_names_and_reopens_its_invoice() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-8002", "Globex Corporation").await;
    let (inv, _) = invoice(&app, &b, "1250.00", 20).await;
    // The configured returned-payment fee's code.
    app.financial_code("4950", "fee").await;
    let payment = app
        .post(
            "/v1/payments",
            &billing(),
            &json!({"account_id": b.account, "amount": "1250.00", "currency": "USD", "method": "ach",
                "reference": "123456780000123", "received_date": (today() - Duration::days(3)).to_string()}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(payment["status"], "applied");
    let imported = import(
        &app,
        "application/vnd.nacha",
        "",
        nacha(123456780000123, 125_000, "R01", 91000010000001).into_bytes(),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(imported["report"]["returns"], 1);
    let r = rows(&app, &imported).await;
    assert_eq!(r[0]["outcome"], "returned");
    assert_eq!(r[0]["return_code"], "R01");
    assert_eq!(r[0]["payment_id"], payment["id"]);
    assert_eq!(
        app.value(&format!(
            "SELECT status || ' ' || return_reason || ' ' || return_code FROM payments WHERE id = '{}'",
            id(&payment)
        ))
        .await,
        "returned nsf R01"
    );
    // The fee is billed on a new invoice.
    assert_eq!(
        app.value(&format!(
            "SELECT i.status || ' ' || i.total::numeric(12, 2) FROM payments p JOIN invoices i ON i.id = p.return_fee_invoice_id WHERE p.id = '{}'",
            id(&payment)
        ))
        .await,
        "open 25.00"
    );
    assert_eq!(
        app.value(&format!(
            "SELECT status || ' ' || balance_due::numeric(12, 2) FROM invoices WHERE id = '{inv}'"
        ))
        .await,
        "open 1250.00"
    );
    // A return naming no payment is kept, unmatched, and returns nothing.
    let stray = import(
        &app,
        "application/vnd.nacha",
        "",
        nacha(999999990000001, 5_000, "R03", 91000010000002).into_bytes(),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(stray["report"]["returns_unmatched"], 1);
    // A record one character short is refused naming its line.
    let short = nacha(123456780000123, 125_000, "R01", 91000010000001).replacen(
        "GLOBEX CORPORATION  ",
        "GLOBEX CORPORATION ",
        1,
    );
    let refused = import(
        &app,
        "application/octet-stream",
        "?format=nacha_returns",
        short.into_bytes(),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["errors"][0]["field"], "line 3");
    assert_eq!(app.count("bank_files").await, 2);
}

#[tokio::test]
async fn a_lockbox_file_applies_each_check_by_its_remittance_lines() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-8003", "Acme, Inc.").await;
    let (a_id, a) = invoice(&app, &b, "700.00", 30).await;
    let (b_id, bn) = invoice(&app, &b, "300.00", 20).await;
    let (_, cn) = invoice(&app, &b, "45.00", 10).await;
    let day = (today() - Duration::days(1)).to_string();
    let header = "batch_id,item,deposit_date,check_number,check_amount,currency,payer_name,payer_routing,payer_account,invoice_number,invoice_amount,memo";
    let csv = format!(
        "{header}\n\
         B1,1,{day},10442,950.00,USD,\"Acme, Inc.\",021000021,555111,{a},650.00,short: damaged\n\
         B1,1,{day},10442,950.00,USD,\"Acme, Inc.\",021000021,555111,{bn},300.00,\n\
         B1,2,{day},10443,45.00,USD,\"Acme, Inc.\",021000021,555111,,,{cn}\n\
         TOTAL,2,,,995.00,,,,,,,\n"
    );
    let imported = import(&app, "text/csv", "", csv.clone().into_bytes())
        .await
        .expect(201)
        .body;
    assert_eq!(imported["format"], "lockbox_csv");
    assert_eq!(imported["report"]["matched"], 2);
    let r = rows(&app, &imported).await;
    assert_eq!(r[0]["rule"], "remittance");
    assert_eq!(r[0]["method"], "lockbox");
    assert_eq!(r[0]["payer_account"], "021000021/555111");
    assert_eq!(r[1]["rule"], "reference");
    assert_eq!(
        app.value(&format!(
            "SELECT string_agg(status || ' ' || balance_due::numeric(12, 2), ', ' ORDER BY total DESC) FROM invoices WHERE id IN ('{a_id}', '{b_id}')"
        ))
        .await,
        "open 50.00, paid 0.00"
    );
    assert_eq!(
        app.value(&format!("SELECT amount::numeric(12, 2)::text FROM deductions WHERE invoice_id = '{a_id}' AND status = 'open'"))
            .await,
        "50.00"
    );
    // The payer's bank account and name are learned from the remittance.
    assert_eq!(
        app.value(
            "SELECT string_agg(kind || ' ' || value, ', ' ORDER BY kind) FROM payer_identities"
        )
        .await,
        "bank_account 021000021555111, name ACME INC"
    );
    // A control row that disagrees refuses the file whole.
    let wrong = csv.replace("TOTAL,2,,,995.00", "TOTAL,2,,,996.00");
    let refused = import(&app, "text/csv", "", wrong.into_bytes())
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["errors"][0]["field"], "line 5");
    let renamed = csv.replace("check_amount", "amount");
    import(&app, "text/csv", "", renamed.into_bytes())
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(app.count("bank_files").await, 1);
    assert_eq!(app.count("payments").await, 2);
}
