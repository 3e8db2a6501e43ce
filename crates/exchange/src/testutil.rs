//! Helpers for the unit tests of this crate.

use serde_json::{Map, Value, json};

/// A claim set of string members.
pub(crate) fn claims(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

/// A token signed RS256 by a fresh self-signed key, carrying `nameid`.
pub(crate) fn signed_app_token(nameid: &str) -> String {
    let t = |s| time::OffsetDateTime::from_unix_timestamp(s).unwrap();
    let key =
        s2s_proto::SigningKey::generate_self_signed("app", t(1_700_000_000), t(1_900_000_000))
            .unwrap();
    s2s_proto::jwt::sign_rs256(&key, &claims(&[("nameid", nameid)]), true).unwrap()
}
