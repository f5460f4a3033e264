//! Roles, permissions, passwords and secret tokens: the pure rules of signing in.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::platform::clock::Millis;
use crate::platform::i18n::Msg;

/// A staff member's role within one merchant. The platform admin is a flag on the user.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Operator,
    Agent,
    Clerk,
}

/// What a role may do. Each endpoint asks for exactly one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    ViewDashboard,
    ViewAccounts,
    ManageAccounts,
    ManageStaff,
    ManageApiKeys,
    ViewJobs,
    ManageJobs,
    /// The live messages of an account.
    ViewMessages,
    /// Followers and what is known of them (channel QR codes and their numbers), and the
    /// progress of their sync from WeChat.
    ViewFollowers,
    /// Change follower data: channel QR codes, remarks, profiles, blacklist, syncs.
    ManageFollowers,
    /// Tags and bulk tagging progress.
    ViewTags,
    /// Creating, renaming, deleting tags; tagging followers.
    ManageTags,
    /// The content library (素材) and its read and share counts.
    ViewLibrary,
    /// Adding, editing and deleting library items.
    ManageLibrary,
    /// Automatic replies: the rules, their hits and the unmatched messages.
    ViewReplies,
    /// Adding, editing, switching and deleting reply rules; hand-off words.
    ManageReplies,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Operator, Role::Agent, Role::Clerk];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Operator => "operator",
            Role::Agent => "agent",
            Role::Clerk => "clerk",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The message key of the role's display name.
    pub fn label_key(self) -> &'static str {
        match self {
            Role::Owner => "role.owner",
            Role::Operator => "role.operator",
            Role::Agent => "role.agent",
            Role::Clerk => "role.clerk",
        }
    }

    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Operator => matches!(
                p,
                ViewDashboard
                    | ViewAccounts
                    | ManageAccounts
                    | ViewJobs
                    | ManageJobs
                    | ViewMessages
                    | ViewFollowers
                    | ManageFollowers
                    | ViewTags
                    | ManageTags
                    | ViewLibrary
                    | ManageLibrary
                    | ViewReplies
                    | ManageReplies
            ),
            // Agents see who they talk to (channel, tags) beside the chat, what answered them
            // automatically (reply rules), and the library
            // they may answer from.
            Role::Agent => matches!(
                p,
                ViewDashboard | ViewMessages | ViewFollowers | ViewTags | ViewLibrary | ViewReplies
            ),
            Role::Clerk => matches!(p, ViewDashboard),
        }
    }

    /// Whether someone with this role may hand `other` to a new API key or staff member:
    /// nobody grants more than they have.
    pub fn may_grant(self, other: Role) -> bool {
        self == Role::Owner || self == other
    }
}

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Failed sign-ins in a row that lock an account, and for how long.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const LOCKOUT_MS: Millis = 15 * 60 * 1000;
/// A session lives this long after its last use.
pub const SESSION_IDLE_MS: Millis = 7 * 24 * 3600 * 1000;
pub const API_KEY_PREFIX: &str = "zg_";

pub fn check_password_strength(password: &str) -> Result<(), Msg> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Msg::new("error.password_short").arg("min", MIN_PASSWORD_CHARS));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Msg::new("error.too_long").arg("max", MAX_PASSWORD_CHARS));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verifies against a throwaway hash so that an unknown username costs as much time as a
/// known one, and sign-in timing does not reveal which usernames exist.
pub fn burn_password_check(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
    let _ = verify_password(password, hash);
}

/// A fresh random secret, hex-encoded (`bytes` random bytes).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Tokens are stored only as their SHA-256, so a database leak does not leak sessions or keys.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A new API key and the short prefix that identifies it in lists.
pub fn new_api_key() -> (String, String) {
    let key = format!("{API_KEY_PREFIX}{}", random_token(24));
    let prefix = key[..API_KEY_PREFIX.len() + 6].to_string();
    (key, prefix)
}

/// What happens to the failed-login counter after one more failure.
pub fn after_failed_login(failed_before: i64, now: Millis) -> (i64, Option<Millis>) {
    let failed = failed_before + 1;
    if failed >= MAX_FAILED_LOGINS {
        (0, Some(now + LOCKOUT_MS))
    } else {
        (failed, None)
    }
}

pub fn validate_username(name: &str) -> Result<(), Msg> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if name.len() < 2 || name.len() > 64 || !ok_chars {
        return Err(Msg::new("error.username_format"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip_and_reject_others() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"), "argon2id in PHC format: {h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn only_owners_manage_staff_and_keys() {
        for r in Role::ALL {
            assert_eq!(r.allows(Permission::ManageStaff), r == Role::Owner);
            assert_eq!(r.allows(Permission::ManageApiKeys), r == Role::Owner);
            assert!(r.allows(Permission::ViewDashboard));
        }
        assert!(Role::Operator.allows(Permission::ManageAccounts));
        assert!(!Role::Clerk.allows(Permission::ViewAccounts));
    }

    #[test]
    fn nobody_grants_more_than_they_have() {
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(Role::Operator.may_grant(Role::Operator));
        assert!(!Role::Operator.may_grant(Role::Owner));
    }

    #[test]
    fn fifth_failure_locks() {
        let mut failed = 0;
        for _ in 0..4 {
            let (f, lock) = after_failed_login(failed, 1000);
            assert!(lock.is_none());
            failed = f;
        }
        let (f, lock) = after_failed_login(failed, 1000);
        assert_eq!(f, 0);
        assert_eq!(lock, Some(1000 + LOCKOUT_MS));
    }

    #[test]
    fn api_keys_are_unique_and_prefixed() {
        let (a, pa) = new_api_key();
        let (b, _) = new_api_key();
        assert_ne!(a, b);
        assert!(a.starts_with(&pa) && pa.starts_with(API_KEY_PREFIX));
        assert_eq!(token_hash(&a).len(), 64);
    }

    #[test]
    fn password_strength_and_usernames() {
        assert!(check_password_strength("short").is_err());
        assert!(check_password_strength("long enough").is_ok());
        assert!(validate_username("demo").is_ok());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("x").is_err());
    }
}
