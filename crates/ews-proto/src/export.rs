//! EWS bulk transfer (MS-OXWSBTRF): `m:ExportItems` and `m:UploadItems` requests and their
//! answers.
//!
//! `ExportItems` names items (`m:ItemIds/t:ItemId`); each answer is an
//! `m:ExportItemsResponseMessage` with `m:ItemId` and `m:Data`, the item's full-fidelity stream
//! base64-encoded. `UploadItems` carries `m:Items/t:Item` (`CreateAction` = `CreateNew` |
//! `Update` | `UpdateOrCreate`, optional `IsAssociated`; children `t:ParentFolderId`, optional
//! `t:ItemId`, `t:Data`); each answer is an `m:UploadItemsResponseMessage` with the item's
//! `m:ItemId`. What `Data` holds is the server's business (see the exchange crate's
//! `fxstream`): this module only moves its bytes.

use crate::error::{EwsProtoError, dn};
use crate::ns::{MESSAGES as M, TYPES as T};
use crate::request::{
    base64_text, check_children, opt_child, parse_item_ref, parse_item_refs, req_attr, req_child,
    unexpected,
};
use crate::response::{ResponseError, response_messages_with, write_base64_element, write_id};
use crate::types::{FolderRef, ItemRef, parse_xs_boolean};
use crate::xml::Element;

type Result<T> = std::result::Result<T, EwsProtoError>;

/// `m:ExportItems`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportItems {
    /// `m:ItemIds`, in order (at least one).
    pub item_ids: Vec<ItemRef>,
}

/// `t:Item/@CreateAction` of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateAction {
    /// A new item in the parent folder; `t:ItemId` must be absent.
    CreateNew,
    /// Replace the item `t:ItemId` names, which must be in the parent folder.
    Update,
    /// Replace the item if it is in the parent folder, else create a new one.
    UpdateOrCreate,
}

impl CreateAction {
    /// Every value, in schema order.
    pub const ALL: [CreateAction; 3] = [
        CreateAction::CreateNew,
        CreateAction::Update,
        CreateAction::UpdateOrCreate,
    ];

    /// The schema spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CreateAction::CreateNew => "CreateNew",
            CreateAction::Update => "Update",
            CreateAction::UpdateOrCreate => "UpdateOrCreate",
        }
    }
}

/// One `t:Item` of `m:UploadItems`.
#[derive(Clone, PartialEq, Eq)]
pub struct UploadItem {
    pub create_action: CreateAction,
    /// `@IsAssociated` as sent (absent: `None`, a normal item).
    pub is_associated: Option<bool>,
    /// `t:ParentFolderId` (a folder id, with attributes `Id` and `ChangeKey`): where the item is
    /// created, or where the item to update must be.
    pub parent: FolderRef,
    /// `t:ItemId`: the item to update (never with `CreateNew`).
    pub item_id: Option<ItemRef>,
    /// `t:Data`, base64-decoded.
    pub data: Vec<u8>,
}

/// Names the data's length, never the data.
impl std::fmt::Debug for UploadItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadItem")
            .field("create_action", &self.create_action)
            .field("is_associated", &self.is_associated)
            .field("parent", &self.parent)
            .field("item_id", &self.item_id)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// `m:UploadItems`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadItems {
    /// `m:Items/t:Item`, in order (at least one).
    pub items: Vec<UploadItem>,
}

/// Reads `m:ExportItems` (its one child, `m:ItemIds`, with at least one `t:ItemId`).
pub(crate) fn parse_export_items(op: &Element) -> Result<ExportItems> {
    check_children(op, &["ItemIds"])?;
    Ok(ExportItems {
        item_ids: parse_item_refs(req_child(op, M, "ItemIds")?)?,
    })
}

/// Reads `m:UploadItems` (its one child, `m:Items`, with at least one `t:Item`).
pub(crate) fn parse_upload_items(op: &Element) -> Result<UploadItems> {
    check_children(op, &["Items"])?;
    let list = req_child(op, M, "Items")?;
    let mut items = Vec::with_capacity(list.children.len());
    for child in &list.children {
        if !child.is(T, "Item") {
            return Err(unexpected(list, child));
        }
        items.push(parse_upload_item(child)?);
    }
    if items.is_empty() {
        return Err(EwsProtoError::MissingElement {
            parent: dn(list),
            name: "Item",
            position: list.position(),
        });
    }
    Ok(UploadItems { items })
}

fn parse_upload_item(el: &Element) -> Result<UploadItem> {
    for child in &el.children {
        if &*child.ns != T || !matches!(child.local.as_str(), "ParentFolderId" | "ItemId" | "Data")
        {
            return Err(unexpected(el, child));
        }
    }
    let action = req_attr(el, "CreateAction")?;
    let create_action = CreateAction::ALL
        .into_iter()
        .find(|a| a.as_str() == action)
        .ok_or_else(|| EwsProtoError::InvalidValue {
            context: format!("{}/@CreateAction", dn(el)),
            value: action.chars().take(64).collect(),
            expected: "one of: CreateNew, Update, UpdateOrCreate".into(),
            position: el.position(),
        })?;
    let is_associated = el
        .attr("IsAssociated")
        .map(|v| {
            parse_xs_boolean(v).ok_or_else(|| EwsProtoError::InvalidValue {
                context: format!("{}/@IsAssociated", dn(el)),
                value: v.chars().take(64).collect(),
                expected: "an xs:boolean (true, false, 1, 0)".into(),
                position: el.position(),
            })
        })
        .transpose()?;
    // `t:ParentFolderId` is a `t:FolderIdType` itself (attributes Id and ChangeKey), not a
    // container of one as `m:ParentFolderId` is elsewhere
    let ItemRef { id, change_key } = parse_item_ref(req_child(el, T, "ParentFolderId")?)?;
    let parent = FolderRef::Id { id, change_key };
    let item_id = opt_child(el, T, "ItemId")?
        .map(parse_item_ref)
        .transpose()?;
    let data = base64_text(req_child(el, T, "Data")?, "t:Data")?;
    Ok(UploadItem {
        create_action,
        is_associated,
        parent,
        item_id,
        data,
    })
}

/// One exported item: its id and its full-fidelity stream.
#[derive(Clone, PartialEq, Eq)]
pub struct ExportedItem {
    pub item_id: ItemRef,
    /// Written base64-encoded as `m:Data`, a chunk at a time.
    pub data: Vec<u8>,
}

/// Names the data's length, never the data.
impl std::fmt::Debug for ExportedItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedItem")
            .field("item_id", &self.item_id)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// `ExportItemsResponse`: one `m:ExportItemsResponseMessage` per requested id, in order; a
/// success carries `m:ItemId` and `m:Data`, an error nothing after its `m:DescriptiveLinkKey`.
pub fn export_items_response(
    results: &[std::result::Result<ExportedItem, ResponseError>],
) -> Vec<u8> {
    response_messages_with(
        "ExportItems",
        results,
        |w, item| {
            write_id(
                w,
                "m:ItemId",
                &item.item_id.id,
                item.item_id.change_key.as_deref(),
            );
            write_base64_element(w, "m:Data", &item.data);
        },
        |_, _| {},
    )
}

/// `UploadItemsResponse`: one `m:UploadItemsResponseMessage` per `t:Item`, in order; a success
/// carries the item's `m:ItemId` (new, or the updated item's with its new change key).
pub fn upload_items_response(results: &[std::result::Result<ItemRef, ResponseError>]) -> Vec<u8> {
    response_messages_with(
        "UploadItems",
        results,
        |w, id| write_id(w, "m:ItemId", &id.id, id.change_key.as_deref()),
        |_, _| {},
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Operation, parse_request};
    use crate::xml::Limits;

    fn envelope(body: &str) -> Vec<u8> {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>
  <s:Body>{body}</s:Body></s:Envelope>"#
        )
        .into_bytes()
    }

    #[test]
    fn export_items_reads_its_ids() {
        let req = parse_request(
            &envelope(
                r#"<m:ExportItems><m:ItemIds><t:ItemId Id="A" ChangeKey="CK"/><t:ItemId Id="B"/></m:ItemIds></m:ExportItems>"#,
            ),
            &Limits::default(),
        )
        .unwrap();
        let Operation::ExportItems(e) = req.operation else {
            panic!("not ExportItems");
        };
        assert_eq!(e.item_ids.len(), 2);
        assert_eq!(e.item_ids[0].change_key.as_deref(), Some("CK"));
        assert_eq!(e.item_ids[1].id, "B");
    }

    #[test]
    fn export_items_needs_an_id() {
        let e = parse_request(
            &envelope(r#"<m:ExportItems><m:ItemIds/></m:ExportItems>"#),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(e, EwsProtoError::MissingElement { .. }), "{e:?}");
    }

    #[test]
    fn upload_items_reads_every_field() {
        let req = parse_request(
            &envelope(
                r#"<m:UploadItems><m:Items>
                  <t:Item CreateAction="CreateNew">
                    <t:ParentFolderId Id="F1" ChangeKey="C1"/>
                    <t:Data>AQID
                    BA==</t:Data>
                  </t:Item>
                  <t:Item CreateAction="UpdateOrCreate" IsAssociated="false">
                    <t:ParentFolderId Id="F1"/>
                    <t:ItemId Id="I1" ChangeKey="C2"/>
                    <t:Data>AA==</t:Data>
                  </t:Item>
                </m:Items></m:UploadItems>"#,
            ),
            &Limits::default(),
        )
        .unwrap();
        let Operation::UploadItems(u) = req.operation else {
            panic!("not UploadItems");
        };
        assert_eq!(u.items.len(), 2);
        assert_eq!(u.items[0].create_action, CreateAction::CreateNew);
        assert_eq!(u.items[0].data, vec![1, 2, 3, 4]);
        assert_eq!(u.items[0].is_associated, None);
        assert_eq!(u.items[1].create_action, CreateAction::UpdateOrCreate);
        assert_eq!(u.items[1].is_associated, Some(false));
        assert_eq!(
            u.items[1].item_id.as_ref().map(|i| i.id.as_str()),
            Some("I1")
        );
    }

    #[test]
    fn upload_items_refusals() {
        let cases = [
            // no CreateAction
            r#"<t:Item><t:ParentFolderId Id="F"/><t:Data>AA==</t:Data></t:Item>"#,
            // unknown CreateAction
            r#"<t:Item CreateAction="Replace"><t:ParentFolderId Id="F"/><t:Data>AA==</t:Data></t:Item>"#,
            // bad IsAssociated
            r#"<t:Item CreateAction="CreateNew" IsAssociated="maybe"><t:ParentFolderId Id="F"/><t:Data>AA==</t:Data></t:Item>"#,
            // no parent
            r#"<t:Item CreateAction="CreateNew"><t:Data>AA==</t:Data></t:Item>"#,
            // no data
            r#"<t:Item CreateAction="CreateNew"><t:ParentFolderId Id="F"/></t:Item>"#,
            // bad base64
            r#"<t:Item CreateAction="CreateNew"><t:ParentFolderId Id="F"/><t:Data>!!</t:Data></t:Item>"#,
            // unknown child
            r#"<t:Item CreateAction="CreateNew"><t:ParentFolderId Id="F"/><t:Data>AA==</t:Data><t:Other/></t:Item>"#,
            // two data
            r#"<t:Item CreateAction="CreateNew"><t:ParentFolderId Id="F"/><t:Data>AA==</t:Data><t:Data>AA==</t:Data></t:Item>"#,
        ];
        for case in cases {
            let body = format!("<m:UploadItems><m:Items>{case}</m:Items></m:UploadItems>");
            assert!(
                parse_request(&envelope(&body), &Limits::default()).is_err(),
                "accepted {case}"
            );
        }
        assert!(
            parse_request(
                &envelope("<m:UploadItems><m:Items/></m:UploadItems>"),
                &Limits::default()
            )
            .is_err()
        );
    }
}
