//! The description of `GET|POST /wd/{command}`: free-form Worldox parameters in, the
//! upstream's JSON out. Hand-built, as no Rust type carries these shapes.

use std::collections::BTreeMap;

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{ContentBuilder, Object, RefOr, Required, Response, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, PartialSchema, ToSchema};

/// The path's `command` and the query string's parameters.
#[derive(Debug)]
pub struct WdParams;

impl IntoParams for WdParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let command = ParameterBuilder::new()
            .name("command")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(
                "A Worldox command in `passthrough.allow`, in any case; others are 403.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1)),
            ))
            .example(Some("CABINETS".into()))
            .build();
        let query = ParameterBuilder::new()
            .name("params")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .style(Some(ParameterStyle::Form))
            .explode(Some(true))
            .schema(Some(params(false)))
            .build();
        vec![command, query]
    }
}

/// Parameters as strings: the query string, or a form body.
#[derive(Debug)]
pub struct WdStrings;

impl PartialSchema for WdStrings {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(params(false)))
    }
}

impl ToSchema for WdStrings {}

/// Parameters as a JSON object of strings and numbers.
#[derive(Debug)]
pub struct WdJson;

impl PartialSchema for WdJson {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(params(true)))
    }
}

impl ToSchema for WdJson {}

/// The 200 answer: Worldox's JSON, secrets stripped.
#[derive(Debug)]
pub struct WdAnswer;

impl IntoResponses for WdAnswer {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let answer = ResponseBuilder::new()
            .description(
                "Worldox's answer (`{\"root\": …}`) as it came, minus secret keys and any \
                 string holding the SID.",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                    .build(),
            )
            .build();
        BTreeMap::from([("200".to_owned(), answer.into())])
    }
}

/// Marks the body of `POST /wd/{command}` optional (parameters may all be in the query),
/// which `request_body` cannot say.
#[derive(Debug)]
pub struct OptionalBody;

impl Modify for OptionalBody {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let post = openapi
            .paths
            .paths
            .get_mut("/wd/{command}")
            .and_then(|item| item.post.as_mut());
        if let Some(body) = post.and_then(|operation| operation.request_body.as_mut()) {
            body.required = Some(Required::False);
        }
    }
}

/// Worldox parameters by name: Worldox names (never `wd_SID`, which is 400), values
/// strings, passed on in order. A query or a form may repeat a name (a list of
/// strings here); a JSON object has one value per name, a string or a number.
fn params(json: bool) -> Object {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let value: Schema = if json {
        let scalar = SchemaType::from_iter([Type::String, Type::Number]);
        ObjectBuilder::new().schema_type(scalar).build().into()
    } else {
        AnyOfBuilder::new()
            .item(string())
            .item(ArrayBuilder::new().items(string()))
            .build()
            .into()
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(parameter_name()))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(value))))
        .description(Some(
            "Worldox parameters by name, sent after the session's `wd_SID` (a `wd_SID` of \
             your own, in any case, is 400; so is a name that is not ASCII letters, digits \
             and underscores). The answer template (`html`, `HTMLOnOk`, `HTMLOnFail`) is \
             yours to choose.",
        ))
        .build()
}

/// A parameter name, as `passthrough::is_parameter_name` accepts it.
pub(super) fn parameter_name() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Za-z0-9_]+$"))
}
