//! The figures the dashboard shows for a selection of the spend: KPI cards,
//! spend by segment and month, top advertisers, media types, one brand's
//! months, and the aggregated table for export.
//!
//! Every figure is a sum of whole kopecks over the same selected lines, so
//! each chart adds up to the KPI total exactly, and every figure says how
//! much of it rests on known labels, predictions, or neither.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::labels::{LabelFileProblem, LabelSource, SegmentLabels};
use super::money::{Kopecks, Lang};
use super::period::Period;
use super::spend::{BadRows, Names, SpendData, SpendLine};
use crate::classify::SegmentDictionary;
use crate::table::Table;

/// What to look at. Empty lists select everything; in `segments`, `null`
/// selects the unclassified spend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    pub years: Vec<u16>,
    pub from: Option<Period>,
    pub to: Option<Period>,
    pub segments: Vec<Option<u32>>,
    pub advertisers: Vec<String>,
    pub brands: Vec<String>,
    pub media_types: Vec<String>,
    /// The brand whose months are charted (default: the selection's biggest).
    pub brand: Option<String>,
}

/// Spend split by where its segment comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SourceSplit {
    pub known: Kopecks,
    pub predicted: Kopecks,
    pub unclassified: Kopecks,
}

impl SourceSplit {
    fn add(&mut self, source: LabelSource, cost: Kopecks) {
        match source {
            LabelSource::Known => self.known += cost,
            LabelSource::Predicted => self.predicted += cost,
            LabelSource::Unclassified => self.unclassified += cost,
        }
    }

    pub fn total(&self) -> Kopecks {
        self.known + self.predicted + self.unclassified
    }

    fn add_split(&mut self, other: &SourceSplit) {
        self.known += other.known;
        self.predicted += other.predicted;
        self.unclassified += other.unclassified;
    }

    pub fn get(&self, source: LabelSource) -> Kopecks {
        match source {
            LabelSource::Known => self.known,
            LabelSource::Predicted => self.predicted,
            LabelSource::Unclassified => self.unclassified,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpi {
    pub total: Kopecks,
    pub split: SourceSplit,
    /// Distinct creatives, advertisers and brands with spend in the selection.
    pub creatives: usize,
    pub advertisers: usize,
    pub brands: usize,
    /// Share of the spend whose creatives have a segment (known or predicted).
    pub classified_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentSpend {
    /// `None`: spend on creatives with no segment.
    pub segment: Option<u32>,
    pub name: String,
    pub total: Kopecks,
    pub split: SourceSplit,
    /// Spend in each of [`Overview::periods`].
    pub by_period: Vec<Kopecks>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NamedSpend {
    pub name: String,
    pub total: Kopecks,
    pub split: SourceSplit,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrandMonths {
    pub name: String,
    pub total: Kopecks,
    pub by_period: Vec<Kopecks>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub kpi: Kpi,
    /// The months with spend in the selection, in order.
    pub periods: Vec<Period>,
    /// Biggest first; the unclassified spend, if any, last.
    pub segments: Vec<SegmentSpend>,
    /// The ten biggest advertisers.
    pub top_advertisers: Vec<NamedSpend>,
    /// All other advertisers together (`name` says how many).
    pub other_advertisers: NamedSpend,
    pub media_types: Vec<NamedSpend>,
    pub brand: Option<BrandMonths>,
}

/// What the filters can choose from, over the whole file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilterOptions {
    pub years: Vec<u16>,
    pub periods: Vec<Period>,
    /// The periods as the charts label them ("янв 2024"), for the month pickers.
    pub period_labels: Vec<String>,
    pub segments: Vec<SegmentOption>,
    /// Biggest spender first.
    pub advertisers: Vec<String>,
    pub brands: Vec<String>,
    pub media_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentOption {
    pub segment: Option<u32>,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport<'a> {
    pub source: &'a str,
    /// Data rows read, and the lines (creative × month) they were summed into.
    pub rows: usize,
    pub lines: usize,
    pub summed_rows: usize,
    /// The sum of every usable row.
    pub total: Kopecks,
    pub bad: &'a BadRows,
    pub conflicts: &'a BadRows,
    /// Creatives with spend, by where their segment comes from.
    pub creatives: LabelCounts,
    pub label_problems: &'a [LabelFileProblem],
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct LabelCounts {
    pub known: usize,
    pub predicted: usize,
    pub unclassified: usize,
}

pub const TOP_ADVERTISERS: usize = 10;

/// The spend joined with the segment of each creative.
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    data: SpendData,
    labels: SegmentLabels,
    names: BTreeMap<u32, String>,
    /// Segment and label source of each creative, by its index in `data.creatives`.
    assignment: Vec<(Option<u32>, LabelSource)>,
}

impl Dashboard {
    pub fn new(data: SpendData) -> Dashboard {
        let mut d = Dashboard { data, ..Default::default() };
        d.set_segments(SegmentDictionary::default_ru().iter().map(|s| (s.id, s.name.clone())));
        d.assign();
        d
    }

    pub fn data(&self) -> &SpendData {
        &self.data
    }

    pub fn labels(&self) -> &SegmentLabels {
        &self.labels
    }

    pub fn segment_names(&self) -> &BTreeMap<u32, String> {
        &self.names
    }

    /// Segment names come from the dictionary in use: `(id, name)`.
    pub fn set_segments(&mut self, names: impl IntoIterator<Item = (u32, String)>) {
        self.names = names.into_iter().collect();
    }

    pub fn set_labels(&mut self, labels: SegmentLabels) {
        self.labels = labels;
        self.assign();
    }

    fn assign(&mut self) {
        self.assignment = (0..self.data.creatives.len() as u32)
            .map(|c| match self.labels.get(self.data.creatives.name(c)) {
                Some((segment, source)) => (Some(segment), source),
                None => (None, LabelSource::Unclassified),
            })
            .collect();
    }

    /// How many creatives with spend have a label of each source: `[known, predicted, none]`.
    pub fn labelled_creatives(&self) -> [usize; 3] {
        let mut n = [0; 3];
        for (_, source) in &self.assignment {
            n[source.index()] += 1;
        }
        n
    }

    /// What was read and joined: shown above the dashboard so nothing is
    /// dropped unseen.
    pub fn report(&self) -> ImportReport<'_> {
        let [known, predicted, unclassified] = self.labelled_creatives();
        ImportReport {
            source: &self.data.source,
            rows: self.data.rows,
            lines: self.data.lines.len(),
            summed_rows: self.data.summed_rows,
            total: self.data.total(),
            bad: &self.data.bad,
            conflicts: &self.data.conflicts,
            creatives: LabelCounts { known, predicted, unclassified },
            label_problems: &self.labels.problems,
        }
    }

    pub fn segment_name(&self, segment: Option<u32>, lang: Lang) -> String {
        match (segment, lang) {
            (None, Lang::Ru) => "Без сегмента".into(),
            (None, Lang::En) => "Unclassified".into(),
            (Some(id), _) => match self.names.get(&id) {
                Some(name) => format!("{id} {name}"),
                None if lang == Lang::Ru => format!("{id} (нет в словаре)"),
                None => format!("{id} (not in the dictionary)"),
            },
        }
    }

    pub fn options(&self, lang: Lang) -> FilterOptions {
        let periods: BTreeSet<Period> = self.data.lines.iter().map(|l| l.period).collect();
        let segments: BTreeSet<Option<u32>> = self.data.lines.iter().map(|l| self.assignment[l.creative as usize].0).collect();
        // `None` sorts first in a set; the unclassified option goes last.
        let segments = segments.iter().filter(|s| s.is_some()).chain(segments.iter().filter(|s| s.is_none()));
        let by_spend = |names: &Names, key: fn(&SpendLine) -> u32| {
            let mut spend = vec![Kopecks::ZERO; names.len()];
            for l in &self.data.lines {
                spend[key(l) as usize] += l.cost;
            }
            let mut order: Vec<u32> = (0..names.len() as u32).collect();
            order.sort_by(|&a, &b| spend[b as usize].cmp(&spend[a as usize]).then_with(|| names.name(a).cmp(names.name(b))));
            order.into_iter().map(|i| names.name(i).to_string()).collect()
        };
        FilterOptions {
            years: periods.iter().map(|p| p.year).collect::<BTreeSet<_>>().into_iter().collect(),
            periods: periods.iter().copied().collect(),
            period_labels: periods.iter().map(|p| p.label(lang)).collect(),
            segments: segments.map(|&s| SegmentOption { segment: s, name: self.segment_name(s, lang) }).collect(),
            advertisers: by_spend(&self.data.advertisers, |l| l.advertiser),
            brands: by_spend(&self.data.brands, |l| l.brand),
            media_types: by_spend(&self.data.media_types, |l| l.media_type),
        }
    }

    /// The lines the filter selects, each with its segment and label source.
    fn selected<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = (&'a SpendLine, Option<u32>, LabelSource)> + 'a {
        let mask = |names: &Names, wanted: &[String]| {
            (!wanted.is_empty()).then(|| {
                let mut m = vec![false; names.len()];
                for i in wanted.iter().filter_map(|w| names.get(w)) {
                    m[i as usize] = true;
                }
                m
            })
        };
        let advertisers = mask(&self.data.advertisers, &filter.advertisers);
        let brands = mask(&self.data.brands, &filter.brands);
        let media_types = mask(&self.data.media_types, &filter.media_types);
        let allowed = |m: &Option<Vec<bool>>, i: u32| m.as_ref().is_none_or(|m| m[i as usize]);
        self.data.lines.iter().filter_map(move |l| {
            let (segment, source) = self.assignment[l.creative as usize];
            let keep = (filter.years.is_empty() || filter.years.contains(&l.period.year))
                && filter.from.is_none_or(|f| l.period >= f)
                && filter.to.is_none_or(|t| l.period <= t)
                && (filter.segments.is_empty() || filter.segments.contains(&segment))
                && allowed(&advertisers, l.advertiser)
                && allowed(&brands, l.brand)
                && allowed(&media_types, l.media_type);
            keep.then_some((l, segment, source))
        })
    }

    pub fn overview(&self, filter: &Filter, lang: Lang) -> Overview {
        let d = &self.data;
        let mut kpi = Kpi::default();
        let mut periods = BTreeSet::new();
        let mut by_segment: BTreeMap<Option<u32>, (SourceSplit, HashMap<Period, Kopecks>)> = BTreeMap::new();
        let mut advertisers = vec![(false, SourceSplit::default()); d.advertisers.len()];
        let mut media_types = vec![(false, SourceSplit::default()); d.media_types.len()];
        let mut brands = vec![(false, Kopecks::ZERO); d.brands.len()];
        let mut creatives = vec![false; d.creatives.len()];
        for (l, segment, source) in self.selected(filter) {
            kpi.split.add(source, l.cost);
            periods.insert(l.period);
            let (split, months) = by_segment.entry(segment).or_default();
            split.add(source, l.cost);
            *months.entry(l.period).or_default() += l.cost;
            let a = &mut advertisers[l.advertiser as usize];
            a.0 = true;
            a.1.add(source, l.cost);
            let m = &mut media_types[l.media_type as usize];
            m.0 = true;
            m.1.add(source, l.cost);
            let b = &mut brands[l.brand as usize];
            b.0 = true;
            b.1 += l.cost;
            creatives[l.creative as usize] = true;
        }
        kpi.total = kpi.split.total();
        kpi.creatives = creatives.iter().filter(|&&c| c).count();
        kpi.advertisers = advertisers.iter().filter(|a| a.0).count();
        kpi.brands = brands.iter().filter(|b| b.0).count();
        kpi.classified_share = if kpi.total.0 > 0 {
            (kpi.split.known + kpi.split.predicted).0 as f64 / kpi.total.0 as f64
        } else {
            0.0
        };
        let periods: Vec<Period> = periods.into_iter().collect();
        let mut segments: Vec<SegmentSpend> = by_segment
            .into_iter()
            .map(|(segment, (split, months))| SegmentSpend {
                segment,
                name: self.segment_name(segment, lang),
                total: split.total(),
                split,
                by_period: periods.iter().map(|p| months.get(p).copied().unwrap_or_default()).collect(),
            })
            .collect();
        segments.sort_by(|a, b| a.segment.is_none().cmp(&b.segment.is_none()).then(b.total.cmp(&a.total)).then(a.segment.cmp(&b.segment)));

        let named = |names: &Names, spend: Vec<(bool, SourceSplit)>| {
            let mut v: Vec<NamedSpend> = spend
                .into_iter()
                .enumerate()
                .filter(|(_, (seen, _))| *seen)
                .map(|(i, (_, split))| NamedSpend { name: names.name(i as u32).to_string(), total: split.total(), split })
                .collect();
            v.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
            v
        };
        let mut top_advertisers = named(&d.advertisers, advertisers);
        let rest = top_advertisers.split_off(top_advertisers.len().min(TOP_ADVERTISERS));
        let mut other_advertisers = NamedSpend {
            name: match lang {
                Lang::Ru => format!("Остальные ({})", rest.len()),
                Lang::En => format!("Others ({})", rest.len()),
            },
            ..Default::default()
        };
        for a in &rest {
            other_advertisers.total += a.total;
            other_advertisers.split.add_split(&a.split);
        }

        let chosen = filter
            .brand
            .as_deref()
            .and_then(|b| d.brands.get(b))
            .filter(|&b| brands[b as usize].0)
            .or_else(|| (0..brands.len()).filter(|&b| brands[b].0).max_by_key(|&b| (brands[b].1, std::cmp::Reverse(b))).map(|b| b as u32));
        let brand = chosen.map(|b| {
            let mut months: HashMap<Period, Kopecks> = HashMap::new();
            for (l, _, _) in self.selected(filter).filter(|(l, _, _)| l.brand == b) {
                *months.entry(l.period).or_default() += l.cost;
            }
            BrandMonths {
                name: d.brands.name(b).to_string(),
                total: brands[b as usize].1,
                by_period: periods.iter().map(|p| months.get(p).copied().unwrap_or_default()).collect(),
            }
        });
        Overview {
            kpi,
            periods,
            segments,
            top_advertisers,
            other_advertisers,
            media_types: named(&d.media_types, media_types),
            brand,
        }
    }

    /// The selection summed by month, segment, label source, advertiser,
    /// brand and media type: the table behind the charts, for export.
    pub fn table(&self, filter: &Filter, lang: Lang) -> Table {
        type Key = (Period, Option<u32>, LabelSource, u32, u32, u32);
        let mut groups: HashMap<Key, (Kopecks, usize)> = HashMap::new();
        for (l, segment, source) in self.selected(filter) {
            let g = groups.entry((l.period, segment, source, l.advertiser, l.brand, l.media_type)).or_default();
            g.0 += l.cost;
            g.1 += 1;
        }
        let d = &self.data;
        let mut keys: Vec<Key> = groups.keys().copied().collect();
        keys.sort_by(|a, b| {
            (a.0, a.1.is_none(), a.1, a.2, d.advertisers.name(a.3), d.brands.name(a.4), d.media_types.name(a.5)).cmp(&(
                b.0,
                b.1.is_none(),
                b.1,
                b.2,
                d.advertisers.name(b.3),
                d.brands.name(b.4),
                d.media_types.name(b.5),
            ))
        });
        let mut table = Table::new(AGGREGATE_COLUMNS.iter().map(|s| s.to_string()).collect());
        for k in keys {
            let (cost, lines) = groups[&k];
            let (period, segment, source, a, b, m) = k;
            let source = match source {
                LabelSource::Known => "known",
                LabelSource::Predicted => "predicted",
                LabelSource::Unclassified => "none",
            };
            table.push_row(vec![
                period.year.to_string(),
                period.month.to_string(),
                segment.map(|s| s.to_string()).unwrap_or_default(),
                self.segment_name(segment, lang),
                source.to_string(),
                d.advertisers.name(a).to_string(),
                d.brands.name(b).to_string(),
                d.media_types.name(m).to_string(),
                lines.to_string(),
                cost.to_decimal(),
            ]);
        }
        table
    }
}

/// The columns of the exported table; the numeric ones are written as numbers.
pub const AGGREGATE_COLUMNS: [&str; 10] =
    ["Year", "Month", "Segment_num", "Segment", "Label source", "Advertiser", "Brand", "Media Type", "Creatives", "Spend RUB"];
pub const AGGREGATE_NUMERIC_COLUMNS: [&str; 5] = ["Year", "Month", "Segment_num", "Creatives", "Spend RUB"];

#[cfg(test)]
mod tests {
    use super::super::spend::read_spend;
    use super::*;

    fn dashboard() -> Dashboard {
        let csv = "Advertisement ID,Advertiser,Brand,Media Type,Year,Month,Estimated cost RUB\n\
            1,Bank,Card,TV,2024,1,100\n\
            1,Bank,Card,TV,2024,1,50.5\n\
            1,Bank,Card,TV,2024,2,10\n\
            2,Bank,Deposit,Radio,2024,2,20\n\
            3,Shop,Promo,TV,2025,1,7.25\n\
            4,Music,Stream,Internet,2025,2,3\n";
        let mut d = Dashboard::new(read_spend("d.csv", csv.as_bytes()).unwrap());
        let mut labels = SegmentLabels::default();
        labels.add_known([("1", 12)]);
        labels.add_predicted([("2", 13), ("3", 0), ("1", 5)]);
        d.set_labels(labels);
        d
    }

    #[test]
    fn every_chart_adds_up_to_the_total() {
        let d = dashboard();
        let o = d.overview(&Filter::default(), Lang::Ru);
        assert_eq!(o.kpi.total, Kopecks(19075));
        assert_eq!(o.kpi.total, d.data().total());
        assert_eq!(o.kpi.split, SourceSplit { known: Kopecks(16050), predicted: Kopecks(2725), unclassified: Kopecks(300) });
        assert_eq!(o.segments.iter().map(|s| s.total).sum::<Kopecks>(), o.kpi.total);
        assert_eq!(o.segments.iter().flat_map(|s| s.by_period.iter().copied()).sum::<Kopecks>(), o.kpi.total);
        let advertisers: Kopecks = o.top_advertisers.iter().map(|a| a.total).sum::<Kopecks>() + o.other_advertisers.total;
        assert_eq!(advertisers, o.kpi.total);
        assert_eq!(o.media_types.iter().map(|m| m.total).sum::<Kopecks>(), o.kpi.total);
        assert_eq!((o.kpi.creatives, o.kpi.advertisers, o.kpi.brands), (4, 3, 4));
        assert_eq!(o.periods.len(), 4);
        // Unclassified spend is kept, and shown last.
        let last = o.segments.last().unwrap();
        assert_eq!((last.segment, last.total), (None, Kopecks(300)));
        assert_eq!(o.segments[0].segment, Some(12));
        assert_eq!(o.brand.as_ref().unwrap().name, "Card");
        assert_eq!(o.brand.as_ref().unwrap().by_period, vec![Kopecks(15050), Kopecks(1000), Kopecks(0), Kopecks(0)]);
        assert!((o.kpi.classified_share - 18775.0 / 19075.0).abs() < 1e-12);
    }

    #[test]
    fn filters_select_lines() {
        let d = dashboard();
        let f = Filter { years: vec![2024], ..Default::default() };
        assert_eq!(d.overview(&f, Lang::En).kpi.total, Kopecks(18050));
        let f = Filter { from: Period::new(2024, 2), to: Period::new(2025, 1), ..Default::default() };
        assert_eq!(d.overview(&f, Lang::En).kpi.total, Kopecks(1000 + 2000 + 725));
        let f = Filter { segments: vec![None], ..Default::default() };
        assert_eq!(d.overview(&f, Lang::En).kpi.total, Kopecks(300));
        let f = Filter { segments: vec![Some(13), Some(0)], media_types: vec!["TV".into()], ..Default::default() };
        assert_eq!(d.overview(&f, Lang::En).kpi.total, Kopecks(725));
        let f = Filter { advertisers: vec!["Bank".into()], brands: vec!["Deposit".into(), "nope".into()], ..Default::default() };
        let o = d.overview(&f, Lang::En);
        assert_eq!((o.kpi.total, o.kpi.creatives), (Kopecks(2000), 1));
        let f = Filter { brand: Some("Stream".into()), ..Default::default() };
        assert_eq!(d.overview(&f, Lang::En).brand.unwrap().total, Kopecks(300));
        let f = Filter { advertisers: vec!["nobody".into()], ..Default::default() };
        let o = d.overview(&f, Lang::En);
        assert_eq!((o.kpi.total, o.segments.len(), o.brand), (Kopecks(0), 0, None));
    }

    #[test]
    fn aggregated_table_keeps_every_kopeck() {
        let d = dashboard();
        let t = d.table(&Filter::default(), Lang::En);
        assert_eq!(t.headers, AGGREGATE_COLUMNS);
        let spend = t.find_column(&["Spend RUB"]).unwrap();
        let sum: i128 = t.rows.iter().map(|r| super::super::money::parse_rub(&r[spend]).unwrap().0).sum();
        assert_eq!(Kopecks(sum), d.data().total());
        assert_eq!(t.rows[0], ["2024", "1", "12", "12 Кредитные карты", "known", "Bank", "Card", "TV", "1", "150.50"]);
        assert!(t.rows.iter().any(|r| r[4] == "none" && r[3] == "Unclassified"));
    }

    #[test]
    fn options_list_everything_biggest_first() {
        let o = dashboard().options(Lang::Ru);
        assert_eq!(o.years, vec![2024, 2025]);
        assert_eq!(o.advertisers, vec!["Bank", "Shop", "Music"]);
        assert_eq!(o.segments.last().unwrap().segment, None);
        assert_eq!(o.segments.len(), 4);
    }
}
