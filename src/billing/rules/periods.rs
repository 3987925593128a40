//! Billing periods: the grid of anchor dates a contract is billed on.

use time::{Date, Duration, Month};

use crate::contracts::model::BillingFrequency;

/// One billing period of a contract. `start..=end` is what is billed; `full_start..=full_end`
/// is the whole period of the grid it belongs to, the denominator of proration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Date,
    pub end: Date,
    pub full_start: Date,
    pub full_end: Date,
}

impl Period {
    pub fn days(&self) -> i64 {
        days_between(self.start, self.end) + 1
    }

    pub fn full_days(&self) -> i64 {
        days_between(self.full_start, self.full_end) + 1
    }

    /// The day after the period: the date of the meter reading that closes it.
    pub fn boundary(&self) -> Date {
        self.end + Duration::days(1)
    }
}

pub fn days_between(from: Date, to: Date) -> i64 {
    (to - from).whole_days()
}

fn days_in_month(year: i32, month: Month) -> u8 {
    time::util::days_in_month(month, year)
}

/// The anchor day in a month, on the month's last day when the month is shorter.
pub fn anchor_date(year: i32, month: Month, anchor_day: u8) -> Date {
    let day = anchor_day.min(days_in_month(year, month));
    Date::from_calendar_date(year, month, day).expect("a day within the month")
}

/// The anchor date `months` months after (or before) the month of `date`.
fn shift_anchor(date: Date, months: i32, anchor_day: u8) -> Date {
    let index = date.year() * 12 + (date.month() as i32 - 1) + months;
    let year = index.div_euclid(12);
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).expect("a month number");
    anchor_date(year, month, anchor_day)
}

/// The first anchor date on or after `start`. Quarterly and annual periods with an
/// `anchor_month` start only in the grid's months (`anchor_month`, then every 3 or 12 months:
/// calendar quarters with 1, a fiscal year from July with 7); otherwise the grid starts at the
/// first anchor day on or after the start.
fn first_anchor(start: Date, step: i32, anchor_day: u8, anchor_month: Option<u8>) -> Date {
    let on_grid = |month: i32| match anchor_month {
        Some(m) if step > 1 => (month - m as i32).rem_euclid(step) == 0,
        _ => true,
    };
    let mut index = start.year() * 12 + (start.month() as i32 - 1);
    loop {
        let (year, month) = (index.div_euclid(12), index.rem_euclid(12) + 1);
        if on_grid(month) {
            let month = Month::try_from(month as u8).expect("a month number");
            let day = anchor_date(year, month, anchor_day);
            if day >= start {
                return day;
            }
        }
        index += 1;
    }
}

/// The contract's billing periods that start on or before `horizon`, from its start date to
/// its last billable day (end, termination) if it has one. Periods run from anchor date to
/// the day before the next; a start between anchor dates gives a short first period, prorated
/// over the whole grid period it falls in, and an end between them a short last one.
pub fn periods(
    start: Date,
    last_day: Option<Date>,
    horizon: Date,
    frequency: BillingFrequency,
    anchor_day: u8,
    anchor_month: Option<u8>,
) -> Vec<Period> {
    let step = frequency.months();
    let first_anchor = first_anchor(start, step, anchor_day, anchor_month);
    let mut out = Vec::new();
    let limit = last_day.map_or(horizon, |l| l.min(horizon));
    let mut push = |p: Period| {
        let end = last_day.map_or(p.end, |l| l.min(p.end));
        if p.start <= limit && p.start <= end {
            out.push(Period { end, ..p });
            true
        } else {
            false
        }
    };
    if start < first_anchor {
        let full_start = shift_anchor(first_anchor, -step, anchor_day);
        let end = first_anchor - Duration::days(1);
        if !push(Period {
            start,
            end,
            full_start,
            full_end: end,
        }) {
            return out;
        }
    }
    let mut k = 0;
    loop {
        let from = shift_anchor(first_anchor, k * step, anchor_day);
        let to = shift_anchor(first_anchor, (k + 1) * step, anchor_day) - Duration::days(1);
        if !push(Period {
            start: from,
            end: to,
            full_start: from,
            full_end: to,
        }) {
            return out;
        }
        k += 1;
    }
}
