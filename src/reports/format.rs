//! The formats a report comes in: JSON as the API answers everywhere, CSV and Excel from its
//! table (`catalog` writes them).

crate::text_enum! {
    /// The format of a report: `json` (default), `csv` (RFC 4180, UTF-8, a header row) or
    /// `xlsx` (an Excel workbook).
    ReportFormat { Json => "json", Csv => "csv", Xlsx => "xlsx" }
}

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
