//! Small field checks shared by the resources; each collects every problem, not just the first.

use crate::refusal::{FieldError, Refusal};

/// Collects field errors; `finish` turns them into one 422.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// A required text: something visible in it, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if !value.chars().any(is_visible) {
            self.add(field, "required", "must not be blank");
        } else if value.chars().count() > max {
            self.add(
                field,
                "too_long",
                format!("must be at most {max} characters"),
            );
        }
    }

    /// An optional text: when given, not blank and at most `max` characters.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            self.text(field, v, max);
        }
    }

    pub fn email(&mut self, field: &str, value: Option<&str>) {
        if let Some(v) = value {
            if !is_email(v) {
                self.add(
                    field,
                    "invalid",
                    "must be an email address like name@example.com",
                );
            }
        }
    }

    pub fn phone(&mut self, field: &str, value: Option<&str>) {
        if let Some(v) = value {
            let digits = v.chars().filter(char::is_ascii_digit).count();
            let allowed = v
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().x".contains(c));
            if !allowed || !(5..=20).contains(&digits) {
                self.add(field, "invalid", "must be a phone number of 5 to 20 digits");
            }
        }
    }

    /// An identifier-like code: 1 to `max` of A–Z, 0–9, `-`, `_`, `.`, starting with a letter or digit.
    pub fn code(&mut self, field: &str, value: &str, max: usize) {
        let ok = (1..=max).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit())
            && value
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "-_.".contains(c));
        if !ok {
            self.add(
                field,
                "invalid",
                format!("must be 1 to {max} characters of A-Z, 0-9, '-', '_' or '.'"),
            );
        }
    }

    pub fn finish(self) -> Result<(), Refusal> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Invalid(self.0))
        }
    }
}

/// A character that may not stand in stored text: a control character other than line
/// feed, carriage return and tab, or an invisible formatting character (bidirectional
/// embeddings, overrides, isolates and marks; zero-width spaces and joiners; the word
/// joiner and invisible operators; the byte-order mark; interlinear annotation marks; the
/// soft hyphen). They make a name or a reference look like another one.
pub fn is_forbidden_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// A character that shows: not white space, and not one of the letters that are drawn as
/// nothing (the Hangul fillers, the blank Braille pattern).
pub fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !is_forbidden_char(c)
        && !matches!(
            c,
            '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
        )
}

/// Checks every string of a JSON body (keys too) for forbidden characters, naming the
/// field of each, and rewrites the strings in Unicode NFC, so that text that looks the same
/// is stored the same.
pub fn clean_json_text(value: &mut serde_json::Value, path: &str, errors: &mut Errors) {
    use unicode_normalization::{is_nfc, UnicodeNormalization};
    let field = |path: &str| {
        if path.is_empty() {
            "body".to_string()
        } else {
            path.to_string()
        }
    };
    match value {
        serde_json::Value::String(text) => {
            if let Some(c) = text.chars().find(|&c| is_forbidden_char(c)) {
                errors.add(
                    &field(path),
                    "invalid_character",
                    format!(
                        "contains U+{:04X}, a control or invisible formatting character",
                        c as u32
                    ),
                );
            } else if !is_nfc(text) {
                *text = text.nfc().collect();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                clean_json_text(item, &format!("{path}[{i}]"), errors);
            }
        }
        serde_json::Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if key.chars().any(is_forbidden_char) {
                    errors.add(
                        &inner,
                        "invalid_character",
                        "the field name has a control or invisible character",
                    );
                    continue;
                }
                if let Some(v) = map.get_mut(&key) {
                    clean_json_text(v, &inner, errors);
                }
            }
        }
        _ => {}
    }
}

/// The characters [`is_forbidden_char`] refuses other than line feed, carriage return and tab,
/// as the inside of a regular-expression character class (for the OpenAPI document).
#[macro_export]
macro_rules! forbidden_chars_class {
    () => {
        "\u{0}-\u{8}\u{B}\u{C}\u{E}-\u{1F}\u{7F}-\u{9F}\u{AD}\u{61C}\u{180E}\u{200B}-\u{200F}\u{202A}-\u{202E}\u{2060}-\u{2064}\u{2066}-\u{206F}\u{FEFF}\u{FFF9}-\u{FFFB}"
    };
}

/// An email address as [`is_email`] takes it, for the OpenAPI document: something without
/// white space or `@`, an `@`, and a domain with a dot inside it; at most 254 characters.
#[allow(dead_code)]
pub struct EmailAddress(String);

impl utoipa::ToSchema for EmailAddress {}

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        const PATTERN: &str = concat!(
            "^[^\\s@",
            forbidden_chars_class!(),
            "]+@",
            "[^\\s@.",
            forbidden_chars_class!(),
            "]",
            "[^\\s@",
            forbidden_chars_class!(),
            "]*\\.",
            "[^\\s@",
            forbidden_chars_class!(),
            "]*",
            "[^\\s@.",
            forbidden_chars_class!(),
            "]$"
        );
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("An email address like `name@example.com`."))
            .max_length(Some(254))
            .pattern(Some(PATTERN))
            .examples(["ap@acme.example"])
            .into()
    }
}

/// A phone number as [`Errors::phone`] takes it, for the OpenAPI document: 5 to 20 digits,
/// with spaces, `+`, `-`, `(`, `)`, `.` and `x` between them.
#[allow(dead_code)]
pub struct PhoneNumber(String);

impl utoipa::ToSchema for PhoneNumber {}

impl utoipa::PartialSchema for PhoneNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A phone number: 5 to 20 digits, with spaces, `+`, `-`, `(`, `)`, `.` and `x` between them.",
            ))
            .pattern(Some("^[ +().x-]*([0-9][ +().x-]*){5,20}$"))
            .examples(["+1 555 010 2000"])
            .into()
    }
}

pub fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    v.chars().count() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

/// Deserialises a field that may be absent (`None`), null (`Some(None)`) or a value.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

/// Refuses a date outside the years 1900 to 9998 (422 naming `field`): what a business date
/// can be, and what date arithmetic and PostgreSQL both take.
pub fn check_business_date(field: &'static str, date: Option<time::Date>, e: &mut Errors) {
    if date.is_some_and(|d| !(1900..=9998).contains(&d.year())) {
        e.add(
            field,
            "out_of_range",
            "must be a date of the years 1900 to 9998",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_codes() {
        assert!(is_email("ap@acme.example"));
        assert!(!is_email("ap@acme"));
        assert!(!is_email("a p@acme.example"));
        assert!(!is_email("ap@@acme.example"));
        let mut e = Errors::default();
        e.code("code", "REV-100", 32);
        e.code("code", "rev", 32);
        e.phone("phone", Some("+1 (555) 010-2000"));
        e.phone("phone", Some("call me"));
        assert_eq!(e.0.len(), 2);
        assert_eq!(e.0[0].field, "code");
        assert_eq!(e.0[1].field, "phone");
    }

    #[test]
    fn blank_and_long_texts_are_refused() {
        let mut e = Errors::default();
        e.text("name", "  ", 10);
        e.text("name", "abcdefghijk", 10);
        e.optional_text("note", None, 10);
        assert_eq!(
            e.0.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["required", "too_long"]
        );
    }
}
