//! QR codes, temporary media, permanent material, drafts, publishing and article pages, as
//! WeChat answers them: shapes field by field, limits, error codes and account rights.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use common::{START_MS, Wx, errcode};
use serde_json::{Value, json};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------
// Helpers: raw requests (multipart, binary answers, Host headers) through the same sandbox.

/// An answer with its headers and raw bytes.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send_to(router: Router, req: Request<Body>) -> Raw {
    let res = router.oneshot(req).await.expect("router answers");
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024)
        .await
        .expect("body")
        .to_vec();
    Raw {
        status,
        headers,
        body,
    }
}

async fn send(wx: &Wx, req: Request<Body>) -> Raw {
    send_to(sandbox::api_router(wx.sandbox.clone()), req).await
}

async fn get_raw(wx: &Wx, path: &str) -> Raw {
    send(wx, Request::get(path).body(Body::empty()).expect("request")).await
}

/// One part of a multipart form: a file when it has a file name.
struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    bytes: &'a [u8],
}

fn file<'a>(file_name: &'a str, bytes: &'a [u8]) -> Part<'a> {
    Part {
        name: "media",
        file_name: Some(file_name),
        bytes,
    }
}

const BOUNDARY: &str = "----sandboxtestboundary7MA4YWxkTrZu0gW";

fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        body.extend(format!("--{BOUNDARY}\r\n").as_bytes());
        match p.file_name {
            Some(f) => body.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n",
                    p.name
                )
                .as_bytes(),
            ),
            None => body.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    p.name
                )
                .as_bytes(),
            ),
        }
        body.extend(p.bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn multipart_request(url: &str, parts: &[Part]) -> Request<Body> {
    Request::post(url)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(multipart(parts)))
        .expect("request")
}

/// POSTs a multipart form to `path` (with its own query) as `app`.
async fn upload(wx: &Wx, app: &str, path_and_query: &str, parts: &[Part<'_>]) -> Value {
    let token = wx.cached_token(app).await;
    let sep = if path_and_query.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!("{path_and_query}{sep}access_token={token}");
    send(wx, multipart_request(&url, parts)).await.json()
}

/// A real PNG of `side`×`side` grey pixels.
fn png_bytes(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("png header");
    writer
        .write_image_data(&vec![128u8; (side * side) as usize])
        .expect("png data");
    writer.finish().expect("png end");
    out
}

/// Bytes that start as a JPEG does (WeChat's checks look at the format, not the pixels).
fn jpeg_bytes(len: usize) -> Vec<u8> {
    let mut b = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec();
    b.resize(len.max(b.len()), 0x42);
    b
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

async fn permanent_image(wx: &Wx, app: &str) -> String {
    let v = upload(
        wx,
        app,
        "/cgi-bin/material/add_material?type=image",
        &[file("cover.jpg", &jpeg_bytes(2048))],
    )
    .await;
    v["media_id"].as_str().expect("media_id").to_string()
}

// ---------------------------------------------------------------------------------------
// QR codes.

#[tokio::test]
async fn temporary_and_permanent_codes_answer_as_wechat_documents() {
    let wx = Wx::new();
    // WeChat's documented example request.
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/qrcode/create",
            Some(&json!({"expire_seconds": 604800, "action_name": "QR_SCENE",
                         "action_info": {"scene": {"scene_id": 123}}})),
        )
        .await;
    assert_eq!(
        keys(&v),
        sorted(&["ticket", "expire_seconds", "url"]),
        "{v}"
    );
    assert_eq!(v["expire_seconds"], 604800);
    let url = v["url"].as_str().expect("url");
    assert!(url.starts_with("http://weixin.qq.com/q/02"), "{url}");
    assert_eq!(url.len(), "http://weixin.qq.com/q/".len() + 22);
    assert!(v["ticket"].as_str().is_some_and(|t| t.starts_with("gQ")));

    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/qrcode/create",
            Some(&json!({"action_name": "QR_STR_SCENE",
                         "action_info": {"scene": {"scene_str": "poster"}}})),
        )
        .await;
    assert_eq!(v["expire_seconds"], 60, "60 s when left out: {v}");

    let limit = json!({"action_name": "QR_LIMIT_STR_SCENE",
                       "action_info": {"scene": {"scene_str": "counter-1"}}});
    let a = wx
        .call("wxservice", "/cgi-bin/qrcode/create", Some(&limit))
        .await;
    assert_eq!(keys(&a), sorted(&["ticket", "url"]), "permanent: {a}");
    let b = wx
        .call("wxservice", "/cgi-bin/qrcode/create", Some(&limit))
        .await;
    assert_eq!(a, b, "a permanent scene keeps its ticket");
    let c = wx
        .call(
            "wxservice",
            "/cgi-bin/qrcode/create",
            Some(&json!({"action_name": "QR_LIMIT_SCENE",
                         "action_info": {"scene": {"scene_id": 100000}}})),
        )
        .await;
    assert_ne!(a["ticket"], c["ticket"]);
}

#[tokio::test]
async fn qr_requests_are_refused_with_wechats_codes() {
    let wx = Wx::new();
    let create = |body: Value| {
        let wx = &wx;
        async move {
            errcode(
                &wx.call("wxservice", "/cgi-bin/qrcode/create", Some(&body))
                    .await,
            )
        }
    };
    let scene = |s: Value| json!({"scene": s});
    assert_eq!(
        create(json!({"action_name": "QR_FOREVER", "action_info": scene(json!({"scene_id": 1}))}))
            .await,
        40052
    );
    assert_eq!(
        create(json!({"action_info": scene(json!({"scene_id": 1}))})).await,
        40052
    );
    assert_eq!(create(json!({"action_name": "QR_SCENE"})).await, 40053);
    for bad in [
        json!({"scene_id": 0}),
        json!({"scene_id": -5}),
        json!({"scene_str": "7"}),
        json!({"scene_id": 4_294_967_296_i64}),
    ] {
        assert_eq!(
            create(json!({"action_name": "QR_SCENE", "action_info": scene(bad.clone())})).await,
            40053,
            "{bad}"
        );
    }
    assert_eq!(
        create(json!({"action_name": "QR_LIMIT_SCENE", "action_info": scene(json!({"scene_id": 100001}))}))
            .await,
        40053
    );
    for bad in [
        json!({"scene_str": ""}),
        json!({"scene_str": "x".repeat(65)}),
        json!({}),
    ] {
        assert_eq!(
            create(json!({"action_name": "QR_LIMIT_STR_SCENE", "action_info": scene(bad.clone())}))
                .await,
            40053,
            "{bad}"
        );
    }
    assert_eq!(
        create(json!({"action_name": "QR_LIMIT_STR_SCENE",
                      "action_info": scene(json!({"scene_str": "码".repeat(64)}))}))
        .await,
        0,
        "64 characters are allowed"
    );
    for expire in [json!(2_592_001), json!(0), json!(-1)] {
        assert_eq!(
            create(json!({"expire_seconds": expire, "action_name": "QR_SCENE",
                          "action_info": scene(json!({"scene_id": 9}))}))
            .await,
            40097,
            "{expire}"
        );
    }
    assert_eq!(
        create(
            json!({"expire_seconds": 2_592_000, "action_name": "QR_SCENE",
                      "action_info": scene(json!({"scene_id": 9}))})
        )
        .await,
        0
    );
    let token = wx.cached_token("wxservice").await;
    let (_, v) = wx
        .post_raw(
            &format!("/cgi-bin/qrcode/create?access_token={token}"),
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(errcode(&v), 47001, "{v}");
}

#[tokio::test]
async fn the_permanent_code_limit_is_enforced() {
    let wx = Wx::new();
    // 100,000 codes through HTTP would take minutes: start just under the limit.
    wx.sandbox
        .docs
        .set(
            "wxservice",
            "qrcode_permanent_count",
            "count",
            &json!({"count": 99_999}),
        )
        .await
        .expect("seed");
    let make = |n: u32| {
        let wx = &wx;
        async move {
            wx.call(
                "wxservice",
                "/cgi-bin/qrcode/create",
                Some(&json!({"action_name": "QR_LIMIT_SCENE",
                             "action_info": {"scene": {"scene_id": n}}})),
            )
            .await
        }
    };
    let last = make(1).await;
    assert_eq!(errcode(&last), 0, "the 100,000th code: {last}");
    assert_eq!(errcode(&make(2).await), 40097, "the 100,001st code");
    assert_eq!(make(1).await, last, "an existing scene is not a new code");
}

#[tokio::test]
async fn qr_codes_need_a_verified_service_account() {
    let wx = Wx::new();
    let body = json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 1}}});
    for app in ["wxsubscribe", "wxunverifiedsvc", "wxpersonal"] {
        let v = wx.call(app, "/cgi-bin/qrcode/create", Some(&body)).await;
        assert_eq!(errcode(&v), 48001, "{app}: {v}");
    }
    let v = wx
        .call("wxservice", "/cgi-bin/qrcode/create", Some(&body))
        .await;
    assert_eq!(errcode(&v), 0, "{v}");
}

/// The text of the QR code in a PNG, read as a phone's camera would.
fn scan(png_data: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_data));
    let mut reader = decoder.read_info().expect("png info");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    assert!(w >= 300, "about WeChat's 430 px: {w}");
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (_, text) = grids[0].decode().expect("decodes");
    text
}

#[tokio::test]
async fn showqrcode_serves_a_scannable_png_until_the_code_expires() {
    let wx = Wx::new();
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/qrcode/create",
            Some(
                &json!({"expire_seconds": 120, "action_name": "QR_STR_SCENE",
                         "action_info": {"scene": {"scene_str": "table-7"}}}),
            ),
        )
        .await;
    let ticket = v["ticket"].as_str().expect("ticket").to_string();
    let query = serde_urlencoded::to_string([("ticket", &ticket)]).expect("query");
    let res = get_raw(&wx, &format!("/cgi-bin/showqrcode?{query}")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.content_type(), "image/png");
    assert_eq!(scan(&res.body), v["url"].as_str().expect("url"));

    let scanned = sandbox::qrcode::scene_of_ticket(&wx.sandbox, &ticket)
        .await
        .expect("lookup");
    assert_eq!(
        scanned,
        Some(("wxservice".to_string(), "table-7".to_string(), false))
    );

    let unknown = get_raw(&wx, "/cgi-bin/showqrcode?ticket=gQnotaticket").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    wx.advance_ms(120_000);
    let expired = get_raw(&wx, &format!("/cgi-bin/showqrcode?{query}")).await;
    assert_eq!(expired.status, StatusCode::NOT_FOUND);
    let scanned = sandbox::qrcode::scene_of_ticket(&wx.sandbox, &ticket)
        .await
        .expect("lookup");
    assert_eq!(scanned, None, "an expired code scans as nothing");
}

#[tokio::test]
async fn permanent_codes_scan_with_their_scene_id_forever() {
    let wx = Wx::new();
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/qrcode/create",
            Some(&json!({"action_name": "QR_LIMIT_SCENE",
                         "action_info": {"scene": {"scene_id": "42"}}})),
        )
        .await;
    let ticket = v["ticket"].as_str().expect("ticket");
    wx.advance_ms(400 * 86_400_000);
    let scanned = sandbox::qrcode::scene_of_ticket(&wx.sandbox, ticket)
        .await
        .expect("lookup");
    assert_eq!(
        scanned,
        Some(("wxservice".to_string(), "42".to_string(), true))
    );
}

// ---------------------------------------------------------------------------------------
// Temporary media.

#[tokio::test]
async fn uploaded_media_answer_as_wechat_documents_and_come_back() {
    let wx = Wx::new();
    let jpeg = jpeg_bytes(5000);
    let v = upload(
        &wx,
        "wxservice",
        "/cgi-bin/media/upload?type=image",
        &[file("photo.jpg", &jpeg)],
    )
    .await;
    assert_eq!(keys(&v), sorted(&["type", "media_id", "created_at"]), "{v}");
    assert_eq!(v["type"], "image");
    assert_eq!(v["created_at"], START_MS / 1000);
    let media_id = v["media_id"].as_str().expect("media_id");
    assert_eq!(media_id.len(), 64);

    let token = wx.cached_token("wxservice").await;
    let got = get_raw(
        &wx,
        &format!("/cgi-bin/media/get?access_token={token}&media_id={media_id}"),
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.content_type(), "image/jpeg");
    assert_eq!(got.body, jpeg);
    let disposition = got
        .headers
        .get(header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"{media_id}.jpg\"")
    );

    let thumb = upload(
        &wx,
        "wxservice",
        "/cgi-bin/media/upload?type=thumb",
        &[file("t.jpg", &jpeg_bytes(64 * 1024))],
    )
    .await;
    assert_eq!(
        keys(&thumb),
        sorted(&["type", "thumb_media_id", "created_at"]),
        "{thumb}"
    );
    assert_eq!(thumb["type"], "thumb");

    let voice = upload(
        &wx,
        "wxservice",
        "/cgi-bin/media/upload?type=voice",
        &[file("hello.amr", b"#!AMR\nvoice")],
    )
    .await;
    assert_eq!(voice["type"], "voice", "{voice}");
    let got = get_raw(
        &wx,
        &format!(
            "/cgi-bin/media/get?access_token={token}&media_id={}",
            voice["media_id"].as_str().expect("id")
        ),
    )
    .await;
    assert_eq!(got.content_type(), "audio/amr");

    let mp4 = b"\x00\x00\x00\x18ftypmp42rest-of-video".to_vec();
    let video = upload(
        &wx,
        "wxservice",
        "/cgi-bin/media/upload?type=video",
        &[file("clip.mp4", &mp4)],
    )
    .await;
    let got = wx
        .call(
            "wxservice",
            &format!(
                "/cgi-bin/media/get?media_id={}",
                video["media_id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(
        keys(&got),
        sorted(&["video_url"]),
        "videos answer with a URL: {got}"
    );
    let video_url = got["video_url"].as_str().expect("url");
    let path = video_url
        .strip_prefix("http://localhost")
        .expect("absolute");
    let fetched = get_raw(&wx, path).await;
    assert_eq!(fetched.body, mp4);
    assert_eq!(fetched.content_type(), "video/mp4");
}

async fn get_media(wx: &Wx, id: String) -> Raw {
    // Days pass in this test: a fresh token each time.
    let token = wx.token("wxsubscribe").await;
    get_raw(
        wx,
        &format!("/cgi-bin/media/get?access_token={token}&media_id={id}"),
    )
    .await
}

#[tokio::test]
async fn media_live_three_days() {
    let wx = Wx::new();
    let v = upload(
        &wx,
        "wxsubscribe",
        "/cgi-bin/media/upload?type=image",
        &[file("a.png", &png_bytes(4))],
    )
    .await;
    let media_id = v["media_id"].as_str().expect("id").to_string();
    wx.advance_ms(3 * 86_400_000 - 1000);
    let got = get_media(&wx, media_id.clone()).await;
    assert_eq!(got.content_type(), "image/png");
    wx.advance_ms(1000);
    let got = get_media(&wx, media_id).await;
    assert_eq!(
        errcode(&got.json()),
        40007,
        "expired after 3 days: {}",
        got.text()
    );
    assert_eq!(errcode(&get_media(&wx, "nope".into()).await.json()), 40007);
    let token = wx.token("wxsubscribe").await;
    let (_, v) = wx
        .get(&format!("/cgi-bin/media/get?access_token={token}"))
        .await;
    assert_eq!(errcode(&v), 41006, "{v}");
}

#[tokio::test]
async fn uploads_are_refused_with_wechats_codes() {
    let wx = Wx::new();
    let up = |query: &'static str, parts: Vec<Part<'static>>| {
        let wx = &wx;
        async move {
            errcode(
                &upload(
                    wx,
                    "wxservice",
                    &format!("/cgi-bin/media/upload{query}"),
                    &parts,
                )
                .await,
            )
        }
    };
    static JPEG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| jpeg_bytes(100));
    static BIG_THUMB: std::sync::LazyLock<Vec<u8>> =
        std::sync::LazyLock::new(|| jpeg_bytes(64 * 1024 + 1));
    static BIG_VOICE: std::sync::LazyLock<Vec<u8>> =
        std::sync::LazyLock::new(|| [b"ID3".as_slice(), &vec![0u8; 2 * 1024 * 1024]].concat());
    static BIG_IMAGE: std::sync::LazyLock<Vec<u8>> =
        std::sync::LazyLock::new(|| jpeg_bytes(10 * 1024 * 1024 + 1));
    static SMALL_PNG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| png_bytes(2));
    static HUGE_IMAGE: std::sync::LazyLock<Vec<u8>> =
        std::sync::LazyLock::new(|| jpeg_bytes(12 * 1024 * 1024));
    assert_eq!(up("", vec![file("a.jpg", &JPEG)]).await, 40004, "no type");
    assert_eq!(up("?type=file", vec![file("a.jpg", &JPEG)]).await, 40004);
    assert_eq!(up("?type=image", vec![]).await, 41005, "no media field");
    let other_field = Part {
        name: "file",
        file_name: None,
        bytes: b"x",
    };
    assert_eq!(up("?type=image", vec![other_field]).await, 41005);
    assert_eq!(up("?type=image", vec![file("a.jpg", b"")]).await, 44001);
    assert_eq!(
        up("?type=image", vec![file("a.jpg", b"plain text")]).await,
        40005
    );
    assert_eq!(
        up("?type=image", vec![file("a.mp4", b"\0\0\0\x18ftypmp42")]).await,
        40005
    );
    assert_eq!(
        up("?type=voice", vec![file("a.wav", b"RIFF....WAVE")]).await,
        40005
    );
    assert_eq!(
        up("?type=video", vec![file("a.avi", b"RIFF....AVI ")]).await,
        40005
    );
    assert_eq!(
        up("?type=thumb", vec![file("a.png", &SMALL_PNG)]).await,
        40005
    );
    assert_eq!(
        up("?type=thumb", vec![file("a.jpg", &BIG_THUMB)]).await,
        40006
    );
    assert_eq!(
        up("?type=voice", vec![file("a.mp3", &BIG_VOICE)]).await,
        40006
    );
    assert_eq!(
        up("?type=image", vec![file("a.jpg", &BIG_IMAGE)]).await,
        40006
    );
    assert_eq!(
        up("?type=image", vec![file("a.jpg", &HUGE_IMAGE)]).await,
        40006
    );

    let token = wx.cached_token("wxservice").await;
    let not_multipart = wx
        .post(
            &format!("/cgi-bin/media/upload?type=image&access_token={token}"),
            &json!({"media": "x"}),
        )
        .await
        .1;
    assert_eq!(errcode(&not_multipart), 41005, "{not_multipart}");
}

#[tokio::test]
async fn media_need_a_verified_account() {
    let wx = Wx::new();
    let jpeg = jpeg_bytes(100);
    for app in ["wxpersonal", "wxunverifiedsvc"] {
        let v = upload(
            &wx,
            app,
            "/cgi-bin/media/upload?type=image",
            &[file("a.jpg", &jpeg)],
        )
        .await;
        assert_eq!(errcode(&v), 48001, "{app}: {v}");
        let v = upload(
            &wx,
            app,
            "/cgi-bin/media/uploadimg",
            &[file("a.jpg", &jpeg)],
        )
        .await;
        assert_eq!(errcode(&v), 48001, "{app}: {v}");
    }
    let v = upload(
        &wx,
        "wxsubscribe",
        "/cgi-bin/media/upload?type=image",
        &[file("a.jpg", &jpeg)],
    )
    .await;
    assert_eq!(errcode(&v), 0, "{v}");
}

#[tokio::test]
async fn article_images_get_an_absolute_url_that_serves_them() {
    let wx = Wx::new();
    let image = png_bytes(8);
    let v = upload(
        &wx,
        "wxservice",
        "/cgi-bin/media/uploadimg",
        &[file("in-body.png", &image)],
    )
    .await;
    assert_eq!(keys(&v), sorted(&["url"]), "{v}");
    let url = v["url"].as_str().expect("url");
    let path = url.strip_prefix("http://localhost").expect("absolute");
    let served = get_raw(&wx, path).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.content_type(), "image/png");
    assert_eq!(served.body, image);

    let gif = b"GIF89a....".to_vec();
    let v = upload(
        &wx,
        "wxservice",
        "/cgi-bin/media/uploadimg",
        &[file("a.gif", &gif)],
    )
    .await;
    assert_eq!(errcode(&v), 40005, "only jpg and png: {v}");
    let big = jpeg_bytes(1024 * 1024 + 1);
    let v = upload(
        &wx,
        "wxservice",
        "/cgi-bin/media/uploadimg",
        &[file("a.jpg", &big)],
    )
    .await;
    assert_eq!(errcode(&v), 40006, "at most 1 MB: {v}");
    let count = wx
        .call("wxservice", "/cgi-bin/material/get_materialcount", None)
        .await;
    assert_eq!(count["image_count"], 0, "not counted as material");
}

#[tokio::test]
async fn urls_follow_the_host_and_the_sandbox_prefix() {
    let wx = Wx::new();
    let token = wx.cached_token("wxservice").await;
    let mounted = Router::new().nest("/sandbox", sandbox::api_router(wx.sandbox.clone()));
    let mut req = multipart_request(
        &format!("/sandbox/cgi-bin/media/uploadimg?access_token={token}"),
        &[file("a.png", &png_bytes(2))],
    );
    req.headers_mut()
        .insert(header::HOST, "shop.example:8080".parse().expect("host"));
    let v = send_to(mounted.clone(), req).await.json();
    let url = v["url"].as_str().expect("url");
    let path = url
        .strip_prefix("http://shop.example:8080/sandbox/mmbiz/img/wxservice/")
        .map(|id| format!("/sandbox/mmbiz/img/wxservice/{id}"))
        .unwrap_or_else(|| panic!("host and prefix: {url}"));
    let served = send_to(
        mounted,
        Request::get(path).body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(served.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// Permanent material.

#[tokio::test]
async fn materials_are_added_read_counted_listed_and_deleted() {
    let wx = Wx::new();
    let jpeg = jpeg_bytes(3000);
    let image = upload(
        &wx,
        "wxsubscribe",
        "/cgi-bin/material/add_material?type=image",
        &[file("logo.jpg", &jpeg)],
    )
    .await;
    assert_eq!(keys(&image), sorted(&["media_id", "url"]), "{image}");
    let image_id = image["media_id"].as_str().expect("id").to_string();
    let image_url = image["url"].as_str().expect("url");
    assert!(image_url.starts_with("http://localhost/mmbiz/material/wxsubscribe/"));

    let voice = upload(
        &wx,
        "wxsubscribe",
        "/cgi-bin/material/add_material?type=voice",
        &[file("v.wav", b"RIFF....WAVE")],
    )
    .await;
    assert_eq!(
        keys(&voice),
        sorted(&["media_id"]),
        "only images have a url: {voice}"
    );

    let mp4 = b"\x00\x00\x00\x18ftypmp42video".to_vec();
    let no_description = upload(
        &wx,
        "wxsubscribe",
        "/cgi-bin/material/add_material?type=video",
        &[file("a.mp4", &mp4)],
    )
    .await;
    assert_eq!(errcode(&no_description), 40097, "{no_description}");
    let description = json!({"title": "开业视频", "introduction": "门店开业"}).to_string();
    let video = upload(
        &wx,
        "wxsubscribe",
        "/cgi-bin/material/add_material?type=video",
        &[
            file("a.mp4", &mp4),
            Part {
                name: "description",
                file_name: None,
                bytes: description.as_bytes(),
            },
        ],
    )
    .await;
    assert_eq!(keys(&video), sorted(&["media_id"]), "{video}");

    let thumb = upload(
        &wx,
        "wxsubscribe",
        "/cgi-bin/material/add_material?type=thumb",
        &[file("t.jpg", &jpeg_bytes(1000))],
    )
    .await;
    assert_eq!(keys(&thumb), sorted(&["media_id", "url"]), "{thumb}");

    // get_material: bytes for images, a description and a URL for videos.
    let token = wx.cached_token("wxsubscribe").await;
    let got = send(
        &wx,
        Request::post(format!(
            "/cgi-bin/material/get_material?access_token={token}"
        ))
        .body(Body::from(json!({"media_id": image_id}).to_string()))
        .expect("req"),
    )
    .await;
    assert_eq!(got.content_type(), "image/jpeg");
    assert_eq!(got.body, jpeg);
    let v = wx
        .call(
            "wxsubscribe",
            "/cgi-bin/material/get_material",
            Some(&json!({"media_id": video["media_id"]})),
        )
        .await;
    assert_eq!(
        keys(&v),
        sorted(&["title", "description", "down_url"]),
        "{v}"
    );
    assert_eq!(v["title"], "开业视频");
    assert_eq!(v["description"], "门店开业");
    let down = get_raw(
        &wx,
        v["down_url"]
            .as_str()
            .and_then(|u| u.strip_prefix("http://localhost"))
            .expect("url"),
    )
    .await;
    assert_eq!(down.body, mp4);

    let count = wx
        .call("wxsubscribe", "/cgi-bin/material/get_materialcount", None)
        .await;
    assert_eq!(
        count,
        json!({"voice_count": 1, "video_count": 1, "image_count": 2, "news_count": 0})
    );

    let list = wx
        .call(
            "wxsubscribe",
            "/cgi-bin/material/batchget_material",
            Some(&json!({"type": "image", "offset": 0, "count": 20})),
        )
        .await;
    assert_eq!(
        keys(&list),
        sorted(&["total_count", "item_count", "item"]),
        "{list}"
    );
    assert_eq!(list["total_count"], 2);
    assert_eq!(list["item_count"], 2);
    let first = &list["item"][0];
    assert_eq!(
        keys(first),
        sorted(&["media_id", "name", "update_time", "url"])
    );
    assert_eq!(first["media_id"], thumb["media_id"], "newest first");
    assert_eq!(list["item"][1]["name"], "logo.jpg");
    assert_eq!(list["item"][1]["update_time"], START_MS / 1000);
    assert_eq!(list["item"][1]["url"], image_url);
    let page2 = wx
        .call(
            "wxsubscribe",
            "/cgi-bin/material/batchget_material",
            Some(&json!({"type": "image", "offset": 1, "count": 1})),
        )
        .await;
    assert_eq!(
        (page2["total_count"].clone(), page2["item_count"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(page2["item"][0]["media_id"], image_id);
    let news = wx
        .call(
            "wxsubscribe",
            "/cgi-bin/material/batchget_material",
            Some(&json!({"type": "news", "offset": 0, "count": 10})),
        )
        .await;
    assert_eq!(news, json!({"total_count": 0, "item_count": 0, "item": []}));
    for bad in [
        json!({"type": "image", "offset": 0, "count": 21}),
        json!({"type": "image", "offset": 0, "count": 0}),
    ] {
        let v = wx
            .call(
                "wxsubscribe",
                "/cgi-bin/material/batchget_material",
                Some(&bad),
            )
            .await;
        assert_eq!(errcode(&v), 40097, "{bad}: {v}");
    }
    let v = wx
        .call(
            "wxsubscribe",
            "/cgi-bin/material/batchget_material",
            Some(&json!({"type": "file", "offset": 0, "count": 1})),
        )
        .await;
    assert_eq!(errcode(&v), 40004, "{v}");

    let del = wx
        .call(
            "wxsubscribe",
            "/cgi-bin/material/del_material",
            Some(&json!({"media_id": image_id})),
        )
        .await;
    assert_eq!(del, json!({"errcode": 0, "errmsg": "ok"}));
    for path in [
        "/cgi-bin/material/del_material",
        "/cgi-bin/material/get_material",
    ] {
        let v = wx
            .call("wxsubscribe", path, Some(&json!({"media_id": image_id})))
            .await;
        assert_eq!(errcode(&v), 40007, "{path}: {v}");
    }
    let count = wx
        .call("wxsubscribe", "/cgi-bin/material/get_materialcount", None)
        .await;
    assert_eq!(count["image_count"], 1);
}

#[tokio::test]
async fn material_formats_sizes_and_counts_are_limited() {
    let wx = Wx::new();
    let add = |query: &'static str, name: &'static str, bytes: Vec<u8>| {
        let wx = &wx;
        async move {
            upload(
                wx,
                "wxservice",
                &format!("/cgi-bin/material/add_material{query}"),
                &[file(name, &bytes)],
            )
            .await
        }
    };
    assert_eq!(
        errcode(&add("?type=news", "a.jpg", jpeg_bytes(10)).await),
        40004
    );
    assert_eq!(
        errcode(&add("?type=image", "a.txt", b"hello".to_vec()).await),
        40005
    );
    assert_eq!(
        errcode(&add("?type=thumb", "a.jpg", jpeg_bytes(64 * 1024 + 1)).await),
        40006
    );
    assert_eq!(
        errcode(&add("?type=image", "a.jpg", jpeg_bytes(10 * 1024 * 1024 + 1)).await),
        40006
    );
    // 1,000 voices, then no more until one is deleted.
    let mut last = Value::Null;
    for _ in 0..1000 {
        last = add("?type=voice", "v.mp3", b"ID3voice".to_vec()).await;
        assert_eq!(errcode(&last), 0, "{last}");
    }
    let refused = add("?type=voice", "v.mp3", b"ID3voice".to_vec()).await;
    assert_eq!(errcode(&refused), 45001, "{refused}");
    assert_eq!(
        errcode(&add("?type=image", "a.jpg", jpeg_bytes(10)).await),
        0,
        "images have their own limit"
    );
    wx.call(
        "wxservice",
        "/cgi-bin/material/del_material",
        Some(&json!({"media_id": last["media_id"]})),
    )
    .await;
    assert_eq!(
        errcode(&add("?type=voice", "v.mp3", b"ID3voice".to_vec()).await),
        0
    );
}

#[tokio::test]
async fn material_needs_a_verified_account() {
    let wx = Wx::new();
    for app in ["wxpersonal", "wxunverifiedsvc"] {
        let v = upload(
            &wx,
            app,
            "/cgi-bin/material/add_material?type=image",
            &[file("a.jpg", &jpeg_bytes(10))],
        )
        .await;
        assert_eq!(errcode(&v), 48001, "{app}: {v}");
        let v = wx
            .call(app, "/cgi-bin/material/get_materialcount", None)
            .await;
        assert_eq!(errcode(&v), 48001, "{app}: {v}");
    }
}

// ---------------------------------------------------------------------------------------
// Drafts.

fn article(thumb: &str) -> Value {
    // WeChat's documented draft/add example, with a real cover.
    json!({
        "title": "新品上市 <限时>",
        "author": "掌柜",
        "digest": "本周新品",
        "content": "<p>欢迎光临，<strong>全场八折</strong>。</p>",
        "content_source_url": "https://shop.example/new",
        "thumb_media_id": thumb,
        "need_open_comment": 1,
        "only_fans_can_comment": 0
    })
}

#[tokio::test]
async fn drafts_are_added_read_updated_counted_listed_and_deleted() {
    let wx = Wx::new();
    let thumb = permanent_image(&wx, "wxservice").await;
    let added = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/add",
            Some(&json!({"articles": [article(&thumb)]})),
        )
        .await;
    assert_eq!(keys(&added), sorted(&["media_id"]), "{added}");
    let media_id = added["media_id"].as_str().expect("id").to_string();

    let got = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/get",
            Some(&json!({"media_id": media_id})),
        )
        .await;
    let item = &got["news_item"][0];
    assert_eq!(
        keys(item),
        sorted(&[
            "article_type",
            "title",
            "author",
            "digest",
            "content",
            "content_source_url",
            "thumb_media_id",
            "show_cover_pic",
            "need_open_comment",
            "only_fans_can_comment",
            "url",
            "thumb_url"
        ]),
        "{got}"
    );
    assert_eq!(item["article_type"], "news");
    assert_eq!(item["title"], "新品上市 <限时>");
    assert_eq!(item["author"], "掌柜");
    assert_eq!(item["digest"], "本周新品");
    assert_eq!(
        item["content"],
        "<p>欢迎光临，<strong>全场八折</strong>。</p>"
    );
    assert_eq!(item["content_source_url"], "https://shop.example/new");
    assert_eq!(item["thumb_media_id"], thumb.as_str());
    assert_eq!(item["need_open_comment"], 1);
    assert_eq!(item["only_fans_can_comment"], 0);
    let preview = item["url"].as_str().expect("url");
    let page = get_raw(
        &wx,
        preview.strip_prefix("http://localhost").expect("absolute"),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("新品上市 &lt;限时&gt;"),
        "{}",
        page.text()
    );
    let thumb_url = item["thumb_url"].as_str().expect("thumb_url");
    assert!(thumb_url.ends_with(&thumb), "{thumb_url}");

    // A single article without a digest gets the first 54 characters of its text.
    let long_text = "字".repeat(60);
    let mut no_digest = article(&thumb);
    no_digest["digest"] = json!("");
    no_digest["content"] = json!(format!("<p>{long_text}</p>"));
    let second = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/add",
            Some(&json!({"articles": [no_digest]})),
        )
        .await;
    let got2 = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/get",
            Some(&json!({"media_id": second["media_id"]})),
        )
        .await;
    assert_eq!(got2["news_item"][0]["digest"], "字".repeat(54));

    let mut changed = article(&thumb);
    changed["title"] = json!("改过的标题");
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/update",
            Some(&json!({"media_id": media_id, "index": 0, "articles": changed})),
        )
        .await;
    assert_eq!(v, json!({"errcode": 0, "errmsg": "ok"}));
    let got = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/get",
            Some(&json!({"media_id": media_id})),
        )
        .await;
    assert_eq!(got["news_item"][0]["title"], "改过的标题");
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/update",
            Some(&json!({"media_id": media_id, "index": 1, "articles": article(&thumb)})),
        )
        .await;
    assert_eq!(errcode(&v), 40060, "{v}");
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/update",
            Some(&json!({"media_id": "nope", "index": 0, "articles": article(&thumb)})),
        )
        .await;
    assert_eq!(errcode(&v), 40007, "{v}");

    let count = wx.call("wxservice", "/cgi-bin/draft/count", None).await;
    assert_eq!(count, json!({"total_count": 2}));

    let list = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/batchget",
            Some(&json!({"offset": 0, "count": 20, "no_content": 0})),
        )
        .await;
    assert_eq!(
        keys(&list),
        sorted(&["total_count", "item_count", "item"]),
        "{list}"
    );
    assert_eq!(
        (list["total_count"].clone(), list["item_count"].clone()),
        (json!(2), json!(2))
    );
    let entry = &list["item"][1];
    assert_eq!(keys(entry), sorted(&["media_id", "content", "update_time"]));
    assert_eq!(entry["media_id"], media_id.as_str(), "newest first");
    assert_eq!(
        keys(&entry["content"]),
        sorted(&["news_item", "create_time", "update_time"])
    );
    assert_eq!(entry["content"]["news_item"][0]["title"], "改过的标题");
    let bare = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/batchget",
            Some(&json!({"offset": 1, "count": 1, "no_content": 1})),
        )
        .await;
    assert_eq!(bare["item_count"], 1);
    assert!(
        bare["item"][0]["content"]["news_item"][0]
            .get("content")
            .is_none(),
        "{bare}"
    );
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/batchget",
            Some(&json!({"offset": 0, "count": 21})),
        )
        .await;
    assert_eq!(errcode(&v), 40097);

    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/delete",
            Some(&json!({"media_id": media_id})),
        )
        .await;
    assert_eq!(v, json!({"errcode": 0, "errmsg": "ok"}));
    for path in ["/cgi-bin/draft/get", "/cgi-bin/draft/delete"] {
        let v = wx
            .call("wxservice", path, Some(&json!({"media_id": media_id})))
            .await;
        assert_eq!(errcode(&v), 40007, "{path}: {v}");
    }
    assert_eq!(
        wx.call("wxservice", "/cgi-bin/draft/count", None).await["total_count"],
        1
    );
}

#[tokio::test]
async fn drafts_are_refused_with_wechats_codes() {
    let wx = Wx::new();
    let thumb = permanent_image(&wx, "wxservice").await;
    let add = |articles: Value| {
        let wx = &wx;
        async move {
            errcode(
                &wx.call(
                    "wxservice",
                    "/cgi-bin/draft/add",
                    Some(&json!({"articles": articles})),
                )
                .await,
            )
        }
    };
    let with = |field: &str, value: Value| {
        let mut a = article(&thumb);
        a[field] = value;
        json!([a])
    };
    assert_eq!(add(json!([])).await, 44003);
    assert_eq!(add(json!(vec![article(&thumb); 9])).await, 45008);
    assert_eq!(
        add(json!(vec![article(&thumb); 8])).await,
        0,
        "8 articles are allowed"
    );
    assert_eq!(add(with("title", json!(""))).await, 40227);
    assert_eq!(add(with("title", json!("标".repeat(33)))).await, 45003);
    assert_eq!(add(with("author", json!("作".repeat(17)))).await, 45110);
    assert_eq!(add(with("digest", json!("摘".repeat(129)))).await, 45004);
    assert_eq!(add(with("content", json!(""))).await, 44003);
    assert_eq!(
        add(with("content", json!("字".repeat(20_000)))).await,
        45002
    );
    assert_eq!(
        add(with("content_source_url", json!("u".repeat(1025)))).await,
        45005
    );
    assert_eq!(add(with("thumb_media_id", json!(""))).await, 40007);
    assert_eq!(add(with("need_open_comment", json!(3))).await, 40097);
    // The cover must be permanent: a temporary image is not accepted.
    let temp = upload(
        &wx,
        "wxservice",
        "/cgi-bin/media/upload?type=image",
        &[file("t.jpg", &jpeg_bytes(10))],
    )
    .await;
    assert_eq!(
        add(with("thumb_media_id", temp["media_id"].clone())).await,
        40007
    );
    // Nor another account's.
    let foreign = permanent_image(&wx, "wxsubscribe").await;
    assert_eq!(add(with("thumb_media_id", json!(foreign))).await, 40007);
    // A voice is no cover.
    let voice = upload(
        &wx,
        "wxservice",
        "/cgi-bin/material/add_material?type=voice",
        &[file("v.mp3", b"ID3v")],
    )
    .await;
    assert_eq!(
        add(with("thumb_media_id", voice["media_id"].clone())).await,
        40007
    );
    // Picture articles take their pictures from image_info instead of a cover.
    let newspic = json!([{"article_type": "newspic", "title": "图集", "content": "三张图",
                          "image_info": {"image_list": [{"image_media_id": thumb}]}}]);
    assert_eq!(add(newspic).await, 0);
    let empty_pics = json!([{"article_type": "newspic", "title": "图集", "content": "x",
                             "image_info": {"image_list": []}}]);
    assert_eq!(add(empty_pics).await, 40097);
    let raw = wx.cached_token("wxservice").await;
    let (_, v) = wx
        .post_raw(
            &format!("/cgi-bin/draft/add?access_token={raw}"),
            br#"{"articles":[{"title":"\u6807\u9898","content":"x"}]}"#.to_vec(),
        )
        .await;
    assert_eq!(errcode(&v), 40033, "{v}");
}

// ---------------------------------------------------------------------------------------
// Publishing and article pages.

#[tokio::test]
async fn a_published_draft_becomes_an_article_with_a_page() {
    let wx = Wx::new();
    let thumb = permanent_image(&wx, "wxservice").await;
    let draft = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/add",
            Some(&json!({"articles": [article(&thumb)]})),
        )
        .await;
    let submitted = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/submit",
            Some(&json!({"media_id": draft["media_id"]})),
        )
        .await;
    assert_eq!(
        keys(&submitted),
        sorted(&["errcode", "errmsg", "publish_id", "msg_data_id"]),
        "{submitted}"
    );
    assert_eq!(submitted["errcode"], 0);
    assert!(submitted["publish_id"].is_string(), "{submitted}");
    assert!(submitted["msg_data_id"].is_u64(), "{submitted}");
    let publish_id = submitted["publish_id"].clone();

    let status = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/get",
            Some(&json!({"publish_id": publish_id})),
        )
        .await;
    assert_eq!(
        status,
        json!({"publish_id": publish_id, "publish_status": 1, "fail_idx": []}),
        "still publishing"
    );

    wx.advance_ms(3_000);
    let status = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/get",
            Some(&json!({"publish_id": publish_id})),
        )
        .await;
    assert_eq!(
        keys(&status),
        sorted(&[
            "publish_id",
            "publish_status",
            "article_id",
            "article_detail",
            "fail_idx"
        ]),
        "{status}"
    );
    assert_eq!(status["publish_status"], 0);
    assert_eq!(status["article_detail"]["count"], 1);
    assert_eq!(status["article_detail"]["item"][0]["idx"], 1);
    let article_id = status["article_id"]
        .as_str()
        .expect("article_id")
        .to_string();
    let article_url = status["article_detail"]["item"][0]["article_url"]
        .as_str()
        .expect("url")
        .to_string();
    assert_eq!(article_url, format!("http://localhost/s/{article_id}/1"));

    // The draft left the draft box.
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/draft/get",
            Some(&json!({"media_id": draft["media_id"]})),
        )
        .await;
    assert_eq!(errcode(&v), 40007);
    assert_eq!(
        wx.call("wxservice", "/cgi-bin/draft/count", None).await["total_count"],
        0
    );

    let got = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/getarticle",
            Some(&json!({"article_id": article_id})),
        )
        .await;
    let item = &got["news_item"][0];
    assert_eq!(item["title"], "新品上市 <限时>");
    assert_eq!(item["url"], article_url.as_str());
    assert_eq!(item["is_deleted"], false);
    assert_eq!(item["thumb_media_id"], thumb.as_str());

    let list = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/batchget",
            Some(&json!({"offset": 0, "count": 10, "no_content": 0})),
        )
        .await;
    assert_eq!(
        (list["total_count"].clone(), list["item_count"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        keys(&list["item"][0]),
        sorted(&["article_id", "content", "update_time"])
    );
    assert_eq!(list["item"][0]["article_id"], article_id.as_str());
    assert_eq!(
        list["item"][0]["content"]["news_item"][0]["url"],
        article_url.as_str()
    );

    // The page, as a phone would show it.
    let page = get_raw(&wx, &format!("/s/{article_id}/1")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type().starts_with("text/html"));
    let html = page.text();
    assert!(
        html.contains("<h1 id=\"activity-name\">新品上市 &lt;限时&gt;</h1>"),
        "{html}"
    );
    assert!(html.contains("掌柜"));
    assert!(html.contains("<p>欢迎光临，<strong>全场八折</strong>。</p>"));
    assert!(html.contains("2026-11-30"), "the date in Beijing");
    assert!(
        html.contains(&format!("/mmbiz/material/wxservice/{thumb}")),
        "the cover"
    );
    assert!(html.contains("https://shop.example/new"), "阅读原文");
    assert_eq!(
        get_raw(&wx, &format!("/s/{article_id}/2")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_raw(&wx, "/s/unknown/1").await.status,
        StatusCode::NOT_FOUND
    );

    // Deleting takes the article down.
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/delete",
            Some(&json!({"article_id": article_id, "index": 2})),
        )
        .await;
    assert_eq!(errcode(&v), 40060, "{v}");
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/delete",
            Some(&json!({"article_id": article_id, "index": 1})),
        )
        .await;
    assert_eq!(v, json!({"errcode": 0, "errmsg": "ok"}));
    let page = get_raw(&wx, &format!("/s/{article_id}/1")).await;
    assert!(page.text().contains("该内容已被发布者删除"));
    let status = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/get",
            Some(&json!({"publish_id": publish_id})),
        )
        .await;
    assert_eq!(status["publish_status"], 5, "{status}");
    let got = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/getarticle",
            Some(&json!({"article_id": article_id})),
        )
        .await;
    assert_eq!(got["news_item"][0]["is_deleted"], true);
    let list = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/batchget",
            Some(&json!({"offset": 0, "count": 10})),
        )
        .await;
    assert_eq!(list["total_count"], 0, "{list}");
}

#[tokio::test]
async fn publishing_is_refused_with_wechats_codes() {
    let wx = Wx::new();
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/submit",
            Some(&json!({"media_id": "nope"})),
        )
        .await;
    assert_eq!(errcode(&v), 40007, "{v}");
    for path in [
        "/cgi-bin/freepublish/getarticle",
        "/cgi-bin/freepublish/delete",
    ] {
        let v = wx
            .call("wxservice", path, Some(&json!({"article_id": "nope"})))
            .await;
        assert_eq!(errcode(&v), 53600, "{path}: {v}");
    }
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/get",
            Some(&json!({"publish_id": "1"})),
        )
        .await;
    assert_eq!(errcode(&v), 40097, "{v}");
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/freepublish/batchget",
            Some(&json!({"offset": 0, "count": 0})),
        )
        .await;
    assert_eq!(errcode(&v), 40097, "{v}");
}

#[tokio::test]
async fn lists_show_jobs_that_are_due_even_if_nobody_asked() {
    let wx = Wx::new();
    let thumb = permanent_image(&wx, "wxsubscribe").await;
    for title in ["第一篇", "第二篇"] {
        let mut a = article(&thumb);
        a["title"] = json!(title);
        let d = wx
            .call(
                "wxsubscribe",
                "/cgi-bin/draft/add",
                Some(&json!({"articles": [a]})),
            )
            .await;
        wx.call(
            "wxsubscribe",
            "/cgi-bin/freepublish/submit",
            Some(&json!({"media_id": d["media_id"]})),
        )
        .await;
        wx.advance_ms(1000);
    }
    let list = wx
        .call(
            "wxsubscribe",
            "/cgi-bin/freepublish/batchget",
            Some(&json!({"offset": 0, "count": 10, "no_content": 1})),
        )
        .await;
    assert_eq!(list["total_count"], 0, "nothing is published yet: {list}");
    wx.advance_ms(3_000);
    let list = wx
        .call(
            "wxsubscribe",
            "/cgi-bin/freepublish/batchget",
            Some(&json!({"offset": 0, "count": 10, "no_content": 1})),
        )
        .await;
    assert_eq!(list["total_count"], 2, "{list}");
    let titles: Vec<&Value> = list["item"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["content"]["news_item"][0]["title"])
        .collect();
    assert_eq!(titles.len(), 2);
    assert!(
        list["item"][0]["content"]["news_item"][0]
            .get("content")
            .is_none()
    );
}

#[tokio::test]
async fn drafts_and_publishing_need_a_verified_account() {
    let wx = Wx::new();
    for app in ["wxpersonal", "wxunverifiedsvc"] {
        for (path, body) in [
            ("/cgi-bin/draft/add", Some(json!({"articles": []}))),
            ("/cgi-bin/draft/count", None),
            (
                "/cgi-bin/freepublish/submit",
                Some(json!({"media_id": "x"})),
            ),
            (
                "/cgi-bin/freepublish/batchget",
                Some(json!({"offset": 0, "count": 1})),
            ),
        ] {
            let v = wx.call(app, path, body.as_ref()).await;
            assert_eq!(errcode(&v), 48001, "{app} {path}: {v}");
        }
    }
    let v = wx.call("wxsubscribe", "/cgi-bin/draft/count", None).await;
    assert_eq!(v, json!({"total_count": 0}));
}

#[tokio::test]
async fn publishing_announces_itself_to_the_callback() {
    let wx = Wx::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let callback = Router::new().route(
        "/wx/cb",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                "success"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, callback).await });
    let mut app = common::app("wxpublisher", "service", true);
    app.callback_url = format!("http://{addr}/wx/cb");
    wx.registry.add_app(app);

    let thumb = permanent_image(&wx, "wxpublisher").await;
    let draft = wx
        .call(
            "wxpublisher",
            "/cgi-bin/draft/add",
            Some(&json!({"articles": [article(&thumb)]})),
        )
        .await;
    let submitted = wx
        .call(
            "wxpublisher",
            "/cgi-bin/freepublish/submit",
            Some(&json!({"media_id": draft["media_id"]})),
        )
        .await;
    wx.advance_ms(3_000);
    let status = wx
        .call(
            "wxpublisher",
            "/cgi-bin/freepublish/get",
            Some(&json!({"publish_id": submitted["publish_id"]})),
        )
        .await;
    let xml = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("delivered in time")
        .expect("a message");
    assert!(
        xml.contains("<Event><![CDATA[PUBLISHJOBFINISH]]></Event>"),
        "{xml}"
    );
    let publish_id = submitted["publish_id"].as_str().expect("id");
    assert!(
        xml.contains(&format!("<publish_id>{publish_id}</publish_id>")),
        "{xml}"
    );
    assert!(xml.contains("<publish_status>0</publish_status>"));
    let article_id = status["article_id"].as_str().expect("article_id");
    assert!(xml.contains(&format!(
        "<article_id><![CDATA[{article_id}]]></article_id>"
    )));
    assert!(xml.contains(&format!("/s/{article_id}/1]]></article_url>")));
    let message = wechat::Message::parse(&xml).expect("the protocol crate reads it");
    assert_eq!(message.to_user_name, "gh_publisher");
}
