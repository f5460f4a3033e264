//! Daily API quotas per app and endpoint (wechat-limits-and-anchors.md §2.10): every call
//! counts against its endpoint's limit for the day (Beijing time, when WeChat resets them);
//! over it, WeChat answers 45009 until midnight or `clear_quota`.

use serde::{Deserialize, Serialize};

use crate::Sandbox;
use crate::error::WxError;
use crate::registry::StoreError;

/// Endpoint → calls per day. Endpoints not listed get [`DEFAULT_DAILY`].
pub const DAILY_LIMITS: &[(&str, u64)] = &[
    ("/cgi-bin/token", 2_000),
    ("/cgi-bin/stable_token", 500_000),
    ("/cgi-bin/menu/create", 1_000),
    ("/cgi-bin/menu/delete", 1_000),
    ("/cgi-bin/menu/get", 10_000),
    ("/cgi-bin/menu/addconditional", 2_000),
    ("/cgi-bin/menu/delconditional", 2_000),
    ("/cgi-bin/menu/trymatch", 20_000),
    ("/cgi-bin/user/get", 500),
    ("/cgi-bin/user/info/updateremark", 10_000),
    ("/cgi-bin/media/upload", 5_000),
    ("/cgi-bin/qrcode/create", 1_000_000),
    ("/cgi-bin/message/mass/sendall", 100),
    ("/cgi-bin/message/mass/send", 100),
    ("/cgi-bin/message/mass/preview", 100),
    ("/cgi-bin/message/mass/delete", 10),
    ("/cgi-bin/message/template/send", 100_000),
];
pub const DEFAULT_DAILY: u64 = 500_000;

#[derive(Default, Deserialize, Serialize)]
struct Used {
    calls: u64,
}

pub fn daily_limit(path: &str) -> u64 {
    DAILY_LIMITS
        .iter()
        .find(|(p, _)| *p == path)
        .map_or(DEFAULT_DAILY, |(_, n)| *n)
}

/// The quota day of `now_ms`: WeChat resets quotas at midnight in Beijing (UTC+8).
pub fn day_of(now_ms: i64) -> String {
    const BEIJING_MS: i64 = 8 * 3600 * 1000;
    let days = (now_ms + BEIJING_MS).div_euclid(86_400_000);
    format!("quota:{days}")
}

/// Counts one call of `path`; 45009 when the day's quota is used up.
pub async fn spend(sb: &Sandbox, app_id: &str, path: &str) -> Result<(), WxError> {
    let limit = daily_limit(path);
    let kind = day_of(sb.now_ms());
    sb.docs
        .update(app_id, &kind, path, |used: Option<Used>| {
            let used = used.unwrap_or_default();
            if used.calls >= limit {
                return Err(WxError::daily_quota_reached());
            }
            Ok((
                Used {
                    calls: used.calls + 1,
                },
                (),
            ))
        })
        .await?
}

/// Calls of `path` counted today.
pub async fn used_today(sb: &Sandbox, app_id: &str, path: &str) -> Result<u64, StoreError> {
    let used: Option<Used> = sb.docs.get(app_id, &day_of(sb.now_ms()), path).await?;
    Ok(used.map_or(0, |u| u.calls))
}

/// Every endpoint called today, with its calls and its daily limit, in path order.
pub async fn today(sb: &Sandbox, app_id: &str) -> Result<Vec<(String, u64, u64)>, StoreError> {
    let used = sb.docs.all::<Used>(app_id, &day_of(sb.now_ms())).await?;
    Ok(used
        .into_iter()
        .map(|(path, u)| {
            let limit = daily_limit(&path);
            (path, u.calls, limit)
        })
        .collect())
}

/// `clear_quota`: every counter of today starts again.
pub async fn clear_today(sb: &Sandbox, app_id: &str) -> Result<(), StoreError> {
    let kind = day_of(sb.now_ms());
    for (path, _) in sb.docs.all::<Used>(app_id, &kind).await? {
        sb.docs.delete(app_id, &kind, &path).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_day_turns_at_beijing_midnight() {
        // 2026-11-30 15:59:59 UTC is 23:59:59 in Beijing; a second later is the next day.
        let before = 1_796_054_399_000;
        assert_ne!(day_of(before), day_of(before + 1000));
        assert_eq!(day_of(before), day_of(before - 3_600_000));
    }
}
