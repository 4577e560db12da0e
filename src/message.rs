//! What the tool tells its user about a creative (why it failed, why it has
//! no segment, why a branch did not answer) as a code and the values it
//! names. The CLI and the reports print the English text; the page words the
//! code in the user's language (`www/js/i18n.js`, `msg-<code>`), so a Russian
//! page shows no English sentence. The English lives here only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Stable, kebab-case: the page's key for its own wording.
    pub code: String,
    /// The values the wording names (a codec, a path, a library's own words).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The English sentence, cause included.
    pub text: String,
    /// What led to it, said after it ("no video frames: <cause>").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<Message>>,
}

impl Message {
    pub fn new(code: &str, text: impl Into<String>) -> Message {
        Message { code: code.into(), params: BTreeMap::new(), text: text.into(), cause: None }
    }

    pub fn with(mut self, name: &str, value: impl ToString) -> Message {
        self.params.insert(name.into(), value.to_string());
        self
    }

    /// This message followed by its cause: "`text`: cause".
    pub fn because(code: &str, text: &str, cause: Message) -> Message {
        Message { text: format!("{text}: {}", cause.text), cause: Some(Box::new(cause)), ..Message::new(code, text) }
    }
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Messages said together, the first followed by its reasons in brackets:
/// "no speech in the creative; … (vision branch off; no text on screen)".
pub fn joined(messages: &[Message]) -> Option<String> {
    let (first, reasons) = messages.split_first()?;
    Some(if reasons.is_empty() {
        first.text.clone()
    } else {
        format!("{} ({})", first.text, reasons.iter().map(|m| m.text.as_str()).collect::<Vec<_>>().join("; "))
    })
}

impl Error {
    /// The code, and the values the page needs to word this error; the
    /// text is this error's English message.
    pub fn message(&self) -> Message {
        let m = |code: &str| Message::new(code, self.to_string());
        match self {
            Error::Read { path, source } => m("read").with("path", path.display()).with("detail", source),
            Error::Write { path, source } => m("write").with("path", path.display()).with("detail", source),
            Error::NotRegularFile { path } => m("not-a-file").with("path", path.display()),
            Error::FileTooLarge { path, bytes, limit } => m("file-too-large").with("path", path.display()).with("bytes", bytes).with("limit", limit),
            Error::EmptyInput => m("empty"),
            Error::NotMedia(detail) => m("not-media").with("detail", detail),
            Error::UnsupportedCodec { codec, hint } => m("unsupported-codec").with("codec", codec).with("detail", hint),
            Error::NoAudioTrack => m("no-audio"),
            Error::Decode(detail) => m("decode").with("detail", detail),
            Error::OverBudget { field, value, limit } => m("over-budget").with("field", field).with("value", value).with("limit", limit),
            Error::NoVideoTrack => m("no-video"),
            Error::UnsupportedVideoCodec { codec } => m("unsupported-video-codec").with("codec", codec),
            Error::VideoDecode(detail) => m("video-decode").with("detail", detail),
            Error::Ocr(detail) => m("ocr").with("detail", detail),
            Error::ModelMissing { name, .. } => m("model-missing").with("name", name),
            Error::ModelCorrupt { name, reason } => m("model-corrupt").with("name", name).with("detail", reason),
            Error::ModelConfig(detail) => m("model-config").with("detail", detail),
            Error::Prepare(detail) => m("prepare").with("detail", detail),
            Error::Io(e) => m("io").with("detail", e),
            Error::Inference(e) => m("inference").with("detail", e),
            Error::Gpu(e) => m("gpu").with("detail", e),
            Error::Tokenizer(detail) => m("tokenizer").with("detail", detail),
            Error::Invalid(detail) => m("invalid").with("detail", detail),
            Error::MissingColumn { file, wanted, found, .. } => m("missing-column").with("file", file).with("wanted", wanted).with("found", found),
            Error::Table { file, reason } => m("table").with("file", file).with("detail", reason),
            Error::DuplicateSegmentId { id, first, second } => m("duplicate-segment").with("id", id).with("first", first).with("second", second),
            Error::EmbeddingModelMismatch { head_model, in_use } => m("head-mismatch").with("head_model", head_model).with("in_use", in_use),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_with_its_cause_reads_as_one_sentence_and_keeps_both_codes() {
        let m = Message::because("no-video-frames", "no video frames", Error::NoVideoTrack.message());
        assert_eq!(m.text, format!("no video frames: {}", Error::NoVideoTrack));
        assert_eq!(m.cause.as_ref().unwrap().code, "no-video");
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["cause"]["code"], "no-video");
        assert!(json.get("params").is_none(), "no empty params in the JSON");
        let codec = Error::UnsupportedCodec { codec: "wma".into(), hint: "re-encode it".into() }.message();
        assert_eq!((codec.code.as_str(), codec.params["codec"].as_str()), ("unsupported-codec", "wma"));
    }

    #[test]
    fn reasons_follow_the_first_message_in_brackets() {
        let a = Message::new("a", "first");
        assert_eq!(joined(&[a.clone()]).unwrap(), "first");
        assert_eq!(joined(&[a.clone(), Message::new("b", "x"), Message::new("c", "y")]).unwrap(), "first (x; y)");
        assert_eq!(joined(&[]), None);
    }
}
