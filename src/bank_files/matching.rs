//! The matching rules, as plain functions of a bank transaction and what the database holds:
//! first who paid (the invoices named in the remittance, then in the free text, then the
//! payer's account number, bank account or name learned from earlier payments), then what
//! it pays (the named invoices; else one invoice of exactly the amount; else the one smallest
//! set of open invoices making it; else as configured). Each decision carries its rule, its
//! confidence and an explanation in words.

use std::collections::HashMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::{BankOutcome, MatchRule, SuggestedInvoice, Suggestion};
use super::references::{self, Named};
use super::settings::UnmatchedCash;
use super::subset::{self, Found};
use super::Entry;
use crate::invoices::rules::Numbering;
use crate::payments::model::ApplicationMode;

/// An invoice as matching sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: Uuid,
    pub number: String,
    pub account_id: Uuid,
    pub open: bool,
    pub currency: String,
    pub balance_due: Decimal,
    pub disputed_amount: Decimal,
    pub due_date: Date,
}

impl Candidate {
    /// What a payment may still pay of it.
    pub fn payable(&self) -> Decimal {
        if self.open {
            (self.balance_due - self.disputed_amount).max(Decimal::ZERO)
        } else {
            Decimal::ZERO
        }
    }
}

/// An account as suggestions name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Brief {
    pub number: String,
    pub name: String,
    pub currency: String,
}

/// A suggestion that `account` (as `brief` names it) paid `invoices`, with its score and why.
pub fn suggestion(
    account: Uuid,
    brief: &Brief,
    invoices: Vec<SuggestedInvoice>,
    score: Decimal,
    reason: String,
) -> Suggestion {
    Suggestion {
        account_id: account,
        account_number: brief.number.clone(),
        account_name: brief.name.clone(),
        invoices,
        score,
        reason,
    }
}

/// A learned payer identity's kind: `bank_account` or `name`.
pub const BANK_ACCOUNT: &str = "bank_account";
pub const NAME: &str = "name";

/// The learned-identity keys of a payer as the bank names it: (kind, normal form) of its
/// bank account and of its name, those it has.
pub fn payer_keys(account: Option<&str>, name: Option<&str>) -> Vec<(&'static str, String)> {
    let mut keys = Vec::with_capacity(2);
    if let Some(v) = account.and_then(references::bank_account) {
        keys.push((BANK_ACCOUNT, v));
    }
    if let Some(v) = name.and_then(references::payer_name) {
        keys.push((NAME, v));
    }
    keys
}

/// What the database holds that the rules read, for a whole file at once.
#[derive(Debug, Default)]
pub struct Known {
    pub invoices: HashMap<String, Candidate>,
    pub accounts_by_number: HashMap<String, Uuid>,
    /// (kind, normal form) → the accounts it was learned for.
    pub payers: HashMap<(String, String), Vec<Uuid>>,
}

/// Who paid, and how that is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Payer {
    /// Invoices named by the remittance or the text, all of one account: with the amount
    /// the remittance gives each (in the order named).
    Invoices {
        rule: MatchRule,
        account: Uuid,
        named: Vec<(Candidate, Option<Decimal>)>,
        confidence: Decimal,
        explanation: String,
    },
    Account {
        account: Uuid,
        explanation: String,
    },
    Unknown {
        hints: Vec<(Uuid, String, Decimal)>,
        explanation: String,
    },
}

fn found(numbers: &[Named], known: &Known) -> (Vec<Candidate>, bool) {
    let mut out: Vec<Candidate> = Vec::new();
    let mut exact = true;
    for n in numbers {
        if let Some(c) = known.invoices.get(&n.number) {
            if !out.iter().any(|o| o.id == c.id) {
                out.push(c.clone());
                exact &= n.exact;
            }
        }
    }
    (out, exact)
}

fn accounts_of(invoices: &[Candidate]) -> Vec<Uuid> {
    let mut accounts: Vec<Uuid> = Vec::new();
    for i in invoices {
        if !accounts.contains(&i.account_id) {
            accounts.push(i.account_id);
        }
    }
    accounts
}

fn numbers(invoices: &[Candidate]) -> String {
    invoices
        .iter()
        .map(|i| i.number.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The numbers a remittance line may mean: as written, and as read tolerantly.
pub fn remitted_numbers(entry: &Entry, numbering: &Numbering) -> Vec<Named> {
    let mut out = Vec::new();
    for r in &entry.remittance {
        out.push(Named {
            number: r.invoice_number.trim().to_string(),
            exact: true,
        });
        out.extend(references::invoice_numbers(&r.invoice_number, numbering));
    }
    out
}

/// Who paid: rules 1 to 3's first half, in order.
pub fn identify(entry: &Entry, numbering: &Numbering, known: &Known) -> Payer {
    let mut hints: Vec<(Uuid, String, Decimal)> = Vec::new();
    // 1. The remittance in the file.
    if !entry.remittance.is_empty() {
        let mut named = Vec::new();
        let mut exact = true;
        let mut missing = Vec::new();
        for r in &entry.remittance {
            let mut forms = vec![Named {
                number: r.invoice_number.trim().to_string(),
                exact: true,
            }];
            forms.extend(references::invoice_numbers(&r.invoice_number, numbering));
            match forms
                .iter()
                .find_map(|n| known.invoices.get(&n.number).map(|c| (c, n.exact)))
            {
                Some((c, e)) if !named.iter().any(|(n, _): &(Candidate, _)| n.id == c.id) => {
                    exact &= e;
                    named.push((c.clone(), r.amount));
                }
                Some(_) => {}
                None => missing.push(r.invoice_number.clone()),
            }
        }
        let invoices: Vec<Candidate> = named.iter().map(|(c, _)| c.clone()).collect();
        match accounts_of(&invoices).as_slice() {
            [] => {}
            [account] => {
                let mut explanation = format!("the remittance names {}", numbers(&invoices));
                if !missing.is_empty() {
                    explanation.push_str(&format!("; no invoice has {}", missing.join(", ")));
                }
                let confidence = if exact && missing.is_empty() {
                    Decimal::ONE
                } else {
                    Decimal::new(90, 2)
                };
                return Payer::Invoices {
                    rule: MatchRule::Remittance,
                    account: *account,
                    named,
                    confidence,
                    explanation,
                };
            }
            several => {
                for a in several {
                    hints.push((
                        *a,
                        "the remittance names invoices of this account and of others".into(),
                        Decimal::new(50, 2),
                    ));
                }
            }
        }
    }
    // 2. Invoice numbers in the free text.
    let (invoices, exact) = found(&references::invoice_numbers(&entry.text, numbering), known);
    match accounts_of(&invoices).as_slice() {
        [] => {}
        [account] => {
            return Payer::Invoices {
                rule: MatchRule::Reference,
                account: *account,
                named: invoices.iter().map(|c| (c.clone(), None)).collect(),
                confidence: if exact {
                    Decimal::new(95, 2)
                } else {
                    Decimal::new(85, 2)
                },
                explanation: format!(
                    "the text names {}{}",
                    numbers(&invoices),
                    if exact { "" } else { " (read tolerantly)" }
                ),
            };
        }
        several => {
            for a in several {
                let of: Vec<Candidate> = invoices
                    .iter()
                    .filter(|i| i.account_id == *a)
                    .cloned()
                    .collect();
                hints.push((
                    *a,
                    format!(
                        "the text names {} of this account, and invoices of other accounts",
                        numbers(&of)
                    ),
                    Decimal::new(50, 2),
                ));
            }
        }
    }
    // 3. The payer: an account number in the text, a learned bank account, a learned name.
    let by_number: Vec<(Uuid, String)> = references::account_numbers(&entry.text)
        .into_iter()
        .filter_map(|n| known.accounts_by_number.get(&n).map(|a| (*a, n)))
        .fold(Vec::new(), |mut acc, (a, n)| {
            if !acc.iter().any(|(x, _)| *x == a) {
                acc.push((a, n));
            }
            acc
        });
    if let [(account, number)] = by_number.as_slice() {
        return Payer::Account {
            account: *account,
            explanation: format!("the text names account {number}"),
        };
    }
    for (kind, value) in payer_keys(entry.payer_account.as_deref(), entry.payer_name.as_deref()) {
        let what = if kind == BANK_ACCOUNT {
            "bank account"
        } else {
            "payer name"
        };
        match known
            .payers
            .get(&(kind.to_string(), value.clone()))
            .map(Vec::as_slice)
        {
            Some([account]) => {
                return Payer::Account {
                    account: *account,
                    explanation: format!("the {what} {value} paid this account before"),
                }
            }
            Some(several) => {
                for a in several {
                    hints.push((
                        *a,
                        format!("the {what} {value} paid this account before, and others"),
                        Decimal::new(40, 2),
                    ));
                }
            }
            None => {}
        }
    }
    Payer::Unknown {
        hints,
        explanation: "nothing in the transaction names an invoice, an account or a known payer"
            .into(),
    }
}

/// What to record: a payment on `account` applied as `mode` (with `lines` for a
/// remittance), or nothing (unidentified).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: BankOutcome,
    pub rule: Option<MatchRule>,
    pub confidence: Option<Decimal>,
    pub explanation: String,
    pub account: Option<Uuid>,
    pub mode: ApplicationMode,
    pub lines: Vec<(Uuid, Decimal)>,
    pub suggestions: Vec<Suggestion>,
}

impl Decision {
    fn unidentified(explanation: String) -> Decision {
        Decision {
            outcome: BankOutcome::Unidentified,
            rule: None,
            confidence: None,
            explanation,
            account: None,
            mode: ApplicationMode::None,
            lines: Vec::new(),
            suggestions: Vec::new(),
        }
    }
}

/// The cash a transaction brings: its amount, currency and the currency's decimals.
#[derive(Debug, Clone, Copy)]
pub struct Cash<'a> {
    pub amount: Decimal,
    pub currency: &'a str,
    pub decimals: u32,
}

/// An amount in whole minor units (cents), for the subset search.
pub fn minor(amount: Decimal, decimals: u32) -> Option<i64> {
    (amount * Decimal::from(10i64.pow(decimals)))
        .trunc()
        .to_i64()
}

fn suggested(invoices: &[&Candidate]) -> Vec<SuggestedInvoice> {
    invoices
        .iter()
        .map(|c| SuggestedInvoice {
            invoice_id: c.id,
            number: c.number.clone(),
            balance_due: c.balance_due,
        })
        .collect()
}

/// What a payment of `amount` from `account` pays, given how it was identified and the
/// account's open invoices (earliest due first) — rule 1/2's application or rule 3's amounts.
pub fn decide(
    cash: Cash<'_>,
    payer: &Payer,
    brief: &Brief,
    open: &[Candidate],
    unmatched: UnmatchedCash,
) -> Decision {
    let Cash {
        amount,
        currency,
        decimals,
    } = cash;
    let (account, how) = match payer {
        Payer::Invoices {
            account,
            explanation,
            ..
        }
        | Payer::Account {
            account,
            explanation,
        } => (*account, explanation.clone()),
        Payer::Unknown { explanation, .. } => return Decision::unidentified(explanation.clone()),
    };
    if brief.currency != currency {
        let mut d = Decision::unidentified(format!(
            "{how}, but account {} is in {} and the payment in {currency}",
            brief.number, brief.currency
        ));
        d.suggestions.push(Suggestion {
            account_id: account,
            account_number: brief.number.clone(),
            account_name: brief.name.clone(),
            invoices: Vec::new(),
            score: Decimal::new(30, 2),
            reason: format!(
                "identified so, but in another currency ({})",
                brief.currency
            ),
        });
        return d;
    }
    let base = Decision {
        outcome: BankOutcome::Matched,
        rule: None,
        confidence: None,
        explanation: how.clone(),
        account: Some(account),
        mode: ApplicationMode::Remittance,
        lines: Vec::new(),
        suggestions: Vec::new(),
    };
    if let Payer::Invoices {
        rule,
        named: given,
        confidence,
        ..
    } = payer
    {
        let mut left = amount;
        let mut lines = Vec::new();
        let mut skipped = Vec::new();
        for (c, remitted) in given {
            let payable = c.payable();
            let pay = remitted.unwrap_or(payable).min(payable).min(left);
            if pay > Decimal::ZERO {
                lines.push((c.id, pay));
                left -= pay;
            } else if payable == Decimal::ZERO {
                skipped.push(c.number.clone());
            }
        }
        let mut explanation = how.clone();
        if !skipped.is_empty() {
            explanation.push_str(&format!(
                "; nothing is left to pay on {}",
                skipped.join(", ")
            ));
        }
        if left > Decimal::ZERO && !lines.is_empty() {
            explanation.push_str(&format!("; {left} stays unapplied on the account"));
        }
        if !lines.is_empty() {
            return Decision {
                rule: Some(*rule),
                confidence: Some(*confidence),
                explanation,
                lines,
                ..base
            };
        }
    }
    // 3. The payer is known: by the amount.
    let payable: Vec<&Candidate> = open
        .iter()
        .filter(|c| c.currency == currency && c.payable() > Decimal::ZERO)
        .collect();
    let balances: Vec<i64> = payable
        .iter()
        .map(|c| minor(c.payable(), decimals).unwrap_or(i64::MAX))
        .collect();
    let target = minor(amount, decimals).unwrap_or(0);
    let (found, _) = subset::exact_sets(target, &balances, subset::MAX_SET, subset::STEP_BOUND);
    match found {
        Found::One(set) => {
            let invoices: Vec<&Candidate> = set.iter().map(|&k| payable[k]).collect();
            let single = invoices.len() == 1;
            Decision {
                rule: Some(if single {
                    MatchRule::PayerInvoice
                } else {
                    MatchRule::PayerInvoiceSet
                }),
                confidence: Some(if single {
                    Decimal::new(90, 2)
                } else {
                    Decimal::new(80, 2)
                }),
                explanation: format!(
                    "{how}; {} {} exactly the amount",
                    numbers(&invoices.iter().map(|c| (*c).clone()).collect::<Vec<_>>()),
                    if single { "has" } else { "add up to" }
                ),
                lines: invoices.iter().map(|c| (c.id, c.payable())).collect(),
                ..base
            }
        }
        Found::Several(a, b) => {
            let sets = [a, b];
            let suggestions = sets
                .iter()
                .map(|set| {
                    let invoices: Vec<&Candidate> = set.iter().map(|&k| payable[k]).collect();
                    Suggestion {
                        account_id: account,
                        account_number: brief.number.clone(),
                        account_name: brief.name.clone(),
                        invoices: suggested(&invoices),
                        score: Decimal::new(50, 2),
                        reason: format!(
                            "{} {} exactly the amount, and so does another set",
                            numbers(&invoices.iter().map(|c| (*c).clone()).collect::<Vec<_>>()),
                            if invoices.len() == 1 {
                                "has"
                            } else {
                                "add up to"
                            }
                        ),
                    }
                })
                .collect();
            Decision {
                outcome: BankOutcome::Suggested,
                rule: Some(MatchRule::PayerAmbiguous),
                confidence: Some(Decimal::new(50, 2)),
                explanation: format!(
                    "{how}; more than one set of its open invoices makes exactly the amount: left unapplied with suggestions"
                ),
                mode: ApplicationMode::None,
                suggestions,
                ..base
            }
        }
        Found::Nothing | Found::OutOfSteps => {
            let why = if found == Found::Nothing {
                format!(
                    "no set of up to {} open invoices makes exactly the amount",
                    subset::MAX_SET
                )
            } else {
                format!("no set was found within {} steps", subset::STEP_BOUND)
            };
            match unmatched {
                UnmatchedCash::OldestFirst => Decision {
                    rule: Some(MatchRule::PayerOldestFirst),
                    confidence: Some(Decimal::new(60, 2)),
                    explanation: format!("{how}; {why}: applied oldest due first"),
                    mode: ApplicationMode::Auto,
                    ..base
                },
                UnmatchedCash::Unapplied => Decision {
                    rule: Some(MatchRule::PayerUnapplied),
                    confidence: Some(Decimal::new(50, 2)),
                    explanation: format!("{how}; {why}: left unapplied on the account"),
                    mode: ApplicationMode::None,
                    ..base
                },
            }
        }
    }
}

/// Suggestions for cash nobody is known to have sent: the accounts hinted at by the rules,
/// open invoices of exactly the amount, accounts named like the payer; best first, five at
/// most, one per account and invoice set.
pub fn rank(mut suggestions: Vec<Suggestion>) -> Vec<Suggestion> {
    suggestions.sort_by_key(|s| std::cmp::Reverse(s.score));
    let mut out: Vec<Suggestion> = Vec::new();
    for s in suggestions {
        if !out
            .iter()
            .any(|o| o.account_id == s.account_id && o.invoices == s.invoices)
        {
            out.push(s);
        }
        if out.len() == 5 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests;
