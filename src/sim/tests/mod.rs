//! Simulator tests: the router driven with `oneshot`, requests built with the
//! gateway's own CGI encoder.

mod admin;
mod devices;
mod documents;
mod files;
mod lists;
mod seeds;
mod sessions;
mod shape;
mod socket;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use super::{SimConfig, Simulator, random};
use crate::upstream::cgi::{Params, decode};
use crate::upstream::fields::{CGI_PATH, command, filter, param};

/// The seed reference's client address, so whole answers can equal the seeds'.
const SEED_RMT: &str = "69.112.37.92";

/// An HTTP answer, read whole.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A simulator and its router.
struct Sim {
    sim: Simulator,
    router: Router,
}

impl Sim {
    fn demo() -> Self {
        Self::with(&SimConfig::default())
    }

    fn with(config: &SimConfig) -> Self {
        let sim = Simulator::new(config).unwrap();
        let router = sim.router();
        Self { sim, router }
    }

    /// A simulator whose users come from a users file with this text.
    fn with_users(toml: &str) -> Self {
        let path = temp_users_file(toml);
        let config = SimConfig {
            users_file: Some(path.clone()),
            ..SimConfig::default()
        };
        let sim = Self::with(&config);
        std::fs::remove_file(path).unwrap();
        sim
    }

    async fn request(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        // Answers naming the Windows-1252 seed are not UTF-8: read them as the
        // gateway's charset fallback does.
        let body = match String::from_utf8(bytes.to_vec()) {
            Ok(text) => text,
            Err(_) => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
        };
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// A CGI call with a raw query string, an optional form body and a client address.
    async fn raw(&self, query: &str, form: Option<String>, rmt: Option<&str>) -> Answer {
        let method = if form.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{CGI_PATH}?{query}"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.unwrap_or_default()))
            .unwrap();
        if let Some(ip) = rmt {
            let addr: SocketAddr = format!("{ip}:50123").parse().unwrap();
            request.extensions_mut().insert(ConnectInfo(addr));
        }
        let answer = self.request(request).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.content_type, "application/json");
        answer
    }

    async fn get(&self, command: &str, params: &Params) -> Value {
        self.raw(&params.to_query(command), None, None).await.json()
    }

    async fn post(&self, command: &str, query: &Params, form: &Params) -> Value {
        self.raw(&query.to_query(command), Some(form.to_form()), None)
            .await
            .json()
    }

    /// Logs in and returns the raw SID.
    async fn logon(&self, user: &str, password: &str) -> String {
        let answer = self
            .post(command::LOGON, &Params::new(), &logon_form(user, password))
            .await;
        assert_eq!(rctx(&answer), "", "{answer}");
        decode(answer["root"]["data"]["session"].as_str().unwrap())
    }

    /// 2FGET in clear (`Redact>0`) or masked.
    async fn list(&self, sid: &str, clear: bool) -> Value {
        let filter = if clear { filter::SHOW } else { filter::REDACT };
        let params = Params::new()
            .with(param::SID, sid)
            .with(param::LIST_FILTER, filter);
        self.get(command::TWO_FA_GET, &params).await
    }

    /// 2FSET with the SID in the query and `form` in the body.
    async fn set(&self, sid: &str, form: &Params) -> Value {
        let query = Params::new().with(param::SID, sid);
        self.post(command::TWO_FA_SET, &query, form).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<&str>) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Body::from(body.unwrap_or_default().to_owned()))
            .unwrap();
        self.request(request).await
    }

    /// The newest access code sent to `to`, and its `Ref`.
    async fn last_code(&self, to: &str) -> (String, String) {
        let path = format!("/_sim/outbox?to={}", crate::upstream::cgi::encode(to));
        let outbox = self.admin(Method::GET, &path, None).await.json();
        let last = outbox.as_array().unwrap().last().unwrap().clone();
        (
            last["ref"].as_str().unwrap().to_owned(),
            last["code"].as_str().unwrap().to_owned(),
        )
    }

    /// Steps 1 and 2 of 2FSET: send a code to `address` and enter it.
    async fn verify(&self, sid: &str, address: &str) {
        let sent = self.set(sid, &send_form(address)).await;
        assert_eq!(rctx(&sent), "", "{sent}");
        let (reference, code) = self.last_code(address).await;
        assert_eq!(sent["root"]["data"]["Ref"], reference.as_str());
        let checked = self.set(sid, &code_form(&reference, &code)).await;
        assert_eq!(rctx(&checked), "", "{checked}");
    }
}

fn logon_form(user: &str, password: &str) -> Params {
    Params::new()
        .with(param::USER_CODE, user)
        .with(param::USER_PASSWORD, password)
        .with(param::SERVER_NAME, "*")
        .with(param::SERVER_PASSWORD, "*")
        .with(param::HTML_ON_OK, crate::upstream::fields::template::LOGIN)
}

fn send_form(address: &str) -> Params {
    Params::new()
        .with(param::SEND_TO_ADDR, address)
        .with(param::SEND_OBJECT, "Worldox")
        .with(param::SEND_ACTION, "Worldox Web Authentication")
}

fn code_form(reference: &str, code: &str) -> Params {
    Params::new()
        .with(param::WORLDOX_REF, reference)
        .with(param::ACCESS_CODE, code)
}

/// The first error's `wd_Error_RCTX`, or `""`.
fn rctx(answer: &Value) -> &str {
    answer["root"]["errorStatus"]["Error"][0]["wd_Error_RCTX"]
        .as_str()
        .unwrap_or_default()
}

/// The rows of a 2FGET answer as `(Rec, ADDR.ASIS, NAME, FLAG)`.
fn rows(list: &Value) -> Vec<(String, String, String, String)> {
    let field = |row: &Value, k: &str| row[k].as_str().unwrap().to_owned();
    list["root"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                field(r, "Rec"),
                field(r, "ADDR.ASIS"),
                field(r, "NAME"),
                field(r, "FLAG"),
            )
        })
        .collect()
}

fn list_id(list: &Value) -> String {
    list["root"]["errorStatus"]["List_ID"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn temp_users_file(toml: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("wdgate-sim-users-{}.toml", random::hex(8)));
    std::fs::write(&path, toml).unwrap();
    path
}
