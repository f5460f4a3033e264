//! Everything that reads untrusted XML: message bodies, reply XML and the callback envelope.
//! Beyond "never panics", a reply that parses must read back to itself once re-serialized.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wechat::{CallbackQuery, Endpoint, Message, Reply, SecurityMode};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::parse_bytes(data) {
        let _ = message.dedup_key();
        let _ = message.into_owned();
    }
    if let Some(reply) = std::str::from_utf8(data)
        .ok()
        .and_then(|t| Reply::parse(t).ok())
    {
        let xml = reply.to_xml();
        assert_eq!(
            Reply::parse(&xml).ok(),
            Some(reply),
            "reply did not read back"
        );
    }
    // The envelope reader and the mode logic, with a query whose signatures fail late.
    let query = CallbackQuery::parse("signature=x&timestamp=1&nonce=2&msg_signature=y");
    for mode in [
        SecurityMode::Plaintext,
        SecurityMode::Compatible,
        SecurityMode::Safe,
    ] {
        if let Ok(endpoint) = Endpoint::official_account(mode, "token", Some(&"A".repeat(43)), "wx")
        {
            let _ = endpoint.open_post(&query, data);
        }
    }
});
