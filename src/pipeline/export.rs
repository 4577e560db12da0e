//! The tables users take to Excel: the results table (one row per
//! creative) and the answer table (their own table with each row's segment),
//! as .xlsx and .csv, worded in their language. Numbers are numbers in the
//! .xlsx (confidence as a per cent), and the .csv uses the separator and
//! decimal mark a spreadsheet in that language reads (";" and "," in
//! Russian). The data columns other tools read back — `Advertisement ID` and
//! `Segment_num` — keep their names in every language, and a status code
//! column says in machine terms what the status says in words. A note every
//! row would repeat (the vision branch is off) is said once, on a sheet of
//! its own, instead of on every row.

use super::{BranchTop, Modality, Report, Verdict, NO_SPEECH_NOTE};
use crate::lang::Lang;
use crate::table::{normalize_header, write_csv, write_xlsx_with, CsvFormat, SheetLayout, Table, ID_COLUMN_NAMES};
use crate::Result;

/// Column of the segment's number: the users' own name for it.
pub const SEGMENT_NUM_COLUMN: &str = "Segment_num";

/// The columns this product adds or writes, by what they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Id,
    File,
    SegmentNum,
    Segment,
    Confidence,
    Top3,
    Modality,
    Transcript,
    ScreenText,
    Seconds,
    Status,
    StatusCode,
    SpeechSegment,
    ScreenSegment,
    VideoSegment,
    VideoNote,
}

impl Column {
    fn header(self, lang: Lang) -> &'static str {
        use Column::*;
        match (self, lang) {
            (Id, _) => ID_COLUMN_NAMES[0],
            (SegmentNum, _) => SEGMENT_NUM_COLUMN,
            (File, Lang::En) => "File",
            (File, Lang::Ru) => "Файл",
            (Segment, Lang::En) => "Segment",
            (Segment, Lang::Ru) => "Сегмент",
            (Confidence, Lang::En) => "Confidence",
            (Confidence, Lang::Ru) => "Уверенность",
            (Top3, Lang::En) => "Top 3",
            (Top3, Lang::Ru) => "Топ-3",
            (Modality, Lang::En) => "Modality",
            (Modality, Lang::Ru) => "Источник",
            (Transcript, Lang::En) => "Transcript",
            (Transcript, Lang::Ru) => "Расшифровка",
            (ScreenText, Lang::En) => "Screen text",
            (ScreenText, Lang::Ru) => "Текст на экране",
            (ScreenSegment, Lang::En) => "Screen text segment",
            (ScreenSegment, Lang::Ru) => "Сегмент по тексту на экране",
            (Seconds, Lang::En) => "Seconds",
            (Seconds, Lang::Ru) => "Секунды",
            (Status, Lang::En) => "Status",
            (Status, Lang::Ru) => "Статус",
            (StatusCode, Lang::En) => "Status code",
            (StatusCode, Lang::Ru) => "Код статуса",
            (SpeechSegment, Lang::En) => "Speech segment",
            (SpeechSegment, Lang::Ru) => "Сегмент по речи",
            (VideoSegment, Lang::En) => "Video segment",
            (VideoSegment, Lang::Ru) => "Сегмент по видео",
            (VideoNote, Lang::En) => "Video note",
            (VideoNote, Lang::Ru) => "Примечание о видео",
        }
    }
}

/// The results table's columns, in order. The branch columns come last so
/// the older ones keep their places.
const RESULT_COLUMNS: [Column; 16] = [
    Column::Id,
    Column::File,
    Column::SegmentNum,
    Column::Segment,
    Column::Confidence,
    Column::Top3,
    Column::Modality,
    Column::Transcript,
    Column::ScreenText,
    Column::Seconds,
    Column::Status,
    Column::StatusCode,
    Column::SpeechSegment,
    Column::ScreenSegment,
    Column::VideoSegment,
    Column::VideoNote,
];

/// What one row of the answer table says.
#[derive(Debug, Clone, PartialEq)]
pub enum RowAnswer {
    /// A segment; `incomplete` when the file was cut short (its beginning was heard).
    Decided { segment_id: u32, segment_name: String, confidence: f32, incomplete: bool },
    /// Nothing was said, and the video did not decide.
    NoSpeech,
    /// The creative could not be read or found, and why.
    Failed(String),
}

impl From<&std::result::Result<Verdict, String>> for RowAnswer {
    fn from(outcome: &std::result::Result<Verdict, String>) -> Self {
        match outcome {
            Ok(v @ Verdict { decision: Some(d), .. }) => RowAnswer::Decided {
                segment_id: d.segment_id,
                segment_name: d.segment_name.clone(),
                confidence: d.confidence,
                incomplete: v.incomplete,
            },
            Ok(_) => RowAnswer::NoSpeech,
            Err(problem) => RowAnswer::Failed(problem.clone()),
        }
    }
}

impl RowAnswer {
    /// Reads back a [`Report`].
    pub fn from_report(report: &Report) -> RowAnswer {
        match (report.segment_id, &report.error) {
            (Some(segment_id), _) => RowAnswer::Decided {
                segment_id,
                segment_name: report.segment_name.clone().unwrap_or_default(),
                confidence: report.confidence.unwrap_or_default(),
                incomplete: report.incomplete,
            },
            (None, Some(e)) => RowAnswer::Failed(e.clone()),
            (None, None) => RowAnswer::NoSpeech,
        }
    }

    /// The status code: `ok`, `incomplete`, `no-speech` or `failed`.
    pub fn code(&self) -> &'static str {
        match self {
            RowAnswer::Decided { incomplete: false, .. } => "ok",
            RowAnswer::Decided { incomplete: true, .. } => "incomplete",
            RowAnswer::NoSpeech => "no-speech",
            RowAnswer::Failed(_) => "failed",
        }
    }

    /// The status in words. A failure's reason is the core's (English).
    pub fn status(&self, lang: Lang) -> String {
        match (self, lang) {
            (RowAnswer::Decided { incomplete: false, .. }, Lang::En) => "ok".into(),
            (RowAnswer::Decided { incomplete: false, .. }, Lang::Ru) => "готово".into(),
            (RowAnswer::Decided { incomplete: true, .. }, Lang::En) => "ok, but the file was cut short: its beginning was heard".into(),
            (RowAnswer::Decided { incomplete: true, .. }, Lang::Ru) => "готово, но файл обрезан: прослушано его начало".into(),
            (RowAnswer::NoSpeech, Lang::En) => NO_SPEECH_NOTE.into(),
            (RowAnswer::NoSpeech, Lang::Ru) => "в ролике нет речи: по звуку сегмент не определить".into(),
            (RowAnswer::Failed(why), _) => why.clone(),
        }
    }

    fn segment(&self) -> Option<(u32, &str, f32)> {
        match self {
            RowAnswer::Decided { segment_id, segment_name, confidence, .. } => Some((*segment_id, segment_name, *confidence)),
            _ => None,
        }
    }
}

/// A table ready to be written, with how to write it.
#[derive(Debug, Clone)]
pub struct Export {
    pub table: Table,
    pub lang: Lang,
    /// Columns written as numbers in the .xlsx.
    numeric: Vec<&'static str>,
    /// Of those, the ones with a fractional part (their decimal mark is the
    /// CSV's), and the ones shown as per cents.
    fractional: Vec<&'static str>,
    percent: Vec<&'static str>,
    /// Said once for the whole table.
    pub notes: Vec<String>,
}

/// `0.877` as the language writes it: `0,877` in Russian.
fn decimal(v: f64, digits: usize, lang: Lang) -> String {
    format!("{v:.digits$}").replace('.', &lang.decimal_mark().to_string())
}

fn branch(t: &BranchTop, lang: Lang) -> String {
    let pct = decimal(f64::from(t.confidence) * 100.0, 0, lang);
    let space = if lang == Lang::Ru { "\u{a0}" } else { "" };
    format!("{} {} ({pct}{space}%)", t.segment_id, t.segment_name)
}

fn modality(m: Modality, lang: Lang) -> &'static str {
    match (m, lang) {
        (_, Lang::En) => m.name(),
        (Modality::Speech, Lang::Ru) => "речь",
        (Modality::NoSpeech, Lang::Ru) => "нет речи",
        (Modality::Vision, Lang::Ru) => "видео",
        (Modality::Screen, Lang::Ru) => "текст на экране",
        (Modality::Fused, Lang::Ru) => "речь и видео",
    }
}

/// One row per [`Report`]: what the page's results table shows.
pub fn results_table(reports: &[Report], lang: Lang) -> Export {
    let mut table = Table::new(RESULT_COLUMNS.iter().map(|c| c.header(lang).to_string()).collect());
    // A vision note every read creative shares (the branch is off) is said once.
    let mut read = reports.iter().filter(|r| r.error.is_none());
    let shared_note = match read.next().and_then(|r| r.vision_note.clone()) {
        Some(first) if read.all(|r| r.vision_note.as_ref() == Some(&first)) => Some(first),
        _ => None,
    };
    for r in reports {
        let answer = RowAnswer::from_report(r);
        let segment = answer.segment();
        let note = r.vision_note.clone().filter(|n| Some(n) != shared_note.as_ref());
        table.push_row(vec![
            r.id.clone(),
            r.file.clone(),
            segment.map(|s| s.0.to_string()).unwrap_or_default(),
            segment.map(|s| s.1.to_string()).unwrap_or_default(),
            segment.map(|s| format!("{:.3}", s.2)).unwrap_or_default(),
            r.top.iter().map(|t| branch(t, lang)).collect::<Vec<_>>().join("; "),
            r.modality.filter(|_| r.error.is_none()).map(|m| modality(m, lang).to_string()).unwrap_or_default(),
            r.transcript.clone().unwrap_or_default(),
            r.screen_text.clone().unwrap_or_default(),
            r.seconds().map(|s| format!("{s:.1}")).unwrap_or_default(),
            answer.status(lang),
            answer.code().to_string(),
            r.speech_segment.as_ref().map(|t| branch(t, lang)).unwrap_or_default(),
            r.screen_segment.as_ref().map(|t| branch(t, lang)).unwrap_or_default(),
            r.vision_segment.as_ref().map(|t| branch(t, lang)).unwrap_or_default(),
            note.unwrap_or_default(),
        ]);
    }
    let header = |c: Column| c.header(lang);
    Export {
        table,
        lang,
        numeric: vec![header(Column::Id), header(Column::SegmentNum), header(Column::Confidence), header(Column::Seconds)],
        fractional: vec![header(Column::Confidence), header(Column::Seconds)],
        percent: vec![header(Column::Confidence)],
        notes: shared_note.into_iter().collect(),
    }
}

/// The users' batch answer: their table as it came, with the segment number
/// (in an existing `Segment_num` column if there is one), segment name,
/// confidence, status and status code for every row. `answers[i]` belongs to
/// `input.rows[i]`.
pub fn answer_table(input: &Table, answers: &[RowAnswer], lang: Lang) -> Export {
    let mut headers = input.headers.clone();
    let mut col = |c: Column| {
        let name = c.header(lang);
        Table::new(headers.clone()).find_column(&[name]).unwrap_or_else(|| {
            headers.push(name.to_string());
            headers.len() - 1
        })
    };
    let (num, name, conf, status, code) =
        (col(Column::SegmentNum), col(Column::Segment), col(Column::Confidence), col(Column::Status), col(Column::StatusCode));
    let mut table = Table::new(headers);
    for (row, answer) in input.rows.iter().zip(answers) {
        let mut r = row.clone();
        r.resize(table.headers.len(), String::new());
        r[num].clear();
        if let Some((id, segment, confidence)) = answer.segment() {
            r[num] = id.to_string();
            r[name] = segment.to_string();
            r[conf] = format!("{confidence:.3}");
        }
        r[status] = answer.status(lang);
        r[code] = answer.code().to_string();
        table.push_row(r);
    }
    let header = |c: Column| c.header(lang);
    Export {
        table,
        lang,
        numeric: vec![header(Column::SegmentNum), header(Column::Confidence)],
        fractional: vec![header(Column::Confidence)],
        percent: vec![header(Column::Confidence)],
        notes: vec![],
    }
}

impl Export {
    /// The .xlsx: numbers as numbers, confidence as a per cent, the notes on
    /// a sheet of their own.
    pub fn xlsx(&self) -> Result<Vec<u8>> {
        let notes_sheet = match self.lang {
            Lang::Ru => "Примечания",
            Lang::En => "Notes",
        };
        let layout = SheetLayout { numeric: &self.numeric, percent: &self.percent, notes: &self.notes, notes_sheet };
        write_xlsx_with(&self.table, &layout)
    }

    /// The .csv with `delimiter` (the language's, or the users' own table's);
    /// numbers take the decimal mark a spreadsheet with that separator
    /// reads: "," beside ";", else ".". The notes have no place in a CSV's
    /// rows; the .xlsx and the page carry them.
    pub fn csv(&self, delimiter: u8) -> Result<Vec<u8>> {
        let fractional: Vec<bool> = self.table.headers.iter().map(|h| self.fractional.iter().any(|f| same_column(f, h))).collect();
        let mut table = self.table.clone();
        if delimiter == b';' {
            for row in &mut table.rows {
                for (cell, _) in row.iter_mut().zip(&fractional).filter(|(_, &f)| f) {
                    *cell = cell.replace('.', ",");
                }
            }
        }
        write_csv(&table, CsvFormat { delimiter, ..CsvFormat::default() })
    }
}

fn same_column(a: &str, b: &str) -> bool {
    normalize_header(a) == normalize_header(b)
}

/// An export as `(xlsx, csv)` bytes, the CSV with `delimiter` (None: the
/// language's own).
pub fn table_files(export: &Export, delimiter: Option<u8>) -> Result<(Vec<u8>, Vec<u8>)> {
    Ok((export.xlsx()?, export.csv(delimiter.unwrap_or(export.lang.csv_delimiter()))?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Decision;
    use crate::creative::{Creative, StageTimings};
    use crate::message::Message;
    use crate::pipeline::notes;
    use crate::vision::VISION_OFF_NOTE;

    fn verdict(decision: Option<Decision>, vision_note: Message) -> Verdict {
        Verdict {
            id: "7".into(),
            file: "7.wav".into(),
            modality: if decision.is_some() { Modality::Speech } else { Modality::NoSpeech },
            speech: decision.is_some(),
            evidence: vec![],
            note: if decision.is_none() { vec![notes::no_speech(), vision_note.clone()] } else { vec![] },
            decision,
            transcript: String::new(),
            no_speech_prob: 0.0,
            duration_s: 1.0,
            incomplete: false,
            cached: false,
            timings: StageTimings::default(),
            embed_ms: 1000.0,
            speech_top: None,
            vision_top: None,
            screen: None,
            screen_top: None,
            screen_note: None,
            vision_note: Some(vision_note),
            text_weight: None,
        }
    }

    fn music() -> Decision {
        Decision { segment_id: 15, segment_name: "Музыка".into(), confidence: 0.8765, top: vec![(15, "Музыка".into(), 0.8765)] }
    }

    fn outcomes() -> [std::result::Result<Verdict, String>; 3] {
        [Ok(verdict(Some(music()), notes::vision_off())), Ok(verdict(None, notes::vision_off())), Err("no media file".into())]
    }

    /// The page hands the same outcomes back as report records.
    fn reports() -> Vec<Report> {
        outcomes()
            .iter()
            .map(|o| match o {
                Ok(v) => v.report("zero-shot"),
                Err(e) => Report::failure(&Creative::from_file_name("3.mp4"), &Message::new("not-media", e.as_str())),
            })
            .collect()
    }

    #[test]
    fn the_answer_table_keeps_every_row_and_fills_an_existing_segment_column() {
        let mut input = Table::new(vec!["Advertisement ID".into(), "segment_num".into(), "Brand".into()]);
        for id in ["1", "2", "3"] {
            input.push_row(vec![id.into(), "old".into(), "b".into()]);
        }
        let answers: Vec<RowAnswer> = outcomes().iter().map(RowAnswer::from).collect();
        assert_eq!(reports().iter().map(RowAnswer::from_report).collect::<Vec<_>>(), answers);
        let out = answer_table(&input, &answers, Lang::En).table;
        assert_eq!(out.headers, vec!["Advertisement ID", "segment_num", "Brand", "Segment", "Confidence", "Status", "Status code"]);
        assert_eq!(out.rows[0], vec!["1", "15", "b", "Музыка", "0.877", "ok", "ok"]);
        assert_eq!(out.rows[1][1], "", "no stale segment is left behind");
        assert_eq!(out.rows[1][5..], [NO_SPEECH_NOTE, "no-speech"], "the status says no speech, not the vision note");
        assert_eq!(out.rows[2][5..], ["no media file", "failed"]);
        let ru = answer_table(&input, &answers, Lang::Ru).table;
        assert_eq!(ru.headers[3..], ["Сегмент", "Уверенность", "Статус", "Код статуса"]);
        assert_eq!(ru.rows[0][5..], ["готово", "ok"]);
    }

    #[test]
    fn results_in_english_say_the_shared_vision_note_once() {
        let results = results_table(&reports(), Lang::En);
        let t = &results.table;
        assert_eq!(t.rows[0][2..5], ["15", "Музыка", "0.877"]);
        assert_eq!(t.rows[0][5], "15 Музыка (88%)");
        assert_eq!(t.rows[2][10..12], ["no media file", "failed"]);
        assert_eq!(t.headers[7..9], ["Transcript", "Screen text"]);
        assert_eq!(t.headers[12..], ["Speech segment", "Screen text segment", "Video segment", "Video note"]);
        assert!(t.rows.iter().all(|r| r[15].is_empty()), "the note every row shares is not repeated");
        assert_eq!(results.notes, vec![VISION_OFF_NOTE.to_string()]);
        // Where the notes differ, each row keeps its own.
        let mut mixed = reports();
        mixed[1].vision_note = Some("no video frames: the file has no video track".into());
        let t = results_table(&mixed, Lang::En);
        assert_eq!((t.table.rows[0][15].as_str(), t.table.rows[1][15].as_str()), (VISION_OFF_NOTE, "no video frames: the file has no video track"));
        assert!(t.notes.is_empty());
    }

    #[test]
    fn russian_exports_read_as_numbers_in_excel() {
        let results = results_table(&reports(), Lang::Ru);
        assert_eq!(results.table.headers[..5], ["Advertisement ID", "Файл", "Segment_num", "Сегмент", "Уверенность"]);
        assert_eq!(results.table.rows[0][5], "15 Музыка (88\u{a0}%)");
        assert_eq!(results.table.rows[1][10..12], ["в ролике нет речи: по звуку сегмент не определить", "no-speech"]);
        // CSV: ";" and the decimal comma, in the fractional columns only.
        let csv = String::from_utf8(results.csv(b';').unwrap()).unwrap();
        let first = csv.lines().nth(1).unwrap();
        assert!(first.starts_with("7;7.wav;15;Музыка;0,877;"), "{first}");
        assert!(first.contains(";1,0;готово;ok;"), "seconds with a comma: {first}");
        let english = String::from_utf8(results_table(&reports(), Lang::En).csv(b',').unwrap()).unwrap();
        assert!(english.lines().nth(1).unwrap().starts_with("7,7.wav,15,Музыка,0.877,"));
        // XLSX: numbers as numbers (confidence as a per cent), the shared note on its own sheet.
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(results.xlsx().unwrap())).unwrap();
        assert_eq!(book.sheet_names(), vec!["Sheet1".to_string(), "Примечания".to_string()]);
        let sheet = book.worksheet_range("Sheet1").unwrap();
        let row: Vec<&Data> = sheet.rows().nth(1).unwrap().iter().collect();
        assert_eq!(row[0], &Data::Float(7.0), "a numeric ID is a number");
        assert_eq!(row[2], &Data::Float(15.0));
        assert_eq!(row[4], &Data::Float(0.877));
        assert_eq!(row[9], &Data::Float(1.0), "seconds");
        assert_eq!(row[10], &Data::String("готово".into()));
        let notes = book.worksheet_range("Примечания").unwrap();
        assert_eq!(notes.get((0, 0)), Some(&Data::String(VISION_OFF_NOTE.into())));
    }
}
