//! On-screen text: what a creative says in its picture (brand, product,
//! offer over a music bed), read from sampled frames with Tesseract.
//!
//! The engine runs natively through libtesseract ([`tesseract`]); what
//! surrounds it is shared by every shell: which frames to read
//! ([`choose_frames`]: one a second, only where the picture changed), the
//! engine's TSV ([`tsv`]) and the cleaning that turns many noisy readings of
//! the same slides into a few lines ([`ScreenText::merge`]).

pub mod tsv;
#[cfg(all(feature = "ocr", not(target_arch = "wasm32")))]
pub mod tesseract;

use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::error::Result;
use crate::media::{FrameCount, FrameSize, Frames};

pub use tsv::{parse_lines, Line, Word};

/// Words read with less confidence than this (Tesseract's 0–100) are
/// dropped: on pictures and moving backgrounds the engine also "reads"
/// texture, and such readings score far lower than real letters.
pub const MIN_WORD_CONFIDENCE: f32 = 60.0;

/// Two readings at least this similar (1 − edit distance / length, over
/// their letters and digits) are the same line seen twice.
const SAME_LINE: f32 = 0.75;

/// Frames sampled: one a second, at most 30 (a longer creative is sampled
/// more sparsely); of those, at most 12 are read, and no more once reading
/// has taken 12 s (a busy moving background makes every frame slow to read:
/// slides over one take 1–1.5 s a frame, a texture with no text up to the
/// readings' deadlines).
pub const SAMPLED: FrameCount = FrameCount::PerSecond { rate: 1.0, max: 30 };
pub const MAX_READ_FRAMES: usize = 12;
pub const MAX_READ_SECONDS: f64 = 12.0;

/// Frames handed to the engine: 720p keeps captions of a 1080p creative
/// legible while bounding the time per frame.
pub const FRAME_SIZE: FrameSize = FrameSize::Fit(1280);

/// How Tesseract is run: natively by [`tesseract`], and in the page by
/// tesseract.js (its worker gets these through the module), so that both
/// read a frame the same way.
#[derive(Debug, Serialize)]
pub struct TesseractSettings {
    /// The traineddata read, `+`-joined: Russian and English (brands and
    /// offers mix them).
    pub languages: &'static str,
    /// `OEM_LSTM_ONLY`: the traineddata's LSTM recogniser.
    pub engine_mode: i32,
    /// `PSM_SPARSE_TEXT`: as much text as possible in no particular order —
    /// captions and slides scattered over a picture, not a page.
    pub page_segmentation: i32,
    /// Each frame is read once per `thresholding_method`: global (0, Otsu:
    /// large captions on flat colour) and local (2, Sauvola: text over a
    /// busy picture, which a global threshold cuts into pieces).
    /// [`ScreenText::merge`] keeps each line once, in its surest reading.
    pub thresholdings: [&'static str; 2],
    /// Screen pixels have no physical size; 70 is what Tesseract assumes
    /// (with a warning) when told nothing.
    pub source_ppi: i32,
    /// The longest one reading may take: a busy texture (foliage, a crowd,
    /// a pattern) can keep the engine segmenting "letters" for seconds;
    /// what it read by then is kept (natively; the page's engine cannot be
    /// stopped inside a reading, so its worker is stopped after the frame's
    /// readings' deadlines and the frame is lost). Twice what a moving
    /// background takes on a loaded 2-core machine, so that only a texture
    /// makes the result depend on the machine's speed.
    pub reading_deadline_ms: i32,
    /// No more frames are started once reading a creative has taken this long.
    pub creative_budget_s: f64,
}

pub const TESSERACT: TesseractSettings = TesseractSettings {
    languages: "rus+eng",
    engine_mode: 1,
    page_segmentation: 11,
    thresholdings: ["0", "2"],
    source_ppi: 70,
    reading_deadline_ms: 2000,
    creative_budget_s: MAX_READ_SECONDS,
};

/// A frame as the file the page's Tesseract reads (binary PPM, which its
/// image library decodes without any codec): `width`×`height` RGB rows.
pub fn ppm(rgb: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut out = format!("P6\n{width} {height}\n255\n").into_bytes();
    out.extend_from_slice(rgb);
    out
}

/// One frame as the engine read it: its lines (of every thresholding), and
/// whether a reading stopped at [`TesseractSettings::reading_deadline_ms`]
/// with the frame unfinished.
#[derive(Debug, Clone, Default)]
pub struct FrameReading {
    pub lines: Vec<Line>,
    pub cut_short: bool,
}

/// Reads the on-screen text of sampled `frames` with `read` (an OCR engine:
/// an RGB frame, its width and height → its reading), reading only the
/// frames [`choose_frames`] picks, in [`reading_order`], until
/// [`MAX_READ_SECONDS`] have passed.
pub fn read_frames(frames: &Frames, mut read: impl FnMut(&[u8], usize, usize) -> Result<FrameReading>) -> Result<ScreenText> {
    let (w, h) = (frames.frame_width as usize, frames.frame_height as usize);
    let thumbs: Vec<Thumbnail> = frames.rgb.iter().map(|f| Thumbnail::of(f, w, h)).collect();
    let order = reading_order(&choose_frames(&thumbs, MAX_READ_FRAMES));
    let t = Instant::now();
    let mut read_so_far = Vec::with_capacity(order.len());
    let mut cut_short = false;
    for &i in &order {
        if t.elapsed().as_secs_f64() > MAX_READ_SECONDS {
            cut_short = true;
            break;
        }
        let reading = read(&frames.rgb[i], w, h)?;
        cut_short |= reading.cut_short;
        read_so_far.push((i, reading.lines));
    }
    let mut text = ScreenText::from_frames(read_so_far, frames.rgb.len(), order.len(), cut_short);
    text.ocr_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(text)
}

/// A creative's on-screen text, natively: frames sampled from its bytes
/// (H.264 video, or a JPEG/PNG still) and read by Tesseract.
#[cfg(all(feature = "ocr", not(target_arch = "wasm32")))]
pub fn read_screen(engine: &mut tesseract::Tesseract, bytes: &[u8]) -> Result<ScreenText> {
    let t = Instant::now();
    let frames = crate::media::guarded("video stream", || crate::media::sample_frames_as(bytes, SAMPLED, FRAME_SIZE))?;
    let frames_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut text = read_frames(&frames, |rgb, w, h| engine.read(rgb, w, h))?;
    text.frames_ms = frames_ms;
    Ok(text)
}

/// Bumped when a change to frame choice or cleaning changes what is read,
/// so cached readings of older builds are not reused.
pub const SCREEN_POLICY: u32 = 3;

/// When a creative's picture is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScreenMode {
    /// Never.
    Off,
    /// When its speech alone is weak: nothing said, or fewer than
    /// [`WEAK_SPEECH_WORDS`] words. A long voice-over decides without the
    /// picture, and reading it would only add time.
    #[default]
    Auto,
    /// Every creative with a picture.
    Always,
}

/// Fewer words than this make speech "weak": the fusion's default weight
/// gives such speech less than 90 % of the decision.
pub const WEAK_SPEECH_WORDS: usize = 20;

impl ScreenMode {
    /// Whether to read the picture of a creative with `words` words of speech.
    pub fn wants(self, words: usize) -> bool {
        match self {
            ScreenMode::Off => false,
            ScreenMode::Auto => words < WEAK_SPEECH_WORDS,
            ScreenMode::Always => true,
        }
    }
}

/// An OCR engine reading a creative's picture from its bytes. Natively
/// [`TesseractReader`]; the page reads frames the browser decoded instead.
pub trait ScreenReader: Send + Sync {
    fn read(&self, bytes: &[u8]) -> Result<ScreenText>;
    /// Identifies the engine and its models in cache keys.
    fn id(&self) -> &str;
}

/// Tesseract behind a lock (one instance is not thread-safe), with the
/// traineddata hashes as its identity.
#[cfg(all(feature = "ocr", not(target_arch = "wasm32")))]
pub struct TesseractReader {
    engine: std::sync::Mutex<tesseract::Tesseract>,
    id: String,
}

#[cfg(all(feature = "ocr", not(target_arch = "wasm32")))]
impl TesseractReader {
    /// Loads the traineddata in `tessdata`; `id` names them (their hashes).
    pub fn new(tessdata: &std::path::Path, id: String) -> Result<TesseractReader> {
        let engine = tesseract::Tesseract::new(tessdata, TESSERACT.languages)?;
        Ok(TesseractReader { engine: std::sync::Mutex::new(engine), id: format!("tesseract {} {id}", tesseract::version()) })
    }
}

#[cfg(all(feature = "ocr", not(target_arch = "wasm32")))]
impl ScreenReader for TesseractReader {
    fn read(&self, bytes: &[u8]) -> Result<ScreenText> {
        // A panic while reading leaves the engine unusable for this creative
        // only; the next one gets it back.
        let mut engine = self.engine.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        read_screen(&mut engine, bytes)
    }

    fn id(&self) -> &str {
        &self.id
    }
}

/// A line of on-screen text, cleaned, with how sure the engine was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreenLine {
    pub text: String,
    /// Mean confidence of its words, 0–100.
    pub confidence: f32,
    /// How many of the frames read showed it.
    pub frames: usize,
}

/// The text of a creative's picture: each distinct line once, in the order
/// it first appeared.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScreenText {
    pub lines: Vec<ScreenLine>,
    /// Frames sampled; of those the ones chosen to be read (the others
    /// repeated the picture before them), and of those the ones read.
    pub frames_sampled: usize,
    #[serde(default)]
    pub frames_chosen: usize,
    pub frames_read: usize,
    /// Reading stopped at a time limit: frames chosen were left unread, or
    /// a reading stopped at its deadline. What was read is kept, but a
    /// faster or quieter machine may read more.
    #[serde(default)]
    pub cut_short: bool,
    /// Milliseconds spent decoding frames and reading them.
    pub frames_ms: f64,
    pub ocr_ms: f64,
}

impl ScreenText {
    /// The text of the frames read: each frame's index and its lines, in
    /// the order they were read; the lines are merged in the frames' order.
    pub fn from_frames(mut read: Vec<(usize, Vec<Line>)>, frames_sampled: usize, frames_chosen: usize, cut_short: bool) -> ScreenText {
        read.sort_by_key(|&(i, _)| i);
        let frames_read = read.len();
        let lines: Vec<Vec<Line>> = read.into_iter().map(|(_, lines)| lines).collect();
        ScreenText { lines: ScreenText::merge(&lines), frames_sampled, frames_chosen, frames_read, cut_short, frames_ms: 0.0, ocr_ms: 0.0 }
    }

    /// The text of frames read elsewhere (the page's Tesseract): `readings`
    /// are the TSV of each reading (one per thresholding of [`TESSERACT`])
    /// of the first frames of `order`, as many as were read.
    pub fn from_readings(order: &[usize], readings: &[String], frames_sampled: usize, cut_short: bool) -> ScreenText {
        let per_frame = TESSERACT.thresholdings.len();
        let read = order
            .iter()
            .zip(readings.chunks(per_frame))
            .map(|(&i, tsvs)| (i, tsvs.iter().flat_map(|tsv| parse_lines(tsv)).collect()))
            .collect();
        ScreenText::from_frames(read, frames_sampled, order.len(), cut_short)
    }

    /// The lines as one text, a line each (what the classifier reads).
    pub fn text(&self) -> String {
        self.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n")
    }

    pub fn words(&self) -> usize {
        self.lines.iter().map(|l| l.text.split_whitespace().count()).sum()
    }

    /// The cleaned, de-duplicated lines of the frames read, in order: words
    /// under [`MIN_WORD_CONFIDENCE`] or with no letter or digit dropped,
    /// lines with fewer than three letters dropped, a line seen again (or
    /// seen whole after a part of it, as a slide builds up) kept once in
    /// its most confident reading.
    pub fn merge(frames: &[Vec<Line>]) -> Vec<ScreenLine> {
        let mut kept: Vec<(String, ScreenLine)> = Vec::new();
        for line in frames.iter().flatten() {
            let Some(reading) = clean_line(line) else { continue };
            let key = normalised(&reading.text);
            let same = kept.iter().position(|(k, _)| similarity(k, &key) >= SAME_LINE || part_of(&key, k) || part_of(k, &key));
            match same {
                Some(i) => {
                    let (k, old) = &mut kept[i];
                    let frames = old.frames + 1;
                    // The longer reading wins a build-up; the surer one a repeat.
                    if key.len() > k.len() + 2 || (key.len() + 2 >= k.len() && reading.confidence > old.confidence) {
                        *k = key;
                        *old = reading;
                    }
                    old.frames = frames;
                }
                None => kept.push((key, reading)),
            }
        }
        // A piece read before its whole line was first seen by another,
        // unrelated line's slot: drop it now that the whole is known.
        let keys: Vec<String> = kept.iter().map(|(k, _)| k.clone()).collect();
        kept.into_iter()
            .enumerate()
            .filter(|(i, (k, _))| !keys.iter().enumerate().any(|(j, other)| j != *i && part_of(k, other)))
            .map(|(_, (_, l))| l)
            .collect()
    }
}

/// A line whose words are on average less sure than this is texture, not
/// text: real captions read at 85–96.
const MIN_LINE_CONFIDENCE: f32 = 75.0;

/// One line's confident words, or None when too little of it is text.
fn clean_line(line: &Line) -> Option<ScreenLine> {
    let words: Vec<&Word> = line
        .words
        .iter()
        .filter(|w| w.confidence >= MIN_WORD_CONFIDENCE && w.text.chars().any(char::is_alphanumeric) && !looks_like_texture(&w.text))
        .collect();
    let letters: usize = words.iter().map(|w| w.text.chars().filter(|c| c.is_alphabetic()).count()).sum();
    let longest = words.iter().map(|w| w.text.chars().filter(|c| c.is_alphabetic()).count()).max().unwrap_or(0);
    if words.is_empty() || letters < 4 || longest < 3 {
        return None;
    }
    let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
    let confidence = words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32;
    (confidence >= MIN_LINE_CONFIDENCE).then_some(ScreenLine { text, confidence, frames: 1 })
}

/// What the engine "reads" in a pattern rather than in letters: the same
/// letter three times running ("FFF", "rrr"), or a short word in a case no
/// word is written in ("rFr", "FFrr"). Longer words may mix cases
/// (ВКонтакте, YouTube).
fn looks_like_texture(word: &str) -> bool {
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    let lower = |c: &char| c.to_lowercase().next();
    let tripled = letters.windows(3).any(|w| lower(&w[0]) == lower(&w[1]) && lower(&w[1]) == lower(&w[2]));
    // Word-like case: all small, all capitals, or one capital then small.
    let word_like = letters.len() > 4
        || letters.iter().all(|c| c.is_lowercase())
        || letters.iter().all(|c| c.is_uppercase())
        || letters.iter().skip(1).all(|c| c.is_lowercase());
    tripled || !word_like
}

/// Lower-case letters and digits, single spaces: what two readings of one
/// line share despite punctuation and case noise.
fn normalised(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(if c == 'ё' { 'е' } else { c });
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    out.trim_end().to_string()
}

/// Whether `part` is a piece of `line` read on its own (a slide building
/// up, or a reading that lost some words): at least 3/4 of its letters are
/// in words that match a word of `line` (similarity ≥ 0.7, or inside it).
fn part_of(part: &str, line: &str) -> bool {
    let words: Vec<&str> = line.split(' ').collect();
    let (mut matched, mut total) = (0, 0);
    for w in part.split(' ') {
        let n = w.chars().count();
        total += n;
        // A word cut at the frame's or the box's edge is a piece of one ("ый"
        // of "каждый"), its last letter often misread ("каждь").
        let cut = |l: &str| n >= 3 && similarity(w, &l.chars().take(n).collect::<String>()) >= SAME_LINE;
        if words.iter().any(|l| similarity(w, l) >= 0.7 || (n >= 2 && l.contains(w)) || cut(l)) {
            matched += n;
        }
    }
    total >= 4 && part.len() < line.len() && matched * 4 >= total * 3
}

/// 1 − Levenshtein distance / the longer length, over characters.
fn similarity(a: &str, b: &str) -> f32 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    1.0 - crate::asr::wer::edits(&a, &b) as f32 / longest as f32
}

/// A frame shrunk to a small grey grid: enough to tell a new slide or a new
/// caption from the same picture held, at a tiny fraction of reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail(Vec<u8>);

/// Grid of a [`Thumbnail`]; fine enough that a changed caption line changes cells.
const THUMB_W: usize = 64;
const THUMB_H: usize = 36;

/// A cell changed when its grey level moved by more than this…
const CELL_CHANGE: u8 = 24;
/// …and the picture changed when more than this share of cells did.
const CHANGED_SHARE: f32 = 0.004;

impl Thumbnail {
    /// Of a `width`×`height` RGB frame (rows of RGB bytes).
    pub fn of(rgb: &[u8], width: usize, height: usize) -> Thumbnail {
        let mut cells = vec![0u8; THUMB_W * THUMB_H];
        if width == 0 || height == 0 || rgb.len() < width * height * 3 {
            return Thumbnail(cells);
        }
        for (k, cell) in cells.iter_mut().enumerate() {
            let (cx, cy) = (k % THUMB_W, k / THUMB_W);
            let (x0, x1) = (cx * width / THUMB_W, ((cx + 1) * width / THUMB_W).max(cx * width / THUMB_W + 1));
            let (y0, y1) = (cy * height / THUMB_H, ((cy + 1) * height / THUMB_H).max(cy * height / THUMB_H + 1));
            let (mut sum, mut n) = (0u64, 0u64);
            for y in y0..y1.min(height) {
                for x in x0..x1.min(width) {
                    let p = &rgb[(y * width + x) * 3..][..3];
                    sum += (299 * p[0] as u64 + 587 * p[1] as u64 + 114 * p[2] as u64) / 1000;
                    n += 1;
                }
            }
            *cell = (sum / n.max(1)) as u8;
        }
        Thumbnail(cells)
    }

    /// True when `other` shows a different picture (or different text).
    pub fn differs(&self, other: &Thumbnail) -> bool {
        let changed = self.0.iter().zip(&other.0).filter(|(a, b)| a.abs_diff(**b) > CELL_CHANGE).count();
        changed as f32 > CHANGED_SHARE * self.0.len() as f32
    }
}

/// Which sampled frames to read: the first, then each that differs from the
/// last one chosen; at most `budget`, spread evenly over those when more
/// changed (a moving background changes every frame).
pub fn choose_frames(thumbs: &[Thumbnail], budget: usize) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::new();
    for (i, t) in thumbs.iter().enumerate() {
        if chosen.last().is_none_or(|&j| thumbs[j].differs(t)) {
            chosen.push(i);
        }
    }
    if chosen.len() <= budget.max(1) {
        return chosen;
    }
    let n = budget.max(1);
    (0..n).map(|k| chosen[(k * chosen.len() + chosen.len() / (2 * n)) / n]).collect()
}

/// The order in which the `chosen` frames (indices, in time order) are
/// read: spread over the creative first (the first, the last, then each
/// time the one farthest from those already read), so that when reading
/// stops at its time budget every slide has still most likely been read.
pub fn reading_order(chosen: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::with_capacity(chosen.len());
    let mut left: Vec<usize> = chosen.to_vec();
    while !left.is_empty() {
        let distance = |f: usize| order.iter().map(|&o| f.abs_diff(o)).min().unwrap_or(0);
        // The first frame first; then the farthest, the earlier on ties.
        let next = if order.is_empty() { 0 } else { (0..left.len()).rev().max_by_key(|&k| distance(left[k])).unwrap_or(0) };
        order.push(left.remove(next));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(words: &[(&str, f32)]) -> Line {
        Line { words: words.iter().map(|&(t, c)| Word { text: t.into(), confidence: c, height: 30 }).collect() }
    }

    #[test]
    fn repeated_and_built_up_lines_are_kept_once_in_their_best_reading() {
        let frames = vec![
            vec![line(&[("Оформите", 90.0), ("кредитную", 88.0)]), line(&[("~", 20.0), ("ЕЕ", 30.0)])],
            vec![line(&[("Оформите", 93.0), ("кредитную", 91.0), ("карту", 92.0)])],
            vec![line(&[("Оформите", 95.0), ("кредитную", 70.0), ("карту", 90.0)]), line(&[("Кэшбэк", 85.0), ("10%", 80.0)])],
            vec![line(&[("0формите", 60.0), ("кредитную", 80.0), ("карту,", 85.0)])],
        ];
        let lines = ScreenText::merge(&frames);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, vec!["Оформите кредитную карту", "Кэшбэк 10%"]);
        assert_eq!(lines[0].frames, 4);
        assert_eq!(lines[1].frames, 1);
        assert!((lines[0].confidence - 92.0).abs() < 1e-4, "{}", lines[0].confidence);
    }

    #[test]
    fn unsure_words_and_letterless_lines_are_dropped() {
        let frames = vec![vec![
            line(&[("—", 95.0), ("12", 96.0)]),
            line(&[("Музыка", 91.0), ("ii", 30.0), ("без", 89.0), ("рекламы", 90.0)]),
            line(&[("ab", 99.0)]),
        ]];
        let texts: Vec<String> = ScreenText::merge(&frames).into_iter().map(|l| l.text).collect();
        assert_eq!(texts, vec!["Музыка без рекламы"]);
    }

    #[test]
    fn a_reading_that_lost_words_is_a_part_of_the_whole_line() {
        let frames = vec![
            vec![line(&[("Зарплатная", 95.0), ("карта", 94.0)]), line(&[("кешбэк", 93.0), ("рублями", 92.0), ("каждый", 91.0), ("месяц", 90.0)])],
            vec![line(&[("рублями", 80.0), ("месяц", 85.0)]), line(&[("Зарплатная", 90.0), ("карта", 90.0)])],
            vec![line(&[("Кредитная", 90.0), ("карта", 90.0)])],
        ];
        let texts: Vec<String> = ScreenText::merge(&frames).into_iter().map(|l| l.text).collect();
        assert_eq!(texts, vec!["Зарплатная карта", "кешбэк рублями каждый месяц", "Кредитная карта"]);
        assert!(part_of("коррткие видео", "снимай короткие видео"));
        assert!(part_of("рублями каждь", "кешбэк рублями каждый месяц"), "a word cut at the edge, its last letter misread");
        assert!(!part_of("кредитная карта", "зарплатная карта"));
    }

    #[test]
    fn texture_is_told_from_words() {
        for noise in ["FFF", "rrr", "rFr", "FFrr", "ЕЕЕ"] {
            assert!(looks_like_texture(noise), "{noise}");
        }
        for word in ["карта", "Кредитная", "ВКонтакте", "YouTube", "ИП", "10%", "Алиса,"] {
            assert!(!looks_like_texture(word), "{word}");
        }
    }

    #[test]
    fn similarity_is_one_minus_the_relative_edit_distance() {
        assert_eq!(similarity("карта", "карта"), 1.0);
        assert!((similarity("карта", "карты") - 0.8).abs() < 1e-6);
        assert_eq!(similarity("", ""), 1.0);
        assert_eq!(normalised("  Кэшбэк: 10%!  Ёлка"), "кэшбэк 10 елка");
    }

    fn slide(width: usize, height: usize, text_rows: std::ops::Range<usize>, text_cols: std::ops::Range<usize>) -> Vec<u8> {
        let mut rgb = vec![0u8; width * height * 3];
        for y in 0..height {
            for x in 0..width {
                let on = text_rows.contains(&y) && text_cols.contains(&x) && (x / 3) % 2 == 0;
                let p = if on { [250, 250, 250] } else { [20, 30, 110] };
                rgb[(y * width + x) * 3..][..3].copy_from_slice(&p);
            }
        }
        rgb
    }

    #[test]
    fn a_held_picture_is_read_once_and_a_new_caption_again() {
        let (w, h) = (640, 360);
        let a = Thumbnail::of(&slide(w, h, 150..190, 100..540), w, h);
        let b = Thumbnail::of(&slide(w, h, 250..290, 100..300), w, h);
        let frames = vec![a.clone(), a.clone(), a.clone(), b.clone(), b.clone(), a.clone()];
        assert!(!a.differs(&a));
        assert!(a.differs(&b));
        assert_eq!(choose_frames(&frames, 12), vec![0, 3, 5]);
        // Every frame different (a moving background): spread over the budget.
        let moving: Vec<Thumbnail> = (0..20).map(|k| if k % 2 == 0 { a.clone() } else { b.clone() }).collect();
        let picked = choose_frames(&moving, 4);
        assert_eq!(picked.len(), 4);
        assert!(picked.windows(2).all(|p| p[0] < p[1]) && picked[3] >= 15, "{picked:?}");
    }

    #[test]
    fn frames_are_read_spread_over_the_creative_and_merged_in_time_order() {
        assert_eq!(reading_order(&[0, 1, 2, 3, 4, 5, 6]), vec![0, 6, 3, 1, 2, 4, 5]);
        assert_eq!(reading_order(&[2, 9, 10, 20]), vec![2, 20, 10, 9]);
        assert_eq!(reading_order(&[4]), vec![4]);
        assert!(reading_order(&[]).is_empty());
        // Read last-slide-first, the lines still come in the slides' order.
        let tsv = |text: &str| format!("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n5\t1\t1\t1\t1\t1\t0\t0\t10\t30\t95\t{text}\n");
        let readings = [tsv("Вторая"), tsv("Вторая"), tsv("Первая"), String::new()];
        let text = ScreenText::from_readings(&[6, 0, 3], &readings, 7, true);
        assert_eq!(text.text(), "Первая\nВторая");
        assert_eq!((text.frames_sampled, text.frames_chosen, text.frames_read, text.cut_short), (7, 3, 2, true));
    }
}
