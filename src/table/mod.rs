//! Users' tables as they come: `.xlsx` (also `.xls`/`.ods`) and `.csv`
//! (UTF-8 with or without BOM, or Windows-1251; `,`, `;` or tab separated).
//!
//! Every cell is kept as text. Advertisement IDs such as `000123` or
//! `1234500000000000000` must come back exactly as the user typed them, so
//! nothing here converts cells to numbers; callers parse the columns they need.

use std::io::Cursor;

use crate::error::{Error, Result};
use crate::message::Message;

/// A sheet: one header row and data rows, all cells as text.
///
/// Rows are padded with empty cells to the header width, so `row[col]` is
/// always valid for a column found with [`Table::find_column`]. Row `i` of
/// `rows` is spreadsheet row `i + 2` (the header is row 1), which is what
/// error messages quote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The kind of a table file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Csv,
    /// One JSON object per line; its keys are the columns.
    JsonLines,
    /// `.xlsx`, `.xlsm`, `.xls`, `.xlsb`, `.ods`: anything calamine opens.
    Spreadsheet,
}

impl TableKind {
    pub fn from_file_name(name: &str) -> Result<TableKind> {
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_lowercase()).unwrap_or_default();
        match ext.as_str() {
            "csv" | "txt" | "tsv" => Ok(TableKind::Csv),
            "jsonl" | "ndjson" => Ok(TableKind::JsonLines),
            "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => Ok(TableKind::Spreadsheet),
            _ => Err(Error::Table {
                file: name.to_string(),
                reason: "expected a .xlsx, .csv or .jsonl file".into(),
            }),
        }
    }
}

/// How to write a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvFormat {
    pub delimiter: u8,
    /// A UTF-8 byte-order mark makes Excel read Cyrillic text correctly.
    pub bom: bool,
}

impl Default for CsvFormat {
    fn default() -> Self {
        CsvFormat { delimiter: b',', bom: true }
    }
}

/// Header names compared the way users write them: case, `ё`/`е`, spaces,
/// underscores and punctuation do not matter ("Segment_num" = "segment num").
pub fn normalize_header(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric() || *c == '№')
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

impl Table {
    pub fn new(headers: Vec<String>) -> Table {
        Table { headers, rows: Vec::new() }
    }

    /// Appends a row, padded or cut to the header width.
    pub fn push_row(&mut self, mut row: Vec<String>) {
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Index of the first column whose header matches one of `names`, trying
    /// the names in order (so the most specific name can come first).
    pub fn find_column(&self, names: &[&str]) -> Option<usize> {
        let headers: Vec<String> = self.headers.iter().map(|h| normalize_header(h)).collect();
        names.iter().find_map(|n| {
            let n = normalize_header(n);
            headers.iter().position(|h| !h.is_empty() && *h == n)
        })
    }

    /// Like [`Table::find_column`], but a missing column is an error that
    /// lists the columns the file does have.
    pub fn require_column(&self, file: &str, wanted: &str, names: &[&str]) -> Result<usize> {
        self.find_column(names).ok_or_else(|| Error::MissingColumn {
            file: file.to_string(),
            wanted: wanted.to_string(),
            tried: names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "),
            found: if self.headers.is_empty() {
                "no header row".into()
            } else {
                self.headers.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ")
            },
        })
    }

    /// Spreadsheet row number (1-based, header = 1) of data row `index`.
    pub fn row_number(index: usize) -> usize {
        index + 2
    }

    /// Reads a table from file bytes; the kind comes from the file name.
    pub fn from_bytes(file_name: &str, bytes: &[u8]) -> Result<Table> {
        match TableKind::from_file_name(file_name)? {
            TableKind::Csv => read_csv(file_name, bytes),
            TableKind::JsonLines => read_json_lines(file_name, bytes),
            TableKind::Spreadsheet => read_spreadsheet(file_name, bytes),
        }
    }

    /// Builds a table from raw rows: the first non-blank row is the header,
    /// blank rows at the end are dropped (spreadsheets often carry them).
    fn from_raw_rows(mut raw: Vec<Vec<String>>) -> Table {
        while raw.last().is_some_and(|r| is_blank(r)) {
            raw.pop();
        }
        let start = raw.iter().position(|r| !is_blank(r)).unwrap_or(raw.len());
        let mut rows = raw.into_iter().skip(start);
        let mut headers: Vec<String> = match rows.next() {
            Some(h) => h.into_iter().map(|c| c.trim().to_string()).collect(),
            None => return Table::default(),
        };
        let rows: Vec<Vec<String>> = rows.collect();
        // Data wider than the header gets unnamed columns rather than being cut.
        let width = rows.iter().map(Vec::len).max().unwrap_or(0).max(headers.len());
        headers.resize(width, String::new());
        let mut table = Table::new(headers);
        for r in rows {
            table.push_row(r);
        }
        table
    }
}

/// True when every cell of the row is empty or whitespace.
pub fn is_blank(row: &[String]) -> bool {
    row.iter().all(|c| c.trim().is_empty())
}

/// Decodes CSV bytes: UTF-8 (BOM stripped), else Windows-1251, which is what
/// Excel writes on Russian Windows for "CSV (разделители — точка с запятой)".
fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1251.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

/// Picks the separator from the header line: the most frequent of `;`, `,`
/// and tab outside quotes. Russian Excel writes `;` because `,` is the
/// decimal mark there.
fn sniff_delimiter(text: &str) -> u8 {
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0)];
    let mut in_quotes = false;
    for c in first_line.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            for (d, n) in counts.iter_mut() {
                if c == *d as char {
                    *n += 1;
                }
            }
        }
    }
    let [(_, semi), (_, comma), (_, tab)] = counts;
    // `,` wins ties (and a one-column file); another separator must occur more often.
    if semi > comma && semi >= tab {
        b';'
    } else if tab > comma && tab > semi {
        b'\t'
    } else {
        b','
    }
}

/// The separator of CSV text and where its header starts: Excel's own
/// separator hint (a first line `sep=;`) overrides sniffing and is skipped.
pub(crate) fn csv_dialect(text: &str) -> (u8, usize) {
    let hinted = text.lines().next().and_then(|l| l.trim().strip_prefix("sep=")).and_then(|d| match d.as_bytes() {
        [b] => Some(*b),
        _ => None,
    });
    match hinted {
        Some(d) => (d, text.find('\n').map_or(text.len(), |i| i + 1)),
        None => (sniff_delimiter(text), 0),
    }
}

/// Reads CSV bytes into a [`Table`].
pub fn read_csv(file_name: &str, bytes: &[u8]) -> Result<Table> {
    let text = decode_text(bytes);
    let (delimiter, start) = csv_dialect(&text);
    let text = &text[start..];
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut raw = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::Table {
            file: file_name.to_string(),
            reason: format!("record {}: {e}", i + 1),
        })?;
        raw.push(record.iter().map(str::to_string).collect());
    }
    Ok(Table::from_raw_rows(raw))
}

/// Writes a table as CSV bytes.
pub fn write_csv(table: &Table, format: CsvFormat) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if format.bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let mut writer = csv::WriterBuilder::new()
        .delimiter(format.delimiter)
        .flexible(true)
        .from_writer(out);
    let csv_err = |e: csv::Error| Error::Invalid(format!("cannot write CSV: {e}"));
    writer.write_record(table.headers.iter().map(|c| inert_cell(c).into_owned())).map_err(csv_err)?;
    for row in &table.rows {
        writer.write_record(row.iter().map(|c| inert_cell(c).into_owned())).map_err(csv_err)?;
    }
    writer.into_inner().map_err(|e| Error::Invalid(format!("cannot write CSV: {e}")))
}

/// Text of a spreadsheet cell. Whole numbers are written without exponent or
/// `.0` (an ID typed as a number in Excel comes back as its digits).
fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e21 {
                format!("{f:.0}")
            } else {
                f.to_string()
            }
        }
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        other => other.to_string(),
    }
}

/// Reads the first worksheet of a spreadsheet (`.xlsx`, `.xls`, `.ods`).
pub fn read_spreadsheet(file_name: &str, bytes: &[u8]) -> Result<Table> {
    use calamine::Reader;
    let table_err = |reason: String| Error::Table { file: file_name.to_string(), reason };
    let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| table_err(format!("not a readable spreadsheet ({e})")))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| table_err("the workbook has no worksheet".into()))?
        .map_err(|e| table_err(format!("cannot read the first worksheet ({e})")))?;
    let raw: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(cell_text).collect()).collect();
    Ok(Table::from_raw_rows(raw))
}

/// Writes a table as `.xlsx` bytes, one worksheet, bold header.
///
/// Cells are written as text, so IDs keep leading zeros and all their digits;
/// cells of the columns named in `numeric_columns` that hold a plain number
/// (such as `Segment_num`, or a spend of `1234.56`) are written as numbers so
/// Excel can sum and filter them.
pub fn write_xlsx(table: &Table, numeric_columns: &[&str]) -> Result<Vec<u8>> {
    write_xlsx_with(table, &SheetLayout { numeric: numeric_columns, ..Default::default() })
}

/// How a written sheet is laid out beyond its cells.
#[derive(Debug, Default)]
pub struct SheetLayout<'a> {
    /// Columns whose plain-number cells are written as numbers.
    pub numeric: &'a [&'a str],
    /// Of those, the ones shown as per cents (fractions 0..1).
    pub percent: &'a [&'a str],
    /// Said once for the whole table, on a second sheet so named.
    pub notes: &'a [String],
    pub notes_sheet: &'a str,
}

/// [`write_xlsx`] with number formats and a sheet of notes.
pub fn write_xlsx_with(table: &Table, layout: &SheetLayout) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let xlsx_err = |e: rust_xlsxwriter::XlsxError| Error::Invalid(format!("cannot write .xlsx: {e}"));
    let is_in = |names: &[&str], c: usize| {
        let h = normalize_header(&table.headers[c]);
        names.iter().any(|n| normalize_header(n) == h)
    };
    let numeric: Vec<bool> = (0..table.headers.len()).map(|c| is_in(layout.numeric, c)).collect();
    let percent: Vec<bool> = (0..table.headers.len()).map(|c| is_in(layout.percent, c)).collect();
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let bold = Format::new().set_bold();
    let as_percent = Format::new().set_num_format("0.0%");
    for (c, h) in table.headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, h, &bold).map_err(xlsx_err)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = (r + 1) as u32;
        for (c, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            let as_number = numeric.get(c).copied().unwrap_or(false)
                && is_plain_number(cell)
                && cell.bytes().filter(u8::is_ascii_digit).count() <= 15; // beyond 15 digits Excel loses precision
            if as_number {
                let v: f64 = cell.parse().map_err(|_| Error::Invalid(format!("bad number {cell}")))?;
                if percent[c] {
                    sheet.write_number_with_format(r, c as u16, v, &as_percent).map_err(xlsx_err)?;
                } else {
                    sheet.write_number(r, c as u16, v).map_err(xlsx_err)?;
                }
            } else {
                sheet.write_string(r, c as u16, cell).map_err(xlsx_err)?;
            }
        }
    }
    if !layout.notes.is_empty() {
        let notes = workbook.add_worksheet().set_name(layout.notes_sheet).map_err(xlsx_err)?;
        for (r, note) in layout.notes.iter().enumerate() {
            notes.write_string(r as u32, 0, note.as_str()).map_err(xlsx_err)?;
        }
    }
    workbook.save_to_buffer().map_err(xlsx_err)
}

/// A cell as a spreadsheet will not run it: text starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return is a formula to Excel and
/// LibreOffice (`=HYPERLINK(…)` in a file name, say), so it gets a leading
/// `'` (OWASP's advice for CSV injection). Negative numbers stay numbers.
pub fn inert_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// `-?[0-9]+(\.[0-9]+)?` without leading zeros (`007` is an ID, not a number).
fn is_plain_number(s: &str) -> bool {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(frac) && !(whole.len() > 1 && whole.starts_with('0'))
}

/// The separator of a CSV table file: what an answer written for the users'
/// own table keeps. None for other kinds, and for a CSV of one column,
/// whose separator cannot be told (the answer then takes the language's).
pub fn csv_delimiter(file_name: &str, bytes: &[u8]) -> Option<u8> {
    if !matches!(TableKind::from_file_name(file_name), Ok(TableKind::Csv)) {
        return None;
    }
    let text = decode_text(bytes);
    let (delimiter, header_at) = csv_dialect(&text);
    let hinted = header_at > 0;
    let header = text[header_at..].lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    (hinted || header.as_bytes().contains(&delimiter)).then_some(delimiter)
}

/// Reads a table file from disk (native only).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_table_file(path: &std::path::Path) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    Table::from_bytes(&path.to_string_lossy(), &bytes)
}

/// Writes a table file to disk as `.xlsx` or `.csv`, chosen by extension
/// (native only).
#[cfg(not(target_arch = "wasm32"))]
pub fn write_table_file(path: &std::path::Path, table: &Table, numeric_columns: &[&str]) -> Result<()> {
    let name = path.to_string_lossy();
    let bytes = match TableKind::from_file_name(&name)? {
        TableKind::Csv => write_csv(table, CsvFormat::default())?,
        TableKind::Spreadsheet => write_xlsx(table, numeric_columns)?,
        TableKind::JsonLines => {
            return Err(Error::Table { file: name.into(), reason: "tables are written as .xlsx or .csv".into() })
        }
    };
    crate::error::write_file(path, bytes)
}

/// Reads JSON Lines: the columns are the keys (sorted, as the JSON map keeps them);
/// strings are kept as they are, other values as their JSON text.
pub fn read_json_lines(file_name: &str, bytes: &[u8]) -> Result<Table> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| Error::Table { file: file_name.into(), reason: "JSON Lines must be UTF-8".into() })?;
    let mut objects = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::Table { file: file_name.into(), reason: format!("line {}: {e}", i + 1) })?;
        let serde_json::Value::Object(map) = value else {
            return Err(Error::Table { file: file_name.into(), reason: format!("line {}: not a JSON object", i + 1) });
        };
        objects.push(map);
    }
    let mut headers: Vec<String> = Vec::new();
    for o in &objects {
        for k in o.keys() {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
    }
    let mut table = Table::new(headers.clone());
    for o in objects {
        table.push_row(
            headers
                .iter()
                .map(|h| match o.get(h) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                })
                .collect(),
        );
    }
    Ok(table)
}

/// One labelled text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LabelledText {
    /// Row number as in error messages (header = 1; for JSON Lines, line + 1).
    pub row: usize,
    pub text: String,
    /// The label as written.
    pub label: String,
}

/// Labelled texts for training on text alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelledTexts {
    /// In file order.
    pub rows: Vec<LabelledText>,
    pub problems: Vec<RowProblem>,
}

/// Column names accepted for the text of a labelled example.
pub const TEXT_COLUMN_NAMES: &[&str] = &["text", "transcript", "текст", "расшифровка"];
/// Column names accepted for its label.
pub const LABEL_COLUMN_NAMES: &[&str] = &["label", "Segment_num", "segment", "сегмент", "метка", "класс"];

/// Reads (text, label) rows; rows missing either are listed as problems.
pub fn read_labelled_texts(file: &str, table: &Table) -> Result<LabelledTexts> {
    let text_col = table.require_column(file, "the text", TEXT_COLUMN_NAMES)?;
    let label_col = table.require_column(file, "the label", LABEL_COLUMN_NAMES)?;
    let mut out = LabelledTexts::default();
    for (i, row) in table.rows.iter().enumerate() {
        if is_blank(row) {
            continue;
        }
        let (text, label) = (row[text_col].trim(), row[label_col].trim());
        let reason = match (text.is_empty(), label.is_empty()) {
            (true, _) => Message::new("no-text", "no text"),
            (_, true) => Message::new("no-label", "no label"),
            _ => {
                out.rows.push(LabelledText { row: Table::row_number(i), text: text.into(), label: label.into() });
                continue;
            }
        };
        out.problems.push(RowProblem { row: Table::row_number(i), id: None, reason });
    }
    Ok(out)
}

/// Column names accepted for the creative's ID.
pub const ID_COLUMN_NAMES: &[&str] = &[
    "Advertisement ID",
    "advertisement_id",
    "ad id",
    "creative id",
    "id",
    "ID ролика",
    "ID креатива",
    "идентификатор",
];

/// Column names accepted for the segment number in training labels.
pub const SEGMENT_NUM_COLUMN_NAMES: &[&str] = &[
    "Segment_num",
    "segment_id",
    "segment number",
    "segment",
    "номер сегмента",
    "сегмент",
];

/// A row of a user's table that was not used (or used in part): its number,
/// the creative's ID when the row names one, and why, as a message the page
/// words in its own language.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RowProblem {
    /// Spreadsheet row number (header = 1).
    pub row: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub reason: Message,
}

impl RowProblem {
    pub fn of_id(row: usize, id: &str, reason: Message) -> RowProblem {
        RowProblem { row, id: Some(id.to_string()), reason }
    }
}

/// "row 6: ID A 3: no media file …", as the CLI prints it.
impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "row {}: ID {id}: {}", self.row, self.reason),
            None => write!(f, "row {}: {}", self.row, self.reason),
        }
    }
}

/// One usable row of `train_segments.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Spreadsheet row number (header = 1), for messages about this creative.
    pub row: usize,
    /// Advertisement ID as text.
    pub id: String,
    pub segment: u32,
}

impl Label {
    /// Why this labelled creative was not used, with its row and ID, like
    /// the table's own row problems.
    pub fn problem(&self, reason: Message) -> RowProblem {
        RowProblem::of_id(self.row, &self.id, reason)
    }
}

/// Training labels read from `train_segments.csv`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    /// In file order, each ID once.
    pub labels: Vec<Label>,
    /// Rows that were not used and why. Fully blank rows are not listed.
    pub problems: Vec<RowProblem>,
}

/// Parses a segment number as users' files hold it: `5`, ` 5 `, or `5.0`
/// (an Excel number). Anything else is `None`.
pub fn parse_segment_number(s: &str) -> Option<u32> {
    let s = s.trim();
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    let whole = s.strip_suffix(".0").or_else(|| s.strip_suffix(",0"))?;
    whole.parse::<u32>().ok()
}

/// Reads (Advertisement ID → segment) pairs from a labels table.
///
/// Rows with a missing ID, a missing or malformed segment number, a segment
/// not in `known_segments` (when given) or an ID already labelled are listed
/// in [`Labels::problems`] with their row number; the first label of an ID
/// wins.
pub fn read_labels(file: &str, table: &Table, known_segments: Option<&[u32]>) -> Result<Labels> {
    let id_col = table.require_column(file, "the creative ID", ID_COLUMN_NAMES)?;
    let seg_col = table.require_column(file, "the segment number", SEGMENT_NUM_COLUMN_NAMES)?;
    let mut out = Labels::default();
    let mut first_row: std::collections::HashMap<String, (usize, u32)> = Default::default();
    for (i, row) in table.rows.iter().enumerate() {
        if is_blank(row) {
            continue;
        }
        let row_no = Table::row_number(i);
        let id = row[id_col].trim();
        let seg_text = row[seg_col].trim();
        if id.is_empty() {
            let reason = Message::new("no-id", format!("no Advertisement ID (segment {seg_text:?})")).with("segment", seg_text);
            out.problems.push(RowProblem { row: row_no, id: None, reason });
            continue;
        }
        let mut problem = |reason: Message| out.problems.push(RowProblem::of_id(row_no, id, reason));
        let Some(seg) = parse_segment_number(seg_text) else {
            if seg_text.is_empty() {
                problem(Message::new("no-segment-number", "no segment number"));
            } else {
                let text = format!("segment number {seg_text:?} is not a whole number ≥ 0");
                problem(Message::new("segment-not-a-number", text).with("value", seg_text));
            }
            continue;
        };
        if let Some(known) = known_segments {
            if !known.contains(&seg) {
                problem(Message::new("segment-unknown", format!("segment {seg} is not in the segment dictionary")).with("segment", seg));
                continue;
            }
        }
        if let Some(&(r, s)) = first_row.get(id) {
            if s == seg {
                let text = format!("repeats row {r} (same segment {seg}); kept once");
                problem(Message::new("label-repeated", text).with("row", r).with("segment", seg));
            } else {
                let text = format!("already labelled at row {r} as segment {s}; segment {seg} ignored");
                problem(Message::new("label-conflict", text).with("row", r).with("segment", s).with("ignored", seg));
            }
            continue;
        }
        first_row.insert(id.to_string(), (row_no, seg));
        out.labels.push(Label { row: row_no, id: id.to_string(), segment: seg });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn odd_table() -> Table {
        let mut t = Table::new(vec!["Advertisement ID".into(), "Segment_num".into(), "Комментарий".into()]);
        t.push_row(vec!["000123".into(), "5".into(), "Скидки до 50%; «ёлка»".into()]);
        t.push_row(vec!["ID 77 b".into(), "15".into(), "слушать музыку, чарт".into()]);
        t.push_row(vec!["1234500000000000000".into(), "0".into(), "строка с \"кавычками\"\nи переносом".into()]);
        t.push_row(vec!["99999999999999999999999".into(), "18".into(), String::new()]);
        t
    }

    #[test]
    fn only_plain_numbers_become_spreadsheet_numbers() {
        for yes in ["0", "5", "-12", "1234.56", "0.5", "-0.05"] {
            assert!(is_plain_number(yes), "{yes}");
        }
        for no in ["", "007", "00.5", "1.", ".5", "1e5", "1 234", "1,5", "--1", "12a"] {
            assert!(!is_plain_number(no), "{no}");
        }
    }

    #[test]
    fn header_names_are_matched_loosely() {
        let t = Table::new(vec!["  advertisement_ID ".into(), "SEGMENT NUM".into(), "Номер".into()]);
        assert_eq!(t.find_column(&["Advertisement ID"]), Some(0));
        assert_eq!(t.find_column(&["Segment_num"]), Some(1));
        assert_eq!(t.find_column(&["номер"]), Some(2));
        assert_eq!(t.find_column(&["name", "название"]), None);
        let err = t.require_column("x.csv", "the segment name", &["name"]).unwrap_err().to_string();
        assert!(err.contains("x.csv") && err.contains("\"name\"") && err.contains("SEGMENT NUM"), "{err}");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        let mut t = Table::new(vec!["=cmd|' /C calc'!A0".into(), "Segment_num".into()]);
        for cell in ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", "-12", "-0.5", "ok"] {
            t.push_row(vec![cell.to_string(), "1".into()]);
        }
        let back = read_csv("t.csv", &write_csv(&t, CsvFormat::default()).unwrap()).unwrap();
        for cell in back.headers.iter().chain(back.rows.iter().flatten()) {
            let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(cell);
            assert!(!formula, "{cell:?} would run as a formula");
        }
        assert_eq!(back.rows[0][0], "'=HYPERLINK(\"http://x\",\"y\")");
        assert_eq!((back.rows[6][0].as_str(), back.rows[7][0].as_str(), back.rows[8][0].as_str()), ("-12", "-0.5", "ok"));
    }

    #[test]
    fn csv_round_trip_keeps_ids_and_cyrillic() {
        let t = odd_table();
        for format in [CsvFormat::default(), CsvFormat { delimiter: b';', bom: false }] {
            let bytes = write_csv(&t, format).unwrap();
            let back = read_csv("t.csv", &bytes).unwrap();
            assert_eq!(back, t, "delimiter {}", format.delimiter as char);
        }
    }

    #[test]
    fn csv_with_bom_semicolons_and_cp1251() {
        let text = "\u{FEFF}Advertisement ID;Segment_num\r\n000123;5\r\n\"a;b\";7\r\n\r\n";
        let t = read_csv("t.csv", text.as_bytes()).unwrap();
        assert_eq!(t.headers, vec!["Advertisement ID", "Segment_num"]);
        assert_eq!(t.rows, vec![vec!["000123", "5"], vec!["a;b", "7"]]);

        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("номер;название\n15;Музыка\n");
        let t = read_csv("dict.csv", &cp1251).unwrap();
        assert_eq!(t.headers, vec!["номер", "название"]);
        assert_eq!(t.rows, vec![vec!["15", "Музыка"]]);

        let t = read_csv("t.csv", b"sep=;\r\na,b;c\r\n1,5;2\r\n").unwrap();
        assert_eq!(t.headers, vec!["a,b", "c"]);
        assert_eq!(t.rows, vec![vec!["1,5", "2"]]);
    }

    #[test]
    fn csv_decimal_commas_inside_semicolon_file() {
        let text = "id;cost\n1;\"1,5\"\n2;3,25\n";
        let t = read_csv("t.csv", text.as_bytes()).unwrap();
        assert_eq!(t.rows[1], vec!["2", "3,25"]);
    }

    #[test]
    fn xlsx_round_trip_keeps_ids_as_text() {
        let t = odd_table();
        let bytes = write_xlsx(&t, &["Segment_num"]).unwrap();
        let back = read_spreadsheet("t.xlsx", &bytes).unwrap();
        assert_eq!(back, t);
        let via_name = Table::from_bytes("T.XLSX", &bytes).unwrap();
        assert_eq!(via_name, t);
    }

    #[test]
    fn xlsx_numeric_ids_come_back_as_digits() {
        // A user's sheet where the IDs were typed as numbers.
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "Advertisement ID").unwrap();
        ws.write_string(0, 1, "Segment_num").unwrap();
        ws.write_number(1, 0, 1.2345e18).unwrap();
        ws.write_number(1, 1, 3.0).unwrap();
        ws.write_number(2, 0, 42.0).unwrap();
        ws.write_number(2, 1, 0.5).unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let t = read_spreadsheet("ids.xlsx", &bytes).unwrap();
        assert_eq!(t.rows, vec![vec!["1234500000000000000", "3"], vec!["42", "0.5"]]);
    }

    #[test]
    fn unreadable_inputs_are_named() {
        let err = read_spreadsheet("broken.xlsx", b"not a zip").unwrap_err().to_string();
        assert!(err.starts_with("broken.xlsx:"), "{err}");
        assert!(Table::from_bytes("data.pdf", b"x").unwrap_err().to_string().contains(".xlsx, .csv or .jsonl"));
    }

    #[test]
    fn labels_report_every_unusable_row() {
        let text = "Advertisement ID,Segment_num\n\
                    000123,5\n\
                    ,7\n\
                    A 1,\n\
                    A 2,x\n\
                    A 3,4.0\n\
                    A 4,-1\n\
                    ,\n\
                    000123,6\n\
                    A 5,99\n\
                    A 3,4\n";
        let t = read_csv("train_segments.csv", text.as_bytes()).unwrap();
        let known: Vec<u32> = (0..=18).collect();
        let l = read_labels("train_segments.csv", &t, Some(&known)).unwrap();
        let pairs: Vec<(usize, &str, u32)> = l.labels.iter().map(|l| (l.row, l.id.as_str(), l.segment)).collect();
        assert_eq!(pairs, vec![(2, "000123", 5), (6, "A 3", 4)]);
        assert_eq!(l.labels[1].problem(Message::new("x", "no media file")).to_string(), "row 6: ID A 3: no media file");
        let rows: Vec<usize> = l.problems.iter().map(|p| p.row).collect();
        assert_eq!(rows, vec![3, 4, 5, 7, 9, 10, 11]);
        let codes: Vec<&str> = l.problems.iter().map(|p| p.reason.code.as_str()).collect();
        assert_eq!(codes, ["no-id", "no-segment-number", "segment-not-a-number", "segment-not-a-number", "label-conflict", "segment-unknown", "label-repeated"]);
        assert!(l.problems[0].to_string().contains("no Advertisement ID"));
        assert!(l.problems[2].reason.text.contains("\"x\""));
        assert_eq!(l.problems[2].reason.params["value"], "x");
        assert!(l.problems[4].reason.text.contains("already labelled at row 2"));
        assert_eq!((l.problems[4].reason.params["row"].as_str(), l.problems[4].id.as_deref()), ("2", Some("000123")));
        assert!(l.problems[5].reason.text.contains("not in the segment dictionary"));
        assert!(l.problems[6].to_string().starts_with("row 11: ID A 3: repeats row 6"));
    }

    #[test]
    fn a_csv_keeps_its_separator_unless_it_has_none() {
        assert_eq!(csv_delimiter("ids.csv", "Advertisement ID;Brand\n1;A\n".as_bytes()), Some(b';'));
        assert_eq!(csv_delimiter("ids.csv", "Advertisement ID,Brand\n1,A\n".as_bytes()), Some(b','));
        assert_eq!(csv_delimiter("ids.csv", "sep=;\nAdvertisement ID\n1\n".as_bytes()), Some(b';'));
        assert_eq!(csv_delimiter("ids.csv", "Advertisement ID\n1\n2\n".as_bytes()), None, "one column: no separator to keep");
        assert_eq!(csv_delimiter("ids.xlsx", b"PK"), None);
    }

    #[test]
    fn labels_need_both_columns() {
        let t = read_csv("train.csv", "id;label\n1;2\n".as_bytes()).unwrap();
        let err = read_labels("train.csv", &t, None).unwrap_err();
        assert!(matches!(err, Error::MissingColumn { .. }));
        assert!(err.to_string().contains("segment number"));
    }

    #[test]
    fn json_lines_become_a_table_of_labelled_texts() {
        let bytes = "{\"text\": \"Скидка «50%»\", \"label\": \"промо\", \"n\": 3}\n\n{\"label\": 12, \"text\": \"кредитка\"}\n{\"text\": \"\", \"label\": \"x\"}\n".as_bytes();
        let t = Table::from_bytes("posts.jsonl", bytes).unwrap();
        assert_eq!(t.headers, vec!["label", "n", "text"]);
        let l = read_labelled_texts("posts.jsonl", &t).unwrap();
        let got: Vec<(&str, &str)> = l.rows.iter().map(|r| (r.text.as_str(), r.label.as_str())).collect();
        assert_eq!(got, vec![("Скидка «50%»", "промо"), ("кредитка", "12")]);
        assert_eq!(l.problems.len(), 1);
        assert_eq!(l.problems[0].reason.code, "no-text");
        let err = Table::from_bytes("bad.jsonl", b"{\"text\": 1}\n[1, 2]\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
