//! What a payer's free text names, read tolerantly but never guessed: invoice numbers as the
//! service makes them (with dashes or prefix missing, or the leading zeros of the sequence
//! dropped), account numbers, and the payer's name and bank account in one normal form.

use crate::invoices::rules::Numbering;

/// An invoice number read from the text, in the form the service writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub number: String,
    /// Written exactly so (case aside); otherwise read tolerantly.
    pub exact: bool,
}

/// The words of a text that could be a number: runs of letters, digits, `-` and `/`.
pub fn tokens(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '/' || c == '.'))
        .map(|t| t.trim_matches(|c| c == '-' || c == '/' || c == '.'))
        .filter(|t| !t.is_empty() && t.len() <= 40)
        .collect()
}

/// The invoice numbers `text` names, each once, in the order written.
///
/// A word is read as `{prefix}{year}{sequence}` with any separators: `INV-2026-000123`,
/// `inv2026000123`, `INV-2026-123` and `2026-000123` all name INV-2026-000123. Without the
/// prefix, a word must still look like an invoice number: the year and the sequence apart
/// (`2026-123`, at least three digits of sequence) or run together at the full width
/// (`2026000123`); so amounts (`2026.50` has a point), dates (`2026-11-20` has three parts)
/// and short figures are never read as invoices.
pub fn invoice_numbers(text: &str, numbering: &Numbering) -> Vec<Named> {
    let mut out: Vec<Named> = Vec::new();
    for token in tokens(text) {
        if let Some(number) = invoice_number(token, numbering) {
            let exact = token.eq_ignore_ascii_case(&number);
            match out.iter_mut().find(|n| n.number == number) {
                Some(seen) => seen.exact |= exact,
                None => out.push(Named { number, exact }),
            }
        }
    }
    out
}

fn invoice_number(token: &str, numbering: &Numbering) -> Option<String> {
    if token.contains('.') {
        return None;
    }
    let prefix: String = numbering
        .prefix
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    let upper = token.to_ascii_uppercase();
    let mut parts: Vec<&str> = upper.split(['-', '/']).filter(|p| !p.is_empty()).collect();
    let first = parts.first()?;
    let had_prefix = !prefix.is_empty() && first.starts_with(&prefix);
    let stripped;
    if had_prefix {
        stripped = first[prefix.len()..].to_string();
        if stripped.is_empty() {
            parts.remove(0);
        } else {
            parts[0] = &stripped;
        }
    }
    if parts.is_empty()
        || parts.len() > 2
        || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let width = seq_width(&numbering.format)?;
    let with_year = numbering.format.contains("{year}");
    let (year, seq) = match (with_year, parts.as_slice()) {
        (true, [year, seq]) if year.len() == 4 => (year.parse::<i32>().ok()?, *seq),
        (true, [run]) if run.len() > 4 => (run[..4].parse::<i32>().ok()?, &run[4..]),
        (false, [seq]) => (0, *seq),
        _ => return None,
    };
    let apart = parts.len() == 2;
    let plausible = had_prefix || seq.len() == width || (apart && seq.len() >= 3);
    if !plausible || seq.len() > 12 || (with_year && !(2000..=2099).contains(&year)) {
        return None;
    }
    let n: i64 = seq.parse().ok()?;
    if n == 0 {
        return None;
    }
    Some(numbering.number(year, n))
}

fn seq_width(format: &str) -> Option<usize> {
    let open = format.find("{seq:")?;
    let close = open + format[open..].find('}')?;
    format[open + 5..close].parse().ok()
}

/// Words that could be an account number, as written and in capitals.
pub fn account_numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in tokens(text) {
        if t.len() >= 4 && t.bytes().any(|b| b.is_ascii_digit()) {
            for form in [t.to_string(), t.to_ascii_uppercase()] {
                if !out.contains(&form) {
                    out.push(form);
                }
            }
        }
    }
    out
}

/// A payer's name in one form: capitals, letters and digits, single spaces (`Acme, Inc.`
/// and `ACME INC` are the same payer). `None` when nothing is left.
pub fn payer_name(name: &str) -> Option<String> {
    let words: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A bank account in one form: letters and digits only, in capitals (`021000021/12-345`
/// is `02100002112345`). `None` when nothing is left.
pub fn bank_account(account: &str) -> Option<String> {
    let kept: String = account
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    (!kept.is_empty()).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(text: &str) -> Vec<String> {
        invoice_numbers(text, &Numbering::default())
            .into_iter()
            .map(|n| n.number)
            .collect()
    }

    #[test]
    fn what_people_type_names_the_invoice() {
        for typed in [
            "INV-2026-000123",
            "inv-2026-000123",
            "INV2026000123",
            "INV-2026-123",
            "INV 2026-000123",
            "2026-000123",
            "2026-123",
            "2026000123",
            "INV/2026/123",
            "PMT FOR INV#2026-000123 THANKS",
        ] {
            assert_eq!(numbers(typed), vec!["INV-2026-000123"], "{typed}");
        }
        let read = invoice_numbers("inv-2026-000123 and INV2026000123", &Numbering::default());
        assert_eq!(read.len(), 1);
        assert!(read[0].exact);
        assert!(!invoice_numbers("INV2026000123", &Numbering::default())[0].exact);
    }

    #[test]
    fn amounts_dates_and_short_figures_are_not_invoices() {
        for text in [
            "2026.50",
            "2026-11-20",
            "20261120",
            "123",
            "2026-12",
            "INV-1999-000001",
            "ACCOUNT 55",
            "INV-2026-000000",
        ] {
            assert!(numbers(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn several_invoices_are_read_in_order_once_each() {
        assert_eq!(
            numbers("INV-2026-000200, inv2026000123; 2026-200"),
            vec!["INV-2026-000200", "INV-2026-000123"]
        );
    }

    #[test]
    fn a_numbering_without_year_reads_the_sequence() {
        let numbering = Numbering::new("B", "{prefix}{seq:5}").unwrap();
        let read: Vec<String> = invoice_numbers("paying b42 and 00042 and 42", &numbering)
            .into_iter()
            .map(|n| n.number)
            .collect();
        assert_eq!(read, vec!["B00042"]);
    }

    #[test]
    fn payer_names_and_accounts_have_one_form() {
        assert_eq!(payer_name("Acme, Inc."), Some("ACME INC".into()));
        assert_eq!(payer_name("  ACME   INC "), Some("ACME INC".into()));
        assert_eq!(payer_name(" .,"), None);
        assert_eq!(
            bank_account("021000021/12-345"),
            Some("02100002112345".into())
        );
        assert_eq!(
            account_numbers("cust ACC-000001 ref 12"),
            vec!["ACC-000001".to_string()]
        );
    }
}
