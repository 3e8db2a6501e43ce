//! A small EWS client for the lab's own checks (what Skype Online sends): SOAP requests built
//! with escaping, responses read by namespace with ews-proto's reader.

use crate::{LabError, Result};
use quick_xml::escape::escape;

pub struct Ews {
    http: reqwest::Client,
    url: String,
    token: String,
}

const ENV_START: &str = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2013_SP1"/></s:Header><s:Body>"#;
const ENV_END: &str = "</s:Body></s:Envelope>";

/// One EWS response message: class, code, and the raw body for further reading.
#[derive(Debug)]
pub struct Reply {
    pub code: String,
    pub body: String,
}

impl Ews {
    /// With a given HTTP client (the lab's, which trusts its CA under `up --tls`).
    pub fn with_client(exchange_url: &str, token: String, http: reqwest::Client) -> Self {
        let mut e = Self::new(exchange_url, token);
        e.http = http;
        e
    }

    pub fn new(exchange_url: &str, token: String) -> Self {
        Ews {
            http: reqwest::Client::new(),
            url: format!("{exchange_url}/EWS/Exchange.asmx"),
            token,
        }
    }

    pub async fn call(&self, body: &str) -> Result<Reply> {
        let r = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("content-type", "text/xml; charset=utf-8")
            .body(format!("{ENV_START}{body}{ENV_END}"))
            .send()
            .await
            .map_err(LabError::http(&self.url))?;
        let status = r.status();
        let diag = r
            .headers()
            .get("x-ms-diagnostics")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = r.text().await.map_err(LabError::http(&self.url))?;
        if status.as_u16() == 401 {
            return Err(LabError::Refused {
                what: "Exchange (401)".into(),
                message: diag.unwrap_or(text),
            });
        }
        let code = text
            .split("<m:ResponseCode>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or(if status.is_success() {
                "NoError"
            } else {
                "HTTP error"
            })
            .to_owned();
        Ok(Reply { code, body: text })
    }

    pub async fn create_message(
        &self,
        folder: &str,
        class: &str,
        subject: &str,
        html: &str,
        imid: &str,
    ) -> Result<Reply> {
        self.call(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SavedItemFolderId><m:Items><t:Message><t:ItemClass>{}</t:ItemClass><t:Subject>{}</t:Subject><t:Body BodyType="HTML">{}</t:Body><t:InternetMessageId>{}</t:InternetMessageId></t:Message></m:Items></m:CreateItem>"#,
            escape(class),
            escape(subject),
            escape(html),
            escape(imid)
        ))
        .await
    }

    pub async fn find_items(&self, folder: &str, associated: bool) -> Result<Reply> {
        self.call(&format!(
            r#"<m:FindItem Traversal="{}"><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="100" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#,
            if associated { "Associated" } else { "Shallow" }
        ))
        .await
    }

    pub async fn put_greeting(&self, name: &str, wav: &[u8]) -> Result<Reply> {
        let r = self.call(&user_config_op(name, false, wav)).await?;
        if r.code == "ErrorItemNotFound" {
            return self.call(&user_config_op(name, true, wav)).await;
        }
        Ok(r)
    }

    pub async fn get_greeting(&self, name: &str) -> Result<Reply> {
        self.call(&format!(
            r#"<m:GetUserConfiguration><m:UserConfigurationName Name="{}"><t:DistinguishedFolderId Id="root"/></m:UserConfigurationName><m:UserConfigurationProperties>All</m:UserConfigurationProperties></m:GetUserConfiguration>"#,
            escape(name)
        ))
        .await
    }
}

/// A valid 8 kHz mono 16-bit PCM RIFF/WAVE file of `ms` milliseconds of a 440 Hz tone.
pub fn tone_wav(ms: u32) -> Vec<u8> {
    let rate = 8000u32;
    let n = rate * ms / 1000;
    let mut data = Vec::with_capacity(n as usize * 2);
    for i in 0..n {
        let s =
            ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / rate as f64).sin() * 8000.0) as i16;
        data.extend_from_slice(&s.to_le_bytes());
    }
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}

/// The EWS body that creates (or, with `create` false, replaces) the root folder's user
/// configuration `name` with `data` as its binary stream (a voicemail greeting, say).
pub fn user_config_op(name: &str, create: bool, data: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let op = if create {
        "CreateUserConfiguration"
    } else {
        "UpdateUserConfiguration"
    };
    format!(
        r#"<m:{op}><m:UserConfiguration><t:UserConfigurationName Name="{}"><t:DistinguishedFolderId Id="root"/></t:UserConfigurationName><t:BinaryData>{b64}</t:BinaryData></m:UserConfiguration></m:{op}>"#,
        escape(name)
    )
}
