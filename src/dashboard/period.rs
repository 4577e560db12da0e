//! Calendar months, from the `Year` and `Month` cells users' files hold.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::message::Message;

/// A calendar month. Orders chronologically; written `2024-03`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub year: u16,
    /// 1–12.
    pub month: u8,
}

impl Period {
    pub fn new(year: u16, month: u8) -> Option<Period> {
        (FIRST_YEAR..=LAST_YEAR).contains(&year).then_some(())?;
        (1..=12).contains(&month).then_some(Period { year, month })
    }

    /// `2024-03`.
    pub fn parse(text: &str) -> Option<Period> {
        let (y, m) = text.trim().split_once(['-', '.', '/'])?;
        Period::new(y.parse().ok()?, m.parse().ok()?)
    }

    /// `мар 2024` / `Mar 2024`, for chart axes.
    pub fn label(self, lang: super::Lang) -> String {
        let names = match lang {
            super::Lang::Ru => RU_SHORT,
            super::Lang::En => EN_SHORT,
        };
        format!("{} {}", names[usize::from(self.month) - 1], self.year)
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{:02}", self.year, self.month)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
        let text = String::deserialize(d)?;
        Period::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a month such as 2024-03")))
    }
}

const FIRST_YEAR: u16 = 1990;
const LAST_YEAR: u16 = 2100;
const RU_SHORT: [&str; 12] = ["янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"];
const EN_SHORT: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A whole number as a cell holds it: `3`, ` 03 `, `3.0` (an Excel number).
fn whole_number(cell: &str) -> Option<u32> {
    let s = cell.trim();
    let s = s.strip_suffix(".0").or_else(|| s.strip_suffix(",0")).unwrap_or(s);
    s.parse().ok()
}

/// Parses a year cell: `2024`, `2024.0`.
pub fn parse_year(cell: &str) -> Result<u16, Message> {
    let bad = || match cell.trim() {
        "" => Message::new("no-year", "no year"),
        v => Message::new("bad-year", format!("year {v:?} is not a year between {FIRST_YEAR} and {LAST_YEAR}"))
            .with("value", v)
            .with("first", FIRST_YEAR)
            .with("last", LAST_YEAR),
    };
    whole_number(cell).and_then(|y| u16::try_from(y).ok()).filter(|y| (FIRST_YEAR..=LAST_YEAR).contains(y)).ok_or_else(bad)
}

/// Parses a month cell: a number 1–12 or a Russian or English month name in
/// any case or grammatical form, full or abbreviated (`март`, `марта`,
/// `Мар.`, `March`, `mar`).
pub fn parse_month(cell: &str) -> Result<u8, Message> {
    let bad = || match cell.trim() {
        "" => Message::new("no-month", "no month"),
        v => Message::new("bad-month", format!("month {v:?} is not a month number or name")).with("value", v),
    };
    if let Some(n) = whole_number(cell) {
        return u8::try_from(n).ok().filter(|m| (1..=12).contains(m)).ok_or_else(bad);
    }
    let word = cell.trim().trim_end_matches('.');
    let letter = |c: char| c.is_ascii_alphabetic() || matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё');
    if word.chars().count() < 3 || !word.chars().all(letter) {
        return Err(bad());
    }
    // The first three letters, lower-cased, name the month.
    let mut stem = [' '; 3];
    for (slot, c) in stem.iter_mut().zip(word.chars().flat_map(char::to_lowercase)) {
        *slot = c;
    }
    // Russian stems cover every case form (март, марта, марте); May's own
    // forms (май, мая, мае) share only "ма" and are listed whole.
    const STEMS: [(&str, u8); 26] = [
        ("янв", 1), ("фев", 2), ("мар", 3), ("апр", 4), ("май", 5), ("мая", 5), ("мае", 5), ("июн", 6), ("июл", 7),
        ("авг", 8), ("сен", 9), ("окт", 10), ("ноя", 11), ("дек", 12),
        ("jan", 1), ("feb", 2), ("mar", 3), ("apr", 4), ("may", 5), ("jun", 6), ("jul", 7), ("aug", 8), ("sep", 9),
        ("oct", 10), ("nov", 11), ("dec", 12),
    ];
    STEMS.iter().find(|(s, _)| s.chars().eq(stem)).map(|&(_, m)| m).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_as_numbers_and_names() {
        for (cell, m) in [
            ("3", 3), (" 03 ", 3), ("3.0", 3), ("12", 12), ("март", 3), ("Марта", 3), ("МАР.", 3), ("май", 5), ("мая", 5),
            ("Январь", 1), ("сентябрь", 9), ("Sept", 9), ("March", 3), ("may", 5), ("DEC", 12), ("ноябрь", 11),
        ] {
            assert_eq!(parse_month(cell), Ok(m), "{cell:?}");
        }
        for cell in ["0", "13", "", "ма", "smarch", "3a", "-1"] {
            assert!(parse_month(cell).is_err(), "{cell:?}");
        }
    }

    #[test]
    fn years_and_periods() {
        assert_eq!(parse_year("2024"), Ok(2024));
        assert_eq!(parse_year("2024.0"), Ok(2024));
        assert!(parse_year("24").unwrap_err().text.contains("not a year"));
        assert_eq!(parse_year("").unwrap_err().code, "no-year");
        let p = Period::parse("2024-03").unwrap();
        assert_eq!(p.to_string(), "2024-03");
        assert!(Period::new(2024, 1).unwrap() < Period::new(2024, 2).unwrap());
        assert!(Period::new(2023, 12).unwrap() < Period::new(2024, 1).unwrap());
        assert_eq!(p.label(super::super::Lang::Ru), "мар 2024");
    }
}
