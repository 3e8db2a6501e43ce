//! ExpandDL: the request as exchangelib 5.6.0 sends it (`Protocol.expand_dl`, captured in
//! `fixtures/requests/exchangelib/expand_dl.xml`) and as Microsoft's example writes it, every
//! refusal by name, and the answers (members of each kind, none, an unknown list).

use ews_proto::error::EwsProtoError;
use ews_proto::request::{ExpandDL, Operation, parse_request};
use ews_proto::response::{ResponseError, expand_dl_response};
use ews_proto::types::Mailbox;
use ews_proto::xml::Limits;
use insta::assert_snapshot;

fn envelope(op: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body>{op}</s:Body></s:Envelope>"#
    )
}

fn parse(op: &str) -> Result<ExpandDL, EwsProtoError> {
    match parse_request(envelope(op).as_bytes(), &Limits::default())?.operation {
        Operation::ExpandDL(e) => Ok(e),
        other => panic!("not ExpandDL: {other:?}"),
    }
}

/// A newline between every `><` pair, as the other response snapshots have it.
fn lines(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.replace("><", ">\n<"),
        Err(e) => panic!("writer produced invalid UTF-8: {e}"),
    }
}

#[test]
fn exchangelib_expand_dl() {
    let bytes = include_bytes!("fixtures/requests/exchangelib/expand_dl.xml");
    let r = parse_request(bytes, &Limits::default()).unwrap();
    assert_eq!(r.operation.name(), "ExpandDL");
    let Operation::ExpandDL(e) = r.operation else {
        panic!("not ExpandDL")
    };
    assert_eq!(
        e,
        ExpandDL {
            email_address: "team@contoso.example".into(),
            item_id: None,
            routing_type: Some("SMTP".into()),
            mailbox_type: Some("PublicDL".into()),
        }
    );
}

/// Microsoft's example names the list by display name inside `t:Mailbox`.
#[test]
fn microsoft_example_with_types_mailbox() {
    let e = parse(
        "<m:ExpandDL><t:Mailbox><t:EmailAddress>TheDistributionList</t:EmailAddress></t:Mailbox></m:ExpandDL>",
    )
    .unwrap();
    assert_eq!(e.email_address, "TheDistributionList");
    assert_eq!(e.routing_type, None);
    assert_eq!(e.mailbox_type, None);
}

#[test]
fn refusals_name_what_is_wrong() {
    let cases = [
        ("<m:ExpandDL/>", "Mailbox"),
        (
            "<m:ExpandDL><m:Mailbox><t:EmailAddress>a@x.example</t:EmailAddress></m:Mailbox><m:Mailbox><t:EmailAddress>b@x.example</t:EmailAddress></m:Mailbox></m:ExpandDL>",
            "Mailbox",
        ),
        (
            "<m:ExpandDL><m:Mailbox><t:Name>Team</t:Name></m:Mailbox></m:ExpandDL>",
            "EmailAddress",
        ),
        (
            "<m:ExpandDL><m:Mailbox><t:EmailAddress></t:EmailAddress></m:Mailbox></m:ExpandDL>",
            "EmailAddress",
        ),
        (
            "<m:ExpandDL><m:Mailbox><t:EmailAddress>a@x.example</t:EmailAddress></m:Mailbox><m:Extra/></m:ExpandDL>",
            "Extra",
        ),
        (
            "<m:ExpandDL><m:Mailbox><t:Unknown>a</t:Unknown></m:Mailbox></m:ExpandDL>",
            "Unknown",
        ),
    ];
    for (op, names) in cases {
        let e = parse(op).unwrap_err();
        assert_eq!(e.response_code(), "ErrorSchemaValidation", "{op}: {e}");
        assert!(e.to_string().contains(names), "{op}: {e}");
    }
    // a private distribution list (a contact group in a mailbox) by its id: no address needed
    let e = parse(
        r#"<m:ExpandDL><t:Mailbox><t:ItemId Id="xASUAd==" ChangeKey="AAts0Q=="/></t:Mailbox></m:ExpandDL>"#,
    )
    .unwrap();
    assert_eq!(e.email_address, "");
    assert_eq!(
        e.item_id,
        Some(ews_proto::types::ItemRef::new("xASUAd==", Some("AAts0Q==")))
    );
}

fn member(name: &str, address: &str, kind: &str) -> Mailbox {
    Mailbox {
        name: Some(name.into()),
        email_address: Some(address.into()),
        routing_type: Some("SMTP".into()),
        mailbox_type: Some(kind.into()),
        item_id: None,
    }
}

#[test]
fn expand_dl_members() {
    let out = expand_dl_response(&Ok(vec![
        member("Bob", "bob@contoso.example", "Mailbox"),
        member("Partners", "partners@fabrikam.example", "Contact"),
        member("Sales", "sales@contoso.example", "PublicDL"),
    ]));
    assert_snapshot!(lines(&out));
}

#[test]
fn expand_dl_empty() {
    assert_snapshot!(lines(&expand_dl_response(&Ok(vec![]))));
}

#[test]
fn expand_dl_no_results() {
    let out = expand_dl_response(&Err(ResponseError::new(
        "ErrorNameResolutionNoResults",
        "No results were found.",
    )));
    assert_snapshot!(lines(&out));
}
