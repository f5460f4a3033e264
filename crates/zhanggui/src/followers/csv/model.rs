//! The rules of follower CSV files: writing export rows (RFC 4180, UTF-8 with a BOM so that
//! Excel reads Chinese), reading an import, and what each imported row would change.

use std::collections::HashMap;

use crate::followers::FollowerRecord;
use crate::platform::clock::{Millis, push_local};
use crate::platform::i18n::{Lang, Msg};

/// Excel takes a file for UTF-8 only when it starts with this.
pub const BOM: &str = "\u{feff}";
/// The largest upload the import accepts.
pub const MAX_IMPORT_BYTES: usize = 20 * 1024 * 1024;
/// WeChat refuses remarks of 30 bytes or more (errcode 40092).
pub const REMARK_LIMIT_BYTES: usize = 30;
/// WeChat's limit of tags on one follower (errcode 45159).
pub const MAX_TAGS_PER_FOLLOWER: usize = 20;
pub const MAX_PROFILE_CHARS: usize = 64;

/// The export's columns, in order: (key, Chinese header, English header).
pub const EXPORT_COLUMNS: [(&str, &str, &str); 14] = [
    ("openid", "openid", "openid"),
    ("subscribed", "关注中", "subscribed"),
    ("followed_at", "关注时间", "followed at"),
    ("first_seen", "首次出现", "first seen"),
    ("last_active", "最近互动", "last active"),
    ("channel", "渠道", "channel"),
    ("tags", "标签", "tags"),
    ("remark", "备注", "remark"),
    ("name", "姓名", "name"),
    ("phone", "手机", "phone"),
    ("gender", "性别", "gender"),
    ("birthday", "生日", "birthday"),
    ("city", "城市", "city"),
    ("unionid", "unionid", "unionid"),
];

/// Appends one field, quoted when it must be.
pub fn push_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

pub fn push_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, f);
    }
    out.push_str("\r\n");
}

pub fn header(lang: Lang) -> String {
    let mut out = String::from(BOM);
    push_row(
        &mut out,
        EXPORT_COLUMNS.iter().map(|(_, zh, en)| match lang {
            Lang::ZhCn => *zh,
            Lang::En => *en,
        }),
    );
    out
}

fn yes_no(v: bool, lang: Lang) -> &'static str {
    match (v, lang) {
        (true, Lang::ZhCn) => "是",
        (false, Lang::ZhCn) => "否",
        (true, Lang::En) => "yes",
        (false, Lang::En) => "no",
    }
}

fn gender_text(stored: Option<&str>, lang: Lang) -> &'static str {
    match (stored, lang) {
        (Some("male"), Lang::ZhCn) => "男",
        (Some("female"), Lang::ZhCn) => "女",
        (Some("male"), Lang::En) => "male",
        (Some("female"), Lang::En) => "female",
        _ => "",
    }
}

/// What the export needs beside a follower: names of tags and channels, the time zone.
pub struct ExportContext {
    pub tag_names: HashMap<i64, String>,
    pub channel_names: HashMap<String, String>,
    pub tz: chrono_tz::Tz,
    pub lang: Lang,
}

/// One exported follower: the file's columns and nothing else (a filter needs no column
/// selected, and every column read costs a decode and an allocation per row).
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow)]
pub struct ExportRow {
    pub openid: String,
    pub subscribed: bool,
    pub subscribed_at: Option<Millis>,
    pub first_seen_at: Millis,
    pub last_interaction_at: Millis,
    pub channel: Option<String>,
    pub remark: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub gender: Option<String>,
    pub birthday: Option<String>,
    pub city: Option<String>,
    pub unionid: Option<String>,
    /// Our tag ids (read beside the rows, by one range of the tags' primary key).
    #[sqlx(skip)]
    pub tag_ids: Vec<i64>,
}

pub fn push_export_row(out: &mut String, r: &ExportRow, cx: &ExportContext) {
    push_field(out, &r.openid);
    out.push(',');
    out.push_str(yes_no(r.subscribed, cx.lang));
    for at in [
        r.subscribed_at,
        Some(r.first_seen_at),
        Some(r.last_interaction_at),
    ] {
        out.push(',');
        if let Some(at) = at {
            push_local(out, at, cx.tz);
        }
    }
    out.push(',');
    if let Some(scene) = &r.channel {
        push_field(out, cx.channel_names.get(scene).unwrap_or(scene));
    }
    out.push(',');
    let mut tags = String::new(); // no allocation for a follower without tags
    for name in r.tag_ids.iter().filter_map(|id| cx.tag_names.get(id)) {
        if !tags.is_empty() {
            tags.push('|');
        }
        tags.push_str(name);
    }
    push_field(out, &tags);
    out.push(',');
    push_field(out, &r.remark);
    for v in [&r.name, &r.phone] {
        out.push(',');
        push_field(out, v.as_deref().unwrap_or(""));
    }
    out.push(',');
    out.push_str(gender_text(r.gender.as_deref(), cx.lang));
    for v in [&r.birthday, &r.city, &r.unionid] {
        out.push(',');
        push_field(out, v.as_deref().unwrap_or(""));
    }
    out.push_str("\r\n");
}

// ---- reading ----

/// Parses CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into rows.
/// A BOM is dropped; blank lines are skipped.
pub fn parse(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let mut rows = vec![];
    let mut row: Vec<String> = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                end_row(&mut rows, std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        end_row(&mut rows, row);
    }
    rows
}

fn end_row(rows: &mut Vec<Vec<String>>, row: Vec<String>) {
    if !row.iter().all(|f| f.trim().is_empty()) {
        rows.push(row);
    }
}

/// The columns an import may set.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Openid,
    Remark,
    Tags,
    Name,
    Phone,
    Gender,
    Birthday,
    City,
}

impl Column {
    /// A header cell in Chinese or English (case and spaces ignored).
    pub fn of_header(h: &str) -> Option<Column> {
        let h = h.trim().to_ascii_lowercase();
        Some(match h.as_str() {
            "openid" => Column::Openid,
            "remark" | "备注" => Column::Remark,
            "tags" | "tag" | "标签" => Column::Tags,
            "name" | "姓名" => Column::Name,
            "phone" | "mobile" | "手机" | "手机号" | "电话" => Column::Phone,
            "gender" | "sex" | "性别" => Column::Gender,
            "birthday" | "生日" => Column::Birthday,
            "city" | "城市" => Column::City,
            _ => return None,
        })
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Column::Openid => "csv.col.openid",
            Column::Remark => "csv.col.remark",
            Column::Tags => "csv.col.tags",
            Column::Name => "csv.col.name",
            Column::Phone => "csv.col.phone",
            Column::Gender => "csv.col.gender",
            Column::Birthday => "csv.col.birthday",
            Column::City => "csv.col.city",
        }
    }
}

/// The header of an import: which column is which. Unknown headers are ignored (an export
/// can be edited and imported back); openid is required.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub columns: Vec<(usize, Column)>,
    pub openid: usize,
}

pub fn layout(header: &[String]) -> Result<Layout, Msg> {
    let mut columns: Vec<(usize, Column)> = vec![];
    for (i, h) in header.iter().enumerate() {
        if let Some(c) = Column::of_header(h) {
            if columns.iter().any(|(_, seen)| *seen == c) {
                return Err(Msg::new("csv.error.duplicate_column").arg("column", h.trim()));
            }
            columns.push((i, c));
        }
    }
    let openid = columns
        .iter()
        .find(|(_, c)| *c == Column::Openid)
        .map(|(i, _)| *i)
        .ok_or_else(|| Msg::new("csv.error.no_openid"))?;
    if columns.len() < 2 {
        return Err(Msg::new("csv.error.nothing_to_change"));
    }
    Ok(Layout { columns, openid })
}

/// One row's wishes, checked: `None` for a column means "leave as is"; an empty cell clears
/// a profile field (and removes every tag for the tags column).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wanted {
    pub openid: String,
    pub remark: Option<String>,
    pub tag_names: Option<Vec<String>>,
    pub name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub gender: Option<Option<String>>,
    pub birthday: Option<Option<String>>,
    pub city: Option<Option<String>>,
}

/// Why a row is refused, in the user's words later.
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    pub column: Column,
    pub msg: Msg,
}

fn optional(cell: &str) -> Option<String> {
    let c = cell.trim();
    (!c.is_empty()).then(|| c.to_string())
}

pub fn check_phone(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && p.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
        && !p.starts_with(['-', ' '])
}

pub fn check_birthday(b: &str) -> bool {
    b.len() == 10 && chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").is_ok()
}

/// The stored gender of a cell (`Some(None)`: unknown), or `None` when it is no gender.
pub fn parse_gender(g: &str) -> Option<Option<String>> {
    match g.trim().to_ascii_lowercase().as_str() {
        "" | "未知" | "unknown" => Some(None),
        "男" | "m" | "male" => Some(Some("male".into())),
        "女" | "f" | "female" => Some(Some("female".into())),
        _ => None,
    }
}

fn check_text(cell: &str, column: Column, errors: &mut Vec<RowError>) -> Option<String> {
    let v = optional(cell);
    if v.as_ref()
        .is_some_and(|v| v.chars().count() > MAX_PROFILE_CHARS)
    {
        errors.push(RowError {
            column,
            msg: Msg::new("error.too_long").arg("max", MAX_PROFILE_CHARS),
        });
    }
    v
}

/// Reads one data row by the layout; the tag names are checked against the account's tags
/// later (they need the database).
pub fn read_row(layout: &Layout, row: &[String]) -> Result<Wanted, Vec<RowError>> {
    let (w, errors) = read_row_with_errors(layout, row);
    if errors.is_empty() {
        Ok(w)
    } else {
        Err(errors)
    }
}

/// A row as far as it reads, with every error found in it (so that a bad row's report
/// names all its problems at once, not the first).
pub fn read_row_with_errors(layout: &Layout, row: &[String]) -> (Wanted, Vec<RowError>) {
    let cell = |i: usize| row.get(i).map(String::as_str).unwrap_or("");
    let mut w = Wanted {
        openid: cell(layout.openid).trim().to_string(),
        ..Wanted::default()
    };
    let mut errors = vec![];
    if w.openid.is_empty() || w.openid.len() > 64 {
        errors.push(RowError {
            column: Column::Openid,
            msg: Msg::new("csv.error.openid"),
        });
    }
    for (i, column) in &layout.columns {
        let raw = cell(*i);
        match column {
            Column::Openid => {}
            Column::Remark => {
                let r = raw.trim().to_string();
                if r.len() >= REMARK_LIMIT_BYTES {
                    errors.push(RowError {
                        column: *column,
                        msg: Msg::new("csv.error.remark"),
                    });
                }
                w.remark = Some(r);
            }
            Column::Tags => {
                let mut names: Vec<String> = raw
                    .split(['|', '，', ','])
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect();
                names.dedup();
                if names.len() > MAX_TAGS_PER_FOLLOWER {
                    errors.push(RowError {
                        column: *column,
                        msg: Msg::new("csv.error.too_many_tags").arg("max", MAX_TAGS_PER_FOLLOWER),
                    });
                }
                w.tag_names = Some(names);
            }
            Column::Name => w.name = Some(check_text(raw, *column, &mut errors)),
            Column::City => w.city = Some(check_text(raw, *column, &mut errors)),
            Column::Phone => {
                let p = optional(raw);
                if p.as_deref().is_some_and(|p| !check_phone(p)) {
                    errors.push(RowError {
                        column: *column,
                        msg: Msg::new("csv.error.phone"),
                    });
                }
                w.phone = Some(p);
            }
            Column::Gender => match parse_gender(raw) {
                Some(g) => w.gender = Some(g),
                None => errors.push(RowError {
                    column: *column,
                    msg: Msg::new("csv.error.gender"),
                }),
            },
            Column::Birthday => {
                let b = optional(raw);
                if b.as_deref().is_some_and(|b| !check_birthday(b)) {
                    errors.push(RowError {
                        column: *column,
                        msg: Msg::new("csv.error.birthday"),
                    });
                }
                w.birthday = Some(b);
            }
        }
    }
    (w, errors)
}

/// One field's change: shown before → after in the dry run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Change {
    pub column: Column,
    pub before: String,
    pub after: String,
}

fn diff(column: Column, before: Option<&str>, after: Option<&str>, out: &mut Vec<Change>) {
    let b = before.unwrap_or("");
    let a = after.unwrap_or("");
    if a != b {
        out.push(Change {
            column,
            before: b.to_string(),
            after: a.to_string(),
        });
    }
}

/// What applying `w` would change on `r`, given the names of `r`'s current tags and
/// the names wanted.
pub fn changes(w: &Wanted, r: &FollowerRecord, current_tags: &[String]) -> Vec<Change> {
    let p = &r.profile;
    let mut out = vec![];
    if let Some(remark) = &w.remark {
        diff(Column::Remark, Some(&p.remark), Some(remark), &mut out);
    }
    if let Some(names) = &w.tag_names {
        let mut before = current_tags.to_vec();
        before.sort();
        let mut after = names.clone();
        after.sort();
        if before != after {
            out.push(Change {
                column: Column::Tags,
                before: before.join("|"),
                after: after.join("|"),
            });
        }
    }
    type Field<'a> = (Column, &'a Option<Option<String>>, Option<&'a str>);
    let fields: [Field; 5] = [
        (Column::Name, &w.name, p.name.as_deref()),
        (Column::Phone, &w.phone, p.phone.as_deref()),
        (Column::Gender, &w.gender, p.gender.as_deref()),
        (Column::Birthday, &w.birthday, p.birthday.as_deref()),
        (Column::City, &w.city, p.city.as_deref()),
    ];
    for (column, wanted, before) in fields {
        if let Some(after) = wanted {
            diff(column, before, after.as_deref(), &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed_and_read_back() {
        let mut out = String::new();
        push_row(&mut out, ["a", "b,c", "say \"hi\"", "多行\n文本", ""]);
        assert_eq!(out, "a,\"b,c\",\"say \"\"hi\"\"\",\"多行\n文本\",\r\n");
        let rows = parse(&format!("{BOM}{out}\r\n,,\r\nx,y"));
        assert_eq!(
            rows,
            vec![
                vec!["a", "b,c", "say \"hi\"", "多行\n文本", ""],
                vec!["x", "y"]
            ]
        );
    }

    #[test]
    fn headers_in_chinese_or_english() {
        let header: Vec<String> = ["OpenID", "备注", "Tags", "其他"]
            .map(String::from)
            .to_vec();
        let l = layout(&header).expect("layout");
        assert_eq!(l.openid, 0);
        assert_eq!(
            l.columns,
            vec![(0, Column::Openid), (1, Column::Remark), (2, Column::Tags)]
        );
        assert!(layout(&["备注".to_string()]).is_err());
    }

    #[test]
    fn bad_cells_are_reported_by_column() {
        let header: Vec<String> = ["openid", "phone", "birthday", "gender", "remark"]
            .map(String::from)
            .to_vec();
        let l = layout(&header).expect("layout");
        let row: Vec<String> = ["o1", "abc", "2020-02-30", "x", "一二三四五六七八九十"]
            .map(String::from)
            .to_vec();
        let errors = read_row(&l, &row).err().unwrap_or_default();
        let columns: Vec<Column> = errors.iter().map(|e| e.column).collect();
        assert_eq!(
            columns,
            vec![
                Column::Phone,
                Column::Birthday,
                Column::Gender,
                Column::Remark
            ]
        );
        let ok: Vec<String> = ["o1", "+86 138-0000-0000", "1990-05-01", "女", "老客"]
            .map(String::from)
            .to_vec();
        let w = read_row(&l, &ok).expect("valid");
        assert_eq!(w.gender, Some(Some("female".into())));
    }
}
