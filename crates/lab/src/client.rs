//! Thin HTTP clients for the lab's admin APIs and the Skype-side F1 token flow.

use crate::{LabError, Result};
use s2s_proto::principal::{EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::token::UserClaims;
use s2s_proto::{ClientAssertionSpec, OuterTokenSpec, PrincipalName};
use serde_json::{Value, json};

use crate::start::LabInfo;

pub struct ExchangeAdmin {
    http: reqwest::Client,
    url: String,
    cred: String,
}

impl ExchangeAdmin {
    pub fn new(lab: &LabInfo) -> Result<Self> {
        Ok(ExchangeAdmin {
            http: lab.http()?,
            url: lab.exchange_url.clone(),
            cred: lab.exchange_credential()?,
        })
    }

    /// Runs a cmdlet; the error carries the server's message.
    pub async fn run(&self, cmdlet: &str, params: Value) -> Result<Vec<Value>> {
        let r = self
            .http
            .post(format!("{}/admin/powershell", self.url))
            .bearer_auth(&self.cred)
            .json(&json!({"cmdlet": cmdlet, "parameters": params}))
            .send()
            .await
            .map_err(LabError::http(&self.url))?;
        let status = r.status();
        let v: Value = r.json().await.map_err(LabError::http(&self.url))?;
        if !status.is_success() {
            let msg = v["error"]["message"].as_str().unwrap_or("unknown error");
            // the server's message usually names the cmdlet already
            let msg = msg
                .strip_prefix(cmdlet)
                .and_then(|m| m.strip_prefix(": "))
                .unwrap_or(msg);
            return Err(LabError::Refused {
                what: cmdlet.to_owned(),
                message: msg.to_owned(),
            });
        }
        Ok(v["output"].as_array().cloned().unwrap_or_default())
    }

    pub async fn traffic(&self) -> Result<Vec<Value>> {
        let url = format!("{}/admin/traffic", self.url);
        let v: Value = self
            .http
            .get(&url)
            .bearer_auth(&self.cred)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(LabError::http(&url))?
            .json()
            .await
            .map_err(LabError::http(&url))?;
        Ok(v["output"].as_array().cloned().unwrap_or_default())
    }
}

pub struct StsAdmin {
    http: reqwest::Client,
    url: String,
    realm: String,
    cred: String,
}

impl StsAdmin {
    pub fn new(lab: &LabInfo) -> Result<Self> {
        Ok(StsAdmin {
            http: lab.http()?,
            url: lab.sts_url.clone(),
            realm: lab.realm.clone(),
            cred: lab.sts_credential()?,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<Value> {
        let r = req
            .bearer_auth(&self.cred)
            .send()
            .await
            .map_err(LabError::http(&self.url))?;
        let status = r.status();
        let text = r.text().await.map_err(LabError::http(&self.url))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let msg = v["error_description"]
                .as_str()
                .or(v["error"]["message"].as_str())
                .or(v["error"].as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            return Err(LabError::Refused {
                what: what.to_owned(),
                message: msg,
            });
        }
        Ok(v)
    }

    pub async fn get_service_principal(&self, by: &str, value: &str) -> Result<Value> {
        let req = self
            .http
            .get(format!(
                "{}/{}/msol/servicePrincipals",
                self.url, self.realm
            ))
            .query(&[(by, value)]);
        self.send(req, "Get-MsolServicePrincipal").await
    }

    pub async fn new_credential(&self, app: &str, body: Value) -> Result<Value> {
        let req = self
            .http
            .post(format!(
                "{}/{}/msol/servicePrincipals/{app}/credentials",
                self.url, self.realm
            ))
            .json(&body);
        self.send(req, "New-MsolServicePrincipalCredential").await
    }

    pub async fn get_credentials(&self, app: &str, return_values: bool) -> Result<Value> {
        let mut req = self.http.get(format!(
            "{}/{}/msol/servicePrincipals/{app}/credentials",
            self.url, self.realm
        ));
        if return_values {
            req = req.query(&[("ReturnKeyValues", "true")]);
        }
        self.send(req, "Get-MsolServicePrincipalCredential").await
    }

    pub async fn remove_credential(&self, app: &str, key_id: &str) -> Result<Value> {
        let req = self.http.delete(format!(
            "{}/{}/msol/servicePrincipals/{app}/credentials/{key_id}",
            self.url, self.realm
        ));
        self.send(req, "Remove-MsolServicePrincipalCredential")
            .await
    }

    pub async fn set_spns(&self, app: &str, spns: &[String]) -> Result<Value> {
        self.set_service_principal(app, json!({"ServicePrincipalNames": spns}))
            .await
    }

    /// Set-MsolServicePrincipal: `body` names the properties to change.
    pub async fn set_service_principal(&self, app: &str, body: Value) -> Result<Value> {
        let req = self
            .http
            .patch(format!(
                "{}/{}/msol/servicePrincipals/{app}",
                self.url, self.realm
            ))
            .json(&body);
        self.send(req, "Set-MsolServicePrincipal").await
    }
}

/// Skype's F1 token request (client credentials, a client assertion signed now with `key` and
/// living `lifetime` seconds, for Exchange's resource) as form fields.
pub fn f1_token_form(
    lab: &LabInfo,
    key: &s2s_proto::SigningKey,
    endpoint: &str,
    now: i64,
    lifetime: i64,
) -> Result<[(&'static str, String); 5]> {
    let client = PrincipalName::app(SKYPE_APP_ID, &lab.realm);
    let assertion = ClientAssertionSpec {
        client: client.clone(),
        audience: endpoint.to_owned(),
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        exp: now + lifetime,
    }
    .sign(key)?;
    let resource = PrincipalName::service(EXCHANGE_APP_ID, &lab.exchange_host, &lab.realm);
    Ok([
        ("grant_type", "client_credentials".to_owned()),
        ("client_id", client.to_string()),
        (
            "client_assertion_type",
            s2s_proto::wire::JWT_BEARER_ASSERTION.to_owned(),
        ),
        ("client_assertion", assertion),
        ("resource", resource.to_string()),
    ])
}

/// Mints a token exactly as Skype Online does in flow F1: a client assertion signed with Skype's
/// own key → an actor token from the STS for Exchange → an unsigned outer token naming the user.
pub async fn mint_f1(lab: &LabInfo, user: Option<&str>) -> Result<String> {
    let key = lab.skype_key()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let endpoint = format!("{}/{}/tokens/OAuth/2", lab.sts_url, lab.realm);
    let form = f1_token_form(lab, &key, &endpoint, now, 300)?;
    let r = lab
        .http()?
        .post(&endpoint)
        .form(&form)
        .send()
        .await
        .map_err(LabError::http(&endpoint))?;
    let status = r.status();
    let v: Value = r.json().await.map_err(LabError::http(&endpoint))?;
    if !status.is_success() {
        return Err(LabError::Refused {
            what: "the token endpoint".into(),
            message: v["error_description"]
                .as_str()
                .unwrap_or("unknown error")
                .to_owned(),
        });
    }
    let actor = v["access_token"]
        .as_str()
        .ok_or_else(|| LabError::Check("no access_token in the token response".into()))?
        .to_owned();
    let Some(user) = user else {
        return Ok(actor);
    };
    let actor_exp: i64 = v["expires_on"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(now + 3600);
    Ok(OuterTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, &lab.exchange_host, &lab.realm),
        iss: PrincipalName::app(SKYPE_APP_ID, &lab.realm),
        nbf: now,
        exp: actor_exp.min(now + 8 * 3600),
        user: UserClaims::cloud_user(user, &format!("{:016X}", fxhash(user))),
        actor_token: actor,
    }
    .encode())
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}
