//! Classification as users run it: zero-shot out of the box, a head trained
//! on their labelled texts, the evaluation report, and the batch table.


use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::media;
use creative_filter::table::{read_table_file, Table};

fn cli(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_creative-filter"));
    c.arg("--cache").arg(cache);
    c
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cf-classify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn top_ids(row: &serde_json::Value) -> Vec<u64> {
    row["top"].as_array().unwrap().iter().map(|t| t["segment_id"].as_u64().unwrap()).collect()
}

#[test]
fn zero_shot_classifies_out_of_the_box_and_the_second_run_is_cached() {
    let dir = scratch("zero-shot");
    let files = [media("voice.wav"), media("music.wav"), media("notes.txt")];
    let out = cli(&dir.join("cache")).arg("classify").args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.len(), 3);
    let voice = &rows[0];
    assert_eq!((voice["modality"].as_str(), voice["classifier"].as_str()), (Some("speech"), Some("zero-shot")));
    // A credit-card voice-over: "Кредитные карты" (12) is among the three best segments.
    assert!(top_ids(voice).contains(&12), "{voice}");
    assert_eq!(top_ids(voice).len(), 3);
    let c = voice["confidence"].as_f64().unwrap();
    assert!(c > 1.0 / 18.0 && c <= 1.0, "confidence {c}");
    assert!(voice["transcript"].as_str().unwrap().to_lowercase().contains("карт"));
    assert_eq!(voice["cached"], false);
    assert_eq!(rows[1]["modality"], "no-speech");
    assert!(rows[1]["segment_id"].is_null() && rows[1]["note"].as_str().unwrap().contains("no speech"));
    assert!(rows[2]["error"].as_str().unwrap().contains("not a media file"));

    let again = cli(&dir.join("cache")).arg("classify").arg(media("voice.wav")).output().unwrap();
    let again = &json_lines(&again.stdout)[0];
    assert_eq!(again["cached"], true, "the transcript comes from the cache");
    assert_eq!(again["segment_id"], voice["segment_id"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_head_trained_on_labelled_texts_decides_and_is_evaluated() {
    let dir = scratch("train");
    let head = dir.join("head.json");
    let cache = dir.join("cache");
    let out = cli(&cache)
        .args(["train", "--cv", "4", "--texts"])
        .arg(fixture("train_texts.jsonl"))
        .arg("--out")
        .arg(&head)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for part in ["4-fold cross-validation on 16 examples", "macro avg", "weighted avg", "confusion matrix", "ROC-AUC", "Кредитные карты"] {
        assert!(stdout.contains(part), "no {part:?} in:\n{stdout}");
    }
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&head).unwrap()).unwrap();
    assert_eq!(saved["format"], "creative-filter-head");
    assert!(saved["embedding_model"].as_str().unwrap().contains("e5"));

    let out = cli(&cache).arg("classify").arg("--head").arg(&head).arg(media("voice.wav")).output().unwrap();
    let row = &json_lines(&out.stdout)[0];
    assert_eq!((row["classifier"].as_str(), row["segment_id"].as_u64()), (Some("trained"), Some(12)), "{row}");

    let report = dir.join("eval.json");
    let out = cli(&cache)
        .arg("eval")
        .arg("--head")
        .arg(&head)
        .arg("--texts")
        .arg(fixture("train_texts.jsonl"))
        .arg("--json")
        .arg(&report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    // The head on its own training texts: every one right.
    assert_eq!(eval["report"]["accuracy"].as_f64(), Some(1.0), "{eval}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn predict_table_fills_every_row_and_names_each_problem() {
    let dir = scratch("table");
    let folder = dir.join("data");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(media("voice.wav"), folder.join("000101.wav")).unwrap();
    std::fs::copy(media("music.wav"), folder.join("000102.wav")).unwrap();
    std::fs::copy(media("notes.txt"), folder.join("000103.jpg")).unwrap();
    let mut input = Table::new(vec!["Advertisement ID".into(), "Бренд".into()]);
    for (id, brand) in [("000101", "Банк «Ёлка»"), ("000102", "Музыка"), ("000103", "x"), ("", "без ID"), ("999", "нет файла")] {
        input.push_row(vec![id.into(), brand.into()]);
    }
    let table = dir.join("ids.csv");
    creative_filter::table::write_table_file(&table, &input, &[]).unwrap();
    let out = cli(&dir.join("cache"))
        .arg("predict-table")
        .arg(&table)
        .arg("--media")
        .arg(&folder)
        .arg("--out")
        .arg(dir.join("answer"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for ext in ["xlsx", "csv"] {
        let answer = read_table_file(&dir.join(format!("answer.{ext}"))).unwrap();
        assert_eq!(answer.rows.len(), 5, "no row dropped ({ext})");
        let col = |name: &str| answer.find_column(&[name]).unwrap_or_else(|| panic!("no {name} column"));
        let (id, brand, seg, status) = (col("Advertisement ID"), col("Бренд"), col("Segment_num"), col("Status"));
        assert_eq!(answer.rows[0][id], "000101", "IDs keep their leading zeros ({ext})");
        assert_eq!(answer.rows[0][brand], "Банк «Ёлка»");
        assert!(answer.rows[0][seg].parse::<u32>().is_ok() && answer.rows[0][status] == "ok", "{:?}", answer.rows[0]);
        assert!(answer.rows[1][seg].is_empty() && answer.rows[1][status].contains("no speech"));
        assert!(answer.rows[2][status].contains("not a media file"), "{:?}", answer.rows[2]);
        assert!(answer.rows[3][status].contains("no Advertisement ID"));
        assert!(answer.rows[4][status].contains("no media file named 999"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
