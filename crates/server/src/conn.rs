//! The connections: hyper's HTTP/1 server over the hub's listener (plain or TLS), with a
//! deadline for every request head. A client that sends half a header, or keeps a connection
//! open without sending the next request, is cut off after [`HEAD_TIMEOUT`]; a shutdown stops
//! accepting and lets the requests in flight finish (for at most [`DRAIN`]). At most
//! `--max-in-flight` requests are worked on at once ([`Gate`]): beyond, 503 at once; a body
//! that pauses longer than [`BODY_IDLE`] ends its request with 408. The answers hyper
//! writes itself, for a request it cannot read (400, 414, 431), are given an OperationOutcome
//! body like every other error ([`Edge`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower::ServiceExt;

use crate::tls::PeerAddr;

/// How long a client may take to send a request's start line and headers, counted from when
/// the connection is ready for it: this is also how long an idle keep-alive connection stays.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a shutdown waits for the requests in flight.
pub const DRAIN: Duration = Duration::from_secs(30);
/// How long a request body may pause between two pieces: a client that stops sending its body
/// is answered 408 `BODY-TIMEOUT` (docs/api.md).
pub const BODY_IDLE: Duration = Duration::from_secs(10);
/// Requests a node works on at once unless `serve --max-in-flight` says otherwise: beyond it a
/// request is answered 503 `OVERLOADED` with `Retry-After` at once, without queueing.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// Set once this process has been told to stop: `/health/ready` then answers 503 `DRAINING`
/// while the node still serves for `serve --drain-delay`, so that a load balancer takes it out
/// of rotation before it stops accepting.
static DRAINING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks this process as shutting down (see [`draining`]).
pub fn start_draining() {
    DRAINING.store(true, Ordering::SeqCst);
}

/// Whether this process is shutting down.
pub fn draining() -> bool {
    DRAINING.load(Ordering::SeqCst)
}

/// The bound on the requests in flight (health probes and `/metrics` are not counted and
/// never refused: an overloaded node must still say how it is).
pub struct Gate {
    limit: usize,
    busy: AtomicUsize,
}

/// A request's place under the [`Gate`], given back when dropped.
struct Pass(Arc<Gate>);

impl Drop for Pass {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    pub fn new(limit: usize) -> Arc<Gate> {
        Arc::new(Gate {
            limit: limit.max(1),
            busy: AtomicUsize::new(0),
        })
    }

    fn enter(self: &Arc<Self>) -> Option<Pass> {
        // Counted only when let in: a burst of refusals never crowds out a request.
        self.busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Pass(self.clone()))
    }

    /// Requests in flight now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }
}

/// Whether a path is outside the [`Gate`].
fn ungated(path: &str) -> bool {
    path.starts_with("/health/") || path == "/metrics"
}

/// The answer beyond the bound.
fn overloaded() -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::metrics::record_overloaded();
    let mut e = crate::http::ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        fhir::outcome::IssueType::Transient,
        "OVERLOADED",
        "",
        "this hub node is at its limit of requests in flight; retry after the time in Retry-After",
        "このハブは処理中のリクエストが上限に達しています。Retry-After の秒数の後に再試行してください",
    );
    e.retry_after = Some(1);
    e.into_response()
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve<L>(
    mut listener: L,
    router: axum::Router,
    gate: Arc<Gate>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            c = listener.accept() => c,
            () = &mut shutdown => break,
        };
        let (router, gate) = (router.clone(), gate.clone());
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                let (router, gate) = (router.clone(), gate.clone());
                async move {
                    let pass = if ungated(req.uri().path()) {
                        None
                    } else {
                        match gate.enter() {
                            Some(p) => Some(p),
                            None => return Ok(overloaded()),
                        }
                    };
                    req.extensions_mut().insert(ConnectInfo(PeerAddr(addr)));
                    let req = req.map(|b| {
                        axum::body::Body::new(tower_http::timeout::TimeoutBody::new(BODY_IDLE, b))
                    });
                    let res = router.oneshot(req).await;
                    drop(pass);
                    res
                }
            });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(Edge::new(io)), service));
        tokio::spawn(async move {
            // A connection's end (the client gone, a head too slow) is not the hub's error.
            let _ = conn.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {} s of shutdown were cut",
            DRAIN.as_secs()
        );
    }
    Ok(())
}

/// A connection whose bare error answers get a body: hyper answers a request it cannot read
/// (a bad start line or header: 400; a target too long: 414; headers over its buffer of about
/// 400 KB or more than 100 of them: 431) with a head and no body. [`Edge`] recognises such a
/// head as it is written and writes, in its place, the same head with an OperationOutcome that
/// says what was wrong (Japanese and English). Everything else passes through unchanged.
pub struct Edge<IO> {
    io: IO,
    /// A replacement being written: its bytes, how many are written, and the length of the
    /// bytes it replaces (reported as written once it is all out).
    pending: Option<(Vec<u8>, usize, usize)>,
    /// Set when a read brought bytes, cleared by the next write: only that write can start an
    /// answer hyper makes up after reading a request it cannot parse (a later write may be a
    /// body, whatever its bytes, and is never touched).
    after_read: bool,
}

impl<IO> Edge<IO> {
    pub fn new(io: IO) -> Self {
        Edge {
            io,
            pending: None,
            after_read: false,
        }
    }
}

const HEADERS_EN: &str = "the request's headers are too large (over 64 KB, or more than 100 headers); send fewer or shorter headers";
const HEADERS_JA: &str =
    "リクエストヘッダーが大きすぎます（64KB超、または100個超）。ヘッダーを減らすか短くしてください";

/// 431 for headers over [`crate::http::MAX_HEADER_BYTES`] that hyper read.
pub(crate) fn headers_too_large() -> crate::http::ApiError {
    crate::http::ApiError::new(
        axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        fhir::outcome::IssueType::TooLong,
        "HEADERS-TOO-LARGE",
        "",
        HEADERS_EN,
        HEADERS_JA,
    )
}

/// The OperationOutcome of a status hyper answers by itself.
fn edge_issue(status: u16) -> Option<fhir::outcome::Issue> {
    use fhir::outcome::{Issue, IssueType};
    let (code, detail, en, ja) = match status {
        400 => (
            IssueType::Structure,
            "HTTP-MALFORMED",
            "the request's start line or a header is not valid HTTP/1.1; check the method, the target and each header's `Name: value` form",
            "リクエスト行またはヘッダーがHTTP/1.1として正しくありません。メソッド、URI、各ヘッダーの「名前: 値」の形を確認してください",
        ),
        414 => (
            IssueType::TooLong,
            "URI-TOO-LONG",
            "the request target is too long (over 65,534 bytes); shorten the query (a search takes at most 40 parameters, docs/api.md)",
            "URIが長すぎます（65,534バイト超）。検索条件を短くしてください（検索パラメータは40個まで、docs/api.md）",
        ),
        431 => (
            IssueType::TooLong,
            "HEADERS-TOO-LARGE",
            HEADERS_EN,
            HEADERS_JA,
        ),
        _ => return None,
    };
    Some(Issue::error(code, detail, "", en, ja))
}

/// When `buf` is exactly one bare error head written by hyper (status 400, 414 or 431 with
/// `content-length: 0`), the answer to write instead: the same head lines with a content type
/// and the OperationOutcome's length, then the OperationOutcome.
fn with_body(buf: &[u8]) -> Option<Vec<u8>> {
    // Cheap tests first: this sees every write of every answer.
    if buf.len() > 1024
        || !buf.starts_with(b"HTTP/1.")
        || !buf.ends_with(b"\r\n\r\n")
        || !matches!(buf.get(9), Some(b'4'))
    {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?;
    if !(head.starts_with("HTTP/1.1 ") || head.starts_with("HTTP/1.0 ")) {
        return None;
    }
    if head.find("\r\n\r\n")? + 4 != head.len() {
        return None;
    }
    let status: u16 = head.get(9..12)?.parse().ok()?;
    let issue = edge_issue(status)?;
    let lines: Vec<&str> = head[..head.len() - 4].split("\r\n").collect();
    let is = |l: &str, name: &str| {
        l.len() > name.len()
            && l[..name.len()].eq_ignore_ascii_case(name)
            && l.as_bytes()[name.len()] == b':'
    };
    let empty = lines
        .iter()
        .any(|l| is(l, "content-length") && l.split_once(':').map(|(_, v)| v.trim()) == Some("0"));
    if !empty || lines.iter().any(|l| is(l, "content-type")) {
        return None;
    }
    let body = fhir::json::to_string(&fhir::outcome::operation_outcome(&[issue]));
    let mut out = String::with_capacity(head.len() + body.len() + 64);
    for l in lines.iter().filter(|l| !is(l, "content-length")) {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("content-type: application/fhir+json\r\n");
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    out.push_str(&body);
    Some(out.into_bytes())
}

impl<IO: AsyncWrite + Unpin> Edge<IO> {
    /// Writes the pending replacement; ready with the replaced length once it is all out.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, done, replaced)) = &mut self.pending {
            if *done == bytes.len() {
                let n = *replaced;
                self.pending = None;
                return Poll::Ready(Ok(n));
            }
            match Pin::new(&mut self.io).poll_write(cx, &bytes[*done..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *done += n,
                other => return other,
            }
        }
        Poll::Ready(Ok(0))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Edge<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.after_read = true;
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Edge<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        if me.pending.is_none() {
            let first = std::mem::take(&mut me.after_read);
            match with_body(buf).filter(|_| first) {
                Some(answer) => me.pending = Some((answer, 0, buf.len())),
                None => return Pin::new(&mut me.io).poll_write(cx, buf),
            }
        }
        me.drive(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        if me.pending.is_some() {
            return me.drive(cx);
        }
        if !std::mem::take(&mut me.after_read) {
            return Pin::new(&mut me.io).poll_write_vectored(cx, bufs);
        }
        let mut full = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (full.next(), full.next()) {
            if let Some(answer) = with_body(only) {
                me.pending = Some((answer, 0, only.len()));
                return me.drive(cx);
            }
        }
        Pin::new(&mut me.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = &mut *self;
        if me.pending.is_some() {
            match me.drive(cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut me.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_error_heads_get_an_operation_outcome() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 00:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(with_body(head).expect("replaced")).unwrap();
        let (h, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(h.starts_with("HTTP/1.1 431 "), "{h}");
        assert!(
            h.contains("connection: close") && h.contains("date: "),
            "{h}"
        );
        assert!(
            h.contains(&format!("content-length: {}", body.len())),
            "{h}"
        );
        assert!(!h.contains("content-length: 0"), "{h}");
        let v = fhir::json::parse(body).unwrap();
        assert_eq!(
            v.get("resourceType").and_then(fhir::json::Value::as_str),
            Some("OperationOutcome")
        );
        assert!(body.contains("HEADERS-TOO-LARGE"), "{body}");
        for (status, code) in [(400, "HTTP-MALFORMED"), (414, "URI-TOO-LONG")] {
            let head = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
            let out = String::from_utf8(with_body(head.as_bytes()).unwrap()).unwrap();
            assert!(out.contains(code), "{out}");
        }
    }

    #[test]
    fn other_writes_pass_unchanged() {
        for bytes in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/fhir+json\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"{\"resourceType\":\"Bundle\"}",
            b"",
        ] {
            assert!(with_body(bytes).is_none(), "{}", String::from_utf8_lossy(bytes));
        }
    }
}
