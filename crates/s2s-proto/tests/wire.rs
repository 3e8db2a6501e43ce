//! Wire formats: the ACS metadata document (both `keyInfo` placements), token request/response
//! (numbers as strings) and the error response, round-tripped and snapshotted.

mod common;
use common::*;

use s2s_proto::wire::{AcsMetadata, ErrorResponse, TokenRequest, TokenResponse};

fn doc(key_info_inside: bool) -> String {
    let c = key(0).certificate();
    let ki = format!(r#""keyInfo":{{"x5t":"{}"}}"#, c.x5t);
    let (inner, outer) = if key_info_inside {
        (format!(",{ki}"), String::new())
    } else {
        (String::new(), format!(",{ki}"))
    };
    format!(
        r#"{{"version":"1.0","realm":"{REALM}","name":"contoso.example","issuer":"00000001-0000-0000-c000-000000000000@{REALM}","allowedAudiences":["00000001-0000-0000-c000-000000000000@{REALM}"],"keys":[{{"usage":"signing","keyValue":{{"type":"x509Certificate","value":"{}"{inner}}}{outer}}}],"endpoints":[{{"location":"https://sts.example/{REALM}/tokens/OAuth/2","protocol":"OAuth2","usage":"issuance"}},{{"location":"https://sts.example/{REALM}/tokens/delegation/1","protocol":"DelegationIssuance1.0","usage":"issuance"}}]}}"#,
        c.to_base64()
    )
}

#[test]
fn metadata_both_key_info_placements() {
    for inside in [true, false] {
        let md = AcsMetadata::parse(doc(inside).as_bytes()).unwrap();
        let certs = md.signing_certificates().unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].thumbprint, key(0).certificate().thumbprint);
        assert_eq!(
            md.token_endpoint().unwrap(),
            format!("https://sts.example/{REALM}/tokens/OAuth/2")
        );
        // round trip
        let again = AcsMetadata::parse(&serde_json::to_vec(&md).unwrap()).unwrap();
        assert_eq!(again, md);
    }
    // a declared x5t that is not the certificate's is refused
    let bad = doc(false).replace(&key(0).certificate().x5t, "AAAA");
    assert!(
        AcsMetadata::parse(bad.as_bytes())
            .unwrap()
            .signing_certificates()
            .is_err()
    );
    // no signing keys
    let none = AcsMetadata::parse(
        format!(r#"{{"version":"1.0","realm":"{REALM}","issuer":"x"}}"#).as_bytes(),
    )
    .unwrap();
    assert!(none.signing_certificates().is_err());
    assert!(AcsMetadata::parse(b"[]").is_err());
}

#[test]
fn token_wire_snapshots() {
    let req = TokenRequest {
        grant_type: "client_credentials".into(),
        client_id: Some(format!("00000004-0000-0ff1-ce00-000000000000@{REALM}")),
        client_assertion_type: Some(s2s_proto::wire::JWT_BEARER_ASSERTION.into()),
        client_assertion: Some("<assertion>".into()),
        resource: Some(format!(
            "00000002-0000-0ff1-ce00-000000000000/{HOST}@{REALM}"
        )),
        ..Default::default()
    };
    let form = serde_urlencoded::to_string(&req).unwrap();
    insta::assert_snapshot!("token_request_form", form);
    assert_eq!(
        serde_urlencoded::from_str::<TokenRequest>(&form).unwrap(),
        req
    );

    let resp = TokenResponse {
        token_type: "Bearer".into(),
        expires_in: "3599".into(),
        not_before: "1799999700".into(),
        expires_on: "1800003600".into(),
        resource: format!("00000002-0000-0ff1-ce00-000000000000/{HOST}@{REALM}"),
        access_token: "<jwt>".into(),
    };
    insta::assert_json_snapshot!("token_response", resp);
    // numbers are strings on the wire; a numeric expires_in is not the ACS shape
    assert!(serde_json::from_str::<TokenResponse>(r#"{"token_type":"Bearer","expires_in":3599,"not_before":"1","expires_on":"2","resource":"r","access_token":"a"}"#).is_err());

    let err: ErrorResponse = serde_json::from_str(r#"{"error":"invalid_client","error_description":"AADSTS700027: the client assertion signature is invalid.","error_codes":[700027]}"#).unwrap();
    insta::assert_json_snapshot!("error_response", err);
}
