//! The demo merchant and its data, so a new install can be tried at once. Idempotent: running
//! it again adds only what is missing and never resets what a user changed.

use crate::accounts::model::AccountInput;
use crate::merchants::model::{MerchantInput, StaffInput};
use crate::platform::auth::model::{Role, hash_password, verify_password};
use crate::platform::auth::store as auth_store;
use crate::platform::config::Mode;
use crate::platform::db::Db;
use crate::platform::error::AppError;

pub const DEMO_MERCHANT: &str = "掌柜咖啡（演示）";
pub const DEMO_OWNER: &str = "demo";
pub const DEMO_PASSWORD: &str = "demo1234";
pub const DEMO_ADMIN: &str = "admin";
pub const DEMO_ADMIN_PASSWORD: &str = "admin1234";

/// The sign-ins that still work with their demo passwords, to print at start-up.
pub async fn working_demo_logins(
    db: &Db,
) -> Result<Vec<(&'static str, &'static str, &'static str)>, AppError> {
    let mut out = vec![];
    for (user, password, what) in [
        (DEMO_OWNER, DEMO_PASSWORD, "merchant owner / 商户老板"),
        (
            DEMO_ADMIN,
            DEMO_ADMIN_PASSWORD,
            "platform admin / 平台管理员",
        ),
    ] {
        if let Some(u) = auth_store::user_by_username(db, user).await?
            && !u.disabled
            && verify_password(password, &u.password_hash)
        {
            out.push((user, password, what));
        }
    }
    Ok(out)
}

pub async fn ensure_demo(db: &Db, public_url: &str, now: i64) -> Result<i64, AppError> {
    let merchant_id = match crate::merchants::by_name(db, DEMO_MERCHANT).await? {
        Some(m) => m.id,
        None => {
            crate::merchants::create(
                db,
                &MerchantInput {
                    name: DEMO_MERCHANT.into(),
                    timezone: None,
                },
                now,
            )
            .await?
            .id
        }
    };
    ensure_platform_admin(db, now).await?;
    for (username, display, role) in [
        (DEMO_OWNER, "王老板", Role::Owner),
        ("xiaozhou", "小周（运营）", Role::Operator),
        ("xiaoli", "小李（客服）", Role::Agent),
        ("xiaochen", "小陈（店员）", Role::Clerk),
    ] {
        if auth_store::user_by_username(db, username).await?.is_none() {
            let input = StaffInput {
                username: username.into(),
                display_name: display.into(),
                password: DEMO_PASSWORD.into(),
                role,
            };
            crate::merchants::add_staff(db, merchant_id, &input, Role::Owner, now).await?;
        }
    }
    if crate::accounts::choices(db, merchant_id).await?.is_empty() {
        for (name, kind, verified, mode) in [
            ("掌柜咖啡服务号", "service", true, "safe"),
            ("掌柜咖啡订阅号", "subscription", false, "plaintext"),
        ] {
            let input = AccountInput {
                name: name.into(),
                kind: kind.into(),
                verified,
                security_mode: mode.into(),
                sandbox: Some(true),
                ..AccountInput::default()
            };
            let account =
                crate::accounts::create(db, merchant_id, &input, Mode::Sandbox, public_url, now)
                    .await?;
            let replies = crate::accounts::model::RepliesInput {
                welcome_text:
                    "欢迎关注掌柜咖啡！☕ 每天 8:00–22:00 营业，回复「菜单」看看今天的新品。".into(),
                default_reply_text: "收到您的消息啦，店员会尽快回复您～".into(),
            };
            crate::accounts::set_replies(db, merchant_id, account.id, &replies, now).await?;
        }
    }
    if let Some(service) = crate::accounts::choices(db, merchant_id).await?.first() {
        let account = crate::accounts::get(db, merchant_id, service.id)
            .await?
            .ok_or(AppError::NotFound)?;
        if account.sandbox {
            ensure_demo_channels(db, &account, now).await?;
            ensure_demo_followers(db, &account, now).await?;
        }
    }
    ensure_demo_library(db, merchant_id, now).await?;
    if let Some(service) = crate::accounts::choices(db, merchant_id).await?.first() {
        ensure_demo_replies(db, merchant_id, service.id, now).await?;
        let account = crate::accounts::get(db, merchant_id, service.id)
            .await?
            .ok_or(AppError::NotFound)?;
        if account.sandbox {
            ensure_demo_menu(db, &account, public_url, now).await?;
        }
    }
    Ok(merchant_id)
}

/// The demo account's welcome (a text, then the autumn news) and 20 keyword rules, once:
/// nothing is added when the account has any rule.
async fn ensure_demo_replies(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    now: i64,
) -> Result<(), AppError> {
    use crate::replies::model::{
        Keyword, MatchMode, ReplyItem, ReplyMode, RuleInput, RuleKind, Schedule,
    };
    if !crate::replies::store::list(db, merchant_id, account_id)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let items = crate::library::store::list(
        db,
        merchant_id,
        &crate::library::store::ListFilter { kind: "", q: "" },
        0,
        true,
        1000,
    )
    .await?;
    let item = |prefix: &str| {
        items
            .iter()
            .find(|i| i.title.starts_with(prefix))
            .map(|i| ReplyItem::Library { item_id: i.id })
            .unwrap_or_else(|| ReplyItem::Text {
                text: prefix.to_string(),
            })
    };
    let text = |t: &str| ReplyItem::Text { text: t.into() };
    let words = |mode: MatchMode, list: &[&str]| -> Vec<Keyword> {
        list.iter()
            .map(|w| Keyword {
                text: w.to_string(),
                mode,
            })
            .collect()
    };
    let rule = |name: &str, keywords: Vec<Keyword>, replies: Vec<ReplyItem>| RuleInput {
        name: name.into(),
        keywords,
        replies,
        enabled: true,
        ..RuleInput::default()
    };
    use MatchMode::{Contains, Exact, Regex};
    let mut rules = vec![
        RuleInput {
            kind: RuleKind::Welcome,
            ..rule(
                "关注欢迎",
                vec![],
                vec![
                    text(
                        "欢迎关注掌柜咖啡！每天 8:00–21:00 营业，回复「新品」看看这季的新品，回复「地址」找到我们。",
                    ),
                    item("秋季新品上市"),
                ],
            )
        },
        rule(
            "营业时间",
            [
                words(Exact, &["营业时间"]),
                words(Contains, &["几点开门", "几点关门", "几点营业"]),
            ]
            .concat(),
            vec![item("营业时间")],
        ),
        RuleInput {
            priority: 5,
            schedule: Schedule {
                hours: Some((21 * 60, 8 * 60)),
                ..Schedule::default()
            },
            ..rule(
                "打烊提示（夜间）",
                words(Contains, &["营业", "开门", "还开着"]),
                vec![text(
                    "现在已经打烊啦 明早 8:00 见！外送同样 8:00 开始接单。",
                )],
            )
        },
        rule(
            "门店地址",
            [
                words(Exact, &["地址", "门店"]),
                words(Contains, &["在哪", "怎么走", "位置"]),
            ]
            .concat(),
            vec![item("门店地址")],
        ),
        rule(
            "Wi-Fi",
            [
                words(Regex, &["wi-?fi", "无线网"]),
                words(Contains, &["密码"]),
            ]
            .concat(),
            vec![item("Wi-Fi")],
        ),
        rule(
            "新品",
            words(Contains, &["新品", "菜单", "桂花"]),
            vec![item("秋季新品上市")],
        ),
        rule(
            "外送",
            words(Contains, &["外送", "外卖", "配送", "送餐"]),
            vec![item("外送上线")],
        ),
        rule(
            "新店",
            words(Contains, &["新店", "静安寺", "开业"]),
            vec![item("新店开业")],
        ),
        rule(
            "会员日",
            words(Contains, &["会员日", "积分"]),
            vec![text(
                "每月 8 号是会员日，到店消费积分翻倍；积分可以在「会员卡」里查看和兑换。",
            )],
        ),
        rule(
            "价格",
            words(Contains, &["价格", "多少钱", "价目"]),
            vec![text(
                "美式 ¥22 · 拿铁 ¥26 · 桂花拿铁 ¥28 · 栗子蛋糕 ¥22（十月底前第二杯半价）",
            )],
        ),
        rule(
            "拉花",
            words(Contains, &["拉花"]),
            vec![text(
                "想学拉花？每周六下午 3 点有免费的拉花小课，回复「预订」报名。",
            )],
        ),
        rule(
            "优惠",
            words(Contains, &["优惠", "打折", "折扣", "半价"]),
            vec![text(
                "十月底前桂花拿铁第二杯半价；会员日积分翻倍；外送满 40 元免配送费。",
            )],
        ),
        rule(
            "发票",
            words(Contains, &["发票"]),
            vec![text(
                "可以开电子发票：结账时告诉店员抬头和税号，发票会发到您的邮箱。",
            )],
        ),
        rule(
            "预订与包场",
            words(Contains, &["预订", "订座", "包场", "报名"]),
            vec![text(
                "预订请留言：日期、时间、人数和联系电话，店员会在 1 小时内回电确认。",
            )],
        ),
        rule(
            "招聘",
            words(Contains, &["招聘", "兼职", "应聘"]),
            vec![text(
                "我们在招咖啡师和周末兼职，简历请发 jobs@example.com。",
            )],
        ),
        RuleInput {
            priority: 10,
            ..rule(
                "投诉与建议",
                words(Contains, &["投诉", "建议", "不满意"]),
                vec![text(
                    "很抱歉给您带来不好的体验。请留下您的问题和联系方式，店长会在今天内联系您。",
                )],
            )
        },
        rule(
            "饮食需求",
            words(Contains, &["无糖", "燕麦奶", "过敏", "低因"]),
            vec![text(
                "所有饮品都可以换燕麦奶（+¥3）或做无糖、低因；有过敏请点单时告诉店员。",
            )],
        ),
        rule(
            "生日",
            words(Contains, &["生日"]),
            vec![text("生日当天到店出示会员卡，送一杯任意饮品")],
        ),
        rule(
            "礼品卡",
            words(Contains, &["礼品卡", "储值", "充值"]),
            vec![text("礼品卡和储值卡在门店收银台办理，充 500 送 50。")],
        ),
        rule(
            "订单查询",
            words(Regex, &["^\\d{6,}$"]),
            vec![text("收到订单号，正在为您查询，请稍候～")],
        ),
        RuleInput {
            reply_mode: ReplyMode::Random,
            ..rule(
                "打招呼",
                [words(Exact, &["你好", "您好", "在吗", "hi", "hello"])].concat(),
                vec![
                    text("你好呀 想喝点什么？回复「新品」看看这季的新品。"),
                    text("在的！有什么可以帮您？回复「地址」「营业时间」「外送」都可以。"),
                    text("您好～今天的推荐是桂花拿铁，回复「价格」看价目表。"),
                ],
            )
        },
    ];
    // Seed 003's question that sorts followers into groups, started by a keyword or the
    // menu's key.
    let flow_id = ensure_demo_flow(db, merchant_id, account_id, now).await?;
    rules.push(RuleInput {
        triggers: vec![crate::replies::model::Trigger::Click("FLOW_SEGMENT".into())],
        ..rule(
            "客户分类问答",
            words(Exact, &["分类", "问答", "测一测"]),
            vec![ReplyItem::Flow { flow_id }],
        )
    });
    // Oldest first, so that the welcome is the oldest rule and 打招呼 the newest.
    for r in rules.drain(..) {
        crate::replies::create(db, merchant_id, account_id, &r, &[], now).await?;
    }
    Ok(())
}

/// Seed 003's segmentation flow: "are you our customer? A yes B no → e-commerce or O2O?",
/// tagging followers into groups (tags made at the sandbox's WeChat first).
async fn ensure_demo_flow(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    now: i64,
) -> Result<i64, AppError> {
    let account = crate::accounts::get(db, merchant_id, account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let wechat = crate::sandbox_mode::of(db.clone(), crate::platform::clock::Clock::default());
    let existing = crate::channels::store::tags(db, merchant_id, account_id).await?;
    let tag = |name: &'static str| {
        let existing = existing.clone();
        let wechat = wechat.clone();
        let account = account.clone();
        async move {
            if let Some((id, _)) = existing.iter().find(|(_, n)| n == name) {
                return Ok::<i64, AppError>(*id);
            }
            let wx_id = sandbox::tags::create_for_app(&wechat, &account.app_id, name)
                .await
                .map_err(|e| AppError::internal(format!("{e:?}")))?;
            let mut tx = db.begin().await?;
            let id = crate::tags::store::upsert(&mut tx, merchant_id, account_id, wx_id, name, now)
                .await?;
            tx.commit().await?;
            Ok(id)
        }
    };
    let customer = tag("老顾客").await?;
    let prospect = tag("潜在顾客").await?;
    let online = tag("电商客户").await?;
    let o2o = tag("O2O 客户").await?;
    let flow: crate::flows::model::FlowInput = serde_json::from_value(serde_json::json!({
        "name": "客户分类",
        "idle_minutes": 30,
        "intro": "花 10 秒回答两个小问题，我们给您推荐更合适的内容。",
        "reask": "没看懂您的回答，请回复选项前的字母，例如 A。",
        "done": "谢谢您的回答！回复「新品」看看这季的新品。",
        "steps": [
            {"question": "您是掌柜咖啡的老顾客吗？", "options": [
                {"label": "是", "tag_id": customer, "next": 2},
                {"label": "还不是", "tag_id": prospect, "reply": "欢迎！新朋友到店出示本消息，第一杯 8 折。"}
            ]},
            {"question": "您平时更常怎么买咖啡？", "options": [
                {"label": "网上下单", "tag_id": online, "reply": "外送满 40 元免配送费，回复「外送」了解。", "next": 3},
                {"label": "到店自取", "tag_id": o2o, "reply": "到店出示会员卡积分翻倍。", "next": 3}
            ]},
            {"question": "最后，您在哪个城市？", "field": "city"}
        ]
    }))
    .map_err(AppError::internal)?;
    Ok(
        crate::flows::create(db, merchant_id, account_id, &flow, now)
            .await?
            .id,
    )
}

/// The demo library's covers: (title, colour from, colour to).
const DEMO_COVERS: &[(&str, [u8; 3], [u8; 3])] = &[
    ("秋季新品封面", [0xC8, 0x6B, 0x2C], [0xF3, 0xC6, 0x7A]),
    ("拿铁拉花封面", [0x6B, 0x45, 0x2B], [0xD9, 0xB8, 0x8F]),
    ("会员日封面", [0x07, 0xC1, 0x60], [0xB8, 0xF0, 0xD0]),
    ("门店环境封面", [0x3A, 0x5A, 0x8C], [0xA9, 0xC4, 0xEB]),
    ("外送上线封面", [0xE0, 0x4F, 0x5F], [0xF8, 0xC3, 0x9B]),
];

/// Five articles (one news of three, two single ones) with covers, and a few text snippets,
/// once: nothing is added when the merchant's library has anything in it.
async fn ensure_demo_library(db: &Db, merchant_id: i64, now: i64) -> Result<(), AppError> {
    use crate::library::model::{ArticleInput, NewsInput, TextInput};
    let any = crate::library::store::list(
        db,
        merchant_id,
        &crate::library::store::ListFilter { kind: "", q: "" },
        0,
        true,
        1,
    )
    .await?;
    if !any.is_empty() {
        return Ok(());
    }
    let mut covers = vec![];
    for (title, from, to) in DEMO_COVERS {
        let png = crate::library::gradient_png(900, 383, *from, *to).map_err(AppError::internal)?;
        let item = crate::library::upload(
            db,
            merchant_id,
            &png,
            &format!("{title}.png"),
            title,
            None,
            now,
        )
        .await?;
        covers.push(item.id);
    }
    let article = |i: usize, title: &str, digest: &str, body: &str, url: &str| ArticleInput {
        id: None,
        title: title.into(),
        author: "掌柜咖啡".into(),
        digest: digest.into(),
        body_html: body.into(),
        content_source_url: url.into(),
        cover_item_id: covers.get(i).copied(),
    };
    let news = [
        NewsInput {
            articles: vec![
                article(
                    0,
                    "秋季新品上市：桂花拿铁和栗子蛋糕",
                    "第二杯半价，只到十月底。",
                    "<p>秋天到了，我们把桂花和拿铁放在了一起。</p>\
                     <h3>新品</h3><ul><li>桂花拿铁 ¥28</li><li>栗子蛋糕 ¥22</li></ul>\
                     <p><strong>十月底前第二杯半价</strong>，到店出示本文即可。</p>",
                    "https://example.com/autumn",
                ),
                article(
                    1,
                    "咖啡师教你在家拉花",
                    "",
                    "<p>三个步骤：打发、融合、出图。</p><blockquote>奶温 60℃ 最好。</blockquote>",
                    "",
                ),
                article(
                    2,
                    "每月 8 号会员日，积分翻倍",
                    "",
                    "<p>每月 8 号到店消费，会员积分翻倍。</p>",
                    "",
                ),
            ],
        },
        NewsInput {
            articles: vec![article(
                3,
                "新店开业：静安寺店欢迎你",
                "落地窗、大长桌，适合工作和小聚。",
                "<p>新店在静安寺地铁站 2 号口旁，营业时间 8:00–21:00。</p>",
                "",
            )],
        },
        NewsInput {
            articles: vec![article(
                4,
                "外送上线：3 公里内 30 分钟送达",
                "满 40 元免配送费。",
                "<p>在菜单点“外送”即可下单，满 40 元免配送费。</p>",
                "",
            )],
        },
    ];
    for n in &news {
        crate::library::create_news(db, merchant_id, n, now).await?;
    }
    for (title, text) in [
        ("营业时间", "每天 8:00–21:00 营业，节假日照常。"),
        (
            "门店地址",
            "上海市静安区南京西路 1 号（静安寺地铁站 2 号口）。",
        ),
        ("Wi-Fi 密码", "店内 Wi-Fi：ZhangguiCoffee，密码 88888888。"),
    ] {
        let input = TextInput {
            title: title.into(),
            text: text.into(),
        };
        crate::library::create_text(db, merchant_id, &input, now).await?;
    }
    Ok(())
}

/// How many simulated followers the demo account has, and over how many days they came.
pub const DEMO_FOLLOWERS: usize = 200;
const HISTORY_DAYS: i64 = 45;

const NICKNAMES: &[&str] = &[
    "小鱼",
    "阿杰",
    "Lily",
    "王小明",
    "陈晨",
    "咖啡控",
    "早起的鸟",
    "Momo",
    "老李",
    "静静",
    "Kevin",
    "橙子",
    "周周",
    "阿May",
    "张三丰",
    "Tina",
    "豆豆",
    "大白",
    "晓雯",
    "Leo",
];
const CITIES: &[&str] = &["上海", "杭州", "苏州", "南京", "北京", "深圳"];
const TEXTS: &[&str] = &[
    "菜单",
    "今天营业到几点？",
    "有优惠券吗",
    "拿铁多少钱",
    "可以外送吗",
    "你好",
    "会员怎么办理",
    "周末人多吗",
];

/// The demo account's simulated followers with some history: follows spread over the last
/// weeks (some from the poster and table-card QR codes), questions, location reports and a
/// few unfollows — in the sandbox (what WeChat knows) and in the message log (what the
/// callback would have logged), so every page has something to show.
async fn ensure_demo_followers(
    db: &Db,
    account: &crate::accounts::AccountRow,
    now: i64,
) -> Result<(), AppError> {
    use rand::{Rng, SeedableRng};
    use sandbox::followers::{Action, Follower, Profile};

    let wechat = crate::sandbox_mode::of(db.clone(), crate::platform::clock::Clock::default());
    let known = wechat
        .docs
        .count(&account.app_id, sandbox::followers::KIND)
        .await
        .map_err(AppError::internal)?;
    if known > 0 {
        return Ok(());
    }
    let Some(app) = wechat
        .docs
        .app(&account.app_id)
        .await
        .map_err(AppError::internal)?
    else {
        return Ok(());
    };
    // Seeded, so every demo tells the same story (the openids are WeChat-random).
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261130);
    let day = 86_400_000;
    let mut followers = Vec::with_capacity(DEMO_FOLLOWERS);
    let mut history: Vec<(String, i64)> = Vec::new();
    for i in 0..DEMO_FOLLOWERS {
        let openid = sandbox::followers::new_openid();
        let followed_at = now - rng.gen_range(day / 2..HISTORY_DAYS * day);
        let scene = match rng.gen_range(0..100) {
            0..=14 => Some("poster"),
            15..=24 => Some("table_card"),
            25..=31 => Some("article"),
            _ => None,
        };
        let mut say = |action: &Action, at: i64, rng: &mut rand::rngs::StdRng| {
            let xml = sandbox::followers::message_xml(
                &app,
                &openid,
                action,
                at / 1000,
                rng.r#gen::<u64>() >> 1,
            );
            history.push((xml, at));
        };
        say(
            &Action::Follow {
                scene: scene.map(str::to_string),
            },
            followed_at,
            &mut rng,
        );
        let mut last = followed_at;
        // Back at the shop: followers scan the codes there again (the channel's rescans).
        let rescan = match scene {
            Some(s) if rng.gen_bool(0.35) => Some(s),
            _ if rng.gen_bool(0.08) => Some("table_card"),
            _ => None,
        };
        if let Some(s) = rescan {
            let at = followed_at + rng.gen_range(3_600_000..(now - followed_at).max(3_600_001));
            if at < now {
                say(
                    &Action::Scan {
                        scene: s.to_string(),
                    },
                    at,
                    &mut rng,
                );
                last = at;
            }
        }
        for _ in 0..rng.gen_range(0..4) {
            last += rng.gen_range(60_000..(now - last).max(60_001));
            if last >= now {
                break;
            }
            let content = TEXTS[rng.gen_range(0..TEXTS.len())].to_string();
            say(&Action::Text { content }, last, &mut rng);
        }
        if rng.gen_bool(0.25) {
            let at = followed_at + rng.gen_range(1_000..60_000);
            let (latitude, longitude) = (
                31.23 + rng.gen_range(-0.05..0.05),
                121.47 + rng.gen_range(-0.05..0.05),
            );
            say(
                &Action::Location {
                    latitude,
                    longitude,
                },
                at,
                &mut rng,
            );
        }
        let unfollowed_at =
            (rng.gen_bool(0.12) && last + 60_000 < now).then(|| rng.gen_range(last + 60_000..now));
        if let Some(at) = unfollowed_at {
            say(&Action::Unfollow, at, &mut rng);
        }
        let follower = Follower {
            subscribe: unfollowed_at.is_none(),
            subscribe_time: followed_at / 1000,
            created_at: followed_at,
            unsubscribe_time: unfollowed_at.map(|t| t / 1000),
            subscribe_scene: if scene.is_some() {
                "ADD_SCENE_QR_CODE"
            } else {
                "ADD_SCENE_SEARCH"
            }
            .into(),
            qr_scene_str: scene.unwrap_or_default().to_string(),
            profile: Profile {
                nickname: format!(
                    "{}{}",
                    NICKNAMES[i % NICKNAMES.len()],
                    i / NICKNAMES.len() + 1
                ),
                sex: rng.gen_range(0..3),
                city: CITIES[rng.gen_range(0..CITIES.len())].to_string(),
                province: String::new(),
                country: "中国".into(),
                language: "zh_CN".into(),
                headimgurl: String::new(),
            },
            ..Follower::default()
        };
        followers.push((openid, follower));
    }
    wechat
        .docs
        .insert_many(&account.app_id, sandbox::followers::KIND, &followers)
        .await
        .map_err(AppError::internal)?;
    history.sort_by_key(|(_, at)| *at);
    let replies = crate::messages::model::BasicReplies {
        welcome_text: account.welcome_text.clone(),
        default_reply_text: account.default_reply_text.clone(),
        channel_welcomes: crate::channels::store::welcomes(db, account.id)
            .await?
            .into_iter()
            .collect(),
    };
    crate::messages::log_as_received(db, account.merchant_id, account.id, &replies, &history)
        .await?;
    project_now(db).await?;
    ensure_demo_profiles(db, account, &followers, now).await?;
    let regulars: Vec<(String, i64)> = followers
        .iter()
        .map(|(openid, f)| (openid.clone(), f.created_at))
        .collect();
    ensure_demo_tags_and_segments(db, &wechat, account, &regulars, now).await?;
    Ok(())
}

/// Folds the demo's history into followers right away (the projector would within a second),
/// so that the profile fields below land on rows that exist.
async fn project_now(db: &Db) -> Result<(), AppError> {
    for _ in 0..1_000 {
        let pass = crate::followers::jobs::project_once(db, None, 5_000).await?;
        if !pass.more {
            break;
        }
    }
    Ok(())
}

/// What some demo followers told the shop: their nickname through web authorization (two in
/// five) and, one in five, the member form's name, phone, gender, birthday and city.
async fn ensure_demo_profiles(
    db: &Db,
    account: &crate::accounts::AccountRow,
    followers: &[(String, sandbox::followers::Follower)],
    now: i64,
) -> Result<(), AppError> {
    const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
    const GIVEN: &[&str] = &[
        "静", "伟", "芳", "敏", "磊", "婷", "洋", "艳", "杰", "娜", "涛",
    ];
    let mut tx = db.begin().await?;
    for (i, (openid, f)) in followers.iter().enumerate() {
        if i % 5 >= 2 {
            continue;
        }
        let member = i % 5 == 0;
        let gender = match f.profile.sex {
            1 => Some("male"),
            2 => Some("female"),
            _ => None,
        };
        let name = member.then(|| {
            format!(
                "{}{}",
                SURNAMES[i % SURNAMES.len()],
                GIVEN[(i / SURNAMES.len()) % GIVEN.len()]
            )
        });
        let phone = member.then(|| format!("139{:08}", (i * 7_919) % 100_000_000));
        let birthday = member.then(|| {
            format!(
                "{}-{:02}-{:02}",
                1975 + i % 30,
                1 + (i * 5) % 12,
                1 + (i * 11) % 28
            )
        });
        crate::on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE followers SET nickname = $4, name = $5, phone = $6, gender = $7, \
             birthday = $8, city = $9, profile_updated_at = $10 \
             WHERE merchant_id = $1 AND account_id = $2 AND openid = $3"
        )
        .bind(account.merchant_id)
        .bind(account.id)
        .bind(openid)
        .bind(&f.profile.nickname)
        .bind(&name)
        .bind(&phone)
        .bind(if member { gender } else { None })
        .bind(&birthday)
        .bind(member.then(|| f.profile.city.clone()))
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(())
}

/// The demo's tags (at the sandbox and ours, the same ids) on some of its followers, and two
/// saved segments built on them. Runs once, with the followers (`(openid, followed_at)`).
async fn ensure_demo_tags_and_segments(
    db: &Db,
    wechat: &sandbox::Sandbox,
    account: &crate::accounts::AccountRow,
    followers: &[(String, i64)],
    now: i64,
) -> Result<(), AppError> {
    use crate::followers::filter::{Combine, Condition, Filter, TagOp, TimeRange};

    let day = 86_400_000;
    let every = |n: usize| -> Vec<String> {
        followers
            .iter()
            .enumerate()
            .filter(|(i, _)| i % n == 0)
            .map(|(_, (o, _))| o.clone())
            .collect()
    };
    let recent: Vec<String> = followers
        .iter()
        .filter(|(_, at)| *at >= now - 7 * day)
        .map(|(o, _)| o.clone())
        .collect();
    let mut tag_ids = Vec::new();
    for (name, members) in [
        ("常客", every(3)),
        ("咖啡爱好者", every(5)),
        ("新客", recent),
        ("会员", every(4)),
    ] {
        let wx_id = sandbox::tags::create_for_app(wechat, &account.app_id, name)
            .await
            .map_err(|e| AppError::internal(format!("{e:?}")))?;
        sandbox::tags::tag_for_app(wechat, &account.app_id, wx_id, &members)
            .await
            .map_err(AppError::internal)?;
        let mut tx = db.begin().await?;
        let id =
            crate::tags::store::upsert(&mut tx, account.merchant_id, account.id, wx_id, name, now)
                .await?;
        tx.commit().await?;
        crate::tags::store::add_members(db, account.merchant_id, account.id, id, &members, now)
            .await?;
        tag_ids.push(id);
    }
    let segments = [
        (
            "近 7 天新关注",
            Filter {
                combine: Combine::All,
                conditions: vec![
                    Condition::Subscribed { value: true },
                    Condition::SubscribedAt {
                        range: TimeRange::LastDays { days: 7 },
                    },
                ],
            },
        ),
        (
            "门店 3 公里内的常客",
            Filter {
                combine: Combine::All,
                conditions: vec![
                    Condition::Tags {
                        op: TagOp::Any,
                        tag_ids: vec![tag_ids[0]],
                    },
                    Condition::Near {
                        latitude: 31.23,
                        longitude: 121.47,
                        radius_m: 3_000.0,
                        within_days: None,
                    },
                ],
            },
        ),
    ];
    for (name, filter) in segments {
        let json = serde_json::to_string(&filter).map_err(AppError::internal)?;
        crate::on_pool!(db, |p| sqlx::query(
            "INSERT INTO segments (merchant_id, account_id, name, filter, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)"
        )
        .bind(account.merchant_id)
        .bind(account.id)
        .bind(name)
        .bind(&json)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// The demo's channel QR codes (渠道二维码): the scenes the demo followers came through
/// (ensure_demo_followers), so their statistics come from the logged follows and scans.
const DEMO_CHANNELS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "门店海报",
        "poster",
        "poster",
        "欢迎光临掌柜咖啡！☕ 海报扫码关注的朋友，到店出示本消息第二杯半价。",
        "扫码关注 · 第二杯半价\n每天 8:00–22:00 营业",
    ),
    (
        "收银台桌贴",
        "table_card",
        "table_card",
        "谢谢光临！关注后回复「会员」即可领取会员卡，积分当钱花。",
        "扫码关注 领会员卡",
    ),
    (
        "公众号文章链接",
        "article",
        "link",
        "欢迎从文章来到掌柜咖啡！回复「菜单」看看今天的新品。",
        "",
    ),
];

/// Creates the demo channels with their codes in the sandbox, once.
async fn ensure_demo_channels(
    db: &Db,
    account: &crate::accounts::AccountRow,
    now: i64,
) -> Result<(), AppError> {
    if !crate::channels::store::scenes(db, account.merchant_id, account.id)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let wechat = crate::sandbox_mode::of(db.clone(), crate::platform::clock::Clock::default());
    for (name, scene, medium, welcome, poster) in DEMO_CHANNELS {
        let (ticket, url) =
            sandbox::qrcode::create_for_app(&wechat, &account.app_id, scene, true, None)
                .await
                .map_err(|e| AppError::internal(format!("{e:?}")))?;
        let channel = crate::channels::store::NewChannel {
            merchant_id: account.merchant_id,
            account_id: account.id,
            name,
            kind: "permanent",
            scene,
            medium,
            tag_id: None,
            welcome_text: welcome,
            poster_text: poster,
            ticket: &ticket,
            qr_url: &url,
            expires_at: None,
        };
        // Weeks ago, before the follows it brought.
        crate::channels::store::insert(db, &channel, now - (HISTORY_DAYS + 1) * 86_400_000).await?;
    }
    Ok(())
}

async fn ensure_platform_admin(db: &Db, now: i64) -> Result<(), AppError> {
    if auth_store::user_by_username(db, DEMO_ADMIN)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let hash = hash_password(DEMO_ADMIN_PASSWORD).map_err(AppError::internal)?;
    let mut tx = db.begin().await?;
    auth_store::insert_user(
        &mut tx,
        &auth_store::NewUser {
            username: DEMO_ADMIN,
            display_name: "平台管理员",
            password_hash: &hash,
            is_platform_admin: true,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The demo account's menu: 3 buttons of 5 sub-buttons each, every kind of action the phone
/// simulator can tap (replies from the library, article pages, location, scan, photo, a mini
/// program), published to the sandbox. Once: nothing happens when the account has a menu.
async fn ensure_demo_menu(
    db: &Db,
    account: &crate::accounts::AccountRow,
    public_url: &str,
    now: i64,
) -> Result<(), AppError> {
    use crate::menus::model::MenuButton;
    let merchant_id = account.merchant_id;
    if !crate::menus::store::list(db, merchant_id, account.id)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let items = crate::library::store::list(
        db,
        merchant_id,
        &crate::library::store::ListFilter { kind: "", q: "" },
        0,
        true,
        100,
    )
    .await?;
    let item = |title: &str| {
        items
            .iter()
            .find(|i| i.title == title || (i.kind == "news" && i.title.starts_with(title)))
            .map(|i| i.id)
    };
    let news: Vec<i64> = items
        .iter()
        .filter(|i| i.kind == "news")
        .map(|i| i.id)
        .collect();
    let mut pages: Vec<String> = vec![];
    let mut ordered = news.clone();
    ordered.sort_unstable();
    for id in &ordered {
        for a in crate::library::store::articles(db, merchant_id, &[*id]).await? {
            pages.push(format!(
                "{}{}",
                public_url.trim_end_matches('/'),
                a.page_path()
            ));
        }
    }
    let page = |i: usize| {
        pages
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("{}/", public_url.trim_end_matches('/')))
    };
    let click = |name: &str, key: &str, reply: Option<i64>| MenuButton {
        name: name.into(),
        kind: "click".into(),
        key: key.into(),
        item_id: reply,
        ..MenuButton::default()
    };
    let view = |name: &str, url: String| MenuButton {
        name: name.into(),
        kind: "view".into(),
        url,
        ..MenuButton::default()
    };
    let keyed = |name: &str, kind: &str, key: &str| MenuButton {
        name: name.into(),
        kind: kind.into(),
        key: key.into(),
        ..MenuButton::default()
    };
    let parent = |name: &str, subs: Vec<MenuButton>| MenuButton {
        name: name.into(),
        sub_button: subs,
        ..MenuButton::default()
    };
    let tree = vec![
        parent(
            "新品",
            vec![
                click("今日推荐", "TODAY", ordered.first().copied()),
                view("秋季新品", page(0)),
                view("拉花教程", page(1)),
                view("会员日", page(2)),
                view("新店开业", page(3)),
            ],
        ),
        parent(
            "门店",
            vec![
                click("营业时间", "HOURS", item("营业时间")),
                click("门店地址", "ADDRESS", item("门店地址")),
                click("Wi-Fi 密码", "WIFI", item("Wi-Fi 密码")),
                keyed("发位置找门店", "location_select", "NEAREST_STORE"),
                view("外送下单", page(4)),
            ],
        ),
        parent(
            "会员",
            vec![
                click("会员卡", "MEMBER_CARD", None),
                keyed("扫码积分", "scancode_waitmsg", "SCAN_POINTS"),
                keyed("拍小票", "pic_photo_or_album", "RECEIPT_PHOTO"),
                click("我的优惠券", "MY_COUPONS", None),
                MenuButton {
                    name: "小程序商城".into(),
                    kind: "miniprogram".into(),
                    url: format!("{}/", public_url.trim_end_matches('/')),
                    appid: "wx5f3a9c0d2e7b1a46".into(),
                    pagepath: "pages/shop/index".into(),
                    ..MenuButton::default()
                },
            ],
        ),
    ];
    let clean = crate::menus::model::validate(&tree, &mut || "DEMO".to_string())
        .map_err(|e| AppError::internal(format!("demo menu: {e:?}")))?;
    let json = serde_json::to_string(&clean).map_err(AppError::internal)?;
    let id = crate::menus::store::insert(db, merchant_id, account.id, None, &json, now).await?;
    let wx = crate::menus::model::to_wechat(&clean, &crate::menus::model::WeChatIds::default());
    let buttons: Vec<sandbox::menus::Button> =
        serde_json::from_value(serde_json::to_value(&wx).map_err(AppError::internal)?)
            .map_err(AppError::internal)?;
    let wechat = crate::sandbox_mode::of(db.clone(), crate::platform::clock::Clock::default());
    sandbox::menus::create_for_app(&wechat, &account.app_id, &buttons)
        .await
        .map_err(|e| AppError::internal(format!("{e:?}")))?;
    crate::menus::store::mark_published(db, merchant_id, id, &json, None, now).await?;
    Ok(())
}
