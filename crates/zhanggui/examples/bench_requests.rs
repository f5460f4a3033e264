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
//!
//! With `--texts FILE` (lines `text<TAB>expected reply[<TAB>…]`, as written by
//! `examples/bench_rules.rs`) the messages carry these texts instead of the one that hits the
//! default reply: request `i` carries line `i mod n`. Each text is padded with trailing spaces
//! to `--pad-to BYTES` (default: the longest text; matching trims them), so every request
//! keeps the same length. `--check` then sends `--check-count N` (default 30) requests, with
//! MsgIds from `--first-msg-id` on, carrying lines spread evenly over the file, and checks
//! that each reply is exactly that line's expected reply (no `--expect`).

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
    /// (text padded to `pad_to`, expected reply); empty: the default-reply text.
    texts: Vec<(String, String)>,
    check_count: u64,
}

const USAGE: &str = "usage: bench_requests --mode plaintext|safe --path /wx/KEY --token T \
    --aes-key K --app-id A --first-msg-id N [--texts FILE [--pad-to BYTES]] \
    (--count N --out FILE | --check HOST:PORT (--expect TEXT | [--check-count N]))";

/// The message text that hits the default reply (without `--texts`).
const DEFAULT_TEXT: &str = "你好，请问营业时间？";

/// Reads `--texts`: one `text<TAB>expected reply` a line, texts padded to the same length.
fn read_texts(path: &str, pad_to: usize) -> anyhow::Result<Vec<(String, String)>> {
    let body = std::fs::read_to_string(path).with_context(|| path.to_string())?;
    let mut texts = vec![];
    for (n, line) in body.lines().enumerate() {
        let mut fields = line.split('\t');
        let text = fields.next().unwrap_or_default();
        let expected = fields
            .next()
            .with_context(|| format!("{path}:{}: no expected reply", n + 1))?;
        if text.trim().is_empty() || text.contains("]]>") || text.ends_with(' ') {
            bail!("{path}:{}: unusable text {text:?}", n + 1);
        }
        texts.push((text.to_string(), expected.to_string()));
    }
    if texts.is_empty() {
        bail!("{path}: no texts");
    }
    let longest = texts.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    let width = if pad_to == 0 { longest } else { pad_to };
    if longest > width {
        bail!("{path}: a text is {longest} bytes, over --pad-to {width}");
    }
    for (t, _) in &mut texts {
        let pad = width - t.len();
        t.extend(std::iter::repeat_n(' ', pad));
    }
    Ok(texts)
}

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
        texts: vec![],
        check_count: 30,
    };
    let mut texts_file = String::new();
    let mut pad_to = 0;
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
            "--texts" => texts_file = value,
            "--pad-to" => pad_to = value.parse().context(USAGE)?,
            "--check-count" => args.check_count = value.parse().context(USAGE)?,
            _ => bail!(USAGE),
        }
    }
    if !texts_file.is_empty() {
        args.texts = read_texts(&texts_file, pad_to)?;
    }
    let generate = !args.out.is_empty() && args.count > 0;
    // With texts, each line says what its reply must be.
    let check = !args.check.is_empty()
        && (args.texts.is_empty() != args.expect.is_empty())
        && args.check_count > 0;
    if args.path.is_empty()
        || args.token.is_empty()
        || args.aes_key.is_empty()
        || args.app_id.is_empty()
        || generate == check
    {
        bail!(USAGE);
    }
    // Fixed-width MsgIds (19 digits) keep every request the same length.
    let last = args
        .first_msg_id
        .checked_add(args.count.max(args.check_count));
    if args.first_msg_id < 1_000_000_000_000_000_000
        || last.is_none_or(|l| l > 9_999_999_999_999_999_999)
    {
        bail!("MsgIds must stay 19 digits long");
    }
    Ok(args)
}

/// The inbound message: `content` (the text that hits the default reply, or one of
/// `--texts`), from one of 1,000 followers.
fn text_message(follower: u64, msg_id: u64, now: u64, content: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_bench000001]]></ToUserName>\
         <FromUserName><![CDATA[oBenchFollower{follower:014}]]></FromUserName>\
         <CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

/// Request `i` (MsgId `first_msg_id + i`) carrying `content`, as WeChat would POST it, in raw
/// HTTP/1.1.
fn request(
    args: &Args,
    endpoint: &wechat::Endpoint,
    i: u64,
    now: u64,
    content: &str,
) -> anyhow::Result<String> {
    let msg_id = args.first_msg_id + i;
    let follower = i % 1000;
    // WeChat's nonces are digits; ten of them, different for every request.
    let nonce = format!(
        "{:010}",
        msg_id.wrapping_mul(2_654_435_761) % 10_000_000_000
    );
    let signed = endpoint
        .sign_request(
            &text_message(follower, msg_id, now, content),
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
        let content = match args.texts.len() as u64 {
            0 => DEFAULT_TEXT,
            n => args.texts[(i % n) as usize].0.as_str(),
        };
        let record = request(args, endpoint, i, now, content)?;
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

/// Sends the check's requests: one with the default-reply text, or `--check-count` of the
/// texts spread over the file; prints how many were checked.
fn check(args: &Args, endpoint: &wechat::Endpoint, now: u64) -> anyhow::Result<u64> {
    if args.texts.is_empty() {
        check_one(args, endpoint, now, 0, DEFAULT_TEXT, |content| {
            content.contains(&args.expect)
        })?;
        return Ok(1);
    }
    let n = args.texts.len() as u64;
    let count = args.check_count.min(n);
    for j in 0..count {
        let (text, expected) = &args.texts[(j * n / count) as usize];
        check_one(args, endpoint, now, j, text, |content| content == expected)
            .with_context(|| format!("text {:?} should get {expected:?}", text.trim_end()))?;
    }
    Ok(count)
}

/// Sends request `i` carrying `content` and checks its answer as WeChat would read it: a
/// text reply whose content passes `ok`.
fn check_one(
    args: &Args,
    endpoint: &wechat::Endpoint,
    now: u64,
    i: u64,
    content: &str,
    ok: impl Fn(&str) -> bool,
) -> anyhow::Result<()> {
    let addr = args.check.as_str();
    if !addr.starts_with("127.0.0.1:") {
        bail!("--check takes 127.0.0.1:PORT");
    }
    let mut stream = TcpStream::connect(addr).with_context(|| addr.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let req = request(args, endpoint, i, now, content)?.replacen(
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
            wechat::ReplyBody::Text { content } if ok(&content) => Ok(()),
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
        let checked = check(&args, &endpoint, now)?;
        println!("ok {checked}");
    }
    Ok(())
}
