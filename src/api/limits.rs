//! Limit refusals as HTTP answers: 429 with `Retry-After` and a detail naming the
//! limit (and the key that sets it), counted by limit.

use super::problem::ApiError;
use crate::limits::Refusal;

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        crate::metrics::limit_refused(refusal.kind.name());
        Self::TooManyRequests {
            retry_after_secs: refusal.retry_after_secs(),
            detail: refusal.detail(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::response::IntoResponse;

    use super::*;
    use crate::limits::Kind;

    #[test]
    fn a_refusal_is_a_429_with_retry_after_and_names_its_limit() {
        let error = ApiError::from(Refusal {
            kind: Kind::SendAddress,
            retry_after: Duration::from_millis(41_200),
        });
        assert!(error.to_string().contains("limits.code_sends_per_address"));
        let response = error.into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "42");
    }
}
