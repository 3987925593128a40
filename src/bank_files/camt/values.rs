//! The values of a camt file as its schema writes them: amounts with their currency, dates,
//! counts, indicators. Each is read strictly and refused naming its element.

use rust_decimal::Decimal;
use time::macros::format_description;
use time::Date;

use super::xml::{refuse, Element};
use crate::bank_files::FileError;
use crate::money::{parse_plain, Currency};

/// An amount with its `Ccy` attribute (`<Amt Ccy="EUR">1250.00</Amt>`): a plain decimal more
/// than zero, in a currency this service knows, with no more decimals written than the
/// currency has (the ISO 20022 rule for currency amounts). Given with the currency's decimals.
pub fn amount(e: &Element) -> Result<(Decimal, Currency), FileError> {
    let Some(code) = e.attribute("Ccy") else {
        return refuse(&e.path, "the amount has no currency (attribute Ccy)");
    };
    let Some(currency) = Currency::parse(code) else {
        return refuse(
            &e.path,
            format!("the currency {code:?} is not an ISO 4217 currency this service knows"),
        );
    };
    let Some(text) = e.text()? else {
        return refuse(&e.path, "the amount is empty");
    };
    let value = parse_plain(text).or_else(|reason| refuse(&e.path, reason))?;
    if value <= Decimal::ZERO {
        return refuse(&e.path, format!("the amount {text} is not more than zero"));
    }
    if value.scale() > currency.minor_units() {
        return refuse(
            &e.path,
            format!(
                "the amount {text} has {}; {code} has {}",
                decimals(value.scale()),
                decimals(currency.minor_units())
            ),
        );
    }
    Ok((currency.normalize(value), currency))
}

fn decimals(n: u32) -> String {
    match n {
        1 => "1 decimal".to_string(),
        n => format!("{n} decimals"),
    }
}

/// An amount that must be in the entry's currency.
pub fn amount_in(e: &Element, currency: Currency) -> Result<Decimal, FileError> {
    let (value, found) = amount(e)?;
    if found != currency {
        return refuse(
            &e.path,
            format!("the amount is in {found}, not in the entry's currency {currency}"),
        );
    }
    Ok(value)
}

/// A sum of a transactions summary (`DecimalNumber`, no currency): a plain decimal.
pub fn decimal(e: &Element) -> Result<Decimal, FileError> {
    let Some(text) = e.text()? else {
        return refuse(&e.path, "the number is empty");
    };
    parse_plain(text).or_else(|reason| refuse(&e.path, reason))
}

/// A count (`Max15NumericText`): one to fifteen digits.
pub fn count(e: &Element) -> Result<u64, FileError> {
    let text = e.text()?.unwrap_or("");
    if text.is_empty() || text.len() > 15 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return refuse(
            &e.path,
            format!("{text:?} is not a count (one to fifteen digits)"),
        );
    }
    text.parse()
        .or_else(|_| refuse(&e.path, format!("{text:?} is not a count")))
}

/// `CRDT` (money in) is `true`, `DBIT` is `false`.
pub fn credit(e: &Element) -> Result<bool, FileError> {
    match e.text()? {
        Some("CRDT") => Ok(true),
        Some("DBIT") => Ok(false),
        other => refuse(
            &e.path,
            format!(
                "the credit/debit indicator is {:?}, not CRDT or DBIT",
                other.unwrap_or("")
            ),
        ),
    }
}

/// An XML boolean: `true`, `false`, `1` or `0`.
pub fn boolean(e: &Element) -> Result<bool, FileError> {
    match e.text()? {
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        other => refuse(
            &e.path,
            format!("{:?} is not true or false", other.unwrap_or("")),
        ),
    }
}

/// A date and time choice (`<Dt>2026-11-24</Dt>` or `<DtTm>2026-11-24T09:30:00+01:00</DtTm>`):
/// the date as written; and the text for the record.
pub fn date(e: &Element) -> Result<(Date, String), FileError> {
    let dt = e.one("Dt")?;
    let dt_tm = e.one("DtTm")?;
    match (dt, dt_tm) {
        (Some(d), None) => {
            let text = d.text()?.unwrap_or("");
            match iso_date(text) {
                Some(date) => Ok((date, text.to_string())),
                None => refuse(&d.path, format!("{text:?} is not a date as YYYY-MM-DD")),
            }
        }
        (None, Some(d)) => {
            let text = d.text()?.unwrap_or("");
            match date_time(text) {
                Some(date) => Ok((date, text.to_string())),
                None => refuse(
                    &d.path,
                    format!("{text:?} is not a date and time as YYYY-MM-DDThh:mm:ss"),
                ),
            }
        }
        (Some(_), Some(_)) => refuse(&e.path, format!("{} gives both Dt and DtTm", e.name)),
        (None, None) => refuse(&e.path, format!("{} gives neither Dt nor DtTm", e.name)),
    }
}

fn iso_date(text: &str) -> Option<Date> {
    if text.len() != 10 {
        return None;
    }
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

/// `YYYY-MM-DDThh:mm:ss`, then optional fractional seconds, then optional `Z` or `±hh:mm`.
fn date_time(text: &str) -> Option<Date> {
    let (date, time) = text.split_once('T')?;
    let date = iso_date(date)?;
    let b = time.as_bytes();
    let two = |at: usize, max: u8| -> bool {
        matches!((b.get(at), b.get(at + 1)), (Some(x), Some(y))
            if x.is_ascii_digit() && y.is_ascii_digit() && (x - b'0') * 10 + (y - b'0') <= max)
    };
    let clock = two(0, 23)
        && b.get(2) == Some(&b':')
        && two(3, 59)
        && b.get(5) == Some(&b':')
        && two(6, 60);
    if !clock {
        return None;
    }
    let mut rest = &time[8..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let zone_ok = match rest.as_bytes() {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && (h1 - b'0') * 10 + (h2 - b'0') <= 14
                && (m1 - b'0') * 10 + (m2 - b'0') <= 59
        }
        _ => false,
    };
    zone_ok.then_some(date)
}
