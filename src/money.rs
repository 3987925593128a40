//! Currencies and exact amounts: the only place that knows about minor units.
//!
//! Amounts are `rust_decimal::Decimal`, sent as JSON strings. An input with more decimals than
//! its currency allows is refused, never rounded. Computed amounts round half-up (away from
//! zero at the midpoint) to the currency's minor unit, one line at a time: see [`round`].

use std::fmt;

use diesel::deserialize::{FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{Output, ToSql};
use diesel::sql_types::Text;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::refusal::FieldError;

/// Supported ISO 4217 currencies and their minor units.
const CURRENCIES: &[(&str, u32)] = &[
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PLN", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("USD", 2),
    ("ZAR", 2),
];

/// A supported currency, held by its ISO 4217 code: a row or view cannot hold any other. On the
/// wire and in the database it is the code (`"USD"`); the OpenAPI document names it
/// `CurrencyCode`, an enum of [`CURRENCIES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Currency {
    code: &'static str,
    minor_units: u32,
}

impl Currency {
    pub const USD: Currency = Currency {
        code: "USD",
        minor_units: 2,
    };

    pub fn parse(code: &str) -> Option<Currency> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, minor_units)| Currency { code, minor_units })
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// The distinct currencies among `found`, by code: the order of a report's totals.
    pub fn distinct(found: impl IntoIterator<Item = Currency>) -> Vec<Currency> {
        let mut currencies: Vec<Currency> = found.into_iter().collect();
        currencies.sort_by_key(|c| c.code());
        currencies.dedup();
        currencies
    }

    pub fn minor_units(self) -> u32 {
        self.minor_units
    }

    /// Checks an amount given by a caller: no more decimals than the currency has.
    pub fn check(self, field: &str, amount: Decimal) -> Result<(), FieldError> {
        if amount.normalize().scale() > self.minor_units {
            return Err(FieldError::new(
                field,
                "too_many_decimals",
                format!("{} allows at most {} decimals", self.code, self.minor_units),
            ));
        }
        Ok(())
    }

    /// The amount written with exactly the currency's minor units (`1250` → `1250.00`).
    pub fn normalize(self, amount: Decimal) -> Decimal {
        let mut a = amount;
        a.rescale(self.minor_units);
        if a.is_zero() {
            // Never "-0.00".
            a.set_sign_positive(true);
        }
        a
    }

    /// Rounds a computed amount half-up to the minor unit.
    pub fn round(self, amount: Decimal) -> Decimal {
        round(amount, self.minor_units)
    }
}

/// Half-up rounding (midpoint away from zero) to `decimals` places.
pub fn round(amount: Decimal, decimals: u32) -> Decimal {
    amount.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero)
}

/// Reads an amount written as a plain decimal, `-?digits[.digits]`: no exponent, no
/// underscore, no leading `+`, no bare `.5` or `5.` (which `Decimal`'s own parser takes).
pub fn parse_plain(text: &str) -> Result<Decimal, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err(format!(
            "{text:?} is not a plain decimal amount (digits, optionally a minus sign and a \
             decimal point with digits on both sides)"
        ));
    }
    Decimal::from_str_exact(text).map_err(|e| format!("{text:?} is not an amount: {e}"))
}

/// How every amount, rate and quantity is written on the wire: a JSON string holding a plain
/// decimal, `-?digits[.digits]`, with no more decimals than its currency has. The type exists
/// for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1250.00")]
#[allow(dead_code)]
pub struct DecimalString(String);

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl std::str::FromStr for Currency {
    type Err = String;
    fn from_str(code: &str) -> Result<Self, String> {
        Currency::parse(code).ok_or_else(|| format!("{code:?} is not a supported currency"))
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        String::deserialize(de)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl ToSql<Text, Pg> for Currency {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(self.code, out)
    }
}

impl FromSql<Text, Pg> for Currency {
    fn from_sql(bytes: PgValue<'_>) -> diesel::deserialize::Result<Self> {
        let code = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
        Ok(code.parse()?)
    }
}

impl utoipa::ToSchema for Currency {
    fn name() -> std::borrow::Cow<'static, str> {
        "CurrencyCode".into()
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("ISO 4217 code of a currency the service bills in."))
            .enum_values(Some(CURRENCIES.iter().map(|(code, _)| *code)))
            .examples(["USD"])
            .into()
    }
}

/// Serde for an amount sent as a JSON string: written as `Decimal` writes it, read only as a
/// plain decimal (see [`parse_plain`]).
pub mod decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::str::serialize(value, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(de)?;
        super::parse_plain(&text).map_err(serde::de::Error::custom)
    }
}

/// [`decimal`] for an optional amount (`null` or absent is `None`).
pub mod decimal_option {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::str_option::serialize(value, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Decimal>, D::Error> {
        Option::<String>::deserialize(de)?
            .map(|text| super::parse_plain(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_are_read_only_as_plain_decimals() {
        assert_eq!(parse_plain("1250.00"), Ok(d("1250.00")));
        assert_eq!(parse_plain("-0.5"), Ok(d("-0.5")));
        assert_eq!(parse_plain("7"), Ok(d("7")));
        assert_eq!(parse_plain("1250.00").unwrap().scale(), 2);
        for bad in [
            "1e3",
            "1E3",
            "1_000",
            "+5",
            ".5",
            "5.",
            "-",
            "",
            " 5",
            "5 ",
            "1.2.3",
            "--5",
            "0x10",
            "١٢",
            "5,00",
            "NaN",
            "99999999999999999999999999999999",
        ] {
            assert!(parse_plain(bad).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn amounts_with_too_many_decimals_are_refused_not_rounded() {
        let usd = Currency::parse("USD").unwrap();
        assert!(usd.check("amount", d("1250.00")).is_ok());
        assert!(
            usd.check("amount", d("1250.500")).is_ok(),
            "trailing zeros are not extra precision"
        );
        assert_eq!(
            usd.check("amount", d("1.005")).unwrap_err().code,
            "too_many_decimals"
        );
        let jpy = Currency::parse("JPY").unwrap();
        assert!(jpy.check("amount", d("1.5")).is_err());
    }

    #[test]
    fn computed_amounts_round_half_up_per_currency() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.round(d("2.345")), d("2.35"));
        assert_eq!(usd.round(d("2.344")), d("2.34"));
        assert_eq!(usd.round(d("-2.345")), d("-2.35"));
        assert_eq!(
            Currency::parse("KWD").unwrap().round(d("1.0005")),
            d("1.001")
        );
        assert_eq!(usd.normalize(d("1250")).to_string(), "1250.00");
    }

    #[test]
    fn unknown_currencies_are_not_parsed() {
        assert!(Currency::parse("XXX").is_none());
        assert_eq!("KWD".parse::<Currency>().unwrap().minor_units(), 3);
        assert!("usd".parse::<Currency>().is_err());
        assert!(Currency::parse("usd").is_none());
    }

    #[test]
    fn a_currency_is_its_code_on_the_wire() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(serde_json::to_value(usd).unwrap(), serde_json::json!("USD"));
        assert_eq!(
            serde_json::from_str::<Currency>("\"JPY\"").unwrap().code(),
            "JPY"
        );
        assert!(serde_json::from_str::<Currency>("\"XYZ\"").is_err());
        assert_eq!(usd.to_string(), "USD");
    }
}
