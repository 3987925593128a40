//! Disputes opened and resolved, goodwill credits, and the credit memos they make.

use super::*;

impl Book {
    /// A dispute on an open invoice (for part of its undisputed balance, or for a deduction),
    /// resolved some days later unless it is recent.
    pub(super) fn open_dispute(
        &mut self,
        d: Date,
        i: usize,
        deduction: Option<usize>,
        shared: &Shared,
    ) {
        let invoice = &self.invoices[i];
        let room = crate::disputes::rules::undisputed(invoice);
        if invoice.status != InvoiceStatus::Open || room <= Decimal::ZERO {
            return;
        }
        if deduction.is_none() && self.open_deduction.contains_key(&i) {
            return;
        }
        let (amount, reason) = match deduction {
            Some(k) => (
                self.deductions[k].amount,
                crate::disputes::rules::reason_of(self.deductions[k].reason),
            ),
            None => {
                let amount = if self.rng.chance(400) {
                    room
                } else {
                    percent_of(room, self.rng.range(5, 60)).max(Decimal::new(1, 2))
                };
                let reason = *self.rng.pick(&[
                    DisputeReason::Pricing,
                    DisputeReason::MeterReading,
                    DisputeReason::Duplicate,
                    DisputeReason::Tax,
                    DisputeReason::ServiceNotRendered,
                    DisputeReason::Other,
                ]);
                (amount, reason)
            }
        };
        let stamp = stamp(
            d,
            11,
            if deduction.is_some() {
                "billing.desk"
            } else {
                "customer.portal"
            },
        );
        let contact = self.out.contacts.first();
        let row = DisputeRow {
            id: Uuid::now_v7(),
            number: shared.dispute_number(),
            account_id: self.account.id,
            invoice_id: invoice.id,
            invoice_line_id: None,
            deduction_id: deduction.map(|k| self.deductions[k].id),
            amount,
            currency: invoice.currency,
            reason,
            description: format!(
                "Customer questions {} on invoice {}",
                reason.as_str().replace('_', " "),
                invoice.number.as_deref().unwrap_or_default()
            ),
            contact_name: contact.map(|c| c.name.clone()),
            contact_email: contact.and_then(|c| c.email.clone()),
            contact_phone: None,
            status: DisputeStatus::Open,
            assignee: None,
            opened_on: d,
            sla_due_date: crate::disputes::rules::add_business_days(
                d,
                shared.settings.dispute_sla_business_days,
                &shared.settings.holidays,
            ),
            root_cause: None,
            resolution_note: None,
            approved_amount: None,
            credit_memo_id: None,
            resolved_at: None,
            resolved_by: None,
            opened_by: stamp.actor.clone(),
            version: 1,
            created_at: stamp.now,
            updated_at: stamp.now,
            tax_amount: Decimal::ZERO,
        };
        let invoice = &mut self.invoices[i];
        invoice.disputed_amount += amount;
        invoice.version += 1;
        invoice.updated_at = stamp.now;
        if let Some(k) = deduction {
            let ded = &mut self.deductions[k];
            crate::payments::rules::resolve(ded, DeductionStatus::Disputed, &stamp);
            ded.dispute_id = Some(row.id);
            self.open_deduction.remove(&i);
        }
        self.disputes.push(row);
        self.disputed.insert(i);
        let k = self.disputes.len() - 1;
        let on = d + Duration::days(self.rng.range(2, 40));
        if on <= shared.options.as_of {
            self.schedule(on, Event::ResolveDispute(k));
        } else if on - Duration::days(20) <= shared.options.as_of {
            let dispute = &mut self.disputes[k];
            dispute.status = DisputeStatus::UnderReview;
            dispute.assignee = Some((*self.rng.pick(COLLECTORS)).into());
            dispute.version += 1;
        }
    }

    /// A dispute ends: found valid (a credit memo for the approved amount, applied to the
    /// invoice), invalid, or withdrawn by the customer.
    pub(super) fn resolve_dispute(&mut self, d: Date, k: usize, shared: &Shared) {
        let resolver = *self.rng.pick(COLLECTORS);
        let stamp = stamp(d, 15, resolver);
        let roll = self.rng.below(100);
        let dispute = &mut self.disputes[k];
        let i = self.index[&dispute.invoice_id];
        let invoice = &mut self.invoices[i];
        invoice.disputed_amount = (invoice.disputed_amount - dispute.amount).max(Decimal::ZERO);
        invoice.version += 1;
        invoice.updated_at = stamp.now;
        dispute.resolved_at = Some(stamp.now);
        dispute.resolved_by = Some(stamp.actor.clone());
        dispute.assignee.get_or_insert_with(|| resolver.into());
        dispute.version += 1;
        dispute.updated_at = stamp.now;
        if roll < 15 {
            dispute.status = DisputeStatus::Withdrawn;
        } else if roll < 45 {
            dispute.status = DisputeStatus::ResolvedInvalid;
            dispute.root_cause = Some(RootCause::CustomerMisunderstanding);
            dispute.resolution_note = Some("Charges confirmed against the contract".into());
        } else {
            let approved = if roll < 85 {
                dispute.amount
            } else {
                percent_of(dispute.amount, 50).max(Decimal::new(1, 2))
            };
            dispute.status = DisputeStatus::ResolvedValid;
            dispute.approved_amount = Some(approved);
            dispute.root_cause = Some(*self.rng.pick(&[
                RootCause::BillingError,
                RootCause::MeterMisread,
                RootCause::PricingSetup,
                RootCause::ContractSetup,
            ]));
            dispute.resolution_note = Some("Credit approved".into());
            let description = format!(
                "Dispute {} resolved ({}): {}",
                dispute.number,
                dispute.root_cause.expect("set").as_str().replace('_', " "),
                dispute.reason.as_str().replace('_', " ")
            );
            let dispute_id = dispute.id;
            let memo_id = self.credit(
                d,
                i,
                CreditReason::Dispute,
                description,
                approved,
                Some(dispute_id),
                &stamp,
                shared,
            );
            self.disputes[k].credit_memo_id = Some(memo_id);
        }
        let dispute = &self.disputes[k];
        if dispute.status != DisputeStatus::ResolvedValid {
            // A dispute of a deduction that ends without a credit gives the deduction back.
            if let Some(ded) = dispute.deduction_id {
                let k = self
                    .deductions
                    .iter()
                    .position(|x| x.id == ded)
                    .expect("its deduction");
                let invoice = &self.invoices[i];
                let short = invoice.balance_due - invoice.disputed_amount;
                if invoice.status == InvoiceStatus::Open
                    && short > Decimal::ZERO
                    && !self.open_deduction.contains_key(&i)
                {
                    let x = &mut self.deductions[k];
                    x.status = DeductionStatus::Open;
                    x.amount = x.amount.min(short);
                    x.resolved_at = None;
                    x.resolved_by = None;
                    x.version += 1;
                    x.updated_at = stamp.now;
                    self.open_deduction.insert(i, k);
                }
            }
        }
        self.disputed.remove(&i);
        let invoices = &self.invoices;
        self.open
            .retain(|&i| invoices[i].status == InvoiceStatus::Open);
    }

    /// A goodwill credit on an invoice that is still open.
    pub(super) fn goodwill(&mut self, d: Date, i: usize, shared: &Shared) {
        let room = crate::credit_memos::rules::creditable(&self.invoices[i]);
        if room <= Decimal::ZERO {
            return;
        }
        let amount = percent_of(room, self.rng.range(5, 25)).max(Decimal::new(1, 2));
        let clerk = *self.rng.pick(CLERKS);
        let stamp = stamp(d, 16, clerk);
        self.credit(
            d,
            i,
            CreditReason::Goodwill,
            "Goodwill credit".into(),
            amount,
            None,
            &stamp,
            shared,
        );
    }

    /// A credit memo issued and applied to invoice `i` as far as its balance allows (the
    /// rest stays on account), as `credit_memos::service::issue_and_apply` does.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn credit(
        &mut self,
        d: Date,
        i: usize,
        reason: CreditReason,
        description: String,
        amount: Decimal,
        dispute: Option<Uuid>,
        stamp: &Stamp,
        shared: &Shared,
    ) -> Uuid {
        let lines = [crate::credit_memos::service::plain_line(
            description,
            amount,
        )];
        let mut memo = crate::credit_memos::service::new_memo(
            self.account.id,
            crate::money::Currency::USD,
            reason,
            shared.codes.credit,
            &lines,
            None,
            dispute,
            stamp,
        );
        self.out
            .memo_lines
            .extend(crate::credit_memos::service::line_rows(memo.id, &lines));
        self.out.memo_targets.push(TargetRow {
            credit_memo_id: memo.id,
            invoice_id: self.invoices[i].id,
            amount,
        });
        crate::credit_memos::rules::submit(&mut memo, true, stamp);
        let year = d.year();
        let n = shared.next(&format!("CM-{year}"));
        let entry =
            crate::credit_memos::rules::issue(&mut memo, format!("CM-{year}-{n:06}"), stamp);
        self.out.ledger.push(entry);
        let invoice = &mut self.invoices[i];
        let apply = amount
            .min(crate::credit_memos::rules::creditable(invoice))
            .min(memo.unapplied());
        if apply > Decimal::ZERO {
            let date = d.max(invoice.invoice_date);
            let (application, pair) =
                crate::credit_memos::rules::apply(&mut memo, invoice, apply, date, stamp);
            self.out.memo_applications.push(application);
            self.out.ledger.extend(pair);
        }
        self.sync_deductions(&[i], None, stamp);
        let invoices = &self.invoices;
        self.open
            .retain(|&i| invoices[i].status == InvoiceStatus::Open);
        let id = memo.id;
        self.memos.push(memo);
        id
    }
}
