//! Table-driven schema/semantic errors of `parse_request`: each case
//! asserts the precise variant, what it names, and the EWS response code.

use ews_proto::EwsProtoError as E;
use ews_proto::request::{Operation, Subscription, parse_request};
use ews_proto::xml::Limits;

fn envelope(header: &str, body: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="{}" xmlns:m="{}" xmlns:t="{}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#,
        ews_proto::ns::SOAP,
        ews_proto::ns::MESSAGES,
        ews_proto::ns::TYPES
    )
}

fn run(header: &str, body: &str) -> Result<ews_proto::request::Request, E> {
    parse_request(envelope(header, body).as_bytes(), &Limits::default())
}

const SHAPE: &str = "<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>";
const PARENT: &str =
    r#"<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds>"#;

fn create(item: &str) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items>{item}</m:Items></m:CreateItem>"#
    )
}

fn update_config(inner: &str) -> String {
    format!(
        r#"<m:UpdateUserConfiguration><m:UserConfiguration><t:UserConfigurationName Name="c"><t:DistinguishedFolderId Id="root"/></t:UserConfigurationName>{inner}</m:UserConfiguration></m:UpdateUserConfiguration>"#
    )
}

fn dictionary(value: &str) -> String {
    update_config(&format!(
        "<t:Dictionary><t:DictionaryEntry><t:DictionaryKey><t:Type>String</t:Type><t:Value>k</t:Value></t:DictionaryKey><t:DictionaryValue>{value}</t:DictionaryValue></t:DictionaryEntry></t:Dictionary>"
    ))
}

type Check = fn(&E) -> bool;

#[test]
fn schema_errors_are_precise() {
    let cases: Vec<(&str, String, String, Check, &str)> = vec![
        (
            "empty ItemId",
            String::new(),
            format!(r#"<m:GetItem>{SHAPE}<m:ItemIds><t:ItemId Id=""/></m:ItemIds></m:GetItem>"#),
            |e| matches!(e, E::EmptyId { element, .. } if element == "t:ItemId"),
            "ErrorInvalidIdMalformed",
        ),
        (
            "empty FolderId",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}<m:ParentFolderIds><t:FolderId Id=""/></m:ParentFolderIds></m:FindItem>"#),
            |e| matches!(e, E::EmptyId { element, .. } if element == "t:FolderId"),
            "ErrorInvalidIdMalformed",
        ),
        (
            "distinguished ids are case-sensitive",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}<m:ParentFolderIds><t:DistinguishedFolderId Id="Inbox"/></m:ParentFolderIds></m:FindItem>"#),
            |e| matches!(e, E::UnknownDistinguishedFolderId { id, .. } if id == "Inbox"),
            "ErrorSchemaValidation",
        ),
        (
            "mailbox without an email address",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:Name>x</t:Name></t:Mailbox></t:DistinguishedFolderId></m:ParentFolderIds></m:FindItem>"#),
            |e| matches!(e, E::MissingElement { parent, name: "EmailAddress", .. } if parent == "t:Mailbox"),
            "ErrorSchemaValidation",
        ),
        (
            "invalid base64 in BinaryData",
            String::new(),
            update_config("<t:BinaryData>not*base64</t:BinaryData>"),
            |e| matches!(e, E::InvalidBase64 { element: "t:BinaryData", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "invalid base64 in XmlData",
            String::new(),
            update_config("<t:XmlData>QQ=</t:XmlData>"),
            |e| matches!(e, E::InvalidBase64 { element: "t:XmlData", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "invalid base64 in a ByteArray dictionary value",
            String::new(),
            dictionary("<t:Type>ByteArray</t:Type><t:Value>%%</t:Value>"),
            |e| matches!(e, E::InvalidBase64 { element: "t:Value", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "Integer32 dictionary value that is not a number",
            String::new(),
            dictionary("<t:Type>Integer32</t:Type><t:Value>abc</t:Value>"),
            |e| matches!(e, E::InvalidValue { value, .. } if value == "abc"),
            "ErrorSchemaValidation",
        ),
        (
            "two values for a non-array dictionary type",
            String::new(),
            dictionary("<t:Type>String</t:Type><t:Value>a</t:Value><t:Value>b</t:Value>"),
            |e| matches!(e, E::InvalidValue { expected, .. } if expected.contains("exactly one")),
            "ErrorSchemaValidation",
        ),
        (
            "unknown dictionary type",
            String::new(),
            dictionary("<t:Type>Float</t:Type><t:Value>1.5</t:Value>"),
            |e| matches!(e, E::InvalidValue { context, value, .. } if context == "t:Type" && value == "Float"),
            "ErrorSchemaValidation",
        ),
        (
            "invalid xs:dateTime",
            String::new(),
            create("<t:CalendarItem><t:Start>2024-02-30T10:00:00Z</t:Start></t:CalendarItem>"),
            |e| matches!(e, E::InvalidDateTime { context, value, .. } if context == "t:Start" && value == "2024-02-30T10:00:00Z"),
            "ErrorSchemaValidation",
        ),
        (
            "invalid CalendarView StartDate",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}<m:CalendarView StartDate="tomorrow" EndDate="2024-01-01T00:00:00Z"/>{PARENT}</m:FindItem>"#),
            |e| matches!(e, E::InvalidDateTime { context, .. } if context == "m:CalendarView/@StartDate"),
            "ErrorSchemaValidation",
        ),
        (
            "missing Traversal",
            String::new(),
            format!("<m:FindItem>{SHAPE}{PARENT}</m:FindItem>"),
            |e| matches!(e, E::MissingAttribute { element, name: "Traversal", .. } if element == "m:FindItem"),
            "ErrorSchemaValidation",
        ),
        (
            "Deep traversal is for folders only",
            String::new(),
            format!(r#"<m:FindItem Traversal="Deep">{SHAPE}{PARENT}</m:FindItem>"#),
            |e| matches!(e, E::InvalidValue { context, value, expected, .. }
                if context == "m:FindItem/@Traversal" && value == "Deep" && expected == "one of: Shallow, SoftDeleted, Associated"),
            "ErrorSchemaValidation",
        ),
        (
            "missing BaseShape",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow"><m:ItemShape/>{PARENT}</m:FindItem>"#),
            |e| matches!(e, E::MissingElement { parent, name: "BaseShape", .. } if parent == "m:ItemShape"),
            "ErrorSchemaValidation",
        ),
        (
            "missing ParentFolderIds",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}</m:FindItem>"#),
            |e| matches!(e, E::MissingElement { name: "ParentFolderIds", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "empty ParentFolderIds",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}<m:ParentFolderIds/></m:FindItem>"#),
            |e| matches!(e, E::MissingElement { name: "FolderId", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "unexpected element in an operation",
            String::new(),
            format!(r#"<m:GetItem>{SHAPE}<m:Bogus/><m:ItemIds><t:ItemId Id="a"/></m:ItemIds></m:GetItem>"#),
            |e| matches!(e, E::UnexpectedElement { parent, found, .. } if parent == "m:GetItem" && found == "m:Bogus"),
            "ErrorSchemaValidation",
        ),
        (
            "OccurrenceItemId without its index",
            String::new(),
            format!(r#"<m:GetItem>{SHAPE}<m:ItemIds><t:OccurrenceItemId RecurringMasterId="a"/></m:ItemIds></m:GetItem>"#),
            |e| matches!(e, E::MissingAttribute { .. }),
            "ErrorSchemaValidation",
        ),
        (
            "FractionalPageItemView is not supported",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}<m:FractionalPageItemView Numerator="1" Denominator="2" MaxEntriesReturned="5"/>{PARENT}</m:FindItem>"#),
            |e| matches!(e, E::Unsupported { found, .. } if found == "m:FractionalPageItemView"),
            "ErrorInvalidOperation",
        ),
        (
            "creating a post item is not supported",
            String::new(),
            create("<t:PostItem><t:Subject>x</t:Subject></t:PostItem>"),
            |e| matches!(e, E::Unsupported { found, .. } if found == "t:PostItem"),
            "ErrorInvalidOperation",
        ),
        (
            // (a number out of 0-100 is the item's ErrorInvalidPercentCompleteValue)
            "a task's percentage that is no number",
            String::new(),
            create("<t:Task><t:PercentComplete>most</t:PercentComplete></t:Task>"),
            |e| matches!(e, E::InvalidValue { context, .. } if context == "t:PercentComplete"),
            "ErrorSchemaValidation",
        ),
        (
            "a task's regeneration pattern without its interval",
            String::new(),
            create("<t:Task><t:Recurrence><t:DailyRegeneration/><t:NoEndRecurrence><t:StartDate>2026-03-02</t:StartDate></t:NoEndRecurrence></t:Recurrence></t:Task>"),
            |e| matches!(e, E::MissingElement { parent, name: "Interval", .. } if parent == "t:DailyRegeneration"),
            "ErrorSchemaValidation",
        ),
        (
            "CreateFolder without a folder",
            String::new(),
            r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders/></m:CreateFolder>"#.to_owned(),
            |e| matches!(e, E::MissingElement { parent, name: "Folder", .. } if parent == "m:Folders"),
            "ErrorSchemaValidation",
        ),
        (
            "CreateFolder without a parent",
            String::new(),
            r#"<m:CreateFolder><m:Folders><t:Folder><t:DisplayName>x</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#.to_owned(),
            |e| matches!(e, E::MissingElement { name: "ParentFolderId", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "a new folder without a DisplayName",
            String::new(),
            r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:FolderClass>IPF.Note</t:FolderClass></t:Folder></m:Folders></m:CreateFolder>"#.to_owned(),
            |e| matches!(e, E::MissingElement { parent, name: "DisplayName", .. } if parent == "t:Folder"),
            "ErrorSchemaValidation",
        ),
        (
            "a new folder with two DisplayNames",
            String::new(),
            r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>a</t:DisplayName><t:DisplayName>b</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#.to_owned(),
            |e| matches!(e, E::DuplicateElement { .. }),
            "ErrorSchemaValidation",
        ),
        (
            "creating a search folder is not supported",
            String::new(),
            r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:SearchFolder><t:DisplayName>s</t:DisplayName></t:SearchFolder></m:Folders></m:CreateFolder>"#.to_owned(),
            |e| matches!(e, E::Unsupported { found, .. } if found == "t:SearchFolder"),
            "ErrorInvalidOperation",
        ),
        (
            "a new folder's permissions are not supported",
            String::new(),
            r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>p</t:DisplayName><t:PermissionSet/></t:Folder></m:Folders></m:CreateFolder>"#.to_owned(),
            |e| matches!(e, E::Unsupported { found, .. } if found == "t:PermissionSet"),
            "ErrorInvalidOperation",
        ),
        (
            "a new folder's id is not the client's to set",
            String::new(),
            r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:FolderId Id="x"/><t:DisplayName>p</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#.to_owned(),
            |e| matches!(e, E::UnexpectedElement { parent, found, .. } if parent == "t:Folder" && found == "t:FolderId"),
            "ErrorSchemaValidation",
        ),
        (
            "CreateFolder with a message where a folder belongs",
            String::new(),
            r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Message/></m:Folders></m:CreateFolder>"#.to_owned(),
            |e| matches!(e, E::UnexpectedElement { parent, found, .. } if parent == "m:Folders" && found == "t:Message"),
            "ErrorSchemaValidation",
        ),
        (
            "EmptyFolder without DeleteSubFolders",
            String::new(),
            r#"<m:EmptyFolder DeleteType="HardDelete"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:EmptyFolder>"#.to_owned(),
            |e| matches!(e, E::MissingAttribute { name: "DeleteSubFolders", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "DeleteFolder without a DeleteType",
            String::new(),
            r#"<m:DeleteFolder><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:DeleteFolder>"#.to_owned(),
            |e| matches!(e, E::MissingAttribute { name: "DeleteType", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "DeleteFolder without a folder",
            String::new(),
            r#"<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds/></m:DeleteFolder>"#.to_owned(),
            |e| matches!(e, E::MissingElement { name: "FolderId", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "UpdateFolder of a read-only property",
            String::new(),
            r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:DistinguishedFolderId Id="inbox"/><t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:TotalCount"/><t:Folder><t:TotalCount>3</t:TotalCount></t:Folder></t:SetFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#.to_owned(),
            |e| matches!(e, E::Unsupported { found, .. } if found == "t:FieldURI"),
            "ErrorInvalidOperation",
        ),
        (
            "UpdateFolder naming one property and sending another",
            String::new(),
            r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:DistinguishedFolderId Id="inbox"/><t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:FolderClass>IPF.Note</t:FolderClass></t:Folder></t:SetFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#.to_owned(),
            |e| matches!(e, E::UnexpectedElement { parent, found, .. } if parent == "t:Folder" && found == "t:FolderClass"),
            "ErrorSchemaValidation",
        ),
        (
            "UpdateFolder appending to a folder field",
            String::new(),
            r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:DistinguishedFolderId Id="inbox"/><t:Updates><t:AppendToFolderField/></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#.to_owned(),
            |e| matches!(e, E::Unsupported { found, .. } if found == "t:AppendToFolderField"),
            "ErrorInvalidOperation",
        ),
        (
            "UpdateFolder without updates",
            String::new(),
            r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:DistinguishedFolderId Id="inbox"/><t:Updates/></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#.to_owned(),
            |e| matches!(e, E::MissingElement { name: "SetFolderField", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "UpdateFolder without a folder",
            String::new(),
            r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:Updates><t:DeleteFolderField><t:FieldURI FieldURI="folder:FolderClass"/></t:DeleteFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#.to_owned(),
            |e| matches!(e, E::MissingElement { name: "FolderId", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "ResolveNames without an entry",
            String::new(),
            r#"<m:ResolveNames ReturnFullContactData="false"><m:UnresolvedEntry> </m:UnresolvedEntry></m:ResolveNames>"#.to_owned(),
            |e| matches!(e, E::MissingElement { name: "UnresolvedEntry", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "ResolveNames without ReturnFullContactData",
            String::new(),
            r#"<m:ResolveNames><m:UnresolvedEntry>bob</m:UnresolvedEntry></m:ResolveNames>"#.to_owned(),
            |e| matches!(e, E::MissingAttribute { name: "ReturnFullContactData", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "ResolveNames with an unknown scope",
            String::new(),
            r#"<m:ResolveNames ReturnFullContactData="false" SearchScope="Everywhere"><m:UnresolvedEntry>bob</m:UnresolvedEntry></m:ResolveNames>"#.to_owned(),
            |e| matches!(e, E::InvalidValue { .. }),
            "ErrorSchemaValidation",
        ),
        (
            "ResolveNames with a contact data shape",
            String::new(),
            r#"<m:ResolveNames ReturnFullContactData="true" ContactDataShape="AllProperties"><m:UnresolvedEntry>bob</m:UnresolvedEntry></m:ResolveNames>"#.to_owned(),
            |e| matches!(e, E::Unsupported { found, .. } if found.ends_with("@ContactDataShape")),
            "ErrorInvalidOperation",
        ),
        (
            "an attached item of a kind this server does not keep",
            String::new(),
            create("<t:Message><t:Attachments><t:FileAttachment><t:Content>AA==</t:Content></t:FileAttachment><t:ItemAttachment><t:Name>fwd</t:Name><t:PostItem/></t:ItemAttachment></t:Attachments></t:Message>"),
            |e| matches!(e, E::Unsupported { found, .. } if found.starts_with("t:PostItem") && found.contains("t:DistributionList")),
            "ErrorInvalidOperation",
        ),
        (
            "an item attachment with two items",
            String::new(),
            create("<t:Message><t:Attachments><t:ItemAttachment><t:Message/><t:Message/></t:ItemAttachment></t:Attachments></t:Message>"),
            |e| matches!(e, E::DuplicateElement { .. }),
            "ErrorSchemaValidation",
        ),
        (
            "a response object is no attached item",
            String::new(),
            create("<t:Message><t:Attachments><t:ItemAttachment><t:AcceptItem/></t:ItemAttachment></t:Attachments></t:Message>"),
            |e| matches!(e, E::UnexpectedElement { .. }),
            "ErrorSchemaValidation",
        ),
        (
            "a reference attachment is not supported",
            String::new(),
            r#"<m:CreateAttachment><m:ParentItemId Id="I1"/><m:Attachments><t:ReferenceAttachment><t:Name>doc</t:Name></t:ReferenceAttachment></m:Attachments></m:CreateAttachment>"#.to_owned(),
            |e| matches!(e, E::Unsupported { found, .. } if found.starts_with("t:ReferenceAttachment")),
            "ErrorInvalidOperation",
        ),
        (
            "MIME content that is not base64",
            String::new(),
            create("<t:Message><t:MimeContent>not*base64</t:MimeContent></t:Message>"),
            |e| matches!(e, E::InvalidBase64 { element: "t:MimeContent", .. }),
            "ErrorMimeContentInvalidBase64String",
        ),
        (
            "two t:MimeContent in one item",
            String::new(),
            create("<t:Message><t:MimeContent>AA==</t:MimeContent><t:MimeContent>AA==</t:MimeContent></t:Message>"),
            |e| matches!(e, E::DuplicateElement { parent, name, .. } if parent == "t:Message" && name == "t:MimeContent"),
            "ErrorSchemaValidation",
        ),
        (
            "two t:Attachments in one item",
            String::new(),
            create("<t:Message><t:Attachments><t:FileAttachment><t:Content>AA==</t:Content></t:FileAttachment></t:Attachments><t:Attachments/></t:Message>"),
            |e| matches!(e, E::DuplicateElement { parent, name, .. } if parent == "t:Message" && name == "t:Attachments"),
            "ErrorSchemaValidation",
        ),
        (
            "attachment content that is not base64",
            String::new(),
            create("<t:Message><t:Attachments><t:FileAttachment><t:Content>not base64!</t:Content></t:FileAttachment></t:Attachments></t:Message>"),
            |e| matches!(e, E::InvalidBase64 { element: "t:Content", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "a file attachment named twice",
            String::new(),
            create("<t:Message><t:Attachments><t:FileAttachment><t:Name>a</t:Name><t:Name>b</t:Name></t:FileAttachment></t:Attachments></t:Message>"),
            |e| matches!(e, E::DuplicateElement { parent, name, .. } if parent == "t:FileAttachment" && name == "t:Name"),
            "ErrorSchemaValidation",
        ),
        (
            "an unknown property of a file attachment",
            String::new(),
            create("<t:Message><t:Attachments><t:FileAttachment><t:Colour>red</t:Colour></t:FileAttachment></t:Attachments></t:Message>"),
            |e| matches!(e, E::UnexpectedElement { parent, found, .. } if parent == "t:FileAttachment" && found == "t:Colour"),
            "ErrorSchemaValidation",
        ),
        (
            "IsInline that is not a boolean",
            String::new(),
            create("<t:Message><t:Attachments><t:FileAttachment><t:IsInline>perhaps</t:IsInline></t:FileAttachment></t:Attachments></t:Message>"),
            |e| matches!(e, E::InvalidValue { context, .. } if context == "t:IsInline"),
            "ErrorSchemaValidation",
        ),
        (
            "CreateAttachment without attachments",
            String::new(),
            r#"<m:CreateAttachment><m:ParentItemId Id="I1"/><m:Attachments/></m:CreateAttachment>"#.to_owned(),
            |e| matches!(e, E::MissingElement { parent, name: "FileAttachment", .. } if parent == "m:Attachments"),
            "ErrorSchemaValidation",
        ),
        (
            "CreateAttachment without its item",
            String::new(),
            r#"<m:CreateAttachment><m:Attachments><t:FileAttachment><t:Content>AA==</t:Content></t:FileAttachment></m:Attachments></m:CreateAttachment>"#.to_owned(),
            |e| matches!(e, E::MissingElement { name: "ParentItemId", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "CreateAttachment with an empty item id",
            String::new(),
            r#"<m:CreateAttachment><m:ParentItemId Id=""/><m:Attachments><t:FileAttachment><t:Content>AA==</t:Content></t:FileAttachment></m:Attachments></m:CreateAttachment>"#.to_owned(),
            |e| matches!(e, E::EmptyId { element, .. } if element == "m:ParentItemId"),
            "ErrorInvalidIdMalformed",
        ),
        (
            "GetAttachment without ids",
            String::new(),
            "<m:GetAttachment><m:AttachmentIds/></m:GetAttachment>".to_owned(),
            |e| matches!(e, E::MissingElement { parent, name: "AttachmentId", .. } if parent == "m:AttachmentIds"),
            "ErrorSchemaValidation",
        ),
        (
            "GetAttachment with an empty id",
            String::new(),
            r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id=""/></m:AttachmentIds></m:GetAttachment>"#.to_owned(),
            |e| matches!(e, E::EmptyId { element, .. } if element == "t:AttachmentId"),
            "ErrorInvalidIdMalformed",
        ),
        (
            "GetAttachment with a body type that is none",
            String::new(),
            r#"<m:GetAttachment><m:AttachmentShape><t:BodyType>Markdown</t:BodyType></m:AttachmentShape><m:AttachmentIds><t:AttachmentId Id="A1"/></m:AttachmentIds></m:GetAttachment>"#.to_owned(),
            |e| matches!(e, E::InvalidValue { context, .. } if context == "t:BodyType"),
            "ErrorSchemaValidation",
        ),
        (
            "DeleteAttachment naming an item",
            String::new(),
            r#"<m:DeleteAttachment><m:AttachmentIds><t:ItemId Id="I1"/></m:AttachmentIds></m:DeleteAttachment>"#.to_owned(),
            |e| matches!(e, E::UnexpectedElement { parent, found, .. } if parent == "m:AttachmentIds" && found == "t:ItemId"),
            "ErrorSchemaValidation",
        ),
        (
            "foreign element inside t:Message",
            String::new(),
            create(r#"<t:Message><x:Subject xmlns:x="urn:x">hi</x:Subject></t:Message>"#),
            |e| matches!(e, E::UnexpectedElement { parent, found, .. } if parent == "t:Message" && found == "{urn:x}Subject"),
            "ErrorSchemaValidation",
        ),
        (
            "duplicate t:Subject",
            String::new(),
            create("<t:Message><t:Subject>a</t:Subject><t:Subject>b</t:Subject></t:Message>"),
            |e| matches!(e, E::DuplicateElement { parent, name, .. } if parent == "t:Message" && name == "t:Subject"),
            "ErrorSchemaValidation",
        ),
        (
            "IsRead that is not a boolean",
            String::new(),
            create("<t:Message><t:IsRead>yes</t:IsRead></t:Message>"),
            |e| matches!(e, E::InvalidValue { context, value, .. } if context == "t:IsRead" && value == "yes"),
            "ErrorSchemaValidation",
        ),
        (
            "Body without BodyType",
            String::new(),
            create("<t:Message><t:Body>x</t:Body></t:Message>"),
            |e| matches!(e, E::MissingAttribute { name: "BodyType", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "empty m:Items",
            String::new(),
            create(""),
            |e| matches!(e, E::MissingElement { parent, .. } if parent == "m:Items"),
            "ErrorSchemaValidation",
        ),
        (
            "ExtendedFieldURI without PropertyType",
            String::new(),
            create(r#"<t:Message><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x7c09"/><t:Value>AQ==</t:Value></t:ExtendedProperty></t:Message>"#),
            |e| matches!(e, E::MissingAttribute { name: "PropertyType", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "ExtendedProperty without a value",
            String::new(),
            create(r#"<t:Message><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x7c09" PropertyType="Binary"/></t:ExtendedProperty></t:Message>"#),
            |e| matches!(e, E::MissingElement { name: "Value", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "unknown UserConfigurationProperties value",
            String::new(),
            r#"<m:GetUserConfiguration><m:UserConfigurationName Name="c"><t:DistinguishedFolderId Id="root"/></m:UserConfigurationName><m:UserConfigurationProperties>Id Everything</m:UserConfigurationProperties></m:GetUserConfiguration>"#.to_owned(),
            |e| matches!(e, E::InvalidValue { value, .. } if value == "Everything"),
            "ErrorSchemaValidation",
        ),
        (
            "user configuration name without a folder",
            String::new(),
            r#"<m:DeleteUserConfiguration><m:UserConfigurationName Name="c"/></m:DeleteUserConfiguration>"#.to_owned(),
            |e| matches!(e, E::MissingElement { name: "FolderId", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "push subscription without URL",
            String::new(),
            r#"<m:Subscribe><m:PushSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes><t:StatusFrequency>5</t:StatusFrequency></m:PushSubscriptionRequest></m:Subscribe>"#.to_owned(),
            |e| matches!(e, E::MissingElement { name: "URL", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "status frequency out of range",
            String::new(),
            r#"<m:Subscribe><m:PushSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes><t:StatusFrequency>0</t:StatusFrequency><t:URL>https://x.example/</t:URL></m:PushSubscriptionRequest></m:Subscribe>"#.to_owned(),
            |e| matches!(e, E::InvalidValue { context, .. } if context == "t:StatusFrequency"),
            "ErrorSchemaValidation",
        ),
        (
            "unknown event type",
            String::new(),
            r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>ReadEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#.to_owned(),
            |e| matches!(e, E::InvalidValue { value, .. } if value == "ReadEvent"),
            "ErrorSchemaValidation",
        ),
        (
            "unknown photo size",
            String::new(),
            "<m:GetUserPhoto><m:Email>a@b.example</m:Email><m:SizeRequested>HR1x1</m:SizeRequested></m:GetUserPhoto>".to_owned(),
            |e| matches!(e, E::InvalidValue { value, .. } if value == "HR1x1"),
            "ErrorSchemaValidation",
        ),
        (
            "unknown ConvertId destination format",
            String::new(),
            r#"<m:ConvertId DestinationFormat="Base64"><m:SourceIds><t:AlternateId Id="a" Format="EwsId" Mailbox="a@b.example"/></m:SourceIds></m:ConvertId>"#.to_owned(),
            |e| matches!(e, E::InvalidValue { value, .. } if value == "Base64"),
            "ErrorSchemaValidation",
        ),
        (
            "restriction with two expressions",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}<m:Restriction><t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists><t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists></m:Restriction>{PARENT}</m:FindItem>"#),
            |e| matches!(e, E::DuplicateElement { parent, .. } if parent == "m:Restriction"),
            "ErrorSchemaValidation",
        ),
        (
            "unknown search expression",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}<m:Restriction><t:Matches/></m:Restriction>{PARENT}</m:FindItem>"#),
            |e| matches!(e, E::UnexpectedElement { found, .. } if found == "t:Matches"),
            "ErrorSchemaValidation",
        ),
        (
            "comparison without FieldURIOrConstant",
            String::new(),
            format!(r#"<m:FindItem Traversal="Shallow">{SHAPE}<m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="item:Subject"/></t:IsEqualTo></m:Restriction>{PARENT}</m:FindItem>"#),
            |e| matches!(e, E::MissingElement { name: "FieldURIOrConstant", .. }),
            "ErrorSchemaValidation",
        ),
        (
            "impersonation without a user",
            r#"<t:ExchangeImpersonation><t:ConnectingSID/></t:ExchangeImpersonation>"#.to_owned(),
            "<m:Foo/>".to_owned(),
            |e| matches!(e, E::MissingElement { parent, .. } if parent == "t:ConnectingSID"),
            "ErrorSchemaValidation",
        ),
        (
            "impersonation with an unknown id kind",
            r#"<t:ExchangeImpersonation><t:ConnectingSID><t:Upn>a@b</t:Upn></t:ConnectingSID></t:ExchangeImpersonation>"#.to_owned(),
            "<m:Foo/>".to_owned(),
            |e| matches!(e, E::UnexpectedElement { found, .. } if found == "t:Upn"),
            "ErrorSchemaValidation",
        ),
        (
            "RequestServerVersion without Version",
            r#"<t:RequestServerVersion/>"#.to_owned(),
            "<m:Foo/>".to_owned(),
            |e| matches!(e, E::MissingAttribute { name: "Version", .. }),
            "ErrorSchemaValidation",
        ),
    ];
    let mut failures = Vec::new();
    for (name, header, body, check, code) in &cases {
        match run(header, body) {
            Ok(r) => failures.push(format!("{name}: accepted as {:?}", r.operation)),
            Err(e) => {
                if !check(&e) {
                    failures.push(format!("{name}: wrong error {e:?}"));
                } else if e.response_code() != *code {
                    failures.push(format!(
                        "{name}: code {} instead of {code}",
                        e.response_code()
                    ));
                } else if e.position().is_none() && !matches!(e, E::UnsupportedServerVersion { .. })
                {
                    failures.push(format!("{name}: no position for {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn accepted_headers_and_operations() {
    let r = run(
        r#"<t:RequestServerVersion Version="V2017_07_11"/><t:TimeZoneContext><t:TimeZoneDefinition Id="W. Europe Standard Time"/></t:TimeZoneContext><t:MailboxCulture>de-DE</t:MailboxCulture><t:DateTimePrecision>Milliseconds</t:DateTimePrecision><t:ExchangeImpersonation><t:ConnectingSID><t:SID>S-1-5-21-1</t:SID></t:ConnectingSID></t:ExchangeImpersonation>"#,
        "<m:GetServiceConfiguration/>",
    )
    .expect("accepted");
    assert_eq!(
        r.server_version,
        Some(ews_proto::types::ServerVersion::V2017_07_11)
    );
    assert_eq!(
        r.impersonation,
        Some(ews_proto::request::ImpersonatedUser::Sid(
            "S-1-5-21-1".to_owned()
        ))
    );
    assert_eq!(
        r.operation,
        Operation::Unknown {
            local: "GetServiceConfiguration".to_owned()
        }
    );

    let r = run(
        "",
        r#"<m:Subscribe><m:StreamingSubscriptionRequest SubscribeToAllFolders="true"><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>"#,
    )
    .expect("accepted");
    let Operation::Subscribe(Subscription::Streaming { common }) = r.operation else {
        panic!("not streaming")
    };
    assert!(common.subscribe_to_all_folders);
    assert!(common.folder_ids.is_empty());

    let r = run(
        "",
        "<m:GetUserPhoto><m:Email>bob@contoso.example</m:Email><m:SizeRequested>HR648x648</m:SizeRequested></m:GetUserPhoto>",
    )
    .expect("accepted");
    assert_eq!(
        r.operation,
        Operation::GetUserPhoto(ews_proto::request::GetUserPhoto {
            email: "bob@contoso.example".to_owned(),
            size_requested: ews_proto::request::PhotoSize::Hr648x648,
        })
    );
}

#[test]
fn body_with_mixed_content_keeps_the_raw_markup() {
    let r = run(
        "",
        &create(r#"<t:Message><t:Body BodyType="HTML"><p>a <b>bold</b> &amp; <i x="1">it</i></p></t:Body></t:Message>"#),
    )
    .expect("accepted");
    let Operation::CreateItem(c) = r.operation else {
        panic!("not CreateItem")
    };
    let body = c.items[0].fields().body.as_ref().expect("body");
    assert_eq!(
        body.content,
        r#"<p>a <b>bold</b> &amp; <i x="1">it</i></p>"#
    );
}

#[test]
fn long_values_are_not_echoed_in_full() {
    let long = "A".repeat(100_000);
    let e = run(
        &format!(r#"<t:RequestServerVersion Version="{long}"/>"#),
        "<m:Foo/>",
    )
    .expect_err("rejected");
    assert!(matches!(&e, E::UnsupportedServerVersion { version } if version.chars().count() <= 81));
    assert!(e.to_string().len() < 300);
}

fn sync_items(inner: &str) -> String {
    format!("<m:SyncFolderItems>{inner}</m:SyncFolderItems>")
}

const SYNC_FOLDER: &str =
    r#"<m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId>"#;

/// SyncFolderItems and SyncFolderHierarchy: what the schema refuses, refused by name, with
/// ErrorSchemaValidation (MaxChangesReturned out of 1..=512 included, as Exchange answers it).
#[test]
fn sync_requests_are_refused_precisely() {
    let max = |v: &str| {
        sync_items(&format!(
            "{SHAPE}{SYNC_FOLDER}<m:MaxChangesReturned>{v}</m:MaxChangesReturned>"
        ))
    };
    let cases: Vec<(&str, String, Check)> = vec![
        (
            "MaxChangesReturned 0",
            max("0"),
            |e| matches!(e, E::InvalidValue { context, value, expected, .. } if context == "m:MaxChangesReturned" && value == "0" && expected == "an integer from 1 to 512"),
        ),
        (
            "MaxChangesReturned 513",
            max("513"),
            |e| matches!(e, E::InvalidValue { value, expected, .. } if value == "513" && expected.contains("1 to 512")),
        ),
        (
            "MaxChangesReturned negative",
            max("-1"),
            |e| matches!(e, E::InvalidValue { value, .. } if value == "-1"),
        ),
        (
            "MaxChangesReturned not a number",
            max("ten"),
            |e| matches!(e, E::InvalidValue { value, .. } if value == "ten"),
        ),
        (
            "MaxChangesReturned missing",
            sync_items(&format!("{SHAPE}{SYNC_FOLDER}")),
            |e| matches!(e, E::MissingElement { name: "MaxChangesReturned", parent, .. } if parent == "m:SyncFolderItems"),
        ),
        (
            "SyncFolderId missing",
            sync_items(&format!("{SHAPE}<m:MaxChangesReturned>5</m:MaxChangesReturned>")),
            |e| matches!(e, E::MissingElement { name: "SyncFolderId", .. }),
        ),
        (
            "ItemShape missing",
            sync_items(&format!("{SYNC_FOLDER}<m:MaxChangesReturned>5</m:MaxChangesReturned>")),
            |e| matches!(e, E::MissingElement { name: "ItemShape", .. }),
        ),
        (
            "two folders to sync",
            sync_items(&format!(r#"{SHAPE}<m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="drafts"/></m:SyncFolderId><m:MaxChangesReturned>5</m:MaxChangesReturned>"#)),
            |e| matches!(e, E::DuplicateElement { parent, .. } if parent == "m:SyncFolderId"),
        ),
        (
            "unknown SyncScope",
            sync_items(&format!("{SHAPE}{SYNC_FOLDER}<m:MaxChangesReturned>5</m:MaxChangesReturned><m:SyncScope>AllItems</m:SyncScope>")),
            |e| matches!(e, E::InvalidValue { context, value, expected, .. } if context == "m:SyncScope" && value == "AllItems" && expected.contains("NormalAndAssociatedItems")),
        ),
        (
            "two sync states",
            sync_items(&format!("{SHAPE}{SYNC_FOLDER}<m:SyncState>a</m:SyncState><m:SyncState>b</m:SyncState><m:MaxChangesReturned>5</m:MaxChangesReturned>")),
            |e| matches!(e, E::DuplicateElement { name, .. } if name == "m:SyncState"),
        ),
        (
            "empty Ignore",
            sync_items(&format!("{SHAPE}{SYNC_FOLDER}<m:Ignore/><m:MaxChangesReturned>5</m:MaxChangesReturned>")),
            |e| matches!(e, E::MissingElement { name: "ItemId", parent, .. } if parent == "m:Ignore"),
        ),
        (
            "a folder id to ignore",
            sync_items(&format!(r#"{SHAPE}{SYNC_FOLDER}<m:Ignore><t:FolderId Id="F"/></m:Ignore><m:MaxChangesReturned>5</m:MaxChangesReturned>"#)),
            |e| matches!(e, E::UnexpectedElement { found, .. } if found == "t:FolderId"),
        ),
        (
            "an element SyncFolderItems does not have",
            sync_items(&format!("{SHAPE}{SYNC_FOLDER}<m:MaxChangesReturned>5</m:MaxChangesReturned><m:Traversal>Deep</m:Traversal>")),
            |e| matches!(e, E::UnexpectedElement { found, .. } if found == "m:Traversal"),
        ),
        (
            "hierarchy without FolderShape",
            "<m:SyncFolderHierarchy><m:SyncState>x</m:SyncState></m:SyncFolderHierarchy>".to_owned(),
            |e| matches!(e, E::MissingElement { name: "FolderShape", .. }),
        ),
        (
            "hierarchy with MaxChangesReturned",
            "<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:MaxChangesReturned>5</m:MaxChangesReturned></m:SyncFolderHierarchy>".to_owned(),
            |e| matches!(e, E::UnexpectedElement { found, .. } if found == "m:MaxChangesReturned"),
        ),
        (
            "hierarchy with an empty SyncFolderId",
            "<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:SyncFolderId/></m:SyncFolderHierarchy>".to_owned(),
            |e| matches!(e, E::MissingElement { name: "FolderId", .. }),
        ),
    ];
    let mut failures = Vec::new();
    for (name, body, check) in &cases {
        match run("", body) {
            Ok(r) => failures.push(format!("{name}: accepted as {:?}", r.operation)),
            Err(e) if !check(&e) => failures.push(format!("{name}: wrong error {e:?}")),
            Err(e) if e.response_code() != "ErrorSchemaValidation" => {
                failures.push(format!("{name}: code {}", e.response_code()))
            }
            Err(e) => assert!(e.position().is_some(), "{name}: no position"),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the bounds themselves are accepted; an empty SyncState is a first sync
    for v in ["1", "512", " 7 "] {
        let body = sync_items(&format!(
            "{SHAPE}{SYNC_FOLDER}<m:SyncState>  </m:SyncState><m:MaxChangesReturned>{v}</m:MaxChangesReturned>"
        ));
        let r = run("", &body).unwrap_or_else(|e| panic!("{v}: {e}"));
        let Operation::SyncFolderItems(s) = r.operation else {
            panic!("not SyncFolderItems")
        };
        assert_eq!(s.max_changes_returned, v.trim().parse::<u32>().unwrap());
        assert_eq!(s.sync_state, None);
    }
}
