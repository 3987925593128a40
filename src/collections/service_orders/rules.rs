//! The rules of service orders, pure: the table of how an order moves, when a dunning
//! order's reason is gone, and the day an order may be completed on.

use time::Date;

use super::model::{OrderKind, OrderRow, OrderSource, OrderStatus};
use crate::collections::PastDue;
use crate::refusal::Refusal;

/// What is done to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderCommand {
    /// It went to the field team or provisioning.
    Send,
    /// The work was done.
    Complete,
    /// It is not to be carried out.
    Cancel,
}

impl OrderCommand {
    /// Every command, for walking the table.
    pub const ALL: [OrderCommand; 3] = [
        OrderCommand::Send,
        OrderCommand::Complete,
        OrderCommand::Cancel,
    ];

    /// The status the command asks for.
    pub fn target(self) -> OrderStatus {
        match self {
            OrderCommand::Send => OrderStatus::Sent,
            OrderCommand::Complete => OrderStatus::Completed,
            OrderCommand::Cancel => OrderStatus::Cancelled,
        }
    }
}

/// An order's move: where it goes and the action the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderMove {
    pub to: OrderStatus,
    pub action: &'static str,
}

/// The moves an order may make; any pair not listed is refused.
#[rustfmt::skip]
pub const ORDER_MOVES: &[(OrderStatus, OrderCommand, OrderMove)] = {
    use OrderCommand as C;
    use OrderStatus as S;
    &[
        (S::Pending, C::Send, OrderMove { to: S::Sent, action: "service_order.sent" }),
        (S::Sent, C::Complete, OrderMove { to: S::Completed, action: "service_order.completed" }),
        (S::Pending, C::Cancel, OrderMove { to: S::Cancelled, action: "service_order.cancelled" }),
        (S::Sent, C::Cancel, OrderMove { to: S::Cancelled, action: "service_order.cancelled" }),
    ]
};

/// Where `command` takes an order in `from`, or why it may not.
pub fn transition(from: OrderStatus, command: OrderCommand) -> Result<OrderMove, Refusal> {
    ORDER_MOVES
        .iter()
        .find(|(f, c, _)| *f == from && *c == command)
        .map(|(_, _, m)| *m)
        .ok_or_else(|| {
            Refusal::conflict(
                "order_state",
                format!(
                    "A {} order cannot become {}.",
                    from.as_str(),
                    command.target().as_str()
                ),
            )
        })
}

/// Whether an order in `from` may move to `to`.
pub fn can_move(from: OrderStatus, to: OrderStatus) -> bool {
    ORDER_MOVES.iter().any(|(f, _, m)| *f == from && m.to == to)
}

/// Whether the order acts on the account because of what it owes: a suspension or
/// termination made by dunning. Such an order follows the account, not the day it was made.
pub fn follows_past_due(row: &OrderRow) -> bool {
    row.source == OrderSource::Dunning
        && matches!(row.kind, OrderKind::Suspend | OrderKind::Terminate)
}

/// 409 `order_obsolete` when a dunning order's reason is gone: nothing it would act on is
/// past due (see [`follows_past_due`]).
pub fn check_not_obsolete(row: &OrderRow, past_due: &PastDue) -> Result<(), Refusal> {
    if !follows_past_due(row) {
        return Ok(());
    }
    match past_due.obsolete_because() {
        None => Ok(()),
        Some(why) => Err(Refusal::conflict(
            "order_obsolete",
            format!(
                "Order {} was made by dunning and its reason is gone: {why}. Cancel it.",
                row.number
            ),
        )),
    }
}

/// The day the work was done: between the order's creation and today.
pub fn check_completed_on(on: Date, created: Date, today: Date) -> Result<(), Refusal> {
    if on > today || on < created {
        return Err(Refusal::field(
            "completed_on",
            "out_of_range",
            "must be between the order's creation and today",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use time::macros::{date, datetime};
    use uuid::Uuid;

    fn order(kind: OrderKind, source: OrderSource) -> OrderRow {
        let at = datetime!(2026-11-02 10:00 UTC);
        OrderRow {
            id: Uuid::nil(),
            number: "SO-000007".into(),
            account_id: Uuid::nil(),
            contract_id: None,
            kind,
            status: OrderStatus::Pending,
            source,
            reason: "past due".into(),
            equipment: serde_json::json!([]),
            created_by: "test".into(),
            created_at: at,
            sent_at: None,
            completed_on: None,
            completed_at: None,
            cancelled_at: None,
            cancel_reason: None,
            version: 1,
            updated_at: at,
        }
    }

    #[test]
    fn orders_move_pending_sent_completed_or_cancelled() {
        use OrderStatus::*;
        assert!(can_move(Pending, Sent));
        assert!(can_move(Sent, Completed));
        assert!(can_move(Pending, Cancelled));
        assert!(can_move(Sent, Cancelled));
        assert!(!can_move(Pending, Completed));
        assert!(!can_move(Completed, Cancelled));
        assert!(!can_move(Cancelled, Sent));
    }

    /// Every status × every command: the move, or the refusal's detail.
    #[test]
    fn orders_move_by_the_table_and_refuse_the_rest() {
        use OrderCommand as C;
        use OrderStatus as S;
        type Want = Result<(S, &'static str), String>;
        let moved = |to, action| Ok((to, action));
        let refused = |detail: &str| Err(detail.to_string());
        #[rustfmt::skip]
        let expected: [(S, C, Want); 12] = [
            (S::Pending, C::Send, moved(S::Sent, "service_order.sent")),
            (S::Pending, C::Complete, refused("A pending order cannot become completed.")),
            (S::Pending, C::Cancel, moved(S::Cancelled, "service_order.cancelled")),
            (S::Sent, C::Send, refused("A sent order cannot become sent.")),
            (S::Sent, C::Complete, moved(S::Completed, "service_order.completed")),
            (S::Sent, C::Cancel, moved(S::Cancelled, "service_order.cancelled")),
            (S::Completed, C::Send, refused("A completed order cannot become sent.")),
            (S::Completed, C::Complete, refused("A completed order cannot become completed.")),
            (S::Completed, C::Cancel, refused("A completed order cannot become cancelled.")),
            (S::Cancelled, C::Send, refused("A cancelled order cannot become sent.")),
            (S::Cancelled, C::Complete, refused("A cancelled order cannot become completed.")),
            (S::Cancelled, C::Cancel, refused("A cancelled order cannot become cancelled.")),
        ];
        for from in [S::Pending, S::Sent, S::Completed, S::Cancelled] {
            for command in OrderCommand::ALL {
                let (_, _, want) = expected
                    .iter()
                    .find(|(f, c, _)| *f == from && *c == command)
                    .expect("the walk covers every pair");
                let got = match transition(from, command) {
                    Ok(m) => Ok((m.to, m.action)),
                    Err(Refusal::Conflict {
                        code: "order_state",
                        detail,
                        field: None,
                    }) => Err(detail),
                    Err(other) => panic!("{from:?} {command:?}: unexpected {other:?}"),
                };
                assert_eq!(&got, want, "{from:?} {command:?}");
            }
        }
    }

    #[test]
    fn only_a_dunning_suspension_or_termination_loses_its_reason() {
        let nothing = PastDue::default();
        let owing = PastDue {
            total: Decimal::from(300),
            undisputed: Decimal::from(300),
            unpromised: Decimal::from(300),
        };
        for kind in [OrderKind::Suspend, OrderKind::Terminate] {
            let row = order(kind, OrderSource::Dunning);
            assert!(follows_past_due(&row));
            assert_eq!(check_not_obsolete(&row, &owing), Ok(()));
            let Err(Refusal::Conflict { code, detail, .. }) = check_not_obsolete(&row, &nothing)
            else {
                panic!("{kind:?}: a dunning order without its reason is refused");
            };
            assert_eq!(code, "order_obsolete");
            assert!(
                detail.starts_with("Order SO-000007 was made by dunning"),
                "{detail}"
            );
        }
        for (kind, source) in [
            (OrderKind::Suspend, OrderSource::Manual),
            (OrderKind::Terminate, OrderSource::Automatic),
            (OrderKind::Restore, OrderSource::Dunning),
            (OrderKind::EquipmentPickup, OrderSource::Dunning),
        ] {
            let row = order(kind, source);
            assert!(!follows_past_due(&row));
            assert_eq!(check_not_obsolete(&row, &nothing), Ok(()));
        }
    }

    #[test]
    fn an_order_is_completed_between_its_creation_and_today() {
        let created = date!(2026 - 11 - 02);
        let today = date!(2026 - 11 - 10);
        assert_eq!(check_completed_on(created, created, today), Ok(()));
        assert_eq!(check_completed_on(today, created, today), Ok(()));
        for on in [date!(2026 - 11 - 01), date!(2026 - 11 - 11)] {
            assert!(matches!(
                check_completed_on(on, created, today),
                Err(Refusal::Invalid(f)) if f[0].field == "completed_on" && f[0].code == "out_of_range"
            ));
        }
    }
}
