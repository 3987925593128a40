//! How the account pays: payments received and applied, short payments and the deductions
//! they leave, cash applied by hand, and refunds of unapplied cash.

use super::*;

impl Book {
    /// The customer pays the invoices it decided to pay, in one payment or several, or
    /// waits to pay them together with later ones.
    pub(super) fn pay(&mut self, d: Date, i: usize, shared: &Shared) {
        self.to_pay.push(i);
        let (num, den) = shared.pay_rate;
        let payments = self.rng.count(num, den);
        if payments == 0 && self.to_pay.len() < 8 {
            return;
        }
        let mut due: Vec<(usize, Decimal)> = std::mem::take(&mut self.to_pay)
            .into_iter()
            .map(|i| (i, crate::payments::rules::payable(&self.invoices[i])))
            .filter(|(_, a)| *a > Decimal::ZERO)
            .collect();
        due.sort_by_key(|(i, _)| *i);
        due.dedup_by_key(|(i, _)| *i);
        let total: Decimal = due.iter().map(|(_, a)| *a).sum();
        if total.is_zero() {
            return;
        }
        if self.short_payer && payments == 1 && self.rng.chance(250) {
            self.remit_short(d, &due, shared);
            return;
        }
        let parts = payments.max(1) as i64;
        let mut left = total;
        for k in 0..parts {
            let mut amount = if k + 1 == parts {
                left
            } else {
                (total / Decimal::from(parts)).round_dp(2)
            };
            if amount <= Decimal::ZERO {
                break;
            }
            left -= amount;
            if k + 1 == parts && self.rng.chance(25) {
                // Paid a round sum, or twice: the rest stays as unapplied cash.
                amount += Decimal::from(self.rng.range(1, 100));
            }
            if self.rng.chance(40) {
                // No remittance advice: the cash waits for someone to apply it, and some
                // is never matched to an invoice (a credit balance on the account).
                let p = self.receive(d, amount, ApplicationMode::None, shared);
                let on = d + Duration::days(self.rng.range(1, 15));
                if on <= shared.options.as_of && !self.rng.chance(150) {
                    self.schedule(on, Event::ApplyCash(p));
                }
                continue;
            }
            let p = self.receive(d, amount, ApplicationMode::Auto, shared);
            let stamp = self.payment_stamp(p);
            self.apply_auto(p, &stamp);
            if self.payments[p].unapplied() > Decimal::ZERO && self.rng.chance(300) {
                let on = d + Duration::days(self.rng.range(10, 30));
                if on <= shared.options.as_of {
                    self.schedule(on, Event::Refund(p));
                }
            }
        }
    }

    pub(super) fn payment_stamp(&self, p: usize) -> Stamp {
        let actor = match self.payments[p].method {
            PaymentMethod::Lockbox => "lockbox-import",
            PaymentMethod::Ach => "ach-import",
            _ => "cash.applications",
        };
        Stamp {
            now: self.payments[p].created_at,
            actor: actor.into(),
            request_id: None,
        }
    }

    /// A new payment of `amount` received on `d`, with its receipt entry.
    pub(super) fn receive(
        &mut self,
        d: Date,
        amount: Decimal,
        mode: ApplicationMode,
        shared: &Shared,
    ) -> usize {
        let method = if self.account.autopay_enabled {
            PaymentMethod::Ach
        } else {
            *self.rng.pick(&[
                PaymentMethod::Ach,
                PaymentMethod::Ach,
                PaymentMethod::Ach,
                PaymentMethod::Check,
                PaymentMethod::Check,
                PaymentMethod::Check,
                PaymentMethod::Wire,
                PaymentMethod::Card,
                PaymentMethod::Lockbox,
                PaymentMethod::Portal,
            ])
        };
        let reference = match method {
            PaymentMethod::Check | PaymentMethod::Lockbox => {
                format!("{:06}", self.rng.below(1_000_000))
            }
            PaymentMethod::Ach => format!("{:015}", self.rng.below(1_000_000_000_000_000)),
            PaymentMethod::Wire => format!("FT{:010}", self.rng.below(10_000_000_000)),
            _ => format!("ch_{:012x}", self.rng.below(1 << 48)),
        };
        let now = at(d, 8 + self.rng.below(10) as u8, self.rng.below(60) as u8);
        let payment = PaymentRow {
            reference: Some(reference),
            application_mode: mode,
            ..PaymentRow::received(
                shared.payment_number(),
                self.account.id,
                amount,
                crate::money::Currency::USD,
                method,
                d,
                String::new(),
                now,
            )
        };
        self.payments.push(payment);
        let p = self.payments.len() - 1;
        let stamp = self.payment_stamp(p);
        self.payments[p].created_by = stamp.actor.clone();
        let receipt = crate::payments::rules::receipt(&self.payments[p], &stamp);
        self.out.ledger.push(receipt);
        p
    }

    /// Auto application: the account's open invoices, oldest due first.
    pub(super) fn apply_auto(&mut self, p: usize, stamp: &Stamp) {
        self.apply_oldest_first(p, ApplicationSource::Auto, stamp);
    }

    /// Cash that came without remittance advice, applied by hand days later to the oldest
    /// invoices, dated the day it is applied.
    pub(super) fn apply_cash(&mut self, d: Date, p: usize) {
        let clerk = *self.rng.pick(CLERKS);
        let stamp = stamp(d, 10, clerk);
        self.apply_oldest_first(p, ApplicationSource::Manual, &stamp);
    }

    pub(super) fn apply_oldest_first(
        &mut self,
        p: usize,
        source: ApplicationSource,
        stamp: &Stamp,
    ) {
        let available = self.payments[p].unapplied();
        let plan = crate::payments::rules::auto_plan(
            available,
            self.open.iter().map(|&i| &self.invoices[i]),
        );
        let mut touched = Vec::new();
        for (id, amount) in plan {
            let i = self.index[&id];
            self.apply(p, i, amount, source, stamp);
            touched.push(i);
        }
        let version = self.payments[p].version;
        self.settled(p, &touched, stamp);
        if source == ApplicationSource::Manual {
            // Each application by hand is a change of its own.
            self.payments[p].version = version;
        }
    }

    pub(super) fn apply(
        &mut self,
        p: usize,
        i: usize,
        amount: Decimal,
        source: ApplicationSource,
        stamp: &Stamp,
    ) {
        let payment = &mut self.payments[p];
        let invoice = &mut self.invoices[i];
        let made = if source == ApplicationSource::Manual {
            stamp.today()
        } else {
            payment.received_date
        };
        let date = made.max(invoice.invoice_date);
        let (application, entries) =
            crate::payments::rules::apply(payment, invoice, amount, source, date, stamp);
        self.out.applications.push(application);
        self.out.ledger.extend(entries);
    }

    /// After applications: the payment's version as the API leaves it, paid invoices out of
    /// the open list, open deductions kept within what their invoices are short.
    pub(super) fn settled(&mut self, p: usize, touched: &[usize], stamp: &Stamp) {
        self.payments[p].version = 1;
        self.sync_deductions(touched, Some(self.payments[p].id), stamp);
        let invoices = &self.invoices;
        self.open
            .retain(|&i| invoices[i].status == InvoiceStatus::Open);
    }

    /// What `payments::store::sync_deductions` does: an invoice no longer short settles its
    /// open deduction; one less short shrinks it.
    pub(super) fn sync_deductions(
        &mut self,
        touched: &[usize],
        payment: Option<Uuid>,
        stamp: &Stamp,
    ) {
        for i in touched {
            let Some(&k) = self.open_deduction.get(i) else {
                continue;
            };
            let invoice = &self.invoices[*i];
            let short = invoice.balance_due - invoice.disputed_amount;
            let d = &mut self.deductions[k];
            if short <= Decimal::ZERO {
                d.status = DeductionStatus::Paid;
                d.resolved_at = Some(stamp.now);
                d.resolved_by = Some(stamp.actor.clone());
                d.settled_by_payment_id = payment;
                d.version += 1;
                d.updated_at = stamp.now;
                self.open_deduction.remove(i);
            } else if d.amount > short {
                d.amount = short;
                d.version += 1;
                d.updated_at = stamp.now;
            }
        }
    }

    /// A payment with a remittance that pays one invoice short, leaving a deduction.
    pub(super) fn remit_short(&mut self, d: Date, due: &[(usize, Decimal)], shared: &Shared) {
        let short_one = self.rng.below(due.len() as u64) as usize;
        let mut lines = Vec::new();
        for (k, (i, amount)) in due.iter().enumerate() {
            if self.open_deduction.contains_key(i) {
                continue;
            }
            let paid = if k == short_one {
                let cut = if self.rng.chance(400) {
                    Decimal::new(self.rng.range(1, 500), 2)
                } else {
                    percent_of(*amount, self.rng.range(2, 15))
                };
                (*amount - cut).max(Decimal::new(1, 2))
            } else {
                *amount
            };
            lines.push((*i, paid, k == short_one));
        }
        let total: Decimal = lines.iter().map(|(_, a, _)| *a).sum();
        if lines.is_empty() || total.is_zero() {
            return;
        }
        let p = self.receive(d, total, ApplicationMode::Remittance, shared);
        let stamp = self.payment_stamp(p);
        let mut touched = Vec::new();
        let mut new_deductions = Vec::new();
        for (i, amount, short) in &lines {
            self.apply(p, *i, *amount, ApplicationSource::Remittance, &stamp);
            touched.push(*i);
            if !short {
                continue;
            }
            let reason = *self.rng.pick(&[
                DeductionReason::Pricing,
                DeductionReason::Tax,
                DeductionReason::Damaged,
                DeductionReason::NotReceived,
                DeductionReason::Promotional,
                DeductionReason::Other,
            ]);
            new_deductions.extend(
                crate::payments::rules::deduction(
                    &self.payments[p],
                    &self.invoices[*i],
                    Some(reason),
                    None,
                    &stamp,
                )
                .map(|row| (*i, row)),
            );
        }
        // As the API does: existing deductions are synced, then new ones are added.
        self.settled(p, &touched, &stamp);
        for (i, row) in new_deductions {
            self.deductions.push(row);
            let k = self.deductions.len() - 1;
            self.open_deduction.insert(i, k);
            let on = d + Duration::days(self.rng.range(10, 45));
            if on <= shared.options.as_of {
                self.schedule(on, Event::FollowUpDeduction(k));
            }
        }
    }

    /// Billing follows a deduction up: a small one is written off, a larger one often
    /// becomes a dispute; the rest wait for the customer.
    pub(super) fn follow_up_deduction(&mut self, d: Date, k: usize, shared: &Shared) {
        if self.deductions[k].status != DeductionStatus::Open {
            return;
        }
        let i = self.index[&self.deductions[k].invoice_id];
        let clerk = *self.rng.pick(CLERKS);
        let stamp = stamp(d, 14, clerk);
        let tolerance = shared.settings.small_balance_tolerance;
        if crate::payments::rules::write_off_refusal(
            &self.deductions[k],
            &self.invoices[i],
            tolerance,
        )
        .is_none()
        {
            let deduction = &mut self.deductions[k];
            let reason = format!(
                "Small-balance write-off of a {} deduction",
                deduction.reason.as_str()
            );
            let adjustment = AdjustmentRow {
                id: Uuid::now_v7(),
                account_id: deduction.account_id,
                invoice_id: Some(deduction.invoice_id),
                kind: AdjustmentKind::SmallBalanceWriteOff,
                amount: deduction.amount,
                currency: deduction.currency,
                financial_code_id: shared.codes.write_off,
                reason: reason.clone(),
                deduction_id: Some(deduction.id),
                payment_id: None,
                created_by: stamp.actor.clone(),
                created_at: stamp.now,
            };
            let invoice = &mut self.invoices[i];
            let description = format!(
                "Small-balance write-off on {}: {reason}",
                invoice.number.as_deref().unwrap_or_default()
            );
            let entry = crate::adjustments::rules::write_off(
                invoice,
                deduction.amount,
                adjustment.id,
                description,
                &stamp,
            );
            crate::payments::rules::resolve(deduction, DeductionStatus::WrittenOff, &stamp);
            deduction.adjustment_id = Some(adjustment.id);
            self.open_deduction.remove(&i);
            self.out.ledger.push(entry);
            self.out.adjustments.push(adjustment);
            let invoices = &self.invoices;
            self.open
                .retain(|&i| invoices[i].status == InvoiceStatus::Open);
        } else if self.rng.chance(500) {
            self.open_dispute(d, i, Some(k), shared);
        }
    }

    /// The unapplied cash of an overpayment goes back to the customer.
    pub(super) fn refund(&mut self, d: Date, p: usize) {
        let amount = self.payments[p].unapplied();
        if amount <= Decimal::ZERO {
            return;
        }
        let stamp = stamp(d, 13, "treasury");
        let row = RefundRow {
            id: Uuid::now_v7(),
            payment_id: self.payments[p].id,
            amount,
            method: RefundMethod::Ach,
            reference: Some(format!("RF{:08}", self.rng.below(100_000_000))),
            refunded_on: d,
            reason: Some("Overpayment returned to the customer".into()),
            created_by: stamp.actor.clone(),
            created_at: stamp.now,
        };
        let (row, entry) = crate::payments::rules::refund(&mut self.payments[p], row, &stamp);
        self.out.refunds.push(row);
        self.out.ledger.push(entry);
    }
}
