//! Followers derived from the message log: a follower's history through the real callback
//! becomes their row within about a second, and rebuilding from the log gives the same rows.

mod common;

use std::time::Duration;

use common::TestApp;
use zhanggui::accounts::AccountRow;
use zhanggui::followers::Follower;
use zhanggui::messages::store::Logged;
use zhanggui::messages::{LogRow, LogWriter};

fn signed_query(a: &AccountRow) -> String {
    let sig = wechat::signature::signature(&a.token, "1700000000", "n");
    format!("signature={}&timestamp=1700000000&nonce=n", sig.as_str())
}

fn event(openid: &str, at: i64, event: &str, extra: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_t]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>\
         <CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{extra}</xml>"
    )
}

fn text(openid: &str, at: i64, id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_t]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>\
         <CreateTime>{at}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>{id}</MsgId></xml>"
    )
}

async fn deliver(app: &TestApp, a: &AccountRow, body: String) {
    let res = app
        .client()
        .post(app.url(&format!("/wx/{}?{}", a.callback_key, signed_query(a))))
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(res.status().as_u16(), 200);
}

async fn plaintext_account(app: &TestApp) -> AccountRow {
    let m = app.merchant("粉丝商户").await;
    let a = app.account(m, "粉丝号").await;
    app.exec(&format!(
        "UPDATE accounts SET security_mode = 'plaintext' WHERE id = {}",
        a.id
    ))
    .await;
    // The callback caches accounts for two seconds; this one is new to it, so it reads fresh.
    zhanggui::accounts::get(&app.db, m, a.id)
        .await
        .expect("read")
        .expect("account")
}

async fn follower(app: &TestApp, a: &AccountRow, openid: &str) -> Option<Follower> {
    zhanggui::followers::store::get(&app.db, a.merchant_id, a.id, openid)
        .await
        .expect("read follower")
}

#[tokio::test]
async fn a_history_becomes_the_follower_within_a_second_or_two() {
    let app = TestApp::spawn().await;
    let a = plaintext_account(&app).await;
    deliver(
        &app,
        &a,
        event(
            "oA",
            1_700_000_000,
            "subscribe",
            "<EventKey><![CDATA[qrscene_poster7]]></EventKey><Ticket><![CDATA[t]]></Ticket>",
        ),
    )
    .await;
    deliver(&app, &a, text("oA", 1_700_000_010, 1)).await;
    deliver(
        &app,
        &a,
        event(
            "oA",
            1_700_000_020,
            "LOCATION",
            "<Latitude>31.23</Latitude><Longitude>121.47</Longitude><Precision>30</Precision>",
        ),
    )
    .await;
    deliver(&app, &a, event("oB", 1_700_000_030, "subscribe", "")).await;
    deliver(&app, &a, event("oB", 1_700_000_040, "unsubscribe", "")).await;
    let started = std::time::Instant::now();
    common::wait_until("followers projected", 10, || async {
        follower(&app, &a, "oA")
            .await
            .is_some_and(|f| f.last_location_at.is_some())
            && follower(&app, &a, "oB")
                .await
                .is_some_and(|f| !f.subscribed)
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let fa = follower(&app, &a, "oA").await.expect("oA");
    assert!(fa.subscribed);
    assert_eq!(fa.channel.as_deref(), Some("poster7"));
    assert_eq!(fa.first_seen_at, 1_700_000_000_000);
    assert_eq!(fa.last_interaction_at, 1_700_000_020_000);
    assert_eq!(fa.last_latitude, Some(31.23));
    let fb = follower(&app, &a, "oB").await.expect("oB");
    assert_eq!(fb.unsubscribed_at, Some(1_700_000_040_000));

    // Rebuild from the log: clear the derived rows and the cursor; the same rows come back.
    app.exec("DELETE FROM followers").await;
    app.exec("UPDATE log_projections SET last_id = 0 WHERE name = 'followers'")
        .await;
    common::wait_until("followers rebuilt", 10, || async {
        follower(&app, &a, "oB").await.is_some()
    })
    .await;
    assert_eq!(follower(&app, &a, "oA").await, Some(fa));
    assert_eq!(follower(&app, &a, "oB").await, Some(fb));
    app.stop().await;
}

fn logged(openid: &str, at_secs: i64, kind: &str, body: String, key: &str) -> LogRow {
    LogRow {
        merchant_id: 1,
        account_id: 7,
        dedup_key: key.to_string(),
        openid: openid.to_string(),
        kind: kind.to_string(),
        sent_at: at_secs * 1000,
        received_at: 0,
        body,
        reply: "success".to_string(),
        route: String::new(),
        unmatched_text: None,
    }
}

/// A history delivered out of order, with ties (same second) where the rules say who wins.
fn unordered_history() -> Vec<LogRow> {
    let loc = |lat: f64| {
        format!("<Latitude>{lat}</Latitude><Longitude>121.47</Longitude><Precision>30</Precision>")
    };
    let qr = |scene: &str| {
        format!("<EventKey><![CDATA[qrscene_{scene}]]></EventKey><Ticket><![CDATA[t]]></Ticket>")
    };
    vec![
        logged("oA", 50, "text", text("oA", 50, 1), "1"),
        logged(
            "oA",
            10,
            "event:subscribe",
            event("oA", 10, "subscribe", &qr("late")),
            "2",
        ),
        logged(
            "oA",
            10,
            "event:subscribe",
            event("oA", 10, "subscribe", &qr("tie")),
            "3",
        ),
        logged(
            "oA",
            5,
            "event:subscribe",
            event("oA", 5, "subscribe", &qr("first")),
            "4",
        ),
        logged(
            "oA",
            30,
            "event:location",
            event("oA", 30, "LOCATION", &loc(31.0)),
            "5",
        ),
        logged(
            "oA",
            30,
            "event:location",
            event("oA", 30, "LOCATION", &loc(32.0)),
            "6",
        ),
        logged(
            "oA",
            20,
            "event:location",
            event("oA", 20, "LOCATION", &loc(30.0)),
            "7",
        ),
        logged(
            "oA",
            40,
            "event:unsubscribe",
            event("oA", 40, "unsubscribe", ""),
            "8",
        ),
        logged(
            "oA",
            40,
            "event:subscribe",
            event("oA", 40, "subscribe", ""),
            "9",
        ),
        logged(
            "oA",
            35,
            "event:unsubscribe",
            event("oA", 35, "unsubscribe", ""),
            "10",
        ),
        logged(
            "oB",
            70,
            "event:unsubscribe",
            event("oB", 70, "unsubscribe", ""),
            "11",
        ),
        logged(
            "oB",
            60,
            "event:subscribe",
            event("oB", 60, "subscribe", ""),
            "12",
        ),
        logged("oB", 65, "text", text("oB", 65, 2), "13"),
        // Messages alone after everything else, one the newest and one the earliest of its
        // sender's: joined one by one, they must change only the times and log ids.
        logged("oA", 60, "text", text("oA", 60, 3), "14"),
        logged("oB", 55, "text", text("oB", 55, 4), "15"),
        // A sender who only ever wrote.
        logged("oC", 80, "text", text("oC", 80, 5), "16"),
        logged("oC", 75, "text", text("oC", 75, 6), "17"),
    ]
}

/// The model's answer: every message folded into its sender, in log order (`ids`: the ids
/// the log gave `rows`).
fn folded(rows: &[LogRow], ids: &[i64], openid: &str) -> Follower {
    let mine: Vec<(&LogRow, i64)> = rows
        .iter()
        .zip(ids.iter().copied())
        .filter(|(r, _)| r.openid == openid)
        .collect();
    let mut f = Follower::new(1, 7, openid, mine[0].0.sent_at);
    for (r, id) in mine {
        f.merge(r.sent_at, &zhanggui::followers::jobs::observe_body(&r.body));
        f.saw_log_rows(id, id);
    }
    f
}

async fn project_all(
    db: &zhanggui::platform::db::Db,
    tap: Option<&zhanggui::messages::LogTap>,
    batch: i64,
) {
    for _ in 0..100 {
        let pass = zhanggui::followers::jobs::project_once(db, tap, batch)
            .await
            .expect("project");
        if pass.upto.is_none() {
            return;
        }
    }
    panic!("the projection did not catch up");
}

/// Every stored follower's openid: the join's statements (padded up to a few fixed sizes on
/// SQLite) must store no one else.
async fn stored_openids(db: &zhanggui::platform::db::Db) -> Vec<String> {
    zhanggui::on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT openid FROM followers ORDER BY openid"
    )
    .fetch_all(p)
    .await)
    .expect("followers")
}

async fn stored_all(db: &zhanggui::platform::db::Db) -> [Follower; 3] {
    [
        stored(db, "oA").await,
        stored(db, "oB").await,
        stored(db, "oC").await,
    ]
}

async fn stored(db: &zhanggui::platform::db::Db, openid: &str) -> Follower {
    zhanggui::followers::store::get(db, 1, 7, openid)
        .await
        .expect("read")
        .expect("projected")
}

/// The projector joins partial followers into stored ones in SQL: message by message (a
/// batch of one) or all at once, and again over rows already projected, it must give what
/// the model gives folding every message in order.
#[tokio::test]
async fn joining_in_sql_agrees_with_the_model_whatever_the_batches() {
    let db = common::fresh_db().await;
    let rows = unordered_history();
    let writer = LogWriter::start(db.clone());
    let mut ids = vec![];
    for r in &rows {
        match writer.append(r.clone()).await.expect("logged") {
            Logged::New(id) => ids.push(id),
            other => panic!("each row is new: {other:?}"),
        }
    }
    let expected = ["oA", "oB", "oC"].map(|openid| folded(&rows, &ids, openid));
    // The history exercises every rule: a follow wins a tie with an unfollow, the earliest
    // scene is the channel, the location applied last wins a tie.
    assert!(expected[0].subscribed && !expected[1].subscribed && !expected[2].subscribed);
    assert_eq!(expected[0].channel.as_deref(), Some("first"));
    assert_eq!(expected[0].last_latitude, Some(32.0));

    // From the committer's memory where it has a tap (a SQLite file), message by message.
    project_all(&db, writer.tap(), 1).await;
    assert_eq!(stored_all(&db).await, expected);
    assert_eq!(stored_openids(&db).await, ["oA", "oB", "oC"]);

    // Everything again, over the rows already there: nothing changes.
    common::exec(
        &db,
        "UPDATE log_projections SET last_id = 0 WHERE name = 'followers'",
    )
    .await;
    project_all(&db, None, 1000).await;
    assert_eq!(stored_all(&db).await, expected);
    assert_eq!(stored_openids(&db).await, ["oA", "oB", "oC"]);

    // Rebuilt from nothing in one batch.
    common::exec(&db, "DELETE FROM followers").await;
    common::exec(
        &db,
        "UPDATE log_projections SET last_id = 0 WHERE name = 'followers'",
    )
    .await;
    project_all(&db, None, 1000).await;
    assert_eq!(stored_all(&db).await, expected);
    assert_eq!(stored_openids(&db).await, ["oA", "oB", "oC"]);
}

/// On PostgreSQL a log row takes its id before its batch commits, so a row may become
/// visible after a higher one. A projection must not step over a row still being committed,
/// however long that commit takes (a wait of a second on the rows' age did, past the second),
/// and need not wait for rows that are committed (that wait kept every projection over a
/// second behind). SQLite commits one writer at a time, in id order: nothing to test there.
#[tokio::test]
async fn a_row_still_being_committed_holds_the_projection_back_until_it_commits() {
    let db = common::fresh_db().await;
    let zhanggui::platform::db::Db::Postgres(pool) = &db else {
        return;
    };
    let clock = zhanggui::platform::clock::Clock::default();
    let received_now = |openid: &str, id: u64| {
        let at = clock.now_ms();
        let mut row = logged(
            openid,
            at / 1000,
            "text",
            text(openid, at / 1000, id),
            openid,
        );
        row.received_at = at;
        row
    };
    let is_projected = |openid: &'static str| {
        let db = db.clone();
        async move {
            zhanggui::followers::store::get(&db, 1, 7, openid)
                .await
                .expect("read follower")
                .is_some()
        }
    };
    let project = || zhanggui::followers::jobs::project_once(&db, None, 1_000);

    // A batch whose commit is slow: its row holds an id and is not visible yet.
    let mut slow = pool.begin().await.expect("begin");
    let slow_row = received_now("oSlow", 1);
    let slow_id: i64 = sqlx::query_scalar(
        "INSERT INTO wx_messages (merchant_id, account_id, dedup_key, openid, kind, sent_at, \
         received_at, body, reply, route) VALUES (1, 7, $1, $2, 'text', $3, $4, $5, 'success', '') \
         RETURNING id",
    )
    .bind(&slow_row.dedup_key)
    .bind(&slow_row.openid)
    .bind(slow_row.sent_at)
    .bind(slow_row.received_at)
    .bind(&slow_row.body)
    .fetch_one(&mut *slow)
    .await
    .expect("the slow batch's row");
    // A later batch, committed.
    let fast_id = match zhanggui::messages::store::append_batch(&db, &[received_now("oFast", 2)])
        .await
        .expect("the fast batch")[..]
    {
        [Logged::New(id)] => id,
        ref other => panic!("a new row: {other:?}"),
    };
    assert!(fast_id > slow_id);

    // Older than a second, and the slow row still uncommitted: nothing past it is read.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let pass = project().await.expect("project");
    assert_eq!(pass.upto, None, "the cursor stays before the slow row");
    assert!(!is_projected("oFast").await);

    slow.commit().await.expect("the slow batch commits");
    let pass = project().await.expect("project");
    assert_eq!(pass.upto, Some(fast_id));
    assert!(
        is_projected("oSlow").await,
        "the slow row was not stepped over"
    );
    assert!(is_projected("oFast").await);

    // A row committed just now is read at once, however young.
    let young_id = match zhanggui::messages::store::append_batch(&db, &[received_now("oYoung", 3)])
        .await
        .expect("a young batch")[..]
    {
        [Logged::New(id)] => id,
        ref other => panic!("a new row: {other:?}"),
    };
    let pass = project().await.expect("project");
    assert_eq!(pass.upto, Some(young_id));
    assert!(is_projected("oYoung").await);
}

/// Only a writer's lock holds the log's settled end back: autovacuum (SHARE UPDATE
/// EXCLUSIVE, for as long as it works on the table) and readers do not.
#[tokio::test]
async fn a_vacuum_or_a_reader_of_the_log_holds_nothing_back() {
    use zhanggui::messages::settled::{Settled, settled};
    let db = common::fresh_db().await;
    let zhanggui::platform::db::Db::Postgres(pool) = &db else {
        return;
    };
    let id = match zhanggui::messages::store::append_batch(
        &db,
        &[logged("oA", 1, "text", text("oA", 1, 1), "a")],
    )
    .await
    .expect("a row")[..]
    {
        [Logged::New(id)] => id,
        ref other => panic!("a new row: {other:?}"),
    };
    let mut vacuum_like = pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE wx_messages IN SHARE UPDATE EXCLUSIVE MODE")
        .execute(&mut *vacuum_like)
        .await
        .expect("a vacuum's lock");
    let mut reader = pool.begin().await.expect("begin");
    sqlx::query("SELECT COUNT(*) FROM wx_messages")
        .execute(&mut *reader)
        .await
        .expect("a reader's lock");
    // Waiting for either would end in "nothing settled for now" (`UpTo(0)`).
    assert_eq!(settled(&db).await.expect("settled"), Settled::UpTo(id));
    vacuum_like.rollback().await.expect("rollback");
    reader.rollback().await.expect("rollback");
}

// ---- the timeline through follower_log's buckets ----

async fn log_at(db: &zhanggui::platform::db::Db, id: i64, openid: &str) {
    common::exec(
        db,
        &format!(
            "INSERT INTO wx_messages (id, merchant_id, account_id, dedup_key, openid, kind, \
             sent_at, received_at, body, reply) VALUES ({id}, 1, 7, 'k{id}', '{openid}', 'text', \
             {id}, 0, 'body {id}', 'success')"
        ),
    )
    .await;
    common::log_ids_taken(db).await;
}

async fn index_all(db: &zhanggui::platform::db::Db) {
    for _ in 0..100 {
        let pass = zhanggui::followers::jobs::index_once(db, None, 1_000_000)
            .await
            .expect("index");
        if pass.upto.is_none() {
            return;
        }
    }
    panic!("the index did not catch up");
}

/// Every page of a follower's timeline, `limit` rows a page, as ids.
async fn timeline_ids(db: &zhanggui::platform::db::Db, openid: &str, limit: i64) -> Vec<i64> {
    let mut ids = vec![];
    let mut before = None;
    loop {
        let page = zhanggui::followers::store::timeline(db, 1, 7, openid, before, limit)
            .await
            .expect("timeline");
        ids.extend(page.iter().map(|m| m.id));
        if (page.len() as i64) < limit {
            return ids;
        }
        before = page.last().map(|m| m.id);
    }
}

/// follower_log is keyed by the log's bucket first: a timeline must find a follower's rows
/// in every bucket they wrote in, far apart or not, whether the followers projection (which
/// knows the follower's stretch of the log) or the index is ahead.
#[tokio::test]
async fn a_timeline_finds_a_follower_in_every_bucket_whichever_projection_is_ahead() {
    use zhanggui::followers::model::LOG_BUCKET_IDS as B;
    let db = common::fresh_db().await;
    let sparse = [1, 3 * B + 5, 7 * B + 1, 7 * B + 3, 40 * B + 2];
    for id in sparse {
        log_at(&db, id, "oSparse").await;
        log_at(&db, id + 1, "oNext").await;
    }
    let newest_first = |ids: &[i64]| {
        let mut v = ids.to_vec();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v
    };

    // Indexed, the followers projection not run: every bucket may hold the follower's rows.
    index_all(&db).await;
    assert_eq!(timeline_ids(&db, "oSparse", 2).await, newest_first(&sparse));

    // Both done: only the follower's stretch of the log is read.
    project_all(&db, None, 1_000_000).await;
    let f = stored(&db, "oSparse").await;
    assert_eq!(
        (f.first_message_id, f.last_message_id),
        (Some(1), Some(40 * B + 2))
    );
    for limit in [1, 2, 3, 20] {
        assert_eq!(
            timeline_ids(&db, "oSparse", limit).await,
            newest_first(&sparse),
            "{limit} a page"
        );
    }
    assert_eq!(timeline_ids(&db, "oNext", 3).await.len(), sparse.len());

    // They write again far past their stretch: indexed, not yet projected.
    log_at(&db, 90 * B + 9, "oSparse").await;
    index_all(&db).await;
    let mut all = sparse.to_vec();
    all.push(90 * B + 9);
    assert_eq!(timeline_ids(&db, "oSparse", 2).await, newest_first(&all));

    // And again, not indexed either: read straight from the log.
    log_at(&db, 90 * B + 20, "oSparse").await;
    all.push(90 * B + 20);
    assert_eq!(timeline_ids(&db, "oSparse", 4).await, newest_first(&all));

    // Rebuilt from nothing: the same timeline.
    reindex_from_nothing(&db).await;
    project_all(&db, None, 1_000_000).await;
    assert_eq!(timeline_ids(&db, "oSparse", 3).await, newest_first(&all));
}

/// An index pass writes its rows and moves its cursor together: a pass that finds the
/// cursor moved on (another instance, a rebuild) writes nothing, and one that holds it
/// writes both.
#[tokio::test]
async fn an_index_pass_that_lost_its_cursor_writes_nothing() {
    use zhanggui::followers::{jobs::LOG_INDEX, store::index_log_range};
    use zhanggui::messages::store::commit_pass;
    let db = common::fresh_db().await;
    for id in 1..=3 {
        log_at(&db, id, "oRace").await;
    }
    let cursor = "SELECT last_id FROM log_projections WHERE name = 'follower_log'";
    assert_eq!(common::scalar(&db, cursor).await, 0);

    let mut lost = zhanggui::platform::db::Script::new();
    index_log_range(&mut lost, 2, 3);
    let moved = commit_pass(&db, lost, LOG_INDEX, 2, 3).await.expect("pass");
    assert!(!moved, "the cursor was at 0, not 2");
    assert_eq!(
        common::scalar(&db, "SELECT COUNT(*) FROM follower_log").await,
        0
    );
    assert_eq!(common::scalar(&db, cursor).await, 0);

    let mut held = zhanggui::platform::db::Script::new();
    index_log_range(&mut held, 0, 3);
    assert!(commit_pass(&db, held, LOG_INDEX, 0, 3).await.expect("pass"));
    assert_eq!(
        common::scalar(&db, "SELECT COUNT(*) FROM follower_log").await,
        3
    );
    assert_eq!(common::scalar(&db, cursor).await, 3);
}

/// Where the committer's tap holds the rows (a SQLite file), the index pass takes them from
/// there, bound as a statement's values (padded up to a statement's size with its last row
/// again), instead of reading the log: it must index exactly what a pass reading the log
/// indexes, whatever characters a sender's openid holds, on however many accounts, and
/// however the rows are cut into passes and padded.
#[tokio::test]
async fn indexing_from_the_tap_agrees_with_indexing_from_the_log() {
    use zhanggui::followers::jobs::index_once;
    let db = common::fresh_db().await;
    let writer = LogWriter::start(db.clone());
    let mut rows = unordered_history();
    let odd = "o\"quote\\back'中文\u{1}";
    rows.push(logged(odd, 9, "text", "<xml/>".into(), "odd"));
    // The same senders on other accounts, one whose id sorts before 7 as text.
    for (n, account_id) in [(0, 12), (1, 8), (2, 12)] {
        let mut other = rows[n].clone();
        other.account_id = account_id;
        other.dedup_key = format!("{}-on-{account_id}", other.dedup_key);
        rows.push(other);
    }
    for r in &rows {
        writer.append(r.clone()).await.expect("logged");
    }
    reindex_from_nothing(&db).await;
    let from_log = follower_log(&db).await;
    assert_eq!(from_log.len(), rows.len());
    assert!(from_log.iter().any(|(_, _, openid, _)| openid == odd));

    // On PostgreSQL there is no tap: both read the log.
    let tap = writer.tap();
    // Passes of 3 rows (statements of 4 and of 1) and of 5 (statements of 16 and of 4).
    for batch in [3, 5] {
        common::exec(&db, "DELETE FROM follower_log").await;
        common::exec(
            &db,
            "UPDATE log_projections SET last_id = 0 WHERE name = 'follower_log'",
        )
        .await;
        for _ in 0..100 {
            let pass = index_once(&db, tap, batch).await.expect("index");
            if pass.upto.is_none() {
                break;
            }
        }
        assert_eq!(follower_log(&db).await, from_log, "passes of {batch}");
    }
}

/// Under load an index pass fills a bucket alone: it ends at the bucket's end though rows
/// and room are left, and the next pass takes the rest.
#[tokio::test]
async fn an_index_pass_ends_at_its_buckets_end() {
    use zhanggui::followers::jobs::index_once;
    use zhanggui::followers::model::LOG_BUCKET_IDS as B;
    let db = common::fresh_db().await;
    for id in B - 2..=B + 1 {
        log_at(&db, id, "oA").await;
    }
    let first = index_once(&db, None, 2 * B).await.expect("index");
    assert_eq!((first.upto, first.more), (Some(B - 1), true));
    let second = index_once(&db, None, 2 * B).await.expect("index");
    assert_eq!((second.upto, second.more), (Some(B + 1), false));
    let rows = follower_log(&db).await;
    let buckets: Vec<(i64, i64)> = rows.iter().map(|r| (r.1, r.3)).collect();
    assert_eq!(buckets, vec![(0, B - 2), (0, B - 1), (1, B), (1, B + 1)]);
}

/// A turn of the index far behind the newest row takes several buckets, one statement each;
/// near it, or without a tap to say how far behind it is, one.
#[tokio::test]
async fn a_turn_of_the_index_takes_several_buckets_only_when_far_behind() {
    use zhanggui::followers::jobs::{STATEMENTS_A_TURN_BEHIND, index_turn};
    use zhanggui::followers::model::LOG_BUCKET_IDS as B;
    use zhanggui::messages::LogTap;
    use zhanggui::messages::tap::Tapped;
    let db = common::fresh_db().await;
    let logged_upto = 6 * B;
    common::exec(
        &db,
        &format!(
            "WITH RECURSIVE n(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n WHERE id < \
             {logged_upto}) INSERT INTO wx_messages (id, merchant_id, account_id, dedup_key, \
             openid, kind, sent_at, received_at, body, reply) SELECT id, 1, 7, 'k' || id, 'oA', \
             'text', id, 0, 'body', 'success' FROM n"
        ),
    )
    .await;
    common::log_ids_taken(&db).await;
    let tap_upto = |newest: i64| {
        let tap = LogTap::new();
        tap.publish((newest - 2..=newest).map(|id| Tapped {
            id,
            row: logged("oB", id, "text", "<xml/>".into(), &format!("t{id}")),
        }));
        tap
    };
    let far = tap_upto(100 * B);
    let near = tap_upto(logged_upto);

    let without_tap = index_turn(&db, None, None).await.expect("index");
    assert_eq!((without_tap.upto, without_tap.more), (Some(B - 1), true));
    let far_behind = index_turn(&db, Some(&far), without_tap.upto)
        .await
        .expect("index");
    let buckets = i64::try_from(STATEMENTS_A_TURN_BEHIND).expect("a few");
    assert!(buckets > 1);
    assert_eq!(far_behind.upto, Some((1 + buckets) * B - 1));
    let near_the_end = index_turn(&db, Some(&near), far_behind.upto)
        .await
        .expect("index");
    assert_eq!(near_the_end.upto, Some((2 + buckets) * B - 1));
    assert_eq!(
        follower_log(&db).await.len(),
        usize::try_from((2 + buckets) * B - 1).expect("rows")
    );
}

/// The index task remembers where its last pass left the cursor; a pass from a remembered
/// cursor that has moved since writes nothing and says so, so the task reads it again.
#[tokio::test]
async fn an_index_pass_from_a_cursor_moved_since_writes_nothing() {
    use zhanggui::followers::jobs::{index_after, index_once};
    let db = common::fresh_db().await;
    for id in 1..=3 {
        log_at(&db, id, "oA").await;
    }
    let first = index_once(&db, None, 2).await.expect("index");
    assert_eq!(first.upto, Some(2));
    common::exec(&db, "DELETE FROM follower_log").await;
    let stale = index_after(&db, None, 2, Some(0)).await.expect("index");
    assert_eq!(stale.upto, None);
    assert!(follower_log(&db).await.is_empty());
    let next = index_after(&db, None, 2, first.upto).await.expect("index");
    assert_eq!(next.upto, Some(3));
    assert_eq!(follower_log(&db).await.len(), 1);
}

/// Clears follower_log and its cursor, then indexes the whole log again from the database.
async fn reindex_from_nothing(db: &zhanggui::platform::db::Db) {
    common::exec(db, "DELETE FROM follower_log").await;
    common::exec(
        db,
        "UPDATE log_projections SET last_id = 0 WHERE name = 'follower_log'",
    )
    .await;
    index_all(db).await;
}

async fn follower_log(db: &zhanggui::platform::db::Db) -> Vec<(i64, i64, String, i64)> {
    zhanggui::on_pool!(db, |p| sqlx::query_as::<_, (i64, i64, String, i64)>(
        "SELECT account_id, bucket, openid, message_id FROM follower_log \
         ORDER BY account_id, bucket, openid, message_id"
    )
    .fetch_all(p)
    .await)
    .expect("follower_log")
}
