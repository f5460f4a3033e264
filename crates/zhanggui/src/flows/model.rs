//! Conversational flows (互动问答): a flow is numbered steps, each a question with lettered
//! options (or a free-text answer kept in a profile field); an option may tag the follower,
//! set a profile field, reply, and lead to another step or end the flow. What a follower's
//! answer does is decided here; where they are is stored (store.rs). Pure: no I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::error::FieldErrors;
use crate::platform::i18n::Msg;
use crate::replies::model::normalize;

pub const MAX_STEPS: usize = 10;
pub const MAX_OPTIONS: usize = 6;
pub const MAX_NAME_CHARS: usize = 60;
pub const MAX_QUESTION_CHARS: usize = 300;
pub const MAX_LABEL_CHARS: usize = 20;
pub const MAX_TEXT_CHARS: usize = crate::accounts::model::MAX_REPLY_CHARS;
/// A free-text answer kept in a profile field.
pub const MAX_ANSWER_CHARS: usize = 64;
pub const IDLE_MINUTES: std::ops::RangeInclusive<i64> = 1..=7 * 24 * 60;
/// Unexpected answers in a row after which the follower leaves the flow and the message
/// is answered as if there were none (they are clearly talking about something else).
pub const MAX_REASKS: i64 = 2;
const LETTERS: [char; MAX_OPTIONS] = ['A', 'B', 'C', 'D', 'E', 'F'];

/// A profile field an answer can fill (followers' collected profile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Name,
    Phone,
    City,
}

impl Field {
    pub const ALL: [Field; 3] = [Field::Name, Field::Phone, Field::City];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Phone => "phone",
            Field::City => "city",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Field::Name => "follower.name",
            Field::Phone => "follower.phone",
            Field::City => "follower.city",
        }
    }
}

/// One lettered option of a question.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OptionInput {
    pub label: String,
    /// A tag of the account to put on whoever chooses it.
    #[serde(default)]
    pub tag_id: Option<i64>,
    /// What to say when it is chosen (before the next question).
    #[serde(default)]
    pub reply: String,
    /// The step it leads to, counted from 1; none ends the flow.
    #[serde(default)]
    pub next: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StepInput {
    pub question: String,
    /// Lettered options; none makes the step take any text, kept in `field`.
    #[serde(default)]
    pub options: Vec<OptionInput>,
    #[serde(default)]
    pub field: Option<Field>,
    /// Where a free-text answer leads, counted from 1; none ends the flow.
    #[serde(default)]
    pub next: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FlowInput {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Minutes without an answer after which the follower is out of the flow.
    #[serde(default = "default_idle")]
    pub idle_minutes: i64,
    /// Said before the first question.
    #[serde(default)]
    pub intro: String,
    /// Said when an answer is none of the options, before the question again.
    #[serde(default)]
    pub reask: String,
    /// Said when the flow ends and the last option has no reply of its own.
    #[serde(default)]
    pub done: String,
    pub steps: Vec<StepInput>,
}

fn yes() -> bool {
    true
}

fn default_idle() -> i64 {
    30
}

pub fn letter(i: usize) -> char {
    LETTERS.get(i).copied().unwrap_or('?')
}

/// Checks a flow; errors name fields as `steps.2.options.1.label`.
pub fn validate(input: &FlowInput) -> Result<FlowInput, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut flow = input.clone();
    flow.name = input.name.trim().to_string();
    if flow.name.is_empty() {
        errors.add("name", Msg::new("flows.name_required"));
    } else if flow.name.chars().count() > MAX_NAME_CHARS {
        errors.add(
            "name",
            Msg::new("flows.name_too_long").arg("max", MAX_NAME_CHARS),
        );
    }
    if !IDLE_MINUTES.contains(&input.idle_minutes) {
        errors.add(
            "idle_minutes",
            Msg::new("flows.idle_range").arg("max", IDLE_MINUTES.end()),
        );
    }
    for (field, text) in [
        ("intro", &mut flow.intro),
        ("reask", &mut flow.reask),
        ("done", &mut flow.done),
    ] {
        *text = text.trim().to_string();
        check_text(&mut errors, field, text);
    }
    let steps: Vec<StepInput> = input
        .steps
        .iter()
        .filter(|s| {
            !s.question.trim().is_empty() || s.options.iter().any(|o| !o.label.trim().is_empty())
        })
        .cloned()
        .collect();
    if steps.is_empty() {
        errors.add("steps", Msg::new("flows.step_required"));
    } else if steps.len() > MAX_STEPS {
        errors.add(
            "steps",
            Msg::new("flows.too_many_steps").arg("max", MAX_STEPS),
        );
    }
    let count = steps.len();
    flow.steps = steps
        .iter()
        .enumerate()
        .map(|(i, s)| check_step(&mut errors, i, s, count))
        .collect();
    if errors.is_empty() {
        Ok(flow)
    } else {
        Err(errors)
    }
}

fn check_text(errors: &mut FieldErrors, field: &str, text: &str) {
    if text.chars().count() > MAX_TEXT_CHARS {
        errors.add(
            field,
            Msg::new("flows.text_too_long").arg("max", MAX_TEXT_CHARS),
        );
    }
}

fn check_next(
    errors: &mut FieldErrors,
    field: &str,
    next: Option<usize>,
    own: usize,
    count: usize,
) {
    if let Some(n) = next
        && (n == 0 || n > count || n == own + 1)
    {
        errors.add(field, Msg::new("flows.bad_next"));
    }
}

fn check_step(errors: &mut FieldErrors, i: usize, s: &StepInput, count: usize) -> StepInput {
    let at = |f: &str| format!("steps.{i}.{f}");
    let question = s.question.trim().to_string();
    if question.is_empty() {
        errors.add(&at("question"), Msg::new("flows.question_required"));
    } else if question.chars().count() > MAX_QUESTION_CHARS {
        errors.add(
            &at("question"),
            Msg::new("flows.question_too_long").arg("max", MAX_QUESTION_CHARS),
        );
    }
    let options: Vec<OptionInput> = s
        .options
        .iter()
        .filter(|o| !o.label.trim().is_empty())
        .cloned()
        .collect();
    if options.len() > MAX_OPTIONS {
        errors.add(
            &at("options"),
            Msg::new("flows.too_many_options").arg("max", MAX_OPTIONS),
        );
    }
    if options.is_empty() && s.field.is_none() {
        errors.add(&at("options"), Msg::new("flows.options_or_field"));
    }
    let mut labels: Vec<String> = vec![];
    let options = options
        .iter()
        .enumerate()
        .map(|(j, o)| {
            let field = |f: &str| format!("steps.{i}.options.{j}.{f}");
            let label = o.label.trim().to_string();
            if label.chars().count() > MAX_LABEL_CHARS {
                errors.add(
                    &field("label"),
                    Msg::new("flows.label_too_long").arg("max", MAX_LABEL_CHARS),
                );
            }
            if labels.contains(&normalize(&label)) {
                errors.add(&field("label"), Msg::new("flows.label_twice"));
            }
            labels.push(normalize(&label));
            let reply = o.reply.trim().to_string();
            check_text(errors, &field("reply"), &reply);
            check_next(errors, &field("next"), o.next, i, count);
            OptionInput {
                label,
                tag_id: o.tag_id,
                reply,
                next: o.next,
            }
        })
        .collect();
    if s.field.is_some() || s.next.is_some() {
        check_next(errors, &at("next"), s.next, i, count);
    }
    StepInput {
        question,
        options,
        field: s.field,
        next: s.next,
    }
}

/// Where a follower is in a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The step being asked, from 0.
    pub step: usize,
    /// Unexpected answers in a row to it.
    pub reasks: i64,
}

/// What an answer changes besides the conversation: recorded, then applied by a job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    pub step: usize,
    /// The option's letter, or `None` for a free-text answer.
    pub option: Option<char>,
    pub text: String,
    pub tag_id: Option<i64>,
    pub field: Option<(Field, String)>,
}

/// What an answer does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Turn {
    /// The follower moves on to `step`; `reply` ends with its question.
    Next {
        reply: String,
        step: usize,
        effects: Effects,
    },
    /// The flow is over.
    End { reply: String, effects: Effects },
    /// Not one of the options: asked again, politely.
    Reask { reply: String, reasks: i64 },
    /// Too many unexpected answers: the follower leaves the flow and the message is answered
    /// as if there were no flow.
    Leave,
}

/// A question as the follower reads it: the question, then "A. …" per option.
pub fn question_text(step: &StepInput) -> String {
    let mut out = step.question.clone();
    for (i, o) in step.options.iter().enumerate() {
        out.push_str(&format!("\n{}. {}", letter(i), o.label));
    }
    out
}

/// What the follower is told when the flow starts.
pub fn opening(flow: &FlowInput) -> String {
    let question = flow.steps.first().map(question_text).unwrap_or_default();
    join(&flow.intro, &question)
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}\n\n{b}"),
    }
}

/// The option a text chooses: its letter ("a", "Ａ", "A.", "A、") or its label.
pub fn chosen(step: &StepInput, text: &str) -> Option<usize> {
    let t = normalize(text);
    let letter_of = |t: &str| {
        let mut chars = t.chars();
        let first = chars.next()?;
        let rest: String = chars.collect();
        let rest = rest.trim_start_matches(['.', '、', ')', '）', ' ', ':', '：']);
        (rest.is_empty()).then_some(first)
    };
    if let Some(c) = letter_of(&t).filter(char::is_ascii_alphabetic) {
        let i = LETTERS.iter().position(|l| l.to_ascii_lowercase() == c)?;
        return (i < step.options.len()).then_some(i);
    }
    step.options.iter().position(|o| normalize(&o.label) == t)
}

/// What `text` does at `at` in `flow`.
pub fn answer(flow: &FlowInput, at: Position, text: &str) -> Turn {
    let Some(step) = flow.steps.get(at.step) else {
        return Turn::Leave;
    };
    let (reply, next, effects) = if step.options.is_empty() {
        let value: String = text.trim().chars().take(MAX_ANSWER_CHARS).collect();
        if value.is_empty() {
            return reask(flow, step, at);
        }
        let effects = Effects {
            step: at.step,
            option: None,
            text: value.clone(),
            tag_id: None,
            field: step.field.map(|f| (f, value)),
        };
        (String::new(), step.next, effects)
    } else {
        let Some(i) = chosen(step, text) else {
            return reask(flow, step, at);
        };
        let o = &step.options[i];
        let effects = Effects {
            step: at.step,
            option: Some(letter(i)),
            text: o.label.clone(),
            tag_id: o.tag_id,
            field: None,
        };
        (o.reply.clone(), o.next, effects)
    };
    match next
        .and_then(|n| n.checked_sub(1))
        .filter(|n| *n < flow.steps.len())
    {
        Some(n) => Turn::Next {
            reply: join(&reply, &question_text(&flow.steps[n])),
            step: n,
            effects,
        },
        None => Turn::End {
            reply: if reply.is_empty() {
                flow.done.clone()
            } else {
                reply
            },
            effects,
        },
    }
}

fn reask(flow: &FlowInput, step: &StepInput, at: Position) -> Turn {
    if at.reasks >= MAX_REASKS {
        return Turn::Leave;
    }
    Turn::Reask {
        reply: join(&flow.reask, &question_text(step)),
        reasks: at.reasks + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 003: are you our customer? A yes B no → e-commerce or O2O?
    pub fn segmentation() -> FlowInput {
        FlowInput {
            name: "客户分类".into(),
            enabled: true,
            idle_minutes: 30,
            intro: "花 10 秒回答两个问题，我们给您推荐合适的内容。".into(),
            reask: "请回复选项前的字母，例如 A。".into(),
            done: "谢谢！".into(),
            steps: vec![
                StepInput {
                    question: "您是我们的客户吗？".into(),
                    options: vec![
                        OptionInput {
                            label: "是".into(),
                            tag_id: Some(1),
                            reply: String::new(),
                            next: Some(2),
                        },
                        OptionInput {
                            label: "不是".into(),
                            tag_id: Some(2),
                            reply: "欢迎了解我们！".into(),
                            next: None,
                        },
                    ],
                    ..StepInput::default()
                },
                StepInput {
                    question: "您做电商还是 O2O？".into(),
                    options: vec![
                        OptionInput {
                            label: "电商".into(),
                            tag_id: Some(3),
                            reply: "电商专区为您准备好了。".into(),
                            next: Some(3),
                        },
                        OptionInput {
                            label: "O2O".into(),
                            tag_id: Some(4),
                            reply: String::new(),
                            next: Some(3),
                        },
                    ],
                    ..StepInput::default()
                },
                StepInput {
                    question: "留下您的城市，我们推荐附近的活动：".into(),
                    field: Some(Field::City),
                    ..StepInput::default()
                },
            ],
        }
    }

    #[test]
    fn the_demo_flow_is_valid_and_opens_with_its_first_question() {
        let f = validate(&segmentation()).expect("valid");
        assert_eq!(
            opening(&f),
            "花 10 秒回答两个问题，我们给您推荐合适的内容。\n\n您是我们的客户吗？\nA. 是\nB. 不是"
        );
    }

    #[test]
    fn letters_and_labels_choose_options() {
        let f = segmentation();
        let q = &f.steps[0];
        for text in ["A", "a", "Ａ", "A.", "a、", " 是 "] {
            assert_eq!(chosen(q, text), Some(0), "{text}");
        }
        assert_eq!(chosen(q, "b"), Some(1));
        assert_eq!(chosen(q, "C"), None, "no third option");
        assert_eq!(chosen(q, "也许"), None);
    }

    #[test]
    fn answers_move_tag_end_and_reask_politely() {
        let f = segmentation();
        let start = Position { step: 0, reasks: 0 };
        match answer(&f, start, "A") {
            Turn::Next {
                reply,
                step,
                effects,
            } => {
                assert_eq!(step, 1);
                assert!(reply.starts_with("您做电商还是 O2O？"), "{reply}");
                assert_eq!(effects.tag_id, Some(1));
                assert_eq!(effects.option, Some('A'));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            answer(&f, start, "B"),
            Turn::End {
                reply: "欢迎了解我们！".into(),
                effects: Effects {
                    step: 0,
                    option: Some('B'),
                    text: "不是".into(),
                    tag_id: Some(2),
                    field: None
                },
            }
        );
        let Turn::Reask { reply, reasks } = answer(&f, start, "你们几点开门") else {
            panic!("re-asked");
        };
        assert_eq!(reasks, 1);
        assert!(reply.starts_with("请回复选项前的字母"), "{reply}");
        assert_eq!(
            answer(
                &f,
                Position {
                    step: 0,
                    reasks: MAX_REASKS
                },
                "还是不懂"
            ),
            Turn::Leave
        );
        match answer(&f, Position { step: 2, reasks: 0 }, " 杭州 ") {
            Turn::End { reply, effects } => {
                assert_eq!(reply, "谢谢！");
                assert_eq!(effects.field, Some((Field::City, "杭州".into())));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn broken_flows_are_refused_where_they_break() {
        let mut f = segmentation();
        f.steps[0].options[0].next = Some(9);
        f.steps[1].options[1].label = "电商".into();
        f.steps[2].field = None;
        let e = validate(&f).expect_err("refused");
        assert!(e.has("steps.0.options.0.next"));
        assert!(e.has("steps.1.options.1.label"));
        assert!(e.has("steps.2.options"));
        let e = validate(&FlowInput {
            name: "x".into(),
            idle_minutes: 30,
            ..FlowInput::default()
        })
        .expect_err("no steps");
        assert!(e.has("steps"));
    }
}
