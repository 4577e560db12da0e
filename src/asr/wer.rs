//! Word and character error rates, on text normalised the way the ASR
//! benchmark's reference numbers were taken (lower case, `ё`→`е`,
//! punctuation stripped).

use super::hallucination::normalize;

/// Edit operations needed to turn `hyp` into `reference`, and the reference length.
pub fn edits<T: PartialEq>(reference: &[T], hyp: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=hyp.len()).collect();
    let mut cur = vec![0; hyp.len() + 1];
    for (i, r) in reference.iter().enumerate() {
        cur[0] = i + 1;
        for (j, h) in hyp.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[hyp.len()]
}

/// (errors, reference words) so that a corpus WER is a ratio of sums.
pub fn word_errors(reference: &str, hyp: &str) -> (usize, usize) {
    let (r, h) = (normalize(reference), normalize(hyp));
    let r: Vec<&str> = r.split_whitespace().collect();
    let h: Vec<&str> = h.split_whitespace().collect();
    (edits(&r, &h), r.len())
}

/// (errors, reference characters), spaces excluded.
pub fn char_errors(reference: &str, hyp: &str) -> (usize, usize) {
    let r: Vec<char> = normalize(reference).chars().filter(|c| !c.is_whitespace()).collect();
    let h: Vec<char> = normalize(hyp).chars().filter(|c| !c.is_whitespace()).collect();
    (edits(&r, &h), r.len())
}

fn corpus_rate<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, errors: fn(&str, &str) -> (usize, usize)) -> f64 {
    let (e, n) = pairs.into_iter().map(|(r, h)| errors(r, h)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    e as f64 / n.max(1) as f64
}

/// Corpus WER over (reference, hypothesis) pairs.
pub fn corpus_wer<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> f64 {
    corpus_rate(pairs, word_errors)
}

/// Corpus CER over (reference, hypothesis) pairs.
pub fn corpus_cer<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> f64 {
    corpus_rate(pairs, char_errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_substitutions_insertions_deletions() {
        assert_eq!(word_errors("Привет, мир!", "привет мир"), (0, 2));
        assert_eq!(word_errors("один два три", "один три"), (1, 3));
        assert_eq!(word_errors("один два", "один два три четыре"), (2, 2));
        assert_eq!(word_errors("ёлка зелёная", "елка красная"), (1, 2));
        assert_eq!(char_errors("кот", "кит"), (1, 3));
        let wer = corpus_wer([("а б в г", "а б в г"), ("д е", "д")]);
        assert!((wer - 1.0 / 6.0).abs() < 1e-12);
        let cer = corpus_cer([("кот", "кит"), ("да", "да")]);
        assert!((cer - 1.0 / 5.0).abs() < 1e-12);
    }
}
