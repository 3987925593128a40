//! The text of a document: the fonts' letter widths, WinAnsiEncoding both ways, and reading
//! the shown strings back out of a written file.

/// How wide `content` is, in points, at font size `size`, rounded up to a whole point.
///
/// Uses Helvetica's published letter widths (Helvetica-Bold's when `bold`); characters outside
/// plain ASCII count as 556/1000 of the font size, the width of a digit.
pub fn text_width(content: &str, size: u8, bold: bool) -> u32 {
    let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
    let thousandths: u64 = encode(content)
        .iter()
        .map(|&byte| match byte {
            32..=126 => u64::from(table[usize::from(byte - 32)]),
            _ => 556,
        })
        .sum();
    let points = (thousandths * u64::from(size)).div_ceil(1000);
    u32::try_from(points).unwrap_or(u32::MAX)
}

/// The characters at codes 0x80 to 0x9F of WinAnsiEncoding (Windows-1252); `None` where unused.
#[rustfmt::skip]
const WIN_ANSI_80: [Option<char>; 32] = [
    Some('€'), None, Some('‚'), Some('ƒ'), Some('„'), Some('…'), Some('†'), Some('‡'),
    Some('ˆ'), Some('‰'), Some('Š'), Some('‹'), Some('Œ'), None, Some('Ž'), None,
    None, Some('‘'), Some('’'), Some('“'), Some('”'), Some('•'), Some('–'), Some('—'),
    Some('˜'), Some('™'), Some('š'), Some('›'), Some('œ'), None, Some('ž'), Some('Ÿ'),
];

/// Text as WinAnsiEncoding bytes: control characters become spaces, the minus sign a hyphen,
/// and characters the standard fonts cannot show a question mark.
pub(super) fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => b' ',
            ' '..='~' => c as u8,
            '\u{A0}'..='\u{FF}' => u8::try_from(u32::from(c)).unwrap_or(b'?'),
            '\u{2212}' => b'-',
            _ => WIN_ANSI_80
                .iter()
                .position(|&known| known == Some(c))
                .map_or(b'?', |index| 0x80 + index as u8),
        })
        .collect()
}

/// The character a WinAnsiEncoding byte stands for.
fn decode(byte: u8) -> char {
    match byte {
        0x80..=0x9F => WIN_ANSI_80[usize::from(byte - 0x80)].unwrap_or('?'),
        _ => char::from(byte),
    }
}

/// Every text string shown in a PDF written by this module, in page order — used by tests to
/// read a document back (it understands the `Tj` strings this writer emits, with escapes).
pub fn extract_text(pdf: &[u8]) -> Vec<String> {
    let mut texts = Vec::new();
    let mut i = 0;
    while i < pdf.len() {
        if pdf[i] != b'(' {
            i += 1;
            continue;
        }
        let (bytes, end) = literal_string(pdf, i + 1);
        let mut next = end;
        while next < pdf.len() && pdf[next].is_ascii_whitespace() {
            next += 1;
        }
        if pdf[next..].starts_with(b"Tj") {
            texts.push(bytes.into_iter().map(decode).collect());
        }
        i = end;
    }
    texts
}

/// Reads a `(...)` string whose opening parenthesis is just before `start`; returns its bytes
/// and the position just after its closing parenthesis.
fn literal_string(pdf: &[u8], start: usize) -> (Vec<u8>, usize) {
    let mut bytes = Vec::new();
    let mut depth = 0;
    let mut i = start;
    while i < pdf.len() {
        let byte = pdf[i];
        i += 1;
        match byte {
            b'\\' if i < pdf.len() => {
                let escaped = pdf[i];
                i += 1;
                match escaped {
                    b'n' => bytes.push(b'\n'),
                    b'r' => bytes.push(b'\r'),
                    b't' => bytes.push(b'\t'),
                    b'b' => bytes.push(0x08),
                    b'f' => bytes.push(0x0C),
                    b'0'..=b'7' => {
                        let mut value = u32::from(escaped - b'0');
                        for _ in 0..2 {
                            match pdf.get(i) {
                                Some(&digit @ b'0'..=b'7') => {
                                    value = value * 8 + u32::from(digit - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        bytes.push((value & 0xFF) as u8);
                    }
                    // A backslash at the end of a line continues the string on the next one.
                    b'\n' => {}
                    b'\r' => {
                        if pdf.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    other => bytes.push(other),
                }
            }
            b'(' => {
                depth += 1;
                bytes.push(byte);
            }
            b')' if depth == 0 => return (bytes, i),
            b')' => {
                depth -= 1;
                bytes.push(byte);
            }
            _ => bytes.push(byte),
        }
    }
    (bytes, i)
}

/// Helvetica's letter widths for the characters 32 (space) to 126 (`~`), in 1/1000 of the font
/// size, from Adobe's font metrics.
#[rustfmt::skip]
pub(super) const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space to /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 to ?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ to O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P to _
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` to o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,      // p to ~
];

/// Helvetica-Bold's letter widths for the characters 32 (space) to 126 (`~`), in 1/1000 of the
/// font size, from Adobe's font metrics.
#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // space to /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0 to ?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @ to O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P to _
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // ` to o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,      // p to ~
];
