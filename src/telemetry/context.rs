//! The request a log line belongs to: its id (and a stranger's id beside it), method
//! and route, named on every line logged while the edge works on the request.
//!
//! This used to be a `tracing` span per request. The fmt layer formats a span's fields
//! into a string as the span is made, and keeps it in the registry, which cost about
//! 2,500 instructions on every request, while a request that succeeds logs nothing at
//! the default `info` level. The fields now live in the edge's future, are made the
//! thread's current request for as long as the future is polled, and are written only
//! when a line is: by [`PrettyLines`] where the span
//! was (`request{request_id="…" method="GET" route="/me"}:`), by [`JsonLines`] as the
//! `span` and `spans` keys the JSON format gave the span, so both formats read as
//! before.

use std::cell::RefCell;
use std::fmt;

use axum::http::Method;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Bytes of an id kept for the log: ids are at most 64 (`request_id::acceptable`) and
/// the gateway's own are 36.
const ID_BYTES: usize = 64;

thread_local! {
    /// The request the thread is working on, if any.
    static CURRENT: RefCell<Option<Box<Fields>>> = const { RefCell::new(None) };
}

/// A request's log fields; see the module documentation.
///
/// The fields (about 200 bytes, the ids kept inline) are boxed once per request: making
/// them current and giving them back, twice or more a request, then moves a pointer
/// instead of the fields (memcpy each way), and the edge's future, which hyper moves
/// whole several times a request, is that much smaller.
#[derive(Debug, Default)]
pub struct RequestContext(Option<Box<Fields>>);

/// What a request's log lines name.
#[derive(Debug)]
struct Fields {
    request_id: LogId,
    client_request_id: Option<LogId>,
    method: Method,
    route: &'static str,
}

impl RequestContext {
    /// The fields of a request: its id, the id an untrusted client sent (when it sent
    /// one), its method and its route template (never the path, the query or headers,
    /// which may carry ids and credentials).
    pub fn new(
        request_id: &str,
        client_request_id: Option<&str>,
        method: &Method,
        route: &'static str,
    ) -> Self {
        Self(Some(Box::new(Fields {
            request_id: LogId::new(request_id),
            client_request_id: client_request_id.map(LogId::new),
            method: method.clone(),
            route,
        })))
    }

    /// Makes this the thread's current request until the guard drops (then the one
    /// before it, if any, is current again).
    pub fn enter(&mut self) -> Entered<'_> {
        let previous = CURRENT.replace(self.0.take());
        Entered {
            context: self,
            previous,
        }
    }

    /// Runs `f` with this the current request.
    pub fn in_scope<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let _entered = self.enter();
        f()
    }
}

/// See [`RequestContext::enter`].
#[derive(Debug)]
pub struct Entered<'a> {
    context: &'a mut RequestContext,
    previous: Option<Box<Fields>>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.context.0 = CURRENT.replace(self.previous.take());
    }
}

/// An id as the log shows it, kept inline in the fields (no allocation of its own).
#[derive(Debug)]
struct LogId {
    bytes: [u8; ID_BYTES],
    len: usize,
}

impl LogId {
    /// `id`, cut to [`ID_BYTES`] at a character boundary.
    fn new(id: &str) -> Self {
        let mut len = id.len().min(ID_BYTES);
        while !id.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0; ID_BYTES];
        bytes[..len].copy_from_slice(&id.as_bytes()[..len]);
        Self { bytes, len }
    }

    fn as_str(&self) -> &str {
        // A prefix of a `str` cut at a character boundary.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

/// Calls `f` with the current request's fields, if there is a current request.
fn with_current<T>(f: impl FnOnce(&Fields) -> T) -> Option<T> {
    CURRENT.with_borrow(|current| current.as_deref().map(f))
}

/// Writes `event` as `inner` formats it; while a request is current, into a buffer
/// first, where `splice` puts the request's fields (as `fields_of` renders them).
fn with_request<S, N, F>(
    inner: &F,
    ctx: &FmtContext<'_, S, N>,
    mut writer: Writer<'_>,
    event: &Event<'_>,
    fields_of: fn(&Fields) -> String,
    splice: impl FnOnce(&mut String, &str),
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    let Some(fields) = with_current(fields_of) else {
        return inner.format_event(ctx, writer, event);
    };
    let mut line = String::with_capacity(512);
    inner.format_event(ctx, Writer::new(&mut line), event)?;
    splice(&mut line, &fields);
    writer.write_str(&line)
}

/// The `pretty` format's lines, with the current request where its span was:
/// `TIME LEVEL request{request_id="…" method="GET" route="/me"}: target: fields`.
#[derive(Debug)]
pub(super) struct PrettyLines<F>(pub(super) F);

impl<S, N, F> FormatEvent<S, N> for PrettyLines<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_request(&self.0, ctx, writer, event, pretty_scope, |line, scope| {
            // The line starts `TIME LEVEL ` (the time has no space in it, the level is
            // padded to five); spans, when there are any, come next.
            let at = line
                .find(' ')
                .map(|time| time + " LEVEL ".len())
                .filter(|&at| line.is_char_boundary(at))
                .unwrap_or(0);
            line.insert_str(at, scope);
        })
    }
}

/// `request{request_id="…" [client_request_id="…" ]method="…" route="…"}: `, each
/// value in `Debug` form as the span's fields were written.
fn pretty_scope(fields: &Fields) -> String {
    let mut scope = String::with_capacity(160);
    let _ = fmt::write(
        &mut scope,
        format_args!("request{{request_id={:?}", fields.request_id.as_str()),
    );
    if let Some(client) = &fields.client_request_id {
        let _ = fmt::write(
            &mut scope,
            format_args!(" client_request_id={:?}", client.as_str()),
        );
    }
    let _ = fmt::write(
        &mut scope,
        format_args!(
            " method={:?} route={:?}}}: ",
            fields.method.as_str(),
            fields.route
        ),
    );
    scope
}

/// The `json` format's lines, with the current request as the `span` and `spans` keys
/// that format gives a span: `"span":{"request_id":"…","method":"GET","route":"/me",
/// "name":"request"},"spans":[{…}]`.
#[derive(Debug)]
pub(super) struct JsonLines<F>(pub(super) F);

impl<S, N, F> FormatEvent<S, N> for JsonLines<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let own_spans = ctx.lookup_current().is_some();
        with_request(&self.0, ctx, writer, event, json_span, |line, span| {
            // `{…}\n`; a line with spans of its own already has these keys.
            match line.rfind('}') {
                Some(end) if !own_spans => {
                    let keys = format!(",\"span\":{span},\"spans\":[{span}]");
                    line.insert_str(end, &keys);
                }
                Some(end) => line.insert_str(end, &format!(",\"request\":{span}")),
                None => {}
            }
        })
    }
}

/// The request's fields as a JSON object, named `request` as the span was.
fn json_span(fields: &Fields) -> String {
    let text = |value: &str| serde_json::to_string(value).unwrap_or_default();
    let mut span = String::with_capacity(192);
    span.push_str("{\"request_id\":");
    span.push_str(&text(fields.request_id.as_str()));
    if let Some(client) = &fields.client_request_id {
        span.push_str(",\"client_request_id\":");
        span.push_str(&text(client.as_str()));
    }
    span.push_str(",\"method\":");
    span.push_str(&text(fields.method.as_str()));
    span.push_str(",\"route\":");
    span.push_str(&text(fields.route));
    span.push_str(",\"name\":\"request\"}");
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_request_is_the_innermost_entered_and_is_given_back() {
        let current = || with_current(|f| f.request_id.as_str().to_owned());
        assert_eq!(current(), None);
        let mut outer = RequestContext::new("outer", None, &Method::GET, "/me");
        let mut inner = RequestContext::new("inner", Some("theirs"), &Method::POST, "/x");
        {
            let _outer = outer.enter();
            assert_eq!(current().as_deref(), Some("outer"));
            inner.in_scope(|| assert_eq!(current().as_deref(), Some("inner")));
            assert_eq!(current().as_deref(), Some("outer"));
        }
        assert_eq!(current(), None);
        // Entering again finds the fields where they were left.
        outer.in_scope(|| assert_eq!(current().as_deref(), Some("outer")));
        inner.in_scope(|| {
            assert_eq!(
                with_current(pretty_scope).as_deref(),
                Some(
                    r#"request{request_id="inner" client_request_id="theirs" method="POST" route="/x"}: "#
                )
            );
        });
    }

    #[test]
    fn json_spans_name_the_fields_in_order() {
        let fields = RequestContext::new("a\"b", None, &Method::GET, "/me")
            .0
            .expect("fields");
        assert_eq!(
            json_span(&fields),
            r#"{"request_id":"a\"b","method":"GET","route":"/me","name":"request"}"#
        );
    }

    #[test]
    fn long_ids_are_cut_at_a_character_boundary() {
        let id = "é".repeat(40);
        let kept = LogId::new(&id);
        assert!(kept.as_str().len() <= ID_BYTES && id.starts_with(kept.as_str()));
        assert_eq!(LogId::new("abc").as_str(), "abc");
    }
}
