use super::*;
use std::str::FromStr;

use rust_decimal::Decimal;
use time::Date;

use crate::contracts::model::BillingFrequency;
use crate::money::Currency;
use time::macros::date;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

#[test]
fn monthly_periods_from_a_mid_month_start_begin_with_a_short_period() {
    let got = periods(
        date!(2026 - 10 - 16),
        None,
        date!(2026 - 11 - 01),
        BillingFrequency::Monthly,
        1,
        None,
    );
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].start, date!(2026 - 10 - 16));
    assert_eq!(got[0].end, date!(2026 - 10 - 31));
    assert_eq!((got[0].days(), got[0].full_days()), (16, 31));
    assert_eq!(got[1].start, date!(2026 - 11 - 01));
    assert_eq!(got[1].end, date!(2026 - 11 - 30));
}

#[test]
fn the_worked_proration_is_16_of_31_days() {
    assert_eq!(prorate(d("250.00"), 16, 31, usd()), d("129.03"));
    assert_eq!(prorate(d("250"), 31, 31, usd()).to_string(), "250.00");
}

#[test]
fn anchor_days_past_a_months_end_fall_on_its_last_day() {
    let got = periods(
        date!(2026 - 01 - 31),
        None,
        date!(2026 - 04 - 01),
        BillingFrequency::Monthly,
        31,
        None,
    );
    let starts: Vec<Date> = got.iter().map(|p| p.start).collect();
    assert_eq!(
        starts,
        vec![
            date!(2026 - 01 - 31),
            date!(2026 - 02 - 28),
            date!(2026 - 03 - 31)
        ]
    );
    assert_eq!(got[0].end, date!(2026 - 02 - 27));
}

#[test]
fn quarterly_and_annual_periods_step_from_the_first_anchor() {
    let q = periods(
        date!(2026 - 02 - 10),
        None,
        date!(2026 - 06 - 01),
        BillingFrequency::Quarterly,
        1,
        None,
    );
    assert_eq!(q[0].start, date!(2026 - 02 - 10));
    assert_eq!(q[0].end, date!(2026 - 02 - 28));
    assert_eq!(q[0].full_start, date!(2025 - 12 - 01));
    assert_eq!(q[1].start, date!(2026 - 03 - 01));
    assert_eq!(q[1].end, date!(2026 - 05 - 31));
    assert_eq!(q.len(), 3);
    let a = periods(
        date!(2026 - 01 - 01),
        None,
        date!(2027 - 01 - 01),
        BillingFrequency::Annual,
        1,
        None,
    );
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].full_days(), 365);
}

#[test]
fn calendar_quarters_prorate_a_first_partial_period_over_its_whole_quarter() {
    // Quarterly, 1,200.00 in advance, anchor day 1, anchor month 1, from 20 May 2025.
    let q = periods(
        date!(2025 - 05 - 20),
        None,
        date!(2025 - 10 - 01),
        BillingFrequency::Quarterly,
        1,
        Some(1),
    );
    assert_eq!(
        (q[0].start, q[0].end),
        (date!(2025 - 05 - 20), date!(2025 - 06 - 30))
    );
    assert_eq!(q[0].full_start, date!(2025 - 04 - 01));
    assert_eq!((q[0].days(), q[0].full_days()), (42, 91));
    assert_eq!(prorate(d("1200.00"), 42, 91, usd()), d("553.85"));
    assert_eq!(
        (q[1].start, q[1].end),
        (date!(2025 - 07 - 01), date!(2025 - 09 - 30))
    );
    assert_eq!(q[1].days(), q[1].full_days());
    assert_eq!(q[2].start, date!(2025 - 10 - 01));
    // Any month of the grid names the same quarters.
    let same = periods(
        date!(2025 - 05 - 20),
        None,
        date!(2025 - 10 - 01),
        BillingFrequency::Quarterly,
        1,
        Some(10),
    );
    assert_eq!(same, q);
    // A start on the grid has no short period.
    let on_grid = periods(
        date!(2025 - 04 - 01),
        None,
        date!(2025 - 04 - 01),
        BillingFrequency::Quarterly,
        1,
        Some(1),
    );
    assert_eq!(on_grid.len(), 1);
    assert_eq!(on_grid[0].end, date!(2025 - 06 - 30));
}

#[test]
fn a_fiscal_year_from_july_starts_annual_periods_in_july() {
    let a = periods(
        date!(2026 - 01 - 15),
        None,
        date!(2027 - 07 - 01),
        BillingFrequency::Annual,
        1,
        Some(7),
    );
    assert_eq!(
        (a[0].start, a[0].end),
        (date!(2026 - 01 - 15), date!(2026 - 06 - 30))
    );
    assert_eq!(a[0].full_start, date!(2025 - 07 - 01));
    assert_eq!((a[0].days(), a[0].full_days()), (167, 365));
    assert_eq!(
        (a[1].start, a[1].end),
        (date!(2026 - 07 - 01), date!(2027 - 06 - 30))
    );
    assert_eq!(a[2].start, date!(2027 - 07 - 01));
    // Without a month, the year runs from the first anchor day after the start.
    let plain = periods(
        date!(2026 - 01 - 15),
        None,
        date!(2026 - 02 - 01),
        BillingFrequency::Annual,
        1,
        None,
    );
    assert_eq!(
        (plain[0].start, plain[0].end),
        (date!(2026 - 01 - 15), date!(2026 - 01 - 31))
    );
    assert_eq!(plain[1].start, date!(2026 - 02 - 01));
}

#[test]
fn the_last_period_ends_on_the_last_billable_day() {
    let got = periods(
        date!(2026 - 10 - 01),
        Some(date!(2026 - 11 - 14)),
        date!(2027 - 01 - 01),
        BillingFrequency::Monthly,
        1,
        None,
    );
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].end, date!(2026 - 11 - 14));
    assert_eq!(got[1].full_days(), 30);
}

#[test]
fn charges_split_by_owner_and_skip_suspended_days() {
    let period = periods(
        date!(2026 - 11 - 01),
        None,
        date!(2026 - 11 - 01),
        BillingFrequency::Monthly,
        1,
        None,
    )[0];
    let charges = vec![Charge {
        key: 1,
        amount: d("300.00"),
        from: date!(2026 - 01 - 01),
        to: None,
    }];
    let owners = vec![
        (date!(2026 - 01 - 01), "old"),
        (date!(2026 - 11 - 11), "new"),
    ];
    let suspended = vec![Span {
        from: date!(2026 - 11 - 21),
        to: date!(2026 - 11 - 25),
    }];
    let lines = charge_lines(&period, &charges, &owners, &suspended, usd());
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0].account, lines[0].billed_days), ("old", 10));
    assert_eq!(lines[0].amount, d("100.00"));
    assert_eq!((lines[1].account, lines[1].billed_days), ("new", 15));
    assert_eq!(lines[1].amount, d("150.00"));
}

fn plan(included: i64, rate: &str, minimum: &str) -> Plan {
    Plan {
        included_units: included,
        overage_rate: d(rate),
        minimum_charge: d(minimum),
    }
}

#[test]
fn the_worked_overage_examples() {
    let bw = rate_usage(127_350 - 120_000, plan(5_000, "0.0085", "0"), usd());
    assert_eq!((bw.overage_units, bw.overage_amount), (2_350, d("19.98")));
    let color = rate_usage(31_420 - 30_000, plan(1_000, "0.065", "0"), usd());
    assert_eq!(
        (color.overage_units, color.overage_amount),
        (420, d("27.30"))
    );
    let under = rate_usage(4_000, plan(5_000, "0.0085", "0"), usd());
    assert_eq!((under.overage_units, under.charged()), (0, d("0.00")));
}

#[test]
fn a_minimum_charge_tops_up_a_small_overage() {
    let rated = rate_usage(5_100, plan(5_000, "0.01", "25.00"), usd());
    assert_eq!(rated.overage_amount, d("1.00"));
    assert_eq!(rated.minimum_top_up, d("24.00"));
    assert_eq!(rated.charged(), d("25.00"));
}

#[test]
fn partial_periods_prorate_the_allowance_and_minimum() {
    let p = plan(5_000, "0.0085", "31.00").prorated(16, 31, usd());
    assert_eq!(p.included_units, 2_581);
    assert_eq!(p.minimum_charge, d("16.00"));
}

fn point(on: Date, value: i64) -> Point {
    Point { on, value }
}

fn history() -> Vec<Point> {
    vec![
        point(date!(2026 - 07 - 01), 100_000),
        point(date!(2026 - 08 - 01), 106_200),
        point(date!(2026 - 09 - 01), 112_400),
        point(date!(2026 - 10 - 01), 120_000),
    ]
}

#[test]
fn the_worked_estimate_is_126_739() {
    let est = estimate(
        &history(),
        date!(2026 - 11 - 01),
        3,
        point(date!(2026 - 10 - 01), 120_000),
        None,
    )
    .unwrap();
    assert_eq!(est.value, 126_739);
    assert_eq!(est.method, EstimateMethod::AverageDailyUsage);
    let rated = rate_usage(est.value - 120_000, plan(5_000, "0.0085", "0"), usd());
    assert_eq!(
        (rated.overage_units, rated.overage_amount),
        (1_739, d("14.78"))
    );
}

#[test]
fn only_the_last_n_plus_one_actuals_count() {
    let mut h = history();
    h.insert(0, point(date!(2026 - 01 - 01), 0));
    let est = estimate(
        &h,
        date!(2026 - 11 - 01),
        3,
        point(date!(2026 - 10 - 01), 120_000),
        None,
    )
    .unwrap();
    assert_eq!(est.value, 126_739);
}

#[test]
fn too_little_history_falls_back_to_the_expected_volume_then_to_nothing() {
    let one = vec![point(date!(2026 - 10 - 16), 500)];
    let from = point(date!(2026 - 10 - 16), 500);
    let expected = ExpectedVolume {
        monthly_units: 3_100,
        period_months: 1,
        full_period_days: 31,
    };
    let est = estimate(&one, date!(2026 - 11 - 01), 3, from, Some(expected)).unwrap();
    assert_eq!(est.value, 500 + 1_600);
    assert_eq!(est.method, EstimateMethod::ExpectedVolume);
    assert!(estimate(&one, date!(2026 - 11 - 01), 3, from, None).is_none());
}

#[test]
fn true_up_a_bills_from_the_estimate() {
    // November: from the billed estimate 126,739 to the actual 132,000.
    let rated = rate_usage(132_000 - 126_739, plan(5_000, "0.0085", "0"), usd());
    assert_eq!((rated.usage, rated.overage_amount), (5_261, d("2.22")));
    let billed = vec![BilledUsage {
        start_value: 120_000,
        end_value: 126_739,
        end_estimated: true,
        plan: plan(5_000, "0.0085", "0"),
        charged: d("14.78"),
    }];
    assert!(true_up(&billed, 132_000, usd()).is_empty());
}

#[test]
fn true_up_b_rerates_october_and_credits_the_overage() {
    let billed = vec![BilledUsage {
        start_value: 120_000,
        end_value: 126_739,
        end_estimated: true,
        plan: plan(5_000, "0.0085", "0"),
        charged: d("14.78"),
    }];
    let rerates = true_up(&billed, 125_000, usd());
    assert_eq!(rerates.len(), 1);
    assert_eq!(rerates[0].rated.usage, 5_000);
    assert_eq!(rerates[0].rated.overage_amount, d("0.00"));
    assert_eq!(rerates[0].credit, d("14.78"));
}

#[test]
fn true_up_walks_back_through_consecutive_estimates_only() {
    let p = plan(0, "0.01", "0");
    let billed = vec![
        BilledUsage {
            start_value: 0,
            end_value: 1_000,
            end_estimated: false,
            plan: p,
            charged: d("10.00"),
        },
        BilledUsage {
            start_value: 1_000,
            end_value: 2_000,
            end_estimated: true,
            plan: p,
            charged: d("10.00"),
        },
        BilledUsage {
            start_value: 2_000,
            end_value: 3_000,
            end_estimated: true,
            plan: p,
            charged: d("10.00"),
        },
    ];
    let rerates = true_up(&billed, 1_500, usd());
    assert_eq!(rerates.len(), 2);
    assert_eq!((rerates[0].index, rerates[0].rated.usage), (2, 0));
    assert_eq!((rerates[1].index, rerates[1].rated.usage), (1, 500));
    let credit: Decimal = rerates.iter().map(|r| r.credit).sum();
    assert_eq!(credit, d("15.00"));
}

/// A small deterministic generator, enough for property checks.
struct Rng(u64);
impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Property: over any sequence of periods closed by actual readings or estimates, the
/// usage billed (after re-rating) sums to the last billed reading minus the first.
#[test]
fn billed_usage_telescopes_over_estimates_and_true_ups() {
    let p = plan(100, "0.01", "0");
    for seed in 1..500u64 {
        let mut rng = Rng(seed * 7919);
        let first = rng.next(10_000) as i64;
        let mut last_actual = first;
        let mut billed: Vec<BilledUsage> = Vec::new();
        let mut credits = Decimal::ZERO;
        for _ in 0..12 {
            let start = billed.last().map_or(first, |b| b.end_value);
            let (end, estimated) = if rng.next(3) == 0 {
                // An estimate: never below what was billed.
                (start + rng.next(2_000) as i64, true)
            } else {
                let actual = last_actual + rng.next(2_000) as i64;
                last_actual = actual;
                (actual, false)
            };
            let mut start = start;
            if !estimated && end < start {
                for r in true_up(&billed, end, usd()) {
                    credits += r.credit;
                    let b = &mut billed[r.index];
                    b.start_value = r.start_value;
                    b.end_value = r.end_value;
                    b.charged = r.rated.charged();
                }
                start = end;
            }
            let rated = rate_usage(end - start, p, usd());
            billed.push(BilledUsage {
                start_value: start,
                end_value: end,
                end_estimated: estimated,
                plan: p,
                charged: rated.charged(),
            });
        }
        let usage: i64 = billed.iter().map(|b| b.end_value - b.start_value).sum();
        assert!(billed.iter().all(|b| b.end_value >= b.start_value));
        assert_eq!(
            usage,
            billed.last().unwrap().end_value - first,
            "seed {seed}"
        );
        assert!(credits >= Decimal::ZERO);
    }
}
