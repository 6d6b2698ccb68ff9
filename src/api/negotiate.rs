//! Content negotiation: which representation an answer takes, chosen by `Accept` as
//! RFC 9110 §12.5.1 says, and which routes negotiate at all.
//!
//! The table is read from the OpenAPI document once at start-up: an operation whose
//! success is documented as `application/json` is offered as JSON and XML, each in its
//! `application/` and `text/` spelling, and the name of its success schema is the XML
//! root element. So a route added with a `#[utoipa::path]` is negotiated without code of
//! its own. The passthrough (`/wd/{command}`) stays JSON (Worldox's own answer), and the
//! probes, `/metrics` and `/openapi.json` are not touched at all.

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, header};
use mediatype::{MediaTypeList, names};
use serde_json::Value;

use super::paths;

/// The two families of representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (`application/json`, `text/json`, `application/problem+json`).
    Json,
    /// XML (`application/xml`, `text/xml`, `application/problem+xml`).
    Xml,
}

/// A media type the gateway can answer with.
#[derive(Debug, PartialEq, Eq)]
pub struct Offer {
    /// The `Content-Type` written on the answer.
    pub media_type: &'static str,
    ty: &'static str,
    subty: &'static str,
    /// Its family.
    pub format: Format,
}

impl Offer {
    const fn new(media_type: &'static str, ty: &'static str, subty: &'static str) -> Self {
        let xml = matches!(subty.as_bytes(), [b'x', b'm', b'l', ..]);
        Self {
            media_type,
            ty,
            subty,
            format: if xml { Format::Xml } else { Format::Json },
        }
    }
}

/// What a negotiated route offers, in the gateway's order of preference: JSON wins a tie.
pub static BOTH: &[Offer] = &[
    Offer::new("application/json", "application", "json"),
    Offer::new("text/json", "text", "json"),
    Offer::new("application/xml", "application", "xml"),
    Offer::new("text/xml", "text", "xml"),
];

/// What the passthrough offers: Worldox's JSON.
pub static JSON_ONLY: &[Offer] = &[Offer::new("application/json", "application", "json")];

/// Routes whose answers are never negotiated, not even their problems.
pub const UNTOUCHED: &[&str] = &[
    paths::HEALTHZ,
    paths::READYZ,
    paths::METRICS,
    paths::OPENAPI,
];

/// Routes whose successes are JSON whatever `Accept` prefers (406 when it excludes JSON).
pub const JSON_ONLY_ROUTES: &[&str] = &[paths::PASSTHROUGH];

/// The XML root element of an answer whose schema has no name.
pub const FALLBACK_ROOT: &str = "Response";

/// How one request's answer is represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A probe, `/metrics` or the API description: nothing is negotiated.
    Untouched,
    /// A route whose success is not negotiated (document bytes, a bare 204, a path that
    /// matches no route): only a problem follows `Accept`.
    ProblemsOnly {
        /// The problem's format.
        problem: Format,
    },
    /// A negotiated answer.
    Negotiated {
        /// The problem's format, should the answer be one.
        problem: Format,
        /// The operation, an index into [`Negotiation`].
        operation: usize,
        /// The representation chosen.
        offer: &'static Offer,
    },
    /// Nothing the route offers is acceptable: 406.
    NotAcceptable {
        /// The problem's format.
        problem: Format,
        /// What the route offers.
        offered: &'static [Offer],
    },
}

impl Decision {
    /// The format of a problem answer, `None` when problems stay JSON.
    pub fn problem(&self) -> Option<Format> {
        match *self {
            Self::Untouched => None,
            Self::ProblemsOnly { problem }
            | Self::Negotiated { problem, .. }
            | Self::NotAcceptable { problem, .. } => Some(problem),
        }
    }
}

/// The negotiated operations, from the OpenAPI document.
#[derive(Debug, Default, PartialEq)]
pub struct Negotiation {
    /// Route template → (method, index into `operations`).
    routes: HashMap<String, Vec<(Method, usize)>>,
    operations: Vec<Operation>,
    /// `components.schemas`, for the names of nested elements.
    schemas: serde_json::Map<String, Value>,
}

/// What one route template offers, resolved once (the edge keeps one per route, so a
/// request costs no lookup by template).
#[derive(Debug, Clone, Default)]
pub struct RouteOffers {
    /// A probe, `/metrics` or the OpenAPI document: `Accept` is ignored.
    untouched: bool,
    /// Method → index into the table's operations.
    operations: Vec<(Method, usize)>,
}

/// One negotiated operation.
#[derive(Debug, PartialEq)]
struct Operation {
    offers: &'static [Offer],
    /// Status → the answer's schema (a `$ref` or inline), for each 2xx with JSON.
    answers: Vec<(u16, Value)>,
}

impl Negotiation {
    /// The table of `doc` (an OpenAPI 3.1 document as JSON).
    pub fn from_openapi(mut doc: Value) -> Self {
        let schemas = match doc.pointer_mut("/components/schemas").map(Value::take) {
            Some(Value::Object(schemas)) => schemas,
            _ => serde_json::Map::new(),
        };
        let mut table = Self {
            schemas,
            ..Self::default()
        };
        let paths = doc.get("paths").and_then(Value::as_object);
        for (template, item) in paths.into_iter().flatten() {
            if UNTOUCHED.contains(&template.as_str()) {
                continue;
            }
            let offers = if JSON_ONLY_ROUTES.contains(&template.as_str()) {
                JSON_ONLY
            } else {
                BOTH
            };
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                    continue;
                };
                let answers = json_answers(operation);
                if answers.is_empty() {
                    continue;
                }
                table.operations.push(Operation { offers, answers });
                let index = table.operations.len() - 1;
                table
                    .routes
                    .entry(template.clone())
                    .or_default()
                    .push((method, index));
            }
        }
        table
    }

    /// What route `template` offers.
    pub fn offers(&self, template: &str) -> RouteOffers {
        RouteOffers {
            untouched: UNTOUCHED.contains(&template),
            operations: self.routes.get(template).cloned().unwrap_or_default(),
        }
    }

    /// How the answer to `method template` with `headers` is represented.
    pub fn decide(&self, template: &str, method: &Method, headers: &HeaderMap) -> Decision {
        self.decide_for(&self.offers(template), method, headers)
    }

    /// How the answer to `method` on a route offering `route` with `headers` is
    /// represented.
    pub fn decide_for(
        &self,
        route: &RouteOffers,
        method: &Method,
        headers: &HeaderMap,
    ) -> Decision {
        if route.untouched {
            return Decision::Untouched;
        }
        let accept = Accept::of(headers);
        let problem = accept.as_ref().map_or(Format::Json, Accept::problem_format);
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let operation = route
            .operations
            .iter()
            .find(|(m, _)| m == method)
            .map(|&(_, index)| index);
        let Some(operation) = operation else {
            return Decision::ProblemsOnly { problem };
        };
        let offers = self.operations[operation].offers;
        match accept.as_ref().map_or(Some(&offers[0]), |a| a.best(offers)) {
            Some(offer) => Decision::Negotiated {
                problem,
                operation,
                offer,
            },
            None => Decision::NotAcceptable {
                problem,
                offered: offers,
            },
        }
    }

    /// The XML root element and schema of `operation`'s answer with `status`.
    pub fn answer(&self, operation: usize, status: u16) -> (&str, Option<&Value>) {
        let schema = self
            .operations
            .get(operation)
            .and_then(|op| op.answers.iter().find(|(s, _)| *s == status))
            .map(|(_, schema)| schema);
        let root = schema.and_then(ref_name).unwrap_or(FALLBACK_ROOT);
        (root, schema)
    }

    /// `components.schemas`.
    pub fn schemas(&self) -> &serde_json::Map<String, Value> {
        &self.schemas
    }
}

/// The name a `{"$ref": "#/components/schemas/Name"}` points at.
pub fn ref_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

/// The 2xx answers of `operation` documented as `application/json`, with their schemas.
fn json_answers(operation: &Value) -> Vec<(u16, Value)> {
    let responses = operation.get("responses").and_then(Value::as_object);
    responses
        .into_iter()
        .flatten()
        .filter_map(|(status, response)| {
            let status: u16 = status.parse().ok()?;
            let schema = response
                .pointer("/content/application~1json")?
                .get("schema")
                .cloned()
                .unwrap_or(Value::Null);
            (200..300).contains(&status).then_some((status, schema))
        })
        .collect()
}

/// The media ranges of a request's `Accept` fields.
#[derive(Debug)]
pub struct Accept(Vec<Range>);

/// One media range with its weight.
#[derive(Debug)]
struct Range {
    ty: String,
    subty: String,
    /// The weight in thousandths (RFC 9110 §12.4.2: at most three decimals).
    q: u16,
    /// 0 for `*/*`, 1 for `type/*`, 2 for `type/subtype`, more with parameters.
    specificity: u8,
    /// A charset other than UTF-8 (the only one served): the range matches nothing.
    other_charset: bool,
}

impl Accept {
    /// The ranges of every `Accept` field of `headers`; `None` without one, or when no
    /// member parses (treated as no preference). Members that do not parse are left
    /// out; one that asks for a charset other than UTF-8 (the only one served) matches
    /// nothing.
    pub fn of(headers: &HeaderMap) -> Option<Self> {
        let mut ranges = Vec::new();
        for value in headers.get_all(header::ACCEPT) {
            let Ok(text) = value.to_str() else { continue };
            ranges.extend(MediaTypeList::new(text).filter_map(|m| Range::new(&m.ok()?)));
        }
        (!ranges.is_empty()).then_some(Self(ranges))
    }

    /// The weight the most specific range matching `ty/subty` gives it; 0 when none does.
    fn quality(&self, ty: &str, subty: &str) -> u16 {
        self.0
            .iter()
            .filter(|r| r.matches(ty, subty))
            .max_by_key(|r| r.specificity)
            .map_or(0, |r| r.q)
    }

    /// The acceptable offer of highest weight; on a tie the earlier one (JSON).
    pub fn best(&self, offers: &'static [Offer]) -> Option<&'static Offer> {
        let mut best: Option<(&'static Offer, u16)> = None;
        for offer in offers {
            let q = self.quality(offer.ty, offer.subty);
            if q > 0 && best.is_none_or(|(_, top)| q > top) {
                best = Some((offer, q));
            }
        }
        best.map(|(offer, _)| offer)
    }

    /// The format of a problem: XML when an XML type (`application/problem+xml`,
    /// `application/xml`, `text/xml`) weighs more than every JSON one, else JSON.
    pub fn problem_format(&self) -> Format {
        let weigh = |types: [(&str, &str); 3]| {
            types
                .iter()
                .map(|(ty, subty)| self.quality(ty, subty))
                .max()
                .unwrap_or(0)
        };
        let xml = weigh([
            ("application", "problem+xml"),
            ("application", "xml"),
            ("text", "xml"),
        ]);
        let json = weigh([
            ("application", "problem+json"),
            ("application", "json"),
            ("text", "json"),
        ]);
        if xml > json {
            Format::Xml
        } else {
            Format::Json
        }
    }
}

impl Range {
    fn new(media: &mediatype::MediaType<'_>) -> Option<Self> {
        let mut q = 1000;
        let mut other_charset = false;
        let mut specificity = match (media.ty == names::_STAR, media.subty == names::_STAR) {
            (true, true) => 0,
            (true, false) => return None,
            (false, true) => 1,
            (false, false) => 2,
        };
        for (name, value) in media.params.iter() {
            if *name == names::Q {
                q = weight(value.as_str())?;
            } else if *name == names::CHARSET {
                other_charset = !value.as_str().eq_ignore_ascii_case("utf-8");
                specificity += 1;
            } else {
                specificity += 1;
            }
        }
        let subty = match &media.suffix {
            Some(suffix) => format!("{}+{}", media.subty.as_str(), suffix.as_str()),
            None => media.subty.as_str().to_owned(),
        };
        Some(Self {
            ty: media.ty.as_str().to_ascii_lowercase(),
            subty: subty.to_ascii_lowercase(),
            q,
            specificity,
            other_charset,
        })
    }

    fn matches(&self, ty: &str, subty: &str) -> bool {
        if self.other_charset {
            false
        } else if self.ty == "*" {
            true
        } else if self.subty == "*" {
            self.ty == ty
        } else {
            self.ty == ty && self.subty == subty
        }
    }
}

/// An RFC 9110 §12.4.2 weight (`0`, `0.5`, `1.000`) in thousandths; `None` if malformed.
fn weight(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}
