use super::*;

#[test]
fn a_file_that_is_not_well_formed_is_refused_where_it_breaks() {
    let broken = edit(
        STATEMENT,
        "STMT-20261123-0001</MsgId>",
        "STMT-20261123-0001</GrpHdr>",
    );
    refused(
        &broken,
        CamtKind::Statement,
        "Document/BkToCstmrStmt/GrpHdr/MsgId",
        &["not well-formed", "MsgId", "GrpHdr"],
    );
    let cut = &STATEMENT[..STATEMENT.find("<CdtDbtInd>DBIT").unwrap()];
    refused(
        cut,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[4]"),
        &["ends before Ntry is closed"],
    );
    let entity = edit(STATEMENT, "Globex &amp; Co", "Globex &nbsp; Co");
    refused(
        &entity,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[2]/NtryDtls[1]/TxDtls[1]/RltdPties/Dbtr/Pty/Nm"),
        &["&nbsp;", "predefined"],
    );
    let dtd = edit(
        STATEMENT,
        "<Document ",
        "<!DOCTYPE Document [<!ENTITY big \"x\">]>\n<Document ",
    );
    refused(&dtd, CamtKind::Statement, "/", &["DOCTYPE"]);
}

#[test]
fn the_wrong_message_for_the_kind_asked_is_refused() {
    refused(
        NOTIFICATION,
        CamtKind::Statement,
        "Document/BkToCstmrDbtCdtNtfctn",
        &["BkToCstmrDbtCdtNtfctn", "camt.054", "BkToCstmrStmt"],
    );
    refused(
        STATEMENT,
        CamtKind::Notification,
        "Document/BkToCstmrStmt",
        &["BkToCstmrStmt", "camt.053", "BkToCstmrDbtCdtNtfctn"],
    );
    let report = edit(STATEMENT, "camt.053.001.08", "camt.052.001.08");
    refused(
        &report,
        CamtKind::Statement,
        "Document",
        &["camt.052.001.08", "camt.053"],
    );
    let later = edit(STATEMENT, "camt.053.001.08", "camt.053.001.13");
    refused(
        &later,
        CamtKind::Statement,
        "Document",
        &["camt.053.001.13", ".02 to .12"],
    );
    let older = edit(STATEMENT, "camt.053.001.08", "camt.053.001.04");
    assert_eq!(
        read(older.as_bytes(), CamtKind::Statement).unwrap().len(),
        6
    );
    let foreign = edit(
        STATEMENT,
        "<TtlCdtNtries>",
        "<TtlCdtNtries xmlns=\"urn:example\">",
    );
    refused(
        &foreign,
        CamtKind::Statement,
        &format!("{STMT}/TxsSummry/TtlCdtNtries"),
        &["urn:example", "namespace"],
    );
    let no_id = edit(STATEMENT, "<MsgId>STMT-20261123-0001</MsgId>", "");
    refused(
        &no_id,
        CamtKind::Statement,
        "Document/BkToCstmrStmt/GrpHdr/MsgId",
        &["message id", "missing"],
    );
}

#[test]
fn a_summary_that_disagrees_with_the_entries_is_refused() {
    let summary = format!("{STMT}/TxsSummry");
    let cases = [
        (
            "<Sum>3069.99</Sum>",
            "<Sum>3069.98</Sum>",
            "TtlNtries/Sum",
            ["3069.98", "3069.99"],
        ),
        (
            "<NbOfNtries>5</NbOfNtries>",
            "<NbOfNtries>6</NbOfNtries>",
            "TtlNtries/NbOfNtries",
            ["6", "5"],
        ),
        (
            "<Sum>2649.99</Sum>",
            "<Sum>2550.00</Sum>",
            "TtlCdtNtries/Sum",
            ["2550.00", "2649.99"],
        ),
        (
            "<NbOfNtries>1</NbOfNtries>",
            "<NbOfNtries>2</NbOfNtries>",
            "TtlDbtNtries/NbOfNtries",
            ["2", "1"],
        ),
        (
            "<Amt>2229.99</Amt>",
            "<Amt>2130.00</Amt>",
            "TtlNtries/TtlNetNtry/Amt",
            ["2130.00", "2229.99"],
        ),
    ];
    for (from, to, element, figures) in cases {
        let name = element.split('/').next().unwrap();
        let mut words = vec![name];
        words.extend(figures);
        refused(
            &edit(STATEMENT, from, to),
            CamtKind::Statement,
            &format!("{summary}/{element}"),
            &words,
        );
    }
    let notification = edit(NOTIFICATION, "<Sum>2300.00</Sum>", "<Sum>2299.00</Sum>");
    refused(
        &notification,
        CamtKind::Notification,
        "Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/TxsSummry/TtlNtries/Sum",
        &["2299.00", "2300.00"],
    );
}

#[test]
fn transactions_that_do_not_add_up_to_their_entry_are_refused() {
    let less = edit(
        STATEMENT,
        "<Amt Ccy=\"EUR\">500.00</Amt>",
        "<Amt Ccy=\"EUR\">400.00</Amt>",
    );
    refused(
        &less,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[2]/Amt"),
        &["800.00", "700.00", "TxDtls"],
    );
    let count = edit(STATEMENT, "<NbOfTxs>2</NbOfTxs>", "<NbOfTxs>3</NbOfTxs>");
    refused(
        &count,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[2]/NtryDtls[1]/Btch/NbOfTxs"),
        &["NbOfTxs", "3", "2 TxDtls"],
    );
    let unsplit = edit(STATEMENT, "<Amt Ccy=\"EUR\">500.00</Amt>", "");
    refused(
        &unsplit,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[2]/NtryDtls[1]/TxDtls[2]"),
        &["2 transactions", "no amount"],
    );
}

#[test]
fn an_amount_is_more_than_zero_with_its_currencys_decimals() {
    let at = format!("{STMT}/Ntry[1]/Amt");
    let first = "<Amt Ccy=\"EUR\">1500.00</Amt>";
    for (amount, words) in [
        ("1500.001", ["3 decimals", "EUR has 2 decimals"]),
        ("0.00", ["0.00", "not more than zero"]),
        ("-1500.00", ["-1500.00", "not more than zero"]),
        ("1,500.00", ["1,500.00", "not a plain decimal"]),
        ("1.5e3", ["1.5e3", "not a plain decimal"]),
    ] {
        let bad = edit(
            STATEMENT,
            first,
            &format!("<Amt Ccy=\"EUR\">{amount}</Amt>"),
        );
        refused(&bad, CamtKind::Statement, &at, &words);
    }
    let yen = edit(
        STATEMENT_V02,
        "<Amt Ccy=\"USD\">25.00</Amt>",
        "<Amt Ccy=\"JPY\">25.5</Amt>",
    );
    refused(
        &yen,
        CamtKind::Statement,
        "Document/BkToCstmrStmt/Stmt[1]/Ntry[3]/Amt",
        &["25.5 has 1 decimal;", "JPY has 0 decimals"],
    );
}

#[test]
fn an_unknown_currency_is_refused() {
    let unknown = edit(
        STATEMENT,
        "<Amt Ccy=\"EUR\">1500.00",
        "<Amt Ccy=\"XYZ\">1500.00",
    );
    refused(
        &unknown,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[1]/Amt"),
        &["\"XYZ\"", "currency"],
    );
    let other = edit(STATEMENT, "<RmtdAmt Ccy=\"EUR\">", "<RmtdAmt Ccy=\"USD\">");
    refused(
        &other,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[1]/NtryDtls[1]/TxDtls[1]/RmtInf/Strd[1]/RfrdDocAmt/RmtdAmt"),
        &["USD", "entry's currency EUR"],
    );
}

#[test]
fn an_entry_without_what_it_must_say_is_refused() {
    let status = edit(STATEMENT, "<Cd>BOOK</Cd>", "<Cd></Cd>");
    refused(
        &status,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[1]/Sts"),
        &["status"],
    );
    let side = edit(
        STATEMENT,
        "<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>",
        "<CdtDbtInd>CR</CdtDbtInd>\n        <Sts>",
    );
    refused(
        &side,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[1]/CdtDbtInd"),
        &["\"CR\"", "CRDT or DBIT"],
    );
    let day = edit(STATEMENT, "<Dt>2026-11-25</Dt>", "<Dt>2026-11-31</Dt>");
    refused(
        &day,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[5]/ValDt/Dt"),
        &["2026-11-31", "not a date"],
    );
    let twice = edit(
        STATEMENT,
        "<NtryRef>1</NtryRef>",
        "<NtryRef>1</NtryRef><NtryRef>1b</NtryRef>",
    );
    refused(
        &twice,
        CamtKind::Statement,
        &format!("{STMT}/Ntry[1]/NtryRef"),
        &["twice"],
    );
}
