//! `rediss://`: sessions in a TLS-only redis-server trusted through
//! `session.redis_ca_file`.

mod common;

use std::path::PathBuf;

use common::Sim;
use common::redis::{ID_KEY, Redis, redis_gateway, wait_ready};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// PEM files of a test CA and a `localhost` certificate it signed, removed on drop.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "wdgate redis test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("leaf params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf cert");
        let dir = std::env::temp_dir().join(format!("wdgate-redis-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let pki = Self { dir };
        std::fs::write(pki.ca(), ca_cert.pem()).expect("write CA");
        std::fs::write(pki.cert(), leaf.pem()).expect("write cert");
        std::fs::write(pki.key(), leaf_key.serialize_pem()).expect("write key");
        pki
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn sessions_live_in_a_tls_redis_signed_by_the_configured_ca() {
    let pki = Pki::new();
    let Some(redis) = Redis::start_tls(&pki.cert(), &pki.key(), &pki.ca()) else {
        return;
    };
    let sim = Sim::start().await;
    let ca = pki.ca().to_string_lossy().into_owned();
    let gw = redis_gateway(
        &sim.url(),
        &redis,
        &[
            ("WDGATE_DEVICES_ID_KEY", ID_KEY),
            ("WDGATE_SESSION_REDIS_CA_FILE", &ca),
        ],
    );
    wait_ready(&gw).await;
    let token = gw.login("demo", "demo").await;
    let r = gw.get("/me", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = gw.delete("/sessions/current", Some(&token)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
}
