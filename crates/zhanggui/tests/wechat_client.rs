//! The typed WeChat API client (`wechat::api::*`) against the emulated WeChat, through the
//! product's shared token cache, as the product will call the real one: every group of calls
//! made for real and its effect read back, including the sandbox's refusals.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, wait_until};
use serde_json::{Value, json};
use wechat::api::datacube::{self, Date};
use wechat::api::draft::{self, Article};
use wechat::api::jssdk;
use wechat::api::mass::{self, Audience, MassMessage, PreviewTo, SendOptions};
use wechat::api::material::{self, ListedType, Material, VideoDescription};
use wechat::api::media::{self, MediaType, TempMedia};
use wechat::api::menu::{self, Action, Button, MatchRule, Menu};
use wechat::api::oauth::{self, Scope};
use wechat::api::publish::{self, PublishState};
use wechat::api::qrcode::{self, QrCode, Scene};
use wechat::api::tags;
use wechat::api::template::{self, TemplateMessage, TemplateValue};
use wechat::api::users;
use wechat::api::wire::Upload;
use wechat::api::{ApiError, Done};
use wechat::token::TokenCache;
use zhanggui::accounts::AccountRow;
use zhanggui::accounts::model::AccountInput;
use zhanggui::platform::config::Mode;

/// A server, a verified service account on its sandbox, and the account's token cache.
async fn service_account(name: &str) -> (TestApp, AccountRow, Arc<TokenCache>) {
    let app = TestApp::spawn().await;
    let m = app.merchant(&format!("{name}商户")).await;
    let account = app.account(m, &format!("{name}服务号")).await;
    let tokens = zhanggui::accounts::tokens::cache_of(app.state(), &account);
    (app, account, tokens)
}

/// Simulated followers made through the sandbox's own API.
async fn followers(app: &TestApp, app_id: &str, body: Value) -> Vec<String> {
    let answer: Value = app
        .client()
        .post(app.url(&format!("/sandbox/api/apps/{app_id}/followers")))
        .json(&body)
        .send()
        .await
        .expect("create followers")
        .json()
        .await
        .expect("json");
    answer["openids"]
        .as_array()
        .expect("openids")
        .iter()
        .map(|o| o.as_str().expect("an openid").to_string())
        .collect()
}

/// A follower does something in WeChat (the sandbox delivers it to the product's callback).
async fn act(app: &TestApp, app_id: &str, openid: &str, action: Value) {
    let res = app
        .client()
        .post(app.url(&format!(
            "/sandbox/api/apps/{app_id}/followers/{openid}/actions"
        )))
        .json(&action)
        .send()
        .await
        .expect("act");
    assert!(
        res.status().is_success(),
        "{action}: {:?}",
        res.text().await
    );
}

/// What a follower's phone received (customer-service, mass and template messages).
async fn inbox(app: &TestApp, app_id: &str, openid: &str) -> Vec<Value> {
    let answer: Value = app
        .client()
        .get(app.url(&format!(
            "/sandbox/api/apps/{app_id}/followers/{openid}/inbox"
        )))
        .send()
        .await
        .expect("inbox")
        .json()
        .await
        .expect("json");
    answer["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until the follower's inbox has an item passing `pick`, and returns it.
async fn arrived(
    app: &TestApp,
    app_id: &str,
    openid: &str,
    what: &str,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    let mut found = None;
    for _ in 0..200 {
        found = inbox(app, app_id, openid).await.into_iter().find(&pick);
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    found.unwrap_or_else(|| panic!("{openid} never received {what}"))
}

/// A file the sandbox takes as a PNG (it judges images by their first bytes).
fn png(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(size, 7);
    bytes
}

fn jpg(size: usize) -> Vec<u8> {
    let mut bytes = b"\xFF\xD8\xFF\xE0".to_vec();
    bytes.resize(size, 9);
    bytes
}

fn is_wechat_error(result: &Result<impl std::fmt::Debug, ApiError>, code: i64) -> bool {
    matches!(result, Err(ApiError::WeChat { errcode, .. }) if *errcode == code)
}

// -------------------------------------------------------------------------------------------

#[tokio::test]
async fn menus_come_back_as_created_and_conditional_menus_follow_tags() {
    let (app, account, tokens) = service_account("菜单").await;
    assert_eq!(
        menu::get(&tokens).await.expect("no menu yet"),
        None,
        "46003 reads as no menu"
    );
    let default = Menu {
        button: vec![
            Button::click("今日特价", "TODAY"),
            Button::sub_menu(
                "服务",
                vec![
                    Button::view("官网", "https://shop.example.com/"),
                    Button::new("扫码", Action::ScancodeWaitmsg { key: "SCAN".into() }),
                    Button::new("拍照", Action::PicPhotoOrAlbum { key: "PIC".into() }),
                    Button::new(
                        "位置",
                        Action::LocationSelect {
                            key: "WHERE".into(),
                        },
                    ),
                    Button::new(
                        "小程序",
                        Action::Miniprogram {
                            url: "https://shop.example.com/m".into(),
                            appid: "wx286b93c14bbf93aa".into(),
                            pagepath: "pages/index".into(),
                        },
                    ),
                ],
            ),
            Button::sub_menu(
                "文章",
                vec![
                    Button::new(
                        "图片",
                        Action::MediaId {
                            media_id: "MEDIA_ID1".into(),
                        },
                    ),
                    Button::new(
                        "已发布",
                        Action::ArticleId {
                            article_id: "ARTICLE_ID1".into(),
                        },
                    ),
                    Button::new(
                        "已发布页",
                        Action::ArticleViewLimited {
                            article_id: "ARTICLE_ID2".into(),
                        },
                    ),
                ],
            ),
        ],
    };
    menu::create(&tokens, &default).await.expect("menu/create");
    let got = menu::get(&tokens).await.expect("menu/get").expect("a menu");
    assert_eq!(
        got.menu.button, default.button,
        "the menu comes back as sent"
    );
    assert!(got.conditionalmenu.is_empty());

    let vip = tags::create(&tokens, "会员").await.expect("a tag");
    let people = followers(&app, &account.app_id, json!({"count": 2})).await;
    tags::tag_users(&tokens, vip.id, &people[..1])
        .await
        .expect("tagged");
    let vip_menu = vec![Button::view("会员中心", "https://shop.example.com/vip")];
    let menuid = menu::add_conditional(&tokens, &vip_menu, &MatchRule::tag(vip.id))
        .await
        .expect("addconditional");
    assert!(!menuid.is_empty());
    assert_eq!(
        menu::try_match(&tokens, &people[0])
            .await
            .expect("trymatch"),
        vip_menu,
        "the tagged follower sees the conditional menu"
    );
    assert_eq!(
        menu::try_match(&tokens, &people[1])
            .await
            .expect("trymatch"),
        default.button,
        "the others see the default menu"
    );
    let got = menu::get(&tokens).await.expect("menu/get").expect("a menu");
    assert_eq!(got.conditionalmenu.len(), 1);
    assert_eq!(got.conditionalmenu[0].menuid, menuid);
    assert_eq!(
        got.conditionalmenu[0].matchrule.tag_id,
        Some(vip.id.to_string())
    );
    assert!(got.menu.menuid.is_some(), "shown next to conditional menus");

    menu::del_conditional(&tokens, &menuid)
        .await
        .expect("delconditional");
    assert!(is_wechat_error(
        &menu::del_conditional(&tokens, &menuid).await,
        65301
    ));
    let too_many = Menu {
        button: vec![Button::click("一", "1"); 4],
    };
    assert!(is_wechat_error(
        &menu::create(&tokens, &too_many).await,
        40016
    ));
    menu::delete(&tokens).await.expect("menu/delete");
    assert_eq!(menu::get(&tokens).await.expect("menu/get"), None);

    // An unverified subscription account has no menu rights.
    let m = app.merchant("个人号商户").await;
    let personal = zhanggui::accounts::create(
        &app.db,
        m,
        &AccountInput {
            name: "个人订阅号".into(),
            kind: "subscription".into(),
            verified: false,
            security_mode: "safe".into(),
            sandbox: Some(true),
            ..AccountInput::default()
        },
        Mode::Sandbox,
        &app.base,
        app.now(),
    )
    .await
    .expect("create the account");
    let personal_tokens = zhanggui::accounts::tokens::cache_of(app.state(), &personal);
    let refused = menu::create(&personal_tokens, &default).await;
    assert!(
        matches!(refused, Err(ApiError::WeChat { errcode: 48001, .. })),
        "{refused:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn users_page_by_ten_thousand_and_lists_are_split_into_calls() {
    let (app, account, tokens) = service_account("用户").await;
    let made = followers(&app, &account.app_id, json!({"count": 25_000})).await;
    assert_eq!(made.len(), 25_000);

    let first = users::get_followers(&tokens, "").await.expect("user/get");
    assert_eq!(first.total, 25_000);
    assert_eq!(first.count, 10_000);
    assert_eq!(first.openids().len(), 10_000);
    assert_eq!(first.next_openid, first.openids()[9_999]);
    let mut everyone = users::all_followers(&tokens).await.expect("every page");
    assert_eq!(everyone.len(), 25_000, "three pages and the empty one");
    everyone.sort();
    everyone.dedup();
    let mut expected = made.clone();
    expected.sort();
    assert_eq!(everyone, expected);

    // 250 users: three batchget calls of at most 100, answered in order.
    let some: Vec<String> = made[..250].to_vec();
    let infos = users::batch_info(&tokens, &some).await.expect("batchget");
    assert_eq!(infos.len(), 250);
    assert!(
        infos
            .iter()
            .zip(&some)
            .all(|(i, o)| i.openid == *o && i.subscribe)
    );
    assert!(is_wechat_error(
        &users::batch_info(&tokens, &["not-an-openid".to_string()]).await,
        40003
    ));

    users::update_remark(&tokens, &made[0], "老顾客")
        .await
        .expect("updateremark");
    let info = users::info(&tokens, &made[0]).await.expect("user/info");
    assert_eq!(info.remark, "老顾客");
    assert_eq!(info.language, "zh_CN");
    assert!(info.subscribe);
    assert!(is_wechat_error(
        &users::update_remark(&tokens, &made[0], &"长".repeat(20)).await,
        40092
    ));

    // 45 openids: three blacklist calls of at most 20.
    let blocked: Vec<String> = made[100..145].to_vec();
    users::blacklist(&tokens, &blocked)
        .await
        .expect("batchblacklist");
    let page = users::get_blacklist(&tokens, "")
        .await
        .expect("getblacklist");
    assert_eq!(page.total, 45);
    let mut listed = users::all_blacklisted(&tokens).await.expect("every page");
    listed.sort();
    let mut want = blocked.clone();
    want.sort();
    assert_eq!(listed, want);
    users::unblacklist(&tokens, &blocked[..30])
        .await
        .expect("batchunblacklist");
    assert_eq!(
        users::all_blacklisted(&tokens)
            .await
            .expect("every page")
            .len(),
        15
    );

    // Tags: 120 followers tagged in three calls of at most 50.
    let tag = tags::create(&tokens, "回头客").await.expect("tags/create");
    assert!(tag.id >= 100, "ids below 100 are WeChat's own");
    let tagged: Vec<String> = made[1_000..1_120].to_vec();
    tags::tag_users(&tokens, tag.id, &tagged)
        .await
        .expect("batchtagging");
    let counted = tags::list(&tokens).await.expect("tags/get");
    let listed = counted
        .iter()
        .find(|t| t.id == tag.id)
        .expect("the new tag is listed");
    assert_eq!(listed.count, 120);
    assert!(counted.iter().any(|t| t.id == tags::STARRED));
    let mut members = tags::all_members(&tokens, tag.id)
        .await
        .expect("user/tag/get");
    members.sort();
    let mut want = tagged.clone();
    want.sort();
    assert_eq!(members, want);
    assert_eq!(
        tags::tags_of(&tokens, &tagged[0]).await.expect("getidlist"),
        vec![tag.id]
    );
    tags::untag_users(&tokens, tag.id, &tagged[..70])
        .await
        .expect("batchuntagging");
    assert_eq!(
        tags::all_members(&tokens, tag.id)
            .await
            .expect("user/tag/get")
            .len(),
        50
    );
    tags::update(&tokens, tag.id, "常客")
        .await
        .expect("tags/update");
    assert!(
        tags::list(&tokens)
            .await
            .expect("tags/get")
            .iter()
            .any(|t| t.id == tag.id && t.name == "常客")
    );
    assert!(is_wechat_error(
        &tags::update(&tokens, tags::STARRED, "x").await,
        45058
    ));
    tags::delete(&tokens, tag.id).await.expect("tags/delete");
    assert!(
        tags::tags_of(&tokens, &tagged[100])
            .await
            .expect("getidlist")
            .is_empty(),
        "a deleted tag leaves every follower"
    );
    app.stop().await;
}

#[tokio::test]
async fn qr_codes_come_with_an_image() {
    let (app, _account, tokens) = service_account("二维码").await;
    let temporary = qrcode::create(
        &tokens,
        &QrCode::Temporary {
            expire_seconds: 600,
            scene: Scene::Id(42),
        },
    )
    .await
    .expect("temporary code");
    assert_eq!(temporary.expire_seconds, Some(600));
    assert!(temporary.url.starts_with("http://weixin.qq.com/q/"));

    let show_base = qrcode::show_base_for(tokens.base());
    let image = qrcode::image(tokens.http(), show_base, &temporary.ticket)
        .await
        .expect("the PNG");
    assert_eq!(image.content_type, "image/png");
    assert!(image.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));

    let poster = QrCode::Permanent {
        scene: Scene::Str("poster-2026".into()),
    };
    let permanent = qrcode::create(&tokens, &poster).await.expect("permanent");
    assert_eq!(permanent.expire_seconds, None);
    let again = qrcode::create(&tokens, &poster).await.expect("again");
    assert_eq!(again.ticket, permanent.ticket, "a scene keeps its ticket");
    assert!(
        qrcode::image(tokens.http(), show_base, &permanent.ticket)
            .await
            .is_ok()
    );
    let bad = qrcode::create(
        &tokens,
        &QrCode::Permanent {
            scene: Scene::Id(100_001),
        },
    )
    .await;
    assert!(is_wechat_error(&bad, 40053), "{bad:?}");
    app.stop().await;
}

/// A permanent cover image and a draft using it: (cover media_id, draft media_id).
async fn cover_and_draft(tokens: &TokenCache, title: &str) -> (String, String) {
    let cover = material::add(
        tokens,
        MediaType::Image,
        &Upload::new("cover.png", png(2048)),
        None,
    )
    .await
    .expect("a permanent cover");
    let article = Article {
        author: "掌柜".into(),
        digest: "秋季上新".into(),
        content_source_url: "https://shop.example.com/autumn".into(),
        ..Article::news(title, "<p>新品到店，欢迎选购。</p>", cover.media_id.clone())
    };
    let draft = draft::add(tokens, &[article]).await.expect("draft/add");
    (cover.media_id, draft)
}

#[tokio::test]
async fn media_material_drafts_and_publishing() {
    let (app, _account, tokens) = service_account("素材").await;

    // Temporary media: an image and a thumb, downloaded back.
    let picture = png(4096);
    let uploaded = media::upload(
        &tokens,
        MediaType::Image,
        &Upload::new("picture.png", picture.clone()),
    )
    .await
    .expect("media/upload");
    assert_eq!(uploaded.media_type, MediaType::Image);
    match media::get(&tokens, &uploaded.media_id)
        .await
        .expect("media/get")
    {
        TempMedia::File(file) => {
            assert_eq!(file.bytes, picture);
            assert_eq!(file.content_type, "image/png");
        }
        other => panic!("not a file: {other:?}"),
    }
    let thumb = media::upload(
        &tokens,
        MediaType::Thumb,
        &Upload::new("thumb.jpg", jpg(1024)),
    )
    .await
    .expect("a thumb");
    assert_eq!(thumb.media_type, MediaType::Thumb);
    assert!(
        !thumb.media_id.is_empty(),
        "thumb_media_id read as media_id"
    );
    assert!(is_wechat_error(
        &media::get(&tokens, "no-such-media").await,
        40007
    ));
    assert!(is_wechat_error(
        &media::upload(
            &tokens,
            MediaType::Thumb,
            &Upload::new("big.jpg", jpg(65 * 1024))
        )
        .await,
        40006
    ));

    let in_article = media::upload_article_image(&tokens, &Upload::new("body.png", png(512)))
        .await
        .expect("uploadimg");
    let served = tokens
        .http()
        .get(&in_article)
        .send()
        .await
        .expect("the image URL");
    assert!(served.status().is_success());

    // Permanent material.
    let (cover, draft_id) = cover_and_draft(&tokens, "秋季上新").await;
    match material::get(&tokens, &cover).await.expect("get_material") {
        Material::File(file) => assert_eq!(file.bytes, png(2048)),
        other => panic!("not a file: {other:?}"),
    }
    let video = material::add(
        &tokens,
        MediaType::Video,
        &Upload::new("shop.mp4", {
            let mut mp4 = b"\0\0\0\x18ftypmp42".to_vec();
            mp4.resize(4096, 0);
            mp4
        }),
        Some(&VideoDescription {
            title: "店铺介绍".into(),
            introduction: "三十秒看懂本店".into(),
        }),
    )
    .await
    .expect("a video");
    match material::get(&tokens, &video.media_id)
        .await
        .expect("video")
    {
        Material::Video { title, .. } => assert_eq!(title, "店铺介绍"),
        other => panic!("not a video: {other:?}"),
    }
    let counts = material::count(&tokens).await.expect("get_materialcount");
    assert_eq!((counts.image_count, counts.video_count), (1, 1));
    let images = material::batchget(&tokens, ListedType::Image, 0, 20)
        .await
        .expect("batchget_material");
    assert_eq!(images.total_count, 1);
    assert_eq!(images.item[0].media_id, cover);
    assert_eq!(images.item[0].name.as_deref(), Some("cover.png"));
    material::delete(&tokens, &video.media_id)
        .await
        .expect("del_material");
    assert_eq!(
        material::count(&tokens).await.expect("count").video_count,
        0
    );

    // Drafts.
    let articles = draft::get(&tokens, &draft_id).await.expect("draft/get");
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0].title, "秋季上新");
    assert_eq!(articles[0].author, "掌柜");
    assert!(articles[0].url.is_some(), "a preview page");
    let mut changed = articles[0].clone();
    changed.title = "秋季上新（更新）".into();
    changed.need_open_comment = true;
    draft::update(&tokens, &draft_id, 0, &changed)
        .await
        .expect("draft/update");
    let articles = draft::get(&tokens, &draft_id).await.expect("draft/get");
    assert_eq!(articles[0].title, "秋季上新（更新）");
    assert!(articles[0].need_open_comment);
    assert!(is_wechat_error(
        &draft::update(&tokens, &draft_id, 3, &changed).await,
        40060
    ));
    assert_eq!(draft::count(&tokens).await.expect("draft/count"), 1);
    let page = draft::batchget(&tokens, 0, 20, true)
        .await
        .expect("draft/batchget");
    assert_eq!(page.total_count, 1);
    assert_eq!(page.item[0].media_id, draft_id);
    assert_eq!(page.item[0].content.news_item[0].content, "", "no_content");
    let spare = draft::add(
        &tokens,
        &[Article::news("草稿二", "<p>x</p>", cover.clone())],
    )
    .await
    .expect("a second draft");
    draft::delete(&tokens, &spare).await.expect("draft/delete");
    let no_cover = draft::add(
        &tokens,
        &[Article::news("无封面", "<p>x</p>", uploaded.media_id)],
    )
    .await;
    assert!(
        is_wechat_error(&no_cover, 40007),
        "a temporary image is no cover: {no_cover:?}"
    );

    // Publishing: submit, then poll until the job is over.
    let submitted = publish::submit(&tokens, &draft_id).await.expect("submit");
    let first = publish::get(&tokens, &submitted.publish_id)
        .await
        .expect("freepublish/get");
    assert_eq!(first.state(), PublishState::Publishing);
    app.clock.advance(3_500);
    let mut status = first;
    for _ in 0..100 {
        status = publish::get(&tokens, &submitted.publish_id)
            .await
            .expect("freepublish/get");
        if status.state().is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status.state(), PublishState::Published, "{status:?}");
    let article_id = status.article_id.clone().expect("an article_id");
    let urls = status.article_urls();
    assert_eq!(urls.len(), 1);
    assert_eq!(urls[0].0, 1);
    let published = publish::get_article(&tokens, &article_id)
        .await
        .expect("getarticle");
    assert_eq!(published[0].title, "秋季上新（更新）");
    assert_eq!(published[0].is_deleted, Some(false));
    assert_eq!(published[0].url.as_deref(), Some(urls[0].1));
    let listed = publish::batchget(&tokens, 0, 20, false)
        .await
        .expect("freepublish/batchget");
    assert_eq!(listed.total_count, 1);
    assert_eq!(listed.item[0].article_id, article_id);
    assert_eq!(
        draft::count(&tokens).await.expect("draft/count"),
        0,
        "a published draft leaves the draft box"
    );
    publish::delete(&tokens, &article_id, None)
        .await
        .expect("freepublish/delete");
    let deleted = publish::get(&tokens, &submitted.publish_id)
        .await
        .expect("freepublish/get");
    assert_eq!(deleted.state(), PublishState::Deleted);
    app.stop().await;
}

#[tokio::test]
async fn mass_messages_reach_the_audience_once() {
    let (app, account, tokens) = service_account("群发").await;
    let app_id = account.app_id.clone();
    let people = followers(&app, &app_id, json!({"count": 4})).await;
    let tag = tags::create(&tokens, "秋季活动").await.expect("a tag");
    tags::tag_users(&tokens, tag.id, &people[..2])
        .await
        .expect("tagged");

    let options = SendOptions {
        clientmsgid: Some("autumn-sale-1".into()),
        ..SendOptions::default()
    };
    let message = MassMessage::text("秋季大促，全场八折");
    let sent = mass::sendall(&tokens, Audience::Tag(tag.id), &message, &options)
        .await
        .expect("sendall");
    assert!(!sent.already_sent);
    let item = arrived(&app, &app_id, &people[0], "the mass text", |i| {
        i["source"] == "mass" && i["type"] == "text"
    })
    .await;
    assert_eq!(item["content"]["content"], "秋季大促，全场八折");
    assert_eq!(item["msg_id"], sent.msg_id);
    wait_until("the job is over", 10, || async {
        !mass::status(&tokens, sent.msg_id)
            .await
            .expect("mass/get")
            .is_sending()
    })
    .await;
    assert_eq!(
        mass::status(&tokens, sent.msg_id)
            .await
            .expect("mass/get")
            .msg_status,
        "SEND_SUCCESS"
    );
    assert!(
        inbox(&app, &app_id, &people[3]).await.is_empty(),
        "an untagged follower got nothing"
    );

    // The same clientmsgid: too soon, then the earlier send.
    let too_fast = mass::sendall(&tokens, Audience::Tag(tag.id), &message, &options).await;
    assert!(is_wechat_error(&too_fast, 45066), "{too_fast:?}");
    app.clock.advance(61_000);
    let again = mass::sendall(&tokens, Audience::Tag(tag.id), &message, &options)
        .await
        .expect("45065 is the earlier send");
    assert!(again.already_sent);
    assert_eq!(again.msg_id, sent.msg_id);
    let texts = inbox(&app, &app_id, &people[1])
        .await
        .into_iter()
        .filter(|i| i["type"] == "text")
        .count();
    assert_eq!(texts, 1, "nothing was sent twice");

    // A draft to a list of openids, then taken off the web.
    let (_cover, draft_id) = cover_and_draft(&tokens, "十月新品").await;
    let news = mass::send(
        &tokens,
        &people[2..4],
        &MassMessage::mpnews(draft_id),
        &SendOptions::default(),
    )
    .await
    .expect("mass/send");
    assert!(
        news.msg_data_id.is_some(),
        "mpnews sends have a msg_data_id"
    );
    let card = arrived(&app, &app_id, &people[3], "the articles", |i| {
        i["type"] == "mpnews"
    })
    .await;
    assert_eq!(card["content"]["articles"][0]["title"], "十月新品");
    wait_until("the mpnews job is over", 10, || async {
        !mass::status(&tokens, news.msg_id)
            .await
            .expect("mass/get")
            .is_sending()
    })
    .await;
    mass::delete(&tokens, news.msg_id, None)
        .await
        .expect("mass/delete");
    assert_eq!(
        mass::status(&tokens, news.msg_id)
            .await
            .expect("mass/get")
            .msg_status,
        "DELETE"
    );
    assert!(is_wechat_error(
        &mass::send(&tokens, &people[..1], &message, &SendOptions::default()).await,
        40130
    ));

    // A preview reaches one follower at once.
    mass::preview(&tokens, &PreviewTo::Openid(people[3].clone()), &message)
        .await
        .expect("preview");
    let preview = arrived(&app, &app_id, &people[3], "the preview", |i| {
        i["type"] == "text" && i["preview"] == true
    })
    .await;
    assert_eq!(preview["content"]["content"], "秋季大促，全场八折");
    app.stop().await;
}

#[tokio::test]
async fn template_messages_are_added_then_sent() {
    let (app, account, tokens) = service_account("模板").await;
    let people = followers(&app, &account.app_id, json!({"count": 1})).await;
    template::set_industry(&tokens, 1, 31)
        .await
        .expect("api_set_industry");
    let industries = template::get_industry(&tokens).await.expect("get_industry");
    assert_eq!(industries.primary_industry.second_class, "互联网|电子商务");
    assert_eq!(industries.secondary_industry.first_class, "消费品");

    let template_id = template::add_template(&tokens, "TM00015", &[])
        .await
        .expect("api_add_template");
    let all = template::all_private_templates(&tokens)
        .await
        .expect("get_all_private_template");
    let added = all
        .iter()
        .find(|t| t.template_id == template_id)
        .expect("listed");
    assert_eq!(
        added.keywords(),
        ["first", "orderMoneySum", "orderProductName", "remark"]
    );

    let message = TemplateMessage {
        url: Some("https://shop.example.com/orders/1".into()),
        client_msg_id: Some("order-1-paid".into()),
        ..TemplateMessage::new(people[0].clone(), template_id.clone())
    }
    .with("first", TemplateValue::colored("支付成功", "#173177"))
    .with("orderMoneySum", TemplateValue::new("30.00元"))
    .with("orderProductName", TemplateValue::new("秋季风衣"))
    .with("remark", TemplateValue::new("感谢惠顾"));
    let msgid = template::send(&tokens, &message).await.expect("send");
    let item = arrived(&app, &account.app_id, &people[0], "the template", |i| {
        i["source"] == "template"
    })
    .await;
    assert_eq!(item["msg_id"], msgid);
    assert_eq!(
        template::send(&tokens, &message).await.expect("again"),
        msgid,
        "the same client_msg_id sends nothing new"
    );
    let unknown = template::send(&tokens, &TemplateMessage::new(people[0].clone(), "nope")).await;
    assert!(is_wechat_error(&unknown, 40037), "{unknown:?}");

    template::del_template(&tokens, &template_id)
        .await
        .expect("del_private_template");
    assert!(
        template::all_private_templates(&tokens)
            .await
            .expect("list")
            .is_empty()
    );
    app.stop().await;
}

/// Where WeChat sent the browser, and the `code` and `state` it added.
fn code_and_state(res: &reqwest::Response) -> (String, Option<String>, String) {
    assert_eq!(res.status(), reqwest::StatusCode::FOUND, "a redirect");
    let location = res
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("a Location")
        .to_string();
    let url = url::Url::parse(&location).expect("an absolute URL");
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    (
        location.clone(),
        param("code"),
        param("state").unwrap_or_default(),
    )
}

/// The authorize URL as the phone simulator opens it: with `sandbox_openid` saying who is
/// browsing (real WeChat knows), and without the fragment (browsers never send it).
fn as_browsed(authorize_url: &str, openid: &str) -> String {
    let (url, fragment) = authorize_url
        .split_once('#')
        .expect("the #wechat_redirect fragment");
    assert_eq!(fragment, "wechat_redirect");
    format!("{url}&sandbox_openid={openid}")
}

#[tokio::test]
async fn web_authorization_turns_a_code_into_the_user() {
    let (app, account, tokens) = service_account("网页授权").await;
    let people = followers(
        &app,
        &account.app_id,
        json!({"count": 1, "profiles": [{"nickname": "小明", "sex": 1, "city": "上海",
                                          "headimgurl": "https://thirdwx.qlogo.cn/x/0"}]}),
    )
    .await;
    let openid = &people[0];
    let http = tokens.http();
    let api_base = tokens.base();
    let redirect = "https://shop.example.com/wx/oauth?next=/orders&x=1";

    // snsapi_base: silent, a 302 straight back with the code.
    let url = oauth::authorize_url(
        oauth::authorize_base_for(api_base),
        &account.app_id,
        redirect,
        Scope::Base,
        "s1234",
    );
    let res = app
        .client()
        .get(as_browsed(&url, openid))
        .send()
        .await
        .expect("authorize");
    let (location, code, state) = code_and_state(&res);
    assert!(
        location.starts_with("https://shop.example.com/wx/oauth?next=/orders&x=1&code="),
        "back to redirect_uri with its own query: {location}"
    );
    assert_eq!(state, "s1234");
    let code = code.expect("a code");
    let token = oauth::exchange_code(http, api_base, &account.app_id, &account.app_secret, &code)
        .await
        .expect("code → token");
    assert_eq!(token.openid, *openid);
    assert_eq!(token.scope, "snsapi_base");
    let used =
        oauth::exchange_code(http, api_base, &account.app_id, &account.app_secret, &code).await;
    assert!(is_wechat_error(&used, 40163), "a code works once: {used:?}");
    let base_info = oauth::user_info(http, api_base, &token.access_token, openid).await;
    assert!(is_wechat_error(&base_info, 48001), "{base_info:?}");
    assert!(
        oauth::check(http, api_base, &token.access_token, openid)
            .await
            .expect("sns/auth")
    );
    assert!(
        !oauth::check(http, api_base, &token.access_token, "someone-else")
            .await
            .expect("sns/auth"),
        "40003 for another openid"
    );
    let refreshed = oauth::refresh(http, api_base, &account.app_id, &token.refresh_token)
        .await
        .expect("refresh");
    assert_eq!(
        refreshed.access_token, token.access_token,
        "a valid token lives on"
    );
    assert!(is_wechat_error(
        &oauth::exchange_code(http, api_base, &account.app_id, "wrong-secret", "x").await,
        40125
    ));

    // snsapi_userinfo: the consent page's "允许" posts back, then the same redirect.
    let url = oauth::authorize_url(
        oauth::authorize_base_for(api_base),
        &account.app_id,
        redirect,
        Scope::UserInfo,
        "s5678",
    );
    let consent_page = app
        .client()
        .get(as_browsed(&url, openid))
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        consent_page.status(),
        reqwest::StatusCode::OK,
        "a consent page"
    );
    let res = app
        .client()
        .post(app.url("/sandbox/connect/oauth2/authorize"))
        .form(&[
            ("appid", account.app_id.as_str()),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "snsapi_userinfo"),
            ("state", "s5678"),
            ("openid", openid.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("consent");
    let (_, code, state) = code_and_state(&res);
    assert_eq!(state, "s5678");
    let token = oauth::exchange_code(
        http,
        api_base,
        &account.app_id,
        &account.app_secret,
        &code.expect("a code"),
    )
    .await
    .expect("code → token");
    assert_eq!(token.scope, "snsapi_userinfo");
    let profile = oauth::user_info(http, api_base, &token.access_token, openid)
        .await
        .expect("sns/userinfo");
    assert_eq!(profile.openid, *openid);
    assert_eq!(profile.nickname, "小明");
    assert_eq!(profile.sex, 1);
    assert_eq!(profile.city, "上海");
    app.stop().await;
}

#[tokio::test]
async fn jssdk_signatures_pass_the_sandboxs_check() {
    let (app, account, tokens) = service_account("JSSDK").await;
    let ticket = jssdk::jsapi_ticket(&tokens).await.expect("jsapi_ticket");
    assert!(ticket.expires_in > 7_000);
    let again = jssdk::jsapi_ticket(&tokens).await.expect("again");
    assert_eq!(
        again.ticket, ticket.ticket,
        "the same ticket while it lives"
    );

    let page = "https://shop.example.com/goods?id=7&from=singlemessage#/detail";
    let timestamp = app.now() / 1000;
    let config = jssdk::wx_config(
        &account.app_id,
        &ticket.ticket,
        page,
        "Wm3WZYTPz0wzccnW",
        timestamp,
    );
    let verify = |signature: String| {
        let app_url = app.url(&format!(
            "/sandbox/api/apps/{}/jssdk/verify",
            account.app_id
        ));
        let client = app.client();
        async move {
            let answer: Value = client
                .post(app_url)
                .json(&json!({
                    "url": jssdk::url_to_sign(page),
                    "noncestr": "Wm3WZYTPz0wzccnW",
                    "timestamp": timestamp,
                    "signature": signature,
                }))
                .send()
                .await
                .expect("verify")
                .json()
                .await
                .expect("json");
            answer
        }
    };
    let verdict = verify(config.signature.clone()).await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["errMsg"], "config:ok");
    let wrong = jssdk::signature(
        &ticket.ticket,
        "Wm3WZYTPz0wzccnW",
        &timestamp.to_string(),
        "https://shop.example.com/other",
    );
    let verdict = verify(wrong).await;
    assert_eq!(verdict["valid"], false, "{verdict}");
    app.stop().await;
}

#[tokio::test]
async fn the_data_cube_counts_what_followers_did() {
    let (app, account, tokens) = service_account("数据").await;
    let app_id = account.app_id.clone();
    let people = followers(&app, &app_id, json!({"count": 3, "subscribed": false})).await;
    act(&app, &app_id, &people[0], json!({"type": "follow"})).await;
    act(
        &app,
        &app_id,
        &people[1],
        json!({"type": "follow", "scene": "42"}),
    )
    .await;
    act(&app, &app_id, &people[2], json!({"type": "follow"})).await;
    act(&app, &app_id, &people[2], json!({"type": "unfollow"})).await;
    act(
        &app,
        &app_id,
        &people[0],
        json!({"type": "text", "content": "你好"}),
    )
    .await;
    act(
        &app,
        &app_id,
        &people[1],
        json!({"type": "text", "content": "在吗"}),
    )
    .await;
    act(
        &app,
        &app_id,
        &people[1],
        json!({"type": "text", "content": "有货吗"}),
    )
    .await;

    let today = Date::beijing(app.now());
    let too_early = datacube::user_summary(&tokens, today, today).await;
    assert!(
        is_wechat_error(&too_early, 61501),
        "only until yesterday: {too_early:?}"
    );

    // A day later, the day of the follows is yesterday.
    app.clock.advance(86_400_000);
    let day = today;
    let summary = datacube::user_summary(&tokens, day, day)
        .await
        .expect("getusersummary");
    let new_users: u64 = summary.iter().map(|r| r.new_user).sum();
    let cancelled: u64 = summary.iter().map(|r| r.cancel_user).sum();
    assert_eq!((new_users, cancelled), (3, 1), "{summary:?}");
    assert!(summary.iter().all(|r| r.ref_date == day));
    assert!(
        summary
            .iter()
            .any(|r| r.user_source == 30 && r.new_user == 1),
        "the QR code follow: {summary:?}"
    );
    let cumulate = datacube::user_cumulate(&tokens, day, day)
        .await
        .expect("getusercumulate");
    assert_eq!(cumulate.len(), 1);
    assert_eq!(cumulate[0].cumulate_user, 2);
    let upstream = datacube::upstream_msg(&tokens, day, day)
        .await
        .expect("getupstreammsg");
    let text = upstream
        .iter()
        .find(|r| r.msg_type == 1)
        .expect("a text row");
    assert_eq!((text.msg_user, text.msg_count), (2, 3));
    let interface = datacube::interface_summary(&tokens, day, day)
        .await
        .expect("getinterfacesummary");
    assert_eq!(interface.len(), 1);
    assert!(interface[0].callback_count >= 7, "{interface:?}");

    // Twelve days take two calls of at most seven; every day has its row.
    let begin = day.add_days(-11);
    let fortnight = datacube::user_cumulate(&tokens, begin, day)
        .await
        .expect("two calls");
    assert_eq!(fortnight.len(), 12);
    assert_eq!(fortnight[0].ref_date, begin);
    assert_eq!(fortnight[11].cumulate_user, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_token_error_in_a_typed_call_is_retried_once() {
    let (app, account, tokens) = service_account("重试").await;
    menu::create(
        &tokens,
        &Menu {
            button: vec![Button::click("一", "ONE")],
        },
    )
    .await
    .expect("menu/create");
    let expired: Value = app
        .client()
        .post(app.url(&format!(
            "/sandbox/api/apps/{}/faults/expire-tokens",
            account.app_id
        )))
        .send()
        .await
        .expect("expire")
        .json()
        .await
        .expect("json");
    assert_eq!(expired["expired"], 1, "{expired}");
    // A multipart upload and a file download go through the same retry.
    let uploaded = media::upload(&tokens, MediaType::Image, &Upload::new("a.png", png(256)))
        .await
        .expect("42001, a new token, the upload again");
    assert!(matches!(
        media::get(&tokens, &uploaded.media_id).await,
        Ok(TempMedia::File(_))
    ));
    let _: Done = tokens
        .get("menu.get", menu::GET_PATH, &[])
        .await
        .expect("still fine");
    app.stop().await;
}
