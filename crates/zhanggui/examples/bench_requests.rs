//! The request set of the callback benchmark (`bench/callback.sh`): raw HTTP/1.1 POSTs to one
//! account's callback URL, signed (and in safe mode encrypted) as WeChat does, each a text
//! message with its own MsgId, so the log's deduplication never short-cuts the work. Every
//! request has the same length, so the load generator replays the file with one fixed-size
//! read per request.
//!
//! ```text
//! bench_requests --mode safe --path /wx/KEY --token TOKEN --aes-key KEY43 --app-id wx… \
//!   --first-msg-id 1000000000000000000 --count 1000000 --out requests.bin
//! ```
//! prints the length of one request (the record length).
//!
//! With `--check 127.0.0.1:PORT --expect TEXT` instead of `--count`/`--out`, it sends one
//! such request (MsgId `--first-msg-id`) and checks, as WeChat would, that the answer opens
//! (in safe mode: its signature holds and it decrypts) to a text reply containing TEXT.

use std::io::{BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, bail};

struct Args {
    mode: wechat::SecurityMode,
    path: String,
    token: String,
    aes_key: String,
    app_id: String,
    first_msg_id: u64,
    count: u64,
    out: String,
    check: String,
    expect: String,
}

const USAGE: &str = "usage: bench_requests --mode plaintext|safe --path /wx/KEY --token T \
    --aes-key K --app-id A --first-msg-id N (--count N --out FILE | --check HOST:PORT --expect TEXT)";

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        mode: wechat::SecurityMode::Plaintext,
        path: String::new(),
        token: String::new(),
        aes_key: String::new(),
        app_id: String::new(),
        first_msg_id: 1_000_000_000_000_000_000,
        count: 0,
        out: String::new(),
        check: String::new(),
        expect: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().context(USAGE)?;
        match flag.as_str() {
            "--mode" => {
                args.mode = match value.as_str() {
                    "safe" => wechat::SecurityMode::Safe,
                    "plaintext" => wechat::SecurityMode::Plaintext,
                    _ => bail!(USAGE),
                }
            }
            "--path" => args.path = value,
            "--token" => args.token = value,
            "--aes-key" => args.aes_key = value,
            "--app-id" => args.app_id = value,
            "--first-msg-id" => args.first_msg_id = value.parse().context(USAGE)?,
            "--count" => args.count = value.parse().context(USAGE)?,
            "--out" => args.out = value,
            "--check" => args.check = value,
            "--expect" => args.expect = value,
            _ => bail!(USAGE),
        }
    }
    let generate = !args.out.is_empty() && args.count > 0;
    let check = !args.check.is_empty() && !args.expect.is_empty();
    if args.path.is_empty()
        || args.token.is_empty()
        || args.aes_key.is_empty()
        || args.app_id.is_empty()
        || generate == check
    {
        bail!(USAGE);
    }
    // Fixed-width MsgIds (19 digits) keep every request the same length.
    let last = args.first_msg_id.checked_add(args.count);
    if args.first_msg_id < 1_000_000_000_000_000_000
        || last.is_none_or(|l| l > 9_999_999_999_999_999_999)
    {
        bail!("MsgIds must stay 19 digits long");
    }
    Ok(args)
}

/// The inbound message: a text that hits the default reply, from one of 1,000 followers.
fn text_message(follower: u64, msg_id: u64, now: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_bench000001]]></ToUserName>\
         <FromUserName><![CDATA[oBenchFollower{follower:014}]]></FromUserName>\
         <CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[你好，请问营业时间？]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

/// Request `i` (MsgId `first_msg_id + i`) as WeChat would POST it, in raw HTTP/1.1.
fn request(args: &Args, endpoint: &wechat::Endpoint, i: u64, now: u64) -> anyhow::Result<String> {
    let msg_id = args.first_msg_id + i;
    let follower = i % 1000;
    // WeChat's nonces are digits; ten of them, different for every request.
    let nonce = format!(
        "{:010}",
        msg_id.wrapping_mul(2_654_435_761) % 10_000_000_000
    );
    let signed = endpoint
        .sign_request(
            &text_message(follower, msg_id, now),
            &now.to_string(),
            &nonce,
            &rand::random(),
        )
        .map_err(|e| anyhow::anyhow!("sign: {e}"))?;
    Ok(format!(
        "POST {}?{}&openid=oBenchFollower{follower:014} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: text/xml\r\nContent-Length: {}\r\n\r\n{}",
        args.path,
        signed.query,
        signed.body.len(),
        signed.body
    ))
}

fn generate(args: &Args, endpoint: &wechat::Endpoint, now: u64) -> anyhow::Result<usize> {
    let file = std::fs::File::create(&args.out).with_context(|| args.out.clone())?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut record_len = None;
    for i in 0..args.count {
        let record = request(args, endpoint, i, now)?;
        match record_len {
            None => record_len = Some(record.len()),
            Some(len) if len != record.len() => {
                bail!("request {i} is {} bytes, not {len}", record.len())
            }
            Some(_) => {}
        }
        out.write_all(record.as_bytes())?;
    }
    out.flush()?;
    Ok(record_len.unwrap_or(0))
}

/// Sends one request and checks its answer as WeChat would read it.
fn check(args: &Args, endpoint: &wechat::Endpoint, now: u64) -> anyhow::Result<()> {
    let addr = args.check.as_str();
    if !addr.starts_with("127.0.0.1:") {
        bail!("--check takes 127.0.0.1:PORT");
    }
    let mut stream = TcpStream::connect(addr).with_context(|| addr.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let req = request(args, endpoint, 0, now)?.replacen(
        "\r\nHost: 127.0.0.1\r\n",
        "\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
        1,
    );
    stream.write_all(req.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8(response).context("the answer is not UTF-8")?;
    let (head, body) = response.split_once("\r\n\r\n").context("no HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("answered {head}");
    }
    let reply = endpoint
        .open_reply(body)
        .map_err(|e| anyhow::anyhow!("the answer does not open: {e}: {body}"))?;
    match wechat::Reply::parse(&reply) {
        Ok(wechat::Reply::Message(m)) => match m.body {
            wechat::ReplyBody::Text { content } if content.contains(&args.expect) => Ok(()),
            other => bail!("unexpected reply {other:?}"),
        },
        _ => bail!("not a text reply: {reply}"),
    }
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let endpoint = wechat::Endpoint::official_account(
        args.mode,
        &args.token,
        Some(&args.aes_key),
        &args.app_id,
    )
    .map_err(|e| anyhow::anyhow!("account: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    if args.check.is_empty() {
        println!("{}", generate(&args, &endpoint, now)?);
    } else {
        check(&args, &endpoint, now)?;
        println!("ok");
    }
    Ok(())
}
