//! Field formatting for the `pretty` log format.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// The `pretty` format's fields: tracing-subscriber's own rendering, except that a
/// string field with nothing to escape is written straight through. The default goes
/// through `core::fmt` and ANSI styling for every field, which made the three fields of
/// the per-request span cost more than the rest of the span.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PlainFields;

impl<'writer> FormatFields<'writer> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = PlainVisitor {
            writer,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes `name="value"` (what the default writes for a string) itself when the value
/// needs no escaping, and hands every other field to tracing-subscriber's visitor.
struct PlainVisitor<'writer> {
    writer: Writer<'writer>,
    is_empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    fn delegate(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor);
        self.result = visitor.finish();
        self.is_empty = false;
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let name = field.name();
        let plain =
            !matches!(name, "message") && !name.starts_with("r#") && !name.starts_with("log.");
        // Printable ASCII without a quote or backslash reads the same in Debug.
        if !plain
            || !value
                .bytes()
                .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
        {
            return self.delegate(|v| v.record_str(field, value));
        }
        if self.result.is_err() {
            return;
        }
        let separator = if self.is_empty { "" } else { " " };
        self.is_empty = false;
        // One write per field: each write into the span's text is a call through
        // `dyn fmt::Write` and a possible regrowth.
        let mut line = [0u8; 160];
        let mut len = 0;
        for part in [separator, name, "=\"", value, "\""] {
            let Some(room) = line.get_mut(len..len + part.len()) else {
                return self.delegate(|v| v.record_str(field, value));
            };
            room.copy_from_slice(part.as_bytes());
            len += part.len();
        }
        // Only ASCII was copied, so this cannot fail.
        self.result = std::str::from_utf8(&line[..len])
            .map_err(|_| fmt::Error)
            .and_then(|text| fmt::Write::write_str(&mut self.writer, text));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.delegate(|v| v.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name().starts_with("log.") {
            // Log metadata, already shown by the event formatter.
            return;
        }
        self.delegate(|v| v.record_debug(field, value));
    }
}
