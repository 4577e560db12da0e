//! The segment dictionary: which segments exist, their ids as the users'
//! `segment_dict.xlsx` numbers them, and a description of each that the
//! zero-shot matcher embeds.
//!
//! Ids are never renumbered: spend reports and old label files refer to them,
//! and retired ids (such as 6) stay unused.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::table::{is_blank, normalize_header, Table};

/// One segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub id: u32,
    /// The name as in `segment_dict.xlsx`, e.g. "Музыка".
    pub name: String,
    /// What the segment covers, in Russian, in the words ads use; this text
    /// is embedded as the segment's zero-shot prototype.
    pub description: String,
    /// Short English caption for image/video-text models; empty when unknown.
    #[serde(default)]
    pub prompt_en: String,
}

impl Segment {
    pub fn new(id: u32, name: &str, description: &str, prompt_en: &str) -> Segment {
        Segment {
            id,
            name: name.to_string(),
            description: description.to_string(),
            prompt_en: prompt_en.to_string(),
        }
    }

    /// The English caption the video model scores frames against: the
    /// prompt when there is one, else the name (X-CLIP reads English only,
    /// so a Russian name is a weak fallback).
    pub fn vision_prompt(&self) -> &str {
        if self.prompt_en.trim().is_empty() {
            &self.name
        } else {
            &self.prompt_en
        }
    }

    /// Text to embed as this segment's prototype: name and description.
    pub fn prototype_text(&self) -> String {
        if self.description.is_empty() || self.description == self.name {
            self.name.clone()
        } else {
            format!("{}: {}", self.name, self.description)
        }
    }
}

/// Segments in the user's order, ids unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Segment>", into = "Vec<Segment>")]
pub struct SegmentDictionary {
    segments: Vec<Segment>,
}

impl TryFrom<Vec<Segment>> for SegmentDictionary {
    type Error = Error;
    fn try_from(segments: Vec<Segment>) -> Result<Self> {
        SegmentDictionary::new(segments)
    }
}

impl From<SegmentDictionary> for Vec<Segment> {
    fn from(d: SegmentDictionary) -> Self {
        d.segments
    }
}

/// Column names accepted for the segment id in a dictionary file.
pub const DICT_ID_COLUMNS: &[&str] = &[
    "id",
    "Segment_num",
    "segment_id",
    "segment number",
    "num",
    "number",
    "номер",
    "номер сегмента",
    "код",
    "№",
];
/// Column names accepted for the segment name.
pub const DICT_NAME_COLUMNS: &[&str] = &[
    "name",
    "segment_name",
    "Segment",
    "название",
    "название сегмента",
    "наименование",
    "сегмент",
];
/// Column names accepted for the optional description.
pub const DICT_DESCRIPTION_COLUMNS: &[&str] =
    &["description", "desc", "hints", "описание", "подсказки", "комментарий", "ключевые слова"];

/// Column names accepted for the optional English prompt of the video model.
pub const DICT_PROMPT_COLUMNS: &[&str] = &["prompt_en", "prompt", "english prompt", "video prompt", "промпт"];

impl SegmentDictionary {
    /// Checks that ids are unique; keeps the given order.
    pub fn new(segments: Vec<Segment>) -> Result<SegmentDictionary> {
        for (i, s) in segments.iter().enumerate() {
            if let Some(prev) = segments[..i].iter().find(|p| p.id == s.id) {
                return Err(Error::DuplicateSegmentId {
                    id: s.id,
                    first: prev.name.clone(),
                    second: s.name.clone(),
                });
            }
        }
        Ok(SegmentDictionary { segments })
    }

    /// The 18 segments in use (id 6 is retired: it duplicated 0).
    pub fn default_ru() -> SegmentDictionary {
        let s = |id, name, description, prompt| Segment::new(id, name, description, prompt);
        let segments = vec![
            s(0, "Промо/Нет/Нет",
              "магазин, розничная сеть: акция, скидка, низкая цена, выгода, скидки в процентах; без доставки и без карты лояльности",
              "a retail store advertisement about a sale, discounts and low prices"),
            s(1, "Имидж/Нет/Нет",
              "имиджевая реклама магазина или розничной сети: качество, ассортимент, атмосфера, бренд; без акций, доставки и бонусов",
              "an image advertisement for a retail chain showing its brand and products"),
            s(2, "Имидж/Нет/Да",
              "имиджевая реклама магазина с программой лояльности: постоянный покупатель, бонусная или накопительная карта, бонусы, баллы",
              "a retail store advertisement about its loyalty card and bonus points"),
            s(3, "Промо/Доставка/Нет",
              "акция, скидка или низкая цена с доставкой: доставка, довезём, закажите в приложении, привезём домой",
              "an advertisement for discounted goods with home delivery"),
            s(4, "Промо/Нет/Да",
              "акция или скидка для участников программы лояльности: скидка по карте, бонусы, баллы, цена по карте постоянного покупателя",
              "a retail advertisement about discounts for loyalty card holders"),
            s(5, "Имидж/Доставка/Нет",
              "имиджевая реклама сервиса доставки магазина: быстрая доставка продуктов и товаров домой, курьер, заказ онлайн",
              "an advertisement for a grocery delivery service"),
            s(7, "Имидж",
              "подарки: подарочный набор, подарочная карта или сертификат, подарок к празднику",
              "an advertisement for gift sets and gift cards"),
            s(8, "Кредитование",
              "банковский кредит: кредит наличными, ставка, одобрение, ипотека, рефинансирование, заём",
              "a bank advertisement for a consumer loan"),
            s(9, "Range",
              "сезонная распродажа с датами: скидки до определённого числа, Новый год, праздничный ассортимент, только с 1 по 10",
              "an advertisement for a seasonal sale with dates, such as a New Year sale"),
            s(10, "Дебетовые карты",
              "банковская дебетовая карта: кешбэк, бесплатное обслуживание, оформить карту, зарплатная карта",
              "a bank advertisement for a debit card with cashback"),
            s(11, "Услуги бизнесу",
              "банк для бизнеса: расчётный счёт, переводы и платежи для бизнеса, эквайринг, предпринимателям, ИП и юрлицам",
              "a bank advertisement for small business banking services"),
            s(12, "Кредитные карты",
              "кредитная карта: льготный период, беспроцентный период, кредитный лимит, рассрочка по карте",
              "a bank advertisement for a credit card with an interest-free period"),
            s(13, "Инвестиционные продукты",
              "вклады, сбережения и инвестиции: вклад, накопительный счёт, процент на остаток, доходность, брокерский счёт",
              "a bank advertisement for savings deposits and investments"),
            s(14, "Экосистемные сервисы",
              "подписка на экосистему сервисов: подписка, кино и сериалы, YouTube Premium, бесплатный период, всё в одной подписке",
              "an advertisement for a subscription bundle of online services"),
            s(15, "Музыка",
              "музыкальный стриминговый сервис: слушать музыку, треки, плейлисты, чарт, подписка на музыку",
              "an advertisement for a music streaming service"),
            s(16, "Колонки+Голосовой помощник",
              "умная колонка и голосовой помощник: станция, капсула, колонка, скажите «Алиса», «Маруся»",
              "an advertisement for a smart speaker with a voice assistant"),
            s(17, "Клипы",
              "короткие видео: клипы, короткие ролики, снимай и смотри видео, авторы роликов",
              "an advertisement for a short video app"),
            s(18, "Соц сети",
              "социальные сети: ВКонтакте, Одноклассники, общение с друзьями, сообщества, лента",
              "an advertisement for a social network"),
        ];
        SegmentDictionary::new(segments).expect("built-in ids are unique")
    }

    /// Reads a user's dictionary from `.xlsx`/`.xls`/`.csv` bytes.
    pub fn from_file_bytes(file_name: &str, bytes: &[u8]) -> Result<SegmentDictionary> {
        let table = Table::from_bytes(file_name, bytes)?;
        SegmentDictionary::from_table(file_name, &table)
    }

    /// Builds a dictionary from a table with id and name columns (found by
    /// name, Russian or English), an optional description column and an
    /// optional English prompt column (`prompt_en`/`prompt`). A sheet
    /// without a header row (first cell is a number) is read as id, name[,
    /// description]. Segments without a description get the built-in one
    /// when their name matches a built-in segment, else their name.
    pub fn from_table(file: &str, table: &Table) -> Result<SegmentDictionary> {
        let headerless = table.find_column(DICT_ID_COLUMNS).is_none()
            && table.headers.len() >= 2
            && table.headers[0].trim().parse::<u32>().is_ok();
        let (rows, id_col, name_col, desc_col, first_row_no): (Vec<&Vec<String>>, _, _, _, usize) =
            if headerless {
                let desc = (table.headers.len() >= 3).then_some(2);
                (std::iter::once(&table.headers).chain(&table.rows).collect(), 0, 1, desc, 1)
            } else {
                let id = table.require_column(file, "the segment id", DICT_ID_COLUMNS)?;
                let name = table.require_column(file, "the segment name", DICT_NAME_COLUMNS)?;
                let desc = table.find_column(DICT_DESCRIPTION_COLUMNS);
                (table.rows.iter().collect(), id, name, desc, 2)
            };
        let prompt_col = if headerless { None } else { table.find_column(DICT_PROMPT_COLUMNS) };
        let builtin = SegmentDictionary::default_ru();
        let mut segments = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            if is_blank(row) {
                continue;
            }
            let row_no = i + first_row_no;
            let id_text = row[id_col].trim();
            let id = crate::table::parse_segment_number(id_text).ok_or_else(|| Error::Table {
                file: file.to_string(),
                reason: format!("row {row_no}: segment id {id_text:?} is not a whole number ≥ 0"),
            })?;
            let name = row[name_col].trim();
            if name.is_empty() {
                return Err(Error::Table {
                    file: file.to_string(),
                    reason: format!("row {row_no}: segment {id} has no name"),
                });
            }
            let description = desc_col.map(|c| row[c].trim()).unwrap_or("");
            let known = builtin.by_name(name);
            let prompt = prompt_col.and_then(|c| row.get(c)).map(|p| p.trim()).unwrap_or("");
            segments.push(Segment {
                id,
                name: name.to_string(),
                description: if !description.is_empty() {
                    description.to_string()
                } else {
                    known.map_or_else(|| name.to_string(), |k| k.description.clone())
                },
                prompt_en: if prompt.is_empty() {
                    known.map(|k| k.prompt_en.clone()).unwrap_or_default()
                } else {
                    prompt.to_string()
                },
            });
        }
        if segments.is_empty() {
            return Err(Error::Table { file: file.to_string(), reason: "no segments in the file".into() });
        }
        SegmentDictionary::new(segments).map_err(|e| Error::Table { file: file.to_string(), reason: e.to_string() })
    }

    /// Adds a segment known only by its name and description (no training
    /// examples yet: it is matched by zero-shot similarity until it has some).
    /// It gets the next free id after the largest one, so retired ids are not
    /// reused.
    pub fn push(&mut self, name: &str, description: &str) -> u32 {
        let id = self.segments.iter().map(|s| s.id + 1).max().unwrap_or(0);
        let name = if name.trim().is_empty() { description.trim() } else { name.trim() };
        self.segments.push(Segment::new(id, name, description.trim(), ""));
        id
    }

    /// Adds a segment with a chosen id; fails if the id is taken.
    pub fn push_segment(&mut self, segment: Segment) -> Result<()> {
        if let Some(prev) = self.get(segment.id) {
            return Err(Error::DuplicateSegmentId { id: segment.id, first: prev.name.clone(), second: segment.name });
        }
        self.segments.push(segment);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Segment> {
        self.segments.iter()
    }

    pub fn ids(&self) -> Vec<u32> {
        self.segments.iter().map(|s| s.id).collect()
    }

    pub fn get(&self, id: u32) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// Position of segment `id` in the dictionary order (the column of that
    /// segment in probability vectors).
    pub fn index_of(&self, id: u32) -> Option<usize> {
        self.segments.iter().position(|s| s.id == id)
    }

    /// Segment whose name matches, ignoring case, spaces and punctuation.
    pub fn by_name(&self, name: &str) -> Option<&Segment> {
        let n = normalize_header(name);
        self.segments.iter().find(|s| normalize_header(&s.name) == n)
    }

    /// The segment a training label names: its id (`12`, `12.0`) or its name.
    pub fn resolve_label(&self, label: &str) -> Option<u32> {
        match crate::table::parse_segment_number(label) {
            Some(id) => self.get(id).map(|s| s.id),
            None => self.by_name(label).map(|s| s.id),
        }
    }

    /// A dictionary made from label names alone (ids 0, 1, … in sorted
    /// order, the name doubling as description), for training data whose
    /// labels are words rather than the users' segment ids.
    pub fn from_label_names<'a>(labels: impl IntoIterator<Item = &'a str>) -> SegmentDictionary {
        let mut names: Vec<&str> = labels.into_iter().map(str::trim).filter(|l| !l.is_empty()).collect();
        names.sort_unstable();
        names.dedup();
        let segments = names.iter().enumerate().map(|(i, n)| Segment::new(i as u32, n, n, "")).collect();
        SegmentDictionary { segments }
    }

    /// A dictionary made from numeric labels outside the default one: each
    /// number keeps its id and names its segment.
    pub fn from_label_numbers(ids: impl IntoIterator<Item = u32>) -> SegmentDictionary {
        let mut ids: Vec<u32> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let segments = ids.iter().map(|&id| Segment::new(id, &id.to_string(), &id.to_string(), "")).collect();
        SegmentDictionary { segments }
    }

    /// The video model's prompts, in dictionary order ([`Segment::vision_prompt`]).
    pub fn vision_prompts(&self) -> Vec<&str> {
        self.segments.iter().map(Segment::vision_prompt).collect()
    }

    /// Texts to embed as zero-shot prototypes, in dictionary order.
    pub fn prototype_texts(&self) -> Vec<String> {
        self.segments.iter().map(Segment::prototype_text).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_resolve_by_id_or_name_and_words_make_their_own_dictionary() {
        let d = SegmentDictionary::default_ru();
        assert_eq!(d.resolve_label("12"), Some(12));
        assert_eq!(d.resolve_label("15.0"), Some(15));
        assert_eq!(d.resolve_label("кредитные  карты"), Some(12));
        assert_eq!(d.resolve_label("6"), None, "retired id");
        let words = SegmentDictionary::from_label_names(["science", "it", "science", " ", "political"]);
        assert_eq!(words.ids(), vec![0, 1, 2]);
        assert_eq!(words.resolve_label("science"), Some(2));
        assert_eq!(words.segments()[0].name, "it");
    }

    #[test]
    fn default_dictionary_has_the_18_segments_in_use() {
        let d = SegmentDictionary::default_ru();
        assert_eq!(d.len(), 18);
        assert_eq!(d.ids(), [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
        assert!(d.get(6).is_none());
        assert_eq!(d.get(15).unwrap().name, "Музыка");
        assert!(d.get(15).unwrap().description.contains("слушать музыку"));
        for s in d.iter() {
            assert!(s.description.chars().count() > 20, "segment {} needs a description", s.id);
            assert!(s.prompt_en.starts_with("a"), "segment {} needs a prompt", s.id);
        }
    }

    #[test]
    fn push_takes_next_id_and_keeps_retired_gaps() {
        let mut d = SegmentDictionary::default_ru();
        let id = d.push("", "доставка готовой еды из ресторанов");
        assert_eq!(id, 19);
        assert_eq!(d.get(19).unwrap().name, "доставка готовой еды из ресторанов");
        assert_eq!(d.index_of(19), Some(18));
        assert!(d.get(6).is_none());
        let err = d.push_segment(Segment::new(15, "Музыка 2", "", "")).unwrap_err();
        assert!(err.to_string().contains("segment id 15 appears twice"), "{err}");
    }

    #[test]
    fn loads_csv_with_russian_headers_and_fills_descriptions() {
        let csv = "\u{FEFF}Номер;Название\n15;Музыка\n0;Промо/Нет/Нет\n20;Маркетплейс\n";
        let d = SegmentDictionary::from_file_bytes("segment_dict.csv", csv.as_bytes()).unwrap();
        assert_eq!(d.ids(), [15, 0, 20], "order and ids kept as given");
        assert!(d.get(15).unwrap().description.contains("плейлисты"));
        assert_eq!(d.get(15).unwrap().prompt_en, "an advertisement for a music streaming service");
        assert_eq!(d.get(20).unwrap().description, "Маркетплейс");
    }

    #[test]
    fn loads_xlsx_with_english_headers_and_descriptions() {
        let mut t = Table::new(vec!["Segment_num".into(), "Segment".into(), "Description".into()]);
        t.push_row(vec!["8".into(), "Кредитование".into(), "кредит наличными".into()]);
        t.push_row(vec![String::new(), String::new(), String::new()]);
        t.push_row(vec!["12".into(), "Кредитные карты".into(), String::new()]);
        let bytes = crate::table::write_xlsx(&t, &["Segment_num"]).unwrap();
        let d = SegmentDictionary::from_file_bytes("segment_dict.xlsx", &bytes).unwrap();
        assert_eq!(d.ids(), [8, 12]);
        assert_eq!(d.get(8).unwrap().description, "кредит наличными");
        assert!(d.get(12).unwrap().description.contains("льготный период"));
    }

    #[test]
    fn prompts_come_from_their_column_else_the_builtin_else_the_name() {
        let csv = "id,name,prompt_en\n15,Музыка,\n20,Маркетплейс,an advertisement for an online marketplace\n21,Такси,\n";
        let d = SegmentDictionary::from_file_bytes("d.csv", csv.as_bytes()).unwrap();
        assert_eq!(
            d.vision_prompts(),
            ["an advertisement for a music streaming service", "an advertisement for an online marketplace", "Такси"]
        );
    }

    #[test]
    fn headerless_sheet_is_read_as_id_name() {
        let d = SegmentDictionary::from_file_bytes("d.csv", "0,Промо\n1,Имидж\n".as_bytes()).unwrap();
        assert_eq!(d.ids(), [0, 1]);
        assert_eq!(d.get(1).unwrap().name, "Имидж");
    }

    #[test]
    fn clear_errors_for_bad_dictionaries() {
        let e = SegmentDictionary::from_file_bytes("d.csv", "id,title\n1,x\n".as_bytes()).unwrap_err();
        assert!(matches!(e, Error::MissingColumn { .. }), "{e}");
        assert!(e.to_string().contains("segment name") && e.to_string().contains("\"title\""), "{e}");

        let e = SegmentDictionary::from_file_bytes("d.csv", "id,name\n1,a\n1,b\n".as_bytes()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("d.csv:") && msg.contains("segment id 1 appears twice"), "{msg}");

        let e = SegmentDictionary::from_file_bytes("d.csv", "id,name\nx,a\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("row 2") && e.to_string().contains("\"x\""), "{e}");

        let e = SegmentDictionary::from_file_bytes("d.csv", "id,name\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("no segments"), "{e}");
    }

    #[test]
    fn serde_round_trip_rejects_duplicates() {
        let d = SegmentDictionary::default_ru();
        let json = serde_json::to_string(&d).unwrap();
        let back: SegmentDictionary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        let dup = r#"[{"id":1,"name":"a","description":""},{"id":1,"name":"b","description":""}]"#;
        assert!(serde_json::from_str::<SegmentDictionary>(dup).is_err());
    }
}
