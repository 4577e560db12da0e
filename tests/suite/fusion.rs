//! The speech and vision branches combined: who decides, how the weight
//! follows the amount of speech, calibration, and the reports.

use creative_filter::asr::{AsrTimings, Transcript};
use creative_filter::classify::fusion::{self, calibrate, CalibrationSample, FusionParams, SpeechAmount};
use creative_filter::classify::{Basis, Classifier, Head, LogRegParams, SegmentDictionary};
use creative_filter::creative::{Creative, Heard, StageTimings};
use creative_filter::lang::Lang;
use creative_filter::pipeline::{
    notes, results_table, verdict, verdict_with_vision, Features, Modality, ScreenFeatures, VisionOutcome, NO_SPEECH_NOTE,
};
use creative_filter::Error;
use creative_filter::screen::{ScreenLine, ScreenText};
use creative_filter::vision::VISION_OFF_NOTE;

fn dict() -> SegmentDictionary {
    SegmentDictionary::default_ru()
}

/// Probabilities peaked on column `i` (mass `peak`), the rest spread evenly.
fn peaked(k: usize, i: usize, peak: f32) -> Vec<f32> {
    (0..k).map(|j| if j == i { peak } else { (1.0 - peak) / (k - 1) as f32 }).collect()
}

fn speech(words: usize) -> SpeechAmount {
    SpeechAmount { words, no_speech_prob: 0.01 }
}

#[test]
fn without_speech_the_video_decides() {
    let d = dict();
    let v = peaked(d.len(), 14, 0.6); // segment 15, Музыка
    let out = fusion::decide(&d, None, Some(&v), speech(0), &FusionParams::default()).unwrap().unwrap();
    assert_eq!(out.basis, Basis::Vision);
    assert_eq!(out.decision.segment_id, 15);
    assert_eq!(out.speech_top, None);
    assert_eq!(out.vision_top.as_ref().map(|t| t.0), Some(15));
    assert!(fusion::decide(&d, None, None, speech(0), &FusionParams::default()).unwrap().is_none());
}

#[test]
fn long_clear_speech_dominates_and_a_few_doubtful_words_do_not() {
    let d = dict();
    let (t, v) = (peaked(d.len(), 11, 0.5), peaked(d.len(), 14, 0.5)); // 12 vs 15, equally sure
    let p = FusionParams::default();
    let long = fusion::decide(&d, Some(&t), Some(&v), speech(60), &p).unwrap().unwrap();
    assert_eq!(long.basis, Basis::Fused);
    assert_eq!(long.decision.segment_id, 12, "a 60-word voice-over decides");
    assert!(long.text_weight.unwrap() > 0.9, "{:?}", long.text_weight);
    assert_eq!((long.speech_top.unwrap().0, long.vision_top.unwrap().0), (12, 15));
    let doubtful = SpeechAmount { words: 2, no_speech_prob: 0.6 };
    let short = fusion::decide(&d, Some(&t), Some(&v), doubtful, &p).unwrap().unwrap();
    assert_eq!(short.decision.segment_id, 15, "two doubtful words yield to the video");
    assert!(short.text_weight.unwrap() < 0.2);
    // The weight grows with words and falls with the no-speech probability.
    assert!(p.text_weight(speech(5)) < p.text_weight(speech(20)));
    assert!(p.text_weight(SpeechAmount { words: 20, no_speech_prob: 0.8 }) < p.text_weight(speech(20)));
    let mixed = fusion::log_linear(&t, &v, 0.5);
    assert!((mixed.iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

/// Labelled creatives where the branch named `noisy` is right only by chance.
fn synthetic(noisy_text: bool) -> (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<SpeechAmount>, Vec<usize>) {
    let k = 6;
    let (mut text, mut vision, mut amount, mut truth) = (vec![], vec![], vec![], vec![]);
    let mut state = 12345u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for i in 0..120 {
        let y = i % k;
        let wrong = (y + 1 + next() % (k - 1)) % k;
        let good = peaked(k, y, 0.7);
        let noise = peaked(k, if next() % 2 == 0 { wrong } else { y }, 0.7);
        let (t, v) = if noisy_text { (noise, good) } else { (good, noise) };
        text.push(t);
        vision.push(v);
        amount.push(speech(3 + next() % 40));
        truth.push(y);
    }
    (text, vision, amount, truth)
}

fn calibrated(noisy_text: bool) -> FusionParams {
    let (t, v, s, y) = synthetic(noisy_text);
    let samples: Vec<CalibrationSample> = (0..y.len())
        .map(|i| CalibrationSample { text: &t[i], picture: &v[i], speech: s[i], truth: y[i] })
        .collect();
    let p = calibrate(&samples).unwrap();
    assert_eq!(calibrate(&samples).unwrap(), p, "calibration is deterministic");
    p
}

#[test]
fn calibration_gives_the_weight_to_the_branch_that_is_not_noise() {
    let trust_video = calibrated(true);
    let trust_speech = calibrated(false);
    for words in [3, 10, 40] {
        assert!(trust_video.text_weight(speech(words)) < 0.2, "{trust_video:?} at {words} words");
        assert!(trust_speech.text_weight(speech(words)) > 0.8, "{trust_speech:?} at {words} words");
    }
    assert_eq!(calibrate(&[]).unwrap(), FusionParams::default(), "nothing to learn from keeps the defaults");
}

fn features(text: &str, speech: bool, embedding: Option<Vec<f32>>) -> Features {
    let transcript = Transcript {
        text: text.into(),
        speech,
        no_speech_prob: if speech { 0.02 } else { 0.9 },
        language: "ru".into(),
        spans: vec![],
        rejected: vec![],
        windows: 1,
        timings: AsrTimings::default(),
    };
    let heard = Heard { duration_s: 15.0, codec: "aac".into(), truncated: false, incomplete: false, transcript, timings: StageTimings::default() };
    Features { heard, embedding, cached: false, embed_ms: 0.0, screen: None, screen_note: None }
}

/// A zero-shot speech classifier whose prototypes are the axes.
fn axis_classifier() -> (Classifier, usize) {
    let d = dict();
    let k = d.len();
    let protos: Vec<Vec<f32>> = (0..k).map(|i| (0..k).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    (Classifier::new(Some(&d), None, &protos).unwrap(), k)
}

#[test]
fn verdicts_report_who_decided_and_both_branches_answers() {
    let (clf, k) = axis_classifier();
    let creative = Creative::from_file_name("42.mp4");
    let p = FusionParams::default();

    // Music only: the video decides.
    let silent = features("", false, None);
    let v = verdict_with_vision(&clf, &creative, &silent, Ok(peaked(k, 14, 0.7)), &p).unwrap();
    assert_eq!(v.modality, Modality::Vision);
    assert_eq!(v.decision.as_ref().unwrap().segment_id, 15);
    assert!(v.speech_top.is_none() && v.vision_top.as_ref().unwrap().segment_id == 15);

    // A long voice-over about credit cards (axis 11 = segment 12) over a music-like video.
    let words = "кредитная карта с льготным периодом оформите онлайн ".repeat(8);
    let mut e = vec![0.0; k];
    e[11] = 1.0;
    let talk = features(&words, true, Some(e));
    let v = verdict_with_vision(&clf, &creative, &talk, Ok(peaked(k, 14, 0.6)), &p).unwrap();
    assert_eq!(v.modality, Modality::Fused);
    assert_eq!(v.decision.as_ref().unwrap().segment_id, 12);
    assert_eq!((v.speech_top.as_ref().unwrap().segment_id, v.vision_top.as_ref().unwrap().segment_id), (12, 15));
    let fused_report = v.report("zero-shot");
    let json = serde_json::to_value(&fused_report).unwrap();
    assert_eq!(json["modality"], "fused");
    assert_eq!(json["speech"], true);
    assert_eq!(json["vision_segment"]["segment_id"], 15);
    assert!(json["speech_weight"].as_f64().unwrap() > 0.9);

    // Frames that cannot be read: speech still answers and the reason is kept.
    let v = verdict_with_vision(&clf, &creative, &talk, Err(notes::no_video_frames(Error::VideoDecode("broken".into()).message())), &p).unwrap();
    assert_eq!(v.modality, Modality::Speech);
    assert_eq!(v.decision.as_ref().unwrap().segment_id, 12);
    assert_eq!(v.vision_note.as_ref().map(|m| m.text.as_str()), Some("no video frames: the video could not be decoded: broken"));
    assert_eq!(v.report("zero-shot").said.vision_note.unwrap().cause.unwrap().code, "video-decode");

    // Vision branch off and no speech: undecided, saying both.
    let off = verdict(&clf, &creative, &silent).unwrap();
    assert_eq!(off.modality, Modality::NoSpeech);
    let note = off.report("zero-shot").note.unwrap();
    assert!(note.starts_with(NO_SPEECH_NOTE) && note.contains(VISION_OFF_NOTE), "{note}");
    assert_eq!(off.note.iter().map(|m| m.code.as_str()).collect::<Vec<_>>(), ["no-speech", "vision-off"]);

    let results = results_table(&[fused_report, off.report("zero-shot")], Lang::En);
    let table = &results.table;
    assert_eq!(table.headers[6], "Modality");
    assert_eq!(table.rows[0][6], "fused");
    assert!(table.rows[0][12].starts_with("12 Кредитные карты"), "{:?}", table.rows[0]);
    assert!(table.rows[0][14].starts_with("15 Музыка"), "{:?}", table.rows[0]);
    assert_eq!(table.rows[1][15], VISION_OFF_NOTE, "the vision note differs between the rows, so each keeps its own");
    assert_eq!(table.rows[0][15], "");
}

/// Features with the picture's text read, embedded on `axis`.
fn with_screen(mut f: Features, lines: &[&str], axis: Option<usize>, k: usize) -> Features {
    let text = ScreenText {
        lines: lines.iter().map(|l| ScreenLine { text: l.to_string(), confidence: 90.0, frames: 2 }).collect(),
        frames_sampled: 8,
        frames_chosen: 2,
        frames_read: 2,
        cut_short: false,
        frames_ms: 10.0,
        ocr_ms: 300.0,
    };
    let embedding = axis.map(|a| {
        let mut e = vec![0.0; k];
        e[a] = 1.0;
        e
    });
    f.screen = Some(ScreenFeatures { text, embedding });
    f
}

#[test]
fn screen_text_decides_a_silent_creative_and_yields_to_a_long_voice_over() {
    let (clf, k) = axis_classifier();
    let creative = Creative::from_file_name("43.mp4");
    let p = FusionParams::default();
    // No speech, a credit-card slide (axis 11 = segment 12): the screen decides.
    let silent = with_screen(features("", false, None), &["Кредитная карта", "120 дней без процентов"], Some(11), k);
    let v = verdict_with_vision(&clf, &creative, &silent, Err(notes::vision_off()), &p).unwrap();
    assert_eq!(v.modality, Modality::Screen);
    assert_eq!(v.decision.as_ref().unwrap().segment_id, 12);
    assert_eq!(v.screen_top.as_ref().unwrap().segment_id, 12);
    let r = serde_json::to_value(v.report("zero-shot")).unwrap();
    assert_eq!(r["modality"], "screen");
    assert_eq!(r["screen_text"], "Кредитная карта\n120 дней без процентов");
    assert_eq!(r["timings_ms"]["screen"], 310.0);
    // A long voice-over about cards outweighs a music slide; both tops are kept.
    let words = "кредитная карта с льготным периодом оформите онлайн ".repeat(8);
    let mut e = vec![0.0; k];
    e[11] = 1.0;
    let talk = with_screen(features(&words, true, Some(e)), &["Слушайте музыку без рекламы"], Some(14), k);
    let v = verdict_with_vision(&clf, &creative, &talk, Err(notes::vision_off()), &p).unwrap();
    assert_eq!(v.modality, Modality::Fused);
    assert_eq!(v.decision.as_ref().unwrap().segment_id, 12);
    assert_eq!((v.speech_top.unwrap().segment_id, v.screen_top.unwrap().segment_id), (12, 15));
    // A lone word on screen is shown, not classified; the note says why there is no answer.
    let logo = with_screen(features("", false, None), &["Бренд"], None, k);
    let v = verdict_with_vision(&clf, &creative, &logo, Err(notes::vision_off()), &p).unwrap();
    assert!(v.decision.is_none());
    assert!(v.report("zero-shot").note.unwrap().contains("too little text on screen to classify"));
    assert_eq!(v.note.last().unwrap().code, "little-screen-text");
}

#[test]
fn a_trained_speech_against_screen_weight_decides_between_them() {
    let d = dict();
    let k = d.len();
    let axis = |a: usize| -> Vec<f32> { (0..k).map(|j| if j == a { 1.0 } else { 0.0 }).collect() };
    // A head that reads the axes: segment i's examples lie on axis i.
    let (mut x, mut y) = (vec![], vec![]);
    for (i, id) in d.ids().into_iter().enumerate() {
        for _ in 0..3 {
            x.extend(axis(i));
            y.push(id);
        }
    }
    let texts = vec![""; y.len()];
    let (head, _) = Head::train(d.clone(), "axes", &texts, &x, k, &y, &LogRegParams::default(), None).unwrap();
    let protos: Vec<Vec<f32>> = (0..k).map(axis).collect();
    let creative = Creative::from_file_name("44.mp4");
    // Twelve words about cards (segment 12) beside a music slide (segment 15).
    let talk = with_screen(
        features("кредитная карта с льготным периодом оформите онлайн за пять минут сегодня", true, Some(axis(11))),
        &["Слушайте музыку без рекламы"],
        Some(14),
        k,
    );
    let decide = |head: &Head, video: VisionOutcome| {
        let clf = Classifier::new(Some(&d), Some(head.clone()), &protos).unwrap();
        verdict_with_vision(&clf, &creative, &talk, video, &FusionParams::default()).unwrap()
    };
    let untrained = decide(&head, Err(notes::vision_off()));
    assert_eq!(untrained.decision.as_ref().unwrap().segment_id, 12, "by default twelve clear words outweigh the screen");
    // Labelled creatives taught that their screens tell the truth and their speech does not.
    let trusting = Head { screen_fusion: Some(FusionParams { bias: -4.0, per_log_word: 0.0, no_speech: 0.0 }), ..head.clone() };
    let v = decide(&trusting, Err(notes::vision_off()));
    assert_eq!(v.decision.as_ref().unwrap().segment_id, 15);
    assert!(v.text_weight.unwrap() < 0.05, "{:?}", v.text_weight);
    assert_eq!(v.modality, Modality::Fused);
    // With a video beside the screen, the picture is both and the video's weight applies.
    let with_video = decide(&trusting, Ok(peaked(k, 14, 0.6)));
    assert!((with_video.text_weight.unwrap() - FusionParams::default().text_weight(SpeechAmount::of(&talk.heard.transcript.text, 0.02))).abs() < 1e-6);
}
