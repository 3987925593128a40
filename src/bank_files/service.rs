//! The bank-file commands, each in the caller's transaction: import a file (keep it, record
//! each credit as a payment matched by the rules, each return as the return of the payment it
//! names, each transaction once however many files report it), and settle unidentified cash
//! by hand.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::matching::{self, Brief, Candidate, Cash, Decision, Known, Payer};
use super::model::{
    BankFileFormat, BankFileRow, BankFileView, BankOutcome, BankTransactionRow, MatchRule,
    SuggestedInvoice, Suggestion,
};
use super::references;
use super::settings::UnmatchedCash;
use super::{store, Entry, EntryKind};
use crate::audit;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::invoices::rules::Numbering;
use crate::money::Currency;
use crate::payments::model::{ApplicationMode, PaymentView};
use crate::payments::requests::{NewPayment, RemittanceLine};

/// Transactions written at once.
const BATCH: usize = 1_000;

/// What an import needs of the configuration.
pub struct Setup<'a> {
    pub numbering: &'a Numbering,
    pub unmatched: UnmatchedCash,
    /// The returned-payment fee, billed on each return when configured.
    pub fee: Option<&'a (Decimal, String)>,
}

/// Imports a file already read into its transactions: 201 with the new import, or 200 with
/// the first import of the same file (nothing recorded again).
pub async fn import(
    conn: &mut Conn,
    ctx: &Ctx,
    setup: &Setup<'_>,
    format: BankFileFormat,
    content: &[u8],
    entries: Vec<Entry>,
) -> Result<(StatusCode, BankFileView), ApiError> {
    let stamp = ctx.stamp();
    let file = BankFileRow {
        id: Uuid::now_v7(),
        format,
        sha256: crate::contracts::documents::sha256_hex(content),
        size_bytes: i32::try_from(content.len()).unwrap_or(i32::MAX),
        transactions: i32::try_from(entries.len()).unwrap_or(i32::MAX),
        imported_by: stamp.actor.clone(),
        imported_at: stamp.now,
    };
    if !store::insert_file(conn, &file, content).await? {
        let first = store::file_by_sha(conn, &file.sha256).await?;
        return Ok((StatusCode::OK, view(conn, first).await?));
    }
    let identities: Vec<String> = entries.iter().map(|e| e.identity.clone()).collect();
    let before = store::first_occurrences(conn, &identities).await?;
    let mut run = Run::prepare(conn, setup, &entries).await?;
    // Rows are written a batch at a time, so that a large file's rows are not all held.
    let mut rows = Vec::with_capacity(BATCH);
    let mut in_file: HashMap<String, Uuid> = HashMap::new();
    for (position, entry) in entries.into_iter().enumerate() {
        let mut row = row_of(&entry, file.id, position, stamp.now);
        if let Some(first) = before.get(&entry.identity).or(in_file.get(&entry.identity)) {
            row.outcome = BankOutcome::Duplicate;
            row.duplicate_of = Some(*first);
            row.explanation = "reported before: its cash was recorded with the first report".into();
        } else {
            in_file.insert(entry.identity.clone(), row.id);
            match entry.kind {
                EntryKind::Credit => run.credit(conn, ctx, &entry, &mut row).await?,
                EntryKind::Return => {
                    // The return may name a payment of this file.
                    run.settle(conn, ctx).await?;
                    run.give_back(conn, ctx, &entry, &mut row).await?
                }
                EntryKind::Other => {
                    row.outcome = BankOutcome::Ignored;
                    row.explanation = "not customer cash: kept, not acted on".into();
                }
            }
        }
        rows.push(row);
        if rows.len() == BATCH {
            run.write(conn, ctx, &mut rows).await?;
            rows.clear();
        }
    }
    run.write(conn, ctx, &mut rows).await?;
    store::learn(conn, &run.learned, stamp.now).await?;
    let after = view(conn, file).await?;
    audit::changed(conn, ctx, "bank_file.imported", None, Some(&after)).await?;
    Ok((StatusCode::CREATED, after))
}

fn row_of(
    entry: &Entry,
    file_id: Uuid,
    position: usize,
    now: time::OffsetDateTime,
) -> BankTransactionRow {
    BankTransactionRow {
        id: Uuid::now_v7(),
        file_id,
        position: i32::try_from(position).unwrap_or(i32::MAX),
        location: entry.location.clone(),
        identity: entry.identity.clone(),
        kind: entry.kind,
        amount: entry.amount,
        currency: entry.currency.clone(),
        value_date: entry.value_date,
        method: entry.method,
        bank_reference: entry.bank_reference.clone(),
        payer_name: entry.payer_name.clone(),
        payer_account: entry.payer_account.clone(),
        text: entry.text.clone(),
        remittance: serde_json::to_value(&entry.remittance).unwrap_or_default(),
        returned_reference: entry.returned_reference.clone(),
        return_code: entry.return_code.clone(),
        raw: entry.raw.clone(),
        outcome: BankOutcome::Ignored,
        rule: None,
        confidence: None,
        explanation: String::new(),
        suggestions: serde_json::json!([]),
        account_id: None,
        payment_id: None,
        duplicate_of: None,
        assigned_by: None,
        assigned_at: None,
        created_at: now,
    }
}

/// One import's state: what the database held when it began (read set-wise), kept current
/// as the file's own payments pay invoices and teach payers.
struct Run<'a> {
    setup: &'a Setup<'a>,
    known: Known,
    open: HashMap<Uuid, Vec<Candidate>>,
    briefs: HashMap<Uuid, Brief>,
    payments: HashMap<String, Vec<Uuid>>,
    /// (kind, normal form, account, transaction) learned by this import.
    learned: Vec<(String, String, Uuid, Uuid)>,
    /// Payments decided, recorded together by [`Run::settle`].
    pending: Vec<Pending>,
    /// Transaction → the payment recorded for it, until the transaction is written.
    paid: HashMap<Uuid, Uuid>,
}

/// A payment decided for a transaction, not yet recorded.
struct Pending {
    transaction: Uuid,
    bank_reference: Option<String>,
    new: NewPayment,
}

impl<'a> Run<'a> {
    async fn prepare(
        conn: &mut Conn,
        setup: &'a Setup<'a>,
        entries: &[Entry],
    ) -> Result<Run<'a>, ApiError> {
        let credits: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Credit)
            .collect();
        let mut numbers: Vec<String> = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut payer_keys: Vec<(String, String)> = Vec::new();
        for e in &credits {
            numbers.extend(
                matching::remitted_numbers(e, setup.numbering)
                    .into_iter()
                    .map(|n| n.number),
            );
            numbers.extend(
                references::invoice_numbers(&e.text, setup.numbering)
                    .into_iter()
                    .map(|n| n.number),
            );
            words.extend(references::account_numbers(&e.text));
            payer_keys.extend(
                matching::payer_keys(e.payer_account.as_deref(), e.payer_name.as_deref())
                    .into_iter()
                    .map(|(kind, value)| (kind.to_string(), value)),
            );
        }
        for list in [&mut numbers, &mut words] {
            list.sort();
            list.dedup();
        }
        payer_keys.sort();
        payer_keys.dedup();
        let known = Known {
            invoices: store::invoices_by_number(conn, &numbers).await?,
            accounts_by_number: store::accounts_by_number(conn, &words).await?,
            payers: store::payers(conn, &payer_keys).await?,
        };
        // Who each credit is from, as far as the database says before the file: their open
        // invoices and accounts are read in one go.
        let mut accounts: Vec<Uuid> = Vec::new();
        for e in &credits {
            match matching::identify(e, setup.numbering, &known) {
                Payer::Invoices { account, .. } | Payer::Account { account, .. } => {
                    accounts.push(account)
                }
                Payer::Unknown { hints, .. } => accounts.extend(hints.iter().map(|h| h.0)),
            }
        }
        accounts.sort();
        accounts.dedup();
        let references: Vec<String> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Return)
            .filter_map(|e| e.returned_reference.clone())
            .collect();
        Ok(Run {
            setup,
            open: store::open_invoices(conn, &accounts).await?,
            briefs: store::briefs(conn, &accounts).await?,
            payments: store::payments_by_reference(conn, &references).await?,
            known,
            learned: Vec::new(),
            pending: Vec::new(),
            paid: HashMap::new(),
        })
    }

    /// An account's open invoices and brief, read now if the file's own matches found it.
    async fn load(&mut self, conn: &mut Conn, account: Uuid) -> Result<(), ApiError> {
        if !self.briefs.contains_key(&account) {
            self.briefs.extend(store::briefs(conn, &[account]).await?);
            self.open
                .extend(store::open_invoices(conn, &[account]).await?);
        }
        Ok(())
    }

    /// Rules 1 to 4 for one credit; records its payment.
    async fn credit(
        &mut self,
        conn: &mut Conn,
        ctx: &Ctx,
        entry: &Entry,
        row: &mut BankTransactionRow,
    ) -> Result<(), ApiError> {
        let payer = matching::identify(entry, self.setup.numbering, &self.known);
        let decision = match &payer {
            Payer::Invoices { account, .. } | Payer::Account { account, .. } => {
                self.load(conn, *account).await?;
                let brief = self
                    .briefs
                    .get(account)
                    .cloned()
                    .ok_or(ApiError::NotFound("account"))?;
                let code = entry
                    .currency
                    .clone()
                    .unwrap_or_else(|| brief.currency.clone());
                let decimals = Currency::parse(&code).map_or(2, Currency::minor_units);
                let open = self
                    .open
                    .get(account)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                matching::decide(
                    Cash {
                        amount: entry.amount,
                        currency: &code,
                        decimals,
                    },
                    &payer,
                    &brief,
                    open,
                    self.setup.unmatched,
                )
            }
            Payer::Unknown { hints, explanation } => {
                let mut d = Decision {
                    outcome: BankOutcome::Unidentified,
                    rule: None,
                    confidence: None,
                    explanation: explanation.clone(),
                    account: None,
                    mode: ApplicationMode::None,
                    lines: Vec::new(),
                    suggestions: Vec::new(),
                };
                for (account, reason, score) in hints {
                    if let Some(b) = self.briefs.get(account) {
                        d.suggestions.push(matching::suggestion(
                            *account,
                            b,
                            Vec::new(),
                            *score,
                            reason.clone(),
                        ));
                    }
                }
                d
            }
        };
        row.outcome = decision.outcome;
        row.rule = decision.rule;
        row.confidence = decision.confidence;
        row.explanation = decision.explanation.clone();
        row.suggestions = serde_json::to_value(&decision.suggestions).unwrap_or_default();
        let Some(account) = decision.account else {
            return Ok(());
        };
        row.account_id = Some(account);
        self.pay(conn, ctx, entry, account, &decision, row.id)
            .await?;
        if matches!(
            decision.rule,
            Some(MatchRule::Remittance | MatchRule::Reference)
        ) {
            self.learn(entry, account, row.id);
        }
        Ok(())
    }

    /// The payment a decision makes, recorded with the others of its batch by
    /// [`Run::settle`]; the cached balances are kept current at once, for the next lines.
    async fn pay(
        &mut self,
        conn: &mut Conn,
        ctx: &Ctx,
        entry: &Entry,
        account: Uuid,
        decision: &Decision,
        transaction: Uuid,
    ) -> Result<(), ApiError> {
        let currency = self
            .briefs
            .get(&account)
            .map(|b| b.currency.clone())
            .unwrap_or_default();
        let new = NewPayment {
            account_id: account,
            amount: entry.amount,
            currency,
            method: entry.method,
            reference: entry.bank_reference.as_deref().map(|r| truncate(r, 100)),
            received_date: received_date(entry.value_date, ctx.today()),
            remittance: (decision.mode == ApplicationMode::Remittance).then(|| {
                decision
                    .lines
                    .iter()
                    .map(|(id, amount)| RemittanceLine {
                        invoice_id: Some(*id),
                        invoice_number: None,
                        amount: *amount,
                        deduction_reason: None,
                    })
                    .collect()
            }),
            application_mode: Some(decision.mode),
            memo: Some(truncate(&memo(&entry.location, &entry.text), 1000)),
        };
        self.pending.push(Pending {
            transaction,
            bank_reference: entry.bank_reference.clone(),
            new,
        });
        if decision.mode == ApplicationMode::Auto {
            // Which invoices it pays is known once it is applied.
            if let Some(view) = self.settle(conn, ctx).await?.last() {
                for a in &view.applications {
                    self.paid_down(a.account_id, a.invoice_id, a.amount);
                }
            }
        } else {
            for (invoice, amount) in &decision.lines {
                self.paid_down(account, *invoice, *amount);
            }
        }
        Ok(())
    }

    /// An open invoice of `account` the file's cash pays `amount` of.
    fn paid_down(&mut self, account: Uuid, invoice: Uuid, amount: Decimal) {
        let mut number = None;
        for c in self.open.get_mut(&account).into_iter().flatten() {
            if c.id == invoice {
                c.balance_due -= amount;
                number = Some(c.number.clone());
            }
        }
        let by_number = number.and_then(|n| self.known.invoices.get_mut(&n));
        if let Some(c) = by_number.filter(|c| c.id == invoice) {
            c.balance_due -= amount;
        }
    }

    /// Records the payments decided so far, in file order, in one batch.
    async fn settle(&mut self, conn: &mut Conn, ctx: &Ctx) -> Result<Vec<PaymentView>, ApiError> {
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        let pending = std::mem::take(&mut self.pending);
        let news: Vec<&NewPayment> = pending.iter().map(|p| &p.new).collect();
        let views = crate::payments::service::batch::record_many(conn, ctx, &news).await?;
        for (p, view) in pending.into_iter().zip(&views) {
            self.paid.insert(p.transaction, view.id);
            // A return later in the same file may name it.
            if let Some(reference) = p.bank_reference {
                self.payments.entry(reference).or_default().push(view.id);
            }
        }
        Ok(views)
    }

    /// Writes a batch of the file's transactions, after the payments they made.
    async fn write(
        &mut self,
        conn: &mut Conn,
        ctx: &Ctx,
        rows: &mut [BankTransactionRow],
    ) -> Result<(), ApiError> {
        self.settle(conn, ctx).await?;
        for row in rows.iter_mut() {
            if let Some(payment) = self.paid.remove(&row.id) {
                row.payment_id = Some(payment);
            }
        }
        self.suggest(conn, rows).await?;
        store::insert_transactions(conn, rows).await
    }

    fn learn(&mut self, entry: &Entry, account: Uuid, from: Uuid) {
        let keys =
            matching::payer_keys(entry.payer_account.as_deref(), entry.payer_name.as_deref());
        for (kind, value) in keys {
            let accounts = self
                .known
                .payers
                .entry((kind.to_string(), value.clone()))
                .or_default();
            if !accounts.contains(&account) {
                accounts.push(account);
                self.learned.push((kind.to_string(), value, account, from));
            }
        }
    }

    /// Suggestions for the cash nobody is known to have sent: besides the rules' hints,
    /// open invoices of exactly the amount and accounts named as the payer (read for all
    /// such transactions at once).
    async fn suggest(
        &mut self,
        conn: &mut Conn,
        rows: &mut [BankTransactionRow],
    ) -> Result<(), ApiError> {
        let lost: Vec<usize> = (0..rows.len())
            .filter(|&k| rows[k].outcome == BankOutcome::Unidentified)
            .collect();
        if lost.is_empty() {
            return Ok(());
        }
        let mut amounts: Vec<Decimal> = lost.iter().map(|&k| rows[k].amount).collect();
        amounts.sort();
        amounts.dedup();
        let of_amount = store::open_of_amounts(conn, &amounts).await?;
        let mut names: Vec<String> = lost
            .iter()
            .filter_map(|&k| {
                rows[k]
                    .payer_name
                    .as_deref()
                    .and_then(references::payer_name)
            })
            .collect();
        names.sort();
        names.dedup();
        let named = store::accounts_named(conn, &names).await?;
        let mut accounts: Vec<Uuid> = of_amount.values().flatten().map(|c| c.account_id).collect();
        accounts.extend(named.iter().map(|(_, a)| *a));
        accounts.retain(|a| !self.briefs.contains_key(a));
        accounts.sort();
        accounts.dedup();
        self.briefs.extend(store::briefs(conn, &accounts).await?);
        for k in lost {
            let row = &mut rows[k];
            let mut suggestions: Vec<Suggestion> =
                serde_json::from_value(row.suggestions.clone()).unwrap_or_default();
            for c in of_amount.get(&row.amount).into_iter().flatten() {
                if row
                    .currency
                    .as_deref()
                    .is_some_and(|code| code != c.currency)
                {
                    continue;
                }
                if let Some(b) = self.briefs.get(&c.account_id) {
                    let invoice = SuggestedInvoice {
                        invoice_id: c.id,
                        number: c.number.clone(),
                        balance_due: c.balance_due,
                    };
                    suggestions.push(matching::suggestion(
                        c.account_id,
                        b,
                        vec![invoice],
                        Decimal::new(40, 2),
                        format!("open invoice {} has exactly this balance", c.number),
                    ));
                }
            }
            let name = row.payer_name.as_deref().and_then(references::payer_name);
            for (_, account) in named.iter().filter(|(n, _)| Some(n) == name.as_ref()) {
                if let Some(b) = self.briefs.get(account) {
                    suggestions.push(matching::suggestion(
                        *account,
                        b,
                        Vec::new(),
                        Decimal::new(35, 2),
                        format!("the account's name is the payer's ({})", b.name),
                    ));
                }
            }
            row.suggestions = serde_json::to_value(matching::rank(suggestions)).unwrap_or_default();
        }
        Ok(())
    }
}

/// The day the cash came: the bank's value date, never later than today.
fn received_date(value_date: Option<time::Date>, today: time::Date) -> time::Date {
    value_date.map_or(today, |d| d.min(today))
}

/// A bank payment's memo: where the file has it, and what it says.
fn memo(location: &str, text: &str) -> String {
    format!("Bank file, {location}: {text}")
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// A file with its match-rate report.
pub async fn view(conn: &mut Conn, file: BankFileRow) -> Result<BankFileView, ApiError> {
    Ok(views(conn, vec![file]).await?.remove(0))
}

/// Files with their match-rate reports, counted in one statement.
pub async fn views(
    conn: &mut Conn,
    files: Vec<BankFileRow>,
) -> Result<Vec<BankFileView>, ApiError> {
    let ids: Vec<Uuid> = files.iter().map(|f| f.id).collect();
    let mut rates = store::match_rates(conn, &ids).await?;
    Ok(files
        .into_iter()
        .map(|file| BankFileView {
            report: super::report::match_rate(rates.remove(&file.id).unwrap_or_default()),
            id: file.id,
            format: file.format,
            sha256: file.sha256,
            size_bytes: file.size_bytes,
            transactions: file.transactions,
            imported_by: file.imported_by,
            imported_at: file.imported_at,
        })
        .collect())
}

mod assign;
mod returns;

pub use assign::assign;
pub use returns::return_reason;
