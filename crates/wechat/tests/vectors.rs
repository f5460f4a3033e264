//! Runs every vector of `shared/vectors/wechat-vectors.json` (beside the repository) against
//! the public API. Each vector is checked as deeply as its expected values allow; the test
//! fails unless all of them pass, and prints how many did.

use std::borrow::Cow;

use serde_json::{Map, Value, json};
use wechat::crypto;
use wechat::message::{Event, MessageBody};
use wechat::signature::{msg_signature, signature, verify_msg_signature, verify_signature};
use wechat::{
    AesKey, Article, CallbackError, CallbackQuery, CryptoError, Endpoint, Fields, Message, Reply,
    ReplyBody, ReplyMessage, SecurityMode, SignatureError,
};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/wechat-vectors.json"
);

type Check = Result<(), String>;

#[test]
fn every_vector_passes() {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| {
        panic!("cannot read {VECTORS} (shared/ must sit beside the repo): {e}")
    });
    let doc: Value = serde_json::from_str(&text).expect("vectors are JSON");
    let vectors = doc["vectors"].as_array().expect("a vectors array");

    let mut failures = Vec::new();
    for v in vectors {
        let id = s(&v["id"]);
        let kind = s(&v["kind"]);
        let outcome = match kind {
            "signature" => check_signature(v),
            "decrypt" => check_decrypt(v),
            "encrypt" => check_encrypt(v),
            "echostr_encrypted_wecom" => check_wecom_echostr(v),
            "failure" => check_failure(v),
            "parse" => check_parse(v),
            "reply_xml" => check_reply(v),
            other => Err(format!("unknown vector kind {other}")),
        };
        if let Err(why) = outcome {
            failures.push(format!("{id} ({kind}): {why}"));
        }
    }
    let passed = vectors.len() - failures.len();
    println!("wechat vectors: {passed}/{} pass", vectors.len());
    assert!(
        failures.is_empty(),
        "failing vectors:\n{}",
        failures.join("\n")
    );
    assert_eq!(vectors.len(), 63, "the vector file changed size");
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err(what()) }
}

fn key(v: &Value) -> Result<AesKey, String> {
    AesKey::from_encoding_aes_key(s(&v["encoding_aes_key"])).map_err(|e| format!("key: {e}"))
}

fn random16(v: &Value) -> Result<[u8; 16], String> {
    s(&v["random16"])
        .as_bytes()
        .try_into()
        .map_err(|_| "random16 is not 16 bytes".to_string())
}

fn query<'a>(pairs: &[(&str, &'a str)]) -> CallbackQuery<'a> {
    let mut q = CallbackQuery::default();
    for &(name, value) in pairs {
        let slot = match name {
            "signature" => &mut q.signature,
            "timestamp" => &mut q.timestamp,
            "nonce" => &mut q.nonce,
            "echostr" => &mut q.echostr,
            "msg_signature" => &mut q.msg_signature,
            "encrypt_type" => &mut q.encrypt_type,
            _ => continue,
        };
        *slot = Some(Cow::Borrowed(value));
    }
    q
}

// ---------------------------------------------------------------------------------------------
// signatures and the GET handshake

fn check_signature(v: &Value) -> Check {
    let (input, expected) = (&v["input"], &v["expected"]);
    let (token, ts, nonce) = (
        s(&input["token"]),
        s(&input["timestamp"]),
        s(&input["nonce"]),
    );
    let given = s(&expected["signature"]);
    let computed = signature(token, ts, nonce);
    let verdict = verify_signature(token, ts, nonce, given);
    if expected["valid"].as_bool() == Some(true) {
        ensure(computed.as_str() == given, || {
            format!("computed {computed}, expected {given}")
        })?;
        ensure(verdict.is_ok(), || "a valid signature was rejected".into())?;
    } else {
        ensure(verdict == Err(SignatureError::Mismatch), || {
            "a bad signature passed".into()
        })?;
        let correct = s(&expected["computed_correct_signature"]);
        ensure(computed.as_str() == correct, || {
            format!("computed {computed}, expected {correct}")
        })?;
    }
    if let Some(sorted) = expected["sorted"].as_array() {
        let mut parts = [token, ts, nonce];
        parts.sort_unstable();
        let want: Vec<&str> = sorted.iter().map(s).collect();
        ensure(parts[..] == want[..], || {
            format!("sorted {parts:?}, expected {want:?}")
        })?;
    }
    if let Some(body) = expected["response_body"].as_str() {
        check_handshake_every_mode(token, ts, nonce, given, s(&input["echostr"]), body)?;
    }
    Ok(())
}

/// Official accounts echo the plaintext `echostr` with the 3-field signature in every mode.
fn check_handshake_every_mode(
    token: &str,
    ts: &str,
    nonce: &str,
    sig: &str,
    echostr: &str,
    body: &str,
) -> Check {
    let q = query(&[
        ("signature", sig),
        ("timestamp", ts),
        ("nonce", nonce),
        ("echostr", echostr),
    ]);
    let free = wechat::callback::verify_get_handshake(token, &q).map_err(|e| e.to_string())?;
    ensure(free == body, || format!("echoed {free}"))?;
    let key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    for mode in [
        SecurityMode::Plaintext,
        SecurityMode::Compatible,
        SecurityMode::Safe,
    ] {
        let endpoint = Endpoint::official_account(mode, token, Some(key), "wxapp")
            .map_err(|e| e.to_string())?;
        let echoed = endpoint
            .verify_get_handshake(&q)
            .map_err(|e| e.to_string())?;
        ensure(echoed == body, || format!("{mode:?} echoed {echoed}"))?;
    }
    let forged = query(&[
        ("signature", "0"),
        ("timestamp", ts),
        ("nonce", nonce),
        ("echostr", echostr),
    ]);
    let refused = wechat::callback::verify_get_handshake(token, &forged);
    ensure(refused.is_err(), || "a forged handshake was echoed".into())
}

// ---------------------------------------------------------------------------------------------
// crypto

fn check_decrypt(v: &Value) -> Check {
    let (input, expected) = (&v["input"], &v["expected"]);
    let (token, ts, nonce) = (
        s(&input["token"]),
        s(&input["timestamp"]),
        s(&input["nonce"]),
    );
    let (app_id, encrypt, msg_sig) = (
        s(&input["appid"]),
        s(&input["encrypt"]),
        s(&input["msg_signature"]),
    );
    let plaintext = s(&expected["plaintext"]);

    verify_msg_signature(token, ts, nonce, encrypt, msg_sig)
        .map_err(|e| format!("msg_signature: {e}"))?;

    // Through the endpoint, as the callback receives it, in both modes that decrypt.
    let from_url = input["url_query"].as_str().map(CallbackQuery::parse);
    let built = query(&[
        ("timestamp", ts),
        ("nonce", nonce),
        ("msg_signature", msg_sig),
        ("encrypt_type", "aes"),
    ]);
    let q = from_url.unwrap_or(built);
    for mode in [SecurityMode::Safe, SecurityMode::Compatible] {
        let endpoint =
            Endpoint::official_account(mode, token, Some(s(&input["encoding_aes_key"])), app_id)
                .map_err(|e| e.to_string())?;
        let inbound = endpoint
            .open_post(&q, s(&input["body_xml"]).as_bytes())
            .map_err(|e| format!("{mode:?}: {e}"))?;
        ensure(inbound.was_encrypted(), || "not marked encrypted".into())?;
        ensure(inbound.xml() == plaintext, || {
            format!("{mode:?} decrypted {:?}", inbound.xml())
        })?;
        inbound
            .message()
            .map_err(|e| format!("decrypted message does not parse: {e}"))?;
    }

    // The layout: re-encrypting with the same random prefix gives the same ciphertext, which
    // pins random16, the length field, the appid and the 32-byte padding.
    let k = key(input)?;
    let again = crypto::encrypt(
        &k,
        s(&expected["appid"]),
        plaintext.as_bytes(),
        &random16(expected)?,
    )
    .map_err(|e| e.to_string())?;
    ensure(again == encrypt, || "re-encryption differs".into())?;
    let msg_len = expected["msg_len"].as_u64().unwrap_or(0);
    ensure(msg_len == plaintext.len() as u64, || {
        format!("msg_len {msg_len} != {}", plaintext.len())
    })?;
    let full = 20 + plaintext.len() + app_id.len();
    let pad = 32 - full % 32;
    ensure(Some(pad as u64) == expected["pkcs7_pad"].as_u64(), || {
        format!("pad {pad}")
    })?;
    if let Some(bytes) = expected["ciphertext_bytes"].as_u64() {
        ensure((full + pad) as u64 == bytes, || "ciphertext length".into())?;
    }
    if let Some(fields) = expected["fields"].as_object() {
        let message = Message::parse(plaintext).map_err(|e| e.to_string())?;
        compare_object(fields, &typed_fields(&message), "fields")?;
    }
    Ok(())
}

fn check_encrypt(v: &Value) -> Check {
    let (input, expected) = (&v["input"], &v["expected"]);
    let k = key(input)?;
    let app_id = s(&input["appid"]);
    let plaintext = s(&input["plaintext"]);
    let random = random16(input)?;
    let encrypt =
        crypto::encrypt(&k, app_id, plaintext.as_bytes(), &random).map_err(|e| e.to_string())?;
    ensure(encrypt == s(&expected["encrypt"]), || {
        format!("encrypted to {encrypt}")
    })?;
    let back = crypto::decrypt_to_string(&k, app_id, &encrypt).map_err(|e| e.to_string())?;
    ensure(back == plaintext, || "round trip differs".into())?;
    if let Some(wrong) = expected["wrong_16_byte_padding_result"].as_str() {
        ensure(encrypt != wrong, || "16-byte padding used".into())?;
    }
    let Some(token) = input["token"].as_str() else {
        return Ok(());
    };
    let (ts, nonce) = (s(&input["timestamp"]), s(&input["nonce"]));
    let sig = msg_signature(token, ts, nonce, &encrypt);
    ensure(sig.as_str() == s(&expected["msg_signature"]), || {
        format!("msg_signature {sig}")
    })?;

    // The sealed reply envelope, compared field by field with the expected one.
    let endpoint = Endpoint::official_account(
        SecurityMode::Safe,
        token,
        Some(s(&input["encoding_aes_key"])),
        app_id,
    )
    .map_err(|e| e.to_string())?;
    let timestamp: i64 = ts.parse().map_err(|_| "timestamp".to_string())?;
    let sealed = endpoint
        .encrypt_envelope(plaintext, timestamp, nonce, &random)
        .map_err(|e| e.to_string())?;
    let want = expected["reply_xml"]
        .as_str()
        .or_else(|| expected["reply_xml_wechatpy_format"].as_str())
        .ok_or("no expected envelope")?;
    let (got_f, want_f) = (Fields::parse(&sealed), Fields::parse(want));
    let (got_f, want_f) = (
        got_f.map_err(|e| e.to_string())?,
        want_f.map_err(|e| e.to_string())?,
    );
    for name in ["Encrypt", "MsgSignature", "TimeStamp", "Nonce"] {
        ensure(
            got_f.get(name) == want_f.get(name) && got_f.get(name).is_some(),
            || {
                format!(
                    "envelope {name}: {:?} vs {:?}",
                    got_f.get(name),
                    want_f.get(name)
                )
            },
        )?;
    }
    ensure(squeeze(&sealed) == squeeze(want), || {
        format!("envelope {sealed}")
    })?;
    // And the envelope opens again as a request would.
    let q = query(&[
        ("timestamp", ts),
        ("nonce", nonce),
        ("msg_signature", sig.as_str()),
    ]);
    let inbound = endpoint
        .open_post(&q, sealed.as_bytes())
        .map_err(|e| e.to_string())?;
    ensure(inbound.xml() == plaintext, || {
        "sealed reply does not open".into()
    })
}

fn check_wecom_echostr(v: &Value) -> Check {
    let (input, expected) = (&v["input"], &v["expected"]);
    let endpoint = Endpoint::wecom(
        s(&input["token"]),
        s(&input["encoding_aes_key"]),
        s(&input["receive_id"]),
    )
    .map_err(|e| e.to_string())?;
    let (ts, msg_sig, echostr) = (
        s(&input["timestamp"]),
        s(&input["msg_signature"]),
        s(&input["echostr"]),
    );
    let q = query(&[
        ("timestamp", ts),
        ("nonce", s(&input["nonce"])),
        ("msg_signature", msg_sig),
        ("echostr", echostr),
    ]);
    let body = endpoint
        .verify_get_handshake(&q)
        .map_err(|e| e.to_string())?;
    let want = expected["response_body"]
        .as_str()
        .or_else(|| expected["response_body_computed"].as_str())
        .ok_or("no expected body")?;
    ensure(body == want, || format!("answered {body}"))?;
    if let Some(bad_nonce) = input["negative_nonce"].as_str() {
        let q = query(&[
            ("timestamp", ts),
            ("nonce", bad_nonce),
            ("msg_signature", msg_sig),
            ("echostr", echostr),
        ]);
        let refused = endpoint.verify_get_handshake(&q);
        ensure(
            matches!(
                refused,
                Err(CallbackError::Signature(SignatureError::Mismatch))
            ),
            || format!("negative case gave {refused:?}"),
        )?;
    }
    // An official account must not decrypt echostr: with the same query it finds no
    // `signature` and refuses.
    let oa = Endpoint::official_account(
        SecurityMode::Safe,
        s(&input["token"]),
        Some(s(&input["encoding_aes_key"])),
        s(&input["receive_id"]),
    )
    .map_err(|e| e.to_string())?;
    ensure(oa.verify_get_handshake(&q).is_err(), || {
        "OA decrypted echostr".into()
    })
}

fn check_failure(v: &Value) -> Check {
    let (input, expected) = (&v["input"], &v["expected"]);
    let code = expected["official_code"].as_i64();
    let official = |e: &CryptoError| code.is_none_or(|c| i64::from(e.official_code()) == c);
    match s(&expected["error"]) {
        "signature_mismatch" => {
            let endpoint = Endpoint::official_account(
                SecurityMode::Safe,
                s(&input["token"]),
                Some(s(&input["encoding_aes_key"])),
                s(&input["appid"]),
            )
            .map_err(|e| e.to_string())?;
            let body = format!(
                "<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt></xml>",
                s(&input["encrypt"])
            );
            let q = query(&[
                ("timestamp", s(&input["timestamp"])),
                ("nonce", s(&input["nonce"])),
                ("msg_signature", s(&input["msg_signature"])),
            ]);
            let refused = endpoint.open_post(&q, body.as_bytes());
            ensure(
                matches!(
                    refused,
                    Err(CallbackError::Signature(SignatureError::Mismatch))
                ),
                || format!("gave {refused:?}"),
            )?;
            ensure(refused.err().map(|e| e.http_status()) == Some(403), || {
                "not a 403".into()
            })
        }
        "appid_mismatch" => {
            let k = key(input)?;
            let encrypt = s(&input["encrypt"]);
            let refused = crypto::decrypt(&k, s(&input["configured_appid"]), encrypt);
            ensure(refused == Err(CryptoError::ReceiverIdMismatch), || {
                format!("gave {refused:?}")
            })?;
            ensure(refused.as_ref().err().is_some_and(official), || {
                "official code".into()
            })?;
            let found = crypto::decrypt(&k, s(&expected["appid_found"]), encrypt);
            ensure(found.is_ok(), || "the real appid does not decrypt".into())?;
            // Through the endpoint too: the signature is valid, the receiver is not.
            let endpoint = Endpoint::official_account(
                SecurityMode::Safe,
                s(&input["token"]),
                Some(s(&input["encoding_aes_key"])),
                s(&input["configured_appid"]),
            )
            .map_err(|e| e.to_string())?;
            let body = format!("<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>");
            let q = query(&[
                ("timestamp", s(&input["timestamp"])),
                ("nonce", s(&input["nonce"])),
                ("msg_signature", s(&input["msg_signature"])),
            ]);
            let refused = endpoint.open_post(&q, body.as_bytes());
            ensure(
                refused == Err(CallbackError::Crypto(CryptoError::ReceiverIdMismatch)),
                || format!("endpoint gave {refused:?}"),
            )
        }
        "bad_padding_or_buffer" => {
            let refused = crypto::decrypt(&key(input)?, "wx2c2769f8efd9abc2", s(&input["encrypt"]));
            ensure(
                matches!(
                    refused,
                    Err(CryptoError::Padding | CryptoError::MessageLength)
                ),
                || format!("gave {refused:?}"),
            )
        }
        "decrypt_error" => {
            let refused = crypto::decrypt(&key(input)?, "wx2c2769f8efd9abc2", s(&input["encrypt"]));
            ensure(refused == Err(CryptoError::CiphertextLength), || {
                format!("gave {refused:?}")
            })?;
            ensure(refused.as_ref().err().is_some_and(official), || {
                "official code".into()
            })
        }
        "illegal_aes_key" => {
            let refused = AesKey::from_encoding_aes_key(s(&input["encoding_aes_key"]));
            ensure(
                refused.as_ref().err() == Some(&CryptoError::InvalidKey),
                || format!("gave {refused:?}"),
            )?;
            ensure(refused.as_ref().err().is_some_and(official), || {
                "official code".into()
            })?;
            let config = Endpoint::official_account(
                SecurityMode::Safe,
                "t",
                Some(s(&input["encoding_aes_key"])),
                "wx",
            );
            ensure(config.is_err(), || "the endpoint accepted the key".into())
        }
        other => Err(format!("unknown failure {other}")),
    }
}

// ---------------------------------------------------------------------------------------------
// parsing

fn check_parse(v: &Value) -> Check {
    let (xml, expected) = (s(&v["input"]["xml"]), &v["expected"]);
    let message = Message::parse(xml).map_err(|e| e.to_string())?;
    check_type(&message, s(&expected["type"]))?;
    if let Some(fields) = expected["fields"].as_object() {
        compare_object(fields, &typed_fields(&message), "fields")?;
    }
    if let Some(id) = expected["normalized"]["msg_id"].as_u64() {
        ensure(message.msg_id() == Some(id), || {
            format!("msg_id {:?}", message.msg_id())
        })?;
    }
    ensure(!message.dedup_key().is_empty(), || "empty dedup key".into())?;
    let owned = message.clone().into_owned();
    ensure(owned == message, || "into_owned changed the message".into())
}

fn check_type(message: &Message<'_>, want: &str) -> Check {
    let ok = match (want, &message.body) {
        ("text", MessageBody::Text(_))
        | ("image", MessageBody::Image(_))
        | ("voice", MessageBody::Voice(_))
        | ("video", MessageBody::Video(_))
        | ("shortvideo", MessageBody::ShortVideo(_))
        | ("location", MessageBody::Location(_))
        | ("link", MessageBody::Link(_))
        | ("unknown", MessageBody::Unknown { .. }) => true,
        ("event:subscribe(scan)", MessageBody::Event(e @ Event::Subscribe { .. })) => {
            e.qr_scene().is_some()
        }
        ("event:subscribe", MessageBody::Event(e @ Event::Subscribe { .. })) => {
            e.qr_scene().is_none()
        }
        (want, MessageBody::Event(e)) => match want.strip_prefix("event:") {
            Some(name) => !matches!(e, Event::Other { .. }) && e.name().eq_ignore_ascii_case(name),
            None => false,
        },
        _ => false,
    };
    ensure(ok, || format!("parsed as {:?}", message.body))
}

/// The typed message turned back into WeChat's field names, to compare with `expected.fields`.
/// Built from the typed values, not from the raw fields, so it checks the typing.
fn typed_fields(m: &Message<'_>) -> Value {
    let mut f = json!({
        "ToUserName": m.to_user_name,
        "FromUserName": m.from_user_name,
        "CreateTime": m.create_time,
        "MsgType": m.msg_type(),
    });
    let o = f.as_object_mut().expect("object");
    let mut put = |k: &str, v: Value| {
        o.insert(k.to_string(), v);
    };
    match &m.body {
        MessageBody::Text(t) => {
            put("Content", json!(t.content));
            put("MsgId", json!(t.msg_id));
        }
        MessageBody::Image(i) => {
            put("PicUrl", json!(i.pic_url));
            put("MediaId", json!(i.media_id));
            put("MsgId", json!(i.msg_id));
        }
        MessageBody::Voice(x) => {
            put("MediaId", json!(x.media_id));
            put("Format", json!(x.format));
            put("Recognition", json!(x.recognition));
            put("MsgId", json!(x.msg_id));
        }
        MessageBody::Video(x) | MessageBody::ShortVideo(x) => {
            put("MediaId", json!(x.media_id));
            put("ThumbMediaId", json!(x.thumb_media_id));
            put("MsgId", json!(x.msg_id));
        }
        MessageBody::Location(l) => {
            put("Location_X", json!(l.latitude));
            put("Location_Y", json!(l.longitude));
            put("Scale", json!(l.scale));
            put("Label", json!(l.label));
            put("MsgId", json!(l.msg_id));
        }
        MessageBody::Link(l) => {
            put("Title", json!(l.title));
            put("Description", json!(l.description));
            put("Url", json!(l.url));
            put("MsgId", json!(l.msg_id));
        }
        MessageBody::MiniProgramPage(p) => {
            put("AppId", json!(p.app_id));
            put("MsgId", json!(p.msg_id));
        }
        MessageBody::Unknown { msg_id, fields, .. } => {
            put("MsgId", json!(msg_id));
            raw_fields(fields, &mut put);
        }
        MessageBody::Event(e) => {
            put("Event", json!(e.name()));
            event_fields(e, &mut put);
        }
    }
    f
}

fn event_fields(e: &Event<'_>, put: &mut impl FnMut(&str, Value)) {
    match e {
        Event::Subscribe { event_key, ticket } => {
            put("EventKey", json!(event_key));
            put("Ticket", json!(ticket));
        }
        Event::Scan { event_key, ticket } => {
            put("EventKey", json!(event_key));
            put("Ticket", json!(ticket));
        }
        Event::Location {
            latitude,
            longitude,
            precision,
        } => {
            put("Latitude", json!(latitude));
            put("Longitude", json!(longitude));
            put("Precision", json!(precision));
        }
        Event::Click { event_key } => put("EventKey", json!(event_key)),
        Event::View { event_key, menu_id } | Event::ViewMiniProgram { event_key, menu_id } => {
            put("EventKey", json!(event_key));
            put("MenuId", json!(menu_id));
        }
        Event::ScanCodePush(c) | Event::ScanCodeWaitMsg(c) => {
            put("EventKey", json!(c.event_key));
            put(
                "ScanCodeInfo",
                json!({"ScanType": c.scan_type, "ScanResult": c.scan_result}),
            );
        }
        Event::PicSysPhoto(p) | Event::PicPhotoOrAlbum(p) | Event::PicWeixin(p) => {
            put("EventKey", json!(p.event_key));
            let list: Vec<Value> = p
                .pic_md5_sums
                .iter()
                .map(|m| json!({"PicMd5Sum": m}))
                .collect();
            put("SendPicsInfo", json!({"Count": p.count, "PicList": list}));
        }
        Event::LocationSelect(l) => {
            put("EventKey", json!(l.event_key));
            put(
                "SendLocationInfo",
                json!({
                    "Location_X": l.latitude, "Location_Y": l.longitude, "Scale": l.scale,
                    "Label": l.label, "Poiname": l.poiname,
                }),
            );
        }
        Event::MassSendJobFinish(m) => {
            put("MsgID", json!(m.msg_id));
            put("Status", json!(m.status));
            put("TotalCount", json!(m.total_count));
            put("FilterCount", json!(m.filter_count));
            put("SentCount", json!(m.sent_count));
            put("ErrorCount", json!(m.error_count));
            if let Some(c) = &m.copyright_check {
                let results: Vec<Value> = c
                    .results
                    .iter()
                    .map(|r| json!({"ArticleIdx": r.article_idx, "OriginalArticleUrl": r.original_article_url}))
                    .collect();
                put(
                    "CopyrightCheckResult",
                    json!({"Count": c.count, "CheckState": c.check_state, "ResultList": results}),
                );
            }
        }
        Event::TemplateSendJobFinish { msg_id, status } => {
            put("MsgID", json!(msg_id));
            put("Status", json!(status));
        }
        Event::SubscribeMsgPopup(list)
        | Event::SubscribeMsgChange(list)
        | Event::SubscribeMsgSent(list) => {
            let top = match e {
                Event::SubscribeMsgPopup(_) => "SubscribeMsgPopupEvent",
                Event::SubscribeMsgChange(_) => "SubscribeMsgChangeEvent",
                _ => "SubscribeMsgSentEvent",
            };
            let items: Vec<Value> = list
                .iter()
                .map(|i| {
                    json!({
                        "TemplateId": i.template_id,
                        "SubscribeStatusString": i.subscribe_status,
                        "PopupScene": i.popup_scene,
                    })
                })
                .collect();
            put(top, json!({"List": items}));
        }
        Event::Card(c) => raw_fields(&c.fields, put),
        Event::Other { fields, .. } => raw_fields(fields, put),
        _ => {}
    }
}

fn raw_fields(fields: &Fields<'_>, put: &mut impl FnMut(&str, Value)) {
    for f in fields.iter().filter(|f| f.depth == 1) {
        put(&f.name, json!(f.value));
    }
}

/// Every expected key must be present and equal; numbers and numeric text compare as numbers.
fn compare_object(expected: &Map<String, Value>, actual: &Value, path: &str) -> Check {
    let actual = actual
        .as_object()
        .ok_or_else(|| format!("{path}: not an object"))?;
    for (k, want) in expected {
        let got = actual
            .get(k)
            .or_else(|| {
                actual
                    .iter()
                    .find(|(a, _)| a.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            })
            .ok_or_else(|| format!("{path}.{k}: missing"))?;
        compare(want, got, &format!("{path}.{k}"))?;
    }
    Ok(())
}

fn compare(want: &Value, got: &Value, path: &str) -> Check {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    match (want, got) {
        (Value::Object(w), g) => compare_object(w, g, path),
        (Value::Array(w), Value::Array(g)) => {
            ensure(w.len() == g.len(), || {
                format!("{path}: {} items, expected {}", g.len(), w.len())
            })?;
            w.iter()
                .zip(g)
                .enumerate()
                .try_for_each(|(i, (w, g))| compare(w, g, &format!("{path}[{i}]")))
        }
        (Value::String(w), Value::String(g)) => {
            ensure(w == g, || format!("{path}: {g:?}, expected {w:?}"))
        }
        (Value::Number(_), _) | (Value::String(_), Value::Number(_)) => {
            let (w, g) = (number(want), number(got));
            ensure(w.is_some() && w == g, || {
                format!("{path}: {got}, expected {want}")
            })
        }
        _ => Err(format!("{path}: {got}, expected {want}")),
    }
}

// ---------------------------------------------------------------------------------------------
// replies

fn check_reply(v: &Value) -> Check {
    let (input, expected) = (&v["input"], &v["expected"]);
    let reply = build_reply(input)?;
    let xml = reply.to_xml();
    let want = s(&expected["xml"]);
    if s(&expected["compare"]) == "exact bytes" {
        ensure(xml == want, || format!("wrote {xml:?}"))?;
    } else {
        ensure(squeeze(&xml) == squeeze(want), || format!("wrote {xml}"))?;
    }
    // Stable: reading ours back, and reading the peer's XML, both give the same reply.
    let ours = Reply::parse(&xml).map_err(|e| e.to_string())?;
    ensure(ours == reply, || format!("read back {ours:?}"))?;
    let theirs = Reply::parse(want).map_err(|e| e.to_string())?;
    ensure(theirs == reply, || format!("peer XML reads as {theirs:?}"))
}

fn build_reply(input: &Value) -> Result<Reply<'_>, String> {
    let text = |k: &str| Cow::Borrowed(s(&input[k]));
    let opt = |k: &str| input[k].as_str().map(Cow::Borrowed);
    let body = match s(&input["type"]) {
        "success" => return Ok(Reply::Success),
        "text" => ReplyBody::Text {
            content: text("content"),
        },
        "image" => ReplyBody::Image {
            media_id: text("media_id"),
        },
        "voice" => ReplyBody::Voice {
            media_id: text("media_id"),
        },
        "video" => ReplyBody::Video {
            media_id: text("media_id"),
            title: opt("title"),
            description: opt("description"),
        },
        "music" => ReplyBody::Music {
            title: opt("title"),
            description: opt("description"),
            music_url: opt("music_url"),
            hq_music_url: opt("hq_music_url"),
            thumb_media_id: text("thumb_media_id"),
        },
        "news" => ReplyBody::News {
            articles: input["articles"]
                .as_array()
                .ok_or("articles")?
                .iter()
                .map(|a| Article {
                    title: Cow::Borrowed(s(&a["title"])),
                    description: Cow::Borrowed(s(&a["description"])),
                    pic_url: Cow::Borrowed(s(&a["pic_url"])),
                    url: Cow::Borrowed(s(&a["url"])),
                })
                .collect(),
        },
        "transfer_customer_service" => ReplyBody::TransferCustomerService {
            kf_account: opt("kf_account"),
        },
        other => return Err(format!("unknown reply type {other}")),
    };
    Ok(Reply::Message(ReplyMessage {
        to_user_name: text("to"),
        from_user_name: text("from_"),
        create_time: input["create_time"].as_i64().ok_or("create_time")?,
        body,
    }))
}

/// Drops whitespace outside CDATA sections (the vectors' "whitespace-insensitive" rule).
fn squeeze(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("<![CDATA[") {
        out.extend(rest[..start].chars().filter(|c| !c.is_whitespace()));
        let after = &rest[start..];
        let end = after.find("]]>").map_or(after.len(), |e| e + 3);
        out.push_str(&after[..end]);
        rest = &after[end..];
    }
    out.extend(rest.chars().filter(|c| !c.is_whitespace()));
    out
}
