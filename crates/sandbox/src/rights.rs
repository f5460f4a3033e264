//! What each kind of account may call, as WeChat decides it (wechat-limits-and-anchors.md
//! §2.12): an unverified subscription account gets passive replies and events only; a
//! verified subscription account adds customer service, tag mass send, user management,
//! materials and menus; an unverified service account has menus; a verified service account
//! has everything (template messages, web authorization, QR codes, openid-list mass send).
//!
//! Every API path the sandbox serves is listed in [`RIGHTS`] with the right it needs; a path
//! that is not listed needs [`Right::Any`].

use crate::registry::SandboxApp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right {
    /// Every account (tokens, callback IPs).
    Any,
    /// Menus: verified accounts of either kind and unverified service accounts.
    Menu,
    /// Users, tags, blacklist, customer service, materials, tag mass send: verified accounts.
    Verified,
    /// Template messages, web authorization, QR codes, openid-list mass send:
    /// verified service accounts only.
    VerifiedService,
}

impl Right {
    pub fn granted_to(self, app: &SandboxApp) -> bool {
        match self {
            Right::Any => true,
            Right::Menu => app.verified || app.is_service(),
            Right::Verified => app.verified,
            Right::VerifiedService => app.verified && app.is_service(),
        }
    }
}

/// Path (as WeChat spells it, without `/sandbox`) → the right it needs. Longest prefix wins.
pub const RIGHTS: &[(&str, Right)] = &[
    ("/cgi-bin/menu/", Right::Menu),
    // Conditional menus are for verified accounts only.
    ("/cgi-bin/menu/addconditional", Right::Verified),
    ("/cgi-bin/menu/delconditional", Right::Verified),
    ("/cgi-bin/menu/trymatch", Right::Verified),
    // Every account, verified or not, may read its menu configuration.
    ("/cgi-bin/get_current_selfmenu_info", Right::Any),
    ("/cgi-bin/user/", Right::Verified),
    // "暂时开放给微信认证的服务号" (updateRemark).
    ("/cgi-bin/user/info/updateremark", Right::VerifiedService),
    ("/cgi-bin/tags/", Right::Verified),
    ("/cgi-bin/message/custom/", Right::Verified),
    ("/cgi-bin/message/mass/sendall", Right::Verified),
    ("/cgi-bin/message/mass/", Right::VerifiedService),
    ("/cgi-bin/message/mass/preview", Right::Verified),
    ("/cgi-bin/message/mass/get", Right::Verified),
    ("/cgi-bin/message/mass/delete", Right::Verified),
    ("/cgi-bin/message/mass/speed/", Right::Verified),
    ("/cgi-bin/message/template/", Right::VerifiedService),
    ("/cgi-bin/template/", Right::VerifiedService),
    ("/cgi-bin/qrcode/", Right::VerifiedService),
    ("/cgi-bin/media/", Right::Verified),
    ("/cgi-bin/material/", Right::Verified),
    ("/cgi-bin/draft/", Right::Verified),
    ("/cgi-bin/freepublish/", Right::Verified),
    // JS-SDK basics are for every account; the handler keeps `wx_card` to verified ones.
    ("/cgi-bin/ticket/getticket", Right::Any),
    ("/datacube/", Right::Verified),
];

/// The right `path` needs.
pub fn needed_for(path: &str) -> Right {
    RIGHTS
        .iter()
        .filter(|(prefix, _)| path.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map_or(Right::Any, |(_, right)| *right)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(kind: &str, verified: bool) -> SandboxApp {
        SandboxApp {
            app_id: "wx0".into(),
            app_secret: String::new(),
            token: String::new(),
            encoding_aes_key: String::new(),
            security_mode: "safe".into(),
            callback_url: String::new(),
            kind: kind.into(),
            verified,
        }
    }

    #[test]
    fn the_account_type_matrix_holds() {
        let personal = app("subscription", false);
        let subscription = app("subscription", true);
        let unverified_service = app("service", false);
        let service = app("service", true);
        let menu = needed_for("/cgi-bin/menu/create");
        assert!(!menu.granted_to(&personal));
        assert!(menu.granted_to(&subscription));
        assert!(menu.granted_to(&unverified_service));
        let tags = needed_for("/cgi-bin/tags/create");
        assert!(tags.granted_to(&subscription) && !tags.granted_to(&unverified_service));
        let template = needed_for("/cgi-bin/message/template/send");
        assert!(template.granted_to(&service) && !template.granted_to(&subscription));
        assert_eq!(needed_for("/cgi-bin/message/mass/sendall"), Right::Verified);
        assert_eq!(
            needed_for("/cgi-bin/message/mass/send"),
            Right::VerifiedService
        );
        assert_eq!(needed_for("/cgi-bin/token"), Right::Any);
    }
}
