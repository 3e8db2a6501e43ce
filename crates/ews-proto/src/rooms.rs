//! Room lists and rooms (`m:GetRoomLists`, `m:GetRooms`): the directory's room lists, and the
//! rooms in one. Both answers are themselves the response message (`ResponseClass`,
//! `ResponseCode` on `GetRoomListsResponse`/`GetRoomsResponse`), a list in `m:RoomLists`
//! (`t:Address` each) or `m:Rooms` (`t:Room/t:Id` each); a refusal is the response alone with
//! its error ([`crate::response::error_response`]).

use crate::error::{EwsProtoError, dn};
use crate::ns::{MESSAGES, TYPES};
use crate::request::{req_child, unexpected};
use crate::response::ResponseError;
use crate::types::Mailbox;
use crate::writer::XmlOut;
use crate::xml::Element;

type Result<T> = std::result::Result<T, EwsProtoError>;

/// `m:GetRooms`: the room list, by `m:RoomList/t:EmailAddress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetRooms {
    pub room_list: String,
}

pub(crate) fn parse_get_room_lists(op: &Element) -> Result<()> {
    match op.children.first() {
        Some(child) => Err(unexpected(op, child)),
        None => Ok(()),
    }
}

pub(crate) fn parse_get_rooms(op: &Element) -> Result<GetRooms> {
    for child in &op.children {
        if !child.is(MESSAGES, "RoomList") {
            return Err(unexpected(op, child));
        }
    }
    let list = req_child(op, MESSAGES, "RoomList")?;
    let mailbox = crate::request::parse_mailbox(list)?;
    match mailbox.email_address {
        Some(a) if !a.is_empty() => Ok(GetRooms { room_list: a }),
        _ => Err(EwsProtoError::MissingElement {
            parent: dn(list),
            name: "EmailAddress",
            position: list.position(),
        }),
    }
}

fn self_message(
    op: &str,
    container: &str,
    result: &std::result::Result<Vec<Mailbox>, ResponseError>,
    entry: impl Fn(&mut XmlOut, &Mailbox),
) -> Vec<u8> {
    match result {
        Err(e) => crate::response::error_response(op, e),
        Ok(list) => crate::response::self_message_success(op, |w| {
            if list.is_empty() {
                w.empty(container, &[]);
            } else {
                w.start(container, &[]);
                for m in list {
                    entry(w, m);
                }
                w.end(container);
            }
        }),
    }
}

/// `GetRoomListsResponse`: each room list as a `t:Address` (`MailboxType` `PublicDL`).
pub fn get_room_lists_response(
    result: &std::result::Result<Vec<Mailbox>, ResponseError>,
) -> Vec<u8> {
    self_message("GetRoomLists", "m:RoomLists", result, |w, m| {
        w.start("t:Address", &[]);
        crate::response::write_mailbox_fields(w, m);
        w.end("t:Address");
    })
}

/// `GetRoomsResponse`: each room as `t:Room/t:Id`.
pub fn get_rooms_response(result: &std::result::Result<Vec<Mailbox>, ResponseError>) -> Vec<u8> {
    self_message("GetRooms", "m:Rooms", result, |w, m| {
        w.start("t:Room", &[]);
        w.start("t:Id", &[]);
        crate::response::write_mailbox_fields(w, m);
        w.end("t:Id");
        w.end("t:Room");
    })
}

/// Reads a `GetRoomListsResponse` or `GetRoomsResponse` (a client's side): the entries, or the
/// error the response names.
pub fn parse_rooms_response(
    input: &[u8],
    limits: &crate::xml::Limits,
) -> Result<std::result::Result<Vec<Mailbox>, ResponseError>> {
    let top = match crate::response::parse_self_message(
        input,
        limits,
        &["GetRoomListsResponse", "GetRoomsResponse"],
    )? {
        Ok(top) => top,
        Err(e) => return Ok(Err(e)),
    };
    let (container, rooms) = if top.local == "GetRoomsResponse" {
        ("Rooms", true)
    } else {
        ("RoomLists", false)
    };
    let list = req_child(&top, MESSAGES, container)?;
    list.children
        .iter()
        .map(|e| {
            let fields = if rooms { req_child(e, TYPES, "Id")? } else { e };
            crate::request::parse_mailbox(fields)
        })
        .collect::<Result<Vec<_>>>()
        .map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Operation;
    use crate::xml::Limits;

    fn op(body: &str) -> Result<Operation> {
        crate::request::test_op(body)
    }

    #[test]
    fn parses_the_requests_and_refuses_what_the_schema_does() {
        assert!(matches!(
            op("<m:GetRoomLists/>").unwrap(),
            Operation::GetRoomLists
        ));
        let Operation::GetRooms(g) = op(
            "<m:GetRooms><m:RoomList><t:EmailAddress> rooms@contoso.example </t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>PublicDL</t:MailboxType></m:RoomList></m:GetRooms>",
        )
        .unwrap() else {
            panic!("not GetRooms")
        };
        assert_eq!(g.room_list, "rooms@contoso.example");
        for bad in [
            "<m:GetRoomLists><m:RoomList/></m:GetRoomLists>",
            "<m:GetRooms/>",
            "<m:GetRooms><m:RoomList><t:Name>x</t:Name></m:RoomList></m:GetRooms>",
            "<m:GetRooms><m:RoomList><t:EmailAddress>a@b.example</t:EmailAddress></m:RoomList><m:RoomList><t:EmailAddress>a@b.example</t:EmailAddress></m:RoomList></m:GetRooms>",
            "<m:GetRooms><m:Other/></m:GetRooms>",
        ] {
            assert!(op(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn answers_are_the_documented_shapes_and_read_back() {
        let room = |n: &str| Mailbox {
            name: Some(n.to_owned()),
            email_address: Some(format!("{}@contoso.example", n.to_lowercase())),
            routing_type: Some("SMTP".into()),
            mailbox_type: Some("Mailbox".into()),
            item_id: None,
        };
        let body = String::from_utf8(get_rooms_response(&Ok(vec![
            room("Room01"),
            room("Room02"),
        ])))
        .unwrap();
        assert!(
            body.contains("<m:GetRoomsResponse ResponseClass=\"Success\""),
            "{body}"
        );
        assert!(
            body.contains("<m:ResponseCode>NoError</m:ResponseCode><m:Rooms><t:Room><t:Id><t:Name>Room01</t:Name><t:EmailAddress>room01@contoso.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Id></t:Room>"),
            "{body}"
        );
        let back = parse_rooms_response(body.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(back, [room("Room01"), room("Room02")]);
        let lists = String::from_utf8(get_room_lists_response(&Ok(vec![]))).unwrap();
        assert!(lists.contains("<m:RoomLists/>"), "{lists}");
        assert_eq!(
            parse_rooms_response(lists.as_bytes(), &Limits::default())
                .unwrap()
                .unwrap(),
            []
        );
        let refused = get_rooms_response(&Err(ResponseError::new(
            "ErrorNameResolutionNoResults",
            "No results were found.",
        )));
        let text = String::from_utf8(refused.clone()).unwrap();
        assert!(
            text.contains("<m:GetRoomsResponse ResponseClass=\"Error\""),
            "{text}"
        );
        assert!(!text.contains("ResponseMessages"), "{text}");
        let e = parse_rooms_response(&refused, &Limits::default())
            .unwrap()
            .unwrap_err();
        assert_eq!(e.code, "ErrorNameResolutionNoResults");
    }
}
