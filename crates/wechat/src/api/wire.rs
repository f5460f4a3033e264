//! WeChat's JSON and HTTP quirks that several API groups share: ids that come back as a
//! number from one endpoint and as a string from another, `0`/`1` flags, answers that are a
//! file unless they are an error, percent-encoding, and splitting long lists into calls.

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

use super::ApiError;

/// Reads a JSON string or number as a string: WeChat sends `menuid`, `publish_id` and rule
/// values either way depending on the endpoint.
pub fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Null => Ok(String::new()),
        other => Err(de::Error::custom(format!(
            "expected a string or a number, got {other}"
        ))),
    }
}

/// As [`string_or_number`], for optional fields (`null` and absent are `None`).
pub fn opt_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(de::Error::custom(format!(
            "expected a string or a number, got {other}"
        ))),
    }
}

/// Reads a number that may come as a JSON number or a string of digits (`"sex": "1"` in some
/// answers, `1` in others).
pub fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| de::Error::custom(format!("{n} is not an integer"))),
        serde_json::Value::String(s) if s.trim().is_empty() => Ok(0),
        serde_json::Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("{s:?} is not an integer"))),
        serde_json::Value::Null => Ok(0),
        other => Err(de::Error::custom(format!("expected a number, got {other}"))),
    }
}

/// Reads an id that may come as a JSON number or a string of digits (`msgid`, `msg_id`), as
/// the callback events carry it (`MsgID`, a `u64`).
pub fn u64_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| de::Error::custom(format!("{n} is not an id"))),
        serde_json::Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("{s:?} is not an id"))),
        other => Err(de::Error::custom(format!("expected an id, got {other}"))),
    }
}

/// Reads WeChat's `0`/`1` flags (sometimes `true`/`false`, sometimes `"1"`) as a bool.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Ok(b),
        serde_json::Value::Number(n) => Ok(n.as_i64().is_some_and(|n| n != 0)),
        serde_json::Value::String(s) => Ok(!matches!(s.trim(), "" | "0" | "false")),
        serde_json::Value::Null => Ok(false),
        other => Err(de::Error::custom(format!("expected a flag, got {other}"))),
    }
}

/// Writes a bool as WeChat's `0`/`1`.
pub fn flag_as_int<S: serde::Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(u8::from(*value))
}

/// Percent-encodes everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`),
/// as WeChat's examples encode `redirect_uri` and QR tickets (`+`, `/`, `=` included).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What an endpoint that serves files answers: the file, or WeChat's JSON (an error, or a
/// description such as `{video_url}` for videos).
#[derive(Debug)]
pub enum FileOrJson {
    File(File),
    Json(serde_json::Value),
}

/// A file WeChat served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub bytes: Vec<u8>,
    /// The `Content-Type` WeChat gave (`image/jpeg`, …).
    pub content_type: String,
    /// The file name from `Content-Disposition`, when there is one.
    pub file_name: Option<String>,
}

fn is_json_content_type(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    // WeChat answers errors of file endpoints as `text/plain` as often as JSON.
    ct.is_empty() || ct.contains("json") || ct.starts_with("text/")
}

/// Reads the answer of an endpoint that serves files. An error (`errcode` ≠ 0) is an
/// [`ApiError`] whatever the content type says.
pub async fn read_file_or_json(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<FileOrJson, ApiError> {
    let res = sent.map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
    let status = res.status().as_u16();
    let header = |name: reqwest::header::HeaderName| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
    let file_name = header(reqwest::header::CONTENT_DISPOSITION).and_then(|d| file_name_of(&d));
    let bytes = res
        .bytes()
        .await
        .map_err(|e| ApiError::Transport(e.without_url().to_string()))?
        .to_vec();
    file_or_json(status, &content_type, file_name, bytes)
}

/// The decision of [`read_file_or_json`], on an answer already read.
pub fn file_or_json(
    status: u16,
    content_type: &str,
    file_name: Option<String>,
    bytes: Vec<u8>,
) -> Result<FileOrJson, ApiError> {
    let looks_like_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if is_json_content_type(content_type) && looks_like_json {
        let text = String::from_utf8_lossy(&bytes);
        let value: serde_json::Value = super::read_answer(status, &text)?;
        return Ok(FileOrJson::Json(value));
    }
    if !(200..300).contains(&status) {
        return Err(ApiError::Protocol(format!("HTTP {status}")));
    }
    Ok(FileOrJson::File(File {
        bytes,
        content_type: content_type.to_string(),
        file_name,
    }))
}

/// `attachment; filename="x.jpg"` → `x.jpg`.
fn file_name_of(disposition: &str) -> Option<String> {
    disposition.split(';').find_map(|part| {
        let (key, value) = part.trim().split_once('=')?;
        (key.trim().eq_ignore_ascii_case("filename"))
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|name| !name.is_empty())
    })
}

/// A JSON answer of a file endpoint, read as `T`.
pub fn json_as<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::Protocol(format!("unexpected answer shape: {e}")))
}

/// A file to upload as the multipart field `media`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// WeChat decides the format by the name's extension (`cover.jpg`), so give a real one.
    pub file_name: String,
    pub bytes: Vec<u8>,
}

impl Upload {
    pub fn new(file_name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Upload {
        Upload {
            file_name: file_name.into(),
            bytes: bytes.into(),
        }
    }

    /// The content type WeChat expects for the file's extension.
    pub fn content_type(&self) -> &'static str {
        let ext = self
            .file_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "jpg" | "jpeg" => "image/jpeg",
            "png" => "image/png",
            "gif" => "image/gif",
            "bmp" => "image/bmp",
            "mp3" => "audio/mpeg",
            "amr" => "audio/amr",
            "wma" => "audio/x-ms-wma",
            "wav" => "audio/wav",
            "mp4" => "video/mp4",
            _ => "application/octet-stream",
        }
    }

    /// The multipart form: the file in `media`, plus text fields.
    pub fn form(&self, fields: &[(&str, String)]) -> Result<reqwest::multipart::Form, ApiError> {
        let part = reqwest::multipart::Part::bytes(self.bytes.clone())
            .file_name(self.file_name.clone())
            .mime_str(self.content_type())
            .map_err(|e| ApiError::Protocol(format!("cannot build the upload: {e}")))?;
        let mut form = reqwest::multipart::Form::new().part("media", part);
        for (name, value) in fields {
            form = form.text(name.to_string(), value.clone());
        }
        Ok(form)
    }
}

/// Splits `items` into calls of at most `max` each (WeChat's per-call limits).
pub fn batches<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    items.chunks(max.max(1))
}

/// `{"openid": [...]}`, the `data` of WeChat's openid pages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct OpenidList {
    #[serde(default)]
    pub openid: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Id {
        #[serde(deserialize_with = "string_or_number")]
        id: String,
        #[serde(default, deserialize_with = "flag")]
        on: bool,
    }

    #[test]
    fn ids_read_the_same_as_numbers_and_strings() {
        let a: Id = serde_json::from_str(r#"{"id": 208379533, "on": 1}"#).expect("number");
        let b: Id = serde_json::from_str(r#"{"id": "208379533", "on": "0"}"#).expect("string");
        assert_eq!(a.id, b.id);
        assert!(a.on);
        assert!(!b.on);
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            percent_encode("http://a.b/c?d=&e=f g~_-."),
            "http%3A%2F%2Fa.b%2Fc%3Fd%3D%26e%3Df%20g~_-."
        );
        assert_eq!(percent_encode("gQH+/x=="), "gQH%2B%2Fx%3D%3D");
        assert_eq!(percent_encode("中"), "%E4%B8%AD");
    }

    #[test]
    fn file_answers_are_files_unless_they_are_json() {
        let file = file_or_json(200, "image/jpeg", None, b"\xFF\xD8\xFF".to_vec());
        assert!(matches!(file, Ok(FileOrJson::File(f)) if f.bytes.len() == 3));
        let error = file_or_json(
            200,
            "text/plain",
            None,
            br#"{"errcode":40007,"errmsg":"invalid media_id"}"#.to_vec(),
        );
        assert_eq!(error.err().and_then(|e| e.errcode()), Some(40007));
        let video = file_or_json(
            200,
            "application/json",
            None,
            br#"{"video_url":"u"}"#.to_vec(),
        );
        assert!(matches!(video, Ok(FileOrJson::Json(v)) if v["video_url"] == "u"));
        let broken = file_or_json(502, "text/html", None, b"<html>".to_vec());
        assert!(matches!(broken, Err(ApiError::Protocol(_))));
    }

    #[test]
    fn file_names_come_from_the_disposition() {
        assert_eq!(
            file_name_of("attachment; filename=\"abc.jpg\"").as_deref(),
            Some("abc.jpg")
        );
        assert_eq!(file_name_of("inline"), None);
    }

    #[test]
    fn long_lists_are_split_at_the_limit() {
        let items: Vec<u32> = (0..120).collect();
        let sizes: Vec<usize> = batches(&items, 50).map(<[u32]>::len).collect();
        assert_eq!(sizes, vec![50, 50, 20]);
        assert_eq!(batches::<u32>(&[], 50).count(), 0);
    }
}
