//! Spend dashboards: what the segments are for. The users' spend file
//! (spend per creative per month) is joined with each creative's segment,
//! known or predicted, and summed in whole kopecks by segment, month,
//! advertiser, brand and media type; the charts are SVG drawn here, so the
//! page and the CLI show the same figures.
//!
//! bytes → [`spend`] (parse, sum duplicates) → [`overview`] (join with
//! [`labels`], filter, sum) → [`charts`] / export table.

pub mod charts;
pub mod labels;
pub mod money;
pub mod overview;
pub mod period;
pub mod sample;
pub mod spend;

pub use labels::{LabelSource, SegmentLabels};
pub use money::{Kopecks, Lang};
pub use overview::{Dashboard, Filter, FilterOptions, Overview};
pub use period::Period;
pub use spend::{read_spend, SpendData, SpendImport};
