//! PDF documents for invoices, credit memos and account statements.
//!
//! The documents open in ordinary readers and their text is searchable: they are plain PDF 1.4
//! files written by hand, with uncompressed page contents and the two standard fonts every
//! reader has (Helvetica and Helvetica-Bold), so nothing is embedded. Pages are US Letter
//! (612 × 792 points; a point is 1/72 inch). Positions and sizes are whole points: nothing here
//! uses floating point.
//!
//! A document is built with a [`Layout`], which flows lines from the top of a page to the
//! bottom, starts new pages as needed and numbers them ("Page 2 of 3") when it is finished.
//! [`extract_text`] reads the text of such a document back, for tests.

mod text;

use text::encode;
pub use text::{extract_text, text_width};

/// Page width in points (US Letter).
const PAGE_WIDTH: u16 = 612;
/// Page height in points (US Letter).
const PAGE_HEIGHT: u16 = 792;
/// Size of the "Page N of M" footer.
const FOOTER_SIZE: u8 = 8;
/// Space below each line, in addition to the line's own size.
const LINE_SPACING: u16 = 4;
/// Height taken by a [`Layout::rule`]; the line is drawn in its middle.
const RULE_HEIGHT: u16 = 6;

/// One piece of text placed on a page; `x`, `y` in points from the bottom-left corner.
///
/// `y` is the baseline (the line letters sit on); `size` is the font size in points; `bold`
/// chooses Helvetica-Bold instead of Helvetica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub x: u16,
    pub y: u16,
    pub size: u8,
    pub bold: bool,
    pub content: String,
}

/// Text that ends at `x` rather than starting there, as amounts in a column usually are.
///
/// The width is estimated from the fonts' standard letter widths (see [`text_width`]) and
/// rounded up, so the text ends at most one point before `x`, never after it.
pub fn right(x: u16, y: u16, size: u8, bold: bool, content: &str) -> Text {
    let width = u16::try_from(text_width(content, size, bold)).unwrap_or(u16::MAX);
    Text {
        x: x.saturating_sub(width),
        y,
        size,
        bold,
        content: content.to_string(),
    }
}

/// Where a cell of a [`Layout::row`] sits relative to its x position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// The text starts at x.
    Left,
    /// The text ends at x (amounts, quantities).
    Right,
}

/// What has been placed on one page so far.
#[derive(Debug, Default)]
struct Page {
    texts: Vec<Text>,
    /// Heights (from the bottom) of horizontal rules.
    rules: Vec<u16>,
}

/// Flows lines from the top of a page to the bottom, starting new pages as needed.
///
/// Every line, row, gap and rule goes below the previous one. When the next one would reach
/// into the bottom margin, it goes at the top of a new page instead. [`Layout::finish`] adds
/// "Page N of M" at the bottom right of every page and produces the PDF file.
#[derive(Debug)]
pub struct Layout {
    margin: u16,
    /// Height (from the bottom) of the top of the next line on the current page.
    y: u16,
    /// All pages; the last one is the current page.
    pages: Vec<Page>,
}

impl Layout {
    /// An empty document whose top, bottom, left and right margins are `margin` points.
    pub fn new(margin: u16) -> Layout {
        Layout {
            margin,
            y: PAGE_HEIGHT.saturating_sub(margin),
            pages: vec![Page::default()],
        }
    }

    /// One line of text starting at the left margin; the next line goes `size` + 4 points lower.
    pub fn line(&mut self, size: u8, bold: bool, content: &str) {
        let margin = self.margin;
        self.row(size, bold, &[(margin, Align::Left, content)]);
    }

    /// One line made of cells, each at its own x position: [`Align::Left`] cells start at x,
    /// [`Align::Right`] cells end at x. The next line goes `size` + 4 points lower.
    pub fn row(&mut self, size: u8, bold: bool, cells: &[(u16, Align, &str)]) {
        let top = self.take(u16::from(size) + LINE_SPACING);
        let baseline = top.saturating_sub(u16::from(size));
        let page = self.current_page();
        for &(x, align, content) in cells {
            page.texts.push(match align {
                Align::Left => Text {
                    x,
                    y: baseline,
                    size,
                    bold,
                    content: content.to_string(),
                },
                Align::Right => right(x, baseline, size, bold, content),
            });
        }
    }

    /// Empty space of `points` points. Space running past the bottom of a page is dropped
    /// rather than carried to the next page.
    pub fn gap(&mut self, points: u16) {
        self.y = self.y.saturating_sub(points).max(self.margin);
    }

    /// A thin horizontal line across the page, from the left margin to the right margin.
    pub fn rule(&mut self) {
        let top = self.take(RULE_HEIGHT);
        let y = top.saturating_sub(RULE_HEIGHT / 2);
        self.current_page().rules.push(y);
    }

    /// The finished PDF file: every page, each with "Page N of M" at the bottom right, and
    /// `title` as the document title readers show.
    pub fn finish(self, title: &str) -> Vec<u8> {
        let count = self.pages.len();
        let footer_x = PAGE_WIDTH.saturating_sub(self.margin);
        let footer_y = self.margin / 2;
        let mut out = Writer::default();
        out.bytes(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
        // Objects 1 to 5, then a page object and its contents for each page.
        let kids: Vec<String> = (0..count).map(|n| format!("{} 0 R", 6 + 2 * n)).collect();
        let kids = kids.join(" ");
        let font = |name| {
            format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>"
            )
        };
        out.object("<< /Type /Catalog /Pages 2 0 R >>");
        out.object(format!("<< /Type /Pages /Kids [{kids}] /Count {count} >>"));
        out.object(font("Helvetica"));
        out.object(font("Helvetica-Bold"));
        let title = text_string(title);
        out.object(format!("<< /Title {title} /Producer (Receivables) >>"));
        for (n, mut page) in self.pages.into_iter().enumerate() {
            let footer = format!("Page {} of {count}", n + 1);
            page.texts
                .push(right(footer_x, footer_y, FOOTER_SIZE, false, &footer));
            out.object(format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                     /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                7 + 2 * n
            ));
            let contents = page_contents(&page, self.margin);
            let mut stream = format!("<< /Length {} >>\nstream\n", contents.len()).into_bytes();
            stream.extend_from_slice(&contents);
            stream.extend_from_slice(b"\nendstream");
            out.object(stream);
        }
        out.finish()
    }

    /// Makes room for something `height` points tall, on a new page if it does not fit above
    /// the bottom margin, and returns the height of its top.
    fn take(&mut self, height: u16) -> u16 {
        let fits = u32::from(self.y) >= u32::from(self.margin) + u32::from(height);
        let page = self.current_page();
        let empty = page.texts.is_empty() && page.rules.is_empty();
        if !fits && !empty {
            self.pages.push(Page::default());
            self.y = PAGE_HEIGHT.saturating_sub(self.margin);
        }
        let top = self.y;
        self.y = self.y.saturating_sub(height);
        top
    }

    fn current_page(&mut self) -> &mut Page {
        self.pages.last_mut().expect("a layout always has a page")
    }
}

/// The drawing instructions of one page: its rules, then its texts.
fn page_contents(page: &Page, margin: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let end = PAGE_WIDTH.saturating_sub(margin);
    for y in &page.rules {
        out.extend_from_slice(format!("1 w {margin} {y} m {end} {y} l S\n").as_bytes());
    }
    for text in &page.texts {
        let font = if text.bold { "F2" } else { "F1" };
        let start = format!("BT /{font} {} Tf {} {} Td (", text.size, text.x, text.y);
        out.extend_from_slice(start.as_bytes());
        for byte in encode(&text.content) {
            if matches!(byte, b'(' | b')' | b'\\') {
                out.push(b'\\');
            }
            out.push(byte);
        }
        out.extend_from_slice(b") Tj ET\n");
    }
    out
}

/// A PDF file being written: remembers where each object starts, for the cross-reference table.
#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    offsets: Vec<usize>,
}

impl Writer {
    fn bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Writes the next object; objects are numbered 1, 2, 3… in the order they are written.
    fn object(&mut self, body: impl AsRef<[u8]>) {
        self.offsets.push(self.out.len());
        let number = self.offsets.len();
        self.bytes(format!("{number} 0 obj\n").as_bytes());
        self.bytes(body.as_ref());
        self.bytes(b"\nendobj\n");
    }

    /// The cross-reference table, the trailer and the end-of-file marker.
    fn finish(mut self) -> Vec<u8> {
        let xref = self.out.len();
        let size = self.offsets.len() + 1;
        let mut table = format!("xref\n0 {size}\n0000000000 65535 f \n");
        for offset in &self.offsets {
            table.push_str(&format!("{offset:010} 00000 n \n"));
        }
        table.push_str(&format!(
            "trailer\n<< /Size {size} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n"
        ));
        self.bytes(table.as_bytes());
        self.out
    }
}

/// A document-information string (such as the title): UTF-16 in hexadecimal, which every
/// reader understands for any character.
fn text_string(text: &str) -> String {
    let mut out = String::from("<FEFF");
    for unit in text.encode_utf16() {
        out.push_str(&format!("{unit:04X}"));
    }
    out.push('>');
    out
}

#[cfg(test)]
mod tests {
    use super::text::HELVETICA;
    use super::*;

    /// Where `needle` first occurs in `pdf`.
    fn find(pdf: &[u8], needle: &str) -> usize {
        pdf.windows(needle.len())
            .position(|window| window == needle.as_bytes())
            .expect(needle)
    }

    /// The number after the first `key` in `pdf`, e.g. the 12 of "/Size 12".
    fn number_after(pdf: &[u8], key: &str) -> usize {
        let rest = &pdf[find(pdf, key) + key.len()..];
        let digits: String = rest
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| char::from(b))
            .collect();
        digits.parse().expect("a number")
    }

    fn sample() -> Vec<u8> {
        let mut layout = Layout::new(50);
        layout.line(16, true, "Invoice INV-000042");
        layout.rule();
        layout.row(
            10,
            false,
            &[
                (50, Align::Left, "Service"),
                (562, Align::Right, "1,250.00"),
            ],
        );
        layout.finish("Invoice INV-000042 – Acme")
    }

    #[test]
    fn cross_reference_offsets_point_at_each_object() {
        let pdf = sample();
        let xref = number_after(&pdf, "startxref");
        assert!(pdf[xref..].starts_with(b"xref\n0 "));
        let size = number_after(&pdf[xref..], "xref\n0");
        assert_eq!(size, number_after(&pdf, "/Size"));
        assert_eq!(
            size, 8,
            "5 shared objects, 2 for the single page, and object 0"
        );
        let table = std::str::from_utf8(&pdf[xref..]).expect("the table is ASCII");
        let entries: Vec<&str> = table.lines().skip(2).take(size).collect();
        assert_eq!(entries[0], "0000000000 65535 f ");
        for (number, entry) in entries.iter().enumerate().skip(1) {
            assert_eq!(entry.len(), 19, "each entry is 20 bytes with its newline");
            assert!(entry.ends_with(" 00000 n "));
            let offset: usize = entry[..10].parse().unwrap();
            let expected = format!("{number} 0 obj\n");
            assert!(
                pdf[offset..].starts_with(expected.as_bytes()),
                "object {number}"
            );
        }
        assert_eq!(table.lines().nth(2 + size), Some("trailer"));
    }

    #[test]
    fn file_has_header_trailer_and_end_marker() {
        let pdf = sample();
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Root 1 0 R /Info 5 0 R"));
        assert!(text.contains("/Producer (Receivables)"));
        assert!(text.contains("/BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding"));
        assert!(text.contains("/MediaBox [0 0 612 792]"));
        assert!(text.contains(" m 562 "), "the rule spans margin to margin");
        // Stream lengths are exact: "endstream" follows the data and one newline.
        let start = find(&pdf, ">>\nstream\n") + ">>\nstream\n".len();
        let length = number_after(&pdf[..start], "/Length");
        assert!(pdf[start + length..].starts_with(b"\nendstream"));
    }

    #[test]
    fn text_reads_back_with_escapes_and_accents() {
        let mut layout = Layout::new(40);
        layout.line(10, false, "Café – 1,250.00 € (net 30)\\x");
        layout.line(10, true, "“Quoted” • 3 × 4 − 1 — it’s");
        layout.line(10, false, "漢字 tab\there ((nested)");
        let pdf = layout.finish("Test");
        assert_eq!(
            extract_text(&pdf),
            [
                "Café – 1,250.00 € (net 30)\\x",
                "“Quoted” • 3 × 4 - 1 — it’s",
                "?? tab here ((nested)",
                "Page 1 of 1",
            ]
        );
        let raw = String::from_utf8_lossy(&pdf);
        assert!(raw.contains(r"\(net 30\)\\x) Tj"));
    }

    #[test]
    fn octal_escapes_and_line_continuations_are_understood() {
        let pdf = b"BT (a\\101\\50b\\\nc\\)) Tj ET (not shown) Td";
        assert_eq!(extract_text(pdf), ["aA(bc)"]);
    }

    #[test]
    fn long_documents_flow_onto_numbered_pages() {
        let margin = 50;
        let mut layout = Layout::new(margin);
        for n in 1..=200 {
            layout.line(10, false, &format!("Line {n}"));
        }
        // The test sees the pages before they are finished: nothing reaches into the margin.
        let count = layout.pages.len();
        assert!(count >= 3, "200 lines of 14 points need several pages");
        for page in &layout.pages {
            assert!(page.texts.iter().all(|text| text.y >= margin));
            // 692 points between the margins hold 49 lines of 14 points.
            assert!(page.texts.len() <= 49);
        }
        let texts = extract_text(&layout.finish("Statement"));
        let footers: Vec<&String> = texts.iter().filter(|t| t.starts_with("Page ")).collect();
        let expected: Vec<String> = (1..=count)
            .map(|n| format!("Page {n} of {count}"))
            .collect();
        assert_eq!(footers, expected.iter().collect::<Vec<_>>());
        let lines: Vec<String> = texts
            .into_iter()
            .filter(|t| t.starts_with("Line "))
            .collect();
        let written: Vec<String> = (1..=200).map(|n| format!("Line {n}")).collect();
        assert_eq!(lines, written);
    }

    #[test]
    fn each_page_ends_with_its_footer() {
        let mut layout = Layout::new(72);
        for n in 0..100 {
            layout.line(12, n % 2 == 0, "Row");
            layout.gap(2);
            if n % 10 == 0 {
                layout.rule();
            }
        }
        let texts = extract_text(&layout.finish("Statement"));
        let count = texts.iter().filter(|t| t.starts_with("Page ")).count();
        let mut page = 0;
        for (i, text) in texts.iter().enumerate() {
            if text.starts_with("Page ") {
                page += 1;
                assert_eq!(text, &format!("Page {page} of {count}"));
                assert!(i == texts.len() - 1 || texts[i + 1] == "Row");
            }
        }
        assert!(count > 1);
    }

    #[test]
    fn right_aligned_text_ends_at_x() {
        let text = right(500, 100, 10, false, "1,250.00");
        let exact_thousandths: u32 = "1,250.00"
            .bytes()
            .map(|b| u32::from(HELVETICA[usize::from(b - 32)]))
            .sum();
        // Right edge in thousandths of a point: within one point of x, never past it.
        let edge = u32::from(text.x) * 1000 + exact_thousandths * 10;
        assert!(edge <= 500_000 && edge > 499_000, "{edge}");
        assert_eq!((text.y, text.size, text.bold), (100, 10, false));
        assert_eq!(right(5, 0, 10, true, "far too wide").x, 0);
    }

    #[test]
    fn widths_follow_the_font_metrics() {
        assert_eq!(text_width("Hello", 10, false), 23);
        assert_eq!(
            text_width("Hello", 10, true),
            25,
            "722+556+278+278+611 = 2445"
        );
        assert_eq!(text_width("", 10, false), 0);
        assert_eq!(text_width("1", 1, false), 1, "rounded up");
        assert_eq!(text_width("€", 10, false), 6, "others count as 556");
        assert_eq!(text_width("−", 10, false), text_width("-", 10, false));
    }
}
