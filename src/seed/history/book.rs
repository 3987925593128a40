//! An account's books: opened with its contracts, equipment, meters and readings, then run
//! day by day through its scheduled events, and written out at the end.

use super::*;
use crate::money::Currency;

impl Book {
    /// An account with its contracts, equipment, meters and readings.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        index: usize,
        contracts: usize,
        first_contract: usize,
        partners: &[PartnerRow],
        shared_codes: Codes,
        options: &Options,
        start: Date,
        settings: &Settings,
    ) -> Book {
        let mut rng = Rng::new(options.seed, index as u64);
        let created = at(start - Duration::days(rng.range(1, 400)), 10, 0);
        let (city, region, postal) = *rng.pick(CITIES);
        let name = format!(
            "{} {} {}",
            rng.pick(NAMES),
            rng.pick(TRADES),
            rng.pick(SUFFIXES)
        );
        let tax_exempt = rng.chance(80);
        let autopay = rng.chance(150);
        let number = crate::accounts::rules::account_number(index as i64 + 1);
        let account = AccountRow {
            id: Uuid::now_v7(),
            number: number.clone(),
            legal_name: name.clone(),
            currency: Currency::USD,
            payment_terms_days: *rng.pick(&[15, 30, 30, 30, 30, 45, 60]),
            tax_exempt,
            tax_exemption_number: tax_exempt.then(|| format!("EX-{:07}", rng.below(10_000_000))),
            tax_rate: (!tax_exempt).then(|| {
                *rng.pick(&[
                    Decimal::new(625, 2),
                    Decimal::new(700, 2),
                    Decimal::new(825, 2),
                    Decimal::new(8875, 3),
                    Decimal::new(950, 2),
                ])
            }),
            credit_limit: Some(Decimal::from(rng.range(5, 150) * 1000)),
            credit_status: if rng.chance(50) {
                CreditStatus::Watch
            } else {
                CreditStatus::Good
            },
            risk_level: RiskLevel::Low,
            status: AccountStatus::Active,
            collections_status: CollectionsStatus::None,
            partner_id: (!partners.is_empty() && rng.chance(700)).then(|| rng.pick(partners).id),
            autopay_enabled: autopay,
            autopay_method: autopay.then_some(AutopayMethod::Ach),
            billing_address: Address {
                line1: format!("{} {} St", rng.range(1, 9999), rng.pick(NAMES)),
                line2: None,
                city: city.into(),
                region: Some(region.into()),
                postal_code: Some(postal.into()),
                country: "US".into(),
            },
            presentment: Presentment::default(),
            external_crm_id: Some(format!("CRM-{:08}", index + 1)),
            version: 1,
            created_at: created,
            updated_at: created,
            closed_at: None,
            parent_id: None,
            credit_scope: crate::accounts::model::CreditScope::Own,
        };
        let slug: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(16)
            .collect::<String>()
            .to_lowercase();
        let mut out = Output::default();
        out.contacts.push(ContactRow {
            id: Uuid::now_v7(),
            account_id: account.id,
            name: "Accounts Payable".into(),
            email: Some(format!("ap@{slug}{}.example.com", index + 1)),
            phone: Some(format!("+1 555 {:04}", rng.below(10_000))),
            role: ContactRole::Billing,
            version: 1,
            created_at: created,
            updated_at: created,
        });
        if rng.chance(400) {
            out.contacts.push(ContactRow {
                id: Uuid::now_v7(),
                account_id: account.id,
                name: "Office Manager".into(),
                email: Some(format!("office@{slug}{}.example.com", index + 1)),
                phone: None,
                role: ContactRole::Primary,
                version: 1,
                created_at: created,
                updated_at: created,
            });
        }
        let payer = match rng.below(100) {
            0..=49 => Payer::Prompt,
            50..=74 => Payer::Normal,
            75..=89 => Payer::Slow,
            _ => Payer::Delinquent {
                stops: options.as_of - Duration::days(rng.range(30, 300)),
            },
        };
        let mut book = Book {
            short_payer: rng.chance(120),
            rng,
            terms: HashMap::from([(
                account.id,
                AccountTerms {
                    payment_terms_days: account.payment_terms_days,
                    tax_rate: crate::invoices::rules::tax_rate(&account),
                },
            )]),
            account,
            payer,
            contracts: Vec::new(),
            invoices: Vec::new(),
            index: HashMap::new(),
            open: Vec::new(),
            to_pay: Vec::new(),
            payments: Vec::new(),
            deductions: Vec::new(),
            open_deduction: HashMap::new(),
            disputes: Vec::new(),
            disputed: HashSet::new(),
            memos: Vec::new(),
            events: BinaryHeap::new(),
            seq: 0,
            out,
        };
        for k in 0..contracts {
            let contract =
                book.contract(first_contract + k, shared_codes, options, start, settings);
            book.contracts.push(contract);
        }
        book
    }

    /// A contract signed in the history, with its charges and, for most leases and rentals,
    /// a copier whose meters are read every period.
    pub(super) fn contract(
        &mut self,
        n: usize,
        codes: Codes,
        options: &Options,
        start: Date,
        settings: &Settings,
    ) -> Contract {
        let rng = &mut self.rng;
        let latest = options.as_of - Duration::days(45);
        let span = (latest - start).whole_days().max(1);
        let start_date = if rng.chance(550) {
            start + Duration::days(rng.range(0, 25).min(span))
        } else {
            start + Duration::days(rng.range(0, span))
        };
        let kind = match rng.below(10) {
            0..=4 => ContractKind::Lease,
            5..=6 => ContractKind::Rental,
            _ => ContractKind::Service,
        };
        let frequency = match rng.below(100) {
            0..=84 => BillingFrequency::Monthly,
            85..=96 => BillingFrequency::Quarterly,
            _ => BillingFrequency::Annual,
        };
        let anchor_day = if rng.chance(750) {
            1
        } else {
            start_date.day().min(28) as i16
        };
        let timing = if kind == ContractKind::Service && rng.chance(600) {
            BillingTiming::Arrears
        } else {
            BillingTiming::Advance
        };
        let created = at(start_date - Duration::days(rng.range(3, 20)), 11, 0);
        let term_years = *rng.pick(&[3, 4, 5]);
        let end_date = start_date
            .replace_day(start_date.day().min(28))
            .and_then(|d| d.replace_year(d.year() + term_years))
            .ok()
            .map(|d| d - Duration::days(1));
        let contract = ContractRow {
            id: Uuid::now_v7(),
            number: crate::contracts::rules::contract_number(n as i64 + 1),
            account_id: self.account.id,
            kind,
            status: ContractStatus::Active,
            currency: Currency::USD,
            start_date,
            end_date: (kind != ContractKind::Service)
                .then_some(end_date)
                .flatten(),
            billing_frequency: frequency,
            anchor_day,
            billing_timing: timing,
            payment_terms_days: None,
            description: Some(format!("{} agreement", kind.as_str())),
            external_reference: None,
            terminated_on: None,
            version: 2,
            created_at: created,
            updated_at: created,
            activated_at: Some(created + Duration::hours(2)),
            anchor_month: None,
            external_crm_id: None,
        };
        let (code, base) = match kind {
            ContractKind::Lease => (codes.lease, rng.cents(8_000, 150_000)),
            ContractKind::Rental => (codes.rental, rng.cents(5_000, 60_000)),
            _ => (codes.service, rng.cents(4_000, 40_000)),
        };
        let base = base.round_dp(0);
        let mut charges = vec![ChargeRow {
            id: Uuid::now_v7(),
            contract_id: contract.id,
            description: match kind {
                ContractKind::Lease => "Lease payment".into(),
                ContractKind::Rental => "Equipment rental".into(),
                _ => "Service agreement".into(),
            },
            amount: base,
            financial_code_id: code,
            taxable: kind != ContractKind::Service || rng.chance(500),
            effective_from: start_date,
            effective_to: None,
            amendment_id: None,
            created_at: created,
        }];
        if rng.chance(300) {
            charges.push(ChargeRow {
                id: Uuid::now_v7(),
                contract_id: contract.id,
                description: "Maintenance".into(),
                amount: rng.cents(1_500, 12_000),
                financial_code_id: codes.service,
                taxable: true,
                effective_from: start_date,
                effective_to: None,
                amendment_id: None,
                created_at: created,
            });
        }
        let mut meters = Vec::new();
        if kind != ContractKind::Service && rng.chance(650) {
            meters = self.copier(&contract, codes, options, settings, created);
        }
        self.out.charges.extend(charges.iter().cloned());
        self.out.contracts.push(contract.clone());
        Contract {
            input: ContractInput {
                contract,
                charges,
                amendments: Vec::new(),
                meters,
                billed_starts: HashSet::new(),
            },
        }
    }

    /// A copier on the contract with a black-and-white meter and often a colour one, read
    /// near the end of every period (a few readings missing: billing estimates those).
    pub(super) fn copier(
        &mut self,
        contract: &ContractRow,
        codes: Codes,
        options: &Options,
        settings: &Settings,
        created: OffsetDateTime,
    ) -> Vec<MeterInput> {
        let rng = &mut self.rng;
        let (make, model) = *rng.pick(MODELS);
        let equipment = EquipmentRow {
            id: Uuid::now_v7(),
            contract_id: contract.id,
            serial_number: format!("{}-{}", &make[..2].to_uppercase(), &contract.number[4..])
                + &format!("{:02}", rng.below(100)),
            make: make.into(),
            model: model.into(),
            install_address: Some(self.account.billing_address.clone()),
            installed_on: contract.start_date,
            removed_on: None,
            pickup_status: None,
            version: 1,
            created_at: created,
            updated_at: created,
        };
        let periods = crate::billing::rules::periods(
            contract.start_date,
            contract.last_billable_day(),
            options.as_of,
            contract.billing_frequency,
            contract.anchor_day as u8,
            contract.anchor_month.map(|m| m.clamp(1, 12) as u8),
        );
        let mut meters = Vec::new();
        let kinds: &[&str] = if rng.chance(550) {
            &["bw", "color"]
        } else {
            &["bw"]
        };
        for kind in kinds {
            let (daily, included, rate) = if *kind == "bw" {
                (
                    rng.range(80, 700),
                    rng.range(1, 10) * 1000,
                    Decimal::new(rng.range(60, 120), 4),
                )
            } else {
                (
                    rng.range(15, 160),
                    rng.range(0, 4) * 500,
                    Decimal::new(rng.range(400, 900), 4),
                )
            };
            let meter = MeterRow {
                id: Uuid::now_v7(),
                equipment_id: equipment.id,
                contract_id: contract.id,
                meter_type: (*kind).into(),
                financial_code_id: codes.usage,
                expected_monthly_volume: Some(daily * 30),
                created_at: created,
            };
            let plan = PlanRow {
                id: Uuid::now_v7(),
                meter_id: meter.id,
                effective_from: contract.start_date,
                included_units: included,
                overage_rate: rate,
                minimum_charge: if rng.chance(200) {
                    Decimal::new(2500, 2)
                } else {
                    Decimal::ZERO
                },
                amendment_id: None,
                created_at: created,
            };
            let mut value = rng.range(1_000, 250_000);
            let mut actuals = vec![reading(
                &meter,
                contract.start_date,
                value,
                ReadingSource::Technician,
                created,
            )];
            let mut last = contract.start_date;
            for p in &periods {
                let boundary = p.boundary();
                let read_on = boundary
                    - Duration::days(rng.range(0, settings.billing.reading_window_days.min(2)));
                if read_on <= last || read_on > options.as_of || rng.chance(80) {
                    continue;
                }
                let days = (read_on - last).whole_days();
                value += daily * days * rng.range(80, 120) / 100;
                let source = *rng.pick(&[
                    ReadingSource::Device,
                    ReadingSource::Device,
                    ReadingSource::Customer,
                    ReadingSource::Partner,
                ]);
                actuals.push(reading(&meter, read_on, value, source, at(read_on, 18, 0)));
                last = read_on;
            }
            self.out.readings.extend(actuals.iter().cloned());
            self.out.meters.push(meter.clone());
            self.out.plans.push(plan.clone());
            meters.push(MeterInput {
                meter,
                equipment: equipment.clone(),
                plans: vec![plan],
                actuals,
                billed: Vec::new(),
            });
        }
        self.out.equipment.push(equipment);
        meters
    }

    pub(super) fn schedule(&mut self, on: Date, event: Event) {
        self.seq += 1;
        self.events.push(Reverse((on, self.seq, event)));
    }

    /// One day of the account's history.
    pub(super) fn day(&mut self, d: Date, shared: &Shared) {
        if d.day() == 1 || d == shared.start {
            let month_end = (next_month(d) - Duration::days(1)).min(shared.options.as_of);
            let span = (month_end - d).whole_days();
            for _ in 0..self.rng.count(shared.manual_rate.0, shared.manual_rate.1) {
                let on = d + Duration::days(self.rng.range(0, span));
                self.schedule(on, Event::Manual);
            }
        }
        if let Some(&run) = shared.run_on.get(&d) {
            self.bill(d, run, shared);
        }
        while let Some(Reverse((on, _, _))) = self.events.peek() {
            if *on > d {
                break;
            }
            let Some(Reverse((_, _, event))) = self.events.pop() else {
                break;
            };
            match event {
                Event::Manual => self.manual_invoice(d, shared),
                Event::Pay(i) => self.pay(d, i, shared),
                Event::OpenDispute(i) => self.open_dispute(d, i, None, shared),
                Event::ResolveDispute(k) => self.resolve_dispute(d, k, shared),
                Event::FollowUpDeduction(k) => self.follow_up_deduction(d, k, shared),
                Event::Goodwill(i) => self.goodwill(d, i, shared),
                Event::Refund(p) => self.refund(d, p),
                Event::ApplyCash(p) => self.apply_cash(d, p),
            }
        }
    }

    /// The account's rows once its history is written.
    pub(super) fn finish(mut self) -> Output {
        for c in self.contracts {
            for m in c.input.meters {
                self.out.meter_periods.extend(m.billed);
            }
        }
        self.out.accounts.push(self.account);
        self.out.invoices = self.invoices;
        self.out.payments = self.payments;
        self.out.deductions = self.deductions;
        self.out.disputes = self.disputes;
        self.out.memos = self.memos;
        self.out
    }
}
