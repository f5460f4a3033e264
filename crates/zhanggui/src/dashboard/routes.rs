//! `/` (the dashboard page) and `/api/v1/dashboard`.

use askama::Template;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Overview;
use crate::accounts::model::WeChatFeature;
use crate::platform::auth::model::Permission;
use crate::platform::auth::{Caller, CurrentUser};
use crate::platform::error::AppError;
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(dashboard_page))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_overview))
}

struct AccountCard {
    id: i64,
    name: String,
    kind_key: &'static str,
    verified: bool,
    sandbox: bool,
    allowed: usize,
    total: usize,
    missing: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "dashboard/index.html")]
struct DashboardPage {
    shell: Shell,
    overview: Overview,
    cards: Vec<AccountCard>,
    can_manage_accounts: bool,
    can_manage_staff: bool,
    can_manage_keys: bool,
    can_view_jobs: bool,
}

/// A platform admin with no merchant yet is sent to create one; anyone else without a
/// merchant sees why they cannot go on.
async fn dashboard_page(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
    user: Option<CurrentUser>,
    uri: Uri,
) -> Result<Response, AppError> {
    let caller = match caller {
        Ok(c) => c,
        Err(AppError::NotFound) if user.as_ref().is_some_and(|u| u.session.is_platform_admin) => {
            return Ok(Redirect::to("/platform/merchants").into_response());
        }
        Err(e) => return Err(e),
    };
    caller.require(Permission::ViewDashboard)?;
    let shell = Shell::for_caller(&state, &caller, "dashboard", "dashboard.title", &uri).await?;
    let overview = super::overview(&state.db, caller.merchant_id).await?;
    let cards = if caller.role.allows(Permission::ViewAccounts) {
        crate::accounts::store::list(&state.db, caller.merchant_id, 0, 100)
            .await?
            .into_iter()
            .map(|a| {
                let kind = a.kind();
                let missing: Vec<&'static str> = WeChatFeature::ALL
                    .into_iter()
                    .filter(|f| f.refusal(kind, a.verified).is_some())
                    .map(WeChatFeature::label_key)
                    .collect();
                AccountCard {
                    id: a.id,
                    kind_key: kind.label_key(),
                    verified: a.verified,
                    sandbox: a.sandbox,
                    allowed: WeChatFeature::ALL.len() - missing.len(),
                    total: WeChatFeature::ALL.len(),
                    missing,
                    name: a.name,
                }
            })
            .collect()
    } else {
        vec![]
    };
    page(&DashboardPage {
        shell,
        overview,
        cards,
        can_manage_accounts: caller.role.allows(Permission::ManageAccounts),
        can_manage_staff: caller.role.allows(Permission::ManageStaff),
        can_manage_keys: caller.role.allows(Permission::ManageApiKeys),
        can_view_jobs: caller.role.allows(Permission::ViewJobs),
    })
}

/// The dashboard's numbers for the caller's merchant.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "dashboard",
    responses((status = 200, body = Overview)))]
async fn api_overview(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Overview>, AppError> {
    caller.require(Permission::ViewDashboard)?;
    Ok(Json(super::overview(&state.db, caller.merchant_id).await?))
}
