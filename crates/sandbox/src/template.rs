//! Template messages (模板消息; wechat-protocol.md §6.6, limits §2.6), verified service
//! accounts only (rights.rs).
//!
//! Sending:
//! - `POST /cgi-bin/message/template/send` `{touser, template_id, url?, miniprogram?: {appid,
//!   pagepath}, client_msg_id?, data: {key: {value, color?}}}` → `{"errcode":0,"errmsg":"ok",
//!   "msgid":…}`. Then, in the background, the message lands in the follower's inbox with its
//!   content rendered, and `TEMPLATESENDJOBFINISH` (from the follower's openid, `MsgID` =
//!   msgid) is posted to the app's callback with Status `success`, or `failed:user block`
//!   when the follower blacklisted the account or left meanwhile (nothing is shown then).
//! - Checks: no touser or an openid that never followed 40003; unknown template 40037; a
//!   follower who left 43004 "require subscribe"; a miniprogram without appid 40166; data
//!   values of category templates (keys such as `thing2`, `number1`, `time3`) must be present
//!   and within their type's length and characters (thing 20, number/letter/character_string
//!   32, symbol 5, phone_number 17, car_number 8, name 10 (20 in Latin letters), phrase 5),
//!   else 47003 "argument invalid! data.<key>.value …"; a non-string value 47001. Old-style
//!   keys (`first`, `keyword1`, `remark`) take any text. 100,000 sends a day (quota.rs).
//! - `client_msg_id`: the same follower and id within 10 minutes sends nothing new and
//!   answers the first msgid.
//!
//! Management (so the product can get a template_id):
//! - `POST /cgi-bin/template/api_set_industry` `{industry_id1, industry_id2}` (1–41, else
//!   40102): changing it is allowed once a natural month (43100 "change template too
//!   frequently"); templates of industries no longer set are deleted.
//! - `GET /cgi-bin/template/get_industry` → `{primary_industry: {first_class, second_class},
//!   secondary_industry: {…}}`.
//! - `POST /cgi-bin/template/api_add_template` `{template_id_short}` → `{"errcode":0,
//!   "errmsg":"ok","template_id":…}` from the seeded library ([`LIBRARY`]): unknown short id
//!   40037, a template outside the account's two industries 45027, more than 25 templates
//!   45026. Adding a short id again answers the template_id it already has.
//!   (`keyword_name_list` of category templates is accepted and ignored: every keyword stays.)
//! - `GET /cgi-bin/template/get_all_private_template` → `{template_list: [{template_id, title,
//!   primary_industry, deputy_industry, content, example}]}`.
//! - `POST /cgi-bin/template/del_private_template` `{template_id}` (unknown 40037).
//!
//! The account's templates and industries are one document each (kinds `template` and
//! `template_industry`), changed by compare-and-swap.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Sandbox;
use crate::caller::{ApiCaller, json_body};
use crate::error::{self, WxError, WxResult};
use crate::followers;
use crate::inbox::{self, InboxItem, Source, cdata};
use crate::registry::{SandboxApp, StoreError};

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/message/template/send", post(send))
        .route("/cgi-bin/template/api_set_industry", post(set_industry))
        .route("/cgi-bin/template/get_industry", get(get_industry))
        .route("/cgi-bin/template/api_add_template", post(add_template))
        .route(
            "/cgi-bin/template/get_all_private_template",
            get(all_private_templates),
        )
        .route("/cgi-bin/template/del_private_template", post(del_template))
}

const TEMPLATES: &str = "template";
const TEMPLATES_KEY: &str = "private";
const INDUSTRY: &str = "template_industry";
const INDUSTRY_KEY: &str = "settings";
const CLIENT_MSG_IDS: &str = "template_client_msg_id";
pub const MAX_TEMPLATES: usize = 25;
pub const CLIENT_MSG_ID_MEMORY_MS: i64 = 10 * 60_000;
const FIRST_MSGID: u64 = 200_000_001;

/// WeChat's industry codes: (id, first class, second class).
pub const INDUSTRIES: [(u32, &str, &str); 41] = [
    (1, "IT科技", "互联网|电子商务"),
    (2, "IT科技", "IT软件与服务"),
    (3, "IT科技", "IT硬件与设备"),
    (4, "IT科技", "电子技术"),
    (5, "IT科技", "通信与运营商"),
    (6, "IT科技", "网络游戏"),
    (7, "金融业", "银行"),
    (8, "金融业", "基金|理财|信托"),
    (9, "金融业", "保险"),
    (10, "餐饮", "餐饮"),
    (11, "酒店旅游", "酒店"),
    (12, "酒店旅游", "旅游"),
    (13, "运输与仓储", "快递"),
    (14, "运输与仓储", "物流"),
    (15, "运输与仓储", "仓储"),
    (16, "教育", "培训"),
    (17, "教育", "院校"),
    (18, "政府与公共事业", "学术科研"),
    (19, "政府与公共事业", "交警"),
    (20, "政府与公共事业", "博物馆"),
    (21, "政府与公共事业", "公共事业|非盈利机构"),
    (22, "医药护理", "医药医疗"),
    (23, "医药护理", "护理美容"),
    (24, "医药护理", "保健与卫生"),
    (25, "交通工具", "汽车相关"),
    (26, "交通工具", "摩托车相关"),
    (27, "交通工具", "火车相关"),
    (28, "交通工具", "飞机相关"),
    (29, "房地产", "建筑"),
    (30, "房地产", "物业"),
    (31, "消费品", "消费品"),
    (32, "商业服务", "法律"),
    (33, "商业服务", "会展"),
    (34, "商业服务", "中介服务"),
    (35, "商业服务", "认证"),
    (36, "商业服务", "审计"),
    (37, "文体娱乐", "传媒"),
    (38, "文体娱乐", "体育"),
    (39, "文体娱乐", "娱乐休闲"),
    (40, "印刷", "印刷"),
    (41, "其它", "其它"),
];

fn industry(id: u32) -> Option<(u32, &'static str, &'static str)> {
    INDUSTRIES.iter().copied().find(|(i, _, _)| *i == id)
}

/// A template of WeChat's library, as the sandbox seeds it.
#[derive(Clone, Copy, Debug)]
pub struct LibraryTemplate {
    pub short_id: &'static str,
    pub title: &'static str,
    pub industry_id: u32,
    pub content: &'static str,
    pub example: &'static str,
}

/// The seeded library: classic templates (`first`/`keywordN`/`remark`) and category
/// templates with typed keywords, in the industries a shop uses.
pub const LIBRARY: &[LibraryTemplate] = &[
    LibraryTemplate {
        short_id: "TM00015",
        title: "订单支付成功",
        industry_id: 1,
        content: "{{first.DATA}}\n\n支付金额：{{orderMoneySum.DATA}}\n商品信息：{{orderProductName.DATA}}\n{{remark.DATA}}",
        example: "我们已收到您的货款，开始为您打包商品，请耐心等待\n\n支付金额：30.00元\n商品信息：我是商品名字\n如有问题请致电客服",
    },
    LibraryTemplate {
        short_id: "OPENTM200565259",
        title: "订单发货提醒",
        industry_id: 1,
        content: "{{first.DATA}}\n订单编号：{{keyword1.DATA}}\n物流公司：{{keyword2.DATA}}\n物流单号：{{keyword3.DATA}}\n{{remark.DATA}}",
        example: "您的订单已发货\n订单编号：20261130001\n物流公司：顺丰速运\n物流单号：SF1234567890\n点击查看物流详情",
    },
    LibraryTemplate {
        short_id: "OPENTM207498902",
        title: "会员卡开通成功通知",
        industry_id: 31,
        content: "{{first.DATA}}\n会员卡号：{{keyword1.DATA}}\n开通时间：{{keyword2.DATA}}\n{{remark.DATA}}",
        example: "恭喜您成为本店会员\n会员卡号：88000123\n开通时间：2026年11月30日\n消费即可累积积分",
    },
    LibraryTemplate {
        short_id: "OPENTM411425620",
        title: "预约成功通知",
        industry_id: 10,
        content: "{{first.DATA}}\n预约门店：{{keyword1.DATA}}\n预约时间：{{keyword2.DATA}}\n用餐人数：{{keyword3.DATA}}\n{{remark.DATA}}",
        example: "您已预约成功\n预约门店：人民广场店\n预约时间：12月1日 18:30\n用餐人数：4人\n请准时到店",
    },
    LibraryTemplate {
        short_id: "OPENTM401873221",
        title: "快件状态更新通知",
        industry_id: 13,
        content: "{{first.DATA}}\n快递单号：{{keyword1.DATA}}\n当前状态：{{keyword2.DATA}}\n{{remark.DATA}}",
        example: "您的快件有新动态\n快递单号：SF1234567890\n当前状态：派送中\n快递员将尽快送达",
    },
    LibraryTemplate {
        short_id: "43216",
        title: "订单发货通知",
        industry_id: 1,
        content: "订单编号{{character_string1.DATA}}\n商品名称{{thing2.DATA}}\n发货时间{{time3.DATA}}\n快递单号{{character_string4.DATA}}",
        example: "订单编号：20261130001\n商品名称：秋季新款风衣\n发货时间：2026年11月30日 14:00\n快递单号：SF1234567890",
    },
    LibraryTemplate {
        short_id: "46320",
        title: "积分变动提醒",
        industry_id: 31,
        content: "变动积分{{number1.DATA}}\n当前积分{{number2.DATA}}\n变动原因{{thing3.DATA}}\n变动时间{{time4.DATA}}",
        example: "变动积分：100\n当前积分：1200\n变动原因：购物奖励\n变动时间：2026年11月30日 14:00",
    },
    LibraryTemplate {
        short_id: "47011",
        title: "会员到期提醒",
        industry_id: 1,
        content: "会员姓名{{name1.DATA}}\n到期时间{{time2.DATA}}\n联系电话{{phone_number3.DATA}}\n会员状态{{phrase4.DATA}}",
        example: "会员姓名：张三\n到期时间：2026年12月31日\n联系电话：021-12345678\n会员状态：即将到期",
    },
];

fn library_template(short_id: &str) -> Option<&'static LibraryTemplate> {
    LIBRARY.iter().find(|t| t.short_id == short_id)
}

/// A template the account added, as `get_all_private_template` lists it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct PrivateTemplate {
    pub template_id: String,
    pub title: String,
    pub primary_industry: String,
    pub deputy_industry: String,
    pub content: String,
    pub example: String,
    /// The library template it came from (not shown by WeChat).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub short_id: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub industry_id: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl PrivateTemplate {
    /// As WeChat lists it: without the sandbox's bookkeeping.
    fn listed(&self) -> Value {
        json!({
            "template_id": self.template_id,
            "title": self.title,
            "primary_industry": self.primary_industry,
            "deputy_industry": self.deputy_industry,
            "content": self.content,
            "example": self.example,
        })
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct Templates {
    list: Vec<PrivateTemplate>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Industries {
    primary: u32,
    secondary: u32,
    /// The natural month (Beijing) of the last change.
    changed_month: String,
}

async fn templates(sb: &Sandbox, app_id: &str) -> Result<Vec<PrivateTemplate>, StoreError> {
    let t: Option<Templates> = sb.docs.get(app_id, TEMPLATES, TEMPLATES_KEY).await?;
    Ok(t.map(|t| t.list).unwrap_or_default())
}

/// The account's template `template_id`, if it has one.
pub async fn private_template(
    sb: &Sandbox,
    app_id: &str,
    template_id: &str,
) -> Result<Option<PrivateTemplate>, StoreError> {
    Ok(templates(sb, app_id)
        .await?
        .into_iter()
        .find(|t| t.template_id == template_id))
}

fn invalid_template_id() -> WxError {
    WxError::new(40037, "invalid template_id")
}

/// A number given as a JSON number or a string of digits, as WeChat's own examples mix them.
fn number_field(req: &Value, field: &str) -> Option<u64> {
    let v = req.get(field)?;
    v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
}

/// `POST /cgi-bin/template/api_set_industry`.
async fn set_industry(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let app_id = caller.app.app_id.as_str();
    let req: Value = json_body(&body)?;
    let id = |field: &str| {
        let n = number_field(&req, field).ok_or_else(WxError::data_format_error)?;
        u32::try_from(n)
            .ok()
            .and_then(industry)
            .map(|(id, _, _)| id)
            .ok_or_else(|| WxError::new(40102, "invalid industry id"))
    };
    let (primary, secondary) = (id("industry_id1")?, id("industry_id2")?);
    let month = crate::mass::beijing_month(sb.now_ms());
    sb.docs
        .update(
            app_id,
            INDUSTRY,
            INDUSTRY_KEY,
            |current: Option<Industries>| match current {
                Some(c) if (c.primary, c.secondary) == (primary, secondary) => Ok((c, ())),
                Some(c) if c.changed_month == month => {
                    Err(WxError::new(43100, "change template too frequently"))
                }
                _ => Ok((
                    Industries {
                        primary,
                        secondary,
                        changed_month: month.clone(),
                    },
                    (),
                )),
            },
        )
        .await??;
    drop_templates_outside(&sb, app_id, [primary, secondary]).await?;
    Ok(error::ok())
}

/// Templates belong to an industry; when the account leaves it they go.
async fn drop_templates_outside(
    sb: &Sandbox,
    app_id: &str,
    industries: [u32; 2],
) -> Result<(), StoreError> {
    sb.docs
        .update(app_id, TEMPLATES, TEMPLATES_KEY, |t: Option<Templates>| {
            let mut t = t.unwrap_or_default();
            t.list
                .retain(|p| p.industry_id == 0 || industries.contains(&p.industry_id));
            Ok::<_, StoreError>((t, ()))
        })
        .await?
}

/// `GET /cgi-bin/template/get_industry`.
async fn get_industry(State(sb): State<Sandbox>, caller: ApiCaller) -> WxResult {
    let set: Option<Industries> = sb
        .docs
        .get(&caller.app.app_id, INDUSTRY, INDUSTRY_KEY)
        .await?;
    let class = |id: Option<u32>| {
        let (first, second) = id.and_then(industry).map_or(("", ""), |(_, f, s)| (f, s));
        json!({ "first_class": first, "second_class": second })
    };
    Ok(Json(json!({
        "primary_industry": class(set.as_ref().map(|s| s.primary)),
        "secondary_industry": class(set.as_ref().map(|s| s.secondary)),
    }))
    .into_response())
}

/// `POST /cgi-bin/template/api_add_template`.
async fn add_template(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let app_id = caller.app.app_id.as_str();
    let req: Value = json_body(&body)?;
    let short_id = req
        .get("template_id_short")
        .and_then(Value::as_str)
        .ok_or_else(WxError::data_format_error)?;
    let library = library_template(short_id).ok_or_else(invalid_template_id)?;
    let set: Option<Industries> = sb.docs.get(app_id, INDUSTRY, INDUSTRY_KEY).await?;
    let allowed = set.is_some_and(|s| [s.primary, s.secondary].contains(&library.industry_id));
    if !allowed {
        return Err(WxError::new(45027, "template conflict with industry"));
    }
    let fresh = from_library(library, new_template_id());
    let template_id = sb
        .docs
        .update(app_id, TEMPLATES, TEMPLATES_KEY, |t: Option<Templates>| {
            let mut t = t.unwrap_or_default();
            if let Some(existing) = t.list.iter().find(|p| p.short_id == library.short_id) {
                let id = existing.template_id.clone();
                return Ok((t, id));
            }
            if t.list.len() >= MAX_TEMPLATES {
                return Err(WxError::new(45026, "template num exceeds limit"));
            }
            t.list.push(fresh.clone());
            Ok((t, fresh.template_id.clone()))
        })
        .await??;
    Ok(Json(json!({ "errcode": 0, "errmsg": "ok", "template_id": template_id })).into_response())
}

fn from_library(library: &LibraryTemplate, template_id: String) -> PrivateTemplate {
    let (first, second) = industry(library.industry_id).map_or(("", ""), |(_, f, s)| (f, s));
    PrivateTemplate {
        template_id,
        title: library.title.to_string(),
        primary_industry: first.to_string(),
        deputy_industry: second.to_string(),
        content: library.content.to_string(),
        example: library.example.to_string(),
        short_id: library.short_id.to_string(),
        industry_id: library.industry_id,
    }
}

/// WeChat's template ids: 43 characters of URL-safe base64.
fn new_template_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..43)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// `GET /cgi-bin/template/get_all_private_template`.
async fn all_private_templates(State(sb): State<Sandbox>, caller: ApiCaller) -> WxResult {
    let list: Vec<Value> = templates(&sb, &caller.app.app_id)
        .await?
        .iter()
        .map(PrivateTemplate::listed)
        .collect();
    Ok(Json(json!({ "template_list": list })).into_response())
}

/// `POST /cgi-bin/template/del_private_template`.
async fn del_template(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let req: Value = json_body(&body)?;
    let template_id = req
        .get("template_id")
        .and_then(Value::as_str)
        .ok_or_else(invalid_template_id)?;
    sb.docs
        .update(
            &caller.app.app_id,
            TEMPLATES,
            TEMPLATES_KEY,
            |t: Option<Templates>| {
                let mut t = t.unwrap_or_default();
                let before = t.list.len();
                t.list.retain(|p| p.template_id != template_id);
                if t.list.len() == before {
                    return Err(invalid_template_id());
                }
                Ok((t, ()))
            },
        )
        .await??;
    Ok(error::ok())
}

/// The keyword names of a template's content: `{{name.DATA}}` → `name`, in order.
pub fn keywords(content: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if let Some(name) = after[..end].strip_suffix(".DATA") {
            names.push(name);
        }
        rest = &after[end + 2..];
    }
    names
}

/// The content with every `{{name.DATA}}` replaced by its value (empty when not given), as
/// the follower reads it.
pub fn render(content: &str, values: &Map<String, Value>) -> String {
    let mut out = content.to_string();
    for name in keywords(content) {
        let value = values
            .get(name)
            .and_then(|d| d.get("value"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        out = out.replace(&format!("{{{{{name}.DATA}}}}"), value);
    }
    out
}

/// The limits of a category template's keyword type.
struct KeywordRule {
    max_chars: usize,
    allowed: fn(char) -> bool,
}

fn keyword_rule(name: &str) -> Option<KeywordRule> {
    let kind = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let rule = |max_chars: usize, allowed: fn(char) -> bool| KeywordRule { max_chars, allowed };
    let any: fn(char) -> bool = |_| true;
    Some(match kind {
        "thing" => rule(20, any),
        "number" => rule(32, |c| c.is_ascii_digit() || c == '.' || c == '-'),
        "letter" => rule(32, |c| c.is_ascii_alphabetic()),
        "symbol" => rule(5, |c| !c.is_alphanumeric()),
        "character_string" => rule(32, |c| c.is_ascii() && !c.is_ascii_control()),
        "phone_number" => rule(17, |c| c.is_ascii_digit() || "+- ".contains(c)),
        "car_number" => rule(8, any),
        "name" => rule(10, any),
        "phrase" => rule(5, any),
        "time" | "date" | "amount" => rule(64, any),
        _ => return None,
    })
}

/// Checks the values of typed keywords against their type, as WeChat does since category
/// templates replaced free text (47003, naming the field).
fn check_data(content: &str, data: &Map<String, Value>) -> Result<(), WxError> {
    if data
        .values()
        .any(|entry| entry.get("value").is_some_and(|v| !v.is_string()))
    {
        return Err(WxError::data_format_error());
    }
    for name in keywords(content) {
        let Some(rule) = keyword_rule(name) else {
            continue;
        };
        let invalid = |what: &str| {
            Err(WxError::new(
                47003,
                format!("argument invalid! data.{name}.value {what}"),
            ))
        };
        let value = data
            .get(name)
            .and_then(|d| d.get("value"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let chars = value.chars().count();
        // A name in Latin letters may be twice as long as one in Chinese characters.
        let max = if name.starts_with("name") && value.is_ascii() {
            2 * rule.max_chars
        } else {
            rule.max_chars
        };
        if value.trim().is_empty() {
            return invalid("is empty");
        }
        if chars > max {
            return invalid("exceed max length");
        }
        if !value.chars().all(rule.allowed) {
            return invalid("invalid");
        }
    }
    Ok(())
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct SentClientMsgId {
    msgid: u64,
    at_ms: i64,
}

/// The msgid already sent to this follower with this `client_msg_id` within 10 minutes;
/// otherwise records `msgid` under it.
async fn remember_client_msg_id(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    client_msg_id: &str,
    msgid: u64,
) -> Result<Option<u64>, StoreError> {
    let now = sb.now_ms();
    let key = format!("{openid}:{client_msg_id}");
    sb.docs
        .update(
            app_id,
            CLIENT_MSG_IDS,
            &key,
            |held: Option<SentClientMsgId>| match held {
                Some(h) if now - h.at_ms < CLIENT_MSG_ID_MEMORY_MS => {
                    Ok((h.clone(), Some(h.msgid)))
                }
                _ => Ok::<_, StoreError>((SentClientMsgId { msgid, at_ms: now }, None)),
            },
        )
        .await?
}

/// `POST /cgi-bin/message/template/send`.
async fn send(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let app_id = caller.app.app_id.as_str();
    let req: Value = json_body(&body)?;
    let text = |k: &str| req.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let openid = text("touser").ok_or_else(WxError::invalid_openid)?;
    let template_id = text("template_id").ok_or_else(invalid_template_id)?;
    let template = private_template(&sb, app_id, template_id)
        .await?
        .ok_or_else(invalid_template_id)?;
    let data = match req.get("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(d)) => d.clone(),
        Some(_) => return Err(WxError::data_format_error()),
    };
    check_data(&template.content, &data)?;
    let miniprogram = req.get("miniprogram").filter(|m| !m.is_null());
    if miniprogram.is_some_and(|m| {
        m.get("appid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    }) {
        return Err(WxError::new(40166, "invalid weapp appid"));
    }
    let follower = followers::follower(&sb, app_id, openid)
        .await?
        .ok_or_else(WxError::invalid_openid)?;
    if !follower.subscribe {
        return Err(WxError::new(43004, "require subscribe"));
    }
    let msgid = inbox::next_id(&sb, app_id, "template_msgid", FIRST_MSGID).await?;
    if let Some(c) = text("client_msg_id")
        && let Some(first) = remember_client_msg_id(&sb, app_id, openid, c, msgid).await?
    {
        return Ok(sent(first));
    }
    let item = InboxItem {
        source: Source::Template,
        msgtype: "template".into(),
        content: json!({
            "template_id": template.template_id,
            "title": template.title,
            "text": render(&template.content, &data),
            "data": data,
            "url": text("url"),
            "miniprogram": miniprogram,
        }),
        time: sb.now_ms() / 1000,
        msg_id: Some(msgid),
        kf_account: None,
        preview: false,
    };
    tokio::spawn(deliver_template(
        sb.clone(),
        caller.app.clone(),
        openid.to_string(),
        item,
        msgid,
    ));
    Ok(sent(msgid))
}

fn sent(msgid: u64) -> axum::response::Response {
    Json(json!({ "errcode": 0, "errmsg": "ok", "msgid": msgid })).into_response()
}

/// Shows the message to the follower unless they blocked the account or left, then tells the
/// merchant how it went.
async fn deliver_template(
    sb: Sandbox,
    app: SandboxApp,
    openid: String,
    item: InboxItem,
    msgid: u64,
) {
    let app_id = app.app_id.as_str();
    let reachable = match followers::follower(&sb, app_id, &openid).await {
        Ok(f) => f.is_some_and(|f| f.subscribe && !f.blacklisted),
        Err(e) => {
            tracing::error!(error = %e, app_id, msgid, "template message not delivered");
            return;
        }
    };
    let status = if reachable {
        match inbox::push(&sb, app_id, &openid, &item).await {
            Ok(_) => "success",
            Err(e) => {
                tracing::error!(error = %e, app_id, msgid, "template message not delivered");
                "failed: system failed"
            }
        }
    } else {
        "failed:user block"
    };
    let xml = finish_event_xml(&app, &openid, msgid, status, sb.now_ms() / 1000);
    let delivery = followers::deliver(&sb.http, &app, &xml).await;
    if let Some(error) = delivery.error {
        tracing::debug!(app_id, msgid, %error, "TEMPLATESENDJOBFINISH not taken");
    }
}

/// The `TEMPLATESENDJOBFINISH` event: from the follower, about msgid.
pub fn finish_event_xml(
    app: &SandboxApp,
    openid: &str,
    msgid: u64,
    status: &str,
    create_time: i64,
) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>\
         <Status>{}</Status></xml>",
        cdata(&app.original_id()),
        cdata(openid),
        cdata(status),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_template_is_well_formed() {
        for t in LIBRARY {
            assert!(industry(t.industry_id).is_some(), "{}", t.short_id);
            assert!(!keywords(t.content).is_empty(), "{}", t.short_id);
        }
        assert_eq!(new_template_id().len(), 43);
    }

    #[test]
    fn content_renders_with_the_values_given() {
        let content = "{{first.DATA}}\n金额：{{amount.DATA}}\n{{remark.DATA}}";
        assert_eq!(keywords(content), ["first", "amount", "remark"]);
        let data = json!({"first": {"value": "支付成功", "color": "#173177"},
                          "amount": {"value": "30.00元"}});
        let data = data.as_object().cloned().unwrap_or_default();
        assert_eq!(render(content, &data), "支付成功\n金额：30.00元\n");
    }

    #[test]
    fn typed_keywords_are_checked() {
        let content = "{{thing1.DATA}}{{number2.DATA}}{{name3.DATA}}{{keyword4.DATA}}";
        let data = |thing: &str, number: &str, name: &str| {
            json!({"thing1": {"value": thing}, "number2": {"value": number},
                   "name3": {"value": name}, "keyword4": {"value": "任意长度".repeat(50)}})
            .as_object()
            .cloned()
            .unwrap_or_default()
        };
        assert!(check_data(content, &data("秋季新款风衣", "100", "张三")).is_ok());
        let err = |d| check_data(content, &d).map_err(|e| (e.errcode, e.errmsg));
        assert_eq!(
            err(data(&"长".repeat(21), "1", "张三")),
            Err((
                47003,
                "argument invalid! data.thing1.value exceed max length".into()
            ))
        );
        assert_eq!(
            err(data("衣", "一百", "张三")),
            Err((47003, "argument invalid! data.number2.value invalid".into()))
        );
        assert_eq!(
            err(data("", "1", "张三")),
            Err((47003, "argument invalid! data.thing1.value is empty".into()))
        );
        assert!(check_data(content, &data("衣", "1", "Alexander Hamilton")).is_ok());
    }

    #[test]
    fn the_finish_event_parses_with_the_protocol_crate() {
        let app = SandboxApp {
            app_id: "wx1234567890abcdef".into(),
            app_secret: String::new(),
            token: String::new(),
            encoding_aes_key: String::new(),
            security_mode: "plaintext".into(),
            callback_url: String::new(),
            kind: "service".into(),
            verified: true,
        };
        let xml = finish_event_xml(&app, "oFollower", 200_000_001, "failed:user block", 1);
        let m = wechat::Message::parse(&xml).expect("parses");
        assert_eq!(m.from_user_name, "oFollower");
        match m.event() {
            Some(wechat::Event::TemplateSendJobFinish { msg_id, status }) => {
                assert_eq!(
                    (*msg_id, status.as_ref()),
                    (200_000_001, "failed:user block")
                );
            }
            other => panic!("not TEMPLATESENDJOBFINISH: {other:?}"),
        }
    }
}
