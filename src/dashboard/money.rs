//! Money as whole kopecks. Spend is summed over a million rows and every chart
//! must add up to the input to the kopeck, so nothing here touches floats
//! except the rare exponent notation a spreadsheet may write.

use serde::{Deserialize, Serialize};

use crate::message::Message;

/// An amount in kopecks (1/100 RUB). Sums are i128: one cell is below
/// 9·10^18 kopecks, and no number of rows can wrap a total around.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kopecks(pub i128);

/// A number for JSON and JavaScript: exact while it fits in an i64 (every
/// real total), approximate beyond (JavaScript numbers are doubles anyway).
impl Serialize for Kopecks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match i64::try_from(self.0) {
            Ok(v) => s.serialize_i64(v),
            Err(_) => s.serialize_f64(self.0 as f64),
        }
    }
}

impl<'de> Deserialize<'de> for Kopecks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(|v| Kopecks(v.into()))
    }
}

impl Kopecks {
    pub const ZERO: Kopecks = Kopecks(0);

    /// Roubles as a float, for chart geometry only (never for totals).
    pub fn rub_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// `1234567.89`: the plain decimal form written to CSV/XLSX exports.
    pub fn to_decimal(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", a / 100, a % 100)
    }

    /// `1 234 567,89 ₽` (Russian) or `1,234,567.89 ₽` (English): exact, for tooltips and KPI cards.
    pub fn display(self, lang: Lang) -> String {
        let (group, decimal) = match lang {
            Lang::Ru => ('\u{a0}', ','),
            Lang::En => (',', '.'),
        };
        let sign = if self.0 < 0 { "−" } else { "" };
        let a = self.0.unsigned_abs();
        format!("{sign}{}{decimal}{:02}\u{a0}₽", group_thousands(a / 100, group), a % 100)
    }

    /// `12,3 млн ₽` / `12.3M ₽`: short, for axes and bar labels.
    pub fn short(self, lang: Lang) -> String {
        let v = self.rub_f64();
        let (units, decimal): (&[(f64, &str)], char) = match lang {
            Lang::Ru => (&[(1e9, "\u{a0}млрд"), (1e6, "\u{a0}млн"), (1e3, "\u{a0}тыс.")], ','),
            Lang::En => (&[(1e9, "B"), (1e6, "M"), (1e3, "K")], '.'),
        };
        for &(scale, unit) in units {
            if v.abs() >= scale {
                let x = v / scale;
                let text = if x.abs() >= 100.0 { format!("{x:.0}") } else { format!("{x:.1}") };
                let text = text.strip_suffix(".0").unwrap_or(&text).replace('.', &decimal.to_string());
                return format!("{text}{unit}\u{a0}₽");
            }
        }
        format!("{v:.0}\u{a0}₽")
    }
}

impl std::ops::Add for Kopecks {
    type Output = Kopecks;
    fn add(self, o: Kopecks) -> Kopecks {
        Kopecks(self.0 + o.0)
    }
}

impl std::ops::AddAssign for Kopecks {
    fn add_assign(&mut self, o: Kopecks) {
        self.0 += o.0;
    }
}

impl std::ops::Sub for Kopecks {
    type Output = Kopecks;
    fn sub(self, o: Kopecks) -> Kopecks {
        Kopecks(self.0 - o.0)
    }
}

impl std::iter::Sum for Kopecks {
    fn sum<I: Iterator<Item = Kopecks>>(iter: I) -> Kopecks {
        Kopecks(iter.map(|k| k.0).sum())
    }
}

pub use crate::lang::Lang;

/// `1 234 567` with `sep` between the groups of three digits.
pub(super) fn group_thousands(mut n: u128, sep: char) -> String {
    let mut groups = Vec::new();
    loop {
        if n < 1000 {
            groups.push(n.to_string());
            break;
        }
        groups.push(format!("{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join(&sep.to_string())
}

fn not_a_number(cell: &str) -> Message {
    Message::new("cost-not-a-number", format!("cost {:?} is not a number", cell.trim())).with("value", cell.trim())
}

/// Parses a cost cell as users' files hold it: `1234567.89`, `1 234 567,89`,
/// `1.234.567,89`, `1,234,567.89`, `12 500 ₽`, `1.5E+06` (Excel), with
/// no-break or thin spaces as thousands separators.
///
/// A lone `,` or `.` is the decimal mark (Russian files write `1234,5`); the
/// mark that occurs last is the decimal one when both occur; a mark that
/// occurs several times separates thousands. Fractions of a kopeck are
/// rounded half away from zero. Negative amounts are refused: a creative's
/// estimated cost cannot be below zero, and such a row is reported.
pub fn parse_rub(cell: &str) -> Result<Kopecks, Message> {
    // Spaces dropped into a stack buffer: a million cells, no allocation.
    let mut buf = [0u8; 64];
    let mut n = 0;
    for c in cell.trim().chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'' | '\t')) {
        if n + c.len_utf8() > buf.len() {
            return Err(not_a_number(cell));
        }
        c.encode_utf8(&mut buf[n..]);
        n += c.len_utf8();
    }
    let mut s = std::str::from_utf8(&buf[..n]).unwrap_or_default();
    for suffix in ["₽", "руб.", "руб", "р.", "rub", "RUB"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest;
            break;
        }
    }
    if s.is_empty() {
        return Err(Message::new("no-cost", "no cost"));
    }
    let quoted = || not_a_number(cell);
    if s.starts_with('-') || s.starts_with('−') {
        return Err(Message::new("negative-cost", format!("negative cost {:?}", cell.trim())).with("value", cell.trim()));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.contains(['e', 'E']) {
        let v: f64 = s.replace(',', ".").parse().map_err(|_| quoted())?;
        let k = (v * 100.0).round();
        if !k.is_finite() || k.abs() > 9e15 {
            return Err(quoted());
        }
        return Ok(Kopecks(k as i128));
    }
    if !s.bytes().all(|b| b.is_ascii_digit() || b == b',' || b == b'.') {
        return Err(quoted());
    }
    let commas = s.matches(',').count();
    let dots = s.matches('.').count();
    let decimal = match (commas, dots) {
        (0, 0) => None,
        (c, d) if c > 0 && d > 0 => Some(if s.rfind(',') > s.rfind('.') { ',' } else { '.' }),
        (1, 0) => Some(','),
        (0, 1) => Some('.'),
        _ => None, // one mark, several times: thousands separators
    };
    let (whole, frac) = match decimal {
        Some(mark) => {
            let (w, f) = s.rsplit_once(mark).expect("mark present");
            if f.contains([',', '.']) {
                return Err(quoted());
            }
            (w, f)
        }
        None => (s, ""),
    };
    // Whatever separators are left in the whole part must group by three.
    let groups: Vec<&str> = whole.split([',', '.']).collect();
    if groups.len() > 1 && (groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)) {
        return Err(quoted());
    }
    let digits: String = groups.concat();
    if digits.is_empty() && frac.is_empty() {
        return Err(quoted());
    }
    let too_large = || Message::new("cost-too-large", format!("cost {:?} is too large", cell.trim())).with("value", cell.trim());
    let roubles: i64 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| too_large())? };
    let f = frac.as_bytes();
    let digit = |i: usize| f.get(i).map_or(0, |b| i64::from(b - b'0'));
    let mut kopecks = digit(0) * 10 + digit(1);
    if digit(2) >= 5 {
        kopecks += 1;
    }
    roubles.checked_mul(100).and_then(|r| r.checked_add(kopecks)).filter(|k| *k < 9_000_000_000_000_000).map(|k| Kopecks(k.into())).ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_in_every_tolerated_form() {
        let cases = [
            ("1234567.89", 123456789),
            ("1234567,89", 123456789),
            ("1 234 567,89", 123456789),
            ("1\u{a0}234\u{a0}567,89", 123456789),
            ("1\u{202f}234\u{202f}567", 123456700),
            ("1.234.567,89", 123456789),
            ("1,234,567.89", 123456789),
            ("1,234,567", 123456700),
            ("12 500 ₽", 1250000),
            ("12500 руб.", 1250000),
            ("1.5E+06", 150000000),
            ("0,5", 50),
            (",5", 50),
            ("7", 700),
            ("+7", 700),
            ("0.005", 1),
            ("0.004", 0),
            ("10.999", 1100),
            ("  42  ", 4200),
        ];
        for (text, want) in cases {
            assert_eq!(parse_rub(text), Ok(Kopecks(want)), "{text:?}");
        }
    }

    #[test]
    fn bad_costs_say_why() {
        for (text, why) in [
            ("", "no cost"),
            ("abc", "not a number"),
            ("-100", "negative"),
            ("1,2,3", "not a number"),
            ("12.34.5", "not a number"),
            ("1,23,456.7", "not a number"),
            ("1.2.3,4,5", "not a number"),
            ("99999999999999999999", "too large"),
        ] {
            let err = parse_rub(text).unwrap_err();
            assert!(err.text.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(Kopecks(123456789).display(Lang::Ru), "1\u{a0}234\u{a0}567,89\u{a0}₽");
        assert_eq!(Kopecks(123456789).display(Lang::En), "1,234,567.89\u{a0}₽");
        assert_eq!(Kopecks(5).to_decimal(), "0.05");
        assert_eq!(Kopecks(1_230_000_000).short(Lang::Ru), "12,3\u{a0}млн\u{a0}₽");
        assert_eq!(Kopecks(1_200_000_000).short(Lang::En), "12M\u{a0}₽");
        assert_eq!(Kopecks(4200).short(Lang::En), "42\u{a0}₽");
    }
}
