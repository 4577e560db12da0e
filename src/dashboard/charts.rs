//! The dashboard's charts as standalone SVG.
//!
//! Drawn here rather than with a plotting crate because the page needs more
//! than pictures: every bar carries its series key (`data-series`) and an
//! exact tooltip (`<title>`), and every legend entry is a toggle the page
//! hands back as `hidden`. Only presentation attributes are used, so the
//! SVG renders the same inline (under the page's CSP), as a file and as PNG.

use std::fmt::Write;

use serde::Serialize;

use super::labels::LabelSource;
use super::money::{Kopecks, Lang};
use super::overview::{NamedSpend, Overview, SourceSplit};

/// The SVG of each chart.
#[derive(Debug, Clone, Serialize)]
pub struct Charts {
    pub segments_by_month: String,
    pub segment_share: String,
    pub top_advertisers: String,
    pub brand_months: String,
    pub media_types: String,
}

impl Charts {
    /// Each chart with its file name stem (`segments-by-month`, …).
    pub fn named(&self) -> [(&'static str, &str); 5] {
        [
            ("segments-by-month", &self.segments_by_month),
            ("segment-share", &self.segment_share),
            ("top-advertisers", &self.top_advertisers),
            ("brand-months", &self.brand_months),
            ("media-types", &self.media_types),
        ]
    }
}

/// Draws every chart of an overview; series whose keys are in `hidden` are
/// left out of the bars and greyed in the legend.
pub fn draw(o: &Overview, lang: Lang, hidden: &[String]) -> Charts {
    Charts {
        segments_by_month: segments_by_month(o, lang, hidden),
        segment_share: segment_share(o, lang, hidden),
        top_advertisers: top_advertisers(o, lang, hidden),
        brand_months: brand_months(o, lang),
        media_types: media_types(o, lang, hidden),
    }
}

/// The key a segment's series is toggled by.
pub fn segment_key(segment: Option<u32>) -> String {
    segment.map_or_else(|| "seg-none".into(), |s| format!("seg-{s}"))
}

fn source_key(s: LabelSource) -> &'static str {
    match s {
        LabelSource::Known => "src-known",
        LabelSource::Predicted => "src-predicted",
        LabelSource::Unclassified => "src-none",
    }
}

fn source_name(s: LabelSource, lang: Lang) -> &'static str {
    match (s, lang) {
        (LabelSource::Known, Lang::Ru) => "размечено",
        (LabelSource::Predicted, Lang::Ru) => "предсказано",
        (LabelSource::Unclassified, Lang::Ru) => "без сегмента",
        (LabelSource::Known, Lang::En) => "labelled",
        (LabelSource::Predicted, Lang::En) => "predicted",
        (LabelSource::Unclassified, Lang::En) => "unclassified",
    }
}

fn source_color(s: LabelSource) -> &'static str {
    match s {
        LabelSource::Known => "#2b6cb0",
        LabelSource::Predicted => "#f6ad55",
        LabelSource::Unclassified => UNCLASSIFIED,
    }
}

/// Twenty colours that stay apart from each other, from white and from the
/// unclassified grey (CIE76 ΔE ≥ 23 between any two; Sasha Trubetskoy's
/// list of distinct colours, with near-whites replaced), so up to twenty
/// segments in one chart never share a hue.
const PALETTE: [&str; 20] = [
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#469990", "#9a6324",
    "#800000", "#808000", "#000075", "#ffe119", "#fabed4", "#dcbeff", "#aaffc3", "#ffd8b1", "#1a1a1a", "#fb9a99",
];

/// The unclassified creatives' colour.
const UNCLASSIFIED: &str = "#a0aec0";

/// Colours follow the segment id, so a segment keeps its colour whatever is filtered.
pub fn segment_color(segment: Option<u32>) -> &'static str {
    segment.map_or(UNCLASSIFIED, |s| PALETTE[s as usize % PALETTE.len()])
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Text cut to about `chars` characters, for labels in a fixed space.
fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(chars.saturating_sub(1)).collect::<String>())
    }
}

fn percent(part: Kopecks, total: Kopecks, lang: Lang) -> String {
    let p = if total.0 > 0 { part.0 as f64 * 100.0 / total.0 as f64 } else { 0.0 };
    let text = format!("{p:.1}\u{a0}%");
    if lang == Lang::Ru {
        text.replace('.', ",")
    } else {
        text
    }
}

/// A tick step of 1, 2 or 5 × 10ⁿ giving about five ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    mag * if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    }
}

struct Svg {
    out: String,
}

impl Svg {
    fn new(name: &str, title: &str, width: f64, height: f64) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="12" fill="#1a202c" role="img" aria-label="{t}" data-chart="{name}"><rect width="{width}" height="{height}" fill="#ffffff"/><text x="12" y="22" font-size="15" font-weight="600">{t}</text>"##,
            t = escape(title)
        );
        Svg { out }
    }

    fn text(&mut self, x: f64, y: f64, anchor: &str, extra: &str, text: &str) {
        let _ = write!(self.out, r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" {extra}>{}</text>"#, escape(text));
    }

    fn rect(&mut self, [x, y, w, h]: [f64; 4], fill: &str, series: &str, tip: &str) {
        let _ = write!(
            self.out,
            r#"<rect class="bar" data-series="{series}" x="{x:.2}" y="{y:.2}" width="{:.2}" height="{:.2}" fill="{fill}"><title>{}</title></rect>"#,
            w.max(0.0),
            h.max(0.0),
            escape(tip)
        );
    }

    /// A legend entry the page toggles: greyed when its series is hidden.
    fn legend_item(&mut self, x: f64, y: f64, key: &str, color: &str, label: &str, hidden: bool) {
        let opacity = if hidden { r#" opacity="0.35""# } else { "" };
        let _ = write!(
            self.out,
            r#"<g class="legend-item" data-series="{key}" data-hidden="{hidden}"{opacity}><title>{}</title><rect x="{x:.1}" y="{:.1}" width="12" height="12" rx="2" fill="{color}"/><text x="{:.1}" y="{y:.1}">{}</text></g>"#,
            escape(label),
            y - 10.0,
            x + 17.0,
            escape(&clip(label, 30))
        );
    }

    fn empty(&mut self, width: f64, height: f64, lang: Lang) {
        let text = if lang == Lang::Ru { "Нет расходов в выборке" } else { "No spend in the selection" };
        self.text(width / 2.0, height / 2.0, "middle", r##"fill="#718096""##, text);
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// A vertical value axis with gridlines, from `0` to at least `max`; returns the axis top.
fn value_axis(svg: &mut Svg, left: f64, right: f64, top: f64, bottom: f64, max: f64, lang: Lang) -> f64 {
    let step = tick_step(max);
    let ticks = (max / step).ceil().max(1.0) as usize;
    let axis_max = step * ticks as f64;
    for i in 0..=ticks {
        let v = step * i as f64;
        let y = bottom - (bottom - top) * v / axis_max;
        let _ = write!(svg.out, r##"<line x1="{left}" x2="{right}" y1="{y:.1}" y2="{y:.1}" stroke="#e2e8f0"/>"##);
        svg.text(left - 6.0, y + 4.0, "end", r##"fill="#4a5568""##, &Kopecks((v * 100.0).round() as i128).short(lang));
    }
    axis_max
}

fn segments_by_month(o: &Overview, lang: Lang, hidden: &[String]) -> String {
    let title = if lang == Lang::Ru { "Расходы по сегментам и месяцам" } else { "Spend by segment and month" };
    let (w, h) = (900.0, 420.0);
    let mut svg = Svg::new("segments-by-month", title, w, h);
    if o.periods.is_empty() {
        svg.empty(w, h, lang);
        return svg.finish();
    }
    let (left, right, top, bottom) = (90.0, 640.0, 40.0, 360.0);
    let shown = |key: &str| !hidden.iter().any(|k| k == key);
    let stack_max = (0..o.periods.len())
        .map(|p| o.segments.iter().filter(|s| shown(&segment_key(s.segment))).map(|s| s.by_period[p].rub_f64()).sum::<f64>())
        .fold(0.0, f64::max);
    let axis_max = value_axis(&mut svg, left, right, top, bottom, stack_max, lang);
    let slot = (right - left) / o.periods.len() as f64;
    let bar = (slot * 0.75).min(48.0);
    // Labels such as "сен 2025" need about 64 px; narrower slots get slanted labels.
    let rotate = slot < 66.0;
    for (p, period) in o.periods.iter().enumerate() {
        let x = left + slot * p as f64 + (slot - bar) / 2.0;
        let mut y = bottom;
        for s in o.segments.iter().filter(|s| shown(&segment_key(s.segment))) {
            let v = s.by_period[p];
            if v.0 == 0 {
                continue;
            }
            let bh = (bottom - top) * v.rub_f64() / axis_max;
            y -= bh;
            let tip = format!("{} · {}: {}", s.name, period.label(lang), v.display(lang));
            svg.rect([x, y, bar, bh], segment_color(s.segment), &segment_key(s.segment), &tip);
        }
        let cx = x + bar / 2.0;
        if rotate {
            let _ = write!(
                svg.out,
                r##"<text x="{cx:.1}" y="{:.1}" text-anchor="end" transform="rotate(-45 {cx:.1} {:.1})" fill="#4a5568">{}</text>"##,
                bottom + 14.0,
                bottom + 14.0,
                escape(&period.label(lang))
            );
        } else {
            svg.text(cx, bottom + 16.0, "middle", r##"fill="#4a5568""##, &period.label(lang));
        }
    }
    for (i, s) in o.segments.iter().enumerate() {
        let key = segment_key(s.segment);
        let y = top + 12.0 + 20.0 * i as f64;
        if y > h - 8.0 {
            break;
        }
        svg.legend_item(660.0, y, &key, segment_color(s.segment), &s.name, !shown(&key));
    }
    svg.finish()
}

/// Horizontal bars, each split by label source, labelled with the value and
/// its share of `total`.
fn source_bars(name: &str, title: &str, rows: &[NamedSpend], total: Kopecks, lang: Lang, hidden: &[String]) -> String {
    let w = 900.0;
    let h = 70.0 + 26.0 * rows.len().max(1) as f64;
    let mut svg = Svg::new(name, title, w, h);
    if rows.is_empty() || total.0 == 0 {
        svg.empty(w, h, lang);
        return svg.finish();
    }
    let (left, right, top) = (250.0, 700.0, 56.0);
    let shown = |s: LabelSource| !hidden.iter().any(|k| k == source_key(s));
    let visible = |split: &SourceSplit| LabelSource::ALL.iter().filter(|&&s| shown(s)).map(|&s| split.get(s)).sum::<Kopecks>();
    let max = rows.iter().map(|r| visible(&r.split).rub_f64()).fold(0.0, f64::max).max(1e-9);
    for (i, s) in LabelSource::ALL.into_iter().enumerate() {
        svg.legend_item(left + 150.0 * i as f64, 44.0, source_key(s), source_color(s), source_name(s, lang), !shown(s));
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + 26.0 * i as f64;
        svg.text(left - 8.0, y + 15.0, "end", "", &clip(&r.name, 36));
        let mut x = left;
        for s in LabelSource::ALL.into_iter().filter(|&s| shown(s)) {
            let v = r.split.get(s);
            if v.0 == 0 {
                continue;
            }
            let bw = (right - left) * v.rub_f64() / max;
            let tip = format!("{} · {}: {} ({})", r.name, source_name(s, lang), v.display(lang), percent(v, r.total, lang));
            svg.rect([x, y + 3.0, bw, 18.0], source_color(s), source_key(s), &tip);
            x += bw;
        }
        let label = format!("{} · {}", r.total.short(lang), percent(r.total, total, lang));
        svg.text(x + 6.0, y + 16.0, "start", r##"fill="#4a5568""##, &label);
    }
    svg.finish()
}

fn segment_share(o: &Overview, lang: Lang, hidden: &[String]) -> String {
    let title = if lang == Lang::Ru { "Доля сегментов в расходах" } else { "Segment share of spend" };
    let rows: Vec<NamedSpend> = o.segments.iter().map(|s| NamedSpend { name: s.name.clone(), total: s.total, split: s.split }).collect();
    source_bars("segment-share", title, &rows, o.kpi.total, lang, hidden)
}

fn top_advertisers(o: &Overview, lang: Lang, hidden: &[String]) -> String {
    let title = if lang == Lang::Ru { "Топ-10 рекламодателей" } else { "Top 10 advertisers" };
    let mut rows = o.top_advertisers.clone();
    if o.other_advertisers.total.0 > 0 {
        rows.push(o.other_advertisers.clone());
    }
    source_bars("top-advertisers", title, &rows, o.kpi.total, lang, hidden)
}

fn brand_months(o: &Overview, lang: Lang) -> String {
    let (w, h) = (900.0, 320.0);
    let Some(b) = &o.brand else {
        let mut svg = Svg::new("brand-months", if lang == Lang::Ru { "Динамика бренда" } else { "Brand by month" }, w, h);
        svg.empty(w, h, lang);
        return svg.finish();
    };
    let title = match lang {
        Lang::Ru => format!("Динамика бренда «{}»", b.name),
        Lang::En => format!("Brand by month: {}", b.name),
    };
    let mut svg = Svg::new("brand-months", &title, w, h);
    let (left, right, top, bottom) = (90.0, 880.0, 40.0, 270.0);
    let max = b.by_period.iter().map(|v| v.rub_f64()).fold(0.0, f64::max);
    let axis_max = value_axis(&mut svg, left, right, top, bottom, max, lang);
    let n = o.periods.len();
    let x_of = |i: usize| if n <= 1 { (left + right) / 2.0 } else { left + 20.0 + (right - left - 40.0) * i as f64 / (n - 1) as f64 };
    let y_of = |v: Kopecks| bottom - (bottom - top) * v.rub_f64() / axis_max;
    let points: Vec<String> = b.by_period.iter().enumerate().map(|(i, &v)| format!("{:.1},{:.1}", x_of(i), y_of(v))).collect();
    let _ = write!(svg.out, r##"<polyline points="{}" fill="none" stroke="#2b6cb0" stroke-width="2.5"/>"##, points.join(" "));
    let every = n.div_ceil(12).max(1);
    for (i, (&v, p)) in b.by_period.iter().zip(&o.periods).enumerate() {
        let tip = format!("{} · {}: {}", b.name, p.label(lang), v.display(lang));
        let _ = write!(
            svg.out,
            r##"<circle class="bar" data-series="brand" cx="{:.1}" cy="{:.1}" r="4" fill="#2b6cb0"><title>{}</title></circle>"##,
            x_of(i),
            y_of(v),
            escape(&tip)
        );
        if i % every == 0 {
            svg.text(x_of(i), bottom + 18.0, "middle", r##"fill="#4a5568""##, &p.label(lang));
        }
    }
    svg.finish()
}

fn media_types(o: &Overview, lang: Lang, hidden: &[String]) -> String {
    let title = if lang == Lang::Ru { "Расходы по типам медиа" } else { "Spend by media type" };
    source_bars("media-types", title, &o.media_types, o.kpi.total, lang, hidden)
}

#[cfg(test)]
mod tests {
    /// CIE L*a*b* of an sRGB colour "#rrggbb" (D65).
    fn lab(hex: &str) -> [f64; 3] {
        let c = |i: usize| {
            let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
        };
        let (r, g, b) = (c(1), c(3), c(5));
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| if t > 0.008856 { t.cbrt() } else { 7.787 * t + 16.0 / 116.0 };
        [116.0 * f(y) - 16.0, 500.0 * (f(x) - f(y)), 200.0 * (f(y) - f(z))]
    }

    fn delta_e(a: &str, b: &str) -> f64 {
        let (a, b) = (lab(a), lab(b));
        a.iter().zip(&b).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn twenty_segments_get_twenty_colours_that_stay_apart() {
        assert!((delta_e("#ffffff", "#000000") - 100.0).abs() < 0.1, "the colour difference is CIE76");
        let colours: Vec<&str> = (0..20).map(|s| segment_color(Some(s))).collect();
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                assert!(delta_e(a, b) >= 23.0, "{a} and {b} look alike (ΔE {:.1})", delta_e(a, b));
            }
            assert!(delta_e(a, "#ffffff") >= 25.0 && delta_e(a, UNCLASSIFIED) >= 25.0, "{a} against white or the unclassified grey");
        }
    }

    use super::super::overview::{Dashboard, Filter};
    use super::super::spend::read_spend;
    use super::*;

    fn overview() -> Overview {
        let csv = "ID,Advertiser,Brand,Media Type,Year,Month,Cost\n1,A<&>\"',B,TV,2024,1,100\n2,C,D,Radio,2024,2,50\n";
        Dashboard::new(read_spend("d.csv", csv.as_bytes()).unwrap()).overview(&Filter::default(), Lang::Ru)
    }

    /// The exact amounts every bar's tooltip states, in kopecks.
    fn tooltip_kopecks(svg: &str) -> Vec<i128> {
        svg.split("<title>")
            .skip(1)
            .filter_map(|t| t.split("</title>").next())
            .filter_map(|t| t.rsplit(": ").next())
            .filter(|t| t.contains('₽'))
            .map(|t| t.split(" (").next().unwrap().replace(['\u{a0}', '₽'], "").replace(',', ""))
            .map(|t| t.parse::<i128>().unwrap())
            .collect()
    }

    /// Parses the SVG as XML; every bar has a tooltip.
    fn assert_wellformed(svg: &str) {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(svg);
        let (mut depth, mut bars, mut titles) = (0i32, 0, 0);
        loop {
            match reader.read_event().unwrap_or_else(|e| panic!("{e}: {svg}")) {
                Event::Start(e) => {
                    depth += 1;
                    let class = e.try_get_attribute("class").unwrap().map(|a| a.value.into_owned());
                    bars += usize::from(class.as_deref() == Some("bar"));
                    titles += usize::from(e.name().as_ref() == "title");
                }
                Event::End(_) => depth -= 1,
                Event::Empty(e) => assert!(e.try_get_attribute("class").unwrap().is_none_or(|a| a.value.as_ref() != "bar")),
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0);
        let legend = svg.matches(r#"class="legend-item""#).count();
        assert_eq!(bars + legend, titles, "every bar and legend entry has a tooltip");
    }

    #[test]
    fn charts_are_wellformed_and_their_bars_add_up() {
        let o = overview();
        let c = draw(&o, Lang::Ru, &[]);
        for svg in [&c.segments_by_month, &c.segment_share, &c.top_advertisers, &c.brand_months, &c.media_types] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert_wellformed(svg);
            assert!(!svg.contains("A<&>"), "names are escaped");
        }
        // Bars of the monthly chart state every kopeck of the total.
        let bars = tooltip_kopecks(&c.segments_by_month);
        assert_eq!(bars.iter().sum::<i128>(), o.kpi.total.0);
        assert!(c.top_advertisers.contains("A&lt;&amp;&gt;&quot;&#39;"));
    }

    #[test]
    fn hidden_series_are_left_out_and_greyed() {
        let o = overview();
        let hidden = vec!["seg-none".to_string()];
        let c = draw(&o, Lang::En, &hidden);
        assert!(!c.segments_by_month.contains(r#"class="bar" data-series="seg-none""#));
        assert!(c.segments_by_month.contains(r#"data-series="seg-none" data-hidden="true""#));
        let c = draw(&o, Lang::En, &["src-none".to_string()]);
        assert!(!c.media_types.contains(r#"class="bar" data-series="src-none""#));
    }

    #[test]
    fn nice_ticks() {
        assert_eq!(tick_step(1000.0), 200.0);
        assert_eq!(tick_step(7.0), 2.0);
        assert_eq!(tick_step(48_000_000.0), 10_000_000.0);
    }
}
