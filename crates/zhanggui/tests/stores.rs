//! Store conformance: every public function of the auth, merchants, accounts and API-key
//! stores, called directly on a fresh database. The same assertions hold on SQLite and on
//! PostgreSQL (`ZG_TEST_DATABASE_URL`). The job queue's store has its own suite (tests/jobs.rs).

mod common;

use common::*;
use zhanggui::accounts::store::{self as accounts, AccountUpdate, NewAccount, SandboxAppRow};
use zhanggui::apikeys::store::{self as keys, NewKey};
use zhanggui::merchants::store as merchants;
use zhanggui::platform::auth::model::Role;
use zhanggui::platform::auth::store::{self as auth, NewSession, NewUser};
use zhanggui::platform::db::{Db, Dialect, is_unique_violation};
use zhanggui::platform::jobs::{self, NewJob};

/// A time beyond 32 bits of milliseconds and seconds alike (2100-01-01T00:00:00.123Z).
const T: i64 = 4_102_444_800_123;

async fn merchant(db: &Db, name: &str, now: i64) -> i64 {
    let mut tx = db.begin().await.expect("begin");
    let id = merchants::insert(&mut tx, name, "Asia/Shanghai", now)
        .await
        .expect("insert merchant");
    tx.commit().await.expect("commit");
    id
}

async fn user(db: &Db, username: &str, admin: bool) -> i64 {
    let mut tx = db.begin().await.expect("begin");
    let id = auth::insert_user(
        &mut tx,
        &NewUser {
            username,
            display_name: "显示名",
            password_hash: "not-a-real-hash",
            is_platform_admin: admin,
        },
        T,
    )
    .await
    .expect("insert user");
    tx.commit().await.expect("commit");
    id
}

async fn member(db: &Db, merchant_id: i64, user_id: i64, role: Role) {
    let mut tx = db.begin().await.expect("begin");
    auth::upsert_membership(&mut tx, merchant_id, user_id, role, T)
        .await
        .expect("membership");
    tx.commit().await.expect("commit");
}

fn new_account<'a>(merchant_id: i64, app_id: &'a str, callback_key: &'a str) -> NewAccount<'a> {
    NewAccount {
        merchant_id,
        name: "掌柜服务号",
        kind: "service",
        verified: true,
        app_id,
        app_secret: "0123456789abcdef0123456789abcdef",
        token: "token123",
        encoding_aes_key: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        security_mode: "safe",
        sandbox: false,
        callback_key,
    }
}

async fn insert_account(db: &Db, a: &NewAccount<'_>, now: i64) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin().await.expect("begin");
    let id = accounts::insert(&mut tx, a, now).await?;
    tx.commit().await.expect("commit");
    Ok(id)
}

#[tokio::test]
async fn the_backend_is_the_one_asked_for() {
    let db = fresh_db().await;
    let expected = if on_postgres() {
        Dialect::Postgres
    } else {
        Dialect::Sqlite
    };
    assert_eq!(db.dialect(), expected);
    db.ping().await.expect("ping");
    // Migrations are idempotent.
    db.migrate().await.expect("migrate again");
    let (open, _idle) = db.pool_usage();
    assert!(open >= 1);
}

#[tokio::test]
async fn merchants_store() {
    let db = fresh_db().await;
    assert_eq!(merchants::first_id(&db).await.expect("first"), None);
    let b = merchant(&db, "B 乙店", T).await;
    let a = merchant(&db, "A 甲店", T + 1).await;
    assert_eq!(merchants::first_id(&db).await.expect("first"), Some(b));

    // A taken name is a unique violation, on both backends.
    let mut tx = db.begin().await.expect("begin");
    let err = merchants::insert(&mut tx, "A 甲店", "UTC", T)
        .await
        .expect_err("duplicate name");
    assert!(is_unique_violation(&err), "{err}");
    drop(tx);

    let row = merchants::get(&db, a).await.expect("get").expect("exists");
    assert_eq!(
        (
            row.id,
            row.name.as_str(),
            row.timezone.as_str(),
            row.created_at
        ),
        (a, "A 甲店", "Asia/Shanghai", T + 1)
    );
    assert!(merchants::get(&db, a + 100).await.expect("get").is_none());
    assert_eq!(
        merchants::by_name(&db, "B 乙店")
            .await
            .expect("by name")
            .map(|m| m.id),
        Some(b)
    );
    assert!(
        merchants::by_name(&db, "C 丙店")
            .await
            .expect("by name")
            .is_none()
    );
    let names = merchants::names(&db).await.expect("names");
    let mut sorted = names.clone();
    sorted.sort_by(|x, y| x.1.cmp(&y.1).then(x.0.cmp(&y.0)));
    assert_eq!(names, sorted, "by name");
    assert_eq!(names.len(), 2);

    // The summary counts only each merchant's own rows.
    let u = user(&db, "staffer", false).await;
    member(&db, a, u, Role::Clerk).await;
    insert_account(
        &db,
        &new_account(a, "wx0000000000000001", "cbkey0000000001"),
        T,
    )
    .await
    .expect("account");
    let dead = jobs::enqueue_alone(&db, T, NewJob::new("x", serde_json::json!({})).merchant(a))
        .await
        .expect("job");
    exec(
        &db,
        &format!("UPDATE jobs SET status = 'dead' WHERE id = {dead}"),
    )
    .await;
    jobs::enqueue_alone(&db, T, NewJob::new("x", serde_json::json!({})).merchant(b))
        .await
        .expect("job");
    let list = merchants::list(&db, 0, 10).await.expect("list");
    let counts: Vec<(i64, i64, i64, i64)> = list
        .iter()
        .map(|m| (m.id, m.accounts, m.staff, m.dead_jobs))
        .collect();
    assert_eq!(counts, vec![(b, 0, 0, 0), (a, 1, 1, 1)]);
    assert_eq!(list[1].created_at, T + 1);
    // Pagination: after an id, at most a limit.
    let page: Vec<i64> = merchants::list(&db, b, 10)
        .await
        .expect("list")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(page, vec![a]);
    assert_eq!(merchants::list(&db, 0, 1).await.expect("list").len(), 1);
}

#[tokio::test]
async fn users_and_memberships_store() {
    let db = fresh_db().await;
    let m1 = merchant(&db, "B merchant", T).await;
    let m2 = merchant(&db, "A merchant", T).await;
    let admin = user(&db, "root", true).await;
    let u = user(&db, "worker", false).await;

    // Unique usernames; a failed insert inside a transaction leaves the transaction's earlier
    // writes to the rollback.
    let mut tx = db.begin().await.expect("begin");
    let ghost = auth::insert_user(
        &mut tx,
        &NewUser {
            username: "ghost",
            display_name: "",
            password_hash: "h",
            is_platform_admin: false,
        },
        T,
    )
    .await
    .expect("ghost");
    let err = auth::insert_user(
        &mut tx,
        &NewUser {
            username: "worker",
            display_name: "",
            password_hash: "h",
            is_platform_admin: false,
        },
        T,
    )
    .await
    .expect_err("taken");
    assert!(is_unique_violation(&err), "{err}");
    tx.rollback().await.expect("rollback");
    assert!(auth::user_by_id(&db, ghost).await.expect("read").is_none());
    assert!(
        auth::user_by_username(&db, "ghost")
            .await
            .expect("read")
            .is_none()
    );

    // Booleans, defaults and times round-trip.
    let r = auth::user_by_username(&db, "root")
        .await
        .expect("read")
        .expect("root");
    assert_eq!(r.id, admin);
    assert!(r.is_platform_admin && !r.disabled);
    assert_eq!(
        (r.lang.as_str(), r.failed_logins, r.locked_until),
        ("zh-CN", 0, None)
    );
    assert_eq!(r.created_at, T);
    assert_eq!(r.display_name, "显示名");
    let w = auth::user_by_id(&db, u)
        .await
        .expect("read")
        .expect("worker");
    assert!(!w.is_platform_admin);
    assert!(
        auth::user_by_id(&db, u + 100)
            .await
            .expect("read")
            .is_none()
    );

    auth::record_failed_login(&db, u, 3, Some(T + 900_000))
        .await
        .expect("fail");
    let w = auth::user_by_id(&db, u)
        .await
        .expect("read")
        .expect("worker");
    assert_eq!((w.failed_logins, w.locked_until), (3, Some(T + 900_000)));
    auth::clear_failed_logins(&db, u).await.expect("clear");
    let w = auth::user_by_id(&db, u)
        .await
        .expect("read")
        .expect("worker");
    assert_eq!((w.failed_logins, w.locked_until), (0, None));
    auth::record_failed_login(&db, u, 0, Some(T))
        .await
        .expect("lock");
    assert!(
        auth::set_password_hash(&db, u, "new-hash")
            .await
            .expect("set")
    );
    let w = auth::user_by_id(&db, u)
        .await
        .expect("read")
        .expect("worker");
    assert_eq!(w.password_hash, "new-hash");
    assert_eq!(w.locked_until, None, "a new password lifts the lock");
    assert!(
        !auth::set_password_hash(&db, u + 100, "x")
            .await
            .expect("set")
    );
    auth::set_user_lang(&db, u, "en").await.expect("lang");
    assert_eq!(
        auth::user_by_id(&db, u)
            .await
            .expect("read")
            .expect("w")
            .lang,
        "en"
    );

    // Memberships: upsert changes the role of an existing one.
    member(&db, m1, u, Role::Clerk).await;
    member(&db, m2, u, Role::Operator).await;
    member(&db, m1, u, Role::Agent).await;
    assert_eq!(
        auth::role_in(&db, u, m1).await.expect("role"),
        Some(Role::Agent)
    );
    assert_eq!(
        auth::role_in(&db, u, m2).await.expect("role"),
        Some(Role::Operator)
    );
    assert_eq!(auth::role_in(&db, admin, m1).await.expect("role"), None);
    let ms = auth::memberships_of(&db, u).await.expect("memberships");
    let got: Vec<(i64, &str, Option<Role>)> = ms
        .iter()
        .map(|m| (m.merchant_id, m.merchant_name.as_str(), m.role()))
        .collect();
    assert_eq!(
        got,
        vec![
            (m2, "A merchant", Some(Role::Operator)),
            (m1, "B merchant", Some(Role::Agent)),
        ],
        "by merchant name, one row per merchant"
    );
    assert!(
        auth::memberships_of(&db, admin)
            .await
            .expect("none")
            .is_empty()
    );

    // Staff lists and disabling are scoped to the merchant.
    let other = user(&db, "other", false).await;
    member(&db, m2, other, Role::Clerk).await;
    let staff: Vec<i64> = auth::staff_of(&db, m1)
        .await
        .expect("staff")
        .iter()
        .map(|s| s.user_id)
        .collect();
    assert_eq!(staff, vec![u]);
    let staff2 = auth::staff_of(&db, m2).await.expect("staff");
    assert_eq!(staff2.len(), 2);
    assert!(staff2.iter().all(|s| !s.disabled && s.created_at == T));
    assert!(
        !auth::set_user_disabled(&db, m1, other, true)
            .await
            .expect("scoped")
    );
    assert!(
        !auth::user_by_id(&db, other)
            .await
            .expect("r")
            .expect("u")
            .disabled
    );
    assert!(
        auth::set_user_disabled(&db, m2, other, true)
            .await
            .expect("disable")
    );
    assert!(
        auth::user_by_id(&db, other)
            .await
            .expect("r")
            .expect("u")
            .disabled
    );
    let s = auth::staff_of(&db, m2).await.expect("staff");
    assert!(s.iter().any(|s| s.user_id == other && s.disabled));
    assert!(
        auth::set_user_disabled(&db, m2, other, false)
            .await
            .expect("enable")
    );
    assert!(
        !auth::user_by_id(&db, other)
            .await
            .expect("r")
            .expect("u")
            .disabled
    );
}

#[tokio::test]
async fn sessions_store() {
    let db = fresh_db().await;
    let m = merchant(&db, "M", T).await;
    let u = user(&db, "u", true).await;
    let v = user(&db, "v", false).await;
    for (hash, who, expires) in [
        ("h1", u, T + 1000),
        ("h2", u, T + 5000),
        ("h3", v, T + 5000),
    ] {
        auth::insert_session(
            &db,
            &NewSession {
                token_hash: hash,
                user_id: who,
                csrf_token: &format!("csrf-{hash}"),
                merchant_id: None,
            },
            T,
            expires,
        )
        .await
        .expect("insert session");
    }
    // The token hash is the key.
    let dup = auth::insert_session(
        &db,
        &NewSession {
            token_hash: "h1",
            user_id: v,
            csrf_token: "x",
            merchant_id: None,
        },
        T,
        T + 1,
    )
    .await
    .expect_err("taken");
    assert!(is_unique_violation(&dup), "{dup}");

    let s = auth::session_by_hash(&db, "h1", T + 10)
        .await
        .expect("read")
        .expect("live");
    assert_eq!(
        (
            s.user_id,
            s.csrf_token.as_str(),
            s.merchant_id,
            s.account_id
        ),
        (u, "csrf-h1", None, None)
    );
    assert_eq!((s.last_seen_at, s.expires_at), (T, T + 1000));
    assert!(s.is_platform_admin && !s.disabled);
    assert_eq!(s.username, "u");
    // Expired sessions are not found.
    assert!(
        auth::session_by_hash(&db, "h1", T + 1000)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        auth::session_by_hash(&db, "nope", T)
            .await
            .expect("read")
            .is_none()
    );

    auth::touch_session(&db, "h1", T + 500, T + 9000)
        .await
        .expect("touch");
    let s = auth::session_by_hash(&db, "h1", T + 2000)
        .await
        .expect("read")
        .expect("extended");
    assert_eq!((s.last_seen_at, s.expires_at), (T + 500, T + 9000));

    auth::set_session_context(&db, "h1", Some(m), Some(42))
        .await
        .expect("context");
    let s = auth::session_by_hash(&db, "h1", T)
        .await
        .expect("read")
        .expect("s");
    assert_eq!((s.merchant_id, s.account_id), (Some(m), Some(42)));
    auth::set_session_context(&db, "h1", None, None)
        .await
        .expect("context");
    let s = auth::session_by_hash(&db, "h1", T)
        .await
        .expect("read")
        .expect("s");
    assert_eq!((s.merchant_id, s.account_id), (None, None));

    // Disabling shows through the join.
    member(&db, m, v, Role::Clerk).await;
    auth::set_user_disabled(&db, m, v, true)
        .await
        .expect("disable");
    assert!(
        auth::session_by_hash(&db, "h3", T)
            .await
            .expect("read")
            .expect("s")
            .disabled
    );

    // Everywhere but here, then everywhere.
    auth::delete_sessions_of(&db, u, Some("h1"))
        .await
        .expect("others");
    assert!(
        auth::session_by_hash(&db, "h2", T)
            .await
            .expect("r")
            .is_none()
    );
    assert!(
        auth::session_by_hash(&db, "h1", T)
            .await
            .expect("r")
            .is_some()
    );
    assert!(
        auth::session_by_hash(&db, "h3", T)
            .await
            .expect("r")
            .is_some()
    );
    auth::delete_sessions_of(&db, u, None).await.expect("all");
    assert!(
        auth::session_by_hash(&db, "h1", T)
            .await
            .expect("r")
            .is_none()
    );
    auth::delete_session(&db, "h3").await.expect("delete");
    assert!(
        auth::session_by_hash(&db, "h3", T)
            .await
            .expect("r")
            .is_none()
    );
    auth::delete_session(&db, "h3")
        .await
        .expect("deleting twice is fine");

    // Purge removes exactly the expired ones.
    for (hash, expires) in [("p1", T), ("p2", T + 1), ("p3", T + 2)] {
        auth::insert_session(
            &db,
            &NewSession {
                token_hash: hash,
                user_id: u,
                csrf_token: "c",
                merchant_id: Some(m),
            },
            T,
            expires,
        )
        .await
        .expect("insert");
    }
    assert_eq!(
        auth::purge_expired_sessions(&db, T + 1)
            .await
            .expect("purge"),
        2
    );
    let s = auth::session_by_hash(&db, "p3", T + 1)
        .await
        .expect("r")
        .expect("kept");
    assert_eq!(s.merchant_id, Some(m));
}

#[tokio::test]
async fn accounts_store() {
    let db = fresh_db().await;
    let a = merchant(&db, "A", T).await;
    let b = merchant(&db, "B", T).await;
    let a1 = insert_account(&db, &new_account(a, "wx00000000000000a1", "cb-a1"), T)
        .await
        .expect("a1");
    let mut a2_new = new_account(a, "wx00000000000000a2", "cb-a2");
    a2_new.verified = false;
    a2_new.sandbox = true;
    a2_new.kind = "subscription";
    let a2 = insert_account(&db, &a2_new, T + 5).await.expect("a2");
    let b1 = insert_account(&db, &new_account(b, "wx00000000000000b1", "cb-b1"), T)
        .await
        .expect("b1");

    // Unique AppID and callback key across merchants.
    let err = insert_account(&db, &new_account(b, "wx00000000000000a1", "cb-x"), T)
        .await
        .expect_err("app id taken");
    assert!(is_unique_violation(&err), "{err}");
    let err = insert_account(&db, &new_account(b, "wx00000000000000x1", "cb-a1"), T)
        .await
        .expect_err("callback key taken");
    assert!(is_unique_violation(&err), "{err}");

    // Round trips, booleans included.
    let r = accounts::get(&db, a, a2).await.expect("get").expect("a2");
    assert!(!r.verified && r.sandbox);
    assert_eq!(
        (r.kind.as_str(), r.created_at, r.updated_at, r.merchant_id),
        ("subscription", T + 5, T + 5, a)
    );
    let r = accounts::get(&db, a, a1).await.expect("get").expect("a1");
    assert!(r.verified && !r.sandbox);
    assert_eq!(r.encoding_aes_key.len(), 43);
    // Scoped reads.
    assert!(accounts::get(&db, b, a1).await.expect("get").is_none());
    let mut tx = db.begin().await.expect("begin");
    assert!(
        accounts::get_for_update(&mut tx, b, a1)
            .await
            .expect("get")
            .is_none()
    );
    assert_eq!(
        accounts::get_for_update(&mut tx, a, a1)
            .await
            .expect("get")
            .map(|r| r.id),
        Some(a1)
    );
    tx.commit().await.expect("commit");
    let ids = |rows: Vec<accounts::AccountRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(accounts::list(&db, a, 0, 10).await.expect("list")),
        vec![a1, a2]
    );
    assert_eq!(
        ids(accounts::list(&db, a, a1, 10).await.expect("list")),
        vec![a2]
    );
    assert_eq!(
        ids(accounts::list(&db, a, 0, 1).await.expect("list")),
        vec![a1]
    );
    assert_eq!(
        ids(accounts::list(&db, b, 0, 10).await.expect("list")),
        vec![b1]
    );
    assert_eq!(
        ids(accounts::list_all(&db).await.expect("all")),
        vec![a1, a2, b1]
    );
    assert_eq!(
        accounts::get_any(&db, b1)
            .await
            .expect("any")
            .map(|r| r.merchant_id),
        Some(b)
    );
    assert!(
        accounts::get_any(&db, b1 + 100)
            .await
            .expect("any")
            .is_none()
    );
    assert_eq!(
        accounts::by_app_id(&db, "wx00000000000000a2")
            .await
            .expect("by app id")
            .map(|r| r.id),
        Some(a2)
    );
    assert!(
        accounts::by_app_id(&db, "wx0")
            .await
            .expect("by app id")
            .is_none()
    );
    assert_eq!(
        accounts::names(&db, a).await.expect("names"),
        vec![
            (a1, "掌柜服务号".to_string()),
            (a2, "掌柜服务号".to_string())
        ]
    );

    // Updates are scoped, and a taken AppID is a unique violation.
    let up = AccountUpdate {
        name: "改名",
        kind: "subscription",
        verified: false,
        app_id: "wx00000000000000c1",
        app_secret: "ffffffffffffffffffffffffffffffff",
        token: "tok",
        encoding_aes_key: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
        security_mode: "plaintext",
    };
    let mut tx = db.begin().await.expect("begin");
    assert!(
        !accounts::update(&mut tx, b, a1, &up, T + 9)
            .await
            .expect("scoped")
    );
    assert!(
        accounts::update(&mut tx, a, a1, &up, T + 9)
            .await
            .expect("update")
    );
    tx.commit().await.expect("commit");
    let r = accounts::get(&db, a, a1).await.expect("get").expect("a1");
    assert_eq!(
        (
            r.name.as_str(),
            r.app_id.as_str(),
            r.verified,
            r.updated_at,
            r.created_at
        ),
        ("改名", "wx00000000000000c1", false, T + 9, T)
    );
    assert_eq!(r.callback_key, "cb-a1", "the callback URL never changes");
    let mut tx = db.begin().await.expect("begin");
    let taken = AccountUpdate {
        app_id: "wx00000000000000b1",
        ..up
    };
    let err = accounts::update(&mut tx, a, a1, &taken, T)
        .await
        .expect_err("taken");
    assert!(is_unique_violation(&err), "{err}");
    drop(tx);
    assert_eq!(
        accounts::get(&db, a, a1)
            .await
            .expect("get")
            .expect("a1")
            .app_id,
        "wx00000000000000c1"
    );

    // The sandbox's record: insert, then ON CONFLICT update.
    let mut app = SandboxAppRow {
        app_id: "wx00000000000000a2".into(),
        app_secret: "11111111111111111111111111111111".into(),
        token: "t1".into(),
        encoding_aes_key: "k1".into(),
        security_mode: "safe".into(),
        callback_url: "http://example.test/wx/cb-a2".into(),
        kind: "service".into(),
        verified: true,
    };
    let mut tx = db.begin().await.expect("begin");
    accounts::upsert_sandbox_app(&mut tx, &app, T)
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    app.app_secret = "22222222222222222222222222222222".into();
    app.verified = false;
    app.security_mode = "plaintext".into();
    let mut tx = db.begin().await.expect("begin");
    accounts::upsert_sandbox_app(&mut tx, &app, T + 1)
        .await
        .expect("upsert");
    tx.commit().await.expect("commit");
    let got = accounts::sandbox_app(&db, "wx00000000000000a2")
        .await
        .expect("read")
        .expect("registered");
    assert_eq!(format!("{got:?}"), format!("{app:?}"));
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM sandbox_apps").await, 1);
    assert!(
        accounts::sandbox_app(&db, "wx1")
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn api_keys_store() {
    let db = fresh_db().await;
    let a = merchant(&db, "A", T).await;
    let b = merchant(&db, "B", T).await;
    let creator = user(&db, "creator", false).await;
    let mut ids = vec![];
    for (n, hash) in ["ha1", "ha2", "ha3"].iter().enumerate() {
        ids.push(
            keys::insert(
                &db,
                &NewKey {
                    merchant_id: a,
                    name: &format!("key {n}"),
                    prefix: "zg_abcdef",
                    key_hash: hash,
                    role: "operator",
                    created_by: (n == 0).then_some(creator),
                },
                T + n as i64,
            )
            .await
            .expect("insert key"),
        );
    }
    let kb = keys::insert(
        &db,
        &NewKey {
            merchant_id: b,
            name: "b",
            prefix: "zg_bbbbbb",
            key_hash: "hb1",
            role: "owner",
            created_by: None,
        },
        T,
    )
    .await
    .expect("insert key");
    let err = keys::insert(
        &db,
        &NewKey {
            merchant_id: b,
            name: "dup",
            prefix: "zg_bbbbbb",
            key_hash: "ha1",
            role: "owner",
            created_by: None,
        },
        T,
    )
    .await
    .expect_err("hash taken");
    assert!(is_unique_violation(&err), "{err}");

    let k = keys::by_hash(&db, "ha2")
        .await
        .expect("read")
        .expect("live");
    assert_eq!(
        (
            k.id,
            k.merchant_id,
            k.role.as_str(),
            k.created_at,
            k.last_used_at,
            k.revoked_at
        ),
        (ids[1], a, "operator", T + 1, None, None)
    );
    assert!(keys::by_hash(&db, "nope").await.expect("read").is_none());
    keys::touch(&db, ids[1], T + 77).await.expect("touch");
    assert_eq!(
        keys::get(&db, a, ids[1])
            .await
            .expect("get")
            .expect("k")
            .last_used_at,
        Some(T + 77)
    );
    assert!(
        keys::get(&db, b, ids[1]).await.expect("get").is_none(),
        "scoped"
    );
    let list: Vec<i64> = keys::list(&db, a, 0, 10)
        .await
        .expect("list")
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(list, ids);
    let page: Vec<i64> = keys::list(&db, a, ids[0], 1)
        .await
        .expect("list")
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(page, vec![ids[1]]);
    assert_eq!(keys::list(&db, b, 0, 10).await.expect("list").len(), 1);

    // Revoking is scoped and happens once; a revoked key no longer authenticates.
    assert!(!keys::revoke(&db, b, ids[0], T).await.expect("scoped"));
    assert!(keys::by_hash(&db, "ha1").await.expect("read").is_some());
    assert!(keys::revoke(&db, a, ids[0], T + 3).await.expect("revoke"));
    assert!(!keys::revoke(&db, a, ids[0], T + 4).await.expect("twice"));
    assert!(keys::by_hash(&db, "ha1").await.expect("read").is_none());
    assert_eq!(
        keys::get(&db, a, ids[0])
            .await
            .expect("get")
            .expect("k")
            .revoked_at,
        Some(T + 3)
    );
    assert!(keys::by_hash(&db, "hb1").await.expect("read").is_some());
    assert!(keys::get(&db, b, kb).await.expect("get").is_some());
}

#[tokio::test]
async fn transactions_that_are_not_committed_leave_nothing() {
    let db = fresh_db().await;
    // Dropped without commit.
    {
        let mut tx = db.begin().await.expect("begin");
        merchants::insert(&mut tx, "dropped", "UTC", T)
            .await
            .expect("insert");
        assert_eq!(tx.dialect(), db.dialect());
    }
    // Rolled back after several writes.
    let mut tx = db.begin().await.expect("begin");
    let m = merchants::insert(&mut tx, "rolled back", "UTC", T)
        .await
        .expect("insert");
    let u = auth::insert_user(
        &mut tx,
        &NewUser {
            username: "temp",
            display_name: "",
            password_hash: "h",
            is_platform_admin: false,
        },
        T,
    )
    .await
    .expect("user");
    auth::upsert_membership(&mut tx, m, u, Role::Owner, T)
        .await
        .expect("membership");
    accounts::insert(&mut tx, &new_account(m, "wx00000000000000d1", "cb-d1"), T)
        .await
        .expect("account");
    jobs::store::enqueue(
        &mut tx,
        T,
        NewJob::new("x", serde_json::json!({})).merchant(m),
    )
    .await
    .expect("job");
    tx.rollback().await.expect("rollback");

    for table in ["merchants", "users", "memberships", "accounts", "jobs"] {
        assert_eq!(
            scalar(&db, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table} kept a row of an uncommitted transaction"
        );
    }
    // And the database takes writes again at once (the dropped transaction let go).
    let id = tokio::time::timeout(std::time::Duration::from_secs(5), merchant(&db, "after", T))
        .await
        .expect("a write after a dropped transaction does not wait");
    assert!(merchants::get(&db, id).await.expect("get").is_some());
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM merchants").await, 1);
}

/// Tables without a `merchant_id` column, each with the reason it needs none. Every other
/// table holds a merchant's rows and must carry the column its queries filter on
/// (docs/ARCHITECTURE.md, "Tenancy").
const NO_MERCHANT_ID: &[(&str, &str)] = &[
    ("merchants", "the tenants themselves"),
    (
        "users",
        "people: one may work for several merchants (memberships), a platform admin for none",
    ),
    (
        "sandbox_apps",
        "the emulated WeChat's apps, keyed by AppID (accounts keeps them in step)",
    ),
    (
        "sandbox_docs",
        "the emulated WeChat's documents, keyed by AppID",
    ),
    (
        "wechat_tokens",
        "WeChat's access tokens, keyed by AppID and shared by every instance",
    ),
    (
        "log_projections",
        "one cursor per projector over the whole message log",
    ),
    (
        "follower_sync_queue",
        "a sync run's openids, keyed by the run (follower_syncs has merchant_id); only that run's job reads them",
    ),
    (
        "follower_log",
        "wx_messages indexed by follower; read only joined to wx_messages filtered on merchant_id",
    ),
    (
        "library_article_shares",
        "who shared an article, keyed by the article (library_articles has merchant_id)",
    ),
    (
        "_sqlx_migrations",
        "sqlx's record of the migrations applied",
    ),
    (
        "sqlite_sequence",
        "SQLite's AUTOINCREMENT counters (SQLite only)",
    ),
];

async fn columns_of(db: &Db, table: &str) -> Vec<String> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "SELECT name FROM pragma_table_info($1) ORDER BY cid",
        Dialect::Postgres => {
            "SELECT column_name::TEXT FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    zhanggui::on_pool!(db, |p| sqlx::query_scalar::<_, String>(sql)
        .bind(table)
        .fetch_all(p)
        .await)
    .expect("columns")
}

#[tokio::test]
async fn every_table_of_merchant_data_carries_merchant_id() {
    let db = fresh_db().await;
    let tables = table_names(&db).await;
    assert!(tables.len() > 30, "{tables:?}");
    let mut missing = vec![];
    for table in &tables {
        let has = columns_of(&db, table)
            .await
            .iter()
            .any(|c| c == "merchant_id");
        match NO_MERCHANT_ID.iter().find(|(t, _)| t == table) {
            None if !has => missing.push(table.clone()),
            Some((_, why)) => assert!(
                !has,
                "{table} has merchant_id now: take it off the list ({why})"
            ),
            None => {}
        }
    }
    assert!(
        missing.is_empty(),
        "tables without merchant_id: {missing:?}; add the column, or add the table to \
         NO_MERCHANT_ID with the reason it needs none"
    );
    // The list names only tables that exist (SQLite's own table only there).
    for (table, _) in NO_MERCHANT_ID {
        if *table == "sqlite_sequence" && db.dialect() == Dialect::Postgres {
            continue;
        }
        assert!(tables.iter().any(|t| t == table), "no table {table}");
    }
}

/// SQLite's settings on every pool connection (WAL, synchronous=NORMAL, foreign keys, a busy
/// timeout), and `Db::begin` takes the write lock at once (BEGIN IMMEDIATE): a second writer
/// waits for the first to commit instead of failing half-way with SQLITE_BUSY.
#[tokio::test]
async fn sqlite_connections_use_wal_and_writes_begin_immediate() {
    let db = fresh_db().await;
    let Db::Sqlite(pool) = &db else {
        return; // PostgreSQL has none of this
    };
    // Three connections held at once: three different ones, each set up the same way.
    let mut held = vec![];
    for _ in 0..3 {
        let mut c = pool.acquire().await.expect("a connection");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *c)
            .await
            .expect("journal_mode");
        assert_eq!(mode, "wal");
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *c)
            .await
            .expect("synchronous");
        assert_eq!(synchronous, 1, "NORMAL");
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *c)
            .await
            .expect("foreign_keys");
        assert_eq!(foreign_keys, 1);
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *c)
            .await
            .expect("busy_timeout");
        assert!(busy > 0, "busy_timeout {busy}");
        held.push(c);
    }
    drop(held);

    let first = db.begin().await.expect("the first writer");
    let other = db.clone();
    let second = tokio::spawn(async move { other.begin().await.expect("the second writer") });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "a second write transaction began while the first held the lock (not IMMEDIATE)"
    );
    first.commit().await.expect("commit the first");
    let second = tokio::time::timeout(std::time::Duration::from_secs(5), second)
        .await
        .expect("the second begins once the first committed")
        .expect("the task");
    second.commit().await.expect("commit the second");
}

/// The sandbox's registry on `sandbox_docs` keeps every promise of the `Registry` trait: the
/// same conformance the in-memory registry passes (crates/sandbox/tests/registry.rs).
#[tokio::test]
async fn the_sandbox_docs_registry_conforms() {
    let db = fresh_db().await;
    let row = SandboxAppRow {
        app_id: "wxc0f0a0b0c0d0e0f1".into(),
        app_secret: "0123456789abcdef0123456789abcdef".into(),
        token: "conformance".into(),
        encoding_aes_key: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ".into(),
        security_mode: "compatible".into(),
        callback_url: "http://example.test/wx/conformance".into(),
        kind: "subscription".into(),
        verified: false,
    };
    let mut tx = db.begin().await.expect("begin");
    accounts::upsert_sandbox_app(&mut tx, &row, T)
        .await
        .expect("register the app");
    tx.commit().await.expect("commit");
    let app = sandbox::SandboxApp {
        app_id: row.app_id,
        app_secret: row.app_secret,
        token: row.token,
        encoding_aes_key: row.encoding_aes_key,
        security_mode: row.security_mode,
        callback_url: row.callback_url,
        kind: row.kind,
        verified: row.verified,
    };
    let sandbox = zhanggui::sandbox_mode::of(db.clone(), Default::default());
    sandbox::registry::conformance::run(sandbox.docs.registry().clone(), &app).await;
    db.close().await;
}
