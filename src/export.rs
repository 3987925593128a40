//! Tables as files for spreadsheets: RFC 4180 CSV and Excel workbooks. A [`Table`] is a
//! report's rows as typed cells, its totals row and the parameters it was made with; both
//! formats carry all three.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError};
use time::Date;

/// What a column holds, and so how a spreadsheet shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// An amount of money: two decimals, thousands separated.
    Money,
    Date,
    Integer,
    /// A figure with one decimal (days).
    Days,
    /// A percentage given as its number (91.67 for 91.67%).
    Percent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub title: &'static str,
    pub kind: Kind,
}

impl Column {
    pub const fn new(title: &'static str, kind: Kind) -> Column {
        Column { title, kind }
    }
}

/// One cell's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(Decimal),
    Integer(i64),
    Date(Date),
    Empty,
}

impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_string())
    }
}
impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(v)
    }
}
impl From<Decimal> for Cell {
    fn from(v: Decimal) -> Cell {
        Cell::Number(v)
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Cell {
        Cell::Integer(v)
    }
}
impl From<Date> for Cell {
    fn from(v: Date) -> Cell {
        Cell::Date(v)
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Cell {
        v.map_or(Cell::Empty, Into::into)
    }
}

/// A report as rows, with its totals and its parameters (name, value).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The sheet's name (at most 31 characters).
    pub title: &'static str,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// The totals row, its first cell the label.
    pub totals: Option<Vec<Cell>>,
    pub parameters: Vec<(&'static str, String)>,
}

impl Table {
    /// A table whose totals come one row per currency: all but the last are listed under the
    /// rows, the last is the totals row (the one a spreadsheet's totals row can hold).
    pub fn with_totals(
        title: &'static str,
        columns: Vec<Column>,
        mut rows: Vec<Vec<Cell>>,
        mut totals: Vec<Vec<Cell>>,
        parameters: Vec<(&'static str, String)>,
    ) -> Table {
        let last = totals.pop();
        rows.extend(totals);
        Table {
            title,
            columns,
            rows,
            totals: last,
            parameters,
        }
    }
}

/// A field as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A text cell as CSV. Text a spreadsheet would read as a formula (starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return: a customer's name can be anything) is prefixed with
/// `'`, which shows it as text.
fn csv_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) if t.starts_with(['=', '+', '-', '@', '\t', '\r']) => {
            csv_field(&format!("'{t}"))
        }
        Cell::Text(t) => csv_field(t),
        Cell::Number(n) => n.to_string(),
        Cell::Integer(i) => i.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::Empty => String::new(),
    }
}

fn csv_line(out: &mut String, cells: impl Iterator<Item = String>) {
    let cells: Vec<String> = cells.collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// The header row of a CSV file.
pub fn csv_header(columns: &[Column]) -> String {
    let mut out = String::new();
    csv_line(&mut out, columns.iter().map(|c| csv_field(c.title)));
    out
}

/// One row of a CSV file.
pub fn csv_row(out: &mut String, cells: &[Cell]) {
    csv_line(out, cells.iter().map(csv_cell));
}

/// The parameter rows that end a CSV file: `parameter`, the name, the value, padded to
/// `width` fields.
pub fn csv_parameters(width: usize, parameters: &[(&'static str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in parameters {
        let cells = ["parameter".to_string(), csv_field(name), csv_field(value)];
        let padding = width.saturating_sub(cells.len());
        csv_line(
            &mut out,
            cells
                .into_iter()
                .take(width.max(3))
                .chain(std::iter::repeat_n(String::new(), padding)),
        );
    }
    out
}

/// The table as CSV (RFC 4180: CRLF line ends, a header row, every row as wide as the
/// header): the rows, the totals row, then one row per parameter, `parameter`, its name and
/// its value.
pub fn csv(table: &Table) -> String {
    let mut out = csv_header(&table.columns);
    for row in table.rows.iter().chain(table.totals.iter()) {
        csv_row(&mut out, row);
    }
    out.push_str(&csv_parameters(table.columns.len(), &table.parameters));
    out
}

/// [`csv`] in pieces of about `size` bytes, each written when it is asked for: the text of a
/// long table is never held whole, and the pieces put together are [`csv`]'s.
pub fn csv_pieces(table: Table, size: usize) -> impl Iterator<Item = String> {
    let Table {
        columns,
        rows,
        totals,
        parameters,
        ..
    } = table;
    let width = columns.len();
    let mut next = Some(csv_header(&columns));
    let mut rows = rows.into_iter().chain(totals);
    let mut parameters = Some(parameters);
    std::iter::from_fn(move || {
        let mut piece = next.take()?;
        for row in rows.by_ref() {
            csv_row(&mut piece, &row);
            if piece.len() >= size {
                next = Some(String::new());
                return Some(piece);
            }
        }
        if let Some(parameters) = parameters.take() {
            piece.push_str(&csv_parameters(width, &parameters));
        }
        Some(piece)
    })
}

fn format_of(kind: Kind, bold: bool) -> Format {
    let format = match kind {
        Kind::Text => Format::new(),
        Kind::Money => Format::new().set_num_format("#,##0.00"),
        Kind::Date => Format::new()
            .set_num_format("yyyy-mm-dd")
            .set_align(FormatAlign::Left),
        Kind::Integer => Format::new().set_num_format("0"),
        Kind::Days => Format::new().set_num_format("0.0"),
        Kind::Percent => Format::new().set_num_format("0.00"),
    };
    if bold {
        format.set_bold()
    } else {
        format
    }
}

fn width_of(column: &Column) -> f64 {
    let content = match column.kind {
        Kind::Text => 28,
        Kind::Money => 16,
        Kind::Date => 12,
        Kind::Integer | Kind::Days | Kind::Percent => 10,
    };
    content.max(column.title.len() + 2) as f64
}

fn write_cell(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    format: &Format,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Text(t) => sheet.write_string_with_format(row, col, t, format)?,
        // A spreadsheet holds numbers as binary floating point: the conversion happens here,
        // at the edge, for the figure to be a number a manager can sum.
        Cell::Number(n) => {
            sheet.write_number_with_format(row, col, n.to_f64().unwrap_or_default(), format)?
        }
        Cell::Integer(i) => sheet.write_number_with_format(row, col, *i as f64, format)?,
        Cell::Date(d) => {
            let date = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day())?;
            sheet.write_date_with_format(row, col, &date, format)?
        }
        Cell::Empty => sheet,
    };
    Ok(())
}

/// A workbook written a row at a time: a sheet of the rows (header frozen and filtered,
/// numbers and dates as such with their formats, a bold totals row) and a `Parameters` sheet.
/// In constant memory, each row goes to a temporary file as soon as the next one starts.
pub struct SheetWriter {
    workbook: Workbook,
    formats: Vec<Format>,
    bold: Vec<Format>,
    width: u16,
    row: u32,
}

impl SheetWriter {
    pub fn new(
        title: &str,
        columns: &[Column],
        constant_memory: bool,
    ) -> Result<SheetWriter, XlsxError> {
        let mut workbook = Workbook::new();
        let sheet = if constant_memory {
            workbook.add_worksheet_with_constant_memory()
        } else {
            workbook.add_worksheet()
        };
        sheet.set_name(title)?;
        let header = Format::new().set_bold();
        for (col, column) in columns.iter().enumerate() {
            let col = col as u16;
            sheet.set_column_width(col, width_of(column))?;
            sheet.write_string_with_format(0, col, column.title, &header)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(SheetWriter {
            workbook,
            formats: columns.iter().map(|c| format_of(c.kind, false)).collect(),
            bold: columns.iter().map(|c| format_of(c.kind, true)).collect(),
            width: columns.len() as u16,
            row: 1,
        })
    }

    fn write(&mut self, cells: &[Cell], bold: bool) -> Result<(), XlsxError> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        let formats = if bold { &self.bold } else { &self.formats };
        for (col, cell) in cells.iter().enumerate() {
            write_cell(sheet, self.row, col as u16, cell, &formats[col])?;
        }
        self.row += 1;
        Ok(())
    }

    pub fn row(&mut self, cells: &[Cell]) -> Result<(), XlsxError> {
        self.write(cells, false)
    }

    /// Filters the rows so far, adds the totals row and the parameters, and writes the file.
    pub fn finish<W: std::io::Write + std::io::Seek + Send>(
        mut self,
        totals: Option<&[Cell]>,
        parameters: &[(&'static str, String)],
        out: W,
    ) -> Result<(), XlsxError> {
        let last_row = self.row.saturating_sub(1).max(1);
        let last_col = self.width.saturating_sub(1);
        self.workbook
            .worksheet_from_index(0)?
            .autofilter(0, 0, last_row, last_col)?;
        if let Some(cells) = totals {
            self.write(cells, true)?;
        }
        let header = Format::new().set_bold();
        let sheet = self.workbook.add_worksheet();
        sheet.set_name("Parameters")?;
        sheet.write_string_with_format(0, 0, "Parameter", &header)?;
        sheet.write_string_with_format(0, 1, "Value", &header)?;
        sheet.set_column_width(0, 20)?;
        sheet.set_column_width(1, 40)?;
        for (i, (name, value)) in parameters.iter().enumerate() {
            sheet.write_string(i as u32 + 1, 0, *name)?;
            sheet.write_string(i as u32 + 1, 1, value)?;
        }
        self.workbook.save_to_writer(out)
    }
}

/// The table as an Excel workbook (see [`SheetWriter`]).
pub fn xlsx(table: &Table) -> Result<Vec<u8>, XlsxError> {
    let mut sheet = SheetWriter::new(table.title, &table.columns, false)?;
    for cells in &table.rows {
        sheet.row(cells)?;
    }
    let mut out = std::io::Cursor::new(Vec::new());
    sheet.finish(table.totals.as_deref(), &table.parameters, &mut out)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn table() -> Table {
        Table {
            title: "Report",
            columns: vec![
                Column::new("account", Kind::Text),
                Column::new("date", Kind::Date),
                Column::new("balance", Kind::Money),
                Column::new("invoices", Kind::Integer),
            ],
            rows: vec![vec![
                "Acme, Inc.".into(),
                date!(2026 - 11 - 30).into(),
                Decimal::new(125050, 2).into(),
                3i64.into(),
            ]],
            totals: Some(vec![
                "Total".into(),
                Cell::Empty,
                Decimal::new(125050, 2).into(),
                3i64.into(),
            ]),
            parameters: vec![("as_of", "2026-11-30".into())],
        }
    }

    #[test]
    fn csv_has_a_header_quoted_fields_totals_and_the_parameters_as_wide_as_the_header() {
        assert_eq!(
            csv(&table()),
            "account,date,balance,invoices\r\n\
             \"Acme, Inc.\",2026-11-30,1250.50,3\r\n\
             Total,,1250.50,3\r\n\
             parameter,as_of,2026-11-30,\r\n"
        );
    }

    #[test]
    fn csv_in_pieces_is_the_whole_csv_cut_after_rows() {
        let mut t = table();
        t.rows = (0..5).map(|_| t.rows[0].clone()).collect();
        let whole = csv(&t);
        let pieces: Vec<String> = csv_pieces(t.clone(), 40).collect();
        assert_eq!(pieces.concat(), whole);
        assert!(pieces.len() > 3, "{pieces:?}");
        assert!(pieces[..pieces.len() - 1]
            .iter()
            .all(|p| p.ends_with("\r\n")));
        assert_eq!(csv_pieces(t, usize::MAX).collect::<Vec<_>>(), vec![whole]);
    }

    #[test]
    fn csv_fields_with_commas_quotes_or_line_breaks_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn text_a_spreadsheet_would_run_as_a_formula_is_written_as_text() {
        let mut t = table();
        t.rows[0][0] = "=HYPERLINK(\"x\")".into();
        t.rows[0][2] = Decimal::new(-5, 0).into();
        let csv = csv(&t);
        assert!(
            csv.contains("\r\n\"'=HYPERLINK(\"\"x\"\")\",2026-11-30,-5,3\r\n"),
            "{csv}"
        );
    }

    #[test]
    fn a_workbook_is_a_zip_file() {
        let bytes = xlsx(&table()).unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }
}
