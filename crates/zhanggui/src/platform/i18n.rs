//! Languages and the message catalogue. Simplified Chinese is the default; English on request.
//!
//! Every user-facing string has a key; pages and errors look keys up in the caller's language.
//! Messages may carry `{name}` arguments.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::HeaderMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

pub const LANG_COOKIE: &str = "zg_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        if code.starts_with("zh") {
            Some(Lang::ZhCn)
        } else if code.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The first language of `Accept-Language` we speak, by the order the client gave.
    pub fn from_accept_language(value: &str) -> Option<Lang> {
        let mut tagged: Vec<(f32, Lang)> = value
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let lang = Lang::parse(it.next()?)?;
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        tagged.sort_by(|a, b| b.0.total_cmp(&a.0));
        tagged.first().map(|(_, l)| *l)
    }

    /// The language of a request: our cookie first, then `Accept-Language`, then Chinese.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        let from_cookie = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("zg_lang=").and_then(Lang::parse));
        from_cookie
            .or_else(|| {
                headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::from_accept_language)
            })
            .unwrap_or_default()
    }

    /// Looks up `key`; a missing key shows itself, so a gap is visible rather than blank.
    pub fn t(self, key: &str) -> &'static str {
        match catalog().get(key) {
            Some((zh, en)) => match self {
                Lang::ZhCn => zh,
                Lang::En => en,
            },
            None => {
                tracing::warn!(key, "missing message");
                "⟨missing message⟩"
            }
        }
    }

    pub fn render(self, msg: &Msg) -> String {
        let mut text = self.t(msg.key).to_string();
        for (name, value) in &msg.args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

/// A message to be shown in the reader's language, with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Msg {
    pub fn new(key: &'static str) -> Msg {
        Msg { key, args: vec![] }
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Msg {
        self.args.push((name, value.to_string()));
        self
    }
}

pub fn has_key(key: &str) -> bool {
    catalog().contains_key(key)
}

fn catalog() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static MAP: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    MAP.get_or_init(|| {
        super::messages::MESSAGES
            .iter()
            .map(|(k, zh, en)| (*k, (*zh, *en)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_respects_quality() {
        assert_eq!(
            Lang::from_accept_language("fr;q=1, en;q=0.9, zh-CN;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Lang::ZhCn)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
    }

    #[test]
    fn arguments_are_substituted() {
        let m = Msg::new("error.too_long").arg("max", 30);
        assert!(Lang::En.render(&m).contains("30"));
        assert!(Lang::ZhCn.render(&m).contains("30"));
    }

    #[test]
    fn every_key_is_unique_and_translated() {
        let mut seen = std::collections::HashSet::new();
        for (k, zh, en) in super::super::messages::MESSAGES {
            assert!(seen.insert(*k), "duplicate message key {k}");
            assert!(!zh.is_empty() && !en.is_empty(), "untranslated {k}");
        }
    }

    /// Every `t("...")` used by a template or by code has an entry in the catalogue.
    #[test]
    fn every_key_used_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut missing = vec![];
        for dir in ["templates", "src"] {
            visit(&root.join(dir), &mut |text| {
                for key in used_keys(text) {
                    if !has_key(&key) {
                        missing.push(key);
                    }
                }
            });
        }
        assert!(missing.is_empty(), "message keys without text: {missing:?}");
    }

    fn used_keys(text: &str) -> Vec<String> {
        let mut keys = vec![];
        for marker in ["t(\"", "Msg::new(\"", "msg(\""] {
            let mut rest = text;
            while let Some(pos) = rest.find(marker) {
                rest = &rest[pos + marker.len()..];
                if let Some(end) = rest.find('"') {
                    let key = &rest[..end];
                    if looks_like_key(key) {
                        keys.push(key.to_string());
                    }
                }
            }
        }
        keys
    }

    /// `group.name` in lowercase letters, digits and underscores.
    fn looks_like_key(s: &str) -> bool {
        let parts: Vec<&str> = s.split('.').collect();
        parts.len() >= 2
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            })
    }

    fn visit(dir: &std::path::Path, f: &mut dyn FnMut(&str)) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                visit(&path, f);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                f(&text);
            }
        }
    }
}
