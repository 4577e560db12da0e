//! Evaluation: scikit-learn's classification report (same numbers, same text
//! layout, `zero_division=0`), confusion matrix, one-vs-rest ROC-AUC, and a
//! stratified k-fold splitter for cross-validated figures.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::classify::segments::SegmentDictionary;
use crate::error::{Error, Result};

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub label: u32,
    pub name: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Number of true samples of this class.
    pub support: usize,
}

/// An averaged row of the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AverageMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// scikit-learn's `classification_report` as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    pub classes: Vec<ClassMetrics>,
    pub accuracy: f64,
    pub macro_avg: AverageMetrics,
    pub weighted_avg: AverageMetrics,
    pub n_samples: usize,
}

/// Counts of (true, predicted) pairs; rows are true classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub labels: Vec<u32>,
    pub counts: Vec<Vec<usize>>,
}

/// One-vs-rest ROC-AUC per class; `None` where the class has no positive or
/// no negative sample (AUC undefined).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocAuc {
    pub labels: Vec<u32>,
    pub per_class: Vec<Option<f64>>,
    /// Unweighted mean over the classes where AUC is defined.
    pub macro_avg: Option<f64>,
}

/// Sorted union of the labels in `a` and `b` (scikit-learn's `unique_labels`).
pub fn unique_labels(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut v: Vec<u32> = a.iter().chain(b).copied().collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn check_lengths(y_true: &[u32], y_pred: &[u32]) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::Invalid(format!(
            "{} true labels but {} predictions",
            y_true.len(),
            y_pred.len()
        )));
    }
    if y_true.is_empty() {
        return Err(Error::Invalid("no samples to evaluate".into()));
    }
    Ok(())
}

/// Labels to report: `labels` when given (it must cover every label seen),
/// else the sorted union of true and predicted labels.
fn report_labels(y_true: &[u32], y_pred: &[u32], labels: Option<&[u32]>) -> Result<Vec<u32>> {
    let seen = unique_labels(y_true, y_pred);
    match labels {
        None => Ok(seen),
        Some(l) => {
            if let Some(missing) = seen.iter().find(|s| !l.contains(s)) {
                return Err(Error::Invalid(format!("label {missing} occurs in the data but not in the label list")));
            }
            Ok(l.to_vec())
        }
    }
}

/// `a / b`, or 0 when `b` is 0 (scikit-learn's `zero_division=0`).
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// Confusion matrix over `labels` (or the sorted union of labels seen).
pub fn confusion_matrix(y_true: &[u32], y_pred: &[u32], labels: Option<&[u32]>) -> Result<ConfusionMatrix> {
    check_lengths(y_true, y_pred)?;
    let labels = report_labels(y_true, y_pred, labels)?;
    let index = |v: u32| labels.iter().position(|&l| l == v).expect("label covered");
    let mut counts = vec![vec![0usize; labels.len()]; labels.len()];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        counts[index(t)][index(p)] += 1;
    }
    Ok(ConfusionMatrix { labels, counts })
}

/// The classification report; class names are the label numbers until
/// [`ClassificationReport::with_names`] or `with_segments` sets them.
pub fn classification_report(y_true: &[u32], y_pred: &[u32], labels: Option<&[u32]>) -> Result<ClassificationReport> {
    let cm = confusion_matrix(y_true, y_pred, labels)?;
    let k = cm.labels.len();
    let mut classes = Vec::with_capacity(k);
    for c in 0..k {
        let tp = cm.counts[c][c] as f64;
        let support: usize = cm.counts[c].iter().sum();
        let predicted: usize = (0..k).map(|r| cm.counts[r][c]).sum();
        let (fn_, fp) = (support as f64 - tp, predicted as f64 - tp);
        classes.push(ClassMetrics {
            label: cm.labels[c],
            name: cm.labels[c].to_string(),
            precision: ratio(tp, predicted as f64),
            recall: ratio(tp, support as f64),
            // F1 from counts, as scikit-learn computes it: 2tp / (2tp + fp + fn).
            f1: ratio(2.0 * tp, 2.0 * tp + fp + fn_),
            support,
        });
    }
    let n = y_true.len();
    let correct = (0..k).map(|c| cm.counts[c][c]).sum::<usize>();
    let total_support: usize = classes.iter().map(|c| c.support).sum();
    let mean = |f: fn(&ClassMetrics) -> f64| classes.iter().map(f).sum::<f64>() / k as f64;
    let weighted = |f: fn(&ClassMetrics) -> f64| {
        ratio(classes.iter().map(|c| f(c) * c.support as f64).sum::<f64>(), total_support as f64)
    };
    let macro_avg = AverageMetrics {
        precision: mean(|c| c.precision),
        recall: mean(|c| c.recall),
        f1: mean(|c| c.f1),
        support: total_support,
    };
    let weighted_avg = AverageMetrics {
        precision: weighted(|c| c.precision),
        recall: weighted(|c| c.recall),
        f1: weighted(|c| c.f1),
        support: total_support,
    };
    Ok(ClassificationReport { classes, accuracy: correct as f64 / n as f64, macro_avg, weighted_avg, n_samples: n })
}

impl ClassificationReport {
    /// Names the classes (e.g. by segment name).
    pub fn with_names(mut self, name: impl Fn(u32) -> Option<String>) -> Self {
        for c in &mut self.classes {
            if let Some(n) = name(c.label) {
                c.name = n;
            }
        }
        self
    }

    /// Names the classes by the segments' names; unknown ids keep their number.
    pub fn with_segments(self, segments: &SegmentDictionary) -> Self {
        self.with_names(|id| segments.get(id).map(|s| s.name.clone()))
    }

    /// The report laid out exactly as scikit-learn prints it.
    pub fn to_text(&self, digits: usize) -> String {
        let headers = ["precision", "recall", "f1-score", "support"];
        let name_width = self.classes.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
        let width = name_width.max("weighted avg".len()).max(digits);
        let mut out = format!("{:>width$} ", "");
        for h in headers {
            write!(out, " {h:>9}").unwrap();
        }
        out.push_str("\n\n");
        let row = |out: &mut String, name: &str, p: f64, r: f64, f: f64, s: usize| {
            writeln!(out, "{name:>width$}  {p:>9.digits$} {r:>9.digits$} {f:>9.digits$} {s:>9}").unwrap();
        };
        for c in &self.classes {
            row(&mut out, &c.name, c.precision, c.recall, c.f1, c.support);
        }
        out.push('\n');
        let support = self.macro_avg.support;
        writeln!(out, "{:>width$}  {:>9} {:>9} {:>9.digits$} {support:>9}", "accuracy", "", "", self.accuracy).unwrap();
        for (name, a) in [("macro avg", &self.macro_avg), ("weighted avg", &self.weighted_avg)] {
            row(&mut out, name, a.precision, a.recall, a.f1, a.support);
        }
        out
    }
}

impl std::fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text(2))
    }
}

impl ConfusionMatrix {
    /// Plain-text table; rows are true classes, columns predicted ones, both
    /// headed by label number (names would not fit across).
    pub fn to_text(&self) -> String {
        let cell = self
            .counts
            .iter()
            .flatten()
            .map(|c| c.to_string().len())
            .chain(self.labels.iter().map(|l| l.to_string().len()))
            .max()
            .unwrap_or(1)
            .max(3);
        let head = "true\\pred";
        let mut out = format!("{head:>9}");
        for l in &self.labels {
            write!(out, " {l:>cell$}").unwrap();
        }
        out.push('\n');
        for (l, row) in self.labels.iter().zip(&self.counts) {
            write!(out, "{l:>9}").unwrap();
            for c in row {
                write!(out, " {c:>cell$}").unwrap();
            }
            out.push('\n');
        }
        out
    }
}

/// Area under the ROC curve of one binary problem. Equals the trapezoidal
/// area scikit-learn computes: tied scores count one half (Mann–Whitney U
/// with mid-ranks). `None` when one of the two classes is absent.
pub fn binary_roc_auc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += mid_rank * order[i..=j].iter().filter(|&&o| positive[o]).count() as f64;
        i = j + 1;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * n))
}

/// One-vs-rest ROC-AUC: `scores` is row-major `n × labels.len()`, column `k`
/// the score of `labels[k]` (as from `predict_proba`).
pub fn roc_auc_ovr(y_true: &[u32], scores: &[f32], labels: &[u32]) -> Result<RocAuc> {
    let k = labels.len();
    if k == 0 || scores.len() != y_true.len() * k {
        return Err(Error::Invalid(format!(
            "{} scores do not make {} rows of {k} classes",
            scores.len(),
            y_true.len()
        )));
    }
    let per_class: Vec<Option<f64>> = (0..k)
        .map(|c| {
            let positive: Vec<bool> = y_true.iter().map(|&y| y == labels[c]).collect();
            let s: Vec<f64> = scores.chunks_exact(k).map(|row| row[c] as f64).collect();
            binary_roc_auc(&positive, &s)
        })
        .collect();
    let defined: Vec<f64> = per_class.iter().flatten().copied().collect();
    let macro_avg = (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64);
    Ok(RocAuc { labels: labels.to_vec(), per_class, macro_avg })
}

/// Everything the users' evaluation shows, for one set of decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub report: ClassificationReport,
    pub confusion: ConfusionMatrix,
    pub roc_auc: RocAuc,
}

impl Evaluation {
    /// `proba` is row-major `n × segments.len()` in dictionary order.
    pub fn new(segments: &SegmentDictionary, y_true: &[u32], y_pred: &[u32], proba: &[f32]) -> Result<Evaluation> {
        Ok(Evaluation {
            report: classification_report(y_true, y_pred, None)?.with_segments(segments),
            confusion: confusion_matrix(y_true, y_pred, None)?,
            roc_auc: roc_auc_ovr(y_true, proba, &segments.ids())?,
        })
    }

    pub fn to_text(&self) -> String {
        let auc = |v: Option<f64>| v.map_or("n/a".to_string(), |a| format!("{a:.4}"));
        let mut out = self.report.to_text(4);
        out.push_str("\nconfusion matrix (rows: true segment, columns: predicted)\n");
        out.push_str(&self.confusion.to_text());
        writeln!(out, "\nROC-AUC one-vs-rest, macro over segments with examples: {}", auc(self.roc_auc.macro_avg)).unwrap();
        for (label, v) in self.roc_auc.labels.iter().zip(&self.roc_auc.per_class) {
            if v.is_some() {
                writeln!(out, "  {label:>4}  {}", auc(*v)).unwrap();
            }
        }
        out
    }
}

/// Train and test sample indices of one fold (both ascending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// SplitMix64: small, fast, and identical on every platform, so a seed gives
/// the same folds natively and in the browser.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the tiny modulo bias is irrelevant here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[-1, 1)`, 24 bits.
    pub fn symmetric_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Stratified k-fold split: every class is spread over the folds as evenly as
/// possible (per-class and total fold sizes differ by at most one), samples
/// are shuffled within their class by `seed`. Classes with fewer than `k`
/// samples are absent from some test folds.
pub fn stratified_k_fold(y: &[u32], k: usize, seed: u64) -> Result<Vec<Fold>> {
    stratified_group_k_fold(y, &(0..y.len()).collect::<Vec<_>>(), k, seed)
}

/// [`stratified_k_fold`] over groups: samples with the same `groups` value
/// (the transcript and the screen text of one creative) always share a fold,
/// so no fold is tested on a creative it also learnt from. Groups are dealt
/// as units, by the class of their first sample; with every sample its own
/// group this is exactly [`stratified_k_fold`].
pub fn stratified_group_k_fold(y: &[u32], groups: &[usize], k: usize, seed: u64) -> Result<Vec<Fold>> {
    if groups.len() != y.len() {
        return Err(Error::Invalid(format!("{} groups for {} samples", groups.len(), y.len())));
    }
    // Each group's first sample stands for it, in order of appearance.
    let mut unit_of_group = std::collections::HashMap::new();
    let mut unit_of = Vec::with_capacity(y.len());
    let mut unit_y = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let unit = *unit_of_group.entry(g).or_insert_with(|| {
            unit_y.push(y[i]);
            unit_y.len() - 1
        });
        unit_of.push(unit);
    }
    if k < 2 || k > unit_y.len() {
        return Err(Error::Invalid(format!("cannot make {k} folds of {} samples (need 2 ≤ k ≤ samples)", unit_y.len())));
    }
    let mut rng = SplitMix64(seed);
    let mut fold_of_unit = vec![0usize; unit_y.len()];
    let mut next = 0usize;
    for class in unique_labels(&unit_y, &[]) {
        let mut members: Vec<usize> = (0..unit_y.len()).filter(|&u| unit_y[u] == class).collect();
        for i in (1..members.len()).rev() {
            members.swap(i, rng.below(i + 1));
        }
        // Continue dealing where the previous class stopped, so fold totals stay even.
        for m in members {
            fold_of_unit[m] = next % k;
            next += 1;
        }
    }
    let fold_of = |i: usize| fold_of_unit[unit_of[i]];
    Ok((0..k)
        .map(|f| Fold {
            train: (0..y.len()).filter(|&i| fold_of(i) != f).collect(),
            test: (0..y.len()).filter(|&i| fold_of(i) == f).collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Reference {
        y_true: Vec<u32>,
        y_pred: Vec<u32>,
        report_labels: Vec<u32>,
        names: Vec<String>,
        report: serde_json::Map<String, serde_json::Value>,
        report_text_2: String,
        report_text_4: String,
        report_text_ids: String,
        confusion: Vec<Vec<usize>>,
        score_labels: Vec<u32>,
        scores: Vec<Vec<f32>>,
        auc_per_class: Vec<f64>,
        auc_macro: f64,
    }

    fn reference() -> Reference {
        serde_json::from_str(include_str!("../../tests/fixtures/metrics_reference.json")).unwrap()
    }

    fn named(r: &Reference) -> ClassificationReport {
        classification_report(&r.y_true, &r.y_pred, None).unwrap().with_names(|l| {
            r.report_labels.iter().position(|&x| x == l).map(|i| r.names[i].clone())
        })
    }

    #[test]
    fn report_numbers_match_scikit_learn() {
        let r = reference();
        let rep = named(&r);
        assert_eq!(rep.classes.iter().map(|c| c.label).collect::<Vec<_>>(), r.report_labels);
        let close = |a: f64, v: &serde_json::Value| (a - v.as_f64().unwrap()).abs() < 1e-12;
        for c in &rep.classes {
            let want = &r.report[&c.name];
            assert!(close(c.precision, &want["precision"]), "{}", c.name);
            assert!(close(c.recall, &want["recall"]), "{}", c.name);
            assert!(close(c.f1, &want["f1-score"]), "{}", c.name);
            assert_eq!(c.support as f64, want["support"].as_f64().unwrap());
        }
        assert!(close(rep.accuracy, &r.report["accuracy"]));
        for (ours, key) in [(&rep.macro_avg, "macro avg"), (&rep.weighted_avg, "weighted avg")] {
            let want = &r.report[key];
            assert!(close(ours.precision, &want["precision"]) && close(ours.recall, &want["recall"]), "{key}");
            assert!(close(ours.f1, &want["f1-score"]), "{key}");
        }
        // The class never predicted and the label never true are zero rows, not errors.
        let never_predicted = rep.classes.iter().find(|c| c.label == 5).unwrap();
        assert_eq!((never_predicted.precision, never_predicted.support), (0.0, 6));
        assert_eq!(rep.classes.iter().find(|c| c.label == 9).unwrap().support, 0);
    }

    #[test]
    fn report_text_matches_scikit_learn() {
        let r = reference();
        let rep = named(&r);
        assert_eq!(rep.to_text(2), r.report_text_2);
        assert_eq!(rep.to_text(4), r.report_text_4);
        assert_eq!(rep.to_string(), r.report_text_2);
        let by_id = classification_report(&r.y_true, &r.y_pred, None).unwrap();
        assert_eq!(by_id.to_text(2), r.report_text_ids);
    }

    #[test]
    fn report_serialises_to_json_and_back() {
        let rep = named(&reference());
        let json = serde_json::to_string(&rep).unwrap();
        assert!(json.contains("\"macro_avg\"") && json.contains("Соц сети"));
        let back: ClassificationReport = serde_json::from_str(&json).unwrap();
        // serde_json parses floats to within an ulp, not always bit-exactly.
        assert_eq!(back.classes.len(), rep.classes.len());
        for (a, b) in back.classes.iter().zip(&rep.classes) {
            assert_eq!((a.label, &a.name, a.support), (b.label, &b.name, b.support));
            assert!((a.f1 - b.f1).abs() < 1e-15 && (a.precision - b.precision).abs() < 1e-15);
        }
        assert!((back.weighted_avg.f1 - rep.weighted_avg.f1).abs() < 1e-15);
        assert_eq!(back.to_text(4), rep.to_text(4));
    }

    #[test]
    fn segment_names_and_explicit_labels() {
        let d = SegmentDictionary::default_ru();
        let rep = classification_report(&[15, 16], &[15, 15], Some(&d.ids())).unwrap().with_segments(&d);
        assert_eq!(rep.classes.len(), 18);
        assert_eq!(rep.classes.iter().find(|c| c.label == 15).unwrap().name, "Музыка");
        assert!(classification_report(&[15, 6], &[15, 15], Some(&d.ids())).unwrap_err().to_string().contains("label 6"));
        assert!(classification_report(&[1], &[1, 2], None).is_err());
    }

    #[test]
    fn confusion_matrix_matches_scikit_learn() {
        let r = reference();
        let cm = confusion_matrix(&r.y_true, &r.y_pred, None).unwrap();
        assert_eq!(cm.labels, r.report_labels);
        assert_eq!(cm.counts, r.confusion);
        let text = cm.to_text();
        assert_eq!(text.lines().count(), 1 + cm.labels.len());
        assert!(text.lines().nth(1).unwrap().trim_start().starts_with("0  12"), "{text}");
    }

    #[test]
    fn roc_auc_matches_scikit_learn_with_ties() {
        let r = reference();
        let auc = roc_auc_ovr(&r.y_true, &r.scores.concat(), &r.score_labels).unwrap();
        for (ours, want) in auc.per_class.iter().zip(&r.auc_per_class) {
            assert!((ours.unwrap() - want).abs() < 1e-12, "{ours:?} vs {want}");
        }
        assert!((auc.macro_avg.unwrap() - r.auc_macro).abs() < 1e-12);
    }

    #[test]
    fn roc_auc_edge_cases() {
        assert_eq!(binary_roc_auc(&[true, false], &[0.9, 0.1]), Some(1.0));
        assert_eq!(binary_roc_auc(&[true, false], &[0.5, 0.5]), Some(0.5));
        assert_eq!(binary_roc_auc(&[true, true], &[0.5, 0.4]), None);
        let auc = roc_auc_ovr(&[0, 0], &[0.6, 0.4, 0.7, 0.3], &[0, 1]).unwrap();
        assert_eq!(auc.per_class, vec![None, None]);
        assert_eq!(auc.macro_avg, None);
        assert!(roc_auc_ovr(&[0, 1], &[0.5; 3], &[0, 1]).is_err());
    }

    #[test]
    fn stratified_folds_partition_and_balance() {
        let y: Vec<u32> = (0..103).map(|i| [0, 0, 0, 1, 1, 2, 7][i % 7]).collect();
        let folds = stratified_k_fold(&y, 5, 42).unwrap();
        let mut seen = vec![0; y.len()];
        for f in &folds {
            for &i in &f.test {
                seen[i] += 1;
            }
            assert_eq!(f.train.len() + f.test.len(), y.len());
            assert!(f.train.iter().all(|i| !f.test.contains(i)));
        }
        assert!(seen.iter().all(|&s| s == 1), "every sample is tested exactly once");
        let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
        for class in [0, 1, 2, 7] {
            let per: Vec<usize> = folds.iter().map(|f| f.test.iter().filter(|&&i| y[i] == class).count()).collect();
            assert!(per.iter().max().unwrap() - per.iter().min().unwrap() <= 1, "class {class}: {per:?}");
        }
        assert_eq!(stratified_k_fold(&y, 5, 42).unwrap(), folds, "same seed, same folds");
        assert_ne!(stratified_k_fold(&y, 5, 43).unwrap(), folds);
        assert!(stratified_k_fold(&y, 1, 0).is_err());
        assert!(stratified_k_fold(&[1, 2], 3, 0).is_err());
    }

    #[test]
    fn a_group_is_never_split_between_folds() {
        // Pairs of samples from one creative (as transcript and screen text),
        // and some creatives with one sample only.
        let groups: Vec<usize> = (0..60).map(|i| if i < 40 { i / 2 } else { i }).collect();
        let y: Vec<u32> = groups.iter().map(|g| (g % 3) as u32).collect();
        let folds = stratified_group_k_fold(&y, &groups, 4, 7).unwrap();
        for f in &folds {
            for &i in &f.test {
                assert!(f.train.iter().all(|&j| groups[j] != groups[i]), "group {} is on both sides", groups[i]);
            }
        }
        let mut tested: Vec<usize> = folds.iter().flat_map(|f| f.test.iter().copied()).collect();
        tested.sort_unstable();
        assert_eq!(tested, (0..60).collect::<Vec<_>>(), "every sample is tested exactly once");
        // Creatives, not samples, are balanced over the folds.
        let creatives: Vec<usize> = folds
            .iter()
            .map(|f| f.test.iter().map(|&i| groups[i]).collect::<std::collections::BTreeSet<_>>().len())
            .collect();
        assert!(creatives.iter().max().unwrap() - creatives.iter().min().unwrap() <= 1, "{creatives:?}");
        // Singleton groups split exactly as the ungrouped folds.
        let y: Vec<u32> = (0..50).map(|i| [0, 1, 1, 4][i % 4]).collect();
        let own: Vec<usize> = (0..50).collect();
        assert_eq!(stratified_group_k_fold(&y, &own, 5, 3).unwrap(), stratified_k_fold(&y, 5, 3).unwrap());
        assert!(stratified_group_k_fold(&y[..4], &[0, 0, 1, 1], 3, 0).is_err(), "2 groups make no 3 folds");
        assert!(stratified_group_k_fold(&y[..4], &[0, 1], 2, 0).is_err());
    }
}
