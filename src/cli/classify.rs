//! `creative-filter classify FILE...` and `creative-filter predict-table`.

use std::path::{Path, PathBuf};

use super::common::{isolated, load_dictionary, load_encoder, load_engine, load_head, read_input, AsrArgs, CacheArgs, MediaFolder, ScreenArgs};
use creative_filter::classify::Head;
use creative_filter::creative::Creative;
use creative_filter::error::write_file;
use creative_filter::lang::Lang;
use creative_filter::pipeline::{answer_table, read_ahead, table_files, Report, RowAnswer};
use creative_filter::table::{csv_delimiter, Table, ID_COLUMN_NAMES};
use creative_filter::vision::{VisionBranch, VisionModel, VISION_OFF_NOTE};
use creative_filter::{Error, Result};

/// Which classifier to use.
#[derive(clap::Args)]
pub struct ClassifierArgs {
    /// Trained head (`creative-filter train`); without it segments are chosen zero-shot.
    #[arg(long)]
    head: Option<PathBuf>,
    /// Segment dictionary (.xlsx/.csv: id, name[, description]); segments a
    /// head was not trained on are decided by their description.
    #[arg(long)]
    segments: Option<PathBuf>,
    #[command(flatten)]
    asr: AsrArgs,
    #[command(flatten)]
    screen: ScreenArgs,
}

#[derive(clap::Args)]
pub struct ClassifyArgs {
    /// Creatives (audio or video files).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    classifier: ClassifierArgs,
}

#[derive(clap::Args)]
pub struct PredictTableArgs {
    /// Table with an `Advertisement ID` column (.xlsx or .csv).
    table: PathBuf,
    /// Folder of the creatives, named `<Advertisement ID>.<ext>`.
    #[arg(long)]
    media: PathBuf,
    /// Output path without extension; `.xlsx` and `.csv` are written
    /// (default: the input's name with `_segments`, beside it).
    #[arg(long, short)]
    out: Option<PathBuf>,
    #[command(flatten)]
    classifier: ClassifierArgs,
}

/// The vision branch when an X-CLIP model is imported, else None and a line
/// saying it is off: the head's trained vision part and calibrated fusion
/// when it has one for this model, else zero-shot over the speech
/// classifier's segments.
fn load_vision(models: &Path, clf: &creative_filter::classify::Classifier, head: Option<&Head>) -> Result<Option<VisionBranch>> {
    let Some(model) = VisionModel::load_on(models, super::common::gpu()?)? else {
        eprintln!("{VISION_OFF_NOTE}");
        return Ok(None);
    };
    let (branch, warning) = VisionBranch::new(model, clf.segments(), head)?;
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    Ok(Some(branch))
}

/// Frames of a creative, evenly spaced, for the vision branch.
fn frames(bytes: &[u8], n: usize, size: usize) -> Result<(Vec<Vec<u8>>, usize)> {
    creative_filter::media::sample_frames(bytes, n, size).map(|f| (f.rgb, f.size))
}

pub fn classify(args: ClassifyArgs, models: &Path, cache: &CacheArgs) -> Result<i32> {
    let a = &args.classifier;
    let engine = load_engine(models, load_encoder(models)?, &a.asr, a.screen.screen_text, cache)?;
    let head = load_head(a.head.as_deref(), &engine.encoder)?;
    let clf = engine.classifier(load_dictionary(a.segments.as_deref())?.as_ref(), head.clone())?;
    let vision = load_vision(models, &clf, head.as_ref())?;
    let mut failures = 0;
    let frame_shape = vision.as_ref().map(|b| (b.model.frames(), b.model.image_size()));
    let max_seconds = engine.max_seconds;
    std::thread::scope(|scope| {
        // A reader thread reads and decodes the next creative while the
        // models work on this one (the channel holds one creative ready).
        let (ready, next) = std::sync::mpsc::sync_channel(1);
        let files = &args.files;
        scope.spawn(move || {
            for path in files {
                let creative = Creative::from_file_name(&path.to_string_lossy());
                let sample = frame_shape.map(|(n, size)| move |bytes: &[u8]| frames(bytes, n, size));
                let ahead = isolated(|| Ok(read_ahead(creative.clone(), read_input(path)?, max_seconds, sample)));
                if ready.send((creative, ahead)).is_err() {
                    break;
                }
            }
        });
        for (creative, ahead) in next {
            let line = match ahead.and_then(|a| isolated(|| engine.classify_read_ahead(&clf, vision.as_ref(), a))) {
                Ok(v) => v.report(clf.mode()),
                Err(e) => {
                    failures += 1;
                    Report::failure(&creative, &e.message())
                }
            };
            println!("{}", serde_json::to_string(&line).expect("a report is plain data"));
        }
    });
    Ok(if failures == args.files.len() { 1 } else { 0 })
}

pub fn predict_table(args: PredictTableArgs, models: &Path, cache: &CacheArgs) -> Result<i32> {
    let file = args.table.to_string_lossy().to_string();
    let bytes = std::fs::read(&args.table).map_err(|source| Error::Read { path: args.table.clone(), source })?;
    let table = Table::from_bytes(&file, &bytes)?;
    let id_col = table.require_column(&file, "the creative ID", ID_COLUMN_NAMES)?;
    let folder = MediaFolder::scan(&args.media)?;
    let media = folder.for_rows(&table, id_col);
    let a = &args.classifier;
    let engine = load_engine(models, load_encoder(models)?, &a.asr, a.screen.screen_text, cache)?;
    let head = load_head(a.head.as_deref(), &engine.encoder)?;
    let clf = engine.classifier(load_dictionary(a.segments.as_deref())?.as_ref(), head.clone())?;
    let vision = load_vision(models, &clf, head.as_ref())?;

    let total = table.rows.len();
    let mut outcomes = Vec::with_capacity(total);
    let (mut decided, mut silent, mut failed) = (0, 0, 0);
    for (i, found) in media.into_iter().enumerate() {
        let outcome = found.map_err(|m| m.text).and_then(|path| {
            let creative = Creative::from_file_name(&path.to_string_lossy());
            isolated(|| engine.classify_with_vision(&clf, vision.as_ref(), &creative, read_input(path)?, frames))
                .map_err(|e| e.to_string())
        });
        match &outcome {
            Ok(v) if v.decision.is_some() => decided += 1,
            Ok(_) => silent += 1,
            Err(problem) => {
                failed += 1;
                eprintln!("row {}: {problem}", i + 2);
            }
        }
        if (i + 1) % 25 == 0 {
            eprintln!("{}/{total} rows done", i + 1);
        }
        outcomes.push(outcome);
    }
    let answers: Vec<RowAnswer> = outcomes.iter().map(RowAnswer::from).collect();
    let export = answer_table(&table, &answers, Lang::En);
    let delimiter = csv_delimiter(&file, &bytes);
    let (xlsx, csv) = table_files(&export, delimiter)?;
    let base = args.out.clone().unwrap_or_else(|| {
        let stem = args.table.file_stem().unwrap_or_default().to_string_lossy().to_string();
        args.table.with_file_name(format!("{stem}_segments"))
    });
    let mut written = Vec::new();
    for (ext, bytes) in [("xlsx", xlsx), ("csv", csv)] {
        let path = base.with_extension(ext);
        write_file(&path, bytes)?;
        written.push(path.display().to_string());
    }
    eprintln!(
        "{total} rows: {decided} classified ({} classifier), {silent} undecided without speech, {failed} with problems; {}; written {}",
        clf.mode(),
        if vision.is_some() { "vision branch on" } else { VISION_OFF_NOTE },
        written.join(" and ")
    );
    Ok(0)
}
