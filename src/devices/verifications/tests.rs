use super::*;
use crate::session::Token;

fn verification(session: TokenHash) -> Verification {
    Verification {
        session,
        reference: "Worldox 5FFC-B161".to_owned(),
        address: Address::parse("a@example.com").expect("valid"),
        sent_to: "*@*****le.***".to_owned(),
    }
}

fn store(attempts: u32) -> Verifications {
    Verifications::in_memory(Duration::from_secs(60), attempts, 100)
}

fn session() -> TokenHash {
    Token::generate().expect("rng").hash()
}

#[tokio::test]
async fn another_sessions_id_is_unknown_and_costs_the_owner_nothing() {
    let v = store(2);
    let (mine, theirs) = (session(), session());
    let id = v.start(&verification(mine)).await.expect("start");
    for _ in 0..5 {
        assert!(matches!(
            v.attempt(&id, theirs).await,
            Err(ClaimError::Unknown)
        ));
    }
    assert_eq!(v.attempt(&id, mine).await.expect("mine").left, 1);
    assert!(matches!(
        v.peek("ver_nope", mine).await,
        Err(ClaimError::Unknown)
    ));
}

#[tokio::test]
async fn wrong_codes_cost_attempts_until_it_is_spent() {
    let v = store(3);
    let mine = session();
    let id = v.start(&verification(mine)).await.expect("start");
    let lefts: Vec<u32> = [
        v.attempt(&id, mine).await.expect("1").left,
        v.attempt(&id, mine).await.expect("2").left,
        v.attempt(&id, mine).await.expect("3").left,
    ]
    .into();
    assert_eq!(lefts, [2, 1, 0]);
    assert!(matches!(v.attempt(&id, mine).await, Err(ClaimError::Spent)));
    for _ in 0..3 {
        v.finish(&id, Outcome::Wrong).await.expect("wrong");
    }
    assert!(matches!(v.peek(&id, mine).await, Err(ClaimError::Spent)));
}

#[tokio::test]
async fn a_right_code_uses_it_up_and_an_unsent_code_gives_an_attempt_back() {
    let v = store(2);
    let mine = session();
    let id = v.start(&verification(mine)).await.expect("start");
    assert_eq!(v.attempt(&id, mine).await.expect("1").left, 1);
    v.finish(&id, Outcome::NotSent).await.expect("unsent");
    v.refund(&id).await.expect("refund");
    assert_eq!(
        v.attempt(&id, mine).await.expect("2").left,
        1,
        "a refund never gives more than the attempts allowed"
    );
    v.finish(&id, Outcome::Right).await.expect("verified");
    v.claim(&id, mine).await.expect("claimed");
    assert!(matches!(v.attempt(&id, mine).await, Err(ClaimError::Used)));
    assert_eq!(
        v.peek(&id, session())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(ClaimError::Unknown.to_string())
    );
}

#[tokio::test]
async fn concurrent_attempts_never_take_more_than_are_left() {
    let v = store(5);
    let mine = session();
    let id = v.start(&verification(mine)).await.expect("start");
    let tries = (0..50).map(|_| {
        let (v, id) = (v.clone(), id.clone());
        tokio::spawn(async move { v.attempt(&id, mine).await.is_ok() })
    });
    let mut taken = 0;
    for t in tries {
        taken += usize::from(t.await.expect("join"));
    }
    assert_eq!(taken, 5);
}

#[tokio::test]
async fn a_verified_verification_takes_no_attempt_and_one_write_claims_it() {
    let v = store(3);
    let mine = session();
    let id = v.start(&verification(mine)).await.expect("start");
    let status = v.status(&id, mine).await.expect("status");
    assert_eq!((status.stage, status.attempts_left), (Stage::Pending, 3));
    assert!(status.expires_in <= Duration::from_secs(60));
    assert!(status.expires_in > Duration::from_secs(50));
    assert_eq!(status.verification.sent_to, "*@*****le.***");
    assert!(matches!(
        v.claim(&id, mine).await,
        Err(ClaimError::NotVerified)
    ));
    assert_eq!(v.attempt(&id, mine).await.expect("1").left, 2);
    v.finish(&id, Outcome::Right).await.expect("verified");
    let status = v.status(&id, mine).await.expect("status");
    assert_eq!((status.stage, status.attempts_left), (Stage::Verified, 2));
    assert!(matches!(
        v.attempt(&id, mine).await,
        Err(ClaimError::Verified)
    ));
    assert!(matches!(
        v.claim(&id, session()).await,
        Err(ClaimError::Unknown)
    ));
    v.claim(&id, mine).await.expect("claimed");
    assert!(matches!(v.claim(&id, mine).await, Err(ClaimError::Used)));
    assert!(matches!(v.status(&id, mine).await, Err(ClaimError::Used)));
    // A failed write gives it back, still verified; a second claim takes it again.
    v.release(&id).await.expect("released");
    assert_eq!(
        v.status(&id, mine).await.expect("status").stage,
        Stage::Verified
    );
    v.claim(&id, mine).await.expect("claimed again");
}

#[tokio::test]
async fn the_last_attempt_right_is_verified_not_spent_and_release_never_revives_a_pending_one() {
    let v = store(1);
    let mine = session();
    let id = v.start(&verification(mine)).await.expect("start");
    assert_eq!(v.attempt(&id, mine).await.expect("only").left, 0);
    v.finish(&id, Outcome::Right).await.expect("verified");
    assert_eq!(
        v.status(&id, mine).await.expect("status").stage,
        Stage::Verified
    );
    let other = v.start(&verification(mine)).await.expect("start");
    v.release(&other).await.expect("release");
    assert!(matches!(
        v.claim(&other, mine).await,
        Err(ClaimError::NotVerified)
    ));
}

#[tokio::test]
async fn concurrent_claims_of_one_verified_verification_let_one_write_through() {
    let v = store(3);
    let mine = session();
    let id = v.start(&verification(mine)).await.expect("start");
    v.finish(&id, Outcome::Right).await.expect("verified");
    let claims = (0..20).map(|_| {
        let (v, id) = (v.clone(), id.clone());
        tokio::spawn(async move { v.claim(&id, mine).await.is_ok() })
    });
    let mut won = 0;
    for c in claims {
        won += usize::from(c.await.expect("join"));
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn attempts_count_in_flight_until_they_finish_so_a_refused_code_can_tell_late_from_wrong() {
    let v = store(3);
    let mine = session();
    let id = v.start(&verification(mine)).await.expect("start");
    v.attempt(&id, mine).await.expect("first");
    v.attempt(&id, mine).await.expect("second");
    assert_eq!(v.status(&id, mine).await.expect("status").in_flight, 2);
    // The second code reached Worldox after the first used the Ref up: refused, and
    // the first has not finished yet.
    let late = v.finish(&id, Outcome::Wrong).await.expect("late");
    assert_eq!(
        late,
        Settled {
            verified: false,
            in_flight: 1
        }
    );
    let right = v.finish(&id, Outcome::Right).await.expect("right");
    assert_eq!(
        right,
        Settled {
            verified: true,
            in_flight: 0
        }
    );
    let status = v.status(&id, mine).await.expect("status");
    assert_eq!((status.stage, status.in_flight), (Stage::Verified, 0));
    assert!(matches!(
        v.finish("ver_nope", Outcome::Wrong).await,
        Err(ClaimError::Unknown)
    ));
}

#[tokio::test]
async fn with_no_attempt_left_it_is_spent_only_once_none_is_in_flight() {
    let v = store(1);
    let mine = session();
    let id = v.start(&verification(mine)).await.expect("start");
    assert_eq!(v.attempt(&id, mine).await.expect("only").left, 0);
    let status = v.status(&id, mine).await.expect("still pending");
    assert_eq!((status.stage, status.attempts_left), (Stage::Pending, 0));
    assert!(matches!(v.attempt(&id, mine).await, Err(ClaimError::Spent)));
    assert!(matches!(
        v.claim(&id, mine).await,
        Err(ClaimError::NotVerified)
    ));
    v.finish(&id, Outcome::Wrong).await.expect("wrong");
    assert!(matches!(v.status(&id, mine).await, Err(ClaimError::Spent)));
    assert!(matches!(v.claim(&id, mine).await, Err(ClaimError::Spent)));
}
