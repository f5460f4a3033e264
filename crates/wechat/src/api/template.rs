//! Template messages (模板消息, verified service accounts): `/cgi-bin/message/template/send`
//! and the account's templates: `/cgi-bin/template/api_set_industry`, `get_industry`,
//! `api_add_template`, `get_all_private_template` and `del_private_template`.
//!
//! A template belongs to one of the account's two industries (changed at most once a month,
//! 43100); an account keeps at most 25 templates (45026). A send answers its `msgid` at once;
//! the outcome arrives as the `TEMPLATESENDJOBFINISH` event. Values of category templates'
//! keys (`thing2`, `number1`, `time3`, …) have length and character limits (47003).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::wire::u64_or_string;
use super::{ApiError, Done};
use crate::token::TokenCache;

pub const SEND_PATH: &str = "/cgi-bin/message/template/send";
pub const SET_INDUSTRY_PATH: &str = "/cgi-bin/template/api_set_industry";
pub const GET_INDUSTRY_PATH: &str = "/cgi-bin/template/get_industry";
pub const ADD_TEMPLATE_PATH: &str = "/cgi-bin/template/api_add_template";
pub const ALL_TEMPLATES_PATH: &str = "/cgi-bin/template/get_all_private_template";
pub const DEL_TEMPLATE_PATH: &str = "/cgi-bin/template/del_private_template";

/// One value of a template: `{value, color}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateValue {
    pub value: String,
    /// `#173177`; WeChat ignores colors in newer templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

impl TemplateValue {
    pub fn new(value: impl Into<String>) -> TemplateValue {
        TemplateValue {
            value: value.into(),
            color: None,
        }
    }

    pub fn colored(value: impl Into<String>, color: impl Into<String>) -> TemplateValue {
        TemplateValue {
            value: value.into(),
            color: Some(color.into()),
        }
    }
}

/// The mini program page a template message opens (instead of, or before, `url`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiniProgram {
    pub appid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pagepath: String,
}

/// A template message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TemplateMessage {
    pub touser: String,
    pub template_id: String,
    /// The page a tap opens (a mini program wins when both are given and it can open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miniprogram: Option<MiniProgram>,
    /// Makes the send idempotent: the same follower and id within a while send nothing new.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// Keyword → value, for the template's `{{keyword.DATA}}`.
    pub data: BTreeMap<String, TemplateValue>,
}

impl TemplateMessage {
    pub fn new(touser: impl Into<String>, template_id: impl Into<String>) -> TemplateMessage {
        TemplateMessage {
            touser: touser.into(),
            template_id: template_id.into(),
            ..TemplateMessage::default()
        }
    }

    /// Adds `{{key.DATA}}`'s value.
    pub fn with(mut self, key: impl Into<String>, value: TemplateValue) -> TemplateMessage {
        self.data.insert(key.into(), value);
        self
    }
}

#[derive(Deserialize)]
struct Sent {
    #[serde(deserialize_with = "u64_or_string")]
    msgid: u64,
}

/// `POST /cgi-bin/message/template/send` → the message's `msgid` (as `TEMPLATESENDJOBFINISH`
/// reports it in `MsgID`).
pub async fn send(tokens: &TokenCache, message: &TemplateMessage) -> Result<u64, ApiError> {
    let answer: Sent = tokens.post("template.send", SEND_PATH, message).await?;
    Ok(answer.msgid)
}

/// A template the account added.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PrivateTemplate {
    pub template_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub primary_industry: String,
    #[serde(default)]
    pub deputy_industry: String,
    /// With `{{keyword.DATA}}` placeholders.
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub example: String,
}

impl PrivateTemplate {
    /// The keywords of `content`, in order: `{{first.DATA}}` → `first`.
    pub fn keywords(&self) -> Vec<&str> {
        self.content
            .split("{{")
            .skip(1)
            .filter_map(|rest| rest.split_once(".DATA}}").map(|(key, _)| key))
            .collect()
    }
}

/// `GET /cgi-bin/template/get_all_private_template`.
pub async fn all_private_templates(tokens: &TokenCache) -> Result<Vec<PrivateTemplate>, ApiError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        template_list: Vec<PrivateTemplate>,
    }
    let answer: Answer = tokens
        .get("template.get_all", ALL_TEMPLATES_PATH, &[])
        .await?;
    Ok(answer.template_list)
}

#[derive(Serialize)]
struct AddTemplate<'a> {
    template_id_short: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    keyword_name_list: &'a [String],
}

/// `POST /cgi-bin/template/api_add_template {template_id_short}` → the account's
/// `template_id`. Category templates may name the keywords to keep (`keyword_name_list`);
/// classic ones take none.
pub async fn add_template(
    tokens: &TokenCache,
    template_id_short: &str,
    keyword_name_list: &[String],
) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Answer {
        template_id: String,
    }
    let body = AddTemplate {
        template_id_short,
        keyword_name_list,
    };
    let answer: Answer = tokens
        .post("template.add", ADD_TEMPLATE_PATH, &body)
        .await?;
    Ok(answer.template_id)
}

/// `POST /cgi-bin/template/del_private_template {template_id}`.
pub async fn del_template(tokens: &TokenCache, template_id: &str) -> Result<(), ApiError> {
    #[derive(Serialize)]
    struct Body<'a> {
        template_id: &'a str,
    }
    tokens
        .post::<_, Done>("template.del", DEL_TEMPLATE_PATH, &Body { template_id })
        .await
        .map(|_| ())
}

#[derive(Serialize)]
struct SetIndustry {
    industry_id1: String,
    industry_id2: String,
}

/// `POST /cgi-bin/template/api_set_industry {industry_id1, industry_id2}` (WeChat's codes
/// 1–41, e.g. 1 互联网/电子商务, 31 消费品). Changing them drops templates of other industries.
pub async fn set_industry(
    tokens: &TokenCache,
    primary: u32,
    secondary: u32,
) -> Result<(), ApiError> {
    let body = SetIndustry {
        industry_id1: primary.to_string(),
        industry_id2: secondary.to_string(),
    };
    tokens
        .post::<_, Done>("template.set_industry", SET_INDUSTRY_PATH, &body)
        .await
        .map(|_| ())
}

/// The account's two industries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Industries {
    #[serde(default)]
    pub primary_industry: Industry,
    #[serde(default)]
    pub secondary_industry: Industry,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Industry {
    #[serde(default)]
    pub first_class: String,
    #[serde(default)]
    pub second_class: String,
}

/// `GET /cgi-bin/template/get_industry`.
pub async fn get_industry(tokens: &TokenCache) -> Result<Industries, ApiError> {
    tokens
        .get("template.get_industry", GET_INDUSTRY_PATH, &[])
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_send_body_matches_wechats_example() {
        let message = TemplateMessage {
            url: Some("http://weixin.qq.com/download".into()),
            miniprogram: Some(MiniProgram {
                appid: "xiaochengxuappid12345".into(),
                pagepath: "index?foo=bar".into(),
            }),
            client_msg_id: Some("MSG_000001".into()),
            ..TemplateMessage::new("OPENID", "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY")
        }
        .with("keyword1", TemplateValue::new("巧克力"))
        .with("keyword2", TemplateValue::new("39.8元"))
        .with("keyword3", TemplateValue::new("2014年9月22日"));
        assert_eq!(
            serde_json::to_value(&message).expect("json"),
            json!({
                "touser": "OPENID",
                "template_id": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
                "url": "http://weixin.qq.com/download",
                "miniprogram": {"appid": "xiaochengxuappid12345", "pagepath": "index?foo=bar"},
                "client_msg_id": "MSG_000001",
                "data": {
                    "keyword1": {"value": "巧克力"},
                    "keyword2": {"value": "39.8元"},
                    "keyword3": {"value": "2014年9月22日"}
                }
            })
        );
        let colored = TemplateMessage::new("OPENID", "T").with(
            "first",
            TemplateValue::colored("恭喜你购买成功！", "#173177"),
        );
        assert_eq!(
            serde_json::to_value(&colored).expect("json"),
            json!({"touser": "OPENID", "template_id": "T",
                   "data": {"first": {"value": "恭喜你购买成功！", "color": "#173177"}}})
        );
    }

    #[test]
    fn management_bodies_match_wechats_examples() {
        assert_eq!(
            serde_json::to_value(SetIndustry {
                industry_id1: "1".into(),
                industry_id2: "4".into()
            })
            .expect("json"),
            json!({"industry_id1": "1", "industry_id2": "4"})
        );
        assert_eq!(
            serde_json::to_value(AddTemplate {
                template_id_short: "TM00015",
                keyword_name_list: &[]
            })
            .expect("json"),
            json!({"template_id_short": "TM00015"})
        );
        let keywords = vec!["物品名称".to_string(), "购买时间".to_string()];
        assert_eq!(
            serde_json::to_value(AddTemplate {
                template_id_short: "2452",
                keyword_name_list: &keywords
            })
            .expect("json"),
            json!({"template_id_short": "2452", "keyword_name_list": ["物品名称", "购买时间"]})
        );
    }

    #[test]
    fn answers_of_wechats_examples_are_read() {
        let sent: Sent =
            serde_json::from_str(r#"{"errcode":0,"errmsg":"ok","msgid":200228332}"#).expect("send");
        assert_eq!(sent.msgid, 200_228_332);
        let text: Sent = serde_json::from_str(r#"{"msgid":"200228332"}"#).expect("a string id");
        assert_eq!(text.msgid, 200_228_332);
        let industries: Industries = serde_json::from_value(json!({
            "primary_industry": {"first_class": "运输与仓储", "second_class": "快递"},
            "secondary_industry": {"first_class": "IT科技", "second_class": "互联网|电子商务"}}))
        .expect("get_industry");
        assert_eq!(industries.primary_industry.second_class, "快递");
        #[derive(Deserialize)]
        struct Answer {
            template_list: Vec<PrivateTemplate>,
        }
        let listed: Answer = serde_json::from_value(json!({"template_list": [{
            "template_id": "iPk5sOIt5X_flOVKn5GrTFpncEYTojx6ddbt8WYoV5s",
            "title": "领取奖金提醒",
            "primary_industry": "IT科技",
            "deputy_industry": "互联网|电子商务",
            "content": "{ {result.DATA} }\n\n领奖金额:{ {withdrawMoney.DATA} }\n领奖  时间:    { {withdrawTime.DATA} }\n银行信息:{ {cardInfo.DATA} }\n到账时间:  { {arrivedTime.DATA} }\n{ {remark.DATA} }",
            "example": "您已提交领奖申请\n\n领奖金额：xxxx元\n领奖时间：2013-10-10 12:22:22\n银行信息：xx银行(尾号xxxx)\n到账时间：预计xxxxxxx\n\n预计将于xxxx到达您的银行卡"
        }]}))
        .expect("get_all_private_template");
        assert_eq!(listed.template_list[0].primary_industry, "IT科技");
        let classic = PrivateTemplate {
            template_id: "T".into(),
            title: String::new(),
            primary_industry: String::new(),
            deputy_industry: String::new(),
            content: "{{first.DATA}}\n支付金额：{{orderMoneySum.DATA}}\n{{remark.DATA}}".into(),
            example: String::new(),
        };
        assert_eq!(classic.keywords(), ["first", "orderMoneySum", "remark"]);
    }
}
