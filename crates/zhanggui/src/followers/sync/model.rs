//! The rules of a follower sync, pure: what WeChat's profile of a follower writes, and when
//! a follower WeChat no longer lists counts as gone.

use wechat::api::users::UserInfo;

use crate::followers::model::{Follower, Observation};
use crate::platform::clock::Millis;

/// Openids in one `user/get` page.
pub const LIST_PAGE: usize = wechat::api::users::FOLLOWERS_PAGE;
/// Profiles in one `user/info/batchget` call.
pub const PROFILE_BATCH: usize = wechat::api::users::MAX_BATCHGET;
/// Profiles one job of the chain reads before handing over to the next (20 calls).
pub const PROFILES_PER_RUN: i64 = 2_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncStatus {
    /// No sync ever ran for the account.
    None,
    Running,
    Done,
    Failed,
}

impl SyncStatus {
    pub fn parse(s: &str) -> SyncStatus {
        match s {
            "running" => SyncStatus::Running,
            "done" => SyncStatus::Done,
            "failed" => SyncStatus::Failed,
            _ => SyncStatus::None,
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            SyncStatus::None => "sync.status_none",
            SyncStatus::Running => "sync.status_running",
            SyncStatus::Done => "sync.status_done",
            SyncStatus::Failed => "sync.status_failed",
        }
    }
}

/// The QR scene that brought a follower, as the callback's `qrscene_…` would name it.
pub fn scene_of(info: &UserInfo) -> Option<String> {
    if info.subscribe_scene != "ADD_SCENE_QR_CODE" {
        return None;
    }
    if !info.qr_scene_str.is_empty() {
        Some(info.qr_scene_str.clone())
    } else if info.qr_scene != 0 {
        Some(info.qr_scene.to_string())
    } else {
        None
    }
}

/// What a profile says as the projector's observations: a follow at `subscribe_time`. Joined
/// into the stored follower with the projector's merges, so that a sync and the callback's
/// follow events give the same row in either order. `None` for someone who no longer
/// follows (WeChat tells nothing else of them; the end of the sync marks them).
pub fn follower_of(merchant_id: i64, account_id: i64, info: &UserInfo) -> Option<Follower> {
    if !info.subscribe {
        return None;
    }
    let at = info.subscribe_time.saturating_mul(1000);
    let mut f = Follower::new(merchant_id, account_id, &info.openid, at);
    f.merge(
        at,
        &Observation::Follow {
            scene: scene_of(info),
        },
    );
    Some(f)
}

/// When the followers a sync did not find are marked gone. WeChat's events carry whole
/// seconds, so a follow made just after the run started may be logged up to a second
/// earlier than the start: the mark is placed before that second, so any follow logged
/// during the run is newer than it and wins.
pub fn unfollow_mark_at(started_at: Millis) -> Millis {
    started_at.div_euclid(1000) * 1000 - 1
}

/// How far a run is, 0–100: listing counts for a tenth, profiles for the rest.
pub fn percent(total: i64, listed: i64, profiled: i64, done: bool) -> i64 {
    if done {
        return 100;
    }
    if total <= 0 {
        return 0;
    }
    let listed = listed.min(total) * 10 / total;
    let profiled = profiled.min(total) * 90 / total;
    (listed + profiled).clamp(0, 99)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(subscribe: bool, scene: &str, qr: i64, qr_str: &str) -> UserInfo {
        UserInfo {
            subscribe,
            openid: "o1".into(),
            subscribe_time: 1_700_000_000,
            subscribe_scene: scene.into(),
            qr_scene: qr,
            qr_scene_str: qr_str.into(),
            ..UserInfo::default()
        }
    }

    #[test]
    fn a_profile_is_a_follow_at_its_subscribe_time() {
        let f = follower_of(1, 2, &info(true, "ADD_SCENE_QR_CODE", 0, "poster")).expect("f");
        assert!(f.subscribed);
        assert_eq!(f.first_seen_at, 1_700_000_000_000);
        assert_eq!(f.subscribed_at, Some(1_700_000_000_000));
        assert_eq!(f.channel.as_deref(), Some("poster"));
        let f = follower_of(1, 2, &info(true, "ADD_SCENE_QR_CODE", 42, "")).expect("f");
        assert_eq!(f.channel.as_deref(), Some("42"));
        let f = follower_of(1, 2, &info(true, "ADD_SCENE_SEARCH", 0, "")).expect("f");
        assert_eq!(f.channel, None);
        assert!(follower_of(1, 2, &info(false, "", 0, "")).is_none());
    }

    #[test]
    fn a_follow_logged_in_the_starting_second_beats_the_mark() {
        let start = 1_700_000_000_600;
        let mark = unfollow_mark_at(start);
        assert!(mark < 1_700_000_000_000);
        assert!(mark > 1_699_999_999_000);
    }

    #[test]
    fn progress_is_a_percentage() {
        assert_eq!(percent(0, 0, 0, false), 0);
        assert_eq!(percent(100, 100, 0, false), 10);
        assert_eq!(percent(100, 100, 100, false), 99);
        assert_eq!(percent(100, 100, 100, true), 100);
        assert_eq!(percent(100, 50, 20, false), 5 + 18);
    }
}
