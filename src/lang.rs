//! The users' language: the page's and the exported tables' words, chart
//! labels and number formats. The CLI speaks English.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    /// `ru` or `en`.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The decimal mark: "," in Russian, "." in English.
    pub fn decimal_mark(self) -> char {
        match self {
            Lang::Ru => ',',
            Lang::En => '.',
        }
    }

    /// The CSV separator a spreadsheet in this language expects: Russian
    /// Excel reads ";" (its decimal mark is ",").
    pub fn csv_delimiter(self) -> u8 {
        match self {
            Lang::Ru => b';',
            Lang::En => b',',
        }
    }
}
