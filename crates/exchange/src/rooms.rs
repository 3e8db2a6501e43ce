//! Rooms: GetRoomLists (the room lists on the address list) and GetRooms (the room mailboxes
//! of one), authorized as the other directory reads (UserApplication, or
//! ApplicationImpersonation when impersonating). Room mailboxes are `New-Mailbox -Room`, room
//! lists `New-DistributionGroup -RoomList`, whose members are rooms only; what is hidden from
//! address lists is not listed.

use ews_proto::response::ResponseError;
use ews_proto::rooms::{self as wire, GetRooms};

use crate::error::ExchangeError;
use crate::ews::{Handler, directory_entry};

fn no_results(why: String) -> ResponseError {
    ResponseError::new(
        "ErrorNameResolutionNoResults",
        &format!("No results were found: {why}"),
    )
}

impl Handler<'_> {
    pub(crate) async fn get_room_lists(&self) -> Vec<u8> {
        let r = match self.authorize(false) {
            Ok(()) => {
                let org = self.ex.inner.org.clone();
                org.db
                    .clone()
                    .call(move |c| org.room_lists(c))
                    .await
                    .map(|lists| lists.iter().filter_map(directory_entry).collect())
                    .map_err(|e| {
                        tracing::warn!(error = %e, "GetRoomLists failed");
                        ResponseError::code("ErrorInternalServerError")
                    })
            }
            Err(e) => Err(e),
        };
        wire::get_room_lists_response(&r)
    }

    pub(crate) async fn get_rooms(&self, g: &GetRooms) -> Vec<u8> {
        wire::get_rooms_response(&self.rooms_of(g).await)
    }

    async fn rooms_of(
        &self,
        g: &GetRooms,
    ) -> Result<Vec<ews_proto::types::Mailbox>, ResponseError> {
        self.authorize(false)?;
        let list = g.room_list.trim().to_owned();
        if list.len() > crate::org::MAX_PROXY_ADDRESS_LEN {
            return Err(no_results(
                "the room list's address is longer than any address".into(),
            ));
        }
        let org = self.ex.inner.org.clone();
        let found = org
            .db
            .clone()
            .call(move |c| -> Result<_, ExchangeError> {
                let Some(l) = org
                    .recipient_by_smtp(c, &list)?
                    .filter(|l| l.is_room_list() && !l.hidden_from_address_lists_enabled)
                else {
                    return Ok(None);
                };
                Ok(Some(org.group_members(c, &l.guid)?))
            })
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "GetRooms failed");
                ResponseError::code("ErrorInternalServerError")
            })?;
        match found {
            Some(members) => Ok(members
                .iter()
                .filter(|m| m.is_room() && !m.hidden_from_address_lists_enabled)
                .filter_map(directory_entry)
                .collect()),
            None => Err(no_results(format!(
                "no room list on the address list has the address {}; GetRoomLists lists them",
                g.room_list.trim().chars().take(200).collect::<String>()
            ))),
        }
    }
}
