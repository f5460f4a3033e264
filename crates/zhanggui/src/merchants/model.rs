//! Merchants (tenants) and their staff: the rules.

use crate::platform::auth::model::{Role, check_password_strength, validate_username};
use crate::platform::clock::{DEFAULT_TIMEZONE, parse_timezone};
use crate::platform::error::FieldErrors;
use crate::platform::i18n::Msg;

pub const MAX_NAME_CHARS: usize = 60;

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct MerchantInput {
    /// Shown to staff, unique on the platform.
    #[schema(example = "小米之家")]
    pub name: String,
    /// IANA zone for days and quotas; Asia/Shanghai when empty.
    #[schema(example = "Asia/Shanghai")]
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMerchant {
    pub name: String,
    pub timezone: String,
}

pub fn validate_merchant(input: &MerchantInput) -> Result<ValidMerchant, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = input.name.trim().to_string();
    check_name(&mut errors, "name", &name, MAX_NAME_CHARS);
    let timezone = match input.timezone.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_TIMEZONE.to_string(),
        Some(tz) if parse_timezone(tz).is_some() => tz.to_string(),
        Some(_) => {
            errors.add("timezone", Msg::new("merchant.bad_timezone"));
            String::new()
        }
    };
    if errors.is_empty() {
        Ok(ValidMerchant { name, timezone })
    } else {
        Err(errors)
    }
}

/// A required single-line name: present, not too long, no control characters.
pub fn check_name(errors: &mut FieldErrors, field: &str, value: &str, max: usize) {
    if value.is_empty() {
        errors.add(field, Msg::new("error.required"));
    } else if value.chars().count() > max {
        errors.add(field, Msg::new("error.too_long").arg("max", max));
    } else if value.chars().any(char::is_control) {
        errors.add(field, Msg::new("error.control_chars"));
    }
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct StaffInput {
    #[schema(example = "xiaoli")]
    pub username: String,
    #[serde(default)]
    #[schema(example = "小李")]
    pub display_name: String,
    /// At least 8 characters.
    pub password: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct ValidStaff {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub role: Role,
}

pub fn validate_staff(input: &StaffInput, granter: Role) -> Result<ValidStaff, FieldErrors> {
    let mut errors = FieldErrors::default();
    let username = input.username.trim().to_string();
    if let Err(m) = validate_username(&username) {
        errors.add("username", m);
    }
    let display_name = input.display_name.trim().to_string();
    if display_name.chars().count() > MAX_NAME_CHARS {
        errors.add(
            "display_name",
            Msg::new("error.too_long").arg("max", MAX_NAME_CHARS),
        );
    }
    if let Err(m) = check_password_strength(&input.password) {
        errors.add("password", m);
    }
    if !granter.may_grant(input.role) {
        errors.add("role", Msg::new("staff.role_too_high"));
    }
    if errors.is_empty() {
        Ok(ValidStaff {
            username,
            display_name,
            password: input.password.clone(),
            role: input.role,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_names_are_trimmed_and_bounded() {
        let ok = validate_merchant(&MerchantInput {
            name: "  小米之家 ".into(),
            timezone: None,
        })
        .expect("valid");
        assert_eq!(ok.name, "小米之家");
        assert_eq!(ok.timezone, DEFAULT_TIMEZONE);
        let long = "商".repeat(MAX_NAME_CHARS + 1);
        let err = validate_merchant(&MerchantInput {
            name: long,
            timezone: Some("Mars/Base".into()),
        })
        .expect_err("invalid");
        assert!(err.has("name") && err.has("timezone"));
    }

    #[test]
    fn operators_cannot_create_owners() {
        let input = StaffInput {
            username: "li".into(),
            display_name: String::new(),
            password: "long enough".into(),
            role: Role::Owner,
        };
        assert!(validate_staff(&input, Role::Operator).is_err());
        assert!(validate_staff(&input, Role::Owner).is_ok());
    }
}
