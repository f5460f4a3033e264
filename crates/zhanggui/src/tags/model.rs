//! Tags as WeChat allows them: names, limits, and what each of WeChat's refusals means to
//! the merchant. Pure rules; no I/O.

use crate::platform::i18n::Msg;

/// Tags an account may create (WeChat's own starred tag does not count).
pub const MAX_TAGS_PER_ACCOUNT: usize = 100;
/// Tags one follower may carry.
pub const MAX_TAGS_PER_FOLLOWER: usize = 20;
/// Openids in one `batchtagging` / `batchuntagging` call.
pub const TAGGING_BATCH: usize = wechat::api::tags::MAX_TAGGING_BATCH;
/// Longest tag name, in bytes of UTF-8 as WeChat counts them (10 Chinese characters).
pub const MAX_NAME_BYTES: usize = 30;
/// Ids below this are WeChat's own (0 untagged, 1 blacklist, 2 starred): never editable.
pub const FIRST_OWN_TAG_ID: i64 = 100;
/// Openids a request may tag or untag at once; more go through a bulk operation.
pub const MAX_MEMBERS_PER_REQUEST: usize = 200;
/// WeChat refuses to delete a tag with more followers than this.
pub const MAX_DELETABLE_MEMBERS: i64 = 100_000;

/// A tag name WeChat will take: trimmed, not empty, at most 30 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagName(String);

impl TagName {
    pub fn parse(raw: &str) -> Result<TagName, Msg> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Msg::new("tags.name_required"));
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(Msg::new("tags.name_too_long").arg("max", MAX_NAME_BYTES));
        }
        if name.chars().any(char::is_control) {
            return Err(Msg::new("tags.name_invalid"));
        }
        Ok(TagName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a WeChat tag id is one of WeChat's own tags (starred and the like).
pub fn is_system_tag(wx_tag_id: i64) -> bool {
    wx_tag_id < FIRST_OWN_TAG_ID
}

/// What to tell the merchant when WeChat refused a tag call with `errcode`.
pub fn explain_refusal(errcode: i64) -> Msg {
    let key = match errcode {
        45157 => "tags.wx_name_taken",
        45158 => "tags.wx_name_too_long",
        45056 => "tags.wx_too_many_tags",
        45057 => "tags.wx_too_many_members",
        45058 => "tags.wx_system_tag",
        45059 => "tags.wx_follower_full",
        45159 => "tags.wx_unknown_tag",
        40032 => "tags.wx_too_many_openids",
        40003 => "tags.wx_unknown_openid",
        48001 => "tags.wx_no_rights",
        -1 => "wxerr.busy",
        _ => "wxerr.other",
    };
    Msg::new(key).arg("code", errcode)
}

/// Whether retrying the same call later cannot help: WeChat refused what was asked.
pub fn is_final_refusal(errcode: i64) -> bool {
    matches!(
        errcode,
        45157 | 45158 | 45056 | 45057 | 45058 | 45059 | 45159 | 40032 | 40003 | 48001 | 43004
    )
}

/// The tag ids to add and to remove so that a follower carrying `current` carries `wanted`.
pub fn difference(current: &[i64], wanted: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let add = wanted
        .iter()
        .filter(|t| !current.contains(t))
        .copied()
        .collect::<std::collections::BTreeSet<_>>();
    let remove = current
        .iter()
        .filter(|t| !wanted.contains(t))
        .copied()
        .collect::<std::collections::BTreeSet<_>>();
    (add.into_iter().collect(), remove.into_iter().collect())
}

/// A bulk operation: tag or untag.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    Tag,
    Untag,
}

impl BulkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Tag => "tag",
            BulkAction::Untag => "untag",
        }
    }

    pub fn parse(s: &str) -> Option<BulkAction> {
        match s {
            "tag" => Some(BulkAction::Tag),
            "untag" => Some(BulkAction::Untag),
            _ => None,
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            BulkAction::Tag => "tags.bulk_tag",
            BulkAction::Untag => "tags.bulk_untag",
        }
    }
}

/// Where a follower stands for one batch of a tagging operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eligibility {
    /// Send it to WeChat.
    Send,
    /// Nothing to do: tagging someone who has the tag, untagging someone who has not.
    AlreadyThere,
    /// Leave them out, with the message key of the reason.
    Skip(&'static str),
}

/// Whether to send a follower in a tagging batch, from what we know: subscribed, how many
/// tags they carry and whether this one is among them.
pub fn eligibility(
    action: BulkAction,
    subscribed: bool,
    tags: usize,
    has_tag: bool,
) -> Eligibility {
    match action {
        BulkAction::Tag if has_tag => Eligibility::AlreadyThere,
        BulkAction::Tag if !subscribed => Eligibility::Skip("tags.skip_not_following"),
        BulkAction::Tag if tags >= MAX_TAGS_PER_FOLLOWER => {
            Eligibility::Skip("tags.skip_follower_full")
        }
        BulkAction::Tag => Eligibility::Send,
        BulkAction::Untag if !has_tag => Eligibility::AlreadyThere,
        BulkAction::Untag => Eligibility::Send,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_counted_in_bytes() {
        assert_eq!(
            TagName::parse("  老客户 ").map(|n| n.0),
            Ok("老客户".into())
        );
        assert!(TagName::parse("   ").is_err());
        // 10 Chinese characters are 30 bytes: the limit exactly.
        assert!(TagName::parse("一二三四五六七八九十").is_ok());
        assert_eq!(
            TagName::parse("一二三四五六七八九十一").map_err(|m| m.key),
            Err("tags.name_too_long")
        );
        assert!(TagName::parse(&"a".repeat(30)).is_ok());
        assert!(TagName::parse(&"a".repeat(31)).is_err());
        assert!(TagName::parse("a\u{7}b").is_err());
    }

    #[test]
    fn every_refusal_has_its_own_explanation() {
        for code in [
            45157, 45158, 45056, 45057, 45058, 45059, 45159, 40032, 40003,
        ] {
            assert!(
                explain_refusal(code).key.starts_with("tags."),
                "{code} is explained"
            );
            assert!(is_final_refusal(code));
        }
        assert_eq!(explain_refusal(12345).key, "wxerr.other");
        assert!(!is_final_refusal(-1));
    }

    #[test]
    fn the_difference_adds_and_removes() {
        assert_eq!(
            difference(&[100, 101, 2], &[101, 102]),
            (vec![102], vec![2, 100])
        );
        assert_eq!(difference(&[], &[]), (vec![], vec![]));
    }

    #[test]
    fn a_full_or_gone_follower_is_skipped() {
        use Eligibility::*;
        assert_eq!(eligibility(BulkAction::Tag, true, 3, false), Send);
        assert_eq!(eligibility(BulkAction::Tag, true, 20, true), AlreadyThere);
        assert_eq!(
            eligibility(BulkAction::Tag, true, 20, false),
            Skip("tags.skip_follower_full")
        );
        assert_eq!(
            eligibility(BulkAction::Tag, false, 0, false),
            Skip("tags.skip_not_following")
        );
        assert_eq!(eligibility(BulkAction::Untag, false, 5, true), Send);
        assert_eq!(eligibility(BulkAction::Untag, true, 5, false), AlreadyThere);
    }

    #[test]
    fn system_tags_are_below_one_hundred() {
        assert!(is_system_tag(2) && !is_system_tag(100));
    }
}
