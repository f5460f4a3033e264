//! The rules of a saved segment (人群): a name unique within its account and a valid filter.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::followers::Filter;
use crate::followers::filter::FilterError;
use crate::platform::error::FieldErrors;
use crate::platform::i18n::Msg;

/// Characters a segment name may have: enough to say who, short enough for a list.
pub const MAX_NAME_CHARS: usize = 40;

/// What a caller asks to save.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct SegmentInput {
    #[schema(example = "近 7 天新关注的女性粉丝")]
    pub name: String,
    #[serde(default)]
    pub filter: Filter,
}

/// A segment that may be stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidSegment {
    pub name: String,
    pub filter: Filter,
}

/// The field a filter error belongs to: `filter` for the whole, `conditions[i]` for one.
pub fn filter_error_field(e: &FilterError) -> String {
    match condition_index(e) {
        Some(i) => format!("conditions[{i}]"),
        None => "filter".into(),
    }
}

fn condition_index(e: &FilterError) -> Option<usize> {
    match e {
        FilterError::TooManyConditions => None,
        FilterError::EmptyList { condition }
        | FilterError::ListTooLong { condition }
        | FilterError::BadText { condition }
        | FilterError::BadDays { condition }
        | FilterError::BadRange { condition }
        | FilterError::BadMonth { condition }
        | FilterError::BadPlace { condition }
        | FilterError::BadFlowAnswer { condition } => Some(*condition),
    }
}

/// A filter's refusal as a localized field error.
pub fn filter_errors(filter: &Filter) -> FieldErrors {
    let mut errors = FieldErrors::default();
    if let Err(e) = filter.validate() {
        errors.add(
            &filter_error_field(&e),
            Msg::new(e.message_key()).arg("max", crate::followers::filter::MAX_CONDITIONS),
        );
    }
    errors
}

pub fn validate(input: &SegmentInput) -> Result<ValidSegment, FieldErrors> {
    let name = input.name.trim().to_string();
    let mut errors = FieldErrors::default();
    let chars = name.chars().count();
    if chars == 0 {
        errors.add("name", Msg::new("error.required"));
    } else if chars > MAX_NAME_CHARS {
        errors.add(
            "name",
            Msg::new("error.too_long").arg("max", MAX_NAME_CHARS),
        );
    }
    for e in filter_errors(&input.filter).0 {
        errors.add(&e.field, e.msg);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ValidSegment {
        name,
        filter: input.filter.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followers::filter::Condition;

    #[test]
    fn a_name_is_required_and_bounded() {
        let mut input = SegmentInput {
            name: "  ".into(),
            filter: Filter::everyone(),
        };
        assert!(validate(&input).is_err_and(|e| e.has("name")));
        input.name = "人".repeat(MAX_NAME_CHARS + 1);
        assert!(validate(&input).is_err_and(|e| e.has("name")));
        input.name = " 老客 ".into();
        assert_eq!(
            validate(&input).map(|v| v.name).ok().as_deref(),
            Some("老客")
        );
    }

    #[test]
    fn a_bad_condition_is_reported_on_its_index() {
        let input = SegmentInput {
            name: "x".into(),
            filter: Filter {
                combine: Default::default(),
                conditions: vec![
                    Condition::Subscribed { value: true },
                    Condition::BirthdayMonth { months: vec![13] },
                ],
            },
        };
        let errors = validate(&input).err().unwrap_or_default();
        assert_eq!(
            errors.get("conditions[1]").map(|m| m.key),
            Some("filter.error.month")
        );
    }
}
