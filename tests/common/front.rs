//! A misbehaving upstream in front of the simulator: it passes every call on, except
//! that it fails, holds or rewrites the calls of one command, and counts them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What the front does to the calls of its command.
#[derive(Debug, Clone, Copy)]
pub enum Misbehave {
    /// Answers 503 to the first this many.
    FailFirst(usize),
    /// Holds each this long before passing it on.
    Delay(Duration),
    /// Answers these bytes (HTTP 200) instead of passing it on.
    Answer(&'static [u8]),
}

/// Starts a front on `127.0.0.1:0` for the simulator at `sim_url`; its base URL, and
/// the count of `command` calls it saw.
pub async fn front(
    sim_url: &str,
    command: &'static str,
    misbehave: Misbehave,
) -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let target = sim_url.to_owned();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
        let counter = counter.clone();
        let target = target.clone();
        async move {
            let query = uri.query().unwrap_or("").to_owned();
            if query.starts_with(command) {
                let earlier = counter.fetch_add(1, Ordering::SeqCst);
                match misbehave {
                    Misbehave::FailFirst(fail) if earlier < fail => {
                        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
                    }
                    Misbehave::FailFirst(_) => {}
                    Misbehave::Delay(delay) => tokio::time::sleep(delay).await,
                    Misbehave::Answer(bytes) => return answer(bytes),
                }
            }
            let resp = super::client()
                .request(method, format!("{target}{uri}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("forward");
            answer_owned(resp.bytes().await.expect("body"))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

fn answer(bytes: &'static [u8]) -> Response {
    answer_owned(Bytes::from_static(bytes))
}

fn answer_owned(bytes: Bytes) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        bytes,
    )
        .into_response()
}
