//! A sample spend file, generated, so the dashboard shows something on the
//! first visit and the benchmark has a million rows to read. Every name in it
//! says "(пример)": nobody can take it for real data.
//!
//! It is written the way Russian Excel exports look (`;`, decimal commas,
//! spaces between thousands, some months as names), with repeated rows to be
//! summed and a few broken rows, so the sample exercises the same parsing as
//! the users' files.

use std::fmt::Write;

use crate::classify::metrics::SplitMix64;

use super::money::group_thousands;
use super::{read_spend, Dashboard, SegmentLabels};

/// The file name the sample is shown under.
pub const SAMPLE_FILE_NAME: &str = "sample_dashboard_data.csv";

pub struct Sample {
    pub csv: Vec<u8>,
    /// Labels "from the users" (like `train_segments.csv`) for some creatives…
    pub known: Vec<(String, u32)>,
    /// …and "predictions" for most of the rest; the others stay unclassified.
    pub predicted: Vec<(String, u32)>,
}

/// Advertisers, their brands and the segments their creatives fall in.
const ADVERTISERS: [(&str, &[&str], &[u32]); 12] = [
    ("Банк Север (пример)", &["Север Карта", "Север Вклад", "Север Бизнес"], &[8, 10, 11, 12, 13]),
    ("Банк Восток (пример)", &["Восток Кредит", "Восток Карта"], &[8, 10, 12]),
    ("Инвест Тета (пример)", &["Тета Капитал"], &[13, 11]),
    ("Экосистема Альфа (пример)", &["Альфа Плюс", "Альфа Музыка", "Альфа Станция"], &[14, 15, 16, 17]),
    ("Стриминг Бета (пример)", &["Бета Музыка"], &[15, 17]),
    ("Колонки Эта (пример)", &["Эта Капсула"], &[16]),
    ("Соцсеть Дзета (пример)", &["Дзета", "Дзета Клипы"], &[18, 17]),
    ("Ритейл Гамма (пример)", &["Гамма", "Гамма Доставка"], &[0, 1, 2, 3, 5, 9]),
    ("Маркет Дельта (пример)", &["Дельта Маркет"], &[0, 3, 5, 9]),
    ("Сеть Эпсилон (пример)", &["Эпсилон", "Эпсилон Бонус"], &[0, 1, 2, 4, 7]),
    ("Магазин Йота (пример)", &["Йота Подарки"], &[7, 9, 1]),
    ("Гипермаркет Каппа (пример)", &["Каппа"], &[0, 4, 9]),
];

/// Media types with their typical cost of one placement row, in roubles.
const MEDIA: [(&str, u64); 4] = [("ТВ", 2_500_000), ("Интернет", 400_000), ("Радио", 250_000), ("Наружная реклама", 600_000)];

const MONTHS_RU: [&str; 12] =
    ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь"];

/// `rows` rows of spend for 2024–2025, about twelve rows per creative.
pub fn generate(rows: usize, seed: u64) -> Sample {
    // SplitMix64: the sample is the same on every machine and in the browser.
    let mut rng = SplitMix64(seed);
    struct Creative {
        id: String,
        advertiser: usize,
        brand: &'static str,
        media: usize,
        segment: u32,
        start: usize,
        months: usize,
    }
    let n_creatives = (rows / 12).max(10);
    let creatives: Vec<Creative> = (0..n_creatives)
        .map(|i| {
            let advertiser = rng.below(ADVERTISERS.len());
            let (_, brands, segments) = ADVERTISERS[advertiser];
            Creative {
                id: format!("{}", 700_000 + i * 7 + rng.below(7)),
                advertiser,
                brand: brands[rng.below(brands.len())],
                media: [0, 0, 1, 1, 1, 2, 2, 3][rng.below(8)],
                segment: *rng.pick(segments),
                start: rng.below(24),
                months: 1 + rng.below(6),
            }
        })
        .collect();
    let mut csv = String::with_capacity(rows * 110 + 200);
    csv.push_str("Advertisement ID;Advertiser;Brand;Media Type;Year;Month;Estimated cost RUB\n");
    for r in 0..rows {
        let c = &creatives[rng.below(creatives.len())];
        let m = (c.start + rng.below(c.months)).min(23);
        let (year, month) = (2024 + m / 12, m % 12 + 1);
        let (media, typical) = MEDIA[c.media];
        let kopecks = typical * (20 + rng.below(180) as u64) / 100 * 100 + rng.below(100) as u64;
        let cost = if r % 997 == 500 { "н/д".to_string() } else { spaced(kopecks) };
        let month = if r % 3 == 0 { MONTHS_RU[month - 1].to_string() } else { month.to_string() };
        let _ = writeln!(csv, "{};{};{};{media};{year};{month};{cost}", c.id, ADVERTISERS[c.advertiser].0, c.brand);
    }
    let (mut known, mut predicted) = (Vec::new(), Vec::new());
    for c in &creatives {
        match rng.below(10) {
            0..=3 => known.push((c.id.clone(), c.segment)),
            4..=8 => predicted.push((c.id.clone(), c.segment)),
            _ => {}
        }
    }
    Sample { csv: csv.into_bytes(), known, predicted }
}

/// The sample read as a spend file and joined with its labels.
pub fn dashboard(rows: usize) -> crate::Result<Dashboard> {
    let sample = generate(rows, SAMPLE_SEED);
    let mut d = Dashboard::new(read_spend(SAMPLE_FILE_NAME, &sample.csv)?);
    d.set_labels(sample.labels());
    Ok(d)
}

/// Rows in the sample the page opens with.
pub const SAMPLE_ROWS: usize = 6000;
pub const SAMPLE_SEED: u64 = 2024;

impl Sample {
    pub fn labels(&self) -> SegmentLabels {
        let mut labels = SegmentLabels::default();
        labels.add_known(self.known.iter().map(|(id, s)| (id.as_str(), *s)));
        labels.add_predicted(self.predicted.iter().map(|(id, s)| (id.as_str(), *s)));
        labels
    }
}

/// `1 234 567,89` with no-break spaces, as Russian Excel writes amounts.
fn spaced(kopecks: u64) -> String {
    format!("{},{:02}", group_thousands((kopecks / 100).into(), '\u{a0}'), kopecks % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_reads_back_with_its_broken_rows_reported() {
        let s = generate(5000, 7);
        let d = read_spend(SAMPLE_FILE_NAME, &s.csv).unwrap();
        assert_eq!(d.rows, 5000);
        let broken = (0..5000).filter(|r| r % 997 == 500).count();
        assert_eq!(d.bad.count, broken);
        assert_eq!(d.bad.by_reason["bad cost"], broken);
        assert!(d.summed_rows > 0, "repeated creative-months are summed");
        assert_eq!(d.conflicts.count, 0);
        assert!(!s.known.is_empty() && !s.predicted.is_empty());
        assert_eq!(generate(5000, 7).csv, s.csv, "deterministic");
        assert_eq!(spaced(123456789), "1\u{a0}234\u{a0}567,89");
    }
}
