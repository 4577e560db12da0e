//! `models import xclip`: the tiny fixture checkpoint imported into a
//! scratch models folder, loaded as the product loads it, and compared
//! with the model read straight from safetensors.

use std::path::{Path, PathBuf};

use creative_filter::models::manifest::Manifest;
use creative_filter::models::{xclip, XCLIP_GGUF, XCLIP_TOKENIZER};
use creative_filter::text::WeightFormat;
use creative_filter::vision::{video_tensor, XClipConfig, XClipModel, VisionModel};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-xclip")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cf-xclip-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A checkpoint folder with some of the fixture's files.
fn partial(name: &str, files: &[&str]) -> PathBuf {
    let dir = scratch(name);
    for f in files {
        std::fs::copy(fixture().join(f), dir.join(f)).unwrap();
    }
    dir
}

/// Eight 32×32 frames that differ from each other.
fn frames() -> Vec<Vec<u8>> {
    (0..8).map(|t| (0..3 * 32 * 32).map(|i| ((i * 7 + t * 29) % 256) as u8).collect()).collect()
}

const PROMPTS: [&str; 3] = ["a video advertisement for a bank card", "music streaming", "a social network"];

fn manifest(dir: &Path) -> Manifest {
    Manifest::from_json(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn an_imported_checkpoint_gives_the_safetensors_models_outputs() {
    let models = scratch("f32");
    assert!(VisionModel::load(&models).unwrap().is_none(), "nothing imported: the branch is off");
    let first = xclip::import(&fixture(), &models, WeightFormat::F32).unwrap();
    assert!(!first.unchanged);
    let vision = VisionModel::load(&models).unwrap().expect("imported");
    assert_eq!((vision.frames(), vision.image_size()), (8, 32));

    let config = XClipConfig::from_json(&std::fs::read(fixture().join("config.json")).unwrap()).unwrap();
    let reference =
        XClipModel::from_safetensors(&std::fs::read(fixture().join("model.safetensors")).unwrap(), &config, WeightFormat::F32)
            .unwrap();
    let rgb = frames();
    let refs: Vec<&[u8]> = rgb.iter().map(Vec::as_slice).collect();
    let want_video = reference.video_features(&video_tensor(&refs, 32).unwrap()).unwrap();
    let got_video = vision.video(&rgb, 32).unwrap();
    let (a, b) = (want_video.embeds.flatten_all().unwrap().to_vec1::<f32>().unwrap(), got_video.embeds.flatten_all().unwrap().to_vec1::<f32>().unwrap());
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5), "video embeddings differ");

    let text = vision.prompt_features(&PROMPTS).unwrap();
    let logits = reference.logits_per_video(&want_video, &text).unwrap().logits_per_video.get(0).unwrap().to_vec1::<f32>().unwrap();
    let m = logits.iter().copied().fold(f32::MIN, f32::max);
    let sum: f32 = logits.iter().map(|l| (l - m).exp()).sum();
    let want: Vec<f32> = logits.iter().map(|l| (l - m).exp() / sum).collect();
    let got = vision.zero_shot_probs(&got_video, &text).unwrap();
    assert!(want.iter().zip(&got).all(|(x, y)| (x - y).abs() < 1e-5), "{want:?} vs {got:?}");
    let e = vision.embedding(&got_video).unwrap();
    assert!((e.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
    // Fewer frames than the model takes are repeated, not refused.
    assert!(vision.video(&rgb[..3], 32).is_ok());
    assert!(vision.video(&[], 32).is_err() && vision.video(&rgb, 16).is_err());

    // The manifest records both files as a user-supplied model; importing again changes nothing.
    let m = manifest(&models);
    for f in [XCLIP_GGUF, XCLIP_TOKENIZER] {
        let entry = m.get(f).unwrap_or_else(|| panic!("{f} in the manifest"));
        assert_eq!(entry.licence, xclip::IMPORTED_LICENCE);
        assert_eq!(entry.bytes, std::fs::metadata(models.join(f)).unwrap().len());
        assert!(entry.source.ends_with("tiny-xclip"), "{}", entry.source);
    }
    let again = xclip::import(&fixture(), &models, WeightFormat::F32).unwrap();
    assert!(again.unchanged);
    assert_eq!(manifest(&models), m);

    // Q8_0 (the default) is smaller and replaces the f32 file.
    let f32_bytes = m.get(XCLIP_GGUF).unwrap().bytes;
    let q8 = xclip::import(&fixture(), &models, WeightFormat::Q8_0).unwrap();
    assert!(!q8.unchanged);
    assert_eq!(manifest(&models).files.len(), 2);
    assert!(manifest(&models).get(XCLIP_GGUF).unwrap().bytes < f32_bytes);
    let q = VisionModel::load(&models).unwrap().unwrap();
    let p = q.zero_shot_probs(&q.video(&rgb, 32).unwrap(), &q.prompt_features(&PROMPTS).unwrap()).unwrap();
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    std::fs::remove_dir_all(&models).unwrap();
}

#[test]
fn a_checkpoint_with_vocab_and_merges_imports_the_same_tokenizer() {
    let src = partial("vocab-merges", &["config.json", "model.safetensors", "vocab.json", "merges.txt"]);
    let (a, b) = (scratch("tok-a"), scratch("tok-b"));
    xclip::import(&src, &a, WeightFormat::F32).unwrap();
    xclip::import(&fixture(), &b, WeightFormat::F32).unwrap();
    let features = |dir: &Path| {
        VisionModel::load(dir).unwrap().unwrap().prompt_features(&PROMPTS).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    assert_eq!(features(&a), features(&b));
    for d in [src, a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn bad_checkpoints_are_refused_with_one_clear_line() {
    let models = scratch("bad-models");
    let check = |src: &Path, wanted: &str| {
        let e = xclip::import(src, &models, WeightFormat::Q8_0).unwrap_err().to_string();
        assert!(e.contains(wanted), "{e:?} should say {wanted:?}");
        assert!(!e.contains('\n'), "one line: {e:?}");
    };
    check(&fixture().join("config.json"), "not a folder");
    let no_weights = partial("no-weights", &["config.json", "tokenizer.json"]);
    check(&no_weights, "no model.safetensors");
    let no_tokenizer = partial("no-tokenizer", &["config.json", "model.safetensors"]);
    check(&no_tokenizer, "no tokenizer");
    let no_config = partial("no-config", &["model.safetensors", "tokenizer.json"]);
    check(&no_config, "no config.json");

    let other = partial("clip", &["model.safetensors", "tokenizer.json"]);
    let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture().join("config.json")).unwrap()).unwrap();
    c["model_type"] = "clip".into();
    std::fs::write(other.join("config.json"), c.to_string()).unwrap();
    check(&other, "xclip");

    let shapes = partial("shapes", &["model.safetensors", "tokenizer.json"]);
    c["model_type"] = "xclip".into();
    let vocab = c["text_config"]["vocab_size"].as_u64().unwrap();
    c["text_config"]["vocab_size"] = (vocab + 1).into();
    std::fs::write(shapes.join("config.json"), c.to_string()).unwrap();
    check(&shapes, "shape");
    assert!(!models.join("manifest.json").exists(), "nothing is recorded for a refused checkpoint");
    for d in [no_weights, no_tokenizer, no_config, other, shapes, models] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_vision_head_trains_on_video_embeddings_with_the_text_machinery() {
    use creative_filter::classify::training::Examples;
    use creative_filter::classify::{LogRegParams, Segment, SegmentDictionary};
    use creative_filter::vision::classify::train_head;
    use creative_filter::vision::VisionClassifier;

    let models = scratch("head");
    xclip::import(&fixture(), &models, WeightFormat::F32).unwrap();
    let vision = VisionModel::load(&models).unwrap().unwrap();
    let segments = SegmentDictionary::new(vec![
        Segment::new(10, "Дебетовые карты", "", "a bank card"),
        Segment::new(15, "Музыка", "", "music"),
    ])
    .unwrap();
    // Dark, slowly changing videos are segment 10; bright, busy ones 15.
    let video = |seed: usize, bright: bool| -> Vec<Vec<u8>> {
        (0..8)
            .map(|t| {
                (0..3 * 32 * 32)
                    .map(|i| if bright { 160 + ((i * 13 + t * 41 + seed * 7) % 96) as u8 } else { ((i / 97 + t + seed) % 40) as u8 })
                    .collect()
            })
            .collect()
    };
    let (mut x, mut y, mut videos) = (vec![], vec![], vec![]);
    for seed in 0..6 {
        for (bright, id) in [(false, 10), (true, 15)] {
            let v = video(seed, bright);
            x.push(vision.embedding(&vision.video(&v, 32).unwrap()).unwrap());
            y.push(id);
            videos.push(v);
        }
    }
    let dim = x[0].len();
    let ex = Examples::new(segments.clone(), vec![], x, y.clone(), vec![], dim);
    let trained = train_head(&vision, &ex, &LogRegParams::default(), 3, 42).unwrap();
    let cv = trained.cross_validation.as_ref().expect("cross-validated");
    assert_eq!(cv.report.n_samples, 12);
    assert_eq!(trained.head.embedding_model, vision.id());
    assert_eq!(trained.head.examples, vec![6, 6]);

    let clf = VisionClassifier::new(&vision, Some(&segments), Some(trained.head.clone())).unwrap();
    assert_eq!(clf.mode(), "trained");
    let right = videos
        .iter()
        .zip(&y)
        .filter(|(v, &id)| {
            let p = clf.probs(&vision, &vision.video(v, 32).unwrap()).unwrap();
            segments.segments()[if p[0] > p[1] { 0 } else { 1 }].id == id
        })
        .count();
    assert_eq!(right, 12, "the head separates the two kinds of video it was trained on");
    assert_eq!(VisionClassifier::new(&vision, Some(&segments), None).unwrap().mode(), "zero-shot");

    let mut foreign = trained.head;
    foreign.embedding_model = "e5-small.gguf@0123".into();
    let e = VisionClassifier::new(&vision, Some(&segments), Some(foreign)).err().expect("a head of another model is refused");
    assert!(e.to_string().contains("retrain the head"), "{e}");
    std::fs::remove_dir_all(&models).unwrap();
}

#[test]
fn a_creative_seen_before_is_answered_from_the_cache_without_its_frames() {
    use creative_filter::cache::FeatureCache;
    use creative_filter::classify::{Segment, SegmentDictionary};
    use creative_filter::pipeline::vision_outcome;
    use creative_filter::vision::VisionBranch;
    use creative_filter::Error;

    let models = scratch("recall");
    xclip::import(&fixture(), &models, WeightFormat::F32).unwrap();
    let dictionary = |prompt: &str| {
        SegmentDictionary::new(vec![Segment::new(10, "Карты", "", "a bank card"), Segment::new(15, "Музыка", "", prompt)]).unwrap()
    };
    let segments = dictionary("music");
    let (branch, _) = VisionBranch::new(VisionModel::load(&models).unwrap().unwrap(), &segments, None).unwrap();
    let cache = FeatureCache::in_memory();
    let unread = || -> creative_filter::Result<(Vec<Vec<u8>>, usize)> { Err(Error::Invalid("the frames were read".into())) };

    let (first, embedding) = vision_outcome(Some(&branch), &segments, &cache, "hash-a", || Ok((frames(), 32)));
    let (first, embedding) = (first.unwrap(), embedding.unwrap());
    // The same file again: the same answer and embedding, its frames untouched.
    let (again, kept) = vision_outcome(Some(&branch), &segments, &cache, "hash-a", unread);
    assert_eq!((again.unwrap(), kept.unwrap()), (first, embedding));
    // Another file, or other prompts for the zero-shot answer, are looked at anew.
    assert!(vision_outcome(Some(&branch), &segments, &cache, "hash-b", unread).0.is_err());
    let other = dictionary("a concert");
    let (branch, _) = VisionBranch::new(VisionModel::load(&models).unwrap().unwrap(), &other, None).unwrap();
    assert!(vision_outcome(Some(&branch), &other, &cache, "hash-a", unread).0.is_err(), "zero-shot answers are kept per prompts");
    std::fs::remove_dir_all(&models).unwrap();
}
