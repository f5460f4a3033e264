//! `/simulator`: a phone-shaped page for the current sandbox account.
//!
//! The page is the shell (follower list, phone frame, chat, input bar); `assets/simulator.js`
//! drives the sandbox's scriptable API from the browser. Every string the script shows comes
//! from the message catalogue, handed over as one JSON object ([`SCRIPT_TEXTS`]).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;

use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::error::AppError;
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new().route("/simulator", get(simulator_page))
}

/// The catalogue keys (after `simulator.`) the script shows.
pub const SCRIPT_TEXTS: &[&str] = &[
    "no_reply",
    "failed",
    "followed",
    "unfollowed",
    "located",
    "pick",
    "unnamed",
    "subscribed",
    "unsubscribed",
    "none_found",
    "total",
    "new_nickname",
    "elapsed",
    "attempts",
    "source_custom",
    "source_mass",
    "source_template",
    "preview",
    "image",
    "voice",
    "video",
    "music",
    "location",
    "link",
    "miniprogram",
    "card",
    "article",
    "read_full",
    "details",
    "transfer",
    "tile_image",
    "tile_video",
    "tile_voice",
    "tile_location",
    "tile_scan",
    "cancel",
    "send",
    "location_title",
    "location_select_title",
    "location_report_title",
    "latitude",
    "longitude",
    "place_name",
    "place_1",
    "place_2",
    "place_3",
    "place_4",
    "voice_title",
    "voice_text",
    "voice_default",
    "scan_title",
    "scan_codes",
    "scan_none",
    "scan_ticket",
    "scan_go",
    "scan_scene",
    "scan_permanent",
    "scan_temporary",
    "scanned_follow",
    "scanned",
    "scan_expired",
    "scancode_title",
    "scancode_hint",
    "scancode_result",
    "miniprogram_open",
    "info_title",
    "info_state",
    "follow",
    "unfollow",
    "report_location",
    "show_details",
    "clear",
    "not_following",
    "media_missing",
    "menu_parent",
];

#[derive(Template)]
#[template(path = "simulator/phone.html")]
struct PhonePage {
    shell: Shell,
    /// The current account, when it is a sandbox account.
    app: Option<(String, String)>,
    has_accounts: bool,
    /// [`SCRIPT_TEXTS`] in the caller's language, as JSON safe inside `<script>`.
    texts: String,
}

/// The script's texts as a JSON object, escaped so that it cannot end its `<script>` element.
fn script_texts(shell: &Shell) -> String {
    let texts: serde_json::Map<String, serde_json::Value> = SCRIPT_TEXTS
        .iter()
        .map(|k| {
            let text = shell.t(&format!("simulator.{k}"));
            ((*k).to_string(), serde_json::Value::from(text))
        })
        .collect();
    serde_json::Value::Object(texts)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

async fn simulator_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewAccounts)?;
    let shell = Shell::for_caller(&state, &caller, "simulator", "simulator.title", &uri).await?;
    let account = match shell.account_id {
        Some(id) => crate::accounts::get(&state.db, caller.merchant_id, id).await?,
        None => None,
    };
    let has_accounts = !shell.accounts.is_empty();
    let texts = script_texts(&shell);
    page(&PhonePage {
        shell,
        app: account.filter(|a| a.sandbox).map(|a| (a.app_id, a.name)),
        has_accounts,
        texts,
    })
}

#[cfg(test)]
mod tests {
    use super::SCRIPT_TEXTS;

    #[test]
    fn every_script_text_is_in_the_catalogue() {
        for key in SCRIPT_TEXTS {
            let key = format!("simulator.{key}");
            assert!(
                crate::platform::messages::MESSAGES
                    .iter()
                    .any(|(k, _, _)| *k == key),
                "missing message {key}"
            );
        }
    }
}
