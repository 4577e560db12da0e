//! Tables in the browser: the `predict-table` flow (which dropped file each
//! row of the users' table names, then the filled-in table) and the export
//! of the results table, written by the same code as the CLI's files.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{error, to_js};
use crate::creative::MediaIndex;
use crate::lang::Lang;
use crate::pipeline::{self, media_for_rows, table_files, Export, Report, RowAnswer};
use crate::message::Message;
use crate::table::{csv_delimiter, read_labels, RowProblem, Table, ID_COLUMN_NAMES};

/// The dropped files a place is named by in messages.
const DROPPED: &str = "the dropped files";

fn read_table(file_name: &str, bytes: &[u8]) -> Result<Table, JsValue> {
    Table::from_bytes(file_name, bytes).map_err(error)
}

/// For each row of the users' table, the index (in `media_names`) of the
/// creative it names, or the problem: `[{row, id, media, problem}]`.
#[wasm_bindgen(js_name = planTable)]
pub fn plan_table(file_name: &str, bytes: &[u8], media_names: Vec<String>) -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    struct Row {
        /// The row's number as a spreadsheet shows it.
        row: usize,
        id: String,
        media: Option<usize>,
        problem: Option<Message>,
    }
    let table = read_table(file_name, bytes)?;
    let id_col = table.require_column(file_name, "the creative ID", ID_COLUMN_NAMES).map_err(error)?;
    let index = MediaIndex::new(media_names.into_iter().enumerate().map(|(i, n)| (n, i)));
    let rows: Vec<Row> = media_for_rows(&table, id_col, &index, DROPPED)
        .into_iter()
        .enumerate()
        .map(|(i, found)| Row {
            row: Table::row_number(i),
            id: table.rows[i].get(id_col).map(|s| s.trim().to_string()).unwrap_or_default(),
            media: found.as_ref().ok().map(|&&m| m),
            problem: found.err(),
        })
        .collect();
    to_js(&rows)
}

/// `{xlsx, csv}` as `Uint8Array`s; the CSV with `delimiter` (None: the
/// language's).
fn files(export: &Export, delimiter: Option<u8>) -> Result<JsValue, JsValue> {
    let (xlsx, csv) = table_files(export, delimiter).map_err(error)?;
    let out = js_sys::Object::new();
    js_sys::Reflect::set(&out, &"xlsx".into(), &js_sys::Uint8Array::from(&xlsx[..]))?;
    js_sys::Reflect::set(&out, &"csv".into(), &js_sys::Uint8Array::from(&csv[..]))?;
    Ok(out.into())
}

fn reports(reports: JsValue) -> Result<Vec<Report>, JsValue> {
    serde_wasm_bindgen::from_value(reports).map_err(|e| super::error(crate::Error::Invalid(e.to_string())))
}

/// The UI language the page passes; English when none is given.
fn lang(code: Option<String>) -> Lang {
    code.as_deref().and_then(Lang::from_code).unwrap_or(Lang::En)
}

/// The users' table with `Segment_num`, the segment, confidence, status
/// and status code filled in from one report per row (in row order), worded
/// in `lang` ("ru"/"en"); the CSV keeps the table's own separator:
/// `{xlsx, csv}`.
#[wasm_bindgen(js_name = answerTable)]
pub fn answer_table(file_name: &str, bytes: &[u8], row_reports: JsValue, lang_code: Option<String>) -> Result<JsValue, JsValue> {
    let table = read_table(file_name, bytes)?;
    let answers: Vec<RowAnswer> = reports(row_reports)?.iter().map(RowAnswer::from_report).collect();
    if answers.len() != table.rows.len() {
        let msg = format!("{} answers for {} rows", answers.len(), table.rows.len());
        return Err(error(crate::Error::Invalid(msg)));
    }
    files(&pipeline::answer_table(&table, &answers, lang(lang_code)), csv_delimiter(file_name, bytes))
}

/// The results table as files, worded in `lang` ("ru"/"en"): `{xlsx, csv}`.
#[wasm_bindgen(js_name = resultsTable)]
pub fn results_table(all_reports: JsValue, lang_code: Option<String>) -> Result<JsValue, JsValue> {
    files(&pipeline::results_table(&reports(all_reports)?, lang(lang_code)), None)
}

/// Which dropped file each labelled row names: `{rows: [{row, id, segment,
/// media}], problems: [{row, id, reason}, …]}`, for training on creatives
/// (`row`: the labels table's own row number, for messages).
pub(super) fn plan_training(file_name: &str, bytes: &[u8], media_names: Vec<String>, segments: &[u32]) -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    struct Row {
        row: usize,
        id: String,
        segment: u32,
        media: usize,
    }
    #[derive(Serialize)]
    struct Plan {
        rows: Vec<Row>,
        problems: Vec<RowProblem>,
    }
    let labels = read_labels(file_name, &read_table(file_name, bytes)?, Some(segments)).map_err(error)?;
    let index = MediaIndex::new(media_names.into_iter().enumerate().map(|(i, n)| (n, i)));
    let mut plan = Plan { rows: vec![], problems: labels.problems };
    for label in labels.labels {
        match index.find(&label.id, DROPPED) {
            Ok(&media) => plan.rows.push(Row { row: label.row, id: label.id, segment: label.segment, media }),
            Err(reason) => plan.problems.push(label.problem(reason)),
        }
    }
    to_js(&plan)
}
