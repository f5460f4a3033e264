//! Property tests: crypto round trips for any message and every pad length, replies that read
//! back to themselves, and parsers and decryption that never panic whatever they are given.

use std::borrow::Cow;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use wechat::crypto::{self, decrypt, encrypt};
use wechat::{
    AesKey, Article, CallbackQuery, Endpoint, Message, MessageBody, PreparedReply, Reply,
    ReplyBody, ReplyMessage, SecurityMode,
};

fn receiver_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,40}"
}

/// AES-256-CBC over already padded bytes, to hand the decryptor plaintexts `encrypt` would
/// never produce (bad pads, lying length fields).
fn raw_encrypt(key: &[u8; 32], plain: &[u8]) -> String {
    let mut buf = plain.to_vec();
    let len = buf.len();
    let iv: [u8; 16] = key[..16].try_into().expect("16 bytes");
    let cipher = cbc::Encryptor::<aes::Aes256>::new(key.into(), &iv.into());
    let out = cipher
        .encrypt_padded_mut::<NoPadding>(&mut buf, len)
        .expect("a multiple of the block size");
    STANDARD.encode(out)
}

proptest! {
    #[test]
    fn encrypt_then_decrypt_gives_the_message_back(
        key in any::<[u8; 32]>(),
        id in receiver_id(),
        message in proptest::collection::vec(any::<u8>(), 0..4096),
        random in any::<[u8; 16]>(),
    ) {
        let key = AesKey::from_bytes(key);
        let sealed = encrypt(&key, &id, &message, &random).expect("encrypts");
        prop_assert_eq!(decrypt(&key, &id, &sealed).expect("decrypts"), message);
    }

    #[test]
    fn every_pad_length_round_trips(
        pad in 1usize..=32,
        extra_blocks in 0usize..8,
        id in receiver_id(),
        fill in any::<u8>(),
    ) {
        // Choose the message length so that 20 + len + id is 32 - pad modulo 32.
        let blocks = extra_blocks + (20 + id.len()) / 32 + 1;
        let unpadded = 32 * blocks + (32 - pad) % 32;
        let len = unpadded - 20 - id.len();
        let message = vec![fill; len];
        let key = AesKey::from_bytes([7; 32]);
        let sealed = encrypt(&key, &id, &message, &[1; 16]).expect("encrypts");
        let ciphertext = STANDARD.decode(&sealed).expect("base64");
        prop_assert_eq!(ciphertext.len(), unpadded + pad, "exactly `pad` bytes of padding");
        prop_assert_eq!(ciphertext.len() % 32, 0);
        prop_assert_eq!(decrypt(&key, &id, &sealed).expect("decrypts"), message);
    }

    #[test]
    fn decrypt_never_panics_on_text(input in ".{0,400}", id in receiver_id()) {
        let key = AesKey::from_bytes([3; 32]);
        let _ = decrypt(&key, &id, &input);
    }

    #[test]
    fn decrypt_never_panics_on_ciphertexts(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        id in receiver_id(),
    ) {
        let key = AesKey::from_bytes([3; 32]);
        let _ = decrypt(&key, &id, &STANDARD.encode(&bytes));
    }

    #[test]
    fn decrypt_never_panics_on_hostile_plaintexts(
        blocks in 1usize..20,
        body in proptest::collection::vec(any::<u8>(), 0..640),
        len_field in any::<u32>(),
        last in any::<u8>(),
    ) {
        // A well-encrypted buffer whose content lies: any length field, any pad byte.
        let mut plain = body;
        plain.resize(16 * blocks, 0);
        if plain.len() >= 20 {
            plain[16..20].copy_from_slice(&len_field.to_be_bytes());
        }
        if let Some(end) = plain.last_mut() {
            *end = last;
        }
        let key = [5u8; 32];
        let sealed = raw_encrypt(&key, &plain);
        let result = decrypt(&AesKey::from_bytes(key), "wx", &sealed);
        if let Ok(message) = result {
            prop_assert!(message.len() <= plain.len());
        }
    }

    #[test]
    fn message_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Message::parse_bytes(&bytes);
        let _ = Reply::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn message_parse_never_panics_on_xmlish_text(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("<xml>".to_string()), Just("</xml>".to_string()),
                Just("<MsgType>".to_string()), Just("</MsgType>".to_string()),
                Just("<![CDATA[".to_string()), Just("]]>".to_string()),
                Just("<Event>".to_string()), Just("</Event>".to_string()),
                Just("<!DOCTYPE".to_string()), Just("&amp;".to_string()), Just("&#0;".to_string()),
                Just("<a/>".to_string()), Just("<?pi?>".to_string()), Just("<!--c-->".to_string()),
                "[a-zA-Z0-9 <>/&;\u{1d}]{0,8}",
            ],
            0..40,
        ),
    ) {
        let _ = Message::parse(&parts.concat());
    }

    #[test]
    fn open_post_never_panics(
        mode in prop_oneof![Just(SecurityMode::Plaintext), Just(SecurityMode::Compatible), Just(SecurityMode::Safe)],
        query in "[a-z_=&%0-9]{0,80}",
        body in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        let endpoint = Endpoint::official_account(mode, "token", Some(&"A".repeat(43)), "wx").expect("config");
        let q = CallbackQuery::parse(&query);
        let _ = endpoint.open_post(&q, &body);
        let _ = endpoint.verify_get_handshake(&q);
    }

    #[test]
    fn query_values_decode_like_a_form_parser(raw in "([a-zA-Z0-9%+=~]|%[0-9a-fA-F]{2}|\\PC){0,24}") {
        let query = format!("echostr={raw}");
        let ours = CallbackQuery::parse(&query).echostr.map(Cow::into_owned);
        let reference = url::form_urlencoded::parse(query.as_bytes())
            .next()
            .map(|(_, v)| v.into_owned());
        prop_assert_eq!(ours, reference);
    }

    #[test]
    fn user_text_reads_back_exactly(content in any::<String>(), id in any::<u64>()) {
        // WeChat's framing: the text in CDATA (split at `]]>`), control characters included.
        let xml = format!(
            "<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[u]]></FromUserName>\
             <CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType>\
             <Content><![CDATA[{}]]></Content><MsgId>{id}</MsgId></xml>",
            content.replace("]]>", "]]]]><![CDATA[>"),
        );
        prop_assume!(xml.len() <= wechat::MAX_XML_BYTES);
        let message = Message::parse(&xml).expect("parses");
        let MessageBody::Text(text) = &message.body else { panic!("not text") };
        prop_assert_eq!(text.content.as_ref(), content.as_str());
        prop_assert_eq!(text.msg_id, id);
    }

    #[test]
    fn every_mode_carries_any_text_both_ways(
        mode in prop_oneof![Just(SecurityMode::Plaintext), Just(SecurityMode::Compatible), Just(SecurityMode::Safe)],
        content in any::<String>(),
        random in any::<[u8; 16]>(),
    ) {
        let endpoint = Endpoint::official_account(mode, "token", Some(&"B".repeat(43)), "wx1").expect("config");
        // A text message in WeChat's framing (our reply writer produces exactly that).
        let framed = ReplyMessage {
            to_user_name: "gh".into(),
            from_user_name: "o_user".into(),
            create_time: 1,
            body: ReplyBody::Text { content: content.as_str().into() },
        }
        .to_xml();
        let inbound_xml = format!(
            "{}<MsgId>1</MsgId></xml>",
            framed.strip_suffix("</xml>").expect("ends the document")
        );
        prop_assume!(inbound_xml.len() < 40_000);
        let request = endpoint.sign_request(&inbound_xml, "1700000000", "42", &random).expect("signs");
        let query = CallbackQuery::parse(&request.query);
        let inbound = endpoint.open_post(&query, request.body.as_bytes()).expect("opens");
        let message = inbound.message().expect("parses");
        let MessageBody::Text(text) = &message.body else { panic!("not text") };
        prop_assert_eq!(text.content.as_ref(), content.as_str());

        let reply = ReplyMessage::answering(&message, 2, ReplyBody::Text { content: content.as_str().into() });
        let reply_xml = reply.to_xml();
        let sealed = endpoint.seal_reply(&inbound, &reply_xml, 2, "42", &random).expect("seals");
        let opened = endpoint.open_reply(&sealed).expect("opens reply");
        prop_assert_eq!(Reply::parse(&opened).expect("reply parses"), Reply::Message(reply));
    }

    #[test]
    fn a_prepared_reply_answers_as_the_reply_written_out(
        body in reply_body(),
        openid in "[A-Za-z0-9_\\-\\]>]{1,32}",
        event in any::<bool>(),
        create_time in any::<i64>(),
    ) {
        let what = if event {
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[k]]></EventKey>"
        } else {
            "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>7</MsgId>"
        };
        let mut inbound = String::from("<xml><ToUserName><![CDATA[gh_1]]></ToUserName>");
        wechat::reply::cdata_element(&mut inbound, "FromUserName", &openid);
        inbound.push_str("<CreateTime>1</CreateTime>");
        inbound.push_str(what);
        inbound.push_str("</xml>");
        let message = Message::parse(&inbound).expect("parses");
        let mut cut = body.clone();
        if let ReplyBody::News { articles } = &mut cut {
            articles.truncate(wechat::reply::news_article_limit(&message));
        }
        let written = ReplyMessage::answering(&message, create_time, cut).to_xml();

        let prepared = PreparedReply::new(body.clone());
        let answer = prepared.answer(&message, create_time);
        prop_assert_eq!(&answer.xml, &written);
        let kept = wechat::reply::without_header(&written, &message, create_time);
        prop_assert_eq!(&**answer.kept, &*wechat::kept::markup(&kept));
        prop_assert_eq!(prepared.body(), &body);
    }

    #[test]
    fn replies_read_back_to_themselves(reply in reply_message()) {
        let xml = reply.to_xml();
        let back = Reply::parse(&xml).expect("parses");
        prop_assert_eq!(&back, &Reply::Message(reply));
        prop_assert_eq!(back.to_xml(), xml);
    }
}

fn text() -> impl Strategy<Value = Cow<'static, str>> {
    prop_oneof![
        any::<String>(),
        "[ a-z\\]>\u{1}\n]{0,12}",
        Just("]]>".to_string()),
        Just(" padded ".to_string()),
    ]
    .prop_map(Cow::Owned)
}

fn article() -> impl Strategy<Value = Article<'static>> {
    (text(), text(), text(), text()).prop_map(|(title, description, pic_url, url)| Article {
        title,
        description,
        pic_url,
        url,
    })
}

fn reply_body() -> impl Strategy<Value = ReplyBody<'static>> {
    let opt = || proptest::option::of(text());
    prop_oneof![
        text().prop_map(|content| ReplyBody::Text { content }),
        text().prop_map(|media_id| ReplyBody::Image { media_id }),
        text().prop_map(|media_id| ReplyBody::Voice { media_id }),
        (text(), opt(), opt()).prop_map(|(media_id, title, description)| ReplyBody::Video {
            media_id,
            title,
            description
        }),
        (opt(), opt(), opt(), opt(), text()).prop_map(
            |(title, description, music_url, hq_music_url, thumb_media_id)| ReplyBody::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            }
        ),
        proptest::collection::vec(article(), 0..4)
            .prop_map(|articles| ReplyBody::News { articles }),
        opt().prop_map(|kf_account| ReplyBody::TransferCustomerService { kf_account }),
    ]
}

fn reply_message() -> impl Strategy<Value = ReplyMessage<'static>> {
    (text(), text(), any::<i64>(), reply_body()).prop_map(
        |(to_user_name, from_user_name, create_time, body)| ReplyMessage {
            to_user_name,
            from_user_name,
            create_time,
            body,
        },
    )
}

#[test]
fn decrypt_into_reuses_one_buffer() {
    let key = AesKey::from_bytes([9; 32]);
    let mut buf = Vec::with_capacity(4096);
    let capacity = buf.capacity();
    for n in 0..50 {
        let message = vec![b'a' + (n % 26) as u8; n * 7];
        let sealed = encrypt(&key, "wx", &message, &[0; 16]).expect("encrypts");
        crypto::decrypt_into(&key, "wx", &sealed, &mut buf).expect("decrypts");
        assert_eq!(buf, message);
    }
    assert_eq!(
        buf.capacity(),
        capacity,
        "no reallocation for messages that fit"
    );
}
