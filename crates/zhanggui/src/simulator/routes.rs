//! `/simulator`: a phone-shaped page for the current sandbox account.

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

#[derive(Template)]
#[template(path = "simulator/phone.html")]
struct PhonePage {
    shell: Shell,
    /// The current account, when it is a sandbox account.
    app: Option<(String, String)>,
    has_accounts: bool,
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
    page(&PhonePage {
        shell,
        app: account.filter(|a| a.sandbox).map(|a| (a.app_id, a.name)),
        has_accounts,
    })
}
