//! The spend dashboard in the browser: its own worker holds one
//! [`SpendDashboard`], fed the spend file chunk by chunk, so a million rows
//! never freeze the page and no model has to be loaded first.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::{error, to_js};
use crate::dashboard::overview::AGGREGATE_NUMERIC_COLUMNS;
use crate::dashboard::sample::{self, SAMPLE_FILE_NAME, SAMPLE_ROWS, SAMPLE_SEED};
use crate::dashboard::{charts, read_spend, Dashboard, Filter, LabelSource, Lang, SegmentLabels, SpendImport};
use crate::error::Error;
use crate::table::{write_csv, write_xlsx, CsvFormat};

fn invalid(e: impl std::fmt::Display) -> JsValue {
    error(Error::Invalid(e.to_string()))
}

fn lang(code: &str) -> Lang {
    Lang::from_code(code).unwrap_or_default()
}

/// "known" (the users' labels) or anything else (predictions).
fn source(code: &str) -> LabelSource {
    if code == "known" {
        LabelSource::Known
    } else {
        LabelSource::Predicted
    }
}

#[derive(Deserialize)]
struct Prediction {
    id: String,
    segment: u32,
}

#[wasm_bindgen]
pub struct SpendDashboard {
    dashboard: Dashboard,
    import: Option<SpendImport>,
    /// The users' labels and predictions; the sample brings its own.
    labels: SegmentLabels,
    sample: bool,
}

#[wasm_bindgen]
impl SpendDashboard {
    #[wasm_bindgen(constructor)]
    pub fn new() -> SpendDashboard {
        SpendDashboard { dashboard: Dashboard::default(), import: None, labels: SegmentLabels::default(), sample: false }
    }

    /// Starts reading a CSV spend file; feed it with [`SpendDashboard::push`].
    #[wasm_bindgen(js_name = beginImport)]
    pub fn begin_import(&mut self, file_name: &str) {
        self.import = Some(SpendImport::new(file_name));
    }

    /// The next chunk of the file; returns the data rows read so far.
    pub fn push(&mut self, chunk: &[u8]) -> Result<usize, JsValue> {
        let import = self.import.as_mut().ok_or_else(|| invalid("no import started"))?;
        import.push(chunk).map_err(error)?;
        Ok(import.rows())
    }

    /// Ends the import and shows the file: returns the import report.
    #[wasm_bindgen(js_name = finishImport)]
    pub fn finish_import(&mut self) -> Result<JsValue, JsValue> {
        let import = self.import.take().ok_or_else(|| invalid("no import started"))?;
        self.show(import.finish().map_err(error)?, None)
    }

    /// Reads a whole spend file (spreadsheets; CSV works too).
    #[wasm_bindgen(js_name = importFile)]
    pub fn import_file(&mut self, file_name: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
        self.show(read_spend(file_name, bytes).map_err(error)?, None)
    }

    /// Shows the generated sample, with its own labels.
    #[wasm_bindgen(js_name = loadSample)]
    pub fn load_sample(&mut self) -> Result<JsValue, JsValue> {
        let s = sample::generate(SAMPLE_ROWS, SAMPLE_SEED);
        let data = read_spend(SAMPLE_FILE_NAME, &s.csv).map_err(error)?;
        self.show(data, Some(s.labels()))
    }

    /// Shows new data: with the sample's labels, or else the users'.
    fn show(&mut self, data: crate::dashboard::SpendData, sample_labels: Option<SegmentLabels>) -> Result<JsValue, JsValue> {
        let names = self.dashboard.segment_names().clone();
        self.dashboard = Dashboard::new(data);
        if !names.is_empty() {
            self.dashboard.set_segments(names);
        }
        self.sample = sample_labels.is_some();
        self.dashboard.set_labels(sample_labels.unwrap_or_else(|| self.labels.clone()));
        self.report()
    }

    /// The import report of the data shown: rows, bad rows with reasons, labels.
    pub fn report(&self) -> Result<JsValue, JsValue> {
        #[derive(Serialize)]
        struct Report<'a> {
            sample: bool,
            #[serde(flatten)]
            import: crate::dashboard::overview::ImportReport<'a>,
        }
        to_js(&Report { sample: self.sample, import: self.dashboard.report() })
    }

    /// Segment names from the dictionary the page uses: `[{id, name}]`.
    #[wasm_bindgen(js_name = setSegments)]
    pub fn set_segments(&mut self, segments: JsValue) -> Result<(), JsValue> {
        #[derive(Deserialize)]
        struct Named {
            id: u32,
            name: String,
        }
        let segments: Vec<Named> = serde_wasm_bindgen::from_value(segments).map_err(invalid)?;
        self.dashboard.set_segments(segments.into_iter().map(|s| (s.id, s.name)));
        Ok(())
    }

    /// Adds a labels file: `train_segments.csv` ("known") or a results table
    /// ("predicted"). Returns how many labels were read.
    #[wasm_bindgen(js_name = addLabelsFile)]
    pub fn add_labels_file(&mut self, file_name: &str, bytes: &[u8], source: &str) -> Result<usize, JsValue> {
        self.edit_labels(|labels| labels.add_file(file_name, bytes, self::source(source)).map_err(error))
    }

    /// This session's predictions, `[{id, segment}]`, replacing earlier ones.
    #[wasm_bindgen(js_name = setPredictions)]
    pub fn set_predictions(&mut self, predictions: JsValue) -> Result<usize, JsValue> {
        let predictions: Vec<Prediction> = serde_wasm_bindgen::from_value(predictions).map_err(invalid)?;
        self.edit_labels(|labels| {
            labels.clear(LabelSource::Predicted);
            labels.add_predicted(predictions.iter().map(|p| (p.id.as_str(), p.segment)));
            Ok(predictions.len())
        })
    }

    /// Forgets the labels of one source ("known" or "predicted").
    #[wasm_bindgen(js_name = clearLabels)]
    pub fn clear_labels(&mut self, source: &str) {
        let _ = self.edit_labels(|labels| {
            labels.clear(self::source(source));
            Ok(0)
        });
    }

    /// Changes the users' labels; they are shown unless the sample is.
    fn edit_labels(&mut self, edit: impl FnOnce(&mut SegmentLabels) -> Result<usize, JsValue>) -> Result<usize, JsValue> {
        let n = edit(&mut self.labels)?;
        if !self.sample {
            self.dashboard.set_labels(self.labels.clone());
        }
        Ok(n)
    }

    /// Everything the dashboard shows for a filter: `{options, overview,
    /// charts}`; `hidden` are the legend entries switched off. The filter
    /// options (a pass over all the data) come only `with_options`: they
    /// change with the data and labels, not with the filter.
    pub fn view(&self, filter: JsValue, lang_code: &str, hidden: Vec<String>, with_options: bool) -> Result<JsValue, JsValue> {
        let filter: Filter = serde_wasm_bindgen::from_value(filter).map_err(invalid)?;
        let lang = lang(lang_code);
        let overview = self.dashboard.overview(&filter, lang);
        #[derive(Serialize)]
        struct View<'a> {
            options: Option<crate::dashboard::FilterOptions>,
            overview: &'a crate::dashboard::Overview,
            charts: charts::Charts,
        }
        to_js(&View { options: with_options.then(|| self.dashboard.options(lang)), charts: charts::draw(&overview, lang, &hidden), overview: &overview })
    }

    /// The aggregated table of a filter as a file: "csv" or "xlsx".
    #[wasm_bindgen(js_name = exportTable)]
    pub fn export_table(&self, filter: JsValue, lang_code: &str, kind: &str) -> Result<Vec<u8>, JsValue> {
        let filter: Filter = serde_wasm_bindgen::from_value(filter).map_err(invalid)?;
        let table = self.dashboard.table(&filter, lang(lang_code));
        match kind {
            "xlsx" => write_xlsx(&table, &AGGREGATE_NUMERIC_COLUMNS),
            _ => write_csv(&table, CsvFormat::default()),
        }
        .map_err(error)
    }
}

impl Default for SpendDashboard {
    fn default() -> Self {
        Self::new()
    }
}

/// A generated spend file of `rows` rows, for the page's benchmark.
#[wasm_bindgen(js_name = sampleSpendCsv)]
pub fn sample_spend_csv(rows: usize) -> Vec<u8> {
    sample::generate(rows, SAMPLE_SEED).csv
}
