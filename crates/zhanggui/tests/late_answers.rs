//! A module that answers within the callback's budget answers by passive reply; one that
//! takes longer gets the follower `success` at once and its answer by customer-service
//! message, exactly once, through the emulated WeChat.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{TestApp, wait_until};
use serde_json::{Value, json};
use wechat::ReplyBody;
use zhanggui::messages::late::{self, LateAnswer};
use zhanggui::messages::modules::{Module, ModuleCall, ModuleError, Trigger};

/// A module that takes `delay` to make a latte.
struct Barista {
    delay: Duration,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl Module for Barista {
    fn name(&self) -> &'static str {
        "test.barista"
    }

    async fn answer(&self, call: &ModuleCall) -> Result<Option<ReplyBody<'static>>, ModuleError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(Some(ReplyBody::Text {
            content: format!("{}，您的拿铁好了", &call.openid[..6]).into(),
        }))
    }
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> Value {
    app.client()
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .unwrap_or(Value::Null)
}

async fn follower(app: &TestApp, app_id: &str) -> String {
    let made = post_json(
        app,
        &format!("/sandbox/api/apps/{app_id}/followers"),
        json!({"count": 1}),
    )
    .await;
    made["openids"][0].as_str().expect("openid").to_string()
}

async fn say(app: &TestApp, app_id: &str, openid: &str, text: &str) -> Value {
    post_json(
        app,
        &format!("/sandbox/api/apps/{app_id}/followers/{openid}/actions"),
        json!({"type": "text", "content": text}),
    )
    .await
}

async fn inbox(app: &TestApp, app_id: &str, openid: &str) -> Value {
    app.client()
        .get(app.url(&format!(
            "/sandbox/api/apps/{app_id}/followers/{openid}/inbox"
        )))
        .send()
        .await
        .expect("inbox")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn a_quick_module_answers_by_passive_reply() {
    let app = TestApp::spawn().await;
    let m = app.merchant("咖啡馆").await;
    let account = app.account(m, "咖啡服务号").await;
    let barista = Arc::new(Barista {
        delay: Duration::from_millis(10),
        calls: AtomicUsize::new(0),
    });
    app.state()
        .modules
        .register(Trigger::TextEquals("拿铁".into()), barista.clone());
    let openid = follower(&app, &account.app_id).await;
    let got = say(&app, &account.app_id, &openid, "拿铁").await;
    assert!(
        got["reply"]
            .as_str()
            .is_some_and(|r| r.contains("您的拿铁好了")),
        "{got}"
    );
    assert_eq!(barista.calls.load(Ordering::SeqCst), 1);
    // Other messages still get the account's basic replies.
    let other = say(&app, &account.app_id, &openid, "你好").await;
    assert!(
        !other["reply"].as_str().unwrap_or("").contains("拿铁"),
        "{other}"
    );
}

#[tokio::test]
async fn a_slow_module_answers_by_customer_service_message_once() {
    let app = TestApp::spawn().await;
    let m = app.merchant("慢咖啡馆").await;
    let account = app.account(m, "慢咖啡服务号").await;
    let barista = Arc::new(Barista {
        delay: Duration::from_millis(2500),
        calls: AtomicUsize::new(0),
    });
    app.state()
        .modules
        .register(Trigger::TextEquals("拿铁".into()), barista.clone());
    let openid = follower(&app, &account.app_id).await;

    let started = Instant::now();
    let got = say(&app, &account.app_id, &openid, "拿铁").await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(2400),
        "answered at the budget: {waited:?}"
    );
    assert_eq!(got["attempts"], 1, "WeChat did not have to retry: {got}");
    assert_eq!(got["reply"], "success", "{got}");

    let app_id = account.app_id.clone();
    wait_until("the late answer reaches the follower", 20, || {
        let app = &app;
        let (app_id, openid) = (app_id.clone(), openid.clone());
        async move {
            inbox(app, &app_id, &openid)
                .await
                .to_string()
                .contains("您的拿铁好了")
        }
    })
    .await;
    // The job records "sent" right after WeChat took the message: the follower may see it
    // a moment before.
    wait_until("the late answer is recorded as sent", 20, || async {
        app.count("SELECT COUNT(*) FROM late_replies WHERE status = 'sent'")
            .await
            == 1
    })
    .await;

    // Another delivery of the same message (a retry, or another instance) schedules nothing.
    let row = late_row(&app).await;
    let again = late::schedule(
        &app.db,
        app.now(),
        &LateAnswer {
            merchant_id: m,
            account_id: account.id,
            dedup_key: &row.0,
            openid: &openid,
            module: "test.barista",
            body: &row.1,
        },
    )
    .await
    .expect("schedule");
    assert!(!again, "scheduled once per message");
}

/// The scheduled late answer's dedup key and message body.
async fn late_row(app: &TestApp) -> (String, String) {
    let key = app
        .text("SELECT dedup_key FROM late_replies ORDER BY id LIMIT 1")
        .await;
    let body = app
        .text("SELECT body FROM late_replies ORDER BY id LIMIT 1")
        .await;
    (key, body)
}

#[tokio::test]
async fn a_refused_late_answer_is_recorded_not_retried() {
    let app = TestApp::spawn().await;
    let m = app.merchant("拒绝").await;
    let account = app.account(m, "拒绝服务号").await;
    let barista = Arc::new(Barista {
        delay: Duration::from_millis(2500),
        calls: AtomicUsize::new(0),
    });
    app.state()
        .modules
        .register(Trigger::TextEquals("拿铁".into()), barista.clone());
    let openid = follower(&app, &account.app_id).await;
    let res = app
        .client()
        .put(app.url(&format!("/sandbox/api/apps/{}/faults", account.app_id)))
        .json(&json!({"errors": [{"endpoint": "/cgi-bin/message/custom/send", "rate": 1.0, "errcode": 45015}]}))
        .send()
        .await
        .expect("faults");
    assert!(res.status().is_success());
    say(&app, &account.app_id, &openid, "拿铁").await;
    // The refusal and the job's end are two commits; wait for the later one, the job's.
    wait_until("the job has ended", 20, || {
        let app = &app;
        async move {
            app.count(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'messages.late_reply' AND status = 'done'",
            )
            .await
                == 1
        }
    })
    .await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM late_replies WHERE status = 'refused' AND detail LIKE '%45015%'"
        )
        .await,
        1,
        "the refusal is recorded"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'messages.late_reply' AND attempts = 1")
            .await,
        1,
        "the job ended without retrying"
    );
}

#[tokio::test]
async fn a_late_answer_over_the_daily_quota_backs_off_and_retries() {
    let app = TestApp::spawn().await;
    let m = app.merchant("配额咖啡").await;
    let account = app.account(m, "配额咖啡服务号").await;
    let barista = Arc::new(Barista {
        delay: Duration::from_millis(2500),
        calls: AtomicUsize::new(0),
    });
    app.state()
        .modules
        .register(Trigger::TextEquals("拿铁".into()), barista.clone());
    let openid = follower(&app, &account.app_id).await;
    let faults = format!("/sandbox/api/apps/{}/faults", account.app_id);
    let res = app
        .client()
        .put(app.url(&faults))
        .json(&json!({"errors": [{"endpoint": "/cgi-bin/message/custom/send", "rate": 1.0, "errcode": 45009}]}))
        .send()
        .await
        .expect("faults");
    assert!(res.status().is_success());
    say(&app, &account.app_id, &openid, "拿铁").await;
    wait_until("the first attempt fails on the quota", 20, || {
        let app = &app;
        async move {
            app.count(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'messages.late_reply' \
                 AND status = 'queued' AND attempts = 1 AND last_error LIKE '%45009%'",
            )
            .await
                == 1
        }
    })
    .await;
    let waits = app
        .count("SELECT run_at FROM jobs WHERE kind = 'messages.late_reply'")
        .await
        - app.now();
    assert!(
        waits > 0,
        "the retry waits (back-off), it does not hammer WeChat"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM late_replies WHERE status = 'pending'")
            .await,
        1
    );

    // The quota is back (a new day, or clear_quota): the retry delivers.
    app.client()
        .put(app.url(&faults))
        .json(&json!({}))
        .send()
        .await
        .expect("faults");
    app.clock.advance(waits + 1);
    app.state().jobs.wake();
    let app_id = account.app_id.clone();
    wait_until("the retried late answer reaches the follower", 20, || {
        let app = &app;
        let (app_id, openid) = (app_id.clone(), openid.clone());
        async move {
            inbox(app, &app_id, &openid)
                .await
                .to_string()
                .contains("您的拿铁好了")
        }
    })
    .await;
}
