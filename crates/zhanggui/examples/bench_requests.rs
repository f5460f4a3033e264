//! Writes the request set of the callback benchmark (`bench/callback.sh`): raw HTTP/1.1
//! POSTs to one account's callback URL, signed (and in safe mode encrypted) exactly as WeChat
//! does, each a text message with its own MsgId, so the log's deduplication never
//! short-cuts the work. Every request has the same length, so the load generator can replay
//! the file with one fixed-size read per request.
//!
//! ```text
//! cargo run --release -p zhanggui --example bench_requests -- \
//!   --mode safe --path /wx/KEY --token TOKEN --aes-key KEY43 --app-id wx... \
//!   --first-msg-id 1000000000000000000 --count 1000000 --out requests.bin
//! ```
//!
//! Prints the length of one request (the record length) on standard output.

use std::io::{BufWriter, Write};

struct Args {
    safe: bool,
    path: String,
    token: String,
    aes_key: String,
    app_id: String,
    first_msg_id: u64,
    count: u64,
    out: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench_requests --mode plaintext|safe --path /wx/KEY --token T \
         [--aes-key K --app-id A] --first-msg-id N --count N --out FILE"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        safe: false,
        path: String::new(),
        token: String::new(),
        aes_key: String::new(),
        app_id: String::new(),
        first_msg_id: 1_000_000_000_000_000_000,
        count: 0,
        out: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--mode" => {
                args.safe = match value.as_str() {
                    "safe" => true,
                    "plaintext" => false,
                    _ => usage(),
                }
            }
            "--path" => args.path = value,
            "--token" => args.token = value,
            "--aes-key" => args.aes_key = value,
            "--app-id" => args.app_id = value,
            "--first-msg-id" => args.first_msg_id = value.parse().unwrap_or_else(|_| usage()),
            "--count" => args.count = value.parse().unwrap_or_else(|_| usage()),
            "--out" => args.out = value,
            _ => usage(),
        }
    }
    if args.path.is_empty() || args.token.is_empty() || args.out.is_empty() || args.count == 0 {
        usage();
    }
    if args.safe && (args.aes_key.is_empty() || args.app_id.is_empty()) {
        usage();
    }
    // Fixed-width MsgIds (19 digits) keep every request the same length.
    let last = args.first_msg_id.checked_add(args.count);
    if args.first_msg_id < 1_000_000_000_000_000_000
        || last.is_none_or(|l| l > 9_999_999_999_999_999_999)
    {
        eprintln!("MsgIds must stay 19 digits long");
        std::process::exit(2);
    }
    args
}

/// The inbound message: a text that hits the default reply. 1,000 distinct followers.
fn text_message(i: u64, msg_id: u64, now: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_bench000001]]></ToUserName>\
         <FromUserName><![CDATA[oBenchFollower{:014}]]></FromUserName>\
         <CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[你好，请问营业时间？]]></Content><MsgId>{msg_id}</MsgId></xml>",
        i % 1000
    )
}

fn main() -> anyhow::Result<()> {
    let args = parse_args();
    let key = if args.safe {
        Some(
            wechat::AesKey::from_encoding_aes_key(&args.aes_key)
                .map_err(|e| anyhow::anyhow!("EncodingAESKey: {e}"))?,
        )
    } else {
        None
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let timestamp = now.to_string();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args.out)?);
    let mut record_len = None;
    let mut record = String::with_capacity(2048);
    for i in 0..args.count {
        let msg_id = args.first_msg_id + i;
        // WeChat's nonces are digits; ten of them, different for every request.
        let nonce = format!(
            "{:010}",
            (msg_id.wrapping_mul(2_654_435_761)) % 10_000_000_000
        );
        let xml = text_message(i, msg_id, now);
        let signature = wechat::signature::signature(&args.token, &timestamp, &nonce);
        let (query, body) = match &key {
            None => (
                format!(
                    "signature={}&timestamp={timestamp}&nonce={nonce}&openid=oBenchFollower{:014}",
                    signature.as_str(),
                    i % 1000
                ),
                xml,
            ),
            Some(key) => {
                let random: [u8; 16] = rand::random();
                let encrypt = wechat::crypto::encrypt(key, &args.app_id, xml.as_bytes(), &random)
                    .map_err(|e| anyhow::anyhow!("encrypt: {e}"))?;
                let msg_signature =
                    wechat::signature::msg_signature(&args.token, &timestamp, &nonce, &encrypt);
                (
                    format!(
                        "signature={}&timestamp={timestamp}&nonce={nonce}&openid=oBenchFollower{:014}\
                         &encrypt_type=aes&msg_signature={}",
                        signature.as_str(),
                        i % 1000,
                        msg_signature.as_str()
                    ),
                    format!(
                        "<xml><ToUserName><![CDATA[gh_bench000001]]></ToUserName>\
                         <Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
                    ),
                )
            }
        };
        record.clear();
        record.push_str(&format!(
            "POST {}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n\
             Content-Length: {}\r\n\r\n{body}",
            args.path,
            body.len()
        ));
        match record_len {
            None => record_len = Some(record.len()),
            Some(len) if len != record.len() => {
                anyhow::bail!("request {i} is {} bytes, not {len}", record.len())
            }
            Some(_) => {}
        }
        out.write_all(record.as_bytes())?;
    }
    out.flush()?;
    println!("{}", record_len.unwrap_or(0));
    Ok(())
}
