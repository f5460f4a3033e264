use super::*;

const TOKEN: &str = "AAAAA";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APP: &str = "wx134c8103faa5a59e";
const TS: &str = "1715943329";
const NONCE: &str = "1590219412";
const PLAIN: &str = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>\
    <FromUserName><![CDATA[o_user]]></FromUserName><CreateTime>1715943329</CreateTime>\
    <MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>1</MsgId></xml>";

fn endpoint(mode: SecurityMode) -> Endpoint {
    Endpoint::official_account(mode, TOKEN, Some(KEY), APP).expect("valid config")
}

fn plain_query() -> String {
    let sig = signature::signature(TOKEN, TS, NONCE);
    format!("signature={sig}&timestamp={TS}&nonce={NONCE}&openid=o_user")
}

/// A safe-mode body and its query, as WeChat would send them.
fn encrypted_request(plaintext_fields: &str) -> (String, String) {
    let key = AesKey::from_encoding_aes_key(KEY).expect("key");
    let encrypt =
        crypto::encrypt(&key, APP, PLAIN.as_bytes(), b"0123456789abcdef").expect("encrypts");
    let msg_sig = signature::msg_signature(TOKEN, TS, NONCE, &encrypt);
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>{plaintext_fields}<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    let query = format!("{}&encrypt_type=aes&msg_signature={msg_sig}", plain_query());
    (query, body)
}

#[test]
fn plaintext_mode_checks_signature() {
    let e = endpoint(SecurityMode::Plaintext);
    let query = plain_query();
    let q = CallbackQuery::parse(&query);
    let inbound = e.open_post(&q, PLAIN.as_bytes()).expect("opens");
    assert_eq!((inbound.xml(), inbound.was_encrypted()), (PLAIN, false));
    assert!(matches!(inbound.into_xml(), Cow::Borrowed(_)));

    let forged = CallbackQuery::parse("signature=0000&timestamp=1&nonce=2");
    let err = e.open_post(&forged, PLAIN.as_bytes()).expect_err("forged");
    assert_eq!(
        (err.clone(), err.http_status()),
        (CallbackError::Signature(SignatureError::Mismatch), 403)
    );
    let missing = format!("timestamp={TS}&nonce={NONCE}");
    let missing = CallbackQuery::parse(&missing);
    assert_eq!(
        e.open_post(&missing, PLAIN.as_bytes()),
        Err(CallbackError::MissingParameter("signature"))
    );
}

#[test]
fn safe_mode_refuses_a_plaintext_body() {
    let e = endpoint(SecurityMode::Safe);
    // A correctly signed plaintext POST is a downgrade attempt against a safe-mode account.
    let query = plain_query();
    let err = e
        .open_post(&CallbackQuery::parse(&query), PLAIN.as_bytes())
        .expect_err("refused");
    assert_eq!(
        (err.clone(), err.http_status()),
        (CallbackError::EncryptionRequired, 403)
    );

    let (query, body) = encrypted_request("");
    let inbound = e
        .open_post(&CallbackQuery::parse(&query), body.as_bytes())
        .expect("opens");
    assert_eq!((inbound.xml(), inbound.was_encrypted()), (PLAIN, true));
    // Without msg_signature the valid `signature` alone is not enough.
    let no_msg_sig = plain_query();
    assert_eq!(
        e.open_post(&CallbackQuery::parse(&no_msg_sig), body.as_bytes()),
        Err(CallbackError::MissingParameter("msg_signature"))
    );
}

#[test]
fn compatible_mode_prefers_the_signed_ciphertext() {
    let e = endpoint(SecurityMode::Compatible);
    // The plain copy beside <Encrypt> is forged; only the decrypted copy may be used.
    let (query, body) =
        encrypted_request("<MsgType>text</MsgType><Content>forged</Content><MsgId>1</MsgId>");
    let inbound = e
        .open_post(&CallbackQuery::parse(&query), body.as_bytes())
        .expect("opens");
    assert_eq!(inbound.xml(), PLAIN);
    // A plain body with a valid signature is accepted in compatible mode...
    let query = plain_query();
    let inbound = e
        .open_post(&CallbackQuery::parse(&query), PLAIN.as_bytes())
        .expect("opens");
    assert!(!inbound.was_encrypted());
    // ...but not when the query says the body is encrypted.
    let query = format!("{}&encrypt_type=aes", plain_query());
    assert_eq!(
        e.open_post(&CallbackQuery::parse(&query), PLAIN.as_bytes()),
        Err(CallbackError::EncryptionRequired)
    );
}

#[test]
fn tampered_ciphertext_is_refused_before_decryption() {
    let e = endpoint(SecurityMode::Safe);
    let (query, body) = encrypted_request("");
    let tampered = body.replacen("<Encrypt><![CDATA[", "<Encrypt><![CDATA[A", 1);
    let err = e
        .open_post(&CallbackQuery::parse(&query), tampered.as_bytes())
        .expect_err("refused");
    assert_eq!(err, CallbackError::Signature(SignatureError::Mismatch));
    // Another account's AppID: the signature holds (same token) but the receiver differs.
    let other = Endpoint::official_account(SecurityMode::Safe, TOKEN, Some(KEY), "wx_other")
        .expect("config");
    let err = other
        .open_post(&CallbackQuery::parse(&query), body.as_bytes())
        .expect_err("refused");
    assert_eq!(
        (err.clone(), err.http_status()),
        (CallbackError::Crypto(CryptoError::ReceiverIdMismatch), 403)
    );
}

#[test]
fn body_limit_comes_first() {
    let e = endpoint(SecurityMode::Safe);
    let body = vec![b'x'; MAX_BODY_BYTES + 1];
    // No query at all: the size is checked before anything else.
    let err = e
        .open_post(&CallbackQuery::default(), &body)
        .expect_err("refused");
    assert_eq!(
        (err.clone(), err.http_status()),
        (CallbackError::BodyTooLarge, 413)
    );
    let err = e
        .open_post(&CallbackQuery::default(), b"<xml>\xff</xml>")
        .expect_err("refused");
    assert_eq!(err, CallbackError::Body(ParseError::InvalidUtf8));
    let err = e
        .open_post(
            &CallbackQuery::default(),
            b"<!DOCTYPE x><xml><Encrypt>a</Encrypt></xml>",
        )
        .expect_err("refused");
    assert_eq!(
        (err.clone(), err.http_status()),
        (CallbackError::Body(ParseError::DocType), 400)
    );
}

#[test]
fn replies_are_sealed_by_mode() {
    let reply = "<xml><Content><![CDATA[ok]]></Content></xml>";
    let (query, body) = encrypted_request("");
    let q = CallbackQuery::parse(&query);

    let safe = endpoint(SecurityMode::Safe);
    let inbound = safe.open_post(&q, body.as_bytes()).expect("opens");
    for literal in ["success", ""] {
        let sealed = safe
            .seal_reply(&inbound, literal, 1, NONCE, &[1; 16])
            .expect("seals");
        assert_eq!(sealed, literal, "never encrypted");
    }
    let sealed = safe
        .seal_reply(&inbound, reply, 1_700_000_000, NONCE, &[1; 16])
        .expect("seals");
    // Our own envelope opens as a request would, so its signature and layout are right.
    let fields = xml::Fields::parse(&sealed).expect("envelope parses");
    let back = format!(
        "timestamp={}&nonce={}&msg_signature={}",
        fields.get("TimeStamp").expect("TimeStamp"),
        fields.get("Nonce").expect("Nonce"),
        fields.get("MsgSignature").expect("MsgSignature"),
    );
    let reopened = safe
        .open_post(&CallbackQuery::parse(&back), sealed.as_bytes())
        .expect("opens");
    assert_eq!(reopened.xml(), reply);

    // Compatible mode answers in kind; plaintext mode never encrypts.
    let compatible = endpoint(SecurityMode::Compatible);
    let encrypted_in = compatible.open_post(&q, body.as_bytes()).expect("opens");
    let sealed = compatible
        .seal_reply(&encrypted_in, reply, 1, NONCE, &[1; 16])
        .expect("seals");
    assert!(sealed.contains("<Encrypt>"));
    let plain_query = plain_query();
    let plain_in = compatible
        .open_post(&CallbackQuery::parse(&plain_query), PLAIN.as_bytes())
        .expect("opens");
    let sealed = compatible
        .seal_reply(&plain_in, reply, 1, NONCE, &[1; 16])
        .expect("seals");
    assert_eq!(sealed, reply);
    let plaintext = endpoint(SecurityMode::Plaintext);
    assert_eq!(
        plaintext
            .seal_reply(&plain_in, reply, 1, NONCE, &[1; 16])
            .expect("seals"),
        reply
    );
}

#[test]
fn configuration_is_checked_once() {
    assert_eq!(
        Endpoint::official_account(SecurityMode::Safe, TOKEN, None, APP).err(),
        Some(ConfigError::MissingAesKey)
    );
    assert_eq!(
        Endpoint::official_account(SecurityMode::Compatible, TOKEN, Some(""), APP).err(),
        Some(ConfigError::MissingAesKey)
    );
    assert_eq!(
        Endpoint::official_account(SecurityMode::Safe, TOKEN, Some("short"), APP).err(),
        Some(ConfigError::InvalidAesKey(CryptoError::InvalidKey))
    );
    assert_eq!(
        Endpoint::official_account(SecurityMode::Plaintext, "", None, APP).err(),
        Some(ConfigError::EmptyToken)
    );
    assert!(Endpoint::official_account(SecurityMode::Plaintext, TOKEN, None, APP).is_ok());
    assert_eq!(
        Endpoint::wecom(TOKEN, KEY, "").err(),
        Some(ConfigError::EmptyReceiverId)
    );
}

#[test]
fn query_parsing() {
    let q = CallbackQuery::parse("echostr=a%2Bb%3D&nonce=1&nonce=2&x=y&msg_signature=s");
    assert_eq!(q.echostr.as_deref(), Some("a+b="));
    assert_eq!(
        q.nonce.as_deref(),
        Some("1"),
        "the first of repeated parameters counts"
    );
    assert_eq!(q.msg_signature.as_deref(), Some("s"));
    assert_eq!(q.signature, None);
}

#[test]
fn wecom_handshake_and_messages() {
    let corp = "ww0123456789";
    let e = Endpoint::wecom(TOKEN, KEY, corp).expect("config");
    let key = AesKey::from_encoding_aes_key(KEY).expect("key");
    let echostr = crypto::encrypt(&key, corp, b"12345", &[9; 16]).expect("encrypts");
    let msg_sig = signature::msg_signature(TOKEN, TS, NONCE, &echostr);
    let q = CallbackQuery {
        timestamp: Some(TS.into()),
        nonce: Some(NONCE.into()),
        msg_signature: Some(msg_sig.as_str().to_string().into()),
        echostr: Some(echostr.into()),
        ..CallbackQuery::default()
    };
    assert_eq!(e.verify_get_handshake(&q).expect("verifies"), "12345");
    // The official-account handshake never decrypts: it wants the 3-field signature.
    assert_eq!(
        endpoint(SecurityMode::Safe).verify_get_handshake(&q),
        Err(CallbackError::MissingParameter("signature"))
    );
    // WeCom POSTs are safe mode with the corp id inside.
    let body = crypto::encrypt(&key, corp, PLAIN.as_bytes(), &[3; 16]).expect("encrypts");
    let sig = signature::msg_signature(TOKEN, TS, NONCE, &body);
    let xml = format!(
        "<xml><ToUserName>{corp}</ToUserName><AgentID>1</AgentID><Encrypt>{body}</Encrypt></xml>"
    );
    let query = format!("msg_signature={sig}&timestamp={TS}&nonce={NONCE}");
    let q = CallbackQuery::parse(&query);
    assert_eq!(e.open_post(&q, xml.as_bytes()).expect("opens").xml(), PLAIN);
}

#[test]
fn wechat_side_round_trip_in_every_mode() {
    let reply = "<xml><Content><![CDATA[回复]]></Content></xml>";
    let mut endpoints: Vec<Endpoint> = [
        SecurityMode::Plaintext,
        SecurityMode::Compatible,
        SecurityMode::Safe,
    ]
    .into_iter()
    .map(endpoint)
    .collect();
    endpoints.push(Endpoint::wecom(TOKEN, KEY, "ww0123").expect("config"));
    for e in &endpoints {
        let request = e.sign_request(PLAIN, TS, NONCE, &[4; 16]).expect("signs");
        let query = CallbackQuery::parse(&request.query);
        let inbound = e.open_post(&query, request.body.as_bytes()).expect("opens");
        assert_eq!(inbound.xml(), PLAIN, "{e:?}");
        assert_eq!(inbound.was_encrypted(), e.mode() != SecurityMode::Plaintext);
        if e.mode() == SecurityMode::Compatible {
            assert!(request.body.contains("<Content>") && request.body.contains("<Encrypt>"));
        }
        let sealed = e
            .seal_reply(&inbound, reply, 1_700_000_000, NONCE, &[5; 16])
            .expect("seals");
        assert_eq!(e.open_reply(&sealed).expect("opens reply"), reply, "{e:?}");
    }
    // A sealed reply whose signature was tampered with is refused.
    let safe = endpoint(SecurityMode::Safe);
    let request = safe
        .sign_request(PLAIN, TS, NONCE, &[4; 16])
        .expect("signs");
    let inbound = safe
        .open_post(
            &CallbackQuery::parse(&request.query),
            request.body.as_bytes(),
        )
        .expect("opens");
    let sealed = safe
        .seal_reply(&inbound, reply, 1, NONCE, &[5; 16])
        .expect("seals");
    let tampered = sealed.replace("<TimeStamp>1<", "<TimeStamp>2<");
    assert_eq!(
        safe.open_reply(&tampered),
        Err(CallbackError::Signature(SignatureError::Mismatch))
    );
}
