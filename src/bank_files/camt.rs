//! ISO 20022 camt.053 (bank-to-customer statement) and camt.054 (bank-to-customer debit/credit
//! notification), versions .001.02 to .001.12, read strictly into [`Entry`] rows.
//!
//! A file is one XML `Document` in the namespace `urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN`
//! (or `camt.054`), holding one message: `BkToCstmrStmt` with its statements (`Stmt`), or
//! `BkToCstmrDbtCdtNtfctn` with its notifications (`Ntfctn`), after a group header whose
//! `MsgId` is required. Each statement or notification is of one account (`Acct/Id/IBAN` or
//! `Acct/Id/Othr/Id`) and lists its entries (`Ntry`): an amount with its currency, credit or
//! debit, a status (only `BOOK` entries are acted on: pending and information entries are
//! kept as [`EntryKind::Other`]), dates, references and a bank transaction code. An entry's
//! details (`NtryDtls/TxDtls`) are its transactions: a batch booked as one entry gives one
//! [`Entry`] per transaction, an entry without details gives one.
//!
//! What the file says of itself is checked, and a file that disagrees with itself is refused
//! whole, naming the element and both figures: a batch's `NbOfTxs` against its transactions,
//! the transactions' amounts against their entry's, and the summary (`TxsSummry`: the count
//! and sum of all entries, of the credits and of the debits, and the net) against the
//! entries. Every amount must be more than zero, in a currency this service knows, with no
//! more decimals than the currency has. Elements are matched by local name, in the
//! document's namespace; no DTD is read.
//!
//! What each transaction becomes:
//! - `kind`: a transaction undoes an earlier one when it carries return information
//!   (`RtrInf`), is a reversal (`RvslInd` true) or its bank transaction code is one of
//!   [`transaction::RETURN_SUB_FAMILIES`]. A booked debit that undoes is a
//!   [`EntryKind::Return`] (a payment received, taken back); a booked credit that does not is
//!   a [`EntryKind::Credit`]; anything else is [`EntryKind::Other`], among them credits that
//!   undo (the account holder's own debit given back, which is no payment), other debits,
//!   and entries not booked.
//! - `method`: by the bank transaction code, see [`transaction::method`].
//! - `bank_reference`: the end-to-end id (unless `NOTPROVIDED`), else the transaction's
//!   `Refs/AcctSvcrRef`, else the entry's `AcctSvcrRef`. A return names the payment it takes
//!   back by its end-to-end id (else its instruction id): the reference our payments from camt
//!   credits keep.
//! - `identity`: `camt:{account}:{reference}`, the reference being the transaction's
//!   `Refs/AcctSvcrRef`, else the entry's `AcctSvcrRef` and `/` and the transaction's number
//!   in the entry (from 1; 1 for an entry without details), else the end-to-end id, else a
//!   SHA-256 of the account, booking date, amount, currency, direction and text
//!   (`sha256-{hex}`). The bank's references are the same in the day's notification and in
//!   its statement, and so is the identity. When the rule gives two transactions of a file
//!   the same identity, the second gets `#2` after it, the third `#3`, in the file's order.
//! - `payer_name` and `payer_account`: the other party's. For a credit, the debtor's
//!   (`RltdPties/Dbtr/Nm` or, v08 on, `Dbtr/Pty/Nm`; `DbtrAcct/Id/IBAN` or `Othr/Id`); for a
//!   debit, the creditor's, unless the creditor's account is the statement's own, as in a
//!   return naming the parties of the payment it takes back: then the debtor's.
//! - `text`: the unstructured remittance (`RmtInf/Ustrd`), `AddtlTxInf` and the entry's
//!   `AddtlNtryInf`, joined with spaces; `remittance`: the documents of `RmtInf/Strd`.

mod transaction;
mod values;
mod xml;

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use self::transaction::{BankCode, Ntry};
use self::values::{amount, amount_in, boolean, count, credit, date, decimal};
use self::xml::{refuse, Element};
use super::{Entry, FileError};

/// Which of the two messages a file is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CamtKind {
    /// camt.053, `BkToCstmrStmt`: the account's booked entries of a period.
    Statement,
    /// camt.054, `BkToCstmrDbtCdtNtfctn`: entries as they happen, often before the statement.
    Notification,
}

const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:";

impl CamtKind {
    fn message(self) -> &'static str {
        match self {
            CamtKind::Statement => "camt.053",
            CamtKind::Notification => "camt.054",
        }
    }

    fn body(self) -> &'static str {
        match self {
            CamtKind::Statement => "BkToCstmrStmt",
            CamtKind::Notification => "BkToCstmrDbtCdtNtfctn",
        }
    }

    fn report(self) -> &'static str {
        match self {
            CamtKind::Statement => "Stmt",
            CamtKind::Notification => "Ntfctn",
        }
    }

    fn described(self) -> &'static str {
        match self {
            CamtKind::Statement => "a bank-to-customer statement",
            CamtKind::Notification => "a debit/credit notification",
        }
    }
}

/// Reads a camt.053 or camt.054 file whole into its transactions, or refuses it naming the
/// XML path of what is wrong and why.
pub fn read(xml: &[u8], kind: CamtKind) -> Result<Vec<Entry>, FileError> {
    let (document, namespace) = xml::parse(xml)?;
    let body = message(&document, namespace.as_deref(), kind)?;
    let message_id = body.required("GrpHdr/MsgId", "the message id")?;
    let mut entries = Vec::new();
    let mut reports = 0;
    for report in body.all(kind.report()) {
        reports += 1;
        entries.extend(report_entries(report, message_id)?);
    }
    if reports == 0 {
        return refuse(
            &body.path_of(kind.report()),
            format!("{} has no {}", body.name, kind.report()),
        );
    }
    // Two transactions the rule gives one identity (a bank repeating a reference, two fee
    // lines alike) stay two: the second is `#2`, and so on, in the order of the file.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in &mut entries {
        let n = seen.entry(entry.identity.clone()).or_default();
        *n += 1;
        if *n > 1 {
            entry.identity = format!("{}#{n}", entry.identity);
        }
    }
    Ok(entries)
}

/// The message of the document, checked to be the kind asked for.
fn message<'a>(
    document: &'a Element,
    namespace: Option<&str>,
    kind: CamtKind,
) -> Result<&'a Element, FileError> {
    if document.name != "Document" {
        return refuse(
            &document.path,
            format!(
                "the root element is {}; a camt message's root is Document",
                document.name
            ),
        );
    }
    let body = match document.children.as_slice() {
        [body] => body,
        [] => return refuse(&document.path, "Document holds no message"),
        [_, second, ..] => return refuse(&second.path, "Document holds more than one message"),
    };
    if body.name != kind.body() {
        let what = match body.name.as_str() {
            "BkToCstmrStmt" => " (a bank-to-customer statement, camt.053)",
            "BkToCstmrDbtCdtNtfctn" => " (a debit/credit notification, camt.054)",
            "BkToCstmrAcctRpt" => " (an account report, camt.052)",
            _ => "",
        };
        return refuse(
            &body.path,
            format!(
                "the message is {}{what}, not {} ({}) as asked",
                body.name,
                kind.described(),
                kind.body()
            ),
        );
    }
    let expected = format!("{NAMESPACE}{}.001.", kind.message());
    let version = namespace
        .and_then(|ns| ns.strip_prefix(expected.as_str()))
        .and_then(|v| (v.len() == 2).then(|| v.parse::<u8>().ok()).flatten());
    if !version.is_some_and(|v| (2..=12).contains(&v)) {
        return refuse(
            &document.path,
            format!(
                "{}, not one of {}.001.02 to .12 ({}), such as {expected}08",
                namespace.map_or("the Document has no namespace".to_string(), |ns| {
                    format!("the namespace is {ns:?}")
                }),
                kind.message(),
                kind.described()
            ),
        );
    }
    Ok(body)
}

/// How many entries and of how much: all of them, the credits, the debits.
#[derive(Default)]
struct Totals {
    all: (u64, Decimal),
    credits: (u64, Decimal),
    debits: (u64, Decimal),
}

/// The transactions of one statement or notification, its summary checked.
fn report_entries(report: &Element, message_id: &str) -> Result<Vec<Entry>, FileError> {
    let account = match report.text_at("Acct/Id/IBAN")? {
        Some(iban) => iban,
        None => report.required("Acct/Id/Othr/Id", "the account (or Acct/Id/IBAN)")?,
    };
    let mut entries = Vec::new();
    let mut totals = Totals::default();
    for ntry in report.all("Ntry") {
        let (amount, is_credit) = read_ntry(ntry, account, message_id, &mut entries)?;
        let side = if is_credit {
            &mut totals.credits
        } else {
            &mut totals.debits
        };
        for (n, sum) in [&mut totals.all, side] {
            *n += 1;
            *sum += amount;
        }
    }
    if let Some(summary) = report.one("TxsSummry")? {
        check_summary(summary, &totals)?;
    }
    Ok(entries)
}

/// Checks a transactions summary against the entries.
fn check_summary(summary: &Element, totals: &Totals) -> Result<(), FileError> {
    for (name, (n, sum)) in [
        ("TtlNtries", totals.all),
        ("TtlCdtNtries", totals.credits),
        ("TtlDbtNtries", totals.debits),
    ] {
        let Some(group) = summary.one(name)? else {
            continue;
        };
        if let Some(e) = group.one("NbOfNtries")? {
            let stated = count(e)?;
            if stated != n {
                return refuse(
                    &e.path,
                    format!("{name}/NbOfNtries says {stated} entries; the file has {n} Ntry"),
                );
            }
        }
        if let Some(e) = group.one("Sum")? {
            let stated = decimal(e)?;
            if stated != sum {
                return refuse(
                    &e.path,
                    format!("{name}/Sum says {stated}; the Ntry amounts add up to {sum}"),
                );
            }
        }
    }
    let Some(all) = summary.one("TtlNtries")? else {
        return Ok(());
    };
    // v04 on: TtlNetNtry/Amt and TtlNetNtry/CdtDbtInd; v02 and v03: TtlNetNtryAmt and
    // CdtDbtInd beside it.
    let (net, indicator) = match all.one("TtlNetNtry")? {
        Some(net) => (net.one("Amt")?, net.one("CdtDbtInd")?),
        None => (all.one("TtlNetNtryAmt")?, all.one("CdtDbtInd")?),
    };
    let Some(net) = net else { return Ok(()) };
    let mut stated = decimal(net)?;
    if let Some(indicator) = indicator {
        if !credit(indicator)? {
            stated = -stated;
        }
    }
    let found = totals.credits.1 - totals.debits.1;
    if stated != found {
        return refuse(
            &net.path,
            format!(
                "TtlNtries/TtlNetNtry says the net (credits less debits) is {stated}; the Ntry \
                 amounts make {found}"
            ),
        );
    }
    Ok(())
}

/// An entry's status: `<Sts>BOOK</Sts>` (to v07) or `<Sts><Cd>BOOK</Cd></Sts>` (v08 on);
/// `true` when booked. A proprietary status (`Prtry`) is not booked.
fn booked(ntry: &Element) -> Result<(bool, String), FileError> {
    let sts = ntry.required_element("Sts", "the status")?;
    let (code, proprietary) = if sts.children.is_empty() {
        (sts.text()?, false)
    } else if let Some(cd) = sts.text_at("Cd")? {
        (Some(cd), false)
    } else {
        (sts.text_at("Prtry")?, true)
    };
    match code {
        Some(code) if proprietary => Ok((false, code.to_string())),
        Some(code) if code.len() <= 4 => Ok((code == "BOOK", code.to_string())),
        Some(code) => refuse(
            &sts.path,
            format!("the status {code:?} is not a status code (four letters at most)"),
        ),
        None => refuse(&sts.path, "the status is empty"),
    }
}

/// Reads an entry into its transactions; gives its amount and whether it is a credit.
fn read_ntry(
    e: &Element,
    account: &str,
    message_id: &str,
    out: &mut Vec<Entry>,
) -> Result<(Decimal, bool), FileError> {
    let (ntry_amount, currency) = amount(e.required_element("Amt", "the amount")?)?;
    let is_credit = credit(e.required_element("CdtDbtInd", "the credit/debit indicator")?)?;
    let reversal = match e.one("RvslInd")? {
        Some(r) => boolean(r)?,
        None => false,
    };
    let (is_booked, status) = booked(e)?;
    let booking = e.one("BookgDt")?.map(date).transpose()?;
    let value = e.one("ValDt")?.map(date).transpose()?;
    let code = match e.one("BkTxCd")? {
        Some(c) => BankCode::read(c)?,
        None => BankCode::default(),
    };
    let servicer_reference = e.text_at("AcctSvcrRef")?;
    let info = e.text_at("AddtlNtryInf")?;

    let mut raw = Map::new();
    let mut put = |key: &str, v: Option<&str>| {
        if let Some(v) = v {
            raw.insert(key.to_string(), Value::from(v));
        }
    };
    put("MsgId", Some(message_id));
    put("Acct", Some(account));
    put("NtryRef", e.text_at("NtryRef")?);
    put("Amt", Some(&ntry_amount.to_string()));
    put("Ccy", Some(currency.code()));
    put("CdtDbtInd", Some(if is_credit { "CRDT" } else { "DBIT" }));
    put("RvslInd", reversal.then_some("true"));
    put("Sts", Some(&status));
    put("BookgDt", booking.as_ref().map(|(_, t)| t.as_str()));
    put("ValDt", value.as_ref().map(|(_, t)| t.as_str()));
    put("AcctSvcrRef", servicer_reference);
    put("BkTxCd", code.structured().as_deref());
    put("Prtry", code.proprietary);
    put("AddtlNtryInf", info);

    let ntry = Ntry {
        element: e,
        account,
        currency,
        credit: is_credit,
        booked: is_booked,
        reversal,
        booking_date: booking.map(|(d, _)| d),
        value_date: value.map(|(d, _)| d),
        servicer_reference,
        code,
        info,
        raw,
    };
    let transactions = transactions(e)?;
    let mut amounts = Vec::with_capacity(transactions.len());
    for tx in &transactions {
        amounts.push(tx_amount(tx, &ntry)?);
    }
    match (transactions.as_slice(), amounts.as_slice()) {
        ([], _) => out.push(transaction::entry(&ntry, None, 1, ntry_amount)?),
        ([tx], [None]) => out.push(transaction::entry(&ntry, Some(tx), 1, ntry_amount)?),
        _ => {
            let mut sum = Decimal::ZERO;
            for (i, (tx, amount)) in transactions.iter().zip(&amounts).enumerate() {
                let Some(amount) = amount else {
                    return refuse(
                        &tx.path,
                        format!(
                            "the entry has {} transactions and this one gives no amount \
                             (Amt or AmtDtls/TxAmt/Amt): the entry's amount cannot be shared",
                            transactions.len()
                        ),
                    );
                };
                sum += amount;
                out.push(transaction::entry(&ntry, Some(tx), i + 1, *amount)?);
            }
            if sum != ntry_amount {
                return refuse(
                    &e.path_of("Amt"),
                    format!(
                        "the entry's amount is {ntry_amount}; its transactions' amounts \
                         (TxDtls) add up to {sum}"
                    ),
                );
            }
        }
    }
    Ok((ntry_amount, is_credit))
}

/// The transactions of an entry, from all its `NtryDtls`, each batch's `NbOfTxs` checked.
fn transactions(ntry: &Element) -> Result<Vec<&Element>, FileError> {
    let mut out = Vec::new();
    for details in ntry.all("NtryDtls") {
        let txs: Vec<&Element> = details.all("TxDtls").collect();
        if let Some(n) = details.at("Btch/NbOfTxs")? {
            let stated = count(n)?;
            if stated != txs.len() as u64 {
                return refuse(
                    &n.path,
                    format!(
                        "Btch/NbOfTxs says {stated} transactions; the entry details have {} \
                         TxDtls",
                        txs.len()
                    ),
                );
            }
        }
        out.extend(txs);
    }
    Ok(out)
}

/// A transaction's own amount, when it gives one: `Amt` (v08 on) or `AmtDtls/TxAmt/Amt`, in
/// the entry's currency, on the entry's side.
fn tx_amount(tx: &Element, ntry: &Ntry) -> Result<Option<Decimal>, FileError> {
    let direct = tx
        .one("Amt")?
        .map(|a| amount_in(a, ntry.currency))
        .transpose()?;
    let detailed = tx
        .at("AmtDtls/TxAmt/Amt")?
        .map(|a| amount_in(a, ntry.currency))
        .transpose()?;
    if let (Some(a), Some(b)) = (direct, detailed) {
        if a != b {
            return refuse(
                &tx.path_of("AmtDtls/TxAmt/Amt"),
                format!("the transaction's amount is {a} in Amt and {b} here"),
            );
        }
    }
    if let Some(indicator) = tx.one("CdtDbtInd")? {
        if credit(indicator)? != ntry.credit {
            return refuse(
                &indicator.path,
                "the transaction is on the other side (credit/debit) from its entry",
            );
        }
    }
    Ok(direct.or(detailed))
}

#[cfg(test)]
mod tests;
