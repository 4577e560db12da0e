//! Recognising what Whisper invents on music, noise and silence.
//!
//! Whisper was trained on subtitled video, so over music it tends to write
//! subtitle credits ("Субтитры сделал …"), "Продолжение следует…" or a
//! description of the music, and a stuck decoder repeats itself. Such text
//! must not reach the classifier as if it were speech.

use std::io::Write;

/// Whole-segment texts that are credits or sound descriptions, not speech
/// (compared after [`normalize`]).
const EXACT: &[&str] = &[
    "продолжение следует",
    "динамичная музыка",
    "спокойная музыка",
    "веселая музыка",
    "грустная музыка",
    "музыка",
    "музыкальная заставка",
    "играет музыка",
    "аплодисменты",
    "смех",
    "спасибо за просмотр",
    "спасибо за внимание",
    "до новых встреч",
    "подписывайтесь на канал",
    "ставьте лайки",
    "тишина",
];

/// Prefixes of subtitle credits, which never occur in real advertising speech.
const PREFIXES: &[&str] = &[
    "субтитры",
    "редактор субтитров",
    "корректор",
    "автор субтитров",
    "субтитрование",
    "перевод субтитров",
];

/// Lower case, `ё`→`е`, punctuation and brackets removed, spaces collapsed.
pub fn normalize(text: &str) -> String {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c == 'ё' { 'е' } else { c })
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why a segment of transcript is not speech, if it is not.
pub fn reject_reason(text: &str) -> Option<&'static str> {
    let n = normalize(text);
    if n.chars().filter(|c| c.is_alphabetic()).count() == 0 {
        return Some("no words (music symbols or punctuation only)");
    }
    if EXACT.contains(&n.as_str()) {
        return Some("a known music/silence hallucination");
    }
    if PREFIXES.iter().any(|p| n.starts_with(p)) {
        return Some("subtitle credits hallucinated on music");
    }
    if describes_music(&n) {
        return Some("a description of the music, not speech");
    }
    if is_sound_caption(text) {
        return Some("a sound caption in capitals, not speech");
    }
    None
}

/// "ТЕЛЕФОННЫЙ ЗВОНОК", "ЗВУЧИТ МУЗЫКА": subtitles for the hard of hearing
/// write sound events in capitals, and Whisper learnt to write them over
/// tones and noise (its beam search finds them likelier than silence).
/// Speech comes out in sentence case; acronyms (ВТБ, МТС) are short and
/// alone, so a caption needs two words and one of at least five letters.
fn is_sound_caption(text: &str) -> bool {
    let words: Vec<&str> = text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).collect();
    words.len() >= 2
        && words.iter().all(|w| w.chars().all(char::is_uppercase))
        && words.iter().any(|w| w.chars().count() >= 5)
}

/// "Бодрая музыка", "тревожная лирическая музыка": one or two adjectives and
/// "музыка", the caption style Whisper writes over music. A name such as
/// "Яндекс Музыка" is not an adjective and is kept.
fn describes_music(normalized: &str) -> bool {
    const ADJECTIVE_ENDINGS: &[&str] = &["ая", "яя", "ое", "ее", "ые", "ие", "ий", "ый", "ой"];
    let words: Vec<&str> = normalized.split(' ').collect();
    match words.split_last() {
        Some((&"музыка", before)) if (1..=2).contains(&before.len()) => {
            before.iter().all(|w| w.chars().count() > 3 && ADJECTIVE_ENDINGS.iter().any(|e| w.ends_with(e)))
        }
        _ => false,
    }
}

/// zlib compression ratio of the text, as Whisper uses it: repetition loops
/// compress far better (> 2.4) than real speech. Whisper's threshold was set
/// on one-byte-per-letter text; in UTF-8 every Cyrillic letter carries a
/// redundant lead byte that inflates the ratio (ordinary Russian sentences
/// reach 2.5), so Cyrillic is measured in its one-byte encoding.
pub fn compression_ratio(text: &str) -> f32 {
    if text.is_empty() {
        return 0.0;
    }
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&bytes).expect("writing to memory");
    let compressed = enc.finish().expect("writing to memory");
    bytes.len() as f32 / compressed.len() as f32
}

/// True when the text has enough letters to be worth classifying (the earlier
/// server-side solution also treated transcripts under 3 characters as silence).
pub fn has_words(text: &str) -> bool {
    text.chars().filter(|c| c.is_alphabetic()).count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_music_hallucinations_are_rejected() {
        for t in [
            "Субтитры сделал DimaTorzok",
            "Продолжение следует...",
            "[Динамичная музыка]",
            "♪ ♪ ♪",
            "Редактор субтитров А.Синецкая Корректор А.Егорова",
            "БОДРАЯ МУЗЫКА",
            "Тревожная лирическая музыка.",
            "ТЕЛЕФОННЫЙ ЗВОНОК",
            "(ЗВУЧИТ МУЗЫКА)",
        ] {
            assert!(reject_reason(t).is_some(), "{t}");
        }
    }

    #[test]
    fn advertising_speech_is_kept() {
        for t in [
            "Оформите кредитную карту с кешбэком десять процентов.",
            "Слушайте музыку без рекламы в подписке",
            "Доставка бесплатно!",
            "Яндекс Музыка",
            "Новая музыка каждый день",
            "ВТБ",
            "МТС ТВ",
            "Кредит в ВТБ ОНЛАЙН",
        ] {
            assert_eq!(reject_reason(t), None, "{t}");
        }
    }

    #[test]
    fn repetition_compresses_well() {
        let loop_text = "Спасибо. ".repeat(40);
        let speech = "Оформите кредитную карту с кешбэком десять процентов и бесплатной доставкой на дом уже сегодня.";
        // A real menu prompt with repeated phrasing (asterisk vm-options): 2.56 in UTF-8.
        let menu = "Нажмите один для записи вашего сообщения при статусе недоступен. Нажмите два для записи \
            вашего сообщения при статусе занята. Нажмите три для записи вашего имени. Нажмите четыре для \
            записи временного сообщения. Нажмите пять для смены пароля или звездочку для возвратов главной имени.";
        assert!(compression_ratio(&loop_text) > 2.4);
        assert!(compression_ratio(speech) < 2.4);
        assert!(compression_ratio(menu) < 2.4, "{}", compression_ratio(menu));
        assert!(has_words("да, это"));
        assert!(!has_words("а ."));
    }
}
