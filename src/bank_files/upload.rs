//! A bank file as sent: its format (the `format` parameter, else the `Content-Type`; camt's
//! root element tells a statement from a notification) and its reading by that format's
//! module.

use actix_web::error::PayloadError;
use actix_web::web;

use super::model::BankFileFormat;
use super::{bai2, Entry, FileError};
use crate::error::ApiError;

/// The largest file taken.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// The media types that name a format.
pub const MEDIA_TYPES: &[(&str, Option<BankFileFormat>)] = &[
    ("application/x-bai2", Some(BankFileFormat::Bai2)),
    ("application/vnd.bai2", Some(BankFileFormat::Bai2)),
    ("application/vnd.nacha", Some(BankFileFormat::NachaReturns)),
    ("text/x-nacha", Some(BankFileFormat::NachaReturns)),
    ("text/csv", Some(BankFileFormat::LockboxCsv)),
    // camt.053 or camt.054, by the document's root.
    ("application/xml", None),
    ("text/xml", None),
];

/// The body, or 413 above the limit.
pub fn body(body: Result<web::Bytes, actix_web::Error>) -> Result<web::Bytes, ApiError> {
    body.map_err(|err| match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge {
            limit: MAX_FILE_BYTES,
        },
        _ => ApiError::BadRequest {
            code: "unreadable_body",
            detail: format!("The body could not be read: {err}."),
            errors: Vec::new(),
        },
    })
}

/// Which format the file is in. The parameter wins; a `Content-Type` naming another format
/// is refused; `application/octet-stream`, `text/plain` or none needs the parameter.
pub fn format_of(
    content_type: Option<&str>,
    param: Option<BankFileFormat>,
    content: &[u8],
) -> Result<BankFileFormat, ApiError> {
    let essence = content_type
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|e| !e.is_empty());
    let named = match essence.as_deref() {
        None | Some("application/octet-stream" | "text/plain") => None,
        Some(essence) => match MEDIA_TYPES.iter().find(|(t, _)| *t == essence) {
            Some((_, Some(format))) => Some(*format),
            Some((_, None)) => Some(camt_kind(content)?),
            None => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "A bank file is sent as {}, or with format= and application/octet-stream or text/plain.",
                    MEDIA_TYPES.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")
                )))
            }
        },
    };
    match (param, named) {
        (Some(p), Some(n)) if p != n && !(is_camt(p) && is_camt(n)) => Err(ApiError::field(
            "format",
            "conflicts_with_content_type",
            format!(
                "is {}, but the Content-Type names {}",
                p.as_str(),
                n.as_str()
            ),
        )),
        (Some(p), _) => Ok(p),
        (None, Some(n)) => Ok(n),
        (None, None) => Err(ApiError::field(
            "format",
            "required",
            "is needed when the Content-Type does not name the format",
        )),
    }
}

fn is_camt(format: BankFileFormat) -> bool {
    matches!(format, BankFileFormat::Camt053 | BankFileFormat::Camt054)
}

/// camt.053 or camt.054 by the document's root element.
fn camt_kind(content: &[u8]) -> Result<BankFileFormat, ApiError> {
    let head = &content[..content.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    if text.contains("BkToCstmrStmt") {
        Ok(BankFileFormat::Camt053)
    } else if text.contains("BkToCstmrDbtCdtNtfctn") {
        Ok(BankFileFormat::Camt054)
    } else {
        Err(ApiError::field(
            "format",
            "unknown_document",
            "the XML is neither a camt.053 statement (BkToCstmrStmt) nor a camt.054 notification (BkToCstmrDbtCdtNtfctn); give format=",
        ))
    }
}

/// Reads the file by its format: every transaction, or the first thing wrong with it.
pub fn read(format: BankFileFormat, content: &[u8]) -> Result<Vec<Entry>, FileError> {
    match format {
        BankFileFormat::Camt053 => super::camt::read(content, super::camt::CamtKind::Statement),
        BankFileFormat::Camt054 => super::camt::read(content, super::camt::CamtKind::Notification),
        BankFileFormat::Bai2 => bai2::read(text(content)?),
        BankFileFormat::NachaReturns => super::nacha::read(text(content)?),
        BankFileFormat::LockboxCsv => super::lockbox::read(text(content)?),
    }
}

/// The file as UTF-8 text (a byte-order mark dropped), or where it stops being that.
fn text(content: &[u8]) -> Result<&str, FileError> {
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
    std::str::from_utf8(content).map_err(|e| {
        let line = content[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        FileError::at_line(line, "the file is not UTF-8 text")
    })
}

/// A file that cannot be read: 422 naming where and why; nothing of it is imported.
pub fn refusal(e: FileError) -> ApiError {
    ApiError::field(&e.location, "malformed_file", e.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_comes_from_the_parameter_or_the_content_type() {
        let xml053 = b"<?xml version=\"1.0\"?><Document><BkToCstmrStmt>";
        let xml054 = b"<Document><BkToCstmrDbtCdtNtfctn>";
        assert_eq!(
            format_of(Some("application/x-bai2"), None, b"01,").unwrap(),
            BankFileFormat::Bai2
        );
        assert_eq!(
            format_of(Some("text/csv; charset=utf-8"), None, b"").unwrap(),
            BankFileFormat::LockboxCsv
        );
        assert_eq!(
            format_of(Some("application/xml"), None, xml053).unwrap(),
            BankFileFormat::Camt053
        );
        assert_eq!(
            format_of(Some("text/xml"), None, xml054).unwrap(),
            BankFileFormat::Camt054
        );
        assert_eq!(
            format_of(
                Some("application/octet-stream"),
                Some(BankFileFormat::NachaReturns),
                b""
            )
            .unwrap(),
            BankFileFormat::NachaReturns
        );
        assert!(matches!(
            format_of(None, None, b""),
            Err(ApiError::Validation(e)) if e[0].field == "format"
        ));
        assert!(matches!(
            format_of(Some("text/csv"), Some(BankFileFormat::Bai2), b""),
            Err(ApiError::Validation(e)) if e[0].code == "conflicts_with_content_type"
        ));
        assert!(matches!(
            format_of(Some("image/png"), None, b""),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn text_formats_must_be_utf8() {
        assert_eq!(
            read(BankFileFormat::Bai2, b"01,A\n02,\xff").unwrap_err(),
            FileError::at_line(2, "the file is not UTF-8 text")
        );
    }
}
