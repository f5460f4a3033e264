//! Official accounts (公众号): their kinds, security modes, credentials and what each kind of
//! account is allowed to do in WeChat.

use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::merchants::model::check_name;
use crate::platform::error::FieldErrors;
use crate::platform::i18n::Msg;

pub const MAX_NAME_CHARS: usize = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// 订阅号
    Subscription,
    /// 服务号
    Service,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Subscription => "subscription",
            AccountKind::Service => "service",
        }
    }
    pub fn parse(s: &str) -> Option<AccountKind> {
        match s {
            "subscription" => Some(AccountKind::Subscription),
            "service" => Some(AccountKind::Service),
            _ => None,
        }
    }
    pub fn label_key(self) -> &'static str {
        match self {
            AccountKind::Subscription => "account.kind.subscription",
            AccountKind::Service => "account.kind.service",
        }
    }
}

/// The message encryption mode configured in WeChat (消息加解密方式). It comes from our
/// configuration, never from a request, so a forged plaintext POST to a safe account fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecurityMode {
    /// 明文模式
    Plaintext,
    /// 兼容模式
    Compatible,
    /// 安全模式
    Safe,
}

impl SecurityMode {
    pub const ALL: [SecurityMode; 3] = [
        SecurityMode::Plaintext,
        SecurityMode::Compatible,
        SecurityMode::Safe,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityMode::Plaintext => "plaintext",
            SecurityMode::Compatible => "compatible",
            SecurityMode::Safe => "safe",
        }
    }
    pub fn parse(s: &str) -> Option<SecurityMode> {
        SecurityMode::ALL.into_iter().find(|m| m.as_str() == s)
    }
    pub fn label_key(self) -> &'static str {
        match self {
            SecurityMode::Plaintext => "account.mode.plaintext",
            SecurityMode::Compatible => "account.mode.compatible",
            SecurityMode::Safe => "account.mode.safe",
        }
    }
}

/// What WeChat lets an account do, by kind and verification (wechat-limits-and-anchors.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeChatFeature {
    PassiveReply,
    Menu,
    CustomerService,
    Followers,
    Broadcast,
    Materials,
    TemplateMessages,
    WebAuthorization,
    ParametricQr,
}

impl WeChatFeature {
    pub const ALL: [WeChatFeature; 9] = [
        WeChatFeature::PassiveReply,
        WeChatFeature::Menu,
        WeChatFeature::CustomerService,
        WeChatFeature::Followers,
        WeChatFeature::Broadcast,
        WeChatFeature::Materials,
        WeChatFeature::TemplateMessages,
        WeChatFeature::WebAuthorization,
        WeChatFeature::ParametricQr,
    ];

    pub fn label_key(self) -> &'static str {
        match self {
            WeChatFeature::PassiveReply => "feature.passive_reply",
            WeChatFeature::Menu => "feature.menu",
            WeChatFeature::CustomerService => "feature.customer_service",
            WeChatFeature::Followers => "feature.followers",
            WeChatFeature::Broadcast => "feature.broadcast",
            WeChatFeature::Materials => "feature.materials",
            WeChatFeature::TemplateMessages => "feature.template_messages",
            WeChatFeature::WebAuthorization => "feature.web_authorization",
            WeChatFeature::ParametricQr => "feature.parametric_qr",
        }
    }

    /// Why an account may not use this feature, as a message key; `None` when it may.
    pub fn refusal(self, kind: AccountKind, verified: bool) -> Option<&'static str> {
        use AccountKind::*;
        use WeChatFeature::*;
        let allowed = matches!(
            (self, kind, verified),
            (PassiveReply, _, _)
                | (Menu, Service, _)
                | (Menu, Subscription, true)
                | (CustomerService | Followers | Broadcast | Materials, _, true)
                | (
                    TemplateMessages | WebAuthorization | ParametricQr,
                    Service,
                    true
                )
        );
        if allowed {
            None
        } else if matches!(self, TemplateMessages | WebAuthorization | ParametricQr) {
            Some("feature.needs_verified_service")
        } else {
            Some("feature.needs_verification")
        }
    }
}

/// What a form or JSON body says about an account. Secrets may be left empty on edit to keep
/// the stored ones; Token and EncodingAESKey are generated when left empty on create.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct AccountInput {
    #[schema(example = "掌柜演示服务号")]
    pub name: String,
    #[schema(example = "service")]
    pub kind: String,
    #[serde(default)]
    pub verified: bool,
    /// May be empty for a sandbox account: one of WeChat's shape is generated.
    #[schema(example = "wx1234567890abcdef")]
    #[serde(default)]
    pub app_id: String,
    #[serde(default)]
    pub app_secret: String,
    /// 3–32 letters or digits; generated when empty.
    #[serde(default)]
    pub token: String,
    /// 43 letters or digits; generated when empty.
    #[serde(default)]
    pub encoding_aes_key: String,
    #[schema(example = "safe")]
    pub security_mode: String,
    /// Talk to the built-in WeChat sandbox instead of the real WeChat (defaults to the
    /// server's mode).
    #[serde(default)]
    pub sandbox: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidAccount {
    pub name: String,
    pub kind: AccountKind,
    pub verified: bool,
    pub app_id: String,
    /// `None`: keep the stored secret (edit only).
    pub app_secret: Option<String>,
    pub token: Option<String>,
    pub encoding_aes_key: Option<String>,
    pub security_mode: SecurityMode,
}

/// Checks an account form. `creating` makes the AppSecret required.
pub fn validate(input: &AccountInput, creating: bool) -> Result<ValidAccount, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = input.name.trim().to_string();
    check_name(&mut errors, "name", &name, MAX_NAME_CHARS);
    let kind = AccountKind::parse(input.kind.trim());
    if kind.is_none() {
        errors.add("kind", Msg::new("account.bad_kind"));
    }
    let app_id = input.app_id.trim().to_string();
    if !is_app_id(&app_id) {
        errors.add("app_id", Msg::new("account.bad_app_id"));
    }
    let secret = input.app_secret.trim();
    let app_secret = if secret.is_empty() {
        if creating {
            errors.add("app_secret", Msg::new("error.required"));
        }
        None
    } else if !is_app_secret(secret) {
        errors.add("app_secret", Msg::new("account.bad_app_secret"));
        None
    } else {
        Some(secret.to_string())
    };
    let token = optional(input.token.trim());
    if token.as_deref().is_some_and(|t| !is_token(t)) {
        errors.add("token", Msg::new("account.bad_token"));
    }
    let encoding_aes_key = optional(input.encoding_aes_key.trim());
    if encoding_aes_key.as_deref().is_some_and(|k| !is_aes_key(k)) {
        errors.add("encoding_aes_key", Msg::new("account.bad_aes_key"));
    }
    let security_mode = SecurityMode::parse(input.security_mode.trim());
    if security_mode.is_none() {
        errors.add("security_mode", Msg::new("account.bad_mode"));
    }
    match (kind, security_mode, errors.is_empty()) {
        (Some(kind), Some(security_mode), true) => Ok(ValidAccount {
            name,
            kind,
            verified: input.verified,
            app_id,
            app_secret,
            token,
            encoding_aes_key,
            security_mode,
        }),
        _ => Err(errors),
    }
}

/// WeChat shows at most 2,048 bytes of a text reply; 600 characters keep well inside it.
pub const MAX_REPLY_CHARS: usize = 600;

/// What an account answers until reply rules are set up: the follow welcome and the reply to
/// any other text. Empty means answer nothing (WeChat's `success`).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct RepliesInput {
    #[serde(default)]
    #[schema(example = "欢迎关注掌柜咖啡！回复「菜单」看看今天的新品。")]
    pub welcome_text: String,
    #[serde(default)]
    #[schema(example = "收到！店员会尽快回复您。")]
    pub default_reply_text: String,
}

pub fn validate_replies(input: &RepliesInput) -> Result<(String, String), FieldErrors> {
    let mut errors = FieldErrors::default();
    let welcome = input.welcome_text.trim().to_string();
    let default = input.default_reply_text.trim().to_string();
    for (field, value) in [("welcome_text", &welcome), ("default_reply_text", &default)] {
        if value.chars().count() > MAX_REPLY_CHARS {
            errors.add(
                field,
                Msg::new("error.too_long").arg("max", MAX_REPLY_CHARS),
            );
        }
    }
    if errors.is_empty() {
        Ok((welcome, default))
    } else {
        Err(errors)
    }
}

fn optional(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// WeChat AppIDs are `wx` and 16 hexadecimal digits.
pub fn is_app_id(s: &str) -> bool {
    s.len() == 18 && s.starts_with("wx") && s[2..].chars().all(|c| c.is_ascii_hexdigit())
}

/// AppSecrets are 32 hexadecimal digits.
pub fn is_app_secret(s: &str) -> bool {
    s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// WeChat's rule for the Token: 3 to 32 English letters or digits.
pub fn is_token(s: &str) -> bool {
    (3..=32).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// EncodingAESKey: exactly 43 letters or digits (base64 of 32 bytes without the `=`).
pub fn is_aes_key(s: &str) -> bool {
    s.len() == 43 && s.chars().all(|c| c.is_ascii_alphanumeric())
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_alnum(n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n)
        .map(|_| char::from(ALNUM[rng.gen_range(0..ALNUM.len())]))
        .collect()
}

pub fn generate_token() -> String {
    random_alnum(32)
}

pub fn generate_aes_key() -> String {
    random_alnum(43)
}

/// A random AppID and AppSecret of WeChat's shape, for sandbox accounts.
pub fn generate_sandbox_credentials() -> (String, String) {
    let id = format!("wx{}", crate::platform::auth::model::random_token(8));
    let secret = crate::platform::auth::model::random_token(16);
    (id, secret)
}

/// The unguessable path segment of an account's callback URL.
pub fn generate_callback_key() -> String {
    random_alnum(16)
}

pub fn callback_url(public_url: &str, callback_key: &str) -> String {
    format!("{public_url}/wx/{callback_key}")
}

/// Shows the last four characters only: enough to recognise, not enough to use.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n <= 4 {
        return "••••".to_string();
    }
    let tail: String = secret.chars().skip(n - 4).collect();
    format!("••••••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AccountInput {
        AccountInput {
            name: "演示号".into(),
            kind: "service".into(),
            verified: true,
            app_id: "wx1234567890abcdef".into(),
            app_secret: "0123456789abcdef0123456789abcdef".into(),
            token: String::new(),
            encoding_aes_key: String::new(),
            security_mode: "safe".into(),
            sandbox: None,
        }
    }

    #[test]
    fn a_good_account_validates() {
        let v = validate(&input(), true).expect("valid");
        assert_eq!(v.kind, AccountKind::Service);
        assert_eq!(v.security_mode, SecurityMode::Safe);
        assert!(v.token.is_none());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let bad = AccountInput {
            name: String::new(),
            kind: "personal".into(),
            app_id: "gh_123".into(),
            app_secret: "short".into(),
            token: "a!".into(),
            encoding_aes_key: "x".repeat(44),
            security_mode: "loud".into(),
            ..input()
        };
        let e = validate(&bad, true).expect_err("invalid");
        for f in [
            "name",
            "kind",
            "app_id",
            "app_secret",
            "token",
            "encoding_aes_key",
            "security_mode",
        ] {
            assert!(e.has(f), "{f} should be reported");
        }
    }

    #[test]
    fn secret_is_optional_only_when_editing() {
        let no_secret = AccountInput {
            app_secret: String::new(),
            ..input()
        };
        assert!(validate(&no_secret, true).is_err());
        assert_eq!(validate(&no_secret, false).expect("edit").app_secret, None);
    }

    #[test]
    fn generated_credentials_have_wechats_shape() {
        assert!(is_token(&generate_token()));
        assert!(is_aes_key(&generate_aes_key()));
        let (id, secret) = generate_sandbox_credentials();
        assert!(is_app_id(&id) && is_app_secret(&secret));
    }

    #[test]
    fn features_follow_wechats_permission_table() {
        use WeChatFeature::*;
        let s = AccountKind::Subscription;
        let v = AccountKind::Service;
        assert!(PassiveReply.refusal(s, false).is_none());
        assert!(Menu.refusal(s, false).is_some());
        assert!(Menu.refusal(v, false).is_none());
        assert!(Broadcast.refusal(s, true).is_none());
        assert!(TemplateMessages.refusal(s, true).is_some());
        assert!(TemplateMessages.refusal(v, true).is_none());
        assert!(CustomerService.refusal(v, false).is_some());
    }

    #[test]
    fn masks_keep_only_the_tail() {
        assert_eq!(mask("0123456789abcdef"), "••••••••cdef");
        assert_eq!(mask("abc"), "••••");
    }
}
