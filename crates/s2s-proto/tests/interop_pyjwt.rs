//! Interop with PyJWT, a third-party JOSE library: PyJWT verifies an actor token signed by our
//! code with the certificate from an ACS metadata document we serialise, and our validator
//! accepts a token that PyJWT signed.
//!
//! Needs a Python with PyJWT[crypto]: `OPENHYBRID_PYTHON`, else `<workspace>/.venv/bin/python`
//! (created by `.ci/run`). Missing Python is a failure with instructions, never a skip.

mod common;
use common::*;

use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::wire::{AcsMetadata, KeyInfo, KeyValue, MetadataKey};
use s2s_proto::{S2sToken, b64, jwt, validate_s2s};
use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("OPENHYBRID_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        venv.exists(),
        "no Python for the interop tests: run .ci/run once, or `python3 -m venv .venv && .venv/bin/pip install -r tests/interop/requirements.txt`, or set OPENHYBRID_PYTHON"
    );
    venv
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/pyjwt_interop.py")
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = b64::std_encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for c in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(c).unwrap());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

fn run(args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(script())
        .args(args)
        .output()
        .expect("running python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn pyjwt_verifies_our_actor_token_with_the_metadata_certificate() {
    let k = key(0);
    // our metadata document, serialised and parsed back, is where the certificate comes from
    let md = AcsMetadata {
        version: "1.0".into(),
        realm: REALM.into(),
        name: None,
        issuer: acs_issuer(),
        allowed_audiences: vec![acs_issuer()],
        keys: vec![MetadataKey {
            usage: "signing".into(),
            key_value: KeyValue {
                kind: "x509Certificate".into(),
                value: k.certificate().to_base64(),
                key_info: None,
            },
            key_info: Some(KeyInfo {
                x5t: k.certificate().x5t.clone(),
            }),
        }],
        endpoints: vec![],
    };
    let parsed = AcsMetadata::parse(&serde_json::to_vec(&md).unwrap()).unwrap();
    let cert = &parsed.signing_certificates().unwrap()[0];
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("sts.pem");
    std::fs::write(&cert_path, cert.to_pem()).unwrap();

    // a real actor token at the current time (PyJWT checks exp against the wall clock)
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut claims = actor_claims();
    claims.insert("nbf".into(), (now - 300).into());
    claims.insert("iat".into(), (now - 300).into());
    claims.insert("exp".into(), (now + 3600).into());
    let token = jwt::sign_rs256(k, &claims, true).unwrap();
    let aud = format!("{EXCHANGE_APP_ID}/{HOST}@{REALM}");
    let out: serde_json::Value = serde_json::from_str(&run(&[
        "verify",
        cert_path.to_str().unwrap(),
        &token,
        &aud,
        &acs_issuer(),
    ]))
    .unwrap();
    assert_eq!(out["claims"]["nameid"], format!("{SKYPE_APP_ID}@{REALM}"));
    assert_eq!(out["claims"]["trustedfordelegation"], "true");
    assert_eq!(out["header"]["x5t"], k.certificate().x5t.as_str());
    assert_eq!(out["header"]["alg"], "RS256");

    // and PyJWT refuses the same token with one bit of the signature flipped
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut raw = b64::url_decode(sig).unwrap();
    raw[0] ^= 1;
    let forged = format!("{head}.{}", b64::url_encode(raw));
    let out = Command::new(python())
        .arg(script())
        .args([
            "verify",
            cert_path.to_str().unwrap(),
            &forged,
            &aud,
            &acs_issuer(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "PyJWT accepted a forged signature");
}

#[test]
fn our_validator_accepts_a_token_pyjwt_signed() {
    let k = key(0);
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("sts.key");
    std::fs::write(&key_path, pem("PRIVATE KEY", k.pkcs8_der())).unwrap();
    let claims_path = dir.path().join("claims.json");
    std::fs::write(&claims_path, serde_json::to_vec(&actor_claims()).unwrap()).unwrap();
    let actor = run(&[
        "sign",
        key_path.to_str().unwrap(),
        &k.certificate().x5t,
        claims_path.to_str().unwrap(),
    ]);
    // app-only: the PyJWT-signed token alone
    let v = validate_s2s(&actor, &policy(), NOW).unwrap();
    assert!(matches!(v, S2sToken::AppOnly { .. }));
    // user context: inside our unsigned outer token
    let outer = jwt::unsigned(&outer_claims(&actor));
    let v = validate_s2s(&outer, &policy(), NOW).unwrap();
    assert_eq!(v.app().app_id, SKYPE_APP_ID);
    assert_eq!(v.actor().issuer, format!("{ACS_APP_ID}@{REALM}"));
}
