//! The rules of agency placements, pure: what a placement asks for, which accounts may be
//! placed, what a placement in its state takes, and the agency's commission.

use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::{NewPlacement, PlacementStatus};
use crate::accounts::model::CollectionsStatus;
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

/// The agency's commission on a recovery: amount × rate %, half-up to the currency's unit.
pub fn commission(amount: Decimal, rate: Decimal, currency: Currency) -> Decimal {
    currency.round(amount * rate / Decimal::ONE_HUNDRED)
}

/// Checks a placement's request: the agency, a rate of 0 to 100 percent (4 decimals), a day
/// not in the future, and an expense code unless the rate is zero.
pub fn check_placement(new: &NewPlacement, placed_on: Date, today: Date, e: &mut Errors) {
    e.text("agency", &new.agency, 200);
    if new.commission_rate.is_sign_negative()
        || new.commission_rate > Decimal::ONE_HUNDRED
        || new.commission_rate.scale() > 4
    {
        e.add(
            "commission_rate",
            "out_of_range",
            "a percentage from 0 to 100, up to 4 decimals",
        );
    }
    if placed_on > today {
        e.add("placed_on", "out_of_range", "must not be in the future");
    }
    if new.commission_financial_code_id.is_none() && !new.commission_rate.is_zero() {
        e.add(
            "commission_financial_code_id",
            "required",
            "the expense code the agency's commission is posted under",
        );
    }
}

/// An account already with an agency or written off is not placed.
pub fn check_may_place(status: CollectionsStatus) -> Result<(), Refusal> {
    if matches!(
        status,
        CollectionsStatus::WithAgency | CollectionsStatus::WrittenOff
    ) {
        return Err(Refusal::conflict(
            "collections_status",
            format!("The account is {}.", status.as_str().replace('_', " ")),
        ));
    }
    Ok(())
}

/// An account with an active promise to pay is not placed.
pub fn check_no_promise(has_active_promise: bool) -> Result<(), Refusal> {
    if has_active_promise {
        return Err(Refusal::conflict(
            "promise_active",
            "The account has an active promise to pay; cancel it before placing.",
        ));
    }
    Ok(())
}

/// A placement places something past due.
pub fn check_placed_amount(amount: Decimal) -> Result<(), Refusal> {
    if amount <= Decimal::ZERO {
        return Err(Refusal::field(
            "account_id",
            "nothing_past_due",
            "the account owes nothing past due",
        ));
    }
    Ok(())
}

/// Only an active placement takes recoveries.
pub fn check_takes_recovery(status: PlacementStatus) -> Result<(), Refusal> {
    if status != PlacementStatus::Active {
        return Err(Refusal::conflict(
            "placement_state",
            "A recalled placement takes no recoveries.",
        ));
    }
    Ok(())
}

/// Only an active placement is recalled.
pub fn check_recallable(status: PlacementStatus) -> Result<(), Refusal> {
    if status != PlacementStatus::Active {
        return Err(Refusal::conflict(
            "placement_state",
            "The placement was already recalled.",
        ));
    }
    Ok(())
}

/// A recovery was received between the placement and today.
pub fn check_received(received: Date, placed_on: Date, today: Date, e: &mut Errors) {
    if received > today || received < placed_on {
        e.add(
            "received_date",
            "out_of_range",
            format!("must be between {placed_on} and {today}"),
        );
    }
}

/// The expense code a commission is posted under; a placement made without one (before
/// codes were required) cannot post its commission.
pub fn commission_code(code: Option<Uuid>) -> Result<Uuid, Refusal> {
    code.ok_or_else(|| {
        Refusal::conflict(
            "commission_code_missing",
            "The placement names no expense code for its commission; recall it and place again with commission_financial_code_id.",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn commission_rounds_half_up_to_the_cent() {
        let usd = Currency::parse("USD").unwrap();
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(commission(d("400.00"), d("25"), usd), d("100.00"));
        assert_eq!(commission(d("10.01"), d("12.5"), usd), d("1.25"));
        assert_eq!(commission(d("0.10"), d("5"), usd), d("0.01"));
    }

    #[test]
    fn a_placement_needs_a_rate_a_past_day_and_a_code() {
        let today = date!(2026 - 11 - 22);
        let new = NewPlacement {
            account_id: Uuid::nil(),
            agency: " ".into(),
            placed_on: None,
            commission_rate: "100.00001".parse().unwrap(),
            commission_financial_code_id: None,
        };
        let mut e = Errors::default();
        check_placement(&new, date!(2026 - 11 - 23), today, &mut e);
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "agency",
                "commission_rate",
                "placed_on",
                "commission_financial_code_id"
            ]
        );
    }

    #[test]
    fn only_an_account_not_with_an_agency_nor_promised_is_placed() {
        use CollectionsStatus as S;
        for s in [S::None, S::InDunning, S::Promised] {
            assert_eq!(check_may_place(s), Ok(()));
        }
        for s in [S::WithAgency, S::WrittenOff] {
            assert!(matches!(
                check_may_place(s),
                Err(Refusal::Conflict {
                    code: "collections_status",
                    ..
                })
            ));
        }
        assert!(check_no_promise(true).is_err());
        assert!(check_placed_amount(Decimal::ZERO).is_err());
    }

    #[test]
    fn a_recalled_placement_takes_nothing_more() {
        assert_eq!(check_takes_recovery(PlacementStatus::Active), Ok(()));
        assert_eq!(check_recallable(PlacementStatus::Active), Ok(()));
        assert!(check_takes_recovery(PlacementStatus::Recalled).is_err());
        assert!(check_recallable(PlacementStatus::Recalled).is_err());
    }
}
