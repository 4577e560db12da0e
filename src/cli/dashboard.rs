//! `creative-filter dashboard`: the page's spend dashboard as files: the
//! overview as JSON on standard output and, with `--out`, every chart as SVG
//! and the aggregated table as .xlsx and .csv.

use std::path::{Path, PathBuf};

use creative_filter::classify::SegmentDictionary;
use creative_filter::dashboard::overview::AGGREGATE_NUMERIC_COLUMNS;
use creative_filter::dashboard::sample::{self, SAMPLE_ROWS};
use creative_filter::dashboard::{charts, read_spend, Dashboard, Filter, LabelSource, Lang, Period, SegmentLabels};
use creative_filter::table::{write_table_file, Table};
use creative_filter::error::{create_dir, write_file};
use creative_filter::{Error, Result};

#[derive(clap::Args)]
pub struct Args {
    /// The spend file (`dashboard_data.csv` or `.xlsx`).
    #[arg(required_unless_present = "sample")]
    spend: Option<PathBuf>,
    /// Use the generated sample (with its own labels) of this many rows instead of a file.
    #[arg(long, conflicts_with = "spend", num_args = 0..=1, default_missing_value = "6000", value_name = "ROWS")]
    sample: Option<usize>,
    /// With --sample: also write the sample's spend, labels and predictions files here.
    #[arg(long, requires = "sample", value_name = "DIR")]
    write_sample: Option<PathBuf>,
    /// Labels the users gave (`train_segments.csv`); they win over predictions.
    #[arg(long)]
    labels: Vec<PathBuf>,
    /// Predictions: a results table written by `classify`/`predict-table` or the page.
    #[arg(long)]
    predictions: Vec<PathBuf>,
    /// Segment names from the users' `segment_dict.xlsx`/`.csv` (default: the built-in segments).
    #[arg(long)]
    dictionary: Option<PathBuf>,
    /// Keep these years only.
    #[arg(long = "year")]
    years: Vec<u16>,
    /// First month, e.g. 2024-03.
    #[arg(long, value_parser = parse_period)]
    from: Option<Period>,
    /// Last month, e.g. 2025-06.
    #[arg(long, value_parser = parse_period)]
    to: Option<Period>,
    /// Keep these segment ids ("none" for unclassified spend).
    #[arg(long = "segment", value_parser = parse_segment)]
    segments: Vec<Option<u32>>,
    #[arg(long = "advertiser")]
    advertisers: Vec<String>,
    #[arg(long = "brand")]
    brands: Vec<String>,
    #[arg(long = "media-type")]
    media_types: Vec<String>,
    /// The brand whose months are charted (default: the biggest).
    #[arg(long)]
    brand_chart: Option<String>,
    /// Language of chart labels: ru or en.
    #[arg(long, default_value = "ru", value_parser = parse_lang)]
    lang: Lang,
    /// Folder for the charts (SVG) and the aggregated table (.xlsx, .csv).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The sample as the users' three files, for peers and references to read.
fn write_sample(dir: &Path, rows: usize) -> Result<()> {
    create_dir(dir)?;
    let s = sample::generate(rows, sample::SAMPLE_SEED);
    write_file(&dir.join(sample::SAMPLE_FILE_NAME), &s.csv)?;
    for (name, labels) in [("sample_train_segments.csv", &s.known), ("sample_predictions.csv", &s.predicted)] {
        let mut t = Table::new(vec!["Advertisement ID".into(), "Segment_num".into()]);
        for (id, segment) in labels {
            t.push_row(vec![id.clone(), segment.to_string()]);
        }
        write_table_file(&dir.join(name), &t, &[])?;
    }
    Ok(())
}

fn parse_period(s: &str) -> std::result::Result<Period, String> {
    Period::parse(s).ok_or_else(|| format!("{s:?} is not a month such as 2024-03"))
}

fn parse_segment(s: &str) -> std::result::Result<Option<u32>, String> {
    match s {
        "none" => Ok(None),
        _ => s.parse().map(Some).map_err(|_| format!("{s:?} is not a segment id or \"none\"")),
    }
}

fn parse_lang(s: &str) -> std::result::Result<Lang, String> {
    Lang::from_code(s).ok_or_else(|| format!("{s:?}: expected ru or en"))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })
}

pub fn run(args: Args) -> Result<i32> {
    let mut dashboard = match &args.spend {
        Some(path) => {
            let data = read_spend(&path.to_string_lossy(), &read(path)?)?;
            let mut d = Dashboard::new(data);
            let mut labels = SegmentLabels::default();
            for (files, source) in [(&args.labels, LabelSource::Known), (&args.predictions, LabelSource::Predicted)] {
                for f in files {
                    labels.add_file(&f.to_string_lossy(), &read(f)?, source)?;
                }
            }
            d.set_labels(labels);
            d
        }
        None => {
            let rows = args.sample.unwrap_or(SAMPLE_ROWS);
            if let Some(dir) = &args.write_sample {
                write_sample(dir, rows)?;
            }
            sample::dashboard(rows)?
        }
    };
    if let Some(path) = &args.dictionary {
        let dictionary = SegmentDictionary::from_file_bytes(&path.to_string_lossy(), &read(path)?)?;
        dashboard.set_segments(dictionary.iter().map(|s| (s.id, s.name.clone())));
    }
    let filter = Filter {
        years: args.years,
        from: args.from,
        to: args.to,
        segments: args.segments,
        advertisers: args.advertisers,
        brands: args.brands,
        media_types: args.media_types,
        brand: args.brand_chart,
    };
    let overview = dashboard.overview(&filter, args.lang);
    if let Some(dir) = &args.out {
        create_dir(dir)?;
        for (name, svg) in charts::draw(&overview, args.lang, &[]).named() {
            write_file(&dir.join(format!("{name}.svg")), svg)?;
        }
        let table = dashboard.table(&filter, args.lang);
        for name in ["spend.xlsx", "spend.csv"] {
            write_table_file(&dir.join(name), &table, &AGGREGATE_NUMERIC_COLUMNS)?;
        }
    }
    let out = serde_json::json!({ "import": dashboard.report(), "filter": filter, "overview": overview });
    println!("{}", serde_json::to_string_pretty(&out).map_err(|e| Error::Invalid(e.to_string()))?);
    Ok(0)
}
