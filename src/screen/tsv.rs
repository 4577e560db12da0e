//! Tesseract's TSV output (`GetTSVText`, the same in libtesseract and in
//! tesseract.js) → the words of one frame, grouped into lines.
//!
//! Columns: level, page_num, block_num, par_num, line_num, word_num, left,
//! top, width, height, conf, text. Level 5 rows are words, with a
//! confidence 0–100; the other levels are layout and carry conf −1.

/// One recognised word.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    /// Tesseract's confidence, 0–100.
    pub confidence: f32,
    /// Height of its box in pixels (its letters' size on screen).
    pub height: u32,
}

/// The words of one text line of a frame, left to right.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Line {
    pub words: Vec<Word>,
}

/// The lines of one frame, top to bottom as Tesseract laid them out.
/// Rows that do not parse (a damaged line, a header) are skipped: the TSV
/// comes from the engine, not from a user.
pub fn parse_lines(tsv: &str) -> Vec<Line> {
    let mut lines: Vec<((u32, u32, u32, u32), Line)> = Vec::new();
    for row in tsv.lines() {
        let cols: Vec<&str> = row.splitn(12, '\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let num = |i: usize| cols[i].trim().parse::<u32>().ok();
        let (Some(page), Some(block), Some(par), Some(line)) = (num(1), num(2), num(3), num(4)) else {
            continue;
        };
        let (Ok(confidence), Some(height)) = (cols[10].trim().parse::<f32>(), num(9)) else {
            continue;
        };
        let text = cols[11].trim();
        if text.is_empty() {
            continue;
        }
        let key = (page, block, par, line);
        let word = Word { text: text.to_string(), confidence, height };
        match lines.last_mut() {
            Some((k, l)) if *k == key => l.words.push(word),
            _ => lines.push((key, Line { words: vec![word] })),
        }
    }
    lines.into_iter().map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_grouped_by_line_and_layout_rows_skipped() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0\t0\t640\t360\t-1\t\n\
                   4\t1\t1\t1\t1\t0\t10\t10\t300\t40\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t10\t10\t120\t40\t96.5\tОформите\n\
                   5\t1\t1\t1\t1\t2\t140\t10\t90\t38\t91\tкарту\n\
                   5\t1\t1\t1\t2\t1\t10\t60\t90\t20\t40.25\tкэшбэк\n\
                   5\t1\t1\t1\t2\t2\t10\t60\t90\t20\t12\t \n\
                   5\tx\t1\t1\t2\t3\t10\t60\t90\t20\t12\tdamaged\n";
        let lines = parse_lines(tsv);
        assert_eq!(lines.len(), 2);
        let texts: Vec<Vec<&str>> = lines.iter().map(|l| l.words.iter().map(|w| w.text.as_str()).collect()).collect();
        assert_eq!(texts, vec![vec!["Оформите", "карту"], vec!["кэшбэк"]]);
        assert_eq!(lines[0].words[0].confidence, 96.5);
        assert_eq!(lines[0].words[1].height, 38);
        assert_eq!(lines[1].words[0].confidence, 40.25);
    }
}
