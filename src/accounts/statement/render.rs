//! A statement as a file: CSV for spreadsheets, PDF to send to the customer.

use super::Statement;
use crate::export::csv_field;
use crate::pdf::{Align, Layout};

pub fn csv(s: &Statement) -> String {
    let mut out = String::from("date,kind,document,description,amount,balance\n");
    out.push_str(&format!(
        "{},opening_balance,,Opening balance,,{}\n",
        s.from, s.opening_balance
    ));
    for l in &s.lines {
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            l.date,
            l.kind.as_str(),
            csv_field(&l.document),
            csv_field(&l.description),
            l.amount,
            l.balance
        ));
    }
    out.push_str(&format!(
        "{},closing_balance,,Closing balance,,{}\n",
        s.to, s.closing_balance
    ));
    out.push_str(&format!(
        "{},disputed,,Of which under dispute,{},\n",
        s.to, s.disputed
    ));
    out
}

pub fn pdf(s: &Statement) -> Vec<u8> {
    let title = format!("Statement {} {} to {}", s.account_number, s.from, s.to);
    let mut page = Layout::new(50);
    write(&mut page, s);
    page.finish(&title)
}

/// One statement, below what the page holds already.
pub(super) fn write(page: &mut Layout, s: &Statement) {
    page.line(
        16,
        true,
        &format!("Statement of account {}", s.account_number),
    );
    page.line(11, false, &s.legal_name);
    page.line(
        10,
        false,
        &format!("{} to {} ({})", s.from, s.to, s.currency),
    );
    page.gap(8);
    page.row(
        9,
        true,
        &[
            (50, Align::Left, "Date"),
            (120, Align::Left, "Document"),
            (220, Align::Left, "Description"),
            (480, Align::Right, "Amount"),
            (562, Align::Right, "Balance"),
        ],
    );
    page.rule();
    let opening = s.opening_balance.to_string();
    page.row(
        9,
        false,
        &[
            (50, Align::Left, &s.from.to_string()),
            (220, Align::Left, "Opening balance"),
            (562, Align::Right, &opening),
        ],
    );
    for l in &s.lines {
        let (date, amount, balance) = (
            l.date.to_string(),
            l.amount.to_string(),
            l.balance.to_string(),
        );
        page.row(
            9,
            false,
            &[
                (50, Align::Left, &date),
                (120, Align::Left, &l.document),
                (220, Align::Left, &l.description),
                (480, Align::Right, &amount),
                (562, Align::Right, &balance),
            ],
        );
    }
    page.rule();
    let closing = s.closing_balance.to_string();
    page.row(
        10,
        true,
        &[
            (220, Align::Left, "Closing balance"),
            (562, Align::Right, &closing),
        ],
    );
    if !s.applications.is_empty() {
        page.gap(10);
        page.line(10, true, "Payments and credits applied to invoices");
        for a in &s.applications {
            let (date, amount) = (a.date.to_string(), a.amount.to_string());
            let to = format!(
                "{} to {}",
                a.document,
                a.invoice_number.as_deref().unwrap_or("an invoice")
            );
            page.row(
                9,
                false,
                &[
                    (50, Align::Left, &date),
                    (120, Align::Left, &to),
                    (480, Align::Right, &amount),
                ],
            );
        }
    }
    page.gap(10);
    page.line(10, true, "Aging of open invoices");
    let a = &s.aging;
    for (label, amount) in [
        ("Current", a.current),
        ("1-30 days past due", a.days_1_30),
        ("31-60 days", a.days_31_60),
        ("61-90 days", a.days_61_90),
        ("91-120 days", a.days_91_120),
        ("Over 120 days", a.days_over_120),
        ("Total open", a.total),
        ("Of which disputed", s.disputed),
    ] {
        let amount = amount.to_string();
        page.row(
            9,
            false,
            &[(60, Align::Left, label), (300, Align::Right, &amount)],
        );
    }
}
