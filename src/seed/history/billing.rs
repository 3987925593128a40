//! The account's invoices: what its contracts' billing runs bill, and one-off invoices.

use super::*;

impl Book {
    /// How many invoices the contracts' billing runs make, about.
    pub(super) fn periodic_invoices(&self, runs: &[RunRow]) -> u64 {
        self.contracts
            .iter()
            .map(|c| {
                let after = runs
                    .iter()
                    .filter(|r| r.as_of > c.input.contract.start_date)
                    .count() as u64;
                match c.input.contract.billing_frequency {
                    BillingFrequency::Monthly => after,
                    BillingFrequency::Quarterly => after.div_ceil(3),
                    BillingFrequency::Annual => after.div_ceil(12),
                }
            })
            .sum()
    }

    /// The billing run of the day bills every contract through the billing engine.
    pub(super) fn bill(&mut self, d: Date, run: usize, shared: &Shared) {
        let run_row = &shared.runs[run];
        let now = at(d, 2, 5);
        let actor = format!("billing-run:{}", run_row.id);
        for k in 0..self.contracts.len() {
            if self.contracts[k].input.contract.start_date > d {
                continue;
            }
            let bill = match engine::bill_contract(
                &self.contracts[k].input,
                &self.terms,
                d,
                d,
                run_row.id,
                &shared.settings.billing,
                now,
            ) {
                Ok(bill) => bill,
                Err(e) => {
                    let id = self.contracts[k].input.contract.id;
                    self.out.billing_errors.push(BillingErrorRow {
                        run_id: run_row.id,
                        contract_id: id,
                        code: e.code,
                        reason: e.reason,
                    });
                    continue;
                }
            };
            let input = &mut self.contracts[k].input;
            let contract_id = input.contract.id;
            for (start, end, invoice_id) in &bill.billed_periods {
                input.billed_starts.insert(*start);
                self.out.billed_periods.push(BilledPeriodRow {
                    contract_id,
                    period_start: *start,
                    period_end: *end,
                    invoice_id: *invoice_id,
                });
            }
            for m in input.meters.iter_mut() {
                for p in &bill.rerated {
                    if let Some(b) = m
                        .billed
                        .iter_mut()
                        .find(|b| b.meter_id == p.meter_id && b.period_start == p.period_start)
                    {
                        *b = p.clone();
                    }
                }
                m.billed.extend(
                    bill.new_meter_periods
                        .iter()
                        .filter(|p| p.meter_id == m.meter.id)
                        .cloned(),
                );
            }
            self.out.readings.extend(bill.estimates);
            self.out.lines.extend(bill.lines);
            for mut invoice in bill.invoices {
                if crate::invoices::rules::issue_problems(&invoice).is_empty() {
                    let number = shared.invoice_number(d.year());
                    let entry =
                        crate::invoices::rules::issue(&mut invoice, number, d, now, &actor, None);
                    self.out.ledger.extend(entry);
                } else {
                    self.out.billing_errors.push(BillingErrorRow {
                        run_id: run_row.id,
                        contract_id,
                        code: "not_issued",
                        reason:
                            "invoice left as a draft: total: an invoice cannot total below zero"
                                .into(),
                    });
                }
                self.add_invoice(d, invoice, shared);
            }
        }
    }

    /// A one-off invoice for supplies or a service call, issued the day it is made.
    pub(super) fn manual_invoice(&mut self, d: Date, shared: &Shared) {
        let clerk = *self.rng.pick(CLERKS);
        let now = at(d, 9 + self.rng.below(8) as u8, self.rng.below(60) as u8);
        let lines: Vec<NewLine> = (0..self.rng.range(1, 3))
            .map(|_| {
                let (description, cents, taxable) = *self.rng.pick(CATALOG);
                NewLine {
                    description: description.into(),
                    quantity: Decimal::from(self.rng.range(1, 6)),
                    unit_price: Decimal::new(cents, 2),
                    financial_code_id: shared.codes.supplies,
                    taxable: Some(taxable),
                }
            })
            .collect();
        let contract = (!self.contracts.is_empty() && self.rng.chance(300)).then(|| {
            let k = self.rng.below(self.contracts.len() as u64) as usize;
            self.contracts[k].input.contract.id
        });
        let id = Uuid::now_v7();
        let mut invoice = crate::invoices::rules::new_draft(
            &self.account,
            id,
            contract,
            self.account.payment_terms_days,
            now,
        );
        let usd = Currency::parse("USD").expect("USD");
        let rows = crate::invoices::rules::manual_lines(id, &lines, usd);
        crate::invoices::rules::set_totals(&mut invoice, &rows, usd);
        self.out.lines.extend(rows);
        let number = shared.invoice_number(d.year());
        let entry = crate::invoices::rules::issue(&mut invoice, number, d, now, clerk, None);
        self.out.ledger.extend(entry);
        self.add_invoice(d, invoice, shared);
    }

    /// Keeps a new invoice and decides what will happen to it: when the customer means to
    /// pay it, whether it will be disputed or credited.
    pub(super) fn add_invoice(&mut self, d: Date, invoice: InvoiceRow, shared: &Shared) {
        let i = self.invoices.len();
        let open = invoice.status == InvoiceStatus::Open;
        let due = invoice.due_date;
        self.index.insert(invoice.id, i);
        self.invoices.push(invoice);
        shared.invoices.fetch_add(1, Ordering::Relaxed);
        if !open {
            return;
        }
        self.open.push(i);
        let pay_on =
            (due + Duration::days(self.payer.delay(&mut self.rng))).max(d + Duration::days(1));
        let stopped = matches!(self.payer, Payer::Delinquent { stops } if pay_on >= stops);
        if !stopped && pay_on <= shared.options.as_of {
            self.schedule(pay_on, Event::Pay(i));
        }
        if self.rng.chance(15) {
            let on = d + Duration::days(self.rng.range(3, 20));
            if on <= shared.options.as_of {
                self.schedule(on, Event::OpenDispute(i));
            }
        } else if self.rng.chance(4) {
            let on = d + Duration::days(self.rng.range(5, 30));
            if on <= shared.options.as_of {
                self.schedule(on, Event::Goodwill(i));
            }
        }
    }
}
