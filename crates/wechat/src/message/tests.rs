use super::*;

fn header(msg_type: &str, rest: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o_user]]></FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{rest}</xml>"
    )
}

fn event(name: &str, rest: &str) -> String {
    header("event", &format!("<Event><![CDATA[{name}]]></Event>{rest}"))
}

/// Parses and detaches, so tests can parse temporaries (and `into_owned` runs everywhere).
fn parse(xml: &str) -> Message<'static> {
    Message::parse(xml).expect("parses").into_owned()
}

#[test]
fn text_keeps_control_characters_and_inner_whitespace() {
    let xml = header(
        "text",
        "<Content><![CDATA[ a\u{1d}b\r\n\t ]]></Content><MsgId>1</MsgId>",
    );
    let m = Message::parse(&xml).expect("parses");
    let MessageBody::Text(t) = &m.body else {
        panic!("not text: {m:?}")
    };
    assert_eq!(t.content, " a\u{1d}b\r\n\t ");
    // Borrowed from the body, not copied.
    assert!(matches!(t.content, Cow::Borrowed(_)));
    assert!(matches!(m.from_user_name, Cow::Borrowed("o_user")));
}

#[test]
fn emoji_and_entities_in_plain_text() {
    let xml = header(
        "text",
        "<Content>a &lt;b&gt; 😀 &#x4e2d;</Content><MsgId>2</MsgId>",
    );
    let MessageBody::Text(t) = parse(&xml).body else {
        panic!("not text")
    };
    assert_eq!(t.content, "a <b> 😀 中");
}

#[test]
fn msg_id_spellings_and_u64_range() {
    for tag in ["MsgId", "MsgID"] {
        let xml = header(
            "text",
            &format!("<Content>x</Content><{tag}>18446744073709551615</{tag}>"),
        );
        assert_eq!(parse(&xml).msg_id(), Some(u64::MAX));
    }
    let missing = header("text", "<Content>x</Content>");
    assert_eq!(
        Message::parse(&missing),
        Err(ParseError::MissingField("MsgId"))
    );
    let bad = header("text", "<Content>x</Content><MsgId>12a</MsgId>");
    assert_eq!(
        Message::parse(&bad),
        Err(ParseError::InvalidNumber("MsgId"))
    );
}

#[test]
fn header_is_required() {
    let no_time = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
                   <MsgType>text</MsgType></xml>";
    assert_eq!(
        Message::parse(no_time),
        Err(ParseError::MissingField("CreateTime"))
    );
    let no_type = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
                   <CreateTime>1</CreateTime></xml>";
    assert_eq!(
        Message::parse(no_type),
        Err(ParseError::MissingField("MsgType"))
    );
    assert_eq!(
        Message::parse(&header("event", "")),
        Err(ParseError::MissingField("Event"))
    );
}

#[test]
fn event_names_are_case_insensitive() {
    for name in ["SCAN", "scan", "Scan"] {
        let m = parse(&event(name, "<EventKey>42</EventKey><Ticket>T</Ticket>"));
        assert!(matches!(m.event(), Some(Event::Scan { .. })), "{name}");
        assert_eq!(m.event().and_then(Event::qr_scene), Some("42"));
    }
    let m = parse(&event(
        "Subscribe",
        "<EventKey><![CDATA[qrscene_7]]></EventKey>",
    ));
    assert_eq!(m.event().and_then(Event::qr_scene), Some("7"));
    let m = parse(&event("click", "<EventKey>K</EventKey>"));
    assert_eq!(m.event().map(Event::name), Some("CLICK"));
    let m = parse(&event(
        "USER_GET_CARD",
        "<CardId>c</CardId><UserCardCode>9</UserCardCode>",
    ));
    let Some(Event::Card(card)) = m.event() else {
        panic!("not a card event")
    };
    assert_eq!(card.kind, CardEventKind::UserGetCard);
    assert_eq!((card.card_id(), card.user_card_code()), ("c", Some("9")));
}

#[test]
fn unknown_types_are_kept_not_refused() {
    let m = parse(&header(
        "device_text",
        "<DeviceID>d</DeviceID><MsgId>5</MsgId>",
    ));
    let MessageBody::Unknown {
        msg_type,
        msg_id,
        fields,
    } = &m.body
    else {
        panic!("{m:?}")
    };
    assert_eq!((msg_type.as_ref(), *msg_id), ("device_text", Some(5)));
    assert_eq!(fields.get("DeviceID"), Some("d"));
    assert_eq!(
        fields.get("MsgType"),
        None,
        "the header is not repeated in the fields"
    );

    let m = parse(&event("WifiConnected", "<ConnectTime>0</ConnectTime>"));
    let Some(Event::Other { event, fields }) = m.event() else {
        panic!("{m:?}")
    };
    assert_eq!(event, "WifiConnected");
    assert_eq!(fields.get("ConnectTime"), Some("0"));
    assert_eq!(fields.get("Event"), None);
}

#[test]
fn typed_events_with_nested_lists() {
    let m = parse(&event(
        "subscribe_msg_sent_event",
        "<SubscribeMsgSentEvent><List><TemplateId>t1</TemplateId><MsgID>11</MsgID>\
         <ErrorCode>0</ErrorCode><ErrorStatus>success</ErrorStatus></List></SubscribeMsgSentEvent>",
    ));
    let Some(Event::SubscribeMsgSent(list)) = m.event() else {
        panic!("{m:?}")
    };
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].msg_id, list[0].error_code), (Some(11), Some(0)));

    let m = parse(&event(
        "MASSSENDJOBFINISH",
        "<MsgID>9</MsgID><Status>send success</Status><ArticleUrlResult><Count>1</Count>\
         <ResultList><item><ArticleIdx>1</ArticleIdx><ArticleUrl>u</ArticleUrl></item>\
         </ResultList></ArticleUrlResult>",
    ));
    let Some(Event::MassSendJobFinish(job)) = m.event() else {
        panic!("{m:?}")
    };
    assert_eq!(job.copyright_check, None);
    assert_eq!(job.article_urls.len(), 1);
    assert_eq!(job.article_urls[0].article_url, "u");

    let m = parse(&event(
        "kf_switch_session",
        "<FromKfAccount>a@x</FromKfAccount><ToKfAccount>b@x</ToKfAccount>",
    ));
    assert!(matches!(m.event(), Some(Event::KfSwitchSession { .. })));
    let m = parse(&event(
        "naming_verify_fail",
        "<FailTime>5</FailTime><FailReason>r</FailReason>",
    ));
    let Some(Event::AccountVerify(v)) = m.event() else {
        panic!("{m:?}")
    };
    assert_eq!(
        (v.kind, v.fail_time),
        (AccountVerifyKind::NamingVerifyFail, Some(5))
    );
}

#[test]
fn hostile_bodies_are_clean_errors() {
    let billion_laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
        <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>\
        <xml><Content>&lol2;</Content></xml>";
    assert_eq!(Message::parse(billion_laughs), Err(ParseError::DocType));
    let xxe = "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><A>&xxe;</A></xml>";
    assert_eq!(Message::parse(xxe), Err(ParseError::DocType));
    let undeclared = header("text", "<Content>&xxe;</Content><MsgId>1</MsgId>");
    assert!(matches!(
        Message::parse(&undeclared),
        Err(ParseError::UnknownEntity(_))
    ));
    let deep = header(
        "text",
        &format!("{}{}", "<a>".repeat(100), "</a>".repeat(100)),
    );
    assert_eq!(Message::parse(&deep), Err(ParseError::TooDeep));
    assert_eq!(
        Message::parse_bytes(b"<xml><A>\xc3\x28</A></xml>"),
        Err(ParseError::InvalidUtf8)
    );
    let huge = header(
        "text",
        &format!("<Content>{}</Content>", "x".repeat(70_000)),
    );
    assert_eq!(Message::parse(&huge), Err(ParseError::TooLarge));
    for broken in [
        "",
        "<xml>",
        "<xml><A></xml>",
        "<xml></xml><xml></xml>",
        "<<<",
        "<xml><A>x</A",
    ] {
        assert!(Message::parse(broken).is_err(), "{broken:?}");
    }
}

#[test]
fn dedup_keys() {
    let text = |from: &str, id: u64, time: i64| {
        format!(
            "<xml><ToUserName>gh</ToUserName><FromUserName>{from}</FromUserName>\
             <CreateTime>{time}</CreateTime><MsgType>text</MsgType><Content>x</Content>\
             <MsgId>{id}</MsgId></xml>"
        )
    };
    let a = parse(&text("u1", 7, 100)).dedup_key();
    assert_eq!(a, "m|7|u1|100");
    // The same MsgId from another user, or at another time, is another message.
    assert_ne!(a, parse(&text("u2", 7, 100)).dedup_key());
    assert_ne!(a, parse(&text("u1", 7, 101)).dedup_key());
    // A retry is the same message.
    assert_eq!(a, parse(&text("u1", 7, 100)).dedup_key());

    let loc = |lat: &str| {
        event(
            "LOCATION",
            &format!("<Latitude>{lat}</Latitude><Longitude>1</Longitude>"),
        )
    };
    assert_eq!(
        parse(&loc("1")).dedup_key(),
        "e|o_user|1700000000|location|"
    );

    let click = |key: &str| event("CLICK", &format!("<EventKey><![CDATA[{key}]]></EventKey>"));
    assert_ne!(
        parse(&click("A")).dedup_key(),
        parse(&click("B")).dedup_key()
    );
    // Escaping keeps parts apart: a key holding the separator cannot imitate another key.
    assert_eq!(
        parse(&click("a|b")).dedup_key(),
        "e|o_user|1700000000|click|a%7Cb"
    );

    let card = |code: &str| {
        event(
            "user_consume_card",
            &format!("<CardId>c</CardId><UserCardCode>{code}</UserCardCode>"),
        )
    };
    assert!(parse(&card("123")).dedup_key().ends_with("|c:123"));
    assert_ne!(parse(&card("1")).dedup_key(), parse(&card("2")).dedup_key());

    let job = |id: u64| {
        event(
            "TEMPLATESENDJOBFINISH",
            &format!("<MsgID>{id}</MsgID><Status>success</Status>"),
        )
    };
    assert_ne!(parse(&job(1)).dedup_key(), parse(&job(2)).dedup_key());

    let unknown = parse(&header("strange", "")).dedup_key();
    assert_eq!(unknown, "u|o_user|1700000000|strange");
}

#[test]
fn into_owned_outlives_the_body() {
    let owned = {
        let xml = event(
            "scancode_push",
            "<EventKey>6</EventKey><ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo>",
        );
        parse(&xml).into_owned()
    };
    let Some(Event::ScanCodePush(code)) = owned.event() else {
        panic!("{owned:?}")
    };
    assert_eq!(
        (code.scan_type.as_ref(), code.scan_result.as_ref()),
        ("qrcode", "1")
    );
}
