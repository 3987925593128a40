//! One transaction of a camt entry (a `TxDtls`, or the entry itself when it has none) made
//! into an [`Entry`]: what it is to cash application, how the money came, who sent it, what
//! it pays, and an identity that the same transaction keeps from a camt.054 notification to
//! the camt.053 statement.

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use time::Date;

use super::values::amount_in;
use super::xml::Element;
use crate::bank_files::{Entry, EntryKind, FileError, Remitted};
use crate::money::Currency;
use crate::payments::model::PaymentMethod;

/// An end-to-end id (or instruction id) that the payer did not give.
const NOT_PROVIDED: &str = "NOTPROVIDED";

/// Sub-families (domain `PMNT`) of the bank transaction codes that take back a payment
/// received: `RRTN` reversal due to a payment return, `RPCR` reversal due to a payment
/// cancellation request, `UPDD` return of an unpaid direct debit, `PRDD` reversal of a direct
/// debit, `ARET` ACH return, `AREV` ACH reversal, `UPCQ` unpaid cheque, `XPCQ` unpaid
/// foreign cheque, `CQRV` cheque reversal.
pub const RETURN_SUB_FAMILIES: &[&str] = &[
    "RRTN", "RPCR", "UPDD", "PRDD", "ARET", "AREV", "UPCQ", "XPCQ", "CQRV",
];

const CHECK_FAMILIES: &[&str] = &["RCHQ", "ICHQ", "CHK"];
const CHECK_SUB_FAMILIES: &[&str] = &[
    "CCHQ", "BCHQ", "CRCQ", "URCQ", "UPCQ", "XBCQ", "XPCQ", "CQRV", "RCHQ", "CHK",
];
const WIRE_SUB_FAMILIES: &[&str] = &["DMCT", "XBCT", "FICT", "BOOK", "PRCT"];
const ACH_SUB_FAMILIES: &[&str] = &[
    "ESCT", "SDVA", "ACDT", "ATXN", "ACOR", "APAC", "ASET", "ARET", "AREV", "STDO", "SALA", "ESDD",
    "BBDD", "PMDD", "UPDD", "PRDD",
];

/// A bank transaction code: the ISO structured one (`Domn/Cd`, `Domn/Fmly/Cd`,
/// `Domn/Fmly/SubFmlyCd`) and the bank's proprietary one (`Prtry/Cd`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BankCode<'a> {
    pub domain: Option<&'a str>,
    pub family: Option<&'a str>,
    pub sub_family: Option<&'a str>,
    pub proprietary: Option<&'a str>,
}

impl<'a> BankCode<'a> {
    pub fn read(e: &'a Element) -> Result<BankCode<'a>, FileError> {
        Ok(BankCode {
            domain: e.text_at("Domn/Cd")?,
            family: e.text_at("Domn/Fmly/Cd")?,
            sub_family: e.text_at("Domn/Fmly/SubFmlyCd")?,
            proprietary: e.text_at("Prtry/Cd")?,
        })
    }

    /// `PMNT/RCDT/DMCT`, when the structured code is given.
    pub fn structured(&self) -> Option<String> {
        self.domain.map(|d| {
            [Some(d), self.family, self.sub_family]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    fn payments(&self) -> (&'a str, &'a str) {
        if self.domain == Some("PMNT") {
            (self.family.unwrap_or(""), self.sub_family.unwrap_or(""))
        } else {
            ("", "")
        }
    }

    fn is_return(&self) -> bool {
        RETURN_SUB_FAMILIES.contains(&self.payments().1)
    }
}

/// How the money came, by the bank transaction code of domain `PMNT` (the first row that
/// fits):
///
/// | family / sub-family                                                        | method  |
/// |----------------------------------------------------------------------------|---------|
/// | family `LBOX` (lockbox)                                                    | Lockbox |
/// | family `RCHQ`, `ICHQ`, `CHK`; sub-family `CCHQ`, `BCHQ`, `CRCQ`, `URCQ`, `UPCQ`, `XBCQ`, `XPCQ`, `CQRV`, `RCHQ`, `CHK` | Check |
/// | family `CCRD` (customer card transactions)                                 | Card    |
/// | family `CNTR`, sub-family `CDPT` (cash deposit at the counter)             | Cash    |
/// | sub-family `DMCT` (domestic), `XBCT` (cross-border), `FICT`, `BOOK`, `PRCT` (priority) credit transfer | Wire |
/// | sub-family `ESCT` (SEPA), `SDVA`, `ACDT`, `ATXN`, `ACOR`, `APAC`, `ASET`, `ARET`, `AREV`, `STDO`, `SALA` (ACH-like credit transfers), `ESDD`, `BBDD`, `PMDD`, `UPDD`, `PRDD` (direct debits) | Ach |
/// | anything else, another domain, or no code: a credit of family `RCDT`       | Wire    |
/// | anything else                                                              | Ach     |
pub fn method(code: &BankCode, credit: bool) -> PaymentMethod {
    let (family, sub) = code.payments();
    match () {
        _ if family == "LBOX" => PaymentMethod::Lockbox,
        _ if CHECK_FAMILIES.contains(&family) || CHECK_SUB_FAMILIES.contains(&sub) => {
            PaymentMethod::Check
        }
        _ if family == "CCRD" => PaymentMethod::Card,
        _ if family == "CNTR" && sub == "CDPT" => PaymentMethod::Cash,
        _ if WIRE_SUB_FAMILIES.contains(&sub) => PaymentMethod::Wire,
        _ if ACH_SUB_FAMILIES.contains(&sub) => PaymentMethod::Ach,
        _ if credit && family == "RCDT" => PaymentMethod::Wire,
        _ => PaymentMethod::Ach,
    }
}

/// What a transaction's entry says, for each of its transactions.
pub struct Ntry<'a> {
    pub element: &'a Element,
    /// The account the statement or notification is of (`Acct/Id/IBAN` or `Acct/Id/Othr/Id`).
    pub account: &'a str,
    pub currency: Currency,
    pub credit: bool,
    pub booked: bool,
    pub reversal: bool,
    pub booking_date: Option<Date>,
    pub value_date: Option<Date>,
    pub servicer_reference: Option<&'a str>,
    pub code: BankCode<'a>,
    pub info: Option<&'a str>,
    /// The entry's fields as read, shared by its transactions' records.
    pub raw: Map<String, Value>,
}

/// Text at a path of the transaction, when there is one.
fn at<'a>(tx: Option<&'a Element>, path: &str) -> Result<Option<&'a str>, FileError> {
    match tx {
        Some(tx) => tx.text_at(path),
        None => Ok(None),
    }
}

/// A party's name, as v02–v07 write it (`Dbtr/Nm`) or v08 and later (`Dbtr/Pty/Nm`).
fn party_name<'a>(tx: Option<&'a Element>, party: &str) -> Result<Option<&'a str>, FileError> {
    match at(tx, &format!("RltdPties/{party}/Nm"))? {
        Some(name) => Ok(Some(name)),
        None => at(tx, &format!("RltdPties/{party}/Pty/Nm")),
    }
}

fn party_account<'a>(tx: Option<&'a Element>, acct: &str) -> Result<Option<&'a str>, FileError> {
    match at(tx, &format!("RltdPties/{acct}/Id/IBAN"))? {
        Some(iban) => Ok(Some(iban)),
        None => at(tx, &format!("RltdPties/{acct}/Id/Othr/Id")),
    }
}

/// The other party of a transaction: the debtor of a credit, the creditor of a debit. A
/// return often names the parties of the payment it takes back, where the account holder
/// was the creditor: a debit whose creditor's account is the statement's own has the debtor
/// as its other party.
fn counterparty(
    tx: Option<&Element>,
    ntry: &Ntry,
) -> Result<(&'static str, &'static str), FileError> {
    if ntry.credit || party_account(tx, "CdtrAcct")? == Some(ntry.account) {
        Ok(("Dbtr", "DbtrAcct"))
    } else {
        Ok(("Cdtr", "CdtrAcct"))
    }
}

/// The invoices a transaction's structured remittance names (`Strd/RfrdDocInf/Nb`), each
/// with the amount of its `Strd` (`RfrdDocAmt/RmtdAmt`, else `RfrdDocAmt/DuePyblAmt`). A
/// `Strd` naming several documents gives its amount to none of them: it is their total.
fn remittance(
    rmt: Option<&Element>,
    currency: Currency,
    raw: &mut Vec<Value>,
) -> Result<Vec<Remitted>, FileError> {
    let mut out = Vec::new();
    let Some(rmt) = rmt else { return Ok(out) };
    for strd in rmt.all("Strd") {
        let amount = match strd.at("RfrdDocAmt/RmtdAmt")? {
            Some(e) => Some(amount_in(e, currency)?),
            None => match strd.at("RfrdDocAmt/DuePyblAmt")? {
                Some(e) => Some(amount_in(e, currency)?),
                None => None,
            },
        };
        let mut numbers = Vec::new();
        for doc in strd.all("RfrdDocInf") {
            if let Some(nb) = doc.text_at("Nb")? {
                numbers.push(nb);
            }
        }
        let amount = if numbers.len() == 1 { amount } else { None };
        for nb in numbers {
            raw.push(json!({ "Nb": nb, "Amt": amount }));
            out.push(Remitted {
                invoice_number: nb.to_string(),
                amount,
            });
        }
    }
    Ok(out)
}

/// One [`Entry`]: of the transaction `tx` (the `index`-th of its entry, from 1), or of the
/// entry itself when `tx` is `None`; `amount` is the transaction's.
pub fn entry(
    ntry: &Ntry,
    tx: Option<&Element>,
    index: usize,
    amount: Decimal,
) -> Result<Entry, FileError> {
    let provided = |r: Option<&str>| r.filter(|r| *r != NOT_PROVIDED).map(str::to_string);
    let end_to_end = provided(at(tx, "Refs/EndToEndId")?);
    let instruction = provided(at(tx, "Refs/InstrId")?);
    let tx_servicer = at(tx, "Refs/AcctSvcrRef")?;
    let code = match tx.map(|t| t.one("BkTxCd")).transpose()?.flatten() {
        Some(e) => BankCode::read(e)?,
        None => ntry.code,
    };
    let (party, party_acct) = counterparty(tx, ntry)?;
    let payer_name = party_name(tx, party)?;
    let payer_account = party_account(tx, party_acct)?;
    let returned = tx.map(|t| t.one("RtrInf")).transpose()?.flatten();
    let return_code = match returned {
        Some(r) => r.text_at("Rsn/Cd")?.or(r.text_at("Rsn/Prtry")?),
        None => None,
    };
    // A reversal or a return undoes an earlier booking: as a debit it takes back a payment
    // received; as a credit it gives back the holder's own debit, which is no payment.
    let undoes = returned.is_some() || ntry.reversal || code.is_return();
    let kind = match (ntry.booked, ntry.credit, undoes) {
        (true, true, false) => EntryKind::Credit,
        (true, false, true) => EntryKind::Return,
        _ => EntryKind::Other,
    };
    let rmt = tx.map(|t| t.one("RmtInf")).transpose()?.flatten();
    let mut unstructured = Vec::new();
    if let Some(rmt) = rmt {
        for u in rmt.all("Ustrd") {
            unstructured.extend(u.text()?);
        }
    }
    let tx_info = at(tx, "AddtlTxInf")?;
    let text = unstructured
        .iter()
        .copied()
        .chain(tx_info)
        .chain(ntry.info)
        .collect::<Vec<_>>()
        .join(" ");
    let mut raw_strd = Vec::new();
    let remitted = remittance(rmt, ntry.currency, &mut raw_strd)?;
    let bank_reference = end_to_end
        .clone()
        .or(tx_servicer.map(str::to_string))
        .or(ntry.servicer_reference.map(str::to_string));
    let reference = match (tx_servicer, ntry.servicer_reference, &end_to_end) {
        (Some(r), _, _) => r.to_string(),
        (None, Some(r), _) => format!("{r}/{index}"),
        (None, None, Some(e2e)) => e2e.clone(),
        (None, None, None) => digest(ntry, amount, &text),
    };
    let is_return = kind == EntryKind::Return;

    let mut raw = ntry.raw.clone();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            raw.insert(key.to_string(), v);
        }
    };
    let s = |v: Option<&str>| v.map(|v| Value::from(v.to_string()));
    if let Some(tx) = tx {
        put("TxDtls", Some(Value::from(index)));
        put("TxAmt", Some(Value::from(amount.to_string())));
        put("EndToEndId", s(tx.text_at("Refs/EndToEndId")?));
        put("InstrId", s(tx.text_at("Refs/InstrId")?));
        put("TxId", s(tx.text_at("Refs/TxId")?));
        put("Refs/AcctSvcrRef", s(tx_servicer));
        put(
            "TxDtls/BkTxCd",
            tx.at("BkTxCd")?.map(|_| code.structured().into()),
        );
        put(party, s(payer_name));
        put(party_acct, s(payer_account));
        put(
            "Ustrd",
            (!unstructured.is_empty()).then(|| json!(unstructured)),
        );
        put(
            "Strd",
            (!raw_strd.is_empty()).then(|| Value::from(raw_strd)),
        );
        put("RtrInf/Rsn", s(return_code));
        put("AddtlTxInf", s(tx_info));
    }
    Ok(Entry {
        location: tx.map_or(&ntry.element.path, |t| &t.path).clone(),
        identity: format!("camt:{}:{reference}", ntry.account),
        kind,
        amount,
        currency: Some(ntry.currency.code().to_string()),
        value_date: ntry.value_date.or(ntry.booking_date),
        method: method(&code, ntry.credit),
        bank_reference,
        payer_name: payer_name.map(str::to_string),
        payer_account: payer_account.map(str::to_string),
        text,
        remittance: remitted,
        returned_reference: if is_return {
            end_to_end.or(instruction)
        } else {
            None
        },
        return_code: return_code.filter(|_| is_return).map(str::to_string),
        raw: crate::bank_files::RawFields::of(&Value::Object(raw)),
    })
}

/// The last resort of an identity, when neither the bank nor the payer gave a reference: a
/// SHA-256 of the account, booking date, amount, currency, direction and text, as
/// `sha256-{hex}`.
fn digest(ntry: &Ntry, amount: Decimal, text: &str) -> String {
    let booked = ntry.booking_date.map(|d| d.to_string()).unwrap_or_default();
    let direction = if ntry.credit { "CRDT" } else { "DBIT" };
    let hash = Sha256::digest(
        format!(
            "{}\n{booked}\n{amount}\n{}\n{direction}\n{text}",
            ntry.account,
            ntry.currency.code()
        )
        .as_bytes(),
    );
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256-{hex}")
}
