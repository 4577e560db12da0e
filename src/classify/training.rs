//! Training a head the way the users ask for it: labelled examples in, a
//! head plus the cross-validated report out. The CLI's `train` and the
//! page's training tab both call [`train`].

use web_time::Instant;

use super::classifier::cross_validate;
use super::metrics::Evaluation;
use super::{stratified_group_k_fold, FitReport, Head, LogRegParams, NgramParams, SegmentDictionary};
use crate::message::Message;
use crate::table::{LabelledTexts, RowProblem};
use crate::{Error, Result};

/// Inverse L2 strength of trained heads: on the labelled-text benchmark
/// (bench/classify.sh) C = 10 beat 1 and 100 in out-of-fold macro-F1.
pub const DEFAULT_C: f64 = 10.0;

/// Embedded, labelled examples.
pub struct Examples {
    pub segments: SegmentDictionary,
    /// The texts (transcripts) the embeddings were made of.
    pub texts: Vec<String>,
    /// `y.len()` rows of `dim`.
    pub x: Vec<f32>,
    pub dim: usize,
    pub y: Vec<u32>,
    /// Which creative (or labelled row) each example comes from: examples of
    /// one are cross-validated in the same fold. Each its own by default.
    pub groups: Vec<usize>,
    /// Rows not used, and why.
    pub problems: Vec<RowProblem>,
}

impl Examples {
    pub fn new(
        segments: SegmentDictionary,
        texts: Vec<String>,
        vectors: Vec<Vec<f32>>,
        y: Vec<u32>,
        problems: Vec<RowProblem>,
        dim: usize,
    ) -> Examples {
        let groups = (0..y.len()).collect();
        Examples { segments, texts, x: vectors.concat(), dim, y, groups, problems }
    }

    /// How many creatives (or rows) the examples come from: the most folds
    /// they can be cross-validated in.
    pub fn group_count(&self) -> usize {
        self.groups.iter().collect::<std::collections::HashSet<_>>().len()
    }

    /// The same examples, cross-validated by `groups` (one per example).
    pub fn grouped(self, groups: Vec<usize>) -> Result<Examples> {
        if groups.len() != self.y.len() {
            return Err(Error::Invalid(format!("{} groups for {} examples", groups.len(), self.y.len())));
        }
        Ok(Examples { groups, ..self })
    }
}

/// The segments labelled texts are decided among: `fixed` (a head's) if
/// given, else the user's dictionary, else the default one when every label
/// names one of its segments, else a dictionary made from the labels.
///
/// Labels are read by one rule: all segment numbers or all names. A mix
/// ("1", "2", "music") is refused, naming the odd rows, since numbers and
/// names would otherwise land on each other's segments.
pub fn segments_for_texts(
    rows: &LabelledTexts,
    fixed: Option<&SegmentDictionary>,
    dictionary: Option<SegmentDictionary>,
) -> Result<SegmentDictionary> {
    let numeric = |l: &str| crate::table::parse_segment_number(l).is_some();
    let numbers = rows.rows.iter().filter(|r| numeric(&r.label)).count();
    if numbers > 0 && numbers < rows.rows.len() {
        let by_numbers = numbers * 2 >= rows.rows.len();
        let odd: Vec<String> = rows
            .rows
            .iter()
            .filter(|r| numeric(&r.label) != by_numbers)
            .take(10)
            .map(|r| format!("row {} ({:?})", r.row, r.label))
            .collect();
        let (most, rest) = if by_numbers { ("segment numbers", "names") } else { ("names", "segment numbers") };
        let minority = if by_numbers { rows.rows.len() - numbers } else { numbers };
        return Err(Error::Invalid(format!(
            "the labels mix segment numbers and names: most are {most}, but {minority} {} {rest}: {}{}; use one kind throughout",
            if minority == 1 { "is" } else { "are" },
            odd.join(", "),
            if odd.len() == 10 { ", …" } else { "" }
        )));
    }
    Ok(match (fixed, dictionary) {
        (Some(f), _) => f.clone(),
        (None, Some(d)) => d,
        (None, None) => {
            let default = SegmentDictionary::default_ru();
            if rows.rows.iter().all(|r| default.resolve_label(&r.label).is_some()) {
                default
            } else if numbers > 0 {
                SegmentDictionary::from_label_numbers(rows.rows.iter().filter_map(|r| crate::table::parse_segment_number(&r.label)))
            } else {
                SegmentDictionary::from_label_names(rows.rows.iter().map(|r| r.label.as_str()))
            }
        }
    })
}

/// The texts whose label is a segment, their segment ids, and why the other
/// rows are not used.
pub fn resolve_texts<'a>(rows: &'a LabelledTexts, segments: &SegmentDictionary) -> (Vec<&'a str>, Vec<u32>, Vec<RowProblem>) {
    let mut problems = rows.problems.clone();
    let (mut texts, mut y) = (Vec::new(), Vec::new());
    for r in &rows.rows {
        match segments.resolve_label(&r.label) {
            Some(id) => {
                texts.push(r.text.as_str());
                y.push(id);
            }
            None => {
                let reason = Message::new("label-not-a-segment", format!("label {:?} is not a segment", r.label)).with("label", &r.label);
                problems.push(RowProblem { row: r.row, id: None, reason });
            }
        }
    }
    (texts, y, problems)
}

/// A trained head and how it was obtained.
pub struct Trained {
    pub head: Head,
    pub fit: FitReport,
    /// Seconds the final fit took.
    pub seconds: f64,
    /// Out-of-fold figures, when cross-validation was asked for and possible.
    pub cross_validation: Option<Evaluation>,
    /// The out-of-fold probabilities behind them, `n × segments` in example
    /// order (what fusion is calibrated on).
    pub out_of_fold: Option<Vec<f32>>,
}

/// Trains on all examples, after `folds`-fold cross-validation grouped by
/// `ex.groups` (fewer folds when there are fewer groups; none when
/// `folds < 2`). `ngrams`: the texts' character n-grams beside the
/// embeddings (None: embeddings only). `prototypes` are the segments'
/// description embeddings, for the zero-shot blend.
#[allow(clippy::too_many_arguments)]
pub fn train(
    ex: &Examples,
    embedding_model: &str,
    params: &LogRegParams,
    ngrams: Option<&NgramParams>,
    prototypes: &[Vec<f32>],
    folds: usize,
    seed: u64,
) -> Result<Trained> {
    if ex.y.is_empty() {
        return Err(Error::Invalid("no usable training examples".into()));
    }
    let texts: Vec<&str> = ex.texts.iter().map(String::as_str).collect();
    let folds = folds.min(ex.group_count());
    let (cross_validation, out_of_fold) = if folds >= 2 {
        let folds = stratified_group_k_fold(&ex.y, &ex.groups, folds, seed)?;
        let cv =
            cross_validate(&ex.segments, embedding_model, &texts, &ex.x, ex.dim, &ex.y, &folds, params, ngrams, prototypes)?;
        (Some(Evaluation::new(&ex.segments, &cv.y_true, &cv.y_pred, &cv.proba)?), Some(cv.proba))
    } else {
        (None, None)
    };
    let t = Instant::now();
    let (head, fit) = Head::train(ex.segments.clone(), embedding_model, &texts, &ex.x, ex.dim, &ex.y, params, ngrams)?;
    Ok(Trained { head, fit, seconds: t.elapsed().as_secs_f64(), cross_validation, out_of_fold })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::LabelledText;

    fn rows(labels: &[&str]) -> LabelledTexts {
        let rows = labels
            .iter()
            .enumerate()
            .map(|(i, l)| LabelledText { row: i + 2, text: format!("text {i}"), label: l.to_string() })
            .collect();
        LabelledTexts { rows, problems: vec![] }
    }

    #[test]
    fn labels_pick_the_segments_they_are_decided_among() {
        // Ids of the default dictionary keep it; free words make their own.
        assert_eq!(segments_for_texts(&rows(&["5", "15"]), None, None).unwrap().len(), SegmentDictionary::default_ru().len());
        let own = segments_for_texts(&rows(&["спорт", "кино", "спорт"]), None, None).unwrap();
        assert_eq!(own.len(), 2);
        let two = rows(&["спорт", "кино"]);
        let (texts, y, problems) = resolve_texts(&two, &own);
        assert_eq!((texts.len(), y.len(), problems.len()), (2, 2, 0));
        // A label outside a fixed dictionary is reported with its row, not dropped silently.
        let mixed = rows(&["5", "no such"]);
        let (texts, _, problems) = resolve_texts(&mixed, &SegmentDictionary::default_ru());
        assert_eq!(texts, vec!["text 0"]);
        assert_eq!(problems.iter().map(RowProblem::to_string).collect::<Vec<_>>(), ["row 3: label \"no such\" is not a segment"]);
        assert_eq!((problems[0].reason.code.as_str(), problems[0].reason.params["label"].as_str()), ("label-not-a-segment", "no such"));
    }

    #[test]
    fn labels_are_all_numbers_or_all_names() {
        // "1" must not become the segment named "2" (ids given by sorted names).
        let e = segments_for_texts(&rows(&["1", "2", "music", "1"]), None, None).unwrap_err().to_string();
        assert!(e.contains("mix segment numbers and names") && e.contains("row 4 (\"music\")"), "{e}");
        let e = segments_for_texts(&rows(&["music", "news", "3"]), None, None).unwrap_err().to_string();
        assert!(e.contains("most are names") && e.contains("row 4 (\"3\")"), "{e}");
        // Numbers outside the default dictionary keep their own ids.
        let own = segments_for_texts(&rows(&["1", "42", "1"]), None, None).unwrap();
        assert_eq!(own.ids(), vec![1, 42]);
        let (_, y, problems) = resolve_texts(&rows(&["1", "42"]), &own);
        assert_eq!((y, problems.len()), (vec![1, 42], 0));
    }

    #[test]
    fn training_reports_cross_validation_even_with_few_examples() {
        let segments = segments_for_texts(&rows(&["a", "b"]), None, None).unwrap();
        let ids = segments.ids();
        // Three examples per segment on separate axes: 5 folds become 5 of 6 samples.
        let (mut vectors, mut y) = (vec![], vec![]);
        for (k, &id) in ids.iter().enumerate() {
            for j in 0..3 {
                let mut v = vec![0.05 * j as f32; 4];
                v[k] = 1.0;
                vectors.push(v);
                y.push(id);
            }
        }
        let prototypes: Vec<Vec<f32>> = (0..2).map(|k| (0..4).map(|i| if i == k { 1.0 } else { 0.0 }).collect()).collect();
        let texts = y.iter().map(|id| format!("сегмент {id}")).collect();
        let ex = Examples::new(segments, texts, vectors, y, vec![], 4);
        let trained = train(&ex, "m", &LogRegParams::default(), Some(&NgramParams::default()), &prototypes, 10, 42).unwrap();
        let cv = trained.cross_validation.expect("cross-validated");
        assert_eq!(cv.report.n_samples, 6);
        assert_eq!(cv.report.accuracy, 1.0);
        assert_eq!(trained.head.examples, vec![3, 3]);
        assert!(train(&ex, "m", &LogRegParams::default(), None, &prototypes, 0, 42).unwrap().cross_validation.is_none());
        let empty = Examples::new(ex.segments.clone(), vec![], vec![], vec![], vec![], 4);
        assert!(train(&empty, "m", &LogRegParams::default(), None, &prototypes, 5, 42).is_err());
    }
}
