//! Argument parsing and the per-command drivers.

mod bench;
mod bench_classify;
mod bench_screen;
mod classify;
mod common;
mod dashboard;
mod models;
mod train;
mod transcribe;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "creative-filter", version, about = "Assigns advertising creatives to spend segments, on this machine")]
struct Cli {
    /// Folder holding the prepared models (default: $CREATIVE_FILTER_MODELS or models/ beside the project).
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    /// Worker threads for inference (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Where Whisper's encoder runs: auto (a real GPU that passes a
    /// self-test, else the CPU), cpu, or gpu (any adapter, CPU emulations
    /// included; an error if there is none).
    #[arg(long, global = true, default_value = "auto", value_parser = parse_device)]
    device: creative_filter::gpu::DeviceChoice,
    #[command(flatten)]
    cache: common::CacheArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download, verify and convert the models.
    Models {
        #[command(subcommand)]
        action: models::Action,
    },
    /// Transcribe creatives; one JSON object per file on standard output.
    Transcribe(transcribe::Args),
    /// Assign creatives to segments; one JSON object per file on standard output.
    Classify(classify::ClassifyArgs),
    /// Fill in `Segment_num` for every row of an `Advertisement ID` table; writes .xlsx and .csv.
    PredictTable(classify::PredictTableArgs),
    /// Train a classifier head on labelled creatives or texts.
    Train(train::TrainArgs),
    /// Report precision, recall, F1, confusion matrix and ROC-AUC on labelled data.
    Eval(train::EvalArgs),
    /// Spend by segment, month, advertiser, brand and media type: JSON, SVG charts, .xlsx/.csv.
    Dashboard(dashboard::Args),
    /// Benchmarks against a peer implementation.
    Bench {
        #[command(subcommand)]
        what: bench::What,
    },
}

fn parse_device(s: &str) -> std::result::Result<creative_filter::gpu::DeviceChoice, String> {
    creative_filter::gpu::DeviceChoice::from_name(s).ok_or_else(|| format!("{s:?} is not a device: auto, cpu or gpu"))
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        // candle and rayon size their pools from this on first use.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    // Mesa's Vulkan drivers look for a Wayland display while wgpu opens an
    // adapter, and on a headless machine without XDG_RUNTIME_DIR libwayland
    // prints an error line on every run. Computing needs no display: an
    // empty runtime folder quiets it. Set before any thread starts.
    #[cfg(target_os = "linux")]
    if cli.device != creative_filter::gpu::DeviceChoice::Cpu && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    common::set_device(cli.device);
    common::record_panics_quietly();
    let models_dir = cli.models.unwrap_or_else(creative_filter::models::default_dir);
    let command = std::panic::AssertUnwindSafe(move || match cli.command {
        Command::Models { action } => models::run(action, &models_dir),
        Command::Transcribe(args) => transcribe::run(args, &models_dir),
        Command::Classify(args) => classify::classify(args, &models_dir, &cli.cache),
        Command::PredictTable(args) => classify::predict_table(args, &models_dir, &cli.cache),
        Command::Train(args) => train::train(args, &models_dir, &cli.cache),
        Command::Eval(args) => train::eval(args, &models_dir, &cli.cache),
        Command::Dashboard(args) => dashboard::run(args),
        Command::Bench { what } => bench::run(what, &models_dir, &cli.cache),
    });
    match std::panic::catch_unwind(command) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("creative-filter: {e}");
            2
        }
        Err(panic) => {
            eprintln!("creative-filter: internal error ({}); please report it", common::panic_message(panic.as_ref()));
            101
        }
    }
}
