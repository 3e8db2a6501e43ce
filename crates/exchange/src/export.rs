//! EWS bulk transfer (MS-OXWSBTRF): `ExportItems` and `UploadItems` over the mailbox store, the
//! item's `Data` written and read by [`crate::fxstream`].
//!
//! Authorized as the other item operations: the acting mailbox only (ids of another mailbox
//! are not found, a `t:DistinguishedFolderId` naming another mailbox is `ErrorAccessDenied`),
//! UserApplication to read and write, ArchiveApplication to write under Recoverable Items.
//! Each item is answered on its own, in order; an item refused (its data unreadable, its folder
//! or item not found) writes nothing.

use ews_proto::export::{
    CreateAction, ExportItems, ExportedItem, UploadItem, UploadItems, export_items_response,
    upload_items_response,
};
use ews_proto::response::{self as resp, ResponseError};
use ews_proto::types::ItemRef;
use mailbox::{MailboxError, UploadContent, UploadTarget};

use crate::ews::{Handler, err};
use crate::fxstream::{self, MAX_DATA_BYTES};

/// Most items one ExportItems or UploadItems names.
const MAX_ITEMS: usize = mailbox::limits::MAX_ITEMS_PER_CALL;

/// Bytes of item data one ExportItems answer carries at most; past it, the remaining items are
/// answered `ErrorBatchProcessingStopped` (read them in another call).
const MAX_EXPORT_BYTES: usize = MAX_DATA_BYTES;

fn too_many(op: &str, n: usize) -> Option<Vec<u8>> {
    (n > MAX_ITEMS).then(|| {
        resp::error_response(
            op,
            &err(&MailboxError::InvalidRequest(format!(
                "{n} items in one call; at most {MAX_ITEMS}"
            ))),
        )
    })
}

impl Handler<'_> {
    /// `ExportItems`: each item's id and its stream.
    pub(crate) async fn export_items(&self, e: ExportItems) -> Vec<u8> {
        if let Some(refusal) = too_many("ExportItems", e.item_ids.len()) {
            return refusal;
        }
        let ids = e.item_ids.iter().map(|i| i.id.clone()).collect();
        let items = match self.ex.inner.mbx.get_items(&self.key, ids).await {
            Ok(items) => items,
            Err(e) => return resp::error_response("ExportItems", &err(&e)),
        };
        let mut out = Vec::with_capacity(items.len());
        let mut written = 0usize;
        for r in items {
            let item = match r {
                Ok(item) => item,
                Err(e) => {
                    out.push(Err(err(&e)));
                    continue;
                }
            };
            if written >= MAX_EXPORT_BYTES {
                out.push(Err(ResponseError::new(
                    "ErrorBatchProcessingStopped",
                    &format!(
                        "this answer already carries {MAX_EXPORT_BYTES} bytes of item data; export the remaining items in another call"
                    ),
                )));
                continue;
            }
            let attachments = if item.attachments.is_empty() {
                Vec::new()
            } else {
                let ids = item.attachments.iter().map(|a| a.id.clone()).collect();
                match self.ex.inner.mbx.get_attachments(&self.key, ids).await {
                    Ok(rs) => match rs.into_iter().collect::<Result<Vec<_>, _>>() {
                        Ok(a) => a,
                        Err(e) => {
                            out.push(Err(err(&e)));
                            continue;
                        }
                    },
                    Err(e) => {
                        out.push(Err(err(&e)));
                        continue;
                    }
                }
            };
            let data = fxstream::encode_item(&item, &attachments);
            written = written.saturating_add(data.len());
            out.push(Ok(ExportedItem {
                item_id: ItemRef {
                    id: item.id,
                    change_key: Some(item.change_key),
                },
                data,
            }));
        }
        export_items_response(&out)
    }

    /// `UploadItems`: each item created or rewritten from its stream.
    pub(crate) async fn upload_items(&self, u: UploadItems) -> Vec<u8> {
        if let Some(refusal) = too_many("UploadItems", u.items.len()) {
            return refusal;
        }
        let mut out = Vec::with_capacity(u.items.len());
        for item in u.items {
            out.push(self.upload_one(item).await);
        }
        upload_items_response(&out)
    }

    async fn upload_one(&self, u: UploadItem) -> Result<ItemRef, ResponseError> {
        let target = match (u.create_action, u.item_id) {
            (CreateAction::CreateNew, None) => UploadTarget::New,
            (CreateAction::CreateNew, Some(_)) => {
                return Err(ResponseError::new(
                    "ErrorInvalidRequest",
                    "an item with CreateAction=\"CreateNew\" must not have a t:ItemId",
                ));
            }
            (CreateAction::Update, None) => {
                return Err(ResponseError::new(
                    "ErrorInvalidRequest",
                    "an item with CreateAction=\"Update\" needs the t:ItemId of the item to update",
                ));
            }
            (CreateAction::UpdateOrCreate, None) => UploadTarget::New,
            (CreateAction::Update, Some(id)) => UploadTarget::Replace {
                id: id.id,
                or_create: false,
            },
            (CreateAction::UpdateOrCreate, Some(id)) => UploadTarget::Replace {
                id: id.id,
                or_create: true,
            },
        };
        let parent_err = |e: &MailboxError| match e {
            MailboxError::FolderNotFound => ResponseError::new(
                "ErrorParentFolderNotFound",
                "The parent folder of the item could not be found.",
            ),
            e => self.mailbox_err(e),
        };
        let sel = self.sel(&u.parent)?;
        self.authorize_write_in(&sel).await.map_err(|e| {
            if e.code == "ErrorFolderNotFound" {
                parent_err(&MailboxError::FolderNotFound)
            } else {
                e
            }
        })?;
        let decoded = fxstream::decode_item(&u.data)
            .map_err(|e| ResponseError::new(e.response_code(), &e.to_string()))?;
        let mut item = decoded.item;
        // an organizer's item is the organizer's own: one claiming another organizer would let
        // this mailbox cancel or move that organizer's meeting for its attendees
        if let Some(m) = &item.meeting
            && m.is_organizer()
            && !m.organizer.email.eq_ignore_ascii_case(&self.smtp)
        {
            return Err(ResponseError::new(
                "ErrorInvalidRequest",
                &format!(
                    "the item is the organizer's item of a meeting organized by {}, not by this mailbox ({}): an organizer's item can only be uploaded into the organizer's own mailbox",
                    m.organizer.email.chars().take(200).collect::<String>(),
                    self.smtp
                ),
            ));
        }
        item.is_associated = u.is_associated.unwrap_or(false);
        let stored = self
            .ex
            .inner
            .mbx
            .upload_item(
                &self.key,
                sel,
                target,
                UploadContent {
                    item,
                    received: decoded.received,
                    user_configuration: decoded.user_configuration,
                },
                self.item_guard(),
            )
            .await
            .map_err(|e| parent_err(&e))?;
        Ok(ItemRef {
            id: stored.item.id,
            change_key: Some(stored.item.change_key),
        })
    }
}
