//! A typed client of the Skype service's API, for the CLI (`openhybrid skype <Cmdlet>`), the lab
//! and tests.

use std::path::Path;

use serde_json::{Value, json};

use crate::error::SkypeError;
use crate::tokens::{read_capped, unreachable};

/// The service's API with its admin credential.
#[derive(Clone)]
pub struct SkypeAdmin {
    http: reqwest::Client,
    url: String,
    credential: String,
}

impl std::fmt::Debug for SkypeAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkypeAdmin")
            .field("url", &self.url)
            .finish()
    }
}

fn path_sip(sip: &str) -> String {
    let s = sip.trim();
    let s = match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("sip:") => &s[4..],
        _ => s,
    };
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "@.-_+'".contains(*c))
        .collect()
}

impl SkypeAdmin {
    /// With a given HTTP client (e.g. one trusting the lab's CA).
    pub fn with_http(url: &str, credential: &str, http: reqwest::Client) -> Self {
        let mut c = Self::new(url, credential);
        c.http = http;
        c
    }

    pub fn new(url: &str, credential: &str) -> Self {
        SkypeAdmin {
            http: reqwest::Client::new(),
            url: url.trim_end_matches('/').to_owned(),
            credential: credential.trim().to_owned(),
        }
    }

    /// With the credential read from the service's `admin-credential` file.
    pub fn from_credential_file(url: &str, path: &Path) -> Result<Self, SkypeError> {
        let c = std::fs::read_to_string(path).map_err(SkypeError::io(path))?;
        Ok(Self::new(url, &c))
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(u16, Vec<u8>), SkypeError> {
        let r = req
            .bearer_auth(&self.credential)
            .send()
            .await
            .map_err(|e| unreachable(url, e))?;
        let status = r.status().as_u16();
        let body = read_capped(r, 32 << 20, url).await?;
        if !(200..300).contains(&status) {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            let detail = v["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(500).collect());
            return Err(SkypeError::HttpStatus {
                url: url.to_owned(),
                status,
                detail,
            });
        }
        Ok((status, body))
    }

    async fn json(&self, req: reqwest::RequestBuilder, url: &str) -> Result<Value, SkypeError> {
        let (status, body) = self.send(req, url).await?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).map_err(|e| SkypeError::HttpStatus {
            url: url.to_owned(),
            status,
            detail: format!("the answer is not JSON: {e}"),
        })
    }

    /// Runs a cmdlet; the error carries the server's message.
    pub async fn run(&self, cmdlet: &str, parameters: Value) -> Result<Vec<Value>, SkypeError> {
        let url = format!("{}/admin/powershell", self.url);
        let v = self
            .json(
                self.http
                    .post(&url)
                    .json(&json!({"cmdlet": cmdlet, "parameters": parameters})),
                &url,
            )
            .await?;
        Ok(v["output"].as_array().cloned().unwrap_or_default())
    }

    /// Uploads a greeting (`standard` or `extended-absence`).
    pub async fn put_greeting(
        &self,
        sip: &str,
        kind: &str,
        wav: Vec<u8>,
    ) -> Result<Value, SkypeError> {
        let url = format!("{}/users/{}/greetings/{kind}", self.url, path_sip(sip));
        self.json(
            self.http
                .post(&url)
                .header("content-type", "audio/wav")
                .body(wav),
            &url,
        )
        .await
    }

    pub async fn get_greeting(&self, sip: &str, kind: &str) -> Result<Vec<u8>, SkypeError> {
        let url = format!("{}/users/{}/greetings/{kind}", self.url, path_sip(sip));
        Ok(self.send(self.http.get(&url), &url).await?.1)
    }

    pub async fn delete_greeting(&self, sip: &str, kind: &str) -> Result<(), SkypeError> {
        let url = format!("{}/users/{}/greetings/{kind}", self.url, path_sip(sip));
        self.send(self.http.delete(&url), &url).await.map(|_| ())
    }

    /// `POST /conversations/end`.
    pub async fn end_conversation(&self, conversation: &Value) -> Result<Value, SkypeError> {
        let url = format!("{}/conversations/end", self.url);
        self.json(self.http.post(&url).json(conversation), &url)
            .await
    }

    /// The user's Conversation History as Exchange has it.
    pub async fn history(&self, sip: &str) -> Result<Vec<Value>, SkypeError> {
        let url = format!("{}/users/{}/history", self.url, path_sip(sip));
        let v = self.json(self.http.get(&url), &url).await?;
        Ok(v["items"].as_array().cloned().unwrap_or_default())
    }

    /// Presence, the calendar subscription and recent callbacks of a user.
    pub async fn presence(&self, sip: &str) -> Result<Value, SkypeError> {
        let url = format!("{}/users/{}/presence", self.url, path_sip(sip));
        self.json(self.http.get(&url), &url).await
    }
}
