//! A request body that must arrive whole by a deadline (`server.body_read_timeout_secs`
//! from the request's start), so a client that announces a body and never sends it
//! cannot hold a request slot for longer than that.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::HttpBody;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::BoxError;

/// The body did not arrive by its deadline (a 408 for the client).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body did not arrive within server.body_read_timeout_secs")]
pub struct BodyTimeout;

impl BodyTimeout {
    /// Whether `error`, or any error it was caused by, is a [`BodyTimeout`]: body
    /// errors reach an extractor wrapped in axum's own error types.
    pub fn caused(error: &(dyn Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(error) = next {
            if error.is::<Self>() {
                return true;
            }
            next = error.source();
        }
        false
    }
}

pin_project! {
    /// `inner`, failing with [`BodyTimeout`] once `at` has passed while it still waits
    /// for data. The timer is armed only when the body is not ready at once, so a body
    /// that has already arrived never touches one.
    pub(super) struct DeadlineBody<B> {
        #[pin]
        inner: B,
        at: Instant,
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<B> DeadlineBody<B> {
    /// `inner`, due whole by `at`.
    pub(super) fn new(inner: B, at: Instant) -> Self {
        Self {
            inner,
            at,
            sleep: None,
        }
    }
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let at = *this.at;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use futures_util::{StreamExt as _, stream};
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    /// A body that sends `first` and then nothing, ever.
    fn stalled(first: &'static str) -> impl HttpBody<Data = Bytes, Error = BoxError> {
        let chunks = stream::iter([Ok::<_, BoxError>(Frame::data(Bytes::from(first)))])
            .chain(stream::pending());
        StreamBody::new(chunks)
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_at_the_deadline_as_a_body_timeout() {
        let at = Instant::now() + Duration::from_secs(10);
        let body = Body::new(DeadlineBody::new(stalled("{\"user"), at));
        let error = body.collect().await.expect_err("the body never ends");
        assert!(Instant::now() >= at, "not before the deadline");
        let axum_error: &(dyn Error + 'static) = &error;
        assert!(BodyTimeout::caused(axum_error), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_dripping_a_byte_a_second_still_fails_at_the_deadline() {
        // The deadline counts from the request's start, not from the last byte: a
        // drip that never pauses long cannot stretch it.
        let drip = stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Ok::<_, BoxError>(Frame::data(Bytes::from_static(b" "))), ()))
        });
        let at = Instant::now() + Duration::from_secs(10);
        let body = Body::new(DeadlineBody::new(StreamBody::new(drip), at));
        let error = body.collect().await.expect_err("the drip never ends");
        let waited = Instant::now() - (at - Duration::from_secs(10));
        assert!(
            (Duration::from_secs(10)..Duration::from_secs(11)).contains(&waited),
            "{waited:?}"
        );
        assert!(BodyTimeout::caused(&error), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_arrives_in_time_is_passed_through() {
        let at = Instant::now() + Duration::from_secs(10);
        let body = Body::new(DeadlineBody::new(Body::from("{\"a\":1}"), at));
        let bytes = body.collect().await.expect("whole").to_bytes();
        assert_eq!(&bytes[..], b"{\"a\":1}");
    }

    #[test]
    fn other_errors_are_not_body_timeouts() {
        let other = std::io::Error::other("reset");
        assert!(!BodyTimeout::caused(&other));
    }
}
