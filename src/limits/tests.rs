use std::time::Duration;

use super::*;
use crate::config::{EncryptionKey, SessionConfig};

fn rule(kind: Kind, max: u32) -> Rule {
    Rule {
        kind,
        max,
        window: Duration::from_secs(60),
    }
}

#[test]
fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
    let refusal = |ms| Refusal {
        kind: Kind::LoginIp,
        retry_after: Duration::from_millis(ms),
    };
    assert_eq!(refusal(0).retry_after_secs(), 1);
    assert_eq!(refusal(1).retry_after_secs(), 1);
    assert_eq!(refusal(1000).retry_after_secs(), 1);
    assert_eq!(refusal(1001).retry_after_secs(), 2);
    let detail = refusal(29_500).detail();
    assert!(detail.contains("from this address"), "{detail}");
    assert!(
        detail.contains("limits.login_per_ip_per_minute"),
        "{detail}"
    );
    assert!(detail.contains("30 s"), "{detail}");
}

#[tokio::test]
async fn a_rule_set_to_zero_makes_no_hit_and_no_hits_always_pass() {
    let limiter = Limiter::new(SubjectKey::from_secret(b"limiter-test-key"), None);
    assert!(limiter.hit(rule(Kind::LoginIp, 0), &[b"x"]).is_none());
    for _ in 0..10 {
        limiter.admit(Vec::new()).await.expect("nothing to count");
    }
    assert_eq!(limiter.tracked_in_memory(), 0);
}

#[tokio::test]
async fn when_redis_does_not_answer_this_replica_counts_on_its_own() {
    // Nothing listens on port 1: every Redis call fails within the timeout.
    let config = SessionConfig {
        redis_url: Some("redis://127.0.0.1:1".to_owned()),
        redis_timeout_ms: 50,
        // 32 bytes of 0x2a in base64: the Redis link seals what it stores.
        encryption_keys: vec![EncryptionKey(
            "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=".to_owned(),
        )],
        ..SessionConfig::default()
    };
    let link = RedisLink::connect(&config).expect("a usable URL");
    let limiter = Limiter::new(SubjectKey::from_secret(b"limiter-test-key"), Some(&link));
    let hit = || limiter.hit(rule(Kind::LoginPair, 2), &[b"alice", b"192.0.2.1"]);
    let first = limiter
        .admit(hit().into_iter().collect())
        .await
        .expect("not locked out");
    limiter
        .admit(hit().into_iter().collect())
        .await
        .expect("not locked out");
    let refused = limiter
        .admit(hit().into_iter().collect())
        .await
        .expect_err("the limit still holds");
    assert_eq!(refused.kind, Kind::LoginPair);
    assert_eq!(limiter.tracked_in_memory(), 1);
    // A refund of a locally counted event is local too.
    limiter.refund(&first, &[Kind::LoginPair]).await;
    limiter
        .admit(hit().into_iter().collect())
        .await
        .expect("one given back");
}
