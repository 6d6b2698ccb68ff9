//! What the gateway keeps in Redis is sealed (`session.encryption_keys`): a dump of a
//! real redis-server after a login and a device listing gives away no SID, no profile,
//! no username and no address; keys rotate; a tampered record is a miss, not a panic.

mod common;

use std::path::PathBuf;

use common::Sim;
use common::redis::{
    ENCRYPTION_KEY, ID_KEY, OTHER_ENCRYPTION_KEY, Redis, redis_gateway, session_key, wait_ready,
};
use reqwest::Method;
use serde_json::json;
use wdgate::session::TokenHash;
use wdgate::session::sealed::key_id;
use wdgate::sim::SimConfig;

const DEVICES: &str = "/me/2fa-devices";

/// A user whose every field is long and distinctive, so finding one in a dump cannot
/// be a coincidence of random ciphertext.
const USERNAME: &str = "dumpwitnessusername";
const PASSWORD: &str = "dump-witness-password";
const NAME: &str = "Dumpwitness Displayname";
const EMAIL: &str = "dump.witness.mail@witness-example.org";
const FIRM: &str = "Witnessing Firm Partners LLP";
const PHONE: &str = "+15551230177";
const DEVICE_EMAIL: &str = "second.witness.device@witness-example.org";
const DEVICE_NAME: &str = "Witness Work Phone";
/// A new address a code is sent to (a pending verification names it).
const NEW_PHONE: &str = "+15551230188";

/// Every gateway here reads Redis on each request (no L1), so what Redis holds decides.
const NO_L1: (&str, &str) = ("WDGATE_SESSION_L1_TTL_MS", "0");
const SHARED_IDS: (&str, &str) = ("WDGATE_DEVICES_ID_KEY", ID_KEY);

/// A simulator whose only user is the witness; the users file is removed on drop.
struct WitnessSim {
    sim: Sim,
    file: PathBuf,
}

impl Drop for WitnessSim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

async fn witness_sim(name: &str) -> WitnessSim {
    let file =
        std::env::temp_dir().join(format!("wdgate-witness-{}-{name}.toml", std::process::id()));
    std::fs::write(
        &file,
        format!(
            "[[users]]\nusername = \"{USERNAME}\"\npassword = \"{PASSWORD}\"\n\
             name = \"{NAME}\"\nemail = \"{EMAIL}\"\nfirm = \"{FIRM}\"\n\
             [[users.devices]]\naddress = \"{PHONE}\"\nname = \"{DEVICE_NAME}\"\nenabled = true\n\
             [[users.devices]]\naddress = \"{DEVICE_EMAIL}\"\nname = \"Witness mail\"\nenabled = true\n"
        ),
    )
    .expect("write the users file");
    let sim = Sim::with_config(SimConfig {
        users_file: Some(file.clone()),
        ..SimConfig::default()
    })
    .await;
    WitnessSim { sim, file }
}

/// The Redis key of `token`'s device listing.
fn listing_key(token: &str) -> String {
    let hash = TokenHash::from_presented(token).expect("a token");
    format!("wdgate:listing:{}", hash.to_hex())
}

/// `stored` with one character of its sealed body changed.
fn flip_body_char(stored: &str) -> String {
    let at = stored.len() - 20;
    let old = stored.as_bytes()[at];
    let new = if old == b'A' { 'B' } else { 'A' };
    format!("{}{new}{}", &stored[..at], &stored[at + 1..])
}

#[tokio::test]
async fn a_redis_dump_after_login_and_listing_holds_no_sid_profile_username_or_address() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let witness = witness_sim("dump").await;
    let sim = &witness.sim;
    let gw = redis_gateway(&sim.url(), &redis, &[SHARED_IDS, NO_L1]);
    wait_ready(&gw).await;
    let token = gw.login(USERNAME, PASSWORD).await;
    let me = gw.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["email"], EMAIL, "the profile is the witness's");
    let listing = gw
        .get(&format!("{DEVICES}?redact=false"), Some(&token))
        .await;
    assert_eq!(listing.status, 200, "{}", listing.text);
    assert!(listing.text.contains(PHONE), "{}", listing.text);
    // A pending verification is a record of its own, naming the address and Worldox's
    // `Ref`.
    let code = gw
        .post_json(
            &format!("{DEVICES}/verifications"),
            &json!({"address": NEW_PHONE}),
            Some(&token),
        )
        .await;
    assert_eq!(code.status, 202, "{}", code.text);

    let sessions = sim.admin(Method::GET, "sessions", None).await;
    let sid = sessions.as_array().expect("sessions")[0]["sid"]
        .as_str()
        .expect("a live SID")
        .to_owned();
    assert!(sid.len() >= 40, "a real SID: {sid}");
    let encoded_sid = wdgate::upstream::cgi::encode(&sid).into_owned();
    let mut secrets = vec![
        sid.clone(),
        sid[..20].to_owned(),
        sid[sid.len() - 20..].to_owned(),
        encoded_sid,
        USERNAME.to_owned(),
        NAME.to_owned(),
        EMAIL.to_owned(),
        FIRM.to_owned(),
        PHONE.to_owned(),
        PHONE[2..].to_owned(),
        NEW_PHONE[2..].to_owned(),
        DEVICE_EMAIL.to_owned(),
        DEVICE_NAME.to_owned(),
        token[4..].to_owned(),
    ];
    secrets.extend(
        ["dumpwitness", "witness-example", "Witnessing Firm"]
            .iter()
            .map(|s| (*s).to_owned()),
    );

    let dump = redis.dump("wdgate:*");
    let keys: Vec<&str> = dump.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&session_key(&token).as_str()), "{keys:?}");
    assert!(keys.contains(&listing_key(&token).as_str()), "{keys:?}");
    assert!(
        keys.iter().any(|k| k.starts_with("wdgate:verification:")),
        "{keys:?}"
    );
    for (key, values) in &dump {
        for secret in &secrets {
            let secret = secret.to_lowercase();
            assert!(
                !key.to_lowercase().contains(&secret),
                "the key {key} names {secret:?}"
            );
            for value in values {
                assert!(
                    !value.to_lowercase().contains(&secret),
                    "{key} holds {secret:?} in clear: {value}"
                );
            }
        }
        for value in values {
            assert!(!value.contains('{'), "{key} holds JSON in clear: {value}");
        }
    }
    // The whole keyspace, not only `wdgate:*`, holds nothing else of ours.
    let everything = redis.dump("*");
    assert_eq!(everything.len(), dump.len(), "{everything:?}");
}

#[tokio::test]
async fn a_session_sealed_under_a_retired_key_reads_while_listed_and_not_once_removed() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let old_id = key_id(ENCRYPTION_KEY).expect("a good key");
    let new_id = key_id(OTHER_ENCRYPTION_KEY).expect("a good key");
    // Replica A has the old key only; its session is sealed under it.
    let a = redis_gateway(&sim.url(), &redis, &[SHARED_IDS, NO_L1]);
    wait_ready(&a).await;
    let old_token = a.login("demo", "demo").await;
    let stored_old = redis.command(&["GET", &session_key(&old_token)]);
    assert!(
        stored_old.contains(&format!(".s1.{old_id}.")),
        "{stored_old}"
    );

    // Replica B lists the new key first and keeps the old one: it reads the old record
    // and seals new ones under the new key.
    let rotated = format!("{OTHER_ENCRYPTION_KEY},{ENCRYPTION_KEY}");
    let b = redis_gateway(
        &sim.url(),
        &redis,
        &[
            SHARED_IDS,
            NO_L1,
            ("WDGATE_SESSION_ENCRYPTION_KEYS", &rotated),
        ],
    );
    wait_ready(&b).await;
    let r = b.get("/me", Some(&old_token)).await;
    assert_eq!(r.status, 200, "the old key still opens: {}", r.text);
    let new_token = b.login("demo", "demo").await;
    let stored_new = redis.command(&["GET", &session_key(&new_token)]);
    assert!(
        stored_new.contains(&format!(".s1.{new_id}.")),
        "{stored_new}"
    );
    // A replica that does not know the new key yet cannot read it (hence: add a new
    // key last everywhere first, then move it to the front).
    a.get("/me", Some(&new_token))
        .await
        .assert_problem(401, "invalid_token");

    // Replica C has dropped the old key: the old session is gone, the new one reads.
    let c = redis_gateway(
        &sim.url(),
        &redis,
        &[
            SHARED_IDS,
            NO_L1,
            ("WDGATE_SESSION_ENCRYPTION_KEYS", OTHER_ENCRYPTION_KEY),
        ],
    );
    wait_ready(&c).await;
    c.get("/me", Some(&old_token))
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(c.get("/me", Some(&new_token)).await.status, 200);
    c.wait_for_log("does not open").await;
    let log = c.log();
    assert!(
        log.contains(&old_id),
        "the warning names the retired key id: {log}"
    );
    assert!(!log.contains(&stored_old), "the log holds the value");
    // Nothing was lost meanwhile: B still reads both.
    assert_eq!(b.get("/me", Some(&old_token)).await.status, 200);
    assert_eq!(b.get("/me", Some(&new_token)).await.status, 200);
}

#[tokio::test]
async fn a_tampered_swapped_or_cut_session_record_is_a_401_and_the_gateway_keeps_serving() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let gw = redis_gateway(&sim.url(), &redis, &[SHARED_IDS, NO_L1]);
    wait_ready(&gw).await;
    let victim = gw.login("demo", "demo").await;
    let other = gw.login("qc1", "qc1").await;
    // The victim's listing: a genuine record of another kind, sealed with the same key.
    assert_eq!(gw.get(DEVICES, Some(&victim)).await.status, 200);
    let listing = redis.command(&["GET", &listing_key(&victim)]);
    let key = session_key(&victim);
    let original = redis.command(&["GET", &key]);
    let others = redis.command(&["GET", &session_key(&other)]);
    let (end, sealed) = original.split_once('.').expect("{end}.{sealed}");
    let later_end = (end.parse::<u64>().expect("an end") + 3_600).to_string();
    let legacy = json!({"sid": "clear-sid", "profile": {"username": "demo", "name": "x",
        "email": "x@example.com", "firm": "x"}, "created_at": 1, "expires_at": 4_000_000_000u64})
    .to_string();
    let tampered = [
        ("a flipped ciphertext character", flip_body_char(&original)),
        ("another session's record", others.clone()),
        ("a lengthened clear end", format!("{later_end}.{sealed}")),
        ("its own listing record", format!("{end}.{listing}")),
        ("a cut record", original[..original.len() / 2].to_owned()),
        ("the end alone", format!("{end}.")),
        ("garbage", "not a record at all".to_owned()),
        ("clear JSON", legacy),
        ("nothing", String::new()),
    ];
    for (what, value) in &tampered {
        assert_eq!(redis.command(&["SET", &key, value, "PX", "60000"]), "OK");
        gw.get("/me", Some(&victim))
            .await
            .assert_problem(401, "invalid_token");
        // The other session and the gateway itself are untouched.
        assert_eq!(gw.get("/me", Some(&other)).await.status, 200, "{what}");
        // The genuine record still opens: the 401 was the tampering's doing.
        assert_eq!(
            redis.command(&["SET", &key, &original, "PX", "60000"]),
            "OK"
        );
        assert_eq!(gw.get("/me", Some(&victim)).await.status, 200, "{what}");
    }
    assert_eq!(gw.get("/healthz", None).await.status, 200);
    wait_ready(&gw).await;
    gw.wait_for_log("was ignored").await;
    let log = gw.log();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains(sealed), "the log holds a stored value");
    assert!(!log.contains("clear-sid"), "the log holds a stored value");
}

#[tokio::test]
async fn a_tampered_listing_is_a_miss_loaded_again_from_upstream() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let gw = redis_gateway(&sim.url(), &redis, &[SHARED_IDS, NO_L1]);
    wait_ready(&gw).await;
    let token = gw.login("demo", "demo").await;
    let first = gw.get(DEVICES, Some(&token)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(sim.calls("2FGET").await, 1);
    let key = listing_key(&token);
    let stored = redis.command(&["GET", &key]);
    assert!(stored.starts_with("s1."), "{stored}");
    // Untouched, the shared record serves the next read.
    assert_eq!(gw.get(DEVICES, Some(&token)).await.json, first.json);
    assert_eq!(sim.calls("2FGET").await, 1);
    // Tampered, it is a miss: one more upstream 2FGET, the same answer.
    let flipped = flip_body_char(&stored);
    assert_eq!(redis.command(&["SET", &key, &flipped, "PX", "60000"]), "OK");
    let again = gw.get(DEVICES, Some(&token)).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json, first.json);
    assert_eq!(sim.calls("2FGET").await, 2);
    // Another session's listing copied under this session's key does not open either.
    let second = gw.login("demo", "demo").await;
    let refreshed = redis.command(&["GET", &key]);
    let copied = redis.command(&["SET", &listing_key(&second), &refreshed, "PX", "60000"]);
    assert_eq!(copied, "OK");
    let theirs = gw.get(DEVICES, Some(&second)).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert_eq!(sim.calls("2FGET").await, 3, "the copy was a miss");
    gw.wait_for_log("does not open").await;
    assert!(
        !gw.log().contains(&stored[10..]),
        "the log holds a stored value"
    );
}

#[test]
fn the_redis_store_refuses_to_start_without_usable_encryption_keys() {
    let run = |keys: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wdgate"));
        cmd.arg("check-config")
            .current_dir(std::env::temp_dir())
            .env("WDGATE_SESSION_STORE", "redis")
            .env("WDGATE_SESSION_REDIS_URL", "redis://127.0.0.1:1")
            .env("WDGATE_DEVICES_ID_KEY", ID_KEY);
        if let Some(keys) = keys {
            cmd.env("WDGATE_SESSION_ENCRYPTION_KEYS", keys);
        }
        cmd.output().expect("check-config")
    };
    for keys in [None, Some("too-short-a-key"), Some("c2hvcnQ=")] {
        let out = run(keys);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{keys:?} was accepted");
        assert!(err.contains("session.encryption_keys"), "{keys:?}: {err}");
    }
    let both = format!("{ENCRYPTION_KEY},{OTHER_ENCRYPTION_KEY}");
    let out = run(Some(&both));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!shown.contains(ENCRYPTION_KEY) && !shown.contains(OTHER_ENCRYPTION_KEY));
    let ids = [ENCRYPTION_KEY, OTHER_ENCRYPTION_KEY].map(|k| key_id(k).expect("an id"));
    for id in ids {
        assert!(
            shown.contains(&id),
            "check-config names key id {id}: {shown}"
        );
    }
}
