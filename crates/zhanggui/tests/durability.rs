//! Every message we answered is in the log before the answer leaves: the real server, killed
//! with SIGKILL right after each answer, has logged every message it answered.

mod common;

use std::time::Duration;

use zhanggui::accounts::model::AccountInput;
use zhanggui::platform::config::Mode;

fn text(i: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_t]]></ToUserName><FromUserName><![CDATA[oKill{i}]]></FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[m{i}]]></Content><MsgId>{i}</MsgId></xml>"
    )
}

#[tokio::test]
async fn answered_messages_survive_kill_9() {
    let url = common::fresh_db_url().await;
    let db = common::connect(&url).await;
    let m = zhanggui::merchants::create(
        &db,
        &zhanggui::merchants::model::MerchantInput {
            name: "耐久商户".into(),
            timezone: None,
        },
        0,
    )
    .await
    .expect("merchant");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let input = AccountInput {
        name: "耐久号".into(),
        kind: "service".into(),
        verified: true,
        security_mode: "plaintext".into(),
        sandbox: Some(true),
        ..AccountInput::default()
    };
    let a = zhanggui::accounts::create(
        &db,
        m.id,
        &input,
        Mode::Sandbox,
        &format!("http://{addr}"),
        0,
    )
    .await
    .expect("account");

    let dir = tempfile::tempdir().expect("folder");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_zhanggui"));
    cmd.args(["serve", "--no-demo"])
        .env_clear()
        .env("ZG_DATABASE_URL", &url)
        .env("ZG_LISTEN", addr.to_string())
        .env("ZG_LOG", "warn")
        .current_dir(dir.path())
        .kill_on_drop(true);
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    let mut server = cmd.spawn().expect("start the server");
    let client = reqwest::Client::new();
    common::wait_until("the server answers", 30, || async {
        client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    #[cfg(target_os = "linux")]
    assert_runtime_fits_the_cores(server.id().expect("the server's pid"));

    let sig = wechat::signature::signature(&a.token, "1700000000", "n");
    let callback = format!(
        "http://{addr}/wx/{}?signature={}&timestamp=1700000000&nonce=n",
        a.callback_key,
        sig.as_str()
    );
    // Many deliveries in flight; the moment one is answered, the server dies.
    let mut answered = vec![];
    let mut inflight = tokio::task::JoinSet::new();
    for i in 1..=200u64 {
        let (client, url, body) = (client.clone(), callback.clone(), text(i));
        inflight.spawn(async move {
            let ok = client
                .post(url)
                .body(body)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            (i, ok)
        });
    }
    while let Some(done) = inflight.join_next().await {
        let (i, ok) = done.expect("task");
        if ok {
            answered.push(i);
            if answered.len() == 50 {
                server.start_kill().expect("SIGKILL");
            }
        }
    }
    let _ = server.wait().await;
    assert!(answered.len() >= 50, "answered {}", answered.len());
    for i in &answered {
        let n = common::scalar(
            &db,
            &format!("SELECT COUNT(*) FROM wx_messages WHERE openid = 'oKill{i}'"),
        )
        .await;
        assert_eq!(n, 1, "message {i} was answered but is not in the log");
    }
}

/// Confined to one core (this test's own affinity, which the server inherits: `taskset` in
/// scripts/test.sh) the server runs everything on its main thread, with none of tokio's
/// worker threads; with more cores, on those workers (main.rs, `runtime`).
#[cfg(target_os = "linux")]
fn assert_runtime_fits_the_cores(pid: u32) {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads");
    let workers = threads
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|name| name.trim() == "tokio-rt-worker")
        .count();
    let one_core = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    assert_eq!(
        workers == 0,
        one_core,
        "{workers} runtime worker threads, one core: {one_core}"
    );
}
