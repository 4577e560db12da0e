//! The dashboard's figures against pandas on the same sample files
//! (tests/fixtures/dashboard/sample_reference.json, written by
//! scripts/reference/dashboard_pandas.py): totals, bad rows, summed lines,
//! spend per segment and source, per segment and month, top advertisers and
//! media types, all in kopecks and all equal.

use std::collections::BTreeMap;

use creative_filter::dashboard::overview::Overview;
use creative_filter::dashboard::sample::{self, SAMPLE_ROWS};
use creative_filter::dashboard::{Dashboard, Filter, Lang, Period};
use serde_json::Value;

fn reference() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dashboard/sample_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn key(segment: Option<u32>) -> String {
    segment.map_or_else(|| "none".into(), |s| s.to_string())
}

fn check(o: &Overview, want: &Value) {
    assert_eq!(o.kpi.total.0, want["total"].as_i64().unwrap().into(), "total");
    assert_eq!(o.kpi.creatives as u64, want["creatives"].as_u64().unwrap(), "creatives");
    let segments: BTreeMap<String, [i128; 3]> =
        o.segments.iter().map(|s| (key(s.segment), [s.split.known.0, s.split.predicted.0, s.split.unclassified.0])).collect();
    let want_segments: BTreeMap<String, [i128; 3]> = want["segments"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), ["known", "predicted", "unclassified"].map(|s| v[s].as_i64().unwrap().into())))
        .collect();
    assert_eq!(segments, want_segments, "spend by segment and label source");
    for s in &o.segments {
        let months = &want["by_period"][key(s.segment)];
        for (p, v) in o.periods.iter().zip(&s.by_period) {
            let expected = i128::from(months.get(p.to_string()).and_then(Value::as_i64).unwrap_or(0));
            assert_eq!(v.0, expected, "segment {} in {p}", key(s.segment));
        }
    }
    let top: Vec<(String, i128)> = o.top_advertisers.iter().map(|a| (a.name.clone(), a.total.0)).collect();
    let want_top: Vec<(String, i128)> = want["top_advertisers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a[0].as_str().unwrap().to_string(), a[1].as_i64().unwrap().into()))
        .collect();
    assert_eq!(top, want_top, "top advertisers");
    let media: BTreeMap<String, i128> = o.media_types.iter().map(|m| (m.name.clone(), m.total.0)).collect();
    let want_media: BTreeMap<String, i128> =
        want["media_types"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_i64().unwrap().into())).collect();
    assert_eq!(media, want_media, "media types");
}

#[test]
fn sample_figures_equal_pandas() {
    let want = reference();
    let d: Dashboard = sample::dashboard(SAMPLE_ROWS).unwrap();
    assert_eq!(d.data().rows as u64, want["rows"].as_u64().unwrap());
    assert_eq!(d.data().bad.count as u64, want["bad_rows"].as_u64().unwrap());
    assert_eq!(d.data().lines.len() as u64, want["lines"].as_u64().unwrap());
    check(&d.overview(&Filter::default(), Lang::Ru), &want["all"]);
    let tv_2025 = Filter { years: vec![2025], media_types: vec!["ТВ".into()], ..Default::default() };
    check(&d.overview(&tv_2025, Lang::Ru), &want["tv_2025"]);
    // The same selection by month range instead of year.
    let range = Filter { from: Period::new(2025, 1), to: Period::new(2025, 12), media_types: vec!["ТВ".into()], ..Default::default() };
    check(&d.overview(&range, Lang::Ru), &want["tv_2025"]);
}
