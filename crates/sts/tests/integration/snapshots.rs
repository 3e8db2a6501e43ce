//! Snapshots of the metadata document and a token response, with GUIDs, ports, keys and
//! signatures normalised.

use s2s_proto::jwt::Compact;
use s2s_proto::principal::SKYPE_APP_ID;
use serde_json::{Value, json};

use crate::common::*;

/// Replaces every GUID by `<guid>` (the well-known app ids are kept: they are the protocol).
fn normalise_guids(s: &str) -> String {
    const KEEP: [&str; 5] = [
        "00000001-0000-0000-c000-000000000000",
        "00000002-0000-0ff1-ce00-000000000000",
        "00000003-0000-0ff1-ce00-000000000000",
        "00000004-0000-0ff1-ce00-000000000000",
        "00000002-0000-0000-c000-000000000000",
    ];
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if i + 36 <= b.len() && is_guid(&s[i..i + 36]) && !KEEP.contains(&&s[i..i + 36]) {
            out.push_str("<guid>");
            i += 36;
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn is_guid(s: &str) -> bool {
    s.bytes().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => c.is_ascii_hexdigit(),
    })
}

/// Rebuilds objects with their keys in sorted order, whatever map serde_json is built with.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn normalise(lab: &Lab, v: &Value, secrets: &[(String, &str)]) -> String {
    let mut s = serde_json::to_string_pretty(&sorted(v)).unwrap();
    for (value, name) in secrets {
        s = s.replace(value.as_str(), name);
    }
    s = s.replace(&lab.realm, "<realm>");
    s = s.replace(&lab.base, "http://<sts>");
    normalise_guids(&s)
}

#[tokio::test]
async fn metadata_document() {
    let lab = Lab::start().await;
    let md = lab.public.metadata(&lab.realm).await.unwrap();
    let cert = &md.signing_certificates().unwrap()[0];
    let v = serde_json::to_value(&md).unwrap();
    insta::assert_snapshot!(
        "metadata",
        normalise(
            &lab,
            &v,
            &[
                (cert.to_base64(), "<certificate>"),
                (cert.x5t.clone(), "<x5t>")
            ]
        )
    );
}

#[tokio::test]
async fn token_response() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let resp = lab.skype_actor_token().await.unwrap();
    let token = Compact::parse(&resp.access_token).unwrap();
    let x5t = token.header["x5t"].as_str().unwrap().to_owned();
    let mut v = serde_json::to_value(&resp).unwrap();
    v["access_token"] =
        json!({"header": token.header, "claims": token.claims, "signature": "<signature>"});
    insta::assert_snapshot!("token_response", normalise(&lab, &v, &[(x5t, "<x5t>")]));

    // and a refusal, in the AADSTS shape
    let (_, body) = lab
        .post_token(
            &lab.realm,
            &lab.form(
                SKYPE_APP_ID,
                &lab.assertion(SKYPE_APP_ID, SKYPE_KEY),
                &format!(
                    "{}/x.example@{}",
                    s2s_proto::principal::EXCHANGE_APP_ID,
                    lab.realm
                ),
            ),
        )
        .await;
    insta::assert_snapshot!("token_refusal", normalise(&lab, &body, &[]));
}
