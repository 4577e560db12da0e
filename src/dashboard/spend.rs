//! The users' spend file (`dashboard_data.csv` or `.xlsx`): one row per
//! creative, month and placement. Rows of the same creative and month are
//! summed into one [`SpendLine`]; every row that cannot be used is counted
//! with its reason.
//!
//! CSV is parsed as a stream ([`SpendImport::push`]), so a million-row file
//! never has to sit in memory as text and the page can report progress.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::money::{parse_rub, Kopecks};
use super::period::{parse_month, parse_year, Period};
use crate::error::{Error, Result};
use crate::message::Message;
use crate::table::{csv_dialect, read_spreadsheet, RowProblem, Table, TableKind, ID_COLUMN_NAMES};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub const ADVERTISER_COLUMN_NAMES: &[&str] = &["Advertiser", "Рекламодатель", "advertiser name"];
pub const BRAND_COLUMN_NAMES: &[&str] = &["Brand", "Бренд", "Марка"];
pub const MEDIA_TYPE_COLUMN_NAMES: &[&str] = &["Media Type", "Тип медиа", "Медиа", "Media", "Медиатип"];
pub const YEAR_COLUMN_NAMES: &[&str] = &["Year", "Год"];
pub const MONTH_COLUMN_NAMES: &[&str] = &["Month", "Месяц"];
pub const COST_COLUMN_NAMES: &[&str] = &[
    "Estimated cost RUB",
    "Estimated cost",
    "Cost RUB",
    "Cost",
    "Spend",
    "Оценка затрат",
    "Затраты",
    "Стоимость",
    "Бюджет",
    "Расходы",
];

/// Shown where a file leaves the advertiser, brand or media type empty.
pub const NOT_GIVEN: &str = "—";

/// Where the columns are; the optional ones may be absent from the file.
#[derive(Debug, Clone)]
struct SpendColumns {
    id: usize,
    advertiser: Option<usize>,
    brand: Option<usize>,
    media_type: Option<usize>,
    year: usize,
    month: usize,
    cost: usize,
}

impl SpendColumns {
    fn find(file: &str, headers: Vec<String>) -> Result<SpendColumns> {
        let t = Table::new(headers);
        Ok(SpendColumns {
            id: t.require_column(file, "the creative ID", ID_COLUMN_NAMES)?,
            advertiser: t.find_column(ADVERTISER_COLUMN_NAMES),
            brand: t.find_column(BRAND_COLUMN_NAMES),
            media_type: t.find_column(MEDIA_TYPE_COLUMN_NAMES),
            year: t.require_column(file, "the year", YEAR_COLUMN_NAMES)?,
            month: t.require_column(file, "the month", MONTH_COLUMN_NAMES)?,
            cost: t.require_column(file, "the cost in roubles", COST_COLUMN_NAMES)?,
        })
    }
}

/// Distinct strings numbered in order of first appearance.
///
/// Keyed by bytes: a CSV cell is looked up as the parser left it and checked
/// as UTF-8 only the first time it is seen.
#[derive(Debug, Clone, Default)]
pub struct Names {
    index: FastMap<Box<[u8]>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    pub fn intern(&mut self, name: &str) -> u32 {
        self.intern_bytes(name.as_bytes())
    }

    /// A name that is not UTF-8 (a stray byte in a UTF-8 file) is kept with U+FFFD in its place.
    pub fn intern_bytes(&mut self, name: &[u8]) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(String::from_utf8_lossy(name).into());
        self.index.insert(name.into(), i);
        i
    }

    pub fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name.as_bytes()).copied()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// One creative's spend in one month, after summing its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendLine {
    pub creative: u32,
    pub advertiser: u32,
    pub brand: u32,
    pub media_type: u32,
    pub period: Period,
    pub cost: Kopecks,
    /// How many input rows were summed into this line.
    pub rows: u32,
    /// The row that started it (its names are the line's).
    pub first_row: u32,
}

/// Rows that could not be used: how many, how many for each reason, and the
/// first [`BadRows::MAX_LISTED`] of them with their row numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BadRows {
    pub count: usize,
    pub by_reason: BTreeMap<&'static str, usize>,
    pub listed: Vec<RowProblem>,
}

impl BadRows {
    pub const MAX_LISTED: usize = 1000;

    fn add(&mut self, kind: &'static str, row: usize, id: Option<&str>, reason: Message) {
        self.count += 1;
        *self.by_reason.entry(kind).or_default() += 1;
        if self.listed.len() < Self::MAX_LISTED {
            self.listed.push(RowProblem { row, id: id.map(str::to_string), reason });
        }
    }
}

/// The spend file, read.
#[derive(Debug, Clone, Default)]
pub struct SpendData {
    /// The file it came from, for messages.
    pub source: String,
    pub creatives: Names,
    pub advertisers: Names,
    pub brands: Names,
    pub media_types: Names,
    pub lines: Vec<SpendLine>,
    line_of: FastMap<(u32, Period), u32>,
    /// Data rows read (blank rows are not counted).
    pub rows: usize,
    /// Rows added to an earlier row of the same creative and month.
    pub summed_rows: usize,
    pub bad: BadRows,
    /// Rows summed into an earlier one that named another advertiser, brand or
    /// media type: the first row's names are kept. Counted, first few listed.
    pub conflicts: BadRows,
}

impl SpendData {
    pub fn new(source: &str) -> SpendData {
        SpendData { source: source.to_string(), ..Default::default() }
    }

    /// The sum of every line: equal to the sum of the cost of every good row.
    pub fn total(&self) -> Kopecks {
        self.lines.iter().map(|l| l.cost).sum()
    }

    /// Adds one data row (spreadsheet row number `row`).
    fn add_row<C: Cells + ?Sized>(&mut self, row: usize, cells: &C, cols: &SpendColumns) {
        if cells.is_blank() {
            return;
        }
        let cell = |c: usize| if c < cells.count() { cells.cell(c).trim() } else { "" };
        self.rows += 1;
        let id = cell(cols.id);
        if id.is_empty() {
            return self.bad.add("no creative ID", row, None, Message::new("row-without-id", "no Advertisement ID in this row"));
        }
        let year = match parse_year(cell(cols.year)) {
            Ok(y) => y,
            Err(e) => return self.bad.add("bad year", row, Some(id), e),
        };
        let month = match parse_month(cell(cols.month)) {
            Ok(m) => m,
            Err(e) => return self.bad.add("bad month", row, Some(id), e),
        };
        let Some(period) = Period::new(year, month) else {
            let reason = Message::new("no-such-month", format!("no such month {year}-{month}")).with("year", year).with("month", month);
            return self.bad.add("bad month", row, Some(id), reason);
        };
        let cost = match parse_rub(cell(cols.cost)) {
            Ok(c) => c,
            Err(e) => return self.bad.add("bad cost", row, Some(id), e),
        };
        let name = |c: Option<usize>| {
            c.filter(|&c| c < cells.count()).map(|c| cells.raw(c)).filter(|s| !s.is_empty()).unwrap_or(NOT_GIVEN.as_bytes())
        };
        let advertiser = self.advertisers.intern_bytes(name(cols.advertiser));
        let brand = self.brands.intern_bytes(name(cols.brand));
        let media_type = self.media_types.intern_bytes(name(cols.media_type));
        let creative = self.creatives.intern(id);
        let line = SpendLine { creative, advertiser, brand, media_type, period, cost, rows: 1, first_row: row as u32 };
        self.add_line(line, row);
    }

    /// Sums a line into the one of its creative and month (true), or starts that line.
    fn add_line(&mut self, line: SpendLine, row: usize) -> bool {
        let Some(&i) = self.line_of.get(&(line.creative, line.period)) else {
            self.line_of.insert((line.creative, line.period), self.lines.len() as u32);
            self.lines.push(line);
            return false;
        };
        let first = &mut self.lines[i as usize];
        first.cost += line.cost;
        first.rows += line.rows;
        self.summed_rows += line.rows as usize;
        if (first.advertiser, first.brand, first.media_type) != (line.advertiser, line.brand, line.media_type) {
            let (advertiser, brand, media_type) =
                (self.advertisers.name(first.advertiser), self.brands.name(first.brand), self.media_types.name(first.media_type));
            let text = format!("{}: summed with row {} that names {advertiser} / {brand} / {media_type}; those names are kept", line.period, first.first_row);
            let reason = Message::new("names-conflict", text)
                .with("period", line.period)
                .with("row", first.first_row)
                .with("advertiser", advertiser)
                .with("brand", brand)
                .with("media_type", media_type);
            self.conflicts.add("different names for one creative", row, Some(self.creatives.name(line.creative)), reason);
        }
        true
    }

    /// Appends the data read from the rest of the same file, whose row
    /// numbers start after `row_offset` rows, as if read in one go.
    #[cfg(not(target_arch = "wasm32"))]
    fn append(&mut self, other: SpendData, row_offset: usize) {
        let ids = |mine: &mut Names, theirs: &Names| -> Vec<u32> { (0..theirs.len() as u32).map(|i| mine.intern(theirs.name(i))).collect() };
        let creatives = ids(&mut self.creatives, &other.creatives);
        let advertisers = ids(&mut self.advertisers, &other.advertisers);
        let brands = ids(&mut self.brands, &other.brands);
        let media_types = ids(&mut self.media_types, &other.media_types);
        let merge_problems = |mine: &mut BadRows, theirs: BadRows| {
            mine.count += theirs.count;
            for (kind, n) in theirs.by_reason {
                *mine.by_reason.entry(kind).or_default() += n;
            }
            let room = BadRows::MAX_LISTED.saturating_sub(mine.listed.len());
            mine.listed.extend(theirs.listed.into_iter().take(room).map(|p| RowProblem { row: p.row + row_offset, ..p }));
        };
        merge_problems(&mut self.conflicts, other.conflicts);
        for l in other.lines {
            let row = l.first_row as usize + row_offset;
            let line = SpendLine {
                creative: creatives[l.creative as usize],
                advertiser: advertisers[l.advertiser as usize],
                brand: brands[l.brand as usize],
                media_type: media_types[l.media_type as usize],
                first_row: row as u32,
                ..l
            };
            // Rows summed within the piece count as summed either way.
            if !self.add_line(line, row) {
                self.summed_rows += l.rows as usize - 1;
            }
        }
        self.rows += other.rows;
        merge_problems(&mut self.bad, other.bad);
    }
}

/// The cells of one row, wherever they are kept.
trait Cells {
    fn count(&self) -> usize;
    fn cell(&self, i: usize) -> &str;
    /// The cell's bytes, trimmed, not checked as UTF-8: for names that are only looked up.
    fn raw(&self, i: usize) -> &[u8] {
        self.cell(i).trim().as_bytes()
    }
    fn is_blank(&self) -> bool {
        (0..self.count()).all(|i| self.cell(i).trim().is_empty())
    }
}

impl Cells for [String] {
    fn count(&self) -> usize {
        self.len()
    }
    fn cell(&self, i: usize) -> &str {
        &self[i]
    }
}

/// A record as the CSV parser leaves it: the fields' bytes end to end, and where each ends.
struct Record<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl Cells for Record<'_> {
    fn count(&self) -> usize {
        self.ends.len()
    }
    /// A cell that is not UTF-8 (a stray byte in a UTF-8 file) reads as U+FFFD.
    fn cell(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        std::str::from_utf8(&self.bytes[start..self.ends[i]]).unwrap_or("\u{fffd}")
    }
    fn raw(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.bytes[start..self.ends[i]].trim_ascii()
    }
    fn is_blank(&self) -> bool {
        self.bytes.iter().all(u8::is_ascii_whitespace)
    }
}

/// Reads a spend file of any kind (CSV streamed, spreadsheets whole).
pub fn read_spend(file_name: &str, bytes: &[u8]) -> Result<SpendData> {
    match TableKind::from_file_name(file_name)? {
        TableKind::Spreadsheet => {
            let table = read_spreadsheet(file_name, bytes)?;
            let cols = SpendColumns::find(file_name, table.headers.clone())?;
            let mut data = SpendData::new(file_name);
            for (i, row) in table.rows.iter().enumerate() {
                data.add_row(Table::row_number(i), row.as_slice(), &cols);
            }
            Ok(data)
        }
        _ => {
            let mut import = SpendImport::new(file_name);
            // Chunks the size a browser's file stream delivers.
            let mut chunks = bytes.chunks(1 << 16);
            for chunk in chunks.by_ref().take(1) {
                import.push(chunk)?;
            }
            // A file without quotes splits into records at any newline: the
            // rest is read on every core. (With quotes a newline may sit
            // inside a field, so such files are read in one pass.)
            #[cfg(not(target_arch = "wasm32"))]
            if import.columns.is_some() && !bytes.contains(&b'"') {
                return import.read_rest_in_parallel(bytes, (1 << 16).min(bytes.len()));
            }
            for chunk in chunks {
                import.push(chunk)?;
            }
            import.finish()
        }
    }
}

/// Cuts `bytes[from..]` into about `parts` pieces, each starting a line.
#[cfg(not(target_arch = "wasm32"))]
fn line_boundaries(bytes: &[u8], from: usize, parts: usize) -> Vec<usize> {
    let next_line = |at: usize| bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| at + i + 1);
    let mut cuts: Vec<usize> = (0..parts).map(|k| next_line(from + (bytes.len() - from) * k / parts)).collect();
    cuts.push(bytes.len());
    cuts.dedup();
    cuts
}

/// True once the text holds a whole line that is not blank and not a `sep=` hint.
fn header_complete(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n').rev().skip(1).any(|line| {
        let line = line.trim_ascii();
        !line.is_empty() && !line.starts_with(b"sep=")
    })
}

/// How many bytes are looked at to tell UTF-8 from Windows-1251.
const SNIFF_BYTES: usize = 1 << 16;

/// How the file's bytes become UTF-8 for the parser.
enum Encoding {
    /// Not known yet: the first bytes are held.
    Unknown,
    /// Passed through as they are; each cell is checked when read.
    Utf8,
    Decoded(encoding_rs::Decoder),
}

/// A CSV spend file read chunk by chunk: [`push`](SpendImport::push) each
/// chunk as it arrives, then [`finish`](SpendImport::finish).
pub struct SpendImport {
    data: SpendData,
    encoding: Encoding,
    /// Bytes held until the encoding is known.
    raw: Vec<u8>,
    /// Text held until the header line is complete (the separator is sniffed from it).
    head: Vec<u8>,
    csv: Option<csv_core::Reader>,
    delimiter: u8,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    columns: Option<SpendColumns>,
    /// Records read so far; the header is record 1, as in a spreadsheet.
    record: usize,
    /// Lines before the header (a `sep=` hint), so row numbers match the file.
    offset: usize,
    /// `"` characters parsed so far: odd at the end means a quote never closed.
    quotes: usize,
}

impl SpendImport {
    pub fn new(file_name: &str) -> SpendImport {
        SpendImport {
            data: SpendData::new(file_name),
            encoding: Encoding::Unknown,
            raw: Vec::new(),
            head: Vec::new(),
            csv: None,
            delimiter: b',',
            out: vec![0; 1 << 12],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            columns: None,
            record: 0,
            offset: 0,
            quotes: 0,
        }
    }

    /// Data rows read so far.
    pub fn rows(&self) -> usize {
        self.data.rows
    }

    /// Feeds the next chunk of the file. Fails only when the file cannot be a
    /// spend table at all (no header with the needed columns); bad rows are
    /// counted and reading goes on.
    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        if let Encoding::Unknown = self.encoding {
            self.raw.extend_from_slice(bytes);
            if self.raw.len() < SNIFF_BYTES {
                return Ok(());
            }
            return self.start_decoding(false);
        }
        self.decode(bytes, false)
    }

    /// Reads what is left and returns the data.
    pub fn finish(self) -> Result<SpendData> {
        Ok(self.finish_counted()?.0)
    }

    /// [`SpendImport::finish`], with the file's last row number.
    fn finish_counted(mut self) -> Result<(SpendData, usize)> {
        match self.encoding {
            Encoding::Unknown => self.start_decoding(true)?,
            _ => self.decode(&[], true)?,
        }
        if self.csv.is_none() {
            let head = self.start_csv();
            self.parse(&head, false)?;
        }
        self.parse(&[], true)?;
        if self.columns.is_none() {
            let file = self.data.source.clone();
            return Err(Error::Table { file, reason: "the file is empty: no header row".into() });
        }
        Ok((self.data, self.record + self.offset))
    }

    /// Reads the rest of a file without quotes (`bytes[pushed..]`) on every
    /// core: it is cut into pieces at line starts, each piece is read by an
    /// importer set up like this one, and the pieces are appended in order,
    /// so the result is the same as reading the file in one go.
    #[cfg(not(target_arch = "wasm32"))]
    fn read_rest_in_parallel(mut self, bytes: &[u8], pushed: usize) -> Result<SpendData> {
        use rayon::prelude::*;
        let cuts = line_boundaries(bytes, pushed, rayon::current_num_threads().max(1) * 2);
        // The line cut by the end of what was pushed finishes this importer's part.
        self.push(&bytes[pushed..cuts[0]])?;
        let pieces: Vec<Result<SpendImport>> = cuts
            .windows(2)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|w| {
                let mut piece = self.continuation();
                for chunk in bytes[w[0]..w[1]].chunks(1 << 16) {
                    piece.push(chunk)?;
                }
                piece.decode(&[], true)?;
                piece.parse(&[], true)?;
                Ok(piece)
            })
            .collect();
        let mut data = self.finish_counted()?;
        for piece in pieces {
            let piece = piece?;
            data.0.append(piece.data, data.1);
            data.1 += piece.record;
        }
        Ok(data.0)
    }

    /// An importer for a later piece of the same file: same encoding,
    /// separator and columns, no header of its own.
    #[cfg(not(target_arch = "wasm32"))]
    fn continuation(&self) -> SpendImport {
        let mut piece = SpendImport::new(&self.data.source);
        piece.encoding = match self.encoding {
            Encoding::Decoded(_) => Encoding::Decoded(encoding_rs::WINDOWS_1251.new_decoder_without_bom_handling()),
            _ => Encoding::Utf8,
        };
        piece.csv = Some(csv_core::ReaderBuilder::new().delimiter(self.delimiter).build());
        piece.columns = self.columns.clone();
        piece
    }

    /// UTF-8 (a BOM is dropped), else Windows-1251, as Excel writes on Russian Windows.
    fn start_decoding(&mut self, last: bool) -> Result<()> {
        let raw = std::mem::take(&mut self.raw);
        let utf8 = match std::str::from_utf8(&raw) {
            Ok(_) => true,
            // A character cut at the end of the sample is still UTF-8.
            Err(e) => e.error_len().is_none(),
        };
        self.encoding = if utf8 { Encoding::Utf8 } else { Encoding::Decoded(encoding_rs::WINDOWS_1251.new_decoder()) };
        self.decode(raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw), last)
    }

    fn decode(&mut self, bytes: &[u8], last: bool) -> Result<()> {
        match &mut self.encoding {
            Encoding::Decoded(decoder) => {
                let mut text = String::with_capacity(decoder.max_utf8_buffer_length(bytes.len()).unwrap_or(bytes.len() * 3));
                let _ = decoder.decode_to_string(bytes, &mut text, last);
                self.text(text.as_bytes())
            }
            _ => self.text(bytes),
        }
    }

    /// UTF-8 text, held until the header line is complete, then parsed.
    fn text(&mut self, bytes: &[u8]) -> Result<()> {
        if self.csv.is_some() {
            return self.parse(bytes, false);
        }
        self.head.extend_from_slice(bytes);
        if !header_complete(&self.head) {
            return Ok(());
        }
        let head = self.start_csv();
        self.parse(&head, false)
    }

    /// Chooses the separator from the header line; returns the held text from the header on.
    fn start_csv(&mut self) -> Vec<u8> {
        let mut head = std::mem::take(&mut self.head);
        let (delimiter, start) = csv_dialect(&String::from_utf8_lossy(&head));
        self.offset = usize::from(start > 0);
        self.delimiter = delimiter;
        self.csv = Some(csv_core::ReaderBuilder::new().delimiter(delimiter).build());
        head.drain(..start.min(head.len()));
        head
    }

    /// Parses `input`; with `eof` (and an empty input), the record the file ends in.
    fn parse(&mut self, mut input: &[u8], eof: bool) -> Result<()> {
        use csv_core::ReadRecordResult::*;
        loop {
            // An empty input tells the parser the file has ended.
            if input.is_empty() && !eof {
                return Ok(());
            }
            let reader = self.csv.as_mut().expect("parser started");
            let (result, n_in, n_out, n_ends) =
                reader.read_record(input, &mut self.out[self.out_len..], &mut self.ends[self.ends_len..]);
            self.quotes += input[..n_in].iter().filter(|&&b| b == b'"').count();
            input = &input[n_in..];
            self.out_len += n_out;
            self.ends_len += n_ends;
            match result {
                InputEmpty => {}
                OutputFull => self.out.resize(self.out.len() * 2, 0),
                OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                Record if eof => {
                    self.check_quotes_closed()?;
                    self.record_done()?
                }
                Record => self.record_done()?,
                End => return Ok(()),
            }
        }
    }

    /// The file's last record, taken at its end: a quote that never closed
    /// turns every line after it into one cell, so the rows there would be
    /// silently missing. An odd count of quotes and a last cell spanning
    /// lines is reported instead.
    fn check_quotes_closed(&self) -> Result<()> {
        let record = Record { bytes: &self.out[..self.out_len], ends: &self.ends[..self.ends_len] };
        let swallowed = (0..record.count()).map(|i| record.cell(i).trim_end().matches('\n').count()).max().unwrap_or(0);
        if self.quotes % 2 == 1 && swallowed > 0 {
            return Err(Error::Table {
                file: self.data.source.clone(),
                reason: format!(
                    "a quote (\") opened in row {} never closes, so the {swallowed} lines after it would be read as one cell; close or remove that quote",
                    self.record + 1 + self.offset
                ),
            });
        }
        Ok(())
    }

    fn record_done(&mut self) -> Result<()> {
        let record = Record { bytes: &self.out[..self.out_len], ends: &self.ends[..self.ends_len] };
        self.record += 1;
        let row = self.record + self.offset;
        match &self.columns {
            Some(cols) => self.data.add_row(row, &record, cols),
            None if record.is_blank() => {}
            None => {
                let headers = (0..record.count()).map(|i| record.cell(i).trim().to_string()).collect();
                self.columns = Some(SpendColumns::find(&self.data.source, headers)?);
            }
        }
        self.out_len = 0;
        self.ends_len = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Advertisement ID,Advertiser,Brand,Media Type,Year,Month,Estimated cost RUB\n";

    fn read(name: &str, text: &[u8]) -> SpendData {
        read_spend(name, text).unwrap()
    }

    #[test]
    fn a_quote_that_never_closes_is_reported_not_swallowed() {
        let csv = format!("{HEADER}1,\"Bank,Card,TV,2024,3,100\n2,Shop,Promo,Radio,2024,3,5\n3,Shop,Promo,Radio,2024,3,5\n");
        let e = read_spend("d.csv", csv.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("row 2 never closes") && e.contains("2 lines after it"), "{e}");
        // Closed quotes, and a lone inch mark inside a cell, are fine.
        let csv = format!("{HEADER}1,\"Bank, Inc\",Card,TV,2024,3,100\n2,Shop,TV 55\",Radio,2024,3,5\n");
        assert_eq!(read("d.csv", csv.as_bytes()).rows, 2);
    }

    #[test]
    fn totals_past_i64_do_not_wrap() {
        // 20,000 rows of 9,999,999,999,999 RUB: 2·10^19 kopecks, past i64.
        let row = "1,Bank,Card,TV,2024,3,9999999999999\n";
        let csv = format!("{HEADER}{}", row.repeat(20_000));
        let d = read("d.csv", csv.as_bytes());
        assert_eq!(d.bad.count, 0, "{:?}", d.bad.listed.first());
        let total: Kopecks = d.lines.iter().map(|l| l.cost).sum();
        assert_eq!(total, Kopecks(20_000 * 999_999_999_999_900));
    }

    #[test]
    fn rows_of_one_creative_and_month_are_summed() {
        let csv = format!("{HEADER}1,Bank,Card,TV,2024,3,100.50\n1,Bank,Card,TV,2024,3,200.25\n1,Bank,Card,TV,2024,4,1\n2,Shop,Promo,Radio,2024,3,5\n");
        let d = read("d.csv", csv.as_bytes());
        assert_eq!(d.lines.len(), 3);
        assert_eq!(d.rows, 4);
        assert_eq!(d.summed_rows, 1);
        assert_eq!(d.lines[0].cost, Kopecks(30075));
        assert_eq!(d.lines[0].rows, 2);
        assert_eq!(d.total(), Kopecks(30075 + 100 + 500));
        assert_eq!(d.bad.count, 0);
    }

    #[test]
    fn columns_by_name_in_any_order_case_and_separator() {
        let csv = "\u{feff}sep=;\nmonth;ESTIMATED COST RUB;extra;advertisement_id;year;brand;media type;advertiser\nмарта;1 234,50;x;000123;2024;B;ТВ;A\nMay;\"2 000\";y;000123;2024;B;ТВ;A\n";
        let d = read("d.csv", csv.as_bytes());
        assert_eq!(d.bad.listed, vec![]);
        assert_eq!(d.lines.len(), 2);
        assert_eq!(d.creatives.name(d.lines[0].creative), "000123");
        assert_eq!(d.lines[0].period, Period::new(2024, 3).unwrap());
        assert_eq!(d.lines[0].cost, Kopecks(123450));
        assert_eq!(d.lines[1].period, Period::new(2024, 5).unwrap());
        assert_eq!(d.lines[1].cost, Kopecks(200000));
        assert_eq!(d.media_types.name(d.lines[0].media_type), "ТВ");
    }

    #[test]
    fn windows_1251_and_semicolons_with_decimal_commas() {
        let text = "Advertisement ID;Рекламодатель;Бренд;Тип медиа;Год;Месяц;Затраты\n7;Банк;Карта;Радио;2025;январь;10,5\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let d = read("d.csv", &bytes);
        assert_eq!(d.advertisers.name(d.lines[0].advertiser), "Банк");
        assert_eq!(d.lines[0].cost, Kopecks(1050));
        assert_eq!(d.lines[0].period, Period::new(2025, 1).unwrap());
    }

    #[test]
    fn bad_rows_are_counted_with_reasons_and_row_numbers() {
        let csv = format!(
            "{HEADER}1,A,B,TV,2024,3,10\n,A,B,TV,2024,3,10\n2,A,B,TV,20x4,3,10\n3,A,B,TV,2024,13,10\n4,A,B,TV,2024,3,ten\n5,A,B,TV,2024,3,-1\n,,,,,,\n6,A,B,TV,2024,3\n"
        );
        let d = read("d.csv", csv.as_bytes());
        assert_eq!(d.rows, 7, "the blank row is not a data row");
        assert_eq!(d.lines.len(), 1);
        assert_eq!(d.bad.count, 6);
        let rows: Vec<usize> = d.bad.listed.iter().map(|p| p.row).collect();
        assert_eq!(rows, vec![3, 4, 5, 6, 7, 9]);
        assert_eq!(d.bad.by_reason["bad cost"], 3);
        assert_eq!(d.bad.by_reason["no creative ID"], 1);
        assert_eq!(d.bad.listed[2].reason.params["value"], "13", "{:?}", d.bad.listed[2]);
        assert_eq!(d.bad.listed[5].reason.code, "no-cost", "{:?}", d.bad.listed[5]);
    }

    #[test]
    fn missing_optional_columns_are_shown_as_not_given() {
        let d = read("d.csv", b"ID,Year,Month,Cost\n1,2024,1,5\n");
        assert_eq!(d.brands.name(d.lines[0].brand), NOT_GIVEN);
        let err = read_spend("d.csv", b"ID,Year,Cost\n1,2024,5\n").unwrap_err().to_string();
        assert!(err.contains("the month") && err.contains("\"Cost\""), "{err}");
        assert!(read_spend("d.csv", b"").unwrap_err().to_string().contains("no header"));
    }

    #[test]
    fn conflicting_names_are_reported() {
        let csv = format!("{HEADER}1,A,B,TV,2024,3,10\n1,A,B,Radio,2024,3,10\n");
        let d = read("d.csv", csv.as_bytes());
        assert_eq!(d.conflicts.count, 1);
        assert_eq!(d.total(), Kopecks(2000));
    }

    #[test]
    fn any_chunking_gives_the_same_data() {
        let mut csv = String::from(HEADER);
        for i in 0..500 {
            csv.push_str(&format!("{},\"Рекламодатель, {}\",Бренд,ТВ,2024,{},\"1 0{:02},5\"\n", i % 97, i % 7, i % 12 + 1, i % 100));
        }
        let whole = read("d.csv", csv.as_bytes());
        for size in [1, 2, 3, 7, 64, 1000] {
            let mut import = SpendImport::new("d.csv");
            for chunk in csv.as_bytes().chunks(size) {
                import.push(chunk).unwrap();
            }
            let d = import.finish().unwrap();
            assert_eq!(d.lines, whole.lines, "chunk size {size}");
            assert_eq!(d.total(), whole.total());
        }
        assert_eq!(whole.rows, 500);
        assert_eq!(whole.bad.count, 0);
    }

    #[test]
    fn reading_on_every_core_gives_what_one_pass_gives() {
        let mut csv = String::from_utf8(super::super::sample::generate(30_000, 3).csv).unwrap();
        assert!(!csv.contains('"') && csv.len() > 1 << 20, "big enough to be cut into pieces, no quotes");
        // A creative of the first rows again at the end, under another media type.
        let first = csv.lines().nth(1).unwrap().to_string();
        let fields: Vec<&str> = first.split(';').collect();
        csv.push_str(&format!("{};{};{};Радио;{};{};1\n", fields[0], fields[1], fields[2], fields[4], fields[5]));
        let parallel = read_spend("d.csv", csv.as_bytes()).unwrap();
        let mut one_pass = SpendImport::new("d.csv");
        for chunk in csv.as_bytes().chunks(1 << 16) {
            one_pass.push(chunk).unwrap();
        }
        let one_pass = one_pass.finish().unwrap();
        assert_eq!(parallel.lines, one_pass.lines);
        assert_eq!((parallel.rows, parallel.summed_rows), (one_pass.rows, one_pass.summed_rows));
        assert_eq!(parallel.bad.listed, one_pass.bad.listed);
        assert_eq!(parallel.bad.by_reason, one_pass.bad.by_reason);
        assert_eq!(parallel.conflicts.count, 1);
        assert_eq!(parallel.conflicts.listed, one_pass.conflicts.listed);
        assert_eq!(parallel.conflicts.listed[0].row, 30_002);
        assert_eq!(parallel.total(), one_pass.total());
    }

    #[test]
    fn spreadsheets_with_numbers_as_numbers() {
        let mut t = Table::new(HEADER.trim().split(',').map(String::from).collect());
        t.push_row(["000123", "Банк", "Карта", "ТВ", "2024", "3", "1234.5"].map(String::from).to_vec());
        t.push_row(["000123", "Банк", "Карта", "ТВ", "2024", "3", "0.25"].map(String::from).to_vec());
        t.push_row(["7", "Банк", "Карта", "ТВ", "2024", "13", "1"].map(String::from).to_vec());
        let xlsx = crate::table::write_xlsx(&t, &["Year", "Month", "Estimated cost RUB"]).unwrap();
        let d = read("d.xlsx", &xlsx);
        assert_eq!(d.lines.len(), 1);
        assert_eq!(d.creatives.name(d.lines[0].creative), "000123");
        assert_eq!(d.lines[0].cost, Kopecks(123475));
        assert_eq!(d.bad.listed.iter().map(RowProblem::to_string).collect::<Vec<_>>(), ["row 4: ID 7: month \"13\" is not a month number or name"]);
    }

    #[test]
    fn last_row_without_newline_is_read() {
        let d = read("d.csv", format!("{HEADER}1,A,B,TV,2024,3,10").as_bytes());
        assert_eq!(d.lines.len(), 1);
    }
}
