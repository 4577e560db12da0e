//! Which segment each creative belongs to, and how that is known: a label
//! the users gave (`train_segments.csv`) or the product's prediction.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::table::{read_labels, RowProblem, Table};

/// Where a creative's segment comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelSource {
    /// Labelled by the users.
    Known,
    /// Predicted by the classifier.
    Predicted,
    /// Neither: its spend is shown as unclassified.
    Unclassified,
}

impl LabelSource {
    pub const ALL: [LabelSource; 3] = [LabelSource::Known, LabelSource::Predicted, LabelSource::Unclassified];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Segment labels by creative ID. A known label always wins over a prediction.
#[derive(Debug, Clone, Default)]
pub struct SegmentLabels {
    by_id: HashMap<String, (u32, LabelSource)>,
    /// Rows of the label files that were not used, with reasons.
    pub problems: Vec<LabelFileProblem>,
}

/// A row of a label file that was not used, and the file it is in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelFileProblem {
    pub file: String,
    #[serde(flatten)]
    pub problem: RowProblem,
}

/// "results.csv: row 3: ID 77: no segment number", as the CLI prints it.
impl std::fmt::Display for LabelFileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.problem)
    }
}

impl SegmentLabels {
    /// Adds the users' labels; they replace predictions for the same IDs.
    pub fn add_known<'a>(&mut self, labels: impl IntoIterator<Item = (&'a str, u32)>) {
        for (id, segment) in labels {
            self.by_id.insert(id.trim().to_string(), (segment, LabelSource::Known));
        }
    }

    /// Adds predictions for IDs that have no known label.
    pub fn add_predicted<'a>(&mut self, labels: impl IntoIterator<Item = (&'a str, u32)>) {
        for (id, segment) in labels {
            self.by_id.entry(id.trim().to_string()).or_insert((segment, LabelSource::Predicted));
        }
    }

    /// Reads a labels file (`train_segments.csv`, or a results table this
    /// product wrote: both have an ID and a `Segment_num` column). Rows
    /// without a segment are listed in [`SegmentLabels::problems`].
    pub fn add_file(&mut self, file_name: &str, bytes: &[u8], source: LabelSource) -> Result<usize> {
        let labels = read_labels(file_name, &Table::from_bytes(file_name, bytes)?, None)?;
        self.problems.extend(labels.problems.into_iter().map(|problem| LabelFileProblem { file: file_name.to_string(), problem }));
        let pairs = labels.labels.iter().map(|l| (l.id.as_str(), l.segment));
        match source {
            LabelSource::Known => self.add_known(pairs),
            _ => self.add_predicted(pairs),
        }
        Ok(labels.labels.len())
    }

    /// Drops every label of one source (the users cleared a file).
    pub fn clear(&mut self, source: LabelSource) {
        self.by_id.retain(|_, (_, s)| *s != source);
    }

    pub fn get(&self, id: &str) -> Option<(u32, LabelSource)> {
        self.by_id.get(id).copied()
    }

    /// How many IDs have a label of `source`.
    pub fn count(&self, source: LabelSource) -> usize {
        self.by_id.values().filter(|(_, s)| *s == source).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_labels_win_over_predictions() {
        let mut l = SegmentLabels::default();
        l.add_predicted([("1", 5), ("2", 6)]);
        l.add_known([("1", 7)]);
        l.add_predicted([("1", 9)]);
        assert_eq!(l.get("1"), Some((7, LabelSource::Known)));
        assert_eq!(l.get("2"), Some((6, LabelSource::Predicted)));
        assert_eq!(l.get("3"), None);
        l.clear(LabelSource::Known);
        assert_eq!(l.get("1"), None);
    }

    #[test]
    fn label_files_report_rows_without_a_segment() {
        let mut l = SegmentLabels::default();
        let n = l.add_file("results.csv", b"Advertisement ID,Segment_num,Status\n000123,5,ok\n77,,no speech\n", LabelSource::Predicted).unwrap();
        assert_eq!(n, 1);
        assert_eq!(l.get("000123"), Some((5, LabelSource::Predicted)));
        assert_eq!(l.problems.len(), 1);
        assert_eq!(l.problems[0].to_string(), "results.csv: row 3: ID 77: no segment number");
    }
}
