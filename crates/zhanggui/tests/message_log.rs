//! The message log: group commit, exactly-once by dedup key, the first reply kept for retries.

mod common;

use std::str::FromStr;
use std::time::Duration;

use zhanggui::messages::{LogRow, LogWriter, Logged, WalLimit};

fn row(account_id: i64, key: &str, reply: &str) -> LogRow {
    LogRow {
        merchant_id: 1,
        account_id,
        dedup_key: key.to_string(),
        openid: "oFollower0000000000000000001".to_string(),
        kind: "text".to_string(),
        sent_at: 1_700_000_000_000,
        received_at: 1_700_000_000_100,
        body: format!("<xml><Content><![CDATA[{key}]]></Content></xml>"),
        reply: reply.to_string(),
        route: String::new(),
        unmatched_text: None,
    }
}

async fn count(db: &zhanggui::platform::db::Db) -> i64 {
    zhanggui::on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM wx_messages"
    )
    .fetch_one(p)
    .await)
    .expect("count")
}

#[tokio::test]
async fn concurrent_appends_share_commits_and_all_land() {
    let db = common::fresh_db().await;
    let writer = LogWriter::start(db.clone());
    let mut tasks = vec![];
    for i in 0..300 {
        let w = writer.clone();
        tasks.push(tokio::spawn(async move {
            w.append(row(1, &format!("m{i}"), "success")).await
        }));
    }
    let mut new = 0;
    for t in tasks {
        let r = tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("in time")
            .expect("task")
            .expect("logged");
        assert!(matches!(r, Logged::New(_)));
        new += 1;
    }
    assert_eq!(new, 300);
    assert_eq!(count(&db).await, 300);
}

#[tokio::test]
async fn a_retry_gets_the_first_reply_and_writes_nothing() {
    let db = common::fresh_db().await;
    let writer = LogWriter::start(db.clone());
    let first = writer
        .append(row(1, "k1", "<xml>first</xml>"))
        .await
        .expect("first");
    let Logged::New(id) = first else {
        panic!("first delivery must be new: {first:?}")
    };
    let retry = writer
        .append(row(1, "k1", "<xml>second</xml>"))
        .await
        .expect("retry");
    assert_eq!(
        retry,
        Logged::Duplicate {
            id,
            reply: "<xml>first</xml>".to_string(),
            received_at: 1_700_000_000_100,
        }
    );
    // The same key on another account is another message.
    let other = writer
        .append(row(2, "k1", "x"))
        .await
        .expect("other account");
    assert!(matches!(other, Logged::New(_)));
    assert_eq!(count(&db).await, 2);
}

#[tokio::test]
async fn duplicates_inside_one_batch_are_written_once() {
    let db = common::fresh_db().await;
    let writer = LogWriter::start(db.clone());
    let mut tasks = vec![];
    for i in 0..50 {
        let w = writer.clone();
        tasks.push(tokio::spawn(async move {
            w.append(row(1, "same", &format!("reply{i}"))).await
        }));
    }
    let mut replies = std::collections::HashSet::new();
    let mut news = 0;
    for t in tasks {
        match t.await.expect("task").expect("logged") {
            Logged::New(_) => news += 1,
            Logged::Duplicate { reply, .. } => {
                replies.insert(reply);
            }
        }
    }
    assert_eq!(news, 1, "exactly one delivery is new");
    assert!(
        replies.len() <= 1,
        "every retry sees the one stored reply: {replies:?}"
    );
    assert_eq!(count(&db).await, 1);
}

#[tokio::test]
async fn two_writers_on_one_database_dedup_across_instances() {
    let url = common::fresh_db_url().await;
    let a = common::connect(&url).await;
    let b = common::connect(&url).await;
    let wa = LogWriter::start(a.clone());
    let wb = LogWriter::start(b);
    let mut tasks = vec![];
    for i in 0..40 {
        let (wa, wb) = (wa.clone(), wb.clone());
        let key = format!("k{}", i % 20);
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                wa.append(row(1, &key, "a")).await
            } else {
                wb.append(row(1, &key, "b")).await
            }
        }));
    }
    let mut news = 0;
    for t in tasks {
        if matches!(t.await.expect("task").expect("logged"), Logged::New(_)) {
            news += 1;
        }
    }
    assert_eq!(news, 20);
    assert_eq!(count(&a).await, 20);
}

/// One commit on SQLite writes its rows with INSERTs of several sizes and reads the new ids
/// from the count of rows written; with keys logged before and keys repeated inside the batch
/// (across statements too), each row must still get its own id, or the first one's reply.
#[tokio::test]
async fn a_batch_in_several_statements_gives_each_row_its_own_outcome() {
    let db = common::fresh_db().await;
    let Some(mut log) = zhanggui::messages::sqlite_log::SqliteLog::for_db(&db) else {
        return; // PostgreSQL and in-memory SQLite write through the pool
    };
    let earlier: Vec<LogRow> = (0..10)
        .map(|i| row(1, &format!("old{i}"), &format!("first old{i}")))
        .collect();
    let logged_before = log.commit(&earlier).expect("first commit");
    // 150 rows: statements of 64, 64, 16, 4 and 2 rows. Repeats: of an earlier commit's row,
    // of a row in the same statement, of a row two statements back, and of the batch's last.
    let mut batch: Vec<LogRow> = (0..140)
        .map(|i| row(1, &format!("new{i}"), &format!("reply new{i}")))
        .collect();
    batch.insert(3, row(1, "old3", "again"));
    batch.insert(9, row(1, "new5", "again"));
    batch.insert(130, row(1, "new10", "again"));
    batch.insert(70, row(1, "old7", "again"));
    batch.insert(20, row(2, "old7", "another account's"));
    batch.extend([
        row(1, "new139", "again"),
        row(1, "old0", "again"),
        row(1, "new0", "again"),
        row(1, "new1", "again"),
        row(1, "new2", "again"),
    ]);
    assert_eq!(batch.len(), 150);
    let outcomes = log.commit(&batch).expect("second commit");
    assert_eq!(outcomes.len(), batch.len());

    let stored: std::collections::HashMap<i64, (i64, String, String)> =
        zhanggui::on_pool!(&db, |p| sqlx::query_as::<_, (i64, i64, String, String)>(
            "SELECT id, account_id, dedup_key, reply FROM wx_messages"
        )
        .fetch_all(p)
        .await)
        .expect("rows")
        .into_iter()
        .map(|(id, account, key, reply)| (id, (account, key, reply)))
        .collect();
    assert_eq!(stored.len(), 10 + 141, "every distinct key once");
    let mut seen = std::collections::HashSet::new();
    for (r, outcome) in batch.iter().zip(&outcomes) {
        let first_time = seen.insert((r.account_id, r.dedup_key.clone()))
            && !(r.account_id == 1 && r.dedup_key.starts_with("old"));
        match outcome {
            Logged::New(id) => {
                assert!(first_time, "{} came before, yet is new", r.dedup_key);
                assert_eq!(
                    stored[id],
                    (r.account_id, r.dedup_key.clone(), r.reply.clone())
                );
            }
            Logged::Duplicate { id, reply, .. } => {
                assert!(!first_time, "{} is new, yet a duplicate", r.dedup_key);
                let (account, key, first_reply) = &stored[id];
                assert_eq!((account, key), (&r.account_id, &r.dedup_key));
                assert_eq!(reply, first_reply);
                assert_ne!(reply, "again");
            }
        }
    }
    for (r, outcome) in earlier.iter().zip(&logged_before) {
        let Logged::New(id) = outcome else {
            panic!("{} was new", r.dedup_key)
        };
        assert_eq!(stored[id].1, r.dedup_key);
    }
}

// ---- the tap: projections read new rows from the committer's memory ----

/// A mixed stretch of log: several senders on two accounts, kinds projections look for,
/// routed and unmatched messages, out-of-order send times.
fn mixed_rows() -> Vec<LogRow> {
    let kinds = [
        "text",
        "event:subscribe",
        "event:scan",
        "location",
        "event:click",
    ];
    let routes = [
        "",
        "rule:7:0:价格",
        "unmatched",
        "handoff",
        "unmatched:default:3:1",
    ];
    (0..60)
        .map(|i: i64| {
            let kind = kinds[(i % 5) as usize];
            let route = routes[(i % 3 + i % 2 * 2) as usize % 5];
            let sent_at = 1_700_000_000_000 + (i * 7_919) % 1_000 * 1_000;
            // Most bodies hold the sender and the time as their columns do (the committer
            // keeps them without those elements), every seventh is written otherwise.
            let time = if i % 7 == 0 { 1 } else { sent_at / 1000 };
            let body = match kind {
                "text" => format!(
                    "<xml><ToUserName><![CDATA[gh_t]]></ToUserName>\
                     <FromUserName><![CDATA[oSender{}]]></FromUserName>\
                     <CreateTime>{time}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                     <Content><![CDATA[m{i}]]></Content><MsgId>{i}</MsgId></xml>",
                    i % 13
                ),
                _ => format!(
                    "<xml>\n<FromUserName><![CDATA[oSender{}]]></FromUserName>\n\
                     <CreateTime>{time}</CreateTime>\n<Content><![CDATA[m{i}]]></Content></xml>",
                    i % 13
                ),
            };
            // As the callback sets it when the committer has a tap and no rule matched.
            let unmatched_text = zhanggui::replies::model::Route::is_unmatched(route)
                .then(|| words_of(&body))
                .flatten();
            LogRow {
                merchant_id: 1 + i % 2,
                account_id: 10 + i % 2,
                dedup_key: format!("mixed{i}"),
                openid: format!("oSender{}", i % 13),
                kind: kind.to_string(),
                sent_at,
                received_at: 1_700_000_000_000 + i,
                body,
                reply: "success".to_string(),
                route: route.to_string(),
                unmatched_text,
            }
        })
        .collect()
}

/// The words the replies projection counts for an unmatched message with this body.
fn words_of(body: &str) -> Option<String> {
    zhanggui::replies::model::unmatched_text(&wechat::Message::parse(body).ok()?)
}

/// On a SQLite file every projection reads new rows from the committer's tap instead of the
/// database; what it gets must be what the database gives, for any range the tap holds.
#[tokio::test]
async fn the_tap_gives_projections_what_the_database_gives() {
    use zhanggui::messages::store::{self, LogRange, Stretch};

    let db = common::fresh_db().await;
    let writer = LogWriter::start(db.clone());
    let mut tasks = vec![];
    for r in mixed_rows() {
        let w = writer.clone();
        tasks.push(tokio::spawn(async move { w.append(r).await }));
    }
    for t in tasks {
        t.await.expect("task").expect("logged");
    }
    let Some(tap) = writer.tap() else {
        // PostgreSQL hands out ids before commit: no tap, projections read the database.
        assert_eq!(db.dialect(), zhanggui::platform::db::Dialect::Postgres);
        return;
    };
    let first = zhanggui::on_pool!(&db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT MIN(id) FROM wx_messages"
    )
    .fetch_one(p)
    .await)
    .expect("first id");
    let kinds = ["event:subscribe", "location"];
    for (after, upto) in [(0, 60), (0, 1), (13, 41), (59, 60)] {
        let range = LogRange {
            after_id: first - 1 + after,
            upto: first - 1 + upto,
            full: false,
        };
        let stretch = Stretch::new(&db, Some(tap), "test", range);
        let tapped = stretch
            .tapped()
            .expect("the tap holds every row it committed");

        let mut from_tap = tapped.senders(&kinds).await;
        let mut from_db = store::senders(&db, range, &kinds).await.expect("senders");
        let key = |s: &store::SenderSummary| (s.account_id, s.openid.clone());
        from_tap.sort_by_key(key);
        from_db.sort_by_key(key);
        assert_eq!(from_tap, from_db, "senders of {range:?}");
        if upto - after == 60 {
            // The stretch exercises both answers.
            assert!(from_db.iter().any(|s| s.of_kinds) && from_db.iter().any(|s| !s.of_kinds));
        }

        let from_db = store::of_kinds(&db, range, &kinds).await.expect("of kinds");
        assert_eq!(
            tapped.of_kinds(&kinds),
            Some(from_db),
            "rows of kinds in {range:?}"
        );
        // The tap keeps no body of a text: such a read goes to the database.
        assert_eq!(tapped.of_kinds(&["text"]), None);

        // What the replies projection takes from each routed row: the same either way
        // (from the database it parses the words out of the body, the tap has them).
        let from_db = zhanggui::replies::store::routed(&db, range.after_id, range.upto)
            .await
            .expect("routed");
        let from_db: Vec<_> = from_db.iter().map(|r| r.view()).collect();
        let from_tap: Vec<_> = zhanggui::replies::store::routed_in(tapped).collect();
        let taken = |r: &zhanggui::replies::store::Routed<'_>| {
            (
                r.id,
                r.merchant_id,
                r.account_id,
                r.openid.to_string(),
                r.sent_at,
                r.route.to_string(),
                r.words(),
            )
        };
        assert_eq!(
            from_tap.iter().map(taken).collect::<Vec<_>>(),
            from_db.iter().map(taken).collect::<Vec<_>>(),
            "routed rows of {range:?}"
        );
        if upto - after == 60 {
            assert!(from_db.iter().any(|r| !r.body.is_empty()));
            assert!(from_db.iter().any(|r| r.body.is_empty()));
            assert!(
                from_tap.iter().any(|r| r.text.is_some()),
                "unmatched texts' words"
            );
        }
    }
    // Past the newest row the tap has nothing to vouch for.
    let beyond = LogRange {
        after_id: first + 58,
        upto: first + 60,
        full: false,
    };
    assert!(tap.covering(beyond).is_none());
}

/// The SQLite committer keeps a body without the sender's and the time's elements, which
/// the row's columns hold, and a body and a reply with short tags (`wechat::kept`: 204 of a
/// text message's 270 bytes); every reader of the log gets them back as they were: the
/// console's messages, a follower's timeline, a retry's answer, the projections' reads
/// (above). PostgreSQL's log keeps them as they are.
#[tokio::test]
async fn bodies_and_replies_are_kept_short_and_read_back_whole() {
    let db = common::fresh_db().await;
    let writer = LogWriter::start(db.clone());
    let key = "m|1|oFollower0000000000000000001|1700000000";
    let reply = "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[收到]]></Content></xml>";
    let mut logged = row(1, key, reply);
    let whole = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>\
        <FromUserName><![CDATA[oFollower0000000000000000001]]></FromUserName>\
        <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
        <Content><![CDATA[营业时间？]]></Content><MsgId>1</MsgId></xml>";
    logged.body = whole.to_string();
    writer.append(logged.clone()).await.expect("logged");

    let (stored, stored_reply) =
        zhanggui::on_pool!(&db, |p| sqlx::query_as::<_, (String, String)>(
            "SELECT body, reply FROM wx_messages"
        )
        .fetch_one(p)
        .await)
        .expect("stored body");
    if writer.tap().is_some() {
        assert!(stored.starts_with('\u{1}'), "{stored:?}");
        assert_eq!(whole.len() - stored.len(), 204, "{stored:?}");
        assert!(stored_reply.starts_with('\u{1}'), "{stored_reply:?}");
        assert_eq!(reply.len() - stored_reply.len(), 60, "{stored_reply:?}");
    } else {
        assert_eq!(stored, whole);
        assert_eq!(stored_reply, reply);
    }

    let recent = zhanggui::messages::store::recent(&db, 1, 1, 0, None, 10)
        .await
        .expect("recent");
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].body, whole, "the console's messages");
    assert_eq!(
        zhanggui::messages::model::reply_text(&recent[0].reply),
        "收到",
        "the console's messages"
    );
    let timeline =
        zhanggui::followers::store::timeline(&db, 1, 1, "oFollower0000000000000000001", None, 10)
            .await
            .expect("timeline");
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].body, whole, "the follower's timeline");

    let Logged::Duplicate { reply: first, .. } = writer.append(logged).await.expect("retry") else {
        panic!("a retry is a duplicate");
    };
    assert_eq!(first, reply, "a retry's answer");
}

/// Migration 0021 rebuilt the SQLite log without AUTOINCREMENT: a database written before it
/// keeps every row under its id, and the next message is numbered after the newest one, by
/// the committer's own connection as before.
#[tokio::test]
async fn the_log_keeps_its_rows_and_ids_when_rebuilt_without_autoincrement() {
    let url = common::fresh_db_url().await;
    if !url.starts_with("sqlite:") {
        return; // PostgreSQL's log never had AUTOINCREMENT
    }
    {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("pool");
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut before = sqlx::migrate::Migrator::new(std::path::Path::new(folder))
            .await
            .expect("migrations");
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < 21)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&pool).await.expect("migrations up to 0020");
        for (id, key) in [(1, "m|1"), (2, "m|2"), (7, "m|7")] {
            sqlx::query(
                "INSERT INTO wx_messages (id, merchant_id, account_id, dedup_key, openid, kind, \
                 sent_at, received_at, body, reply, route) \
                 VALUES ($1, 1, 1, $2, 'oOld', 'text', 1, 2, 'body', 'reply', 'rule:1')",
            )
            .bind(id)
            .bind(key)
            .execute(&pool)
            .await
            .expect("old row");
        }
        pool.close().await;
    }
    let db = common::connect(&url).await;
    let zhanggui::platform::db::Db::Sqlite(pool) = &db else {
        unreachable!("a SQLite URL")
    };
    let kept: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, dedup_key, route FROM wx_messages ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("rows");
    assert_eq!(
        kept,
        [1, 2, 7].map(|id| (id, format!("m|{id}"), "rule:1".to_string()))
    );
    let table: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'wx_messages'")
            .fetch_one(pool)
            .await
            .expect("table");
    assert!(!table.contains("AUTOINCREMENT"), "{table}");

    let writer = LogWriter::start(db.clone());
    assert!(
        writer.tap().is_some(),
        "written by the committer's connection"
    );
    let new = writer
        .append(row(1, "m|8", "success"))
        .await
        .expect("logged");
    assert_eq!(new, Logged::New(8));
    let retry = writer.append(row(1, "m|2", "other")).await.expect("logged");
    assert_eq!(
        retry,
        Logged::Duplicate {
            id: 2,
            reply: "reply".to_string(),
            received_at: 2,
        }
    );
}

/// The log's background streams (projection passes, checkpoints) take turns: one runs, the
/// next waits until it is done, in the order they asked.
#[tokio::test]
async fn background_streams_take_turns_over_the_log() {
    let db = common::fresh_db().await;
    let writer = LogWriter::start(db);
    let first = writer.background_turn().await;
    assert!(first.is_some(), "a turn is given when no one holds it");
    let (w2, w3) = (writer.clone(), writer.clone());
    let second = tokio::spawn(async move { w2.background_turn().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let third = tokio::spawn(async move { w3.background_turn().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !second.is_finished(),
        "the second waits while the first runs"
    );
    drop(first);
    let second = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("the second's turn comes")
        .expect("task");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !third.is_finished(),
        "one at a time: the third waits for the second"
    );
    drop(second);
    let third = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the third's turn comes")
        .expect("task");
    assert!(third.is_some());
}

/// Pool connections leave checkpoints to the log's writer; what they write while no callback
/// arrives is copied back to the database file within a second or two all the same.
#[tokio::test]
async fn writes_through_the_pool_alone_are_checkpointed_while_the_log_is_quiet() {
    let db = common::fresh_db().await;
    // Only a SQLite file has a WAL.
    let Some(file) = db.sqlite_file() else {
        return;
    };
    let writer = LogWriter::start(db.clone());
    let before = std::fs::metadata(&file).expect("the database file").len();
    let blob: u64 = 4 * 1024 * 1024;
    common::exec(&db, "CREATE TABLE big (b BLOB)").await;
    common::exec(&db, &format!("INSERT INTO big VALUES (zeroblob({blob}))")).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::fs::metadata(&file).expect("the database file").len() < before + blob {
        assert!(
            std::time::Instant::now() < deadline,
            "the WAL was not checkpointed within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(writer);
}

/// `/metrics` shows how far each projection is behind (`messages::record_projection_gauges`):
/// the rows past its cursor, and when the oldest of them was received.
#[tokio::test]
async fn projection_lags_count_the_rows_past_each_cursor_and_the_oldest_received() {
    let db = common::fresh_db().await;
    let writer = LogWriter::start(db.clone());
    for i in 0..5 {
        let mut r = row(1, &format!("lag{i}"), "success");
        r.received_at = 1_700_000_000_000 + i * 1_000;
        assert!(matches!(writer.append(r).await, Ok(Logged::New(_))));
    }
    let ids: Vec<i64> = zhanggui::on_pool!(&db, |p| sqlx::query_scalar(
        "SELECT id FROM wx_messages ORDER BY id"
    )
    .fetch_all(p)
    .await)
    .expect("ids");
    assert_eq!(ids.len(), 5);
    common::exec(
        &db,
        &format!("UPDATE log_projections SET last_id = {}", ids[1]),
    )
    .await;
    common::exec(
        &db,
        &format!(
            "UPDATE log_projections SET last_id = {} WHERE name = 'menus'",
            ids[4]
        ),
    )
    .await;
    let lags = zhanggui::messages::store::projection_lags(&db)
        .await
        .expect("lags");
    let names: Vec<&str> = lags.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "channels",
            "follower_log",
            "followers",
            "menus",
            "replies",
            "reply_hits"
        ]
    );
    for lag in &lags {
        let expected = match lag.name.as_str() {
            "menus" => (0, None),
            _ => (3, Some(1_700_000_002_000)),
        };
        assert_eq!((lag.rows, lag.oldest_received_at), expected, "{lag:?}");
    }
}

/// The WAL's header (its first 32 bytes) counts the times it started over at bytes 12..16
/// (the checkpoint sequence number), and the file keeps its largest size.
fn wal_starts_and_size(db_file: &std::path::Path) -> (u32, u64) {
    let mut wal = db_file.as_os_str().to_owned();
    wal.push("-wal");
    let Ok(bytes) = std::fs::read(&wal) else {
        return (0, 0);
    };
    let starts = bytes
        .get(12..16)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    (starts, bytes.len() as u64)
}

/// Appends rows of ~4 KiB from `writers` tasks, each with its next row queued as soon as
/// the last is committed, until `rows` are in: the committer always has rows waiting, so
/// it commits back to back.
async fn append_without_pause(writer: &LogWriter, tag: &str, writers: usize, rows: usize) {
    let text: String = "掌柜的消息日志".repeat(200);
    let mut tasks = vec![];
    for w in 0..writers {
        let writer = writer.clone();
        let (tag, text) = (tag.to_string(), text.clone());
        tasks.push(tokio::spawn(async move {
            for i in (w..rows).step_by(writers) {
                let mut r = row(1, &format!("{tag}{i}"), "success");
                r.body = format!("<xml><Content><![CDATA[{i} {text}]]></Content></xml>");
                assert!(matches!(writer.append(r).await, Ok(Logged::New(_))));
            }
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("in time")
            .expect("appended");
    }
}

/// A fresh database's log, its WAL made to start over past `frames`; `None` where there is
/// no WAL (PostgreSQL).
async fn log_with_wal_limit(
    frames: i64,
) -> Option<(zhanggui::platform::db::Db, std::path::PathBuf, LogWriter)> {
    let db = common::fresh_db().await;
    let file = db.sqlite_file()?;
    let limit = WalLimit {
        frames,
        hold: Duration::from_millis(500),
    };
    let writer = LogWriter::start_with(db.clone(), limit);
    Some((db, file, writer))
}

/// A committer that commits back to back never begins a transaction with the whole WAL
/// copied, which is when SQLite writes it from the start again: past its limit, the WAL is
/// made to start over (`messages::checkpoints`), and its file stays near that size instead
/// of growing with everything the log writes.
#[tokio::test]
async fn the_wal_starts_over_under_commits_that_never_pause() {
    let Some((db, file, writer)) = log_with_wal_limit(1_024).await else {
        return;
    };
    let (starts_before, _) = wal_starts_and_size(&file);
    // ~128 MiB of rows, 32 times the limit. Written at ~100 MB/s, the WAL overshoots its
    // limit by what a few checkpoints' ticks let through.
    append_without_pause(&writer, "s", 128, 32_000).await;
    let (starts, size) = wal_starts_and_size(&file);
    assert!(
        starts >= starts_before + 4,
        "the WAL started over {} times",
        starts - starts_before
    );
    assert!(
        size < 40 * 1024 * 1024,
        "the WAL grew to {size} bytes, for a limit of 4 MiB"
    );
    assert_eq!(count(&db).await, 32_000);
}

/// Appends small rows from `writers` tasks, each with its next row queued as soon as the
/// last is committed, until `stop` is set.
fn append_until(
    writer: &LogWriter,
    writers: usize,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..writers)
        .map(|w| {
            let (writer, stop) = (writer.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = row(1, &format!("until{w}-{i}"), "success");
                    assert!(matches!(writer.append(r).await, Ok(Logged::New(_))));
                    i += 1;
                }
            })
        })
        .collect()
}

/// A reader in the WAL keeps it from starting over, since the frames it reads must stay;
/// under writes that go on, it starts over soon after the reader leaves (the try that
/// failed is followed by another).
#[tokio::test]
async fn a_reader_in_the_wal_delays_its_start_over_until_it_leaves() {
    let Some((db, file, writer)) = log_with_wal_limit(256).await else {
        return;
    };
    append_without_pause(&writer, "before", 16, 300).await;
    let zhanggui::platform::db::Db::Sqlite(pool) = &db else {
        unreachable!("a SQLite file")
    };
    let mut reader = pool.begin().await.expect("a read transaction");
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM wx_messages")
        .fetch_one(&mut *reader)
        .await
        .expect("read");
    assert_eq!(rows, 300);
    let (starts_with_reader, _) = wal_starts_and_size(&file);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = append_until(&writer, 64, &stop);
    // Past the limit within milliseconds; a try, then another a second later.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        wal_starts_and_size(&file).0,
        starts_with_reader,
        "the WAL started over under a reader"
    );
    reader.rollback().await.expect("end the read");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while wal_starts_and_size(&file).0 == starts_with_reader {
        assert!(
            std::time::Instant::now() < deadline,
            "the WAL did not start over once the reader was gone"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writing {
        w.await.expect("appended");
    }
}
