//! HEAD operations for the routes that answer HEAD on purpose (a document, its content
//! and a version's content), each its own operation with its own `operationId`.
//!
//! axum answers HEAD on every GET route, and utoipa's `get, head` would give both
//! methods one operation id, which the document forbids. So each HEAD operation is
//! cloned from its GET after generation: the same parameters, headers and problem
//! answers, `operationId` `head…` instead of `get…`, and no body on its successes
//! (HEAD has none; the problem answers keep their media type, which their
//! `Content-Type` still names).

use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::RefOr;

use super::super::paths;

/// The paths whose HEAD is documented.
pub const HEAD_PATHS: &[&str] = &[
    paths::DOCUMENT,
    paths::DOCUMENT_CONTENT,
    paths::DOCUMENT_VERSION_CONTENT,
];

/// Adds the HEAD operations of [`HEAD_PATHS`].
#[derive(Debug)]
pub struct HeadOperations;

impl Modify for HeadOperations {
    fn modify(&self, openapi: &mut OpenApi) {
        for path in HEAD_PATHS {
            let Some(item) = openapi.paths.paths.get_mut(*path) else {
                continue;
            };
            let Some(get) = &item.get else {
                continue;
            };
            let mut head = get.clone();
            head.operation_id = get.operation_id.as_deref().map(head_id);
            head.summary = head.summary.map(|s| format!("{s} (headers only)"));
            if let Some(description) = &mut head.description {
                description.push_str("\n\nHEAD: the same answer as GET, without the body.");
            }
            for (status, response) in &mut head.responses.responses {
                if status.as_str() < "400" {
                    if let RefOr::T(response) = response {
                        response.content.clear();
                    }
                }
            }
            item.head = Some(head);
        }
    }
}

/// `getDocument` → `headDocument`; any other id gets `Head` appended.
fn head_id(get: &str) -> String {
    match get.strip_prefix("get") {
        Some(rest) => format!("head{rest}"),
        None => format!("{get}Head"),
    }
}

#[cfg(test)]
mod tests {
    use super::head_id;

    #[test]
    fn head_ids_follow_the_get_ids() {
        assert_eq!(head_id("getDocumentContent"), "headDocumentContent");
        assert_eq!(head_id("openapi"), "openapiHead");
    }
}
