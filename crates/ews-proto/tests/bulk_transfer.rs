//! insta snapshots of the bulk-transfer answers (MS-OXWSBTRF `ExportItems`, `UploadItems`) and
//! the requests of Microsoft's documentation and of exchangelib read back.

use ews_proto::export::{CreateAction, ExportedItem, export_items_response, upload_items_response};
use ews_proto::request::{Operation, parse_request};
use ews_proto::response::ResponseError;
use ews_proto::types::{FolderRef, ItemRef};
use ews_proto::xml::Limits;
use insta::assert_snapshot;

fn lines(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.replace("><", ">\n<"),
        Err(e) => panic!("writer produced invalid UTF-8: {e}"),
    }
}

fn id(id: &str, ck: &str) -> ItemRef {
    ItemRef {
        id: id.into(),
        change_key: Some(ck.into()),
    }
}

#[test]
fn export_items_data_and_errors() {
    let out = export_items_response(&[
        Ok(ExportedItem {
            item_id: id("AAMkItem1", "CK1"),
            data: vec![1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        }),
        Err(ResponseError::code("ErrorItemNotFound")),
        Err(ResponseError::new(
            "ErrorBatchProcessingStopped",
            "this answer already carries 67108864 bytes of item data",
        )),
    ]);
    assert_snapshot!(lines(&out));
}

#[test]
fn export_items_large_data_is_one_base64_text() {
    // more than one base64 chunk: the pieces concatenate to the encoding of the whole
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let out = export_items_response(&[Ok(ExportedItem {
        item_id: id("I", "C"),
        data: data.clone(),
    })]);
    let s = String::from_utf8(out).unwrap();
    let start = s.find("<m:Data>").unwrap() + "<m:Data>".len();
    let end = s.find("</m:Data>").unwrap();
    use base64::Engine as _;
    let back = base64::engine::general_purpose::STANDARD
        .decode(&s[start..end])
        .unwrap();
    assert_eq!(back, data);
}

#[test]
fn upload_items_ids_and_errors() {
    let out = upload_items_response(&[
        Ok(id("AAMkNew", "CKnew")),
        Err(ResponseError::new(
            "ErrorCorruptData",
            "the data ends inside a property value at byte 12",
        )),
        Err(ResponseError::new(
            "ErrorParentFolderNotFound",
            "The parent folder of the item could not be found.",
        )),
    ]);
    assert_snapshot!(lines(&out));
}

/// The UploadItems request of Microsoft's documentation ("UploadItems operation"), its data
/// shortened as there, and exchangelib 5.6.0's shape (`IsAssociated="false"`, `t:ParentFolderId`
/// with a change key).
#[test]
fn reads_the_documented_and_exchangelib_requests() {
    let doc = br#"<?xml version="1.0" encoding="utf-8" ?>
<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
               xmlns:xsd="http://www.w3.org/2001/XMLSchema"
               xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
               xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
               xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Header>
    <t:RequestServerVersion Version="Exchange2010_SP1" />
  </soap:Header>
  <soap:Body>
    <m:UploadItems>
      <m:Items>
        <t:Item CreateAction="CreateNew">
          <t:ParentFolderId Id="AQMkADhhOGIgAAAA==" ChangeKey="AQAAAA=="/>
          <t:Data>
            AQAAAAgAAAAAAAAAAQAAAAMAAAAYAAAAAQAAAAcDAgAAAAAAwAAAAA
            AAAEYAJACABAAAAAYAAAABDqSAAAACAAAAcSMAAOSECEBbAAAAL089
          </t:Data>
        </t:Item>
        <t:Item CreateAction="Update">
          <t:ParentFolderId Id="AQMkADhhOGIgAAAB==" ChangeKey="AQAAAA=="/>
          <t:ItemId Id="AAMkADhhOGIgAAAC==" ChangeKey="AQAAAA=="/>
          <t:Data>AQAAAAgAAAAAAAAAAQAAAA==</t:Data>
        </t:Item>
      </m:Items>
    </m:UploadItems>
  </soap:Body>
</soap:Envelope>"#;
    let req = parse_request(doc, &Limits::default()).unwrap();
    let Operation::UploadItems(u) = req.operation else {
        panic!("not UploadItems")
    };
    assert_eq!(u.items.len(), 2);
    assert_eq!(u.items[0].create_action, CreateAction::CreateNew);
    assert_eq!(&u.items[0].data[..8], &[1, 0, 0, 0, 8, 0, 0, 0]);
    assert_eq!(u.items[1].create_action, CreateAction::Update);
    assert_eq!(
        u.items[1].item_id.as_ref().map(|i| i.id.as_str()),
        Some("AAMkADhhOGIgAAAC==")
    );
    assert!(matches!(&u.items[1].parent, FolderRef::Id { id, .. } if id == "AQMkADhhOGIgAAAB=="));

    let exchangelib = br#"<?xml version='1.0' encoding='utf-8'?>
<s:Envelope xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/><t:TimeZoneContext><t:TimeZoneDefinition Id="UTC"/></t:TimeZoneContext></s:Header><s:Body><m:UploadItems><m:Items><t:Item CreateAction="CreateNew" IsAssociated="false"><t:ParentFolderId Id="F1" ChangeKey="CK"/><t:Data>AQAAAA==</t:Data></t:Item></m:Items></m:UploadItems></s:Body></s:Envelope>"#;
    let req = parse_request(exchangelib, &Limits::default()).unwrap();
    let Operation::UploadItems(u) = req.operation else {
        panic!("not UploadItems")
    };
    assert_eq!(u.items[0].is_associated, Some(false));
    assert_eq!(u.items[0].data, [1, 0, 0, 0]);

    let export = br#"<?xml version="1.0" encoding="utf-8" ?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
      xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Header><t:RequestServerVersion Version="Exchange2010_SP1" /></soap:Header>
  <soap:Body>
    <m:ExportItems>
      <m:ItemIds>
        <t:ItemId Id="AAMkAGYzZjZmRiUsidkC+NAAAAY89GAAA="/>
        <t:ItemId Id="AAMkAGYzZjZmRiUsidkC+NAAAAY89FAAA="/>
        <t:ItemId Id="AAMkAGYzZjZmRiUsidkC+NAAAAY87NAAA="/>
      </m:ItemIds>
    </m:ExportItems>
  </soap:Body>
</soap:Envelope>"#;
    let req = parse_request(export, &Limits::default()).unwrap();
    let Operation::ExportItems(e) = req.operation else {
        panic!("not ExportItems")
    };
    assert_eq!(e.item_ids.len(), 3);
}
