//! Customer-service messages (客服消息): `POST /cgi-bin/message/custom/send` and
//! `/cgi-bin/message/custom/typing`. The account may send only inside the window a
//! follower's own action opened (48 hours after a message, 1 minute after a click, follow or
//! scan), and only a few messages per window: outside it WeChat answers 45015, over the
//! quota 45047 — neither is fixed by retrying.

use serde::Serialize;

use super::{ApiError, Done};
use crate::reply::ReplyBody;
use crate::token::TokenCache;

pub const SEND_PATH: &str = "/cgi-bin/message/custom/send";
pub const TYPING_PATH: &str = "/cgi-bin/message/custom/typing";

/// Errcodes after which sending the same message again is pointless.
pub fn is_final_refusal(errcode: i64) -> bool {
    // 45015 window closed or unfollowed, 45047 quota used, 40003 unknown openid,
    // 43004 not following, 48001 no right, 45002 content too long.
    matches!(errcode, 45015 | 45047 | 40003 | 43004 | 48001 | 45002)
}

/// A customer-service message, in WeChat's JSON (`msgtype` plus a field of that name).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "msgtype", rename_all = "lowercase")]
pub enum CustomMessage {
    Text {
        text: Content,
    },
    Image {
        image: Media,
    },
    Voice {
        voice: Media,
    },
    Video {
        video: Video,
    },
    Music {
        music: Music,
    },
    /// An article card with a link (one article).
    News {
        news: News,
    },
    /// A published article, by its material/draft `media_id`.
    Mpnews {
        mpnews: Media,
    },
    /// A published article, by `article_id`.
    Mpnewsarticle {
        mpnewsarticle: ArticleId,
    },
    /// A question with clickable answers.
    Msgmenu {
        msgmenu: MsgMenu,
    },
    Miniprogrampage {
        miniprogrampage: MiniProgramPage,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Content {
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Media {
    pub media_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Video {
    pub media_id: String,
    pub thumb_media_id: String,
    pub title: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Music {
    pub title: String,
    pub description: String,
    pub musicurl: String,
    pub hqmusicurl: String,
    pub thumb_media_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct News {
    pub articles: Vec<NewsArticle>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewsArticle {
    pub title: String,
    pub description: String,
    pub url: String,
    pub picurl: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleId {
    pub article_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MsgMenu {
    pub head_content: String,
    pub list: Vec<MsgMenuItem>,
    pub tail_content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MsgMenuItem {
    pub id: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MiniProgramPage {
    pub title: String,
    pub appid: String,
    pub pagepath: String,
    pub thumb_media_id: String,
}

impl CustomMessage {
    pub fn text(content: impl Into<String>) -> CustomMessage {
        CustomMessage::Text {
            text: Content {
                content: content.into(),
            },
        }
    }

    /// The same answer as a passive reply would have given, for delivery after the
    /// callback has already answered. A hand-over to human service has no message form.
    pub fn from_reply(body: &ReplyBody<'_>) -> Option<CustomMessage> {
        let s = |c: &Option<std::borrow::Cow<'_, str>>| c.as_deref().unwrap_or("").to_string();
        Some(match body {
            ReplyBody::Text { content } => CustomMessage::text(content.as_ref()),
            ReplyBody::Image { media_id } => CustomMessage::Image {
                image: Media {
                    media_id: media_id.to_string(),
                },
            },
            ReplyBody::Voice { media_id } => CustomMessage::Voice {
                voice: Media {
                    media_id: media_id.to_string(),
                },
            },
            ReplyBody::Video {
                media_id,
                title,
                description,
            } => CustomMessage::Video {
                video: Video {
                    media_id: media_id.to_string(),
                    // A passive video reply has no thumbnail; WeChat then uses the first frame.
                    thumb_media_id: String::new(),
                    title: s(title),
                    description: s(description),
                },
            },
            ReplyBody::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => CustomMessage::Music {
                music: Music {
                    title: s(title),
                    description: s(description),
                    musicurl: s(music_url),
                    hqmusicurl: s(hq_music_url),
                    thumb_media_id: thumb_media_id.to_string(),
                },
            },
            // Customer-service news carries one article.
            ReplyBody::News { articles } => CustomMessage::News {
                news: News {
                    articles: articles
                        .iter()
                        .take(1)
                        .map(|a| NewsArticle {
                            title: a.title.to_string(),
                            description: a.description.to_string(),
                            url: a.url.to_string(),
                            picurl: a.pic_url.to_string(),
                        })
                        .collect(),
                },
            },
            ReplyBody::TransferCustomerService { .. } => return None,
        })
    }
}

#[derive(Serialize)]
struct Send<'a> {
    touser: &'a str,
    #[serde(flatten)]
    message: &'a CustomMessage,
    #[serde(skip_serializing_if = "Option::is_none")]
    customservice: Option<KfAccount<'a>>,
}

#[derive(Serialize)]
struct KfAccount<'a> {
    kf_account: &'a str,
}

/// The JSON body of a send, as WeChat's documentation shows it.
pub fn send_body(touser: &str, message: &CustomMessage, kf_account: Option<&str>) -> String {
    serde_json::to_string(&Send {
        touser,
        message,
        customservice: kf_account.map(|kf_account| KfAccount { kf_account }),
    })
    .unwrap_or_default()
}

/// Sends `message` to the follower `touser`.
pub async fn send(
    tokens: &TokenCache,
    touser: &str,
    message: &CustomMessage,
    kf_account: Option<&str>,
) -> Result<(), ApiError> {
    let body = Send {
        touser,
        message,
        customservice: kf_account.map(|kf_account| KfAccount { kf_account }),
    };
    tokens
        .post::<_, Done>("custom.send", SEND_PATH, &body)
        .await
        .map(|_| ())
}

/// Shows or hides "typing…" to the follower (`Typing` lasts 15 s or until a message).
pub async fn typing(tokens: &TokenCache, touser: &str, typing: bool) -> Result<(), ApiError> {
    #[derive(Serialize)]
    struct Typing<'a> {
        touser: &'a str,
        command: &'static str,
    }
    let command = if typing { "Typing" } else { "CancelTyping" };
    tokens
        .post::<_, Done>("custom.typing", TYPING_PATH, &Typing { touser, command })
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn body(message: &CustomMessage, kf: Option<&str>) -> Value {
        serde_json::from_str(&send_body("OPENID", message, kf)).expect("json")
    }

    #[test]
    fn bodies_match_wechats_documentation() {
        assert_eq!(
            body(&CustomMessage::text("Hello World"), None),
            json!({"touser": "OPENID", "msgtype": "text", "text": {"content": "Hello World"}})
        );
        assert_eq!(
            body(&CustomMessage::text("Hello"), Some("test1@kftest")),
            json!({"touser": "OPENID", "msgtype": "text", "text": {"content": "Hello"},
                   "customservice": {"kf_account": "test1@kftest"}})
        );
        let news = CustomMessage::News {
            news: News {
                articles: vec![NewsArticle {
                    title: "Happy Day".into(),
                    description: "Is Really A Happy Day".into(),
                    url: "URL".into(),
                    picurl: "PIC_URL".into(),
                }],
            },
        };
        assert_eq!(
            body(&news, None),
            json!({"touser": "OPENID", "msgtype": "news", "news": {"articles": [
                {"title": "Happy Day", "description": "Is Really A Happy Day",
                 "url": "URL", "picurl": "PIC_URL"}]}})
        );
        let menu = CustomMessage::Msgmenu {
            msgmenu: MsgMenu {
                head_content: "您对本次服务是否满意呢? ".into(),
                list: vec![
                    MsgMenuItem {
                        id: "101".into(),
                        content: "满意".into(),
                    },
                    MsgMenuItem {
                        id: "102".into(),
                        content: "不满意".into(),
                    },
                ],
                tail_content: "欢迎再次光临".into(),
            },
        };
        let v = body(&menu, None);
        assert_eq!(v["msgtype"], "msgmenu");
        assert_eq!(v["msgmenu"]["list"][1]["content"], "不满意");
        // Real UTF-8, never \\u escapes.
        assert!(send_body("O", &menu, None).contains("满意"));
    }

    #[test]
    fn passive_replies_become_the_same_message() {
        let reply = ReplyBody::News {
            articles: vec![
                crate::reply::Article {
                    title: "A".into(),
                    description: "d".into(),
                    pic_url: "p".into(),
                    url: "u".into(),
                },
                crate::reply::Article {
                    title: "B".into(),
                    description: "d".into(),
                    pic_url: "p".into(),
                    url: "u".into(),
                },
            ],
        };
        match CustomMessage::from_reply(&reply) {
            Some(CustomMessage::News { news }) => assert_eq!(news.articles.len(), 1),
            other => panic!("not news: {other:?}"),
        }
        assert_eq!(
            CustomMessage::from_reply(&ReplyBody::Text {
                content: "hi".into()
            }),
            Some(CustomMessage::text("hi"))
        );
        assert_eq!(
            CustomMessage::from_reply(&ReplyBody::TransferCustomerService { kf_account: None }),
            None
        );
    }
}
