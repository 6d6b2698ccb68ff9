//! Micro-benchmarks of the pieces every request goes through: `cargo bench`.
//!
//! - token: hashing a presented token and looking its session up in the memory store
//!   (the whole of `GET /me`'s authentication), and the connection's memo of its last
//!   token (`RecentToken`) giving the same key without hashing;
//! - envelope: parsing the seed's 2FGET answer;
//! - cgi: building the 2FGET query string (percent-encoding every value once);
//! - devices: turning 2FGET rows into devices with stable ids, and rendering the
//!   `GET /me/2fa-devices` answer from them;
//! - sealed: sealing and opening a session record as the Redis store does (JSON, then
//!   XChaCha20-Poly1305), beside the bare JSON encoding and decoding it adds to.
//!
//! The end-to-end figures (against nginx) come from `bench/run`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use wdgate::address::Address;
use wdgate::api::devices::view::list_json;
use wdgate::devices::{IdKey, ListingCache};
use wdgate::session::{
    MemoryStore, RecentToken, Sealer, Session, SessionId, SessionStore, Token, TokenHash,
};
use wdgate::upstream::Sid;
use wdgate::upstream::auth::Profile;
use wdgate::upstream::cgi::Params;
use wdgate::upstream::envelope::Envelope;
use wdgate::upstream::twofa::{DeviceRow, Listing};

/// The seed's successful 2FGET answer (tests/fixtures/seeds/2fget_ok.json).
const TWO_FA_GET: &[u8] = include_bytes!("../tests/fixtures/seeds/2fget_ok.json");

/// The seed's SID, raw (after its one level of URL decoding).
const SID: &str = "mK2JN75CKK2NN643lsNiLAyWKr$2Ff2XB$2BvFn3ljbYex$2FEahK7OTXML5Daei0$3D";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn profile() -> Profile {
    Profile {
        username: "QC1".to_owned(),
        name: "QC User1".to_owned(),
        email: "qc1@worldox.com".to_owned(),
        firm: "World Software Corporation".to_owned(),
    }
}

/// A session as a login makes it: an id, the client IP and a browser's user agent.
fn session() -> Session {
    let id = SessionId::generate().unwrap();
    Session::new(id, Sid::new(SID), profile(), Duration::from_secs(28_800)).from_client(
        Some([203, 0, 113, 7].into()),
        Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"),
    )
}

fn token(c: &mut Criterion) {
    let rt = runtime();
    // One user's 10,000 sessions all fit: the cap per user is not what is measured.
    let store = MemoryStore::new(200_000, Duration::from_secs(1800), 20_000);
    // A store with other sessions in it, as a busy gateway has.
    rt.block_on(async {
        for _ in 0..10_000 {
            let other = Token::generate().unwrap().hash();
            let session = session();
            store.insert(other, session).await.unwrap();
        }
    });
    let token = Token::generate().unwrap();
    let session = session();
    rt.block_on(store.insert(token.hash(), session)).unwrap();
    let presented = token.as_str().to_owned();

    c.bench_function("token/hash", |b| {
        b.iter(|| TokenHash::from_presented(black_box(&presented)))
    });
    let mut recent = RecentToken::default();
    c.bench_function("token/remembered", |b| {
        b.iter(|| recent.key_of(black_box(presented.as_bytes())))
    });
    c.bench_function("token/hash+lookup", |b| {
        b.iter(|| {
            let key = TokenHash::from_presented(black_box(&presented)).unwrap();
            rt.block_on(store.get(key)).unwrap().unwrap()
        })
    });
}

fn envelope(c: &mut Criterion) {
    c.bench_function("envelope/parse 2FGET seed", |b| {
        b.iter(|| Envelope::parse(black_box(TWO_FA_GET)).unwrap())
    });
}

fn cgi(c: &mut Criterion) {
    c.bench_function("cgi/2FGET query", |b| {
        b.iter(|| {
            Params::new()
                .with("wd_SID", black_box(SID))
                .with("HTMLOnOk", "/v4/authentication/twoFactorDevice.json")
                .with("HTMLOnFail", "/v4/authentication/twoFactorDevice.json")
                .with("WD_List_Filter", "Redact>0")
                .to_query("2FGET")
        })
    });
}

fn listing() -> Listing {
    let row = |rec: u32, addr: &str, asis: &str, name: &str, enabled| DeviceRow {
        rec,
        addr: addr.to_owned(),
        addr_asis: asis.to_owned(),
        name: name.to_owned(),
        enabled,
    };
    Listing {
        list_id: "x211D3D8".to_owned(),
        rows: vec![
            row(1, "(551) 655-5721", "+15516555721", "Work cell", true),
            row(
                2,
                "dsnyder@worldox.com",
                "dsnyder@worldox.com",
                "Email",
                true,
            ),
        ],
    }
}

fn devices(c: &mut Criterion) {
    let rt = runtime();
    let ids = IdKey::from_secret(b"bench-key-bench-key");
    // TTL zero: no cache, so every call translates the rows afresh.
    let translate = ListingCache::new(ids, Duration::ZERO, 10);
    let key = Token::generate().unwrap().hash();
    c.bench_function("devices/translate 2 rows (ids, addresses)", |b| {
        b.iter(|| {
            rt.block_on(translate.get(key, "QC1", || async { Ok(listing()) }))
                .unwrap()
        })
    });
    let devices = rt
        .block_on(translate.get(key, "QC1", || async { Ok(listing()) }))
        .unwrap();
    c.bench_function("devices/render GET /me/2fa-devices (masked)", |b| {
        b.iter(|| list_json(&devices.devices, true).unwrap())
    });
    c.bench_function("devices/parse an address", |b| {
        b.iter(|| Address::parse(black_box("(551) 655-5721")).unwrap())
    });
}

fn sealed(c: &mut Criterion) {
    let sealer = Sealer::new(&[
        "x8Q9GHOiZ7tE7uI35QTi7d0/VVBAOsWlJusXCltOZns=",
        "nwiO7BUbuJMP+jojxNGQ7vIIOXCifPkT/6jadhUsxzQ=",
    ])
    .unwrap();
    let key = format!(
        "wdgate:session:{}",
        Token::generate().unwrap().hash().to_hex()
    );
    let session = session();
    let stored = sealer.seal_json(&key, &session).unwrap();
    let json = serde_json::to_string(&session).unwrap();
    c.bench_function("sealed/seal_session", |b| {
        b.iter(|| {
            sealer
                .seal_json(black_box(&key), black_box(&session))
                .unwrap()
        })
    });
    c.bench_function("sealed/open_session", |b| {
        b.iter(|| {
            sealer
                .open_json::<Session>(black_box(&key), black_box(&stored))
                .unwrap()
        })
    });
    c.bench_function("sealed/json_encode_session", |b| {
        b.iter(|| serde_json::to_string(black_box(&session)).unwrap())
    });
    c.bench_function("sealed/json_decode_session", |b| {
        b.iter(|| serde_json::from_str::<Session>(black_box(&json)).unwrap())
    });
    eprintln!(
        "a session record: {} bytes of JSON, {} bytes sealed",
        json.len(),
        stored.len()
    );
}

criterion_group!(benches, token, envelope, cgi, devices, sealed);
criterion_main!(benches);
