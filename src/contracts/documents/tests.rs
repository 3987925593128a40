use actix_web::http::header;

use super::file::*;
use super::model::*;

#[test]
fn magic_numbers_are_checked_per_type() {
    use DocumentContentType::*;
    assert!(Pdf.matches(b"%PDF-1.7\n..."));
    assert!(!Pdf.matches(b"%PDF"));
    assert!(!Pdf.matches(b"<html>"));
    assert!(Png.matches(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
    assert!(!Png.matches(b"\x89PNG\n"));
    assert!(Jpeg.matches(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]));
    assert!(!Jpeg.matches(&[0xFF, 0xD8]));
    assert!(Tiff.matches(b"II*\0\x08\0\0\0"));
    assert!(Tiff.matches(b"MM\0*\0\0\0\x08"));
    assert!(!Tiff.matches(b"II\0*"));
    assert!(!Tiff.matches(b"%PDF-1.4"));
    for t in DocumentContentType::ALL {
        assert!(!t.matches(b""), "{} refuses empty content", t.as_str());
    }
}

#[test]
fn content_types_are_read_from_the_header() {
    assert_eq!(
        DocumentContentType::from_header("application/pdf"),
        Some(DocumentContentType::Pdf)
    );
    assert_eq!(
        DocumentContentType::from_header("Image/PNG; name=scan.png"),
        Some(DocumentContentType::Png)
    );
    assert_eq!(DocumentContentType::from_header("image/gif"), None);
    assert_eq!(DocumentContentType::from_header("application/json"), None);
    assert_eq!(DocumentContentType::from_header(""), None);
}

#[test]
fn filenames_are_checked() {
    assert_eq!(filename_problem("Agreement signed 2026-11-02.pdf"), None);
    assert_eq!(filename_problem("Vertrag \u{fc}ber Leasing.pdf"), None);
    assert_eq!(filename_problem(&"a".repeat(255)), None);
    assert_eq!(filename_problem(&"\u{e9}".repeat(255)), None);
    assert_eq!(filename_problem(&"a".repeat(256)).unwrap().0, "too_long");
    assert_eq!(filename_problem("").unwrap().0, "required");
    assert_eq!(filename_problem("   ").unwrap().0, "required");
    assert_eq!(filename_problem("../etc/passwd").unwrap().0, "invalid");
    assert_eq!(filename_problem("a\0b.pdf").unwrap().0, "invalid_character");
    assert_eq!(
        filename_problem("a\r\nSet-Cookie: x").unwrap().0,
        "invalid_character"
    );
    assert_eq!(
        filename_problem("invoice\u{202E}fdp.exe").unwrap().0,
        "invalid_character"
    );
    assert_eq!(
        filename_problem("a\u{200B}.pdf").unwrap().0,
        "invalid_character"
    );
    assert_eq!(filename_problem("\u{3164}\u{200B}").unwrap().0, "required");
}

#[test]
fn content_disposition_quotes_safely() {
    assert_eq!(
        content_disposition("lease.pdf"),
        "attachment; filename=\"lease.pdf\""
    );
    assert_eq!(
        content_disposition("the \"final\" copy\\v2.pdf"),
        "attachment; filename=\"the \\\"final\\\" copy\\\\v2.pdf\""
    );
    assert_eq!(
        content_disposition("Vertrag \u{fc}.pdf"),
        "attachment; filename=\"Vertrag _.pdf\"; filename*=UTF-8''Vertrag%20%C3%BC.pdf"
    );
    for name in [
        "a;b=c.pdf",
        "x\"; filename=\"evil.exe",
        "trailing\\",
        "\\\"",
        "\u{202e}fdp.exe",
    ] {
        let value = content_disposition(name);
        assert!(
            header::HeaderValue::from_str(&value).is_ok(),
            "{value} is a valid header"
        );
        let (quoted, rest) = parse_quoted(value.strip_prefix("attachment; filename=\"").unwrap());
        assert!(
            rest.is_empty() || rest.starts_with("; filename*=UTF-8''"),
            "{value}: nothing follows the quoted name but filename*"
        );
        if name.is_ascii() {
            assert_eq!(quoted, name, "{value} carries the exact ASCII name");
        }
    }
}

/// Reads an RFC 9110 quoted-string body (after the opening quote): the unescaped text and
/// what follows the closing quote.
fn parse_quoted(text: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next().expect("an escaped character").1),
            '"' => return (out, &text[i + 1..]),
            c => out.push(c),
        }
    }
    panic!("unterminated quoted string in {text}");
}

#[test]
fn hashes_are_lowercase_hex() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
