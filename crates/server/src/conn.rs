//! The connections: hyper's HTTP/1 server over the hub's listener (plain or TLS), with a
//! deadline for every request head. A client that sends half a header, or keeps a connection
//! open without sending the next request, is cut off after [`HEAD_TIMEOUT`]; a shutdown stops
//! accepting and lets the requests in flight finish (for at most [`DRAIN`]).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

use crate::tls::PeerAddr;

/// How long a client may take to send a request's start line and headers, counted from when
/// the connection is ready for it: this is also how long an idle keep-alive connection stays.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a shutdown waits for the requests in flight.
pub const DRAIN: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve<L>(
    mut listener: L,
    router: axum::Router,
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
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(PeerAddr(addr)));
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(io), service));
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
