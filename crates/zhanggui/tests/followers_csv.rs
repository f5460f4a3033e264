//! Followers as CSV through HTTP: the export's content (BOM, header, a row's fields, a filter
//! and a segment applied), the import's dry run with errors per bad row, and the apply job
//! changing rows and enqueueing WeChat pushes; another merchant's account out of reach.

mod common;

use common::{TestApp, Who, read, read_json, wait_until};
use reqwest::{Method, StatusCode};
use serde_json::json;
use zhanggui::platform::auth::model::Role;

/// o1 (following, remark 老客, tag VIP, phone, Shanghai), o2 (unfollowed), o3 (following).
async fn seed(app: &TestApp, m: i64, account: i64) {
    // 2026-01-02 03:04:05 UTC = 11:04:05 in Shanghai.
    let t = 1_767_323_045_000i64;
    for (o, sub) in [("o1", "TRUE"), ("o2", "FALSE"), ("o3", "TRUE")] {
        app.exec(&format!(
            "INSERT INTO followers (merchant_id, account_id, openid, first_seen_at, \
             last_interaction_at, subscribed, subscribed_at) \
             VALUES ({m}, {account}, '{o}', {t}, {t}, {sub}, {t})"
        ))
        .await;
    }
    app.exec(&format!(
        "UPDATE followers SET remark = '老客', phone = '13800000000', gender = 'female', \
         city = '上海', birthday = '1990-05-01', channel = 'poster1' \
         WHERE account_id = {account} AND openid = 'o1'"
    ))
    .await;
    for (name, wx) in [("VIP", 100), ("新客", 101)] {
        app.exec(&format!(
            "INSERT INTO tags (merchant_id, account_id, name, wx_tag_id, created_at, updated_at) \
             VALUES ({m}, {account}, '{name}', {wx}, 0, 0)"
        ))
        .await;
    }
    app.exec(&format!(
        "INSERT INTO follower_tags (merchant_id, account_id, openid, tag_id, tagged_at) \
         SELECT {m}, {account}, 'o1', id, 0 FROM tags WHERE name = 'VIP' AND account_id = {account}"
    ))
    .await;
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_export_has_a_bom_a_header_and_the_filtered_rows() {
    let app = TestApp::spawn().await;
    let m = app.merchant("导出商户").await;
    let account = app.account(m, "导出号").await;
    seed(&app, m, account.id).await;
    let (_, key) = app.api_key(m, "ops", Role::Operator).await;
    let key = app.key(&key);
    let base = format!("/api/v1/accounts/{}/followers/export.csv", account.id);

    let res = key
        .request(Method::GET, &base)
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .is_ok_and(|v| v.starts_with("text/csv"))
    );
    let bytes = res.bytes().await.expect("body");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM first");
    let text = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "openid,关注中,关注时间,首次出现,最近互动,渠道,标签,备注,姓名,手机,性别,生日,城市,unionid"
    );
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[1],
        "o1,是,2026-01-02 11:04,2026-01-02 11:04,2026-01-02 11:04,poster1,VIP,老客,,13800000000,女,1990-05-01,上海,"
    );

    // A filter in the query: only unfollowed.
    let filter = encode(r#"{"conditions":[{"field":"subscribed","value":false}]}"#);
    let (status, text) = read(key.request(Method::GET, &format!("{base}?filter={filter}"))).await;
    assert_eq!(status, StatusCode::OK);
    let rows: Vec<&str> = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with("o2,否,"));

    // A saved segment, and a broken filter explained.
    let (_, seg) = read_json(
        key.request(
            Method::POST,
            &format!("/api/v1/accounts/{}/segments", account.id),
        )
        .json(&json!({"name": "有备注", "filter": {"conditions": [
            {"field": "profile", "name": "remark", "op": "is_set"}]}})),
    )
    .await;
    let sid = seg["id"].as_i64().expect("segment");
    let (_, text) = read(key.request(Method::GET, &format!("{base}?segment={sid}"))).await;
    assert_eq!(text.matches("\r\n").count(), 2, "header and o1: {text}");
    let (status, err) =
        read_json(key.request(Method::GET, &format!("{base}?filter=%7Bnope"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");

    // Another merchant's account: not found.
    let other = app.merchant("别家").await;
    let (_, other_key) = app.api_key(other, "x", Role::Owner).await;
    let (status, _) = read(app.key(&other_key).request(Method::GET, &base)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn an_import_reports_first_and_applies_with_pushes() {
    let app = TestApp::spawn().await;
    let m = app.merchant("导入商户").await;
    let account = app.account(m, "导入号").await;
    seed(&app, m, account.id).await;
    let (_, key) = app.api_key(m, "ops", Role::Operator).await;
    let key = app.key(&key);
    let base = format!("/api/v1/accounts/{}/followers/imports", account.id);
    let csv = "\u{feff}openid,备注,标签,手机,性别,生日\r\n\
               o1,老客,VIP,13800000000,女,1990-05-01\r\n\
               o3,新备注,VIP|新客,+86 139 0000 0000,男,1988-12-31\r\n\
               o9,x,,,,\r\n\
               o2,,不存在,abc,?,1990-02-30\r\n";
    let (status, report) = read_json(
        key.request(Method::POST, &base)
            .header("content-type", "text/csv")
            .body(csv),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["rows"], 4);
    assert_eq!(report["unchanged"], 1, "o1 is as the file says");
    assert_eq!(report["changed"], 1);
    assert_eq!(report["failed"], 2);
    let listed = report["listed"].as_array().expect("rows");
    let o3 = &listed[0];
    assert_eq!(o3["line"], 3);
    assert!(
        o3["changes"]
            .as_array()
            .expect("changes")
            .contains(&json!({"column": "remark", "before": "", "after": "新备注"}))
    );
    assert_eq!(listed[1]["errors"][0]["column"], "openid");
    let o2_errors: Vec<&str> = listed[2]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["column"].as_str())
        .collect();
    assert_eq!(o2_errors, ["tags", "phone", "gender", "birthday"]);
    // Nothing changed yet.
    assert_eq!(
        app.text(&format!(
            "SELECT remark FROM followers WHERE account_id = {} AND openid = 'o3'",
            account.id
        ))
        .await,
        ""
    );

    let iid = report["id"].as_i64().expect("id");
    let (status, _) = read(key.request(Method::POST, &format!("{base}/{iid}/apply"))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = read(key.request(Method::POST, &format!("{base}/{iid}/apply"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "applied once only");
    wait_until("the import is applied", 20, || async {
        app.text(&format!(
            "SELECT status FROM follower_imports WHERE id = {iid}"
        ))
        .await
            == "applied"
    })
    .await;
    let acc = account.id;
    assert_eq!(
        app.text(&format!(
            "SELECT remark || '/' || phone || '/' || gender || '/' || birthday FROM followers \
             WHERE account_id = {acc} AND openid = 'o3'"
        ))
        .await,
        "新备注/+86 139 0000 0000/male/1988-12-31"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM follower_tags WHERE account_id = {acc} AND openid = 'o3'"
        ))
        .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'followers.push_remark' AND payload LIKE '%\"o3\"%'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'tags.push_follower'")
            .await,
        1,
        "only o3's tags changed"
    );
    // o2 had errors: untouched.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM followers WHERE account_id = {acc} AND openid = 'o2' AND phone IS NULL"
        ))
        .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_file_without_openid_or_over_the_limit_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let m = app.merchant("导入商户").await;
    let account = app.account(m, "导入号").await;
    let (_, key) = app.api_key(m, "ops", Role::Owner).await;
    let key = app.key(&key);
    let base = format!("/api/v1/accounts/{}/followers/imports", account.id);
    let (status, err) = read_json(
        key.request(Method::POST, &base)
            .header("accept-language", "en")
            .body("备注,标签\r\nx,y\r\n"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["message"], "The header has no openid column");
    let big = "openid,remark\r\n".to_string() + &"o1,x\r\n".repeat(3_700_000);
    let (status, err) = read_json(key.request(Method::POST, &base).body(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{err}");
    app.stop().await;
}

/// The console's upload form is multipart: its `_csrf` field lets it through, as a browser
/// without JavaScript sends it; without the field it is refused and nothing is stored.
#[tokio::test]
async fn the_console_upload_form_passes_the_csrf_check_by_its_field() {
    let app = TestApp::spawn().await;
    let m = app.merchant("上传商户").await;
    let account = app.account(m, "上传号").await;
    seed(&app, m, account.id).await;
    app.user(m, "uploader", Role::Owner).await;
    let s = app.sign_in("uploader").await;
    let (status, page) = s.get("/followers/import").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("name=\"_csrf\""),
        "the form carries the token"
    );

    let file = || {
        reqwest::multipart::Part::text("openid,备注\r\no3,柜台上传\r\n")
            .file_name("remarks.csv")
            .mime_str("text/csv")
            .expect("a mime type")
    };
    let without = reqwest::multipart::Form::new().part("file", file());
    let (status, _) = read(s.raw(Method::POST, "/followers/import").multipart(without)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no token, no upload");
    let forged = reqwest::multipart::Form::new()
        .text("_csrf", "not-the-token")
        .part("file", file());
    let (status, _) = read(s.raw(Method::POST, "/followers/import").multipart(forged)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a wrong token, no upload");
    assert_eq!(app.count("SELECT COUNT(*) FROM follower_imports").await, 0);

    let form = reqwest::multipart::Form::new()
        .text("_csrf", s.csrf.clone())
        .part("file", file());
    let res = s
        .raw(Method::POST, "/followers/import")
        .multipart(form)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let report = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("to the report")
        .to_string();
    assert!(report.starts_with("/followers/import/"), "{report}");
    let (status, page) = s.get(&report).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("柜台上传"), "the dry run shows the change");
    app.stop().await;
}

/// More followers than one slice of the export: each is written once, in openid order, with
/// its tags (the next slice is read while the current one is written).
#[tokio::test]
async fn an_export_of_several_slices_writes_everyone_once() {
    let app = TestApp::spawn().await;
    let m = app.merchant("大号商户").await;
    let account = app.account(m, "大号").await;
    seed(&app, m, account.id).await;
    let n = 2 * zhanggui::followers::csv::EXPORT_SLICE + 345;
    let a = account.id;
    app.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
         INSERT INTO followers (merchant_id, account_id, openid, first_seen_at, \
         last_interaction_at, subscribed, subscribed_at) \
         SELECT {m}, {a}, 'x' || (1000000 + i), i, i, TRUE, i FROM n"
    ))
    .await;
    app.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 7 UNION ALL SELECT i + 7 FROM n WHERE i + 7 <= {n}) \
         INSERT INTO follower_tags (merchant_id, account_id, openid, tag_id, tagged_at) \
         SELECT {m}, {a}, 'x' || (1000000 + i), t.id, 0 FROM n \
         JOIN tags t ON t.account_id = {a} AND t.name = '新客'"
    ))
    .await;
    let (_, key) = app.api_key(m, "ops", Role::Operator).await;
    let (status, text) = read(app.key(&key).request(
        Method::GET,
        &format!("/api/v1/accounts/{a}/followers/export.csv"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    let openids: Vec<&str> = text
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').next().unwrap_or_default())
        .collect();
    assert_eq!(openids.len() as i64, n + 3, "everyone, once");
    assert!(openids.windows(2).all(|w| w[0] < w[1]), "in openid order");
    let tagged = text.split("\r\n").filter(|l| l.contains(",新客,")).count() as i64;
    assert_eq!(tagged, n / 7);
    app.stop().await;
}
