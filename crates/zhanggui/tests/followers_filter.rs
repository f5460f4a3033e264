//! The follower filter (lists, segments, bulk operations, export): its SQL must select
//! exactly the followers `Filter::matches` selects. Random followers, random filters, on the
//! backend the environment chooses; the in-memory definition is the brute-force reference.

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zhanggui::followers::filter::{
    Combine, Condition, DAY_MS, Filter, FlowAnswer, FollowerRecord, Gender, ListOp, Profile,
    ProfileField, TagOp, TextOp, TimeRange,
};
use zhanggui::followers::query::{self, After, Sort};
use zhanggui::followers::{Follower, store};
use zhanggui::merchants::model::MerchantInput;
use zhanggui::platform::db::Db;

const NOW: i64 = 1_800_000_000_000;
const FOLLOWERS: usize = 300;
const TAGS: [i64; 4] = [1, 2, 3, 4];
const SCENES: [&str; 3] = ["poster", "table", "link"];
const WORDS: [&str; 5] = ["VIP", "vip_gold", "50%", "张三", "a\\b"];
const CITIES: [&str; 3] = ["上海", "Beijing", "beijing"];
/// Flow ids answers are drawn from; 9 is never answered.
const FLOWS: [i64; 3] = [5, 6, 9];
const CHOICES: [&str; 4] = ["A", "B", "C", ""];

fn random_follower(
    rng: &mut StdRng,
    merchant_id: i64,
    account_id: i64,
    i: usize,
) -> FollowerRecord {
    let day = |rng: &mut StdRng| NOW - rng.gen_range(0..60) * DAY_MS - rng.gen_range(0..DAY_MS);
    let maybe = |rng: &mut StdRng, p: f64| rng.gen_bool(p);
    let first_seen = day(rng);
    let mut f = Follower::new(merchant_id, account_id, &format!("o{i:05}"), first_seen);
    f.last_interaction_at = first_seen.max(day(rng));
    f.subscribed = maybe(rng, 0.7);
    f.subscribed_at = maybe(rng, 0.8).then_some(first_seen);
    f.channel = maybe(rng, 0.5).then(|| SCENES[rng.gen_range(0..SCENES.len())].to_string());
    if maybe(rng, 0.5) {
        // Around People's Square, Shanghai, up to ~20 km away.
        f.last_latitude = Some(31.23 + rng.gen_range(-0.2..0.2));
        f.last_longitude = Some(121.47 + rng.gen_range(-0.2..0.2));
        f.last_location_at = Some(day(rng));
    }
    let word = |rng: &mut StdRng| WORDS[rng.gen_range(0..WORDS.len())].to_string();
    let profile = Profile {
        remark: if maybe(rng, 0.5) {
            word(rng)
        } else {
            String::new()
        },
        blacklisted: maybe(rng, 0.1),
        nickname: maybe(rng, 0.3).then(|| word(rng)),
        name: maybe(rng, 0.3).then(|| word(rng)),
        phone: maybe(rng, 0.3).then(|| format!("1380000{:04}", rng.gen_range(0..50))),
        gender: match rng.gen_range(0..4) {
            0 => Some("male".into()),
            1 => Some("female".into()),
            2 => Some(String::new()),
            _ => None,
        },
        birthday: maybe(rng, 0.4).then(|| {
            format!(
                "19{:02}-{:02}-{:02}",
                rng.gen_range(50..99),
                rng.gen_range(1..13),
                rng.gen_range(1..29)
            )
        }),
        city: maybe(rng, 0.4).then(|| CITIES[rng.gen_range(0..CITIES.len())].to_string()),
        ..Profile::default()
    };
    let tag_ids = TAGS.iter().copied().filter(|_| maybe(rng, 0.3)).collect();
    let flow_answers = (0..rng.gen_range(0..4))
        .map(|_| FlowAnswer {
            flow_id: FLOWS[rng.gen_range(0..2)],
            step: rng.gen_range(0..3),
            choice: CHOICES[rng.gen_range(0..CHOICES.len())].to_string(),
        })
        .collect();
    FollowerRecord {
        follower: f,
        profile,
        tag_ids,
        flow_answers,
    }
}

async fn store_follower(db: &Db, r: &FollowerRecord) {
    store::merge(db, std::slice::from_ref(&r.follower))
        .await
        .expect("insert follower");
    let p = &r.profile;
    let f = &r.follower;
    let sql = "UPDATE followers SET remark = $1, blacklisted = $2, nickname = $3, name = $4, \
               phone = $5, gender = $6, birthday = $7, city = $8, subscribed = $9, subscribed_at = $10 \
               WHERE account_id = $11 AND openid = $12";
    zhanggui::on_pool!(db, |pool| sqlx::query(sql)
        .bind(&p.remark)
        .bind(p.blacklisted)
        .bind(&p.nickname)
        .bind(&p.name)
        .bind(&p.phone)
        .bind(&p.gender)
        .bind(&p.birthday)
        .bind(&p.city)
        .bind(f.subscribed)
        .bind(f.subscribed_at)
        .bind(f.account_id)
        .bind(&f.openid)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
    .expect("profile");
    for tag in &r.tag_ids {
        zhanggui::on_pool!(db, |pool| sqlx::query(
            "INSERT INTO follower_tags (merchant_id, account_id, openid, tag_id, tagged_at) \
             VALUES ($1, $2, $3, $4, 0)"
        )
        .bind(f.merchant_id)
        .bind(f.account_id)
        .bind(&f.openid)
        .bind(tag)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .expect("tag");
    }
    for a in &r.flow_answers {
        zhanggui::on_pool!(db, |pool| sqlx::query(
            "INSERT INTO flow_answers (merchant_id, account_id, openid, flow_id, step, choice, \
             text, answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0)"
        )
        .bind(f.merchant_id)
        .bind(f.account_id)
        .bind(&f.openid)
        .bind(a.flow_id)
        .bind(a.step)
        .bind(&a.choice)
        .bind(&a.choice)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .expect("flow answer");
    }
}

fn time_range() -> impl Strategy<Value = TimeRange> {
    prop_oneof![
        (1u32..40).prop_map(|days| TimeRange::LastDays { days }),
        (1u32..40).prop_map(|days| TimeRange::OlderThanDays { days }),
        (0i64..60, 1i64..30).prop_map(|(ago, len)| TimeRange::Between {
            from: Some(NOW - ago * DAY_MS),
            to: Some(NOW - ago * DAY_MS + len * DAY_MS),
        }),
        (0i64..60).prop_map(|ago| TimeRange::Between {
            from: None,
            to: Some(NOW - ago * DAY_MS),
        }),
    ]
}

fn some_of<T: Clone + std::fmt::Debug + 'static>(values: Vec<T>) -> impl Strategy<Value = Vec<T>> {
    let n = values.len();
    proptest::sample::subsequence(values, 1..=n)
}

fn condition() -> impl Strategy<Value = Condition> {
    let text_op = prop_oneof![
        Just(TextOp::IsSet),
        Just(TextOp::NotSet),
        Just(TextOp::Equals),
        Just(TextOp::Contains)
    ];
    let field = prop_oneof![
        Just(ProfileField::Remark),
        Just(ProfileField::Nickname),
        Just(ProfileField::Name),
        Just(ProfileField::Phone),
        Just(ProfileField::City)
    ];
    let needle = prop_oneof![
        Just("vip".to_string()),
        Just("VIP".to_string()),
        Just("%".to_string()),
        Just("_".to_string()),
        Just("\\".to_string()),
        Just("张".to_string()),
        Just("beijing".to_string()),
        Just("13800000".to_string()),
    ];
    prop_oneof![
        any::<bool>().prop_map(|value| Condition::Subscribed { value }),
        any::<bool>().prop_map(|value| Condition::Blacklisted { value }),
        (
            prop_oneof![Just(TagOp::Any), Just(TagOp::All), Just(TagOp::None)],
            some_of(TAGS.to_vec())
        )
            .prop_map(|(op, tag_ids)| Condition::Tags { op, tag_ids }),
        (
            prop_oneof![Just(ListOp::In), Just(ListOp::NotIn)],
            some_of(SCENES.iter().map(|s| s.to_string()).collect())
        )
            .prop_map(|(op, scenes)| Condition::Channel { op, scenes }),
        any::<bool>().prop_map(|value| Condition::HasChannel { value }),
        time_range().prop_map(|range| Condition::SubscribedAt { range }),
        time_range().prop_map(|range| Condition::FirstSeen { range }),
        time_range().prop_map(|range| Condition::LastInteraction { range }),
        some_of(vec![Gender::Male, Gender::Female, Gender::Unknown])
            .prop_map(|values| Condition::Gender { values }),
        (field, text_op, needle.clone()).prop_map(|(name, op, value)| Condition::Profile {
            name,
            op,
            value
        }),
        some_of((1u8..=12).collect()).prop_map(|months| Condition::BirthdayMonth { months }),
        (
            -0.1f64..0.1,
            -0.1f64..0.1,
            500f64..20_000.0,
            proptest::option::of(1u32..60)
        )
            .prop_map(|(dlat, dlng, radius_m, within_days)| Condition::Near {
                latitude: 31.23 + dlat,
                longitude: 121.47 + dlng,
                radius_m,
                within_days
            }),
        needle.prop_map(|text| Condition::Search { text }),
        (
            proptest::sample::select(FLOWS.to_vec()),
            proptest::option::of(1u32..4),
            some_of(CHOICES[..3].iter().map(|c| c.to_string()).collect()),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(flow_id, step, choices, with_choices, answered)| {
                Condition::FlowAnswer {
                    flow_id,
                    step,
                    choices: if with_choices && step.is_some() {
                        choices
                    } else {
                        vec![]
                    },
                    answered,
                }
            }),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    (
        prop_oneof![Just(Combine::All), Just(Combine::Any)],
        proptest::collection::vec(condition(), 0..4),
    )
        .prop_map(|(combine, conditions)| Filter {
            combine,
            conditions,
        })
}

/// A database with random followers, and the same followers in memory.
async fn dataset() -> (Db, i64, i64, Vec<FollowerRecord>) {
    let db = common::fresh_db().await;
    let merchant = zhanggui::merchants::create(
        &db,
        &MerchantInput {
            name: "筛选测试".into(),
            timezone: None,
        },
        NOW,
    )
    .await
    .expect("merchant")
    .id;
    common::exec(
        &db,
        &format!(
            "INSERT INTO accounts (id, merchant_id, name, kind, verified, app_id, app_secret, token, \
             encoding_aes_key, security_mode, sandbox, callback_key, created_at, updated_at) \
             VALUES (77, {merchant}, 'a', 'service', TRUE, 'wxfilter', 's', 't', 'k', 'plaintext', \
             TRUE, 'cbfilter', 0, 0)"
        ),
    )
    .await;
    for (i, tag) in TAGS.iter().enumerate() {
        common::exec(
            &db,
            &format!(
                "INSERT INTO tags (id, merchant_id, account_id, name, wx_tag_id, created_at, updated_at) \
                 VALUES ({tag}, {merchant}, 77, 't{i}', {}, 0, 0)",
                100 + i
            ),
        )
        .await;
    }
    let mut rng = StdRng::seed_from_u64(0x5e6_3e47);
    let records: Vec<FollowerRecord> = (0..FOLLOWERS)
        .map(|i| random_follower(&mut rng, merchant, 77, i))
        .collect();
    for r in &records {
        store_follower(&db, r).await;
    }
    (db, merchant, 77, records)
}

#[test]
fn sql_selects_exactly_what_the_definition_selects() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (db, merchant, account, records) = rt.block_on(dataset());
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 160,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    runner
        .run(&filter(), |filter| {
            let mut expected: Vec<String> = records
                .iter()
                .filter(|r| filter.matches(r, NOW))
                .map(|r| r.follower.openid.clone())
                .collect();
            expected.sort();
            let (count, openids) = rt.block_on(async {
                let count = query::count(&db, merchant, account, &filter, NOW)
                    .await
                    .expect("count");
                let openids =
                    query::openids_matching(&db, merchant, account, &filter, NOW, "", 10_000)
                        .await
                        .expect("openids");
                (count, openids)
            });
            prop_assert_eq!(&openids, &expected, "filter {:?}", filter);
            prop_assert_eq!(count, expected.len() as i64);
            Ok(())
        })
        .expect("SQL and definition agree");
}

/// How a test reads pages: with a plan, or walking the sort's index with a budget first.
#[derive(Clone, Copy, Debug)]
enum Way {
    Plan(query::Plan),
    Walk(i64),
}

#[tokio::test]
async fn pages_walk_every_match_once_in_order() {
    let (db, merchant, account, records) = dataset().await;
    let common = Filter {
        combine: Combine::All,
        conditions: vec![Condition::Subscribed { value: true }],
    };
    // About 2% of the followers: a walk of 40 rarely fills a page and falls back to counting.
    let rare = Filter {
        combine: Combine::All,
        conditions: vec![
            Condition::Blacklisted { value: true },
            Condition::Channel {
                op: ListOp::In,
                scenes: vec!["poster".into(), "table".into()],
            },
        ],
    };
    let ways = [
        Way::Plan(query::Plan::Auto),
        Way::Plan(query::Plan::SortIndex),
        Way::Walk(2_000),
        Way::Walk(40),
    ];
    let sorts = [Sort::LastInteraction, Sort::Newest, Sort::Oldest];
    for (filter, sort, way) in [&common, &rare]
        .into_iter()
        .flat_map(|f| sorts.map(|s| (f, s)))
        .flat_map(|(f, s)| ways.map(|w| (f, s, w)))
    {
        let mut expected: Vec<&FollowerRecord> =
            records.iter().filter(|r| filter.matches(r, NOW)).collect();
        expected.sort_by(|a, b| {
            let key = |r: &FollowerRecord| match sort {
                Sort::LastInteraction => r.follower.last_interaction_at,
                _ => r.follower.first_seen_at,
            };
            let ord = key(a)
                .cmp(&key(b))
                .then(a.follower.openid.cmp(&b.follower.openid));
            if sort == Sort::Oldest {
                ord
            } else {
                ord.reverse()
            }
        });
        let mut seen = Vec::new();
        let mut after: Option<After> = None;
        loop {
            let limit = 7;
            let page = match way {
                Way::Plan(plan) => {
                    query::page(
                        &db,
                        merchant,
                        account,
                        filter,
                        NOW,
                        sort,
                        after.as_ref(),
                        limit,
                        plan,
                    )
                    .await
                }
                Way::Walk(budget) => {
                    let slice = query::Slice {
                        sort,
                        after: after.as_ref(),
                        limit,
                    };
                    query::page_walking(&db, merchant, account, filter, NOW, slice, budget).await
                }
            }
            .expect("page");
            let Some(last) = page.last() else { break };
            after = Some(After::of(sort, &last.follower));
            seen.extend(page);
        }
        let got: Vec<&str> = seen.iter().map(|r| r.follower.openid.as_str()).collect();
        let want: Vec<&str> = expected
            .iter()
            .map(|r| r.follower.openid.as_str())
            .collect();
        assert!(!want.is_empty(), "{filter:?} matches someone");
        assert_eq!(got, want, "{sort:?} {way:?} {filter:?}");
        // Tags and profile come back as stored.
        for r in &seen {
            let original = records
                .iter()
                .find(|o| o.follower.openid == r.follower.openid)
                .expect("known");
            assert_eq!(r.tag_ids, original.tag_ids);
            assert_eq!(r.profile.remark, original.profile.remark);
            assert_eq!(r.profile.birthday, original.profile.birthday);
        }
    }
}
