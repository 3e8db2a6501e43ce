//! The EWS client Skype uses as a user (flow F1): SOAP requests built with escaping, responses
//! read by namespace with ews-proto's reader.

use ews_proto::ns;
use ews_proto::response::{ResponseMessage, item_from_element, parse_response_messages};
use ews_proto::types::format_xs_datetime;
use ews_proto::xml::{Element, Limits};
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Skype;
use crate::autodiscover::EwsUrl;
use crate::db::User;
use crate::error::SkypeError;
use crate::tokens::{MAX_RESPONSE_BYTES, Target, read_capped, unreachable};

pub use ews_proto::response::ItemView;

const ENV_START: &str = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2013_SP1"/></s:Header><s:Body>"#;
const ENV_END: &str = "</s:Body></s:Envelope>";

/// Whether XML 1.0 can carry `c` at all (its `Char` production; a character reference cannot
/// carry the others either). Rust strings never hold surrogates.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text or attribute content: `<`, `>`, `&`, `'`, `"` and `\r` escaped, and every character XML 1.0
/// cannot carry (C0 controls but tab, line feed and carriage return; U+FFFE, U+FFFF) replaced by
/// U+FFFD, so that no user-supplied string can make Exchange refuse the request
/// (`ErrorSchemaValidation`) and leave an outbox row that can never be delivered.
pub(crate) fn esc(s: &str) -> String {
    if s.chars().all(is_xml_char) {
        return escape(s).into_owned();
    }
    let clean: String = s
        .chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect();
    escape(&clean).into_owned()
}

/// The length in bytes of `esc(s)`, without building it.
pub(crate) fn esc_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '<' | '>' => 4,
            '&' | '\r' => 5,
            '\'' | '"' => 6,
            c if !is_xml_char(c) => '\u{FFFD}'.len_utf8(),
            c => c.len_utf8(),
        })
        .sum()
}

/// The largest EWS request body Exchange accepts (its `MAX_EWS_BODY`; larger ones are refused
/// before they are read).
pub const EXCHANGE_MAX_REQUEST_BYTES: usize = 16 << 20;

/// A participant as the item names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    pub address: String,
}

/// A `t:Message` Skype writes (history or archive); kept as JSON in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePayload {
    pub item_class: String,
    pub subject: String,
    pub html: String,
    pub from: Option<Party>,
    pub to: Vec<Party>,
    /// Unix seconds.
    pub sent: Option<i64>,
    pub internet_message_id: String,
}

fn mailbox_xml(p: &Party) -> String {
    format!(
        "<t:Mailbox><t:Name>{}</t:Name><t:EmailAddress>{}</t:EmailAddress></t:Mailbox>",
        esc(&p.name),
        esc(&p.address)
    )
}

impl MessagePayload {
    /// The `t:Message` element, children in schema order.
    pub fn to_xml(&self) -> String {
        let mut x = String::from("<t:Message>");
        x.push_str(&format!(
            "<t:ItemClass>{}</t:ItemClass>",
            esc(&self.item_class)
        ));
        x.push_str(&format!("<t:Subject>{}</t:Subject>", esc(&self.subject)));
        x.push_str(&format!(
            "<t:Body BodyType=\"HTML\">{}</t:Body>",
            esc(&self.html)
        ));
        if let Some(sent) = self
            .sent
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        {
            x.push_str(&format!(
                "<t:DateTimeSent>{}</t:DateTimeSent>",
                format_xs_datetime(sent)
            ));
        }
        // PR_MESSAGE_FLAGS (0x0E07) = MSGFLAG_READ: a record of a conversation that took place,
        // not a message waiting to be sent (without it Exchange keeps a saved message as a draft)
        x.push_str(
            r#"<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x0E07" PropertyType="Integer"/><t:Value>1</t:Value></t:ExtendedProperty>"#,
        );
        if !self.to.is_empty() {
            x.push_str("<t:ToRecipients>");
            for p in &self.to {
                x.push_str(&mailbox_xml(p));
            }
            x.push_str("</t:ToRecipients>");
        }
        if let Some(f) = &self.from {
            x.push_str(&format!("<t:From>{}</t:From>", mailbox_xml(f)));
        }
        x.push_str(&format!(
            "<t:InternetMessageId>{}</t:InternetMessageId>",
            esc(&self.internet_message_id)
        ));
        x.push_str("<t:IsRead>true</t:IsRead>");
        x.push_str("</t:Message>");
        x
    }
}

/// The body of the CreateItem request that writes `msg` into `folder`.
fn create_item_body(folder: &str, msg: &MessagePayload) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{}"/></m:SavedItemFolderId><m:Items>{}</m:Items></m:CreateItem>"#,
        esc(folder),
        msg.to_xml()
    )
}

/// The size in bytes of the whole SOAP request that writes `msg` into `folder` (what Exchange's
/// request limit applies to), without encoding the body (the transcript) a second time.
pub(crate) fn create_item_request_len(folder: &str, msg: &MessagePayload) -> usize {
    let rest = MessagePayload {
        item_class: msg.item_class.clone(),
        subject: msg.subject.clone(),
        html: String::new(),
        from: msg.from.clone(),
        to: msg.to.clone(),
        sent: msg.sent,
        internet_message_id: msg.internet_message_id.clone(),
    };
    ENV_START.len() + create_item_body(folder, &rest).len() + esc_len(&msg.html) + ENV_END.len()
}

fn items_of(m: &ResponseMessage, container: &str) -> Result<Vec<ItemView>, SkypeError> {
    let Some(items) = m.element.child(ns::MESSAGES, container).and_then(|r| {
        if container == "RootFolder" {
            r.child(ns::TYPES, "Items")
        } else {
            Some(r)
        }
    }) else {
        return Ok(Vec::new());
    };
    items
        .children
        .iter()
        .map(|e: &Element| item_from_element(e).map_err(SkypeError::from))
        .collect()
}

fn fail(op: &str, m: &ResponseMessage) -> SkypeError {
    SkypeError::Ews {
        operation: op.to_owned(),
        code: m.code.clone(),
        text: m
            .text
            .clone()
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect(),
    }
}

fn is_ok(m: &ResponseMessage) -> bool {
    m.code == "NoError"
}

/// What a 401 from Exchange said.
pub(crate) struct Refusal {
    /// The `x-ms-diagnostics` reason, else the start of the body.
    pub diagnostics: String,
    /// `WWW-Authenticate` says `invalid_token` (a fresh token may be accepted).
    pub invalid_token: bool,
}

/// Reads a 401 from Exchange (EWS or Autodiscover): its reason, and whether a fresh token may
/// help.
pub(crate) async fn refusal(r: reqwest::Response, url: &str) -> Refusal {
    let diagnostics = r
        .headers()
        .get("x-ms-diagnostics")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let invalid_token = r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("invalid_token"));
    let diagnostics = match diagnostics {
        Some(d) => d,
        None => {
            let text = read_capped(r, 64 << 10, url).await.unwrap_or_default();
            String::from_utf8_lossy(&text).chars().take(300).collect()
        }
    };
    Refusal {
        diagnostics,
        invalid_token,
    }
}

impl Skype {
    /// One EWS request as `user`, at the user's EWS URL (explicit, or discovered through
    /// Autodiscover). A 401 saying `invalid_token` is retried once with a fresh discovery and
    /// actor token; any other 401 is a refusal with Exchange's reason. A discovered URL that
    /// cannot be connected to is forgotten, so that the next call discovers it again.
    pub(crate) async fn ews_call(
        &self,
        user: &User,
        op: &str,
        body: &str,
    ) -> Result<Vec<ResponseMessage>, SkypeError> {
        let url = self.ews_url(user, false).await?;
        let t = self.target(url.url())?;
        let r = self.ews_call_at(&t, user, op, body).await;
        if let EwsUrl::Discovered { url, .. } = &url
            && let Err(SkypeError::Unreachable {
                url: at,
                connect: true,
                ..
            }) = &r
            && *at == t.connect
            && self.forget_ews_url(&user.sip_address)
        {
            tracing::info!(user = %user.sip_address, ews_url = %url, "the discovered EWS URL cannot be connected to; it will be discovered again");
        }
        r
    }

    pub(crate) async fn ews_call_at(
        &self,
        t: &Target,
        user: &User,
        op: &str,
        body: &str,
    ) -> Result<Vec<ResponseMessage>, SkypeError> {
        let envelope = format!("{ENV_START}{body}{ENV_END}");
        let mut fresh = false;
        loop {
            let (bearer, resource) = self.user_bearer(t, user, fresh).await?;
            let r = self
                .inner
                .http
                .post(&t.connect)
                .bearer_auth(bearer)
                .header("content-type", "text/xml; charset=utf-8")
                .header("x-anchormailbox", &user.primary_smtp_address)
                .body(envelope.clone())
                .send()
                .await
                .map_err(|e| unreachable(&t.connect, e))?;
            let status = r.status().as_u16();
            if status == 401 {
                let Refusal {
                    diagnostics,
                    invalid_token,
                } = refusal(r, &t.connect).await;
                if invalid_token && !fresh {
                    self.forget(t, &resource);
                    fresh = true;
                    continue;
                }
                return Err(SkypeError::ExchangeRefused {
                    diagnostics,
                    invalid_token,
                });
            }
            let bytes = read_capped(r, MAX_RESPONSE_BYTES, &t.connect).await?;
            return match status {
                200 => Ok(parse_response_messages(&bytes, &Limits::default())?),
                500 => match parse_response_messages(&bytes, &Limits::default()) {
                    Err(e) => Err(e.into()),
                    Ok(_) => Err(SkypeError::HttpStatus {
                        url: t.connect.clone(),
                        status,
                        detail: format!("{op} failed"),
                    }),
                },
                _ => Err(SkypeError::HttpStatus {
                    url: t.connect.clone(),
                    status,
                    detail: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                }),
            };
        }
    }

    async fn ews_one(
        &self,
        user: &User,
        op: &str,
        body: &str,
    ) -> Result<ResponseMessage, SkypeError> {
        self.ews_call(user, op, body)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| SkypeError::Ews {
                operation: op.to_owned(),
                code: "ErrorInvalidResponse".into(),
                text: "the response has no response message".into(),
            })
    }

    /// GetUserConfiguration `name` in the distinguished folder `folder`, reading `properties`
    /// (`All`, `XmlData`, ...): None when it does not exist.
    async fn user_config_in(
        &self,
        user: &User,
        folder: &str,
        name: &str,
        properties: &str,
    ) -> Result<Option<ews_proto::response::UserConfigurationView>, SkypeError> {
        let body = format!(
            r#"<m:GetUserConfiguration><m:UserConfigurationName Name="{}"><t:DistinguishedFolderId Id="{folder}"/></m:UserConfigurationName><m:UserConfigurationProperties>{properties}</m:UserConfigurationProperties></m:GetUserConfiguration>"#,
            esc(name)
        );
        let m = self.ews_one(user, "GetUserConfiguration", &body).await?;
        if m.code == "ErrorItemNotFound" {
            return Ok(None);
        }
        if !is_ok(&m) {
            return Err(fail("GetUserConfiguration", &m));
        }
        Ok(Some(ews_proto::response::user_configuration_from_message(
            &m,
        )?))
    }

    /// GetUserConfiguration `name` in `root`: the BinaryData, or None when it does not exist.
    pub(crate) async fn get_user_config(
        &self,
        user: &User,
        name: &str,
    ) -> Result<Option<Vec<u8>>, SkypeError> {
        Ok(self
            .user_config_in(user, "root", name, "All")
            .await?
            .map(|cfg| cfg.binary_data.unwrap_or_default()))
    }

    /// The user's working hours as Exchange keeps them (the `WorkHours` configuration in the
    /// Calendar folder, MS-OXOCFG's XML): None when the mailbox has none; an error when they
    /// cannot be read or are malformed.
    pub(crate) async fn work_hours(
        &self,
        user: &User,
    ) -> Result<Option<ews_proto::workhours::WorkHours>, SkypeError> {
        let cfg = self
            .user_config_in(
                user,
                "calendar",
                ews_proto::workhours::CONFIG_NAME,
                "XmlData",
            )
            .await?;
        match cfg {
            None => Ok(None),
            Some(cfg) => Ok(Some(ews_proto::workhours::WorkHours::parse(
                &cfg.xml_data.unwrap_or_default(),
            )?)),
        }
    }

    /// UpdateUserConfiguration, or CreateUserConfiguration when it does not exist yet.
    pub(crate) async fn put_user_config(
        &self,
        user: &User,
        name: &str,
        data: &[u8],
    ) -> Result<&'static str, SkypeError> {
        let cfg = format!(
            r#"<m:UserConfiguration><t:UserConfigurationName Name="{}"><t:DistinguishedFolderId Id="root"/></t:UserConfigurationName><t:BinaryData>{}</t:BinaryData></m:UserConfiguration>"#,
            esc(name),
            s2s_proto::b64::std_encode(data)
        );
        let m = self
            .ews_one(
                user,
                "UpdateUserConfiguration",
                &format!("<m:UpdateUserConfiguration>{cfg}</m:UpdateUserConfiguration>"),
            )
            .await?;
        if is_ok(&m) {
            return Ok("UpdateUserConfiguration");
        }
        if m.code != "ErrorItemNotFound" {
            return Err(fail("UpdateUserConfiguration", &m));
        }
        let m = self
            .ews_one(
                user,
                "CreateUserConfiguration",
                &format!("<m:CreateUserConfiguration>{cfg}</m:CreateUserConfiguration>"),
            )
            .await?;
        if is_ok(&m) {
            Ok("CreateUserConfiguration")
        } else {
            Err(fail("CreateUserConfiguration", &m))
        }
    }

    /// DeleteUserConfiguration; false when there was nothing to delete.
    pub(crate) async fn delete_user_config(
        &self,
        user: &User,
        name: &str,
    ) -> Result<bool, SkypeError> {
        let body = format!(
            r#"<m:DeleteUserConfiguration><m:UserConfigurationName Name="{}"><t:DistinguishedFolderId Id="root"/></m:UserConfigurationName></m:DeleteUserConfiguration>"#,
            esc(name)
        );
        let m = self.ews_one(user, "DeleteUserConfiguration", &body).await?;
        match m.code.as_str() {
            "NoError" => Ok(true),
            "ErrorItemNotFound" => Ok(false),
            _ => Err(fail("DeleteUserConfiguration", &m)),
        }
    }

    /// CreateItem (SaveOnly) of one message into a distinguished folder; the new item's id.
    pub(crate) async fn create_message(
        &self,
        user: &User,
        folder: &str,
        msg: &MessagePayload,
    ) -> Result<String, SkypeError> {
        let body = create_item_body(folder, msg);
        let m = self.ews_one(user, "CreateItem", &body).await?;
        if !is_ok(&m) {
            return Err(fail("CreateItem", &m));
        }
        Ok(items_of(&m, "Items")?
            .into_iter()
            .next()
            .map(|i| i.id)
            .unwrap_or_default())
    }

    /// FindItem with `IsEqualTo message:InternetMessageId`: the id of an item already there.
    pub(crate) async fn find_by_message_id(
        &self,
        user: &User,
        folder: &str,
        message_id: &str,
    ) -> Result<Option<String>, SkypeError> {
        let body = format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="2" Offset="0" BasePoint="Beginning"/><m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="message:InternetMessageId"/><t:FieldURIOrConstant><t:Constant Value="{}"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="{}"/></m:ParentFolderIds></m:FindItem>"#,
            esc(message_id),
            esc(folder)
        );
        let m = self.ews_one(user, "FindItem", &body).await?;
        if !is_ok(&m) {
            return Err(fail("FindItem", &m));
        }
        Ok(items_of(&m, "RootFolder")?.into_iter().next().map(|i| i.id))
    }

    /// FindItem (AllProperties) of the newest `max` items of a folder.
    pub(crate) async fn find_items(
        &self,
        user: &User,
        folder: &str,
        max: u32,
    ) -> Result<Vec<ItemView>, SkypeError> {
        let body = format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="{max}" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="{}"/></m:ParentFolderIds></m:FindItem>"#,
            esc(folder)
        );
        let m = self.ews_one(user, "FindItem", &body).await?;
        if !is_ok(&m) {
            return Err(fail("FindItem", &m));
        }
        items_of(&m, "RootFolder")
    }

    /// GetUserOofSettings for the user's own mailbox, as the user.
    pub(crate) async fn oof_settings(
        &self,
        user: &User,
    ) -> Result<ews_proto::oof::OofSettings, SkypeError> {
        let body = format!(
            "<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>{}</t:Address><t:RoutingType>SMTP</t:RoutingType></t:Mailbox></m:GetUserOofSettingsRequest>",
            esc(&user.primary_smtp_address)
        );
        let m = self.ews_one(user, "GetUserOofSettings", &body).await?;
        if !is_ok(&m) {
            return Err(fail("GetUserOofSettings", &m));
        }
        Ok(ews_proto::oof::oof_settings_of(&m.element)?)
    }

    /// FindItem with a CalendarView on the user's calendar.
    pub(crate) async fn calendar_view(
        &self,
        user: &User,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<Vec<ItemView>, SkypeError> {
        let body = format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="calendar:Start"/><t:FieldURI FieldURI="calendar:End"/><t:FieldURI FieldURI="calendar:LegacyFreeBusyStatus"/></t:AdditionalProperties></m:ItemShape><m:CalendarView MaxEntriesReturned="100" StartDate="{}" EndDate="{}"/><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>"#,
            format_xs_datetime(start),
            format_xs_datetime(end)
        );
        let m = self.ews_one(user, "FindItem", &body).await?;
        if !is_ok(&m) {
            return Err(fail("FindItem", &m));
        }
        items_of(&m, "RootFolder")
    }

    /// GetFolder of a distinguished folder (Test-OAuthConnectivity's call stage).
    pub(crate) async fn get_folder_at(
        &self,
        t: &Target,
        user: &User,
        folder: &str,
    ) -> Result<String, SkypeError> {
        let body = format!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="{}"/></m:FolderIds></m:GetFolder>"#,
            esc(folder)
        );
        let msgs = self.ews_call_at(t, user, "GetFolder", &body).await?;
        let m = msgs.first().ok_or_else(|| SkypeError::Ews {
            operation: "GetFolder".into(),
            code: "ErrorInvalidResponse".into(),
            text: "no response message".into(),
        })?;
        if !is_ok(m) {
            return Err(fail("GetFolder", m));
        }
        let name = m
            .element
            .child(ns::MESSAGES, "Folders")
            .and_then(|f| f.children.first())
            .and_then(|f| f.child(ns::TYPES, "DisplayName"))
            .map(|d| d.text.clone())
            .unwrap_or_default();
        Ok(name)
    }

    /// Subscribe (push) to the user's calendar; the subscription id.
    pub(crate) async fn subscribe_calendar(
        &self,
        user: &User,
        url: &str,
        status_frequency: u32,
    ) -> Result<String, SkypeError> {
        let body = format!(
            r#"<m:Subscribe><m:PushSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="calendar"/></t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType><t:EventType>DeletedEvent</t:EventType></t:EventTypes><t:StatusFrequency>{status_frequency}</t:StatusFrequency><t:URL>{}</t:URL></m:PushSubscriptionRequest></m:Subscribe>"#,
            esc(url)
        );
        let m = self.ews_one(user, "Subscribe", &body).await?;
        if !is_ok(&m) {
            return Err(fail("Subscribe", &m));
        }
        m.element
            .child(ns::MESSAGES, "SubscriptionId")
            .map(|s| s.text_trimmed().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SkypeError::Ews {
                operation: "Subscribe".into(),
                code: "ErrorInvalidResponse".into(),
                text: "the response carries no SubscriptionId".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_xml_escapes_everything() {
        let m = MessagePayload {
            item_class: "IPM.Note.Microsoft.Conversation".into(),
            subject: "a <b> & \"c\"".into(),
            html: "<p>&lt;script&gt;</p>".into(),
            from: Some(Party {
                name: "E<vil>".into(),
                address: "e@x".into(),
            }),
            to: vec![],
            sent: Some(1_700_000_000),
            internet_message_id: "<c.1.history@skype.openhybrid>".into(),
        };
        let x = m.to_xml();
        assert!(x.contains("a &lt;b&gt; &amp; &quot;c&quot;"), "{x}");
        assert!(
            x.contains("&lt;p&gt;&amp;lt;script&amp;gt;&lt;/p&gt;"),
            "{x}"
        );
        assert!(x.contains("E&lt;vil&gt;"));
        assert!(x.contains("&lt;c.1.history@skype.openhybrid&gt;"));
    }

    /// Regression: a message with U+0001 made a CreateItem Exchange refuses with
    /// ErrorSchemaValidation, so the outbox rows failed for good and the IM was never archived.
    #[test]
    fn characters_xml_cannot_carry_become_replacement_characters() {
        let bad: String = ('\u{0}'..='\u{1F}')
            .chain(['\u{7F}', '\u{85}', '\u{D7FF}', '\u{E000}', '\u{FFFD}'])
            .chain(['\u{FFFE}', '\u{FFFF}', '\u{10000}', '\u{10FFFF}'])
            .collect();
        let e = esc(&format!("a{bad}<&>"));
        let kept: Vec<char> = e.chars().filter(|c| *c != '\u{FFFD}').collect();
        assert!(kept.iter().all(|c| is_xml_char(*c)), "{e:?}");
        assert!(
            e.contains("&#13;"),
            "a carriage return is kept as a reference"
        );
        for c in [
            '\t',
            '\n',
            '\u{7F}',
            '\u{85}',
            '\u{D7FF}',
            '\u{E000}',
            '\u{10000}',
            '\u{10FFFF}',
        ] {
            assert!(e.contains(c), "{c:?} is allowed and kept");
        }
        // 29 C0 controls, U+FFFE, U+FFFF, and the U+FFFD that was there
        assert_eq!(e.chars().filter(|c| *c == '\u{FFFD}').count(), 32, "{e:?}");
        assert!(e.starts_with('a') && e.ends_with("&lt;&amp;&gt;"), "{e:?}");
        assert_eq!(esc_len(&format!("a{bad}<&>")), e.len());
        // the whole request is well-formed XML Exchange's reader takes, and carries U+FFFD
        let m = MessagePayload {
            item_class: "IPM.Note.Microsoft.Conversation".into(),
            subject: "s\u{1}".into(),
            html: format!(
                "<p>hi\u{1}\u{8}\u{B}\u{C}\u{1F}\u{FFFE}{}</p>",
                esc("x\u{2}<")
            ),
            from: Some(Party {
                name: "n\u{0}".into(),
                address: "a@x".into(),
            }),
            to: vec![],
            sent: None,
            internet_message_id: "<m\u{3}@x>".into(),
        };
        let req = format!(
            "{ENV_START}{}{ENV_END}",
            create_item_body("recoverableitemspurges", &m)
        );
        assert_eq!(
            req.len(),
            create_item_request_len("recoverableitemspurges", &m)
        );
        let ops = ews_proto::request::parse_request(req.as_bytes(), &Limits::default());
        assert!(ops.is_ok(), "{ops:?}");
        assert!(req.contains('\u{FFFD}'));
        assert!(!req.chars().any(|c| !is_xml_char(c)));
    }
}
