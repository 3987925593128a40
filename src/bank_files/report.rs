//! A file's match-rate report, from its rows counted by outcome, rule and currency.

use rust_decimal::Decimal;

use super::model::{BankOutcome, MatchRate, MatchRateRow};

/// Counts by outcome, the share of credits matched automatically by count and, when the
/// credits are in one currency, by amount (4 decimals, rounded half away from zero).
pub fn match_rate(rows: Vec<MatchRateRow>) -> MatchRate {
    let count = |outcomes: &[BankOutcome]| -> i64 {
        rows.iter()
            .filter(|r| outcomes.contains(&r.outcome))
            .map(|r| r.count)
            .sum()
    };
    let credits_of = [
        BankOutcome::Matched,
        BankOutcome::Suggested,
        BankOutcome::Unidentified,
        BankOutcome::Assigned,
    ];
    let credits = count(&credits_of);
    let matched = count(&[BankOutcome::Matched]);
    let share = |part: Decimal, whole: Decimal| {
        if whole.is_zero() {
            Decimal::ZERO
        } else {
            (part / whole)
                .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        }
    };
    let mut currencies: Vec<&Option<String>> = rows
        .iter()
        .filter(|r| credits_of.contains(&r.outcome))
        .map(|r| &r.currency)
        .collect();
    currencies.sort();
    currencies.dedup();
    let amount = |outcomes: &[BankOutcome]| -> Decimal {
        rows.iter()
            .filter(|r| outcomes.contains(&r.outcome))
            .map(|r| r.amount)
            .sum()
    };
    let matched_amount_share = (currencies.len() <= 1)
        .then(|| share(amount(&[BankOutcome::Matched]), amount(&credits_of)));
    MatchRate {
        transactions: rows.iter().map(|r| r.count).sum(),
        credits,
        matched,
        suggested: count(&[BankOutcome::Suggested]),
        unidentified: count(&[BankOutcome::Unidentified]),
        assigned: count(&[BankOutcome::Assigned]),
        returns: count(&[BankOutcome::Returned]),
        returns_unmatched: count(&[BankOutcome::ReturnUnmatched]),
        duplicates: count(&[BankOutcome::Duplicate]),
        ignored: count(&[BankOutcome::Ignored]),
        matched_share: share(Decimal::from(matched), Decimal::from(credits)),
        matched_amount_share,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank_files::model::MatchRule;

    fn row(
        outcome: BankOutcome,
        rule: Option<MatchRule>,
        count: i64,
        amount: &str,
    ) -> MatchRateRow {
        MatchRateRow {
            outcome,
            rule,
            currency: Some("USD".into()),
            count,
            amount: amount.parse().unwrap(),
        }
    }

    #[test]
    fn shares_of_the_credits_matched() {
        let report = match_rate(vec![
            row(
                BankOutcome::Matched,
                Some(MatchRule::Remittance),
                2,
                "300.00",
            ),
            row(
                BankOutcome::Matched,
                Some(MatchRule::PayerInvoice),
                1,
                "100.00",
            ),
            row(
                BankOutcome::Suggested,
                Some(MatchRule::PayerAmbiguous),
                1,
                "50.00",
            ),
            row(BankOutcome::Unidentified, None, 2, "50.00"),
            row(BankOutcome::Returned, Some(MatchRule::Return), 1, "10.00"),
            row(BankOutcome::Duplicate, None, 4, "999.00"),
        ]);
        assert_eq!(
            (report.transactions, report.credits, report.matched),
            (11, 6, 3)
        );
        assert_eq!(report.matched_share, "0.5".parse::<Decimal>().unwrap());
        // 400.00 of 500.00.
        assert_eq!(report.matched_amount_share, Some("0.8".parse().unwrap()));
        assert_eq!((report.returns, report.duplicates), (1, 4));
        let empty = match_rate(Vec::new());
        assert_eq!((empty.credits, empty.matched_share), (0, Decimal::ZERO));
    }
}
