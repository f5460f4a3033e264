//! The server's connections. WeChat's callback requests, as WeChat makes them (a GET or a
//! POST with a `Content-Length` to `/wx/{key}`, HTTP/1.1 or 1.0), are read and answered
//! here by a small HTTP/1.1 reader and writer of our own; at the first request that is
//! anything else the connection goes to hyper, with the bytes read so far, and stays there.
//!
//! Why: hyper's and axum's work around a request, its parsing into a `Request` with a header
//! map, the body's stream, the response's headers and their encoding, cost ~2–3 µs a
//! request, as much as all of a callback's SQLite work (BENCHMARKS.md, callback,
//! twenty-second round). The callback needs none of it: its requests are small, of one
//! shape, and the answer is a status, a content type and a body.
//!
//! What this reader does not take it leaves to hyper whole: other paths and methods,
//! chunked bodies, `Expect`, upgrades, bodies over the callback's limit (hyper's
//! path answers them 413), a head larger than [`MAX_HEAD`], anything malformed (hyper answers
//! 400). A request once started must arrive within [`REQUEST_TIME`]. On stop, idle
//! connections close at once and a request being answered is finished first, as hyper's
//! graceful shutdown does for the connections it serves.

use std::future::Future;
use std::io;
use std::ops::Range;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::Method;
use bytes::{Buf, Bytes, BytesMut};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use super::web::Service;
use crate::messages::routes::{Answered, MAX_BODY_BYTES, answer_directly, direct_key};

/// A request head longer than this goes to hyper (WeChat's are a few hundred bytes).
pub const MAX_HEAD: usize = 16 * 1024;
/// How long a request may take to arrive once its first bytes have.
pub const REQUEST_TIME: Duration = Duration::from_secs(30);
/// Headers a callback request may have for this reader to take it.
const MAX_HEADERS: usize = 32;
/// Room made in the read buffer before each read: without it a full buffer grows by 64
/// bytes a read (`BytesMut`'s least), and a body of 64 KiB would take a thousand reads.
const READ_AHEAD: usize = 4096;

/// Serves `listener` until `stop` completes, then waits for every connection to finish.
pub async fn serve(listener: TcpListener, service: Service, stop: impl Future<Output = ()>) {
    // Connections hold a sender and watch for the receiver to go: the server's stop.
    let (stopping, running) = watch::channel(());
    // Each connection holds a receiver; the server is done when none is left.
    let (finished, alive) = watch::channel(());
    let mut stop = pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    pause_after_accept_error(e).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let connection = connection(stream, service.clone(), stopping.clone());
        let alive = alive.clone();
        tokio::spawn(async move {
            connection.await;
            drop(alive);
        });
    }
    drop(running);
    drop(listener);
    drop(alive);
    finished.closed().await;
}

/// A peer that gave up before we accepted is its own business; anything else (out of file
/// descriptors, say) would repeat at once, so the loop waits a second.
async fn pause_after_accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One connection: callback requests answered here until one is not, then hyper.
async fn connection(mut stream: TcpStream, service: Service, stopping: watch::Sender<()>) {
    let mut stopped = pin!(stopping.closed());
    let mut read = BytesMut::with_capacity(READ_AHEAD);
    let mut out = Vec::with_capacity(1024);
    loop {
        if read.is_empty() {
            read.reserve(READ_AHEAD);
            // Between requests: the one place where the server's stop closes the connection.
            tokio::select! {
                biased;
                _ = &mut stopped => return,
                n = stream.read_buf(&mut read) => if !matches!(n, Ok(n) if n > 0) { return },
            }
        }
        let request = match next_request(&mut stream, &mut read).await {
            Next::Callback(request) => request,
            Next::Other => return hand_over(stream, read, service, stopped).await,
            Next::Gone => return,
        };
        let answered = {
            let key = text_at(&read, &request.key);
            let query = text_at(&read, &request.query);
            let body = &read[request.body.clone()];
            answer_directly(service.callback(), request.method, key, query, body).await
        };
        read.advance(request.body.end);
        let close = request.close || stopping.is_closed();
        write_response(&mut out, &answered, request.http10, close);
        if stream.write_all(&out).await.is_err() {
            return;
        }
        if close {
            // A FIN after the answer, as hyper sends, rather than the socket just dropped.
            let _ = stream.shutdown().await;
            return;
        }
        if out.capacity() > 64 * 1024 {
            out = Vec::with_capacity(1024);
        }
    }
}

/// What comes next on a connection.
enum Next {
    /// A callback request, whole in the buffer.
    Callback(CallbackRequest),
    /// Anything else: hyper's (the buffer holds its first bytes).
    Other,
    /// The peer closed, failed, or took longer than [`REQUEST_TIME`].
    Gone,
}

/// Where a callback request's parts are in the read buffer.
#[derive(Debug, PartialEq)]
struct CallbackRequest {
    method: Method,
    key: Range<usize>,
    query: Range<usize>,
    /// The body; it ends where the request does.
    body: Range<usize>,
    /// Answer, then close: `Connection: close`, or HTTP/1.0 without `keep-alive`.
    close: bool,
    /// HTTP/1.0 (a proxy such as nginx speaks it to its upstream by default).
    http10: bool,
}

/// Reads until the buffer holds a whole callback request, or tells it is not one.
async fn next_request(stream: &mut TcpStream, read: &mut BytesMut) -> Next {
    let mut deadline = None;
    loop {
        match callback_request(read) {
            Parsed::Whole(request) => return Next::Callback(request),
            Parsed::Other => return Next::Other,
            Parsed::Partial => {}
        }
        // The request has begun and is not all here: the rest must come in time.
        let deadline = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + REQUEST_TIME);
        read.reserve(READ_AHEAD);
        match tokio::time::timeout_at(deadline, stream.read_buf(read)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Next::Gone,
        }
    }
}

/// What the buffer's first bytes are.
#[derive(Debug, PartialEq)]
enum Parsed {
    Whole(CallbackRequest),
    Partial,
    Other,
}

/// Reads a callback request from the start of `read`: only the shape WeChat sends is taken
/// here; hyper gets everything else, whole.
fn callback_request(read: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(read) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if read.len() < MAX_HEAD => return Parsed::Partial,
        _ => return Parsed::Other,
    };
    let method = match req.method {
        Some("POST") => Method::POST,
        Some("GET") => Method::GET,
        _ => return Parsed::Other,
    };
    let (Some(version @ (0 | 1)), Some(target)) = (req.version, req.path) else {
        return Parsed::Other;
    };
    let http10 = version == 0;
    // Without a query, the empty one at the target's end (every part lies in the buffer).
    let (path, query) = target
        .split_once('?')
        .unwrap_or((target, &target[target.len()..]));
    let Some(key) = direct_key(&method, path) else {
        return Parsed::Other;
    };
    let Some(shape) = Shape::of(req.headers) else {
        return Parsed::Other;
    };
    let body_len = match (&method, shape.content_length) {
        (&Method::GET, None | Some(0)) => 0,
        (&Method::POST, Some(n)) if n <= MAX_BODY_BYTES => n,
        _ => return Parsed::Other,
    };
    let end = head_len + body_len;
    if read.len() < end {
        return Parsed::Partial;
    }
    Parsed::Whole(CallbackRequest {
        method,
        key: range_in(read, key),
        query: range_in(read, query),
        body: head_len..end,
        close: shape.close || (http10 && !shape.keep_alive),
        http10,
    })
}

/// The headers that decide whether a request is ours to read.
struct Shape {
    content_length: Option<usize>,
    close: bool,
    keep_alive: bool,
}

impl Shape {
    /// `None` for a request this reader leaves to hyper: a transfer coding, an expectation,
    /// an upgrade, a length given twice or unreadable, a connection option besides
    /// `close` and `keep-alive`.
    fn of(headers: &[httparse::Header<'_>]) -> Option<Shape> {
        let mut shape = Shape {
            content_length: None,
            close: false,
            keep_alive: false,
        };
        for h in headers {
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length") {
                if shape.content_length.is_some() {
                    return None;
                }
                shape.content_length = Some(decimal(h.value)?);
            } else if name.eq_ignore_ascii_case("connection") {
                for option in std::str::from_utf8(h.value).ok()?.split(',') {
                    match option.trim() {
                        o if o.eq_ignore_ascii_case("close") => shape.close = true,
                        o if o.eq_ignore_ascii_case("keep-alive") => shape.keep_alive = true,
                        _ => return None,
                    }
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                || name.eq_ignore_ascii_case("expect")
                || name.eq_ignore_ascii_case("upgrade")
            {
                return None;
            }
        }
        Some(shape)
    }
}

/// A `Content-Length` value: digits only (no sign, no blanks, no list), and not absurd.
fn decimal(value: &[u8]) -> Option<usize> {
    if value.is_empty() || value.len() > 12 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0usize, |n, d| {
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

/// Where `part`, a slice of `whole`, lies in it.
fn range_in(whole: &[u8], part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

/// The text at `range` of the buffer: httparse checked the request target's bytes, and
/// the key and the query are cut from it at ASCII characters.
fn text_at<'b>(read: &'b [u8], range: &Range<usize>) -> &'b str {
    std::str::from_utf8(&read[range.clone()]).unwrap_or("")
}

/// The response head and body, in one buffer for one write; in the request's version, and
/// saying whether the connection stays (HTTP/1.0 keeps it only when told so).
fn write_response(out: &mut Vec<u8>, answered: &Answered, http10: bool, close: bool) {
    out.clear();
    out.extend_from_slice(if http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    out.extend_from_slice(answered.status.as_str().as_bytes());
    out.push(b' ');
    let reason = answered.status.canonical_reason().unwrap_or("");
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: ");
    out.extend_from_slice(answered.content_type.as_bytes());
    out.extend_from_slice(b"\r\ncontent-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(answered.body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"\r\nconnection: close");
    } else if http10 {
        out.extend_from_slice(b"\r\nconnection: keep-alive");
    }
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(&date::now());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(answered.body.as_bytes());
}

/// hyper serves the rest of the connection, from the first request this reader did not
/// take (its bytes are in `read`); a stop lets it finish what it is answering.
async fn hand_over(
    stream: TcpStream,
    read: BytesMut,
    service: Service,
    mut stopped: Pin<&mut impl Future<Output = ()>>,
) {
    let io = TokioIo::new(Prefixed {
        read: read.freeze(),
        stream,
    });
    let service =
        service.map_request(|req: axum::http::Request<Incoming>| req.map(axum::body::Body::new));
    let mut conn = pin!(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(io, TowerToHyperService::new(service))
            .with_upgrades()
    );
    let mut stopping = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopped.as_mut(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A connection whose first bytes were already read: they are read again first.
struct Prefixed {
    read: Bytes,
    stream: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read.is_empty() {
            return Pin::new(&mut this.stream).poll_read(cx, buf);
        }
        let n = this.read.len().min(buf.remaining());
        buf.put_slice(&this.read[..n]);
        this.read.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The `Date` header's value, formatted once a second per thread.
mod date {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};

    thread_local! {
        static LAST: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [b' '; 29])) };
    }

    pub fn now() -> [u8; 29] {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            if last.0 != second {
                let text = httpdate::fmt_http_date(now);
                if text.len() == 29 {
                    last.1.copy_from_slice(text.as_bytes());
                }
                last.0 = second;
            }
            last.1
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn success() -> Answered {
        Answered {
            status: StatusCode::OK,
            content_type: "text/plain; charset=utf-8",
            body: "success".into(),
        }
    }

    /// The answer `success` as written for a request of that version and closing.
    fn success_written(http10: bool, close: bool) -> String {
        let mut out = Vec::new();
        write_response(&mut out, &success(), http10, close);
        String::from_utf8(out).unwrap_or_default()
    }

    fn parsed(text: &str) -> Parsed {
        callback_request(text.as_bytes())
    }

    fn whole(text: &str) -> CallbackRequest {
        match parsed(text) {
            Parsed::Whole(r) => r,
            other => panic!("not a whole callback request: {other:?} for {text:?}"),
        }
    }

    #[test]
    fn a_post_as_wechat_sends_it_is_ours_with_its_parts() {
        let text = "POST /wx/k3y?signature=a&nonce=b HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\n<xml>";
        let r = whole(text);
        assert_eq!(r.method, Method::POST);
        assert_eq!(&text[r.key.clone()], "k3y");
        assert_eq!(&text[r.query.clone()], "signature=a&nonce=b");
        assert_eq!(&text[r.body.clone()], "<xml>");
        assert!(!r.close);
    }

    #[test]
    fn a_get_handshake_without_query_or_body_is_ours() {
        let text = "GET /wx/abc HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\nGET";
        let r = whole(text);
        assert_eq!(r.method, Method::GET);
        assert_eq!(&text[r.query.clone()], "");
        assert_eq!(r.body, text.len() - 3..text.len() - 3);
        assert!(r.close);
    }

    #[test]
    fn http_1_0_is_ours_and_closes_unless_kept_alive() {
        let r = whole("POST /wx/k HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
        assert!(r.http10 && r.close);
        let r = whole("POST /wx/k HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n");
        assert!(r.http10 && !r.close);
        let r = whole("POST /wx/k HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(!r.http10 && !r.close);
        let text = success_written(true, false);
        assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
        assert!(text.contains("\r\nconnection: keep-alive\r\n"), "{text}");
    }

    #[test]
    fn a_request_not_all_here_waits_for_the_rest() {
        assert_eq!(parsed("POST /wx/k HTTP/1.1\r\nContent-Le"), Parsed::Partial);
        assert_eq!(
            parsed("POST /wx/k HTTP/1.1\r\nContent-Length: 6\r\n\r\n<xml>"),
            Parsed::Partial
        );
        assert_eq!(parsed(""), Parsed::Partial);
    }

    #[test]
    fn everything_else_goes_to_hyper() {
        for text in [
            "GET /healthz HTTP/1.1\r\n\r\n",
            "POST /wx/k HTTP/2.0\r\nContent-Length: 0\r\n\r\n",
            "PUT /wx/k HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "POST /wx/a%20b HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "POST /wx/a/b HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "POST /wx/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "POST /wx/k HTTP/1.1\r\n\r\n",
            "POST /wx/k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST /wx/k HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            "POST /wx/k HTTP/1.1\r\nContent-Length: +1\r\n\r\nx",
            "POST /wx/k HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\nx",
            "POST /wx/k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            "GET /wx/k HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET /wx/k HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            "POST /wx/k HTTP/1.1\r\nContent-Length: 65537\r\n\r\n",
            "POST /wx/k HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST http://x/wx/k HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "POST /wx/k HTTP/1.1\r\nBad Header\r\n\r\n",
            "\u{1}\u{2}garbage\r\n\r\n",
        ] {
            assert_eq!(parsed(text), Parsed::Other, "{text:?}");
        }
    }

    #[test]
    fn a_head_past_the_limit_goes_to_hyper_unfinished() {
        let long = format!("POST /wx/k HTTP/1.1\r\nX-Long: {}", "a".repeat(MAX_HEAD));
        assert_eq!(parsed(&long), Parsed::Other);
        let just_under = format!("POST /wx/k HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD - 40));
        assert_eq!(parsed(&just_under), Parsed::Partial);
    }

    #[test]
    fn too_many_headers_go_to_hyper() {
        let mut text = String::from("POST /wx/k HTTP/1.1\r\n");
        for i in 0..=MAX_HEADERS {
            text.push_str(&format!("X-{i}: v\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        assert_eq!(parsed(&text), Parsed::Other);
    }

    #[test]
    fn the_response_is_one_http_message_with_its_length() {
        let text = success_written(false, true);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 7\r\nconnection: close\r\ndate: "), "{text}");
        assert!(text.ends_with(" GMT\r\n\r\nsuccess"), "{text}");
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut res = httparse::Response::new(&mut headers);
        assert!(
            matches!(res.parse(text.as_bytes()), Ok(httparse::Status::Complete(n)) if n == text.len() - 7)
        );
    }

    proptest::proptest! {
        /// Whatever arrives, the reader answers with a verdict, never a panic, and a whole
        /// request's parts lie inside what was read.
        #[test]
        fn any_bytes_get_a_verdict(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            if let Parsed::Whole(r) = callback_request(&bytes) {
                proptest::prop_assert!(r.body.end <= bytes.len());
                proptest::prop_assert!(r.key.end <= r.body.start && r.query.end <= r.body.start);
            }
        }

        /// A request of WeChat's shape, however its head is cut into reads, is taken whole
        /// with exactly its key, query and body, and never before its last byte.
        #[test]
        fn a_callback_request_is_read_exactly(
            key in "[A-Za-z0-9_-]{1,40}",
            query in "[a-z0-9=&_]{0,120}",
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            headers in proptest::collection::vec(("[A-Za-z][A-Za-z-]{0,15}", "[ -~]{0,30}"), 0..6),
        ) {
            let mut head = format!("POST /wx/{key}?{query} HTTP/1.1\r\n");
            for (name, value) in &headers {
                let lower = name.to_ascii_lowercase();
                if ["content-length", "transfer-encoding", "expect", "upgrade", "connection"].contains(&lower.as_str()) {
                    continue;
                }
                head.push_str(&format!("{name}: {}\r\n", value.trim()));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let mut request = head.into_bytes();
            let body_start = request.len();
            request.extend_from_slice(&body);
            for cut in 0..request.len() {
                proptest::prop_assert_eq!(callback_request(&request[..cut]), Parsed::Partial);
            }
            let Parsed::Whole(r) = callback_request(&request) else {
                return Err(proptest::test_runner::TestCaseError::fail("not taken whole"));
            };
            proptest::prop_assert_eq!(&request[r.key.clone()], key.as_bytes());
            proptest::prop_assert_eq!(&request[r.query.clone()], query.as_bytes());
            proptest::prop_assert_eq!(r.body, body_start..request.len());
        }
    }

    #[test]
    fn content_lengths_are_plain_decimals() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"65536"), Some(65536));
        assert_eq!(decimal(b""), None);
        assert_eq!(decimal(b"1 "), None);
        assert_eq!(decimal(b"-1"), None);
        assert_eq!(decimal(b"0x10"), None);
    }
}
