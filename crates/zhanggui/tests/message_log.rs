//! The message log: group commit, exactly-once by dedup key, the first reply kept for retries.

mod common;

use std::time::Duration;

use zhanggui::messages::{LogRow, LogWriter, Logged};

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
            reply: "<xml>first</xml>".to_string()
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
