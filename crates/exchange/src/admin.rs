//! The admin API: Exchange Management Shell cmdlets over HTTP. `POST /admin/powershell` with
//! `{"cmdlet": "New-MailUser", "parameters": {"Name": …}}` answers `{"output": [objects]}` with
//! the real cmdlets' field names, or `{"error": {"category", "message"}}`. Authenticated with
//! the admin credential written at first start.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use psh::bind::{BindRules, Params};

use crate::Exchange;
use crate::error::ExchangeError;
use crate::org::{AddressChange, NewGroup, NewRecipient, Org, ROLES};
use crate::trust::{self, NewAuthServer, PartnerParams, SetAuthConfig};

pub fn routes() -> axum::Router<Exchange> {
    axum::Router::new()
        .route("/admin/powershell", post(powershell))
        .route("/admin/traffic", get(traffic))
        .route("/admin/cmdlets", get(cmdlets))
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        .layer(axum::middleware::from_fn(store::net::loopback_only))
}

/// The cmdlets this server runs, with their parameters.
pub const CMDLETS: &[(&str, &[&str])] = &[
    ("Get-AcceptedDomain", &["Identity"]),
    ("New-AcceptedDomain", &["Name", "DomainName", "DomainType"]),
    (
        "New-Mailbox",
        &[
            "Name",
            "Alias",
            "PrimarySmtpAddress",
            "UserPrincipalName",
            "SipAddress",
            "DisplayName",
            "FirstName",
            "LastName",
            "Room",
            "Equipment",
            "EnableRoomMailboxAccount",
        ],
    ),
    ("Get-Mailbox", &["Identity", "RecipientTypeDetails"]),
    ("Get-CalendarProcessing", &["Identity"]),
    (
        "Set-CalendarProcessing",
        &[
            "Identity",
            "AutomateProcessing",
            "AllowConflicts",
            "BookingWindowInDays",
            "MaximumDurationInMinutes",
            "AllowRecurringMeetings",
        ],
    ),
    (
        "Set-Mailbox",
        &[
            "Identity",
            "AccountDisabled",
            "EmailAddresses",
            "PrimarySmtpAddress",
            "MailTip",
        ],
    ),
    (
        "New-MailUser",
        &[
            "Name",
            "ExternalEmailAddress",
            "Alias",
            "PrimarySmtpAddress",
            "DisplayName",
            "FirstName",
            "LastName",
        ],
    ),
    (
        "Set-MailUser",
        &[
            "Identity",
            "HiddenFromAddressListsEnabled",
            "EmailAddresses",
            "PrimarySmtpAddress",
            "MailTip",
        ],
    ),
    ("Get-MailUser", &["Identity"]),
    ("Get-Recipient", &["Identity"]),
    (
        "New-DistributionGroup",
        &[
            "Name",
            "Alias",
            "PrimarySmtpAddress",
            "Members",
            "Type",
            "RoomList",
        ],
    ),
    ("Get-DistributionGroup", &["Identity"]),
    (
        "Set-DistributionGroup",
        &[
            "Identity",
            "EmailAddresses",
            "PrimarySmtpAddress",
            "HiddenFromAddressListsEnabled",
            "MailTip",
        ],
    ),
    ("Remove-DistributionGroup", &["Identity", "Confirm"]),
    (
        "Add-DistributionGroupMember",
        &["Identity", "Member", "BypassSecurityGroupManagerCheck"],
    ),
    (
        "Remove-DistributionGroupMember",
        &[
            "Identity",
            "Member",
            "BypassSecurityGroupManagerCheck",
            "Confirm",
        ],
    ),
    ("Get-DistributionGroupMember", &["Identity"]),
    ("Get-ManagementRole", &["Identity"]),
    (
        "New-ManagementRoleAssignment",
        &["Role", "User", "Name", "CustomRecipientWriteScope"],
    ),
    (
        "New-ManagementScope",
        &["Name", "RecipientRestrictionFilter"],
    ),
    ("Get-ManagementScope", &["Identity"]),
    ("Remove-ManagementScope", &["Identity", "Confirm"]),
    (
        "Get-ManagementRoleAssignment",
        &["Identity", "Role", "RoleAssignee", "User"],
    ),
    ("Remove-ManagementRoleAssignment", &["Identity", "Confirm"]),
    ("Get-AuthConfig", &[]),
    (
        "Set-AuthConfig",
        &[
            "CertificateThumbprint",
            "SkipImmediateCertificateDeployment",
            "NewCertificateThumbprint",
            "NewCertificateEffectiveDate",
            "PublishCertificate",
            "ClearPreviousCertificate",
            "Realm",
            "ServiceName",
            "Force",
            "Confirm",
        ],
    ),
    (
        "New-ExchangeCertificate",
        &[
            "SubjectName",
            "FriendlyName",
            "Services",
            "KeySize",
            "PrivateKeyExportable",
            "DomainName",
            "Force",
        ],
    ),
    ("Get-ExchangeCertificate", &["Thumbprint", "Identity"]),
    ("Set-UserPhoto", &["Identity", "PictureData", "Confirm"]),
    ("Get-MailboxCalendarConfiguration", &["Identity"]),
    (
        "Set-MailboxCalendarConfiguration",
        &[
            "Identity",
            "WorkDays",
            "WorkingHoursStartTime",
            "WorkingHoursEndTime",
            "WorkingHoursTimeZone",
            "Confirm",
        ],
    ),
    ("Get-MailboxJunkEmailConfiguration", &["Identity"]),
    (
        "Set-MailboxJunkEmailConfiguration",
        &[
            "Identity",
            "Enabled",
            "BlockedSendersAndDomains",
            "TrustedSendersAndDomains",
        ],
    ),
    ("Get-MailboxAutoReplyConfiguration", &["Identity"]),
    (
        "Set-MailboxAutoReplyConfiguration",
        &[
            "Identity",
            "AutoReplyState",
            "ExternalAudience",
            "InternalMessage",
            "ExternalMessage",
            "StartTime",
            "EndTime",
        ],
    ),
    (
        "Test-OAuthConnectivity",
        &[
            "Service",
            "TargetUri",
            "Mailbox",
            "AppOnly",
            "Verbose",
            "ReloadConfig",
            "UseCachedToken",
        ],
    ),
    ("Get-EwsSubscription", &[]),
    ("Get-WebServicesVirtualDirectory", &["Identity", "Server"]),
    (
        "Set-WebServicesVirtualDirectory",
        &["Identity", "InternalUrl", "ExternalUrl", "Confirm"],
    ),
    (
        "Export-ExchangeCertificate",
        &["Thumbprint", "BinaryEncoded", "FileName"],
    ),
    (
        "New-AuthServer",
        &[
            "Name",
            "AuthMetadataUrl",
            "Type",
            "Enabled",
            "DomainName",
            "IsDefaultAuthorizationEndpoint",
            "TrustAnySSLCertificate",
        ],
    ),
    ("Get-AuthServer", &["Identity"]),
    (
        "Set-AuthServer",
        &[
            "Identity",
            "Enabled",
            "RefreshAuthMetadata",
            "AuthMetadataUrl",
            "IsDefaultAuthorizationEndpoint",
        ],
    ),
    ("Remove-AuthServer", &["Identity", "Confirm"]),
    (
        "New-PartnerApplication",
        &[
            "Name",
            "ApplicationIdentifier",
            "Realm",
            "AuthMetadataUrl",
            "Enabled",
            "LinkedAccount",
            "AcceptSecurityIdentifierInformation",
            "AccountType",
            "TrustAnySSLCertificate",
        ],
    ),
    ("Get-PartnerApplication", &["Identity"]),
    (
        "Set-PartnerApplication",
        &[
            "Identity",
            "Name",
            "ApplicationIdentifier",
            "Realm",
            "AuthMetadataUrl",
            "Enabled",
            "LinkedAccount",
            "AcceptSecurityIdentifierInformation",
            "AccountType",
            "RefreshAuthMetadata",
        ],
    ),
    ("Remove-PartnerApplication", &["Identity", "Confirm"]),
];

/// Parameters common to every cmdlet and ignored (the seed passes -DomainController).
const IGNORED: &[&str] = &[
    "DomainController",
    "Verbose",
    "ErrorAction",
    "WarningAction",
    "WhatIf",
];

#[derive(Deserialize)]
struct Invocation {
    cmdlet: String,
    #[serde(default)]
    parameters: serde_json::Map<String, Value>,
}

fn check_admin(ex: &Exchange, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok: bool = presented
        .as_bytes()
        .ct_eq(ex.admin_credential().as_bytes())
        .into();
    if ok && !presented.is_empty() {
        Ok(())
    } else {
        Err(Box::new((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"category": "SecurityError", "message": "the admin API needs 'Authorization: Bearer <admin credential>'; the credential is in the file admin-credential of the Exchange data directory"}})),
        )
            .into_response()))
    }
}

async fn cmdlets(State(ex): State<Exchange>, headers: HeaderMap) -> Response {
    if let Err(r) = check_admin(&ex, &headers) {
        return *r;
    }
    let list: Vec<Value> = CMDLETS
        .iter()
        .map(|(n, p)| json!({"Name": n, "Parameters": p}))
        .collect();
    Json(json!({ "output": list })).into_response()
}

async fn traffic(State(ex): State<Exchange>, headers: HeaderMap) -> Response {
    if let Err(r) = check_admin(&ex, &headers) {
        return *r;
    }
    Json(json!({ "output": ex.traffic() })).into_response()
}

async fn powershell(
    State(ex): State<Exchange>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = check_admin(&ex, &headers) {
        return *r;
    }
    let inv: Invocation = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"category": "InvalidArgument", "message": format!("the body must be {{\"cmdlet\": \"Name\", \"parameters\": {{...}}}}: {e}")}})),
            )
                .into_response();
        }
    };
    match ex.run_cmdlet(&inv.cmdlet, inv.parameters).await {
        Ok(v) => Json(json!({ "output": v })).into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (
                status,
                Json(json!({"error": {"category": e.category(), "message": e.to_string()}})),
            )
                .into_response()
        }
    }
}

/// How Exchange binds cmdlet parameters (piped objects by Identity; strings as given).
const BIND: BindRules = BindRules {
    ignored: IGNORED,
    identity_properties: &["Identity"],
    max_len: None,
    trim: false,
};

fn to_values<T: serde::Serialize>(items: Vec<T>) -> Vec<Value> {
    items
        .into_iter()
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect()
}

impl Exchange {
    /// Runs one cmdlet. Every change happens in one transaction; the trust snapshot is rebuilt
    /// after changes to auth config, auth servers or partner applications.
    pub async fn run_cmdlet(
        &self,
        cmdlet: &str,
        raw: serde_json::Map<String, Value>,
    ) -> Result<Vec<Value>, ExchangeError> {
        let Some((name, allowed)) = CMDLETS.iter().find(|(n, _)| n.eq_ignore_ascii_case(cmdlet))
        else {
            return Err(ExchangeError::UnknownCmdlet(cmdlet.to_owned()));
        };
        let p = Params::bind(name, allowed, raw, BIND)?;
        let now = self.inner.cfg.clock.unix();
        let org = self.inner.org.clone();
        // Every cmdlet that writes may change what a request authenticates as (the trust, RBAC,
        // scopes, and the recipients that user claims resolve to: a new mailbox can make a
        // cached caller's claims ambiguous), so it drops the validated-token cache.
        let trust_changed =
            !(name.starts_with("Get-") || name.starts_with("Test-") || name.starts_with("Export-"));
        // Cmdlets that fetch metadata do their network I/O before the transaction.
        let metadata = match *name {
            "New-AuthServer" => {
                Some(trust::fetch_metadata(&self.inner.http, &p.req("AuthMetadataUrl")?).await?)
            }
            "Set-AuthServer"
                if p.switch("RefreshAuthMetadata")? || p.str("AuthMetadataUrl")?.is_some() =>
            {
                let url = match p.str("AuthMetadataUrl")? {
                    Some(u) => u,
                    None => {
                        let id = p.req("Identity")?;
                        org.db
                            .call(move |c| trust::get_auth_server(c, &id))
                            .await?
                            .auth_metadata_url
                    }
                };
                Some(trust::fetch_metadata(&self.inner.http, &url).await?)
            }
            "New-PartnerApplication" | "Set-PartnerApplication" => {
                match p.str("AuthMetadataUrl")? {
                    Some(u) if !u.is_empty() => {
                        Some(trust::fetch_metadata(&self.inner.http, &u).await?)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let name = *name;
        if name == "Test-OAuthConnectivity" {
            return self
                .test_oauth_connectivity(
                    &p.str("Service")?.unwrap_or_else(|| "Generic".into()),
                    &p.req("TargetUri")?,
                )
                .await;
        }
        if matches!(
            name,
            "Get-WebServicesVirtualDirectory" | "Set-WebServicesVirtualDirectory"
        ) {
            return self.web_services_virtual_directory(name, &p).await;
        }
        if matches!(
            name,
            "Get-MailboxCalendarConfiguration" | "Set-MailboxCalendarConfiguration"
        ) {
            return self.calendar_configuration(name, &p).await;
        }
        if matches!(
            name,
            "Get-MailboxJunkEmailConfiguration" | "Set-MailboxJunkEmailConfiguration"
        ) {
            return self.junk_email_configuration(name, &p).await;
        }
        if matches!(
            name,
            "Get-MailboxAutoReplyConfiguration" | "Set-MailboxAutoReplyConfiguration"
        ) {
            return self.auto_reply_configuration(name, &p).await;
        }
        if name == "Get-EwsSubscription" {
            return Ok(to_values(self.subscriptions().await?));
        }
        if name == "Set-UserPhoto" {
            let id = p.req("Identity")?;
            let data = s2s_proto::b64::std_decode(&p.req("PictureData")?)
                .map_err(|e| ExchangeError::Invalid(format!("-PictureData is not base64: {e}")))?;
            self.set_user_photo(&id, data).await?;
            return Ok(vec![]);
        }
        let db = org.db.clone();
        let out = db
            .call(move |c| -> Result<Vec<Value>, ExchangeError> {
                let tx = c.transaction()?;
                let out = run_in_tx(&org, &tx, name, &p, metadata.as_ref(), now)?;
                tx.commit()?;
                Ok(out)
            })
            .await?;
        if let Some(v) = out.first()
            && name == "New-Mailbox"
            && let Some(guid) = v.get("Guid").and_then(Value::as_str)
        {
            self.inner
                .mbx
                .ensure_mailbox(&mailbox::MailboxKey::new(guid)?)
                .await?;
        }
        if trust_changed {
            self.reload_trust().await?;
        }
        Ok(out)
    }
}

/// `-EmailAddresses` (the whole list or `@{Add; Remove}`) or `-PrimarySmtpAddress`, which
/// Exchange refuses together.
fn address_change(p: &Params, cmdlet: &str) -> Result<Option<AddressChange>, ExchangeError> {
    match (
        p.multi_valued("EmailAddresses")?,
        p.str("PrimarySmtpAddress")?,
    ) {
        (Some(_), Some(_)) => Err(ExchangeError::ParameterConflict {
            cmdlet: cmdlet.to_owned(),
            a: "EmailAddresses",
            b: "PrimarySmtpAddress",
            why: "give the primary as SMTP:address among -EmailAddresses, or set it alone with -PrimarySmtpAddress",
        }),
        (Some(all), None) => Ok(Some(all.into())),
        (None, Some(primary)) => Ok(Some(AddressChange::Primary(primary))),
        (None, None) => Ok(None),
    }
}

fn wrong_type(identity: &str, r: crate::org::Recipient, expected: &'static str) -> ExchangeError {
    ExchangeError::WrongRecipientType {
        identity: identity.to_owned(),
        found: r.recipient_type,
        expected,
    }
}

fn one<T: serde::Serialize>(v: T) -> Vec<Value> {
    to_values(vec![v])
}

fn run_in_tx(
    org: &Org,
    c: &store::rusqlite::Connection,
    name: &str,
    p: &Params,
    md: Option<&trust::FetchedMetadata>,
    now: i64,
) -> Result<Vec<Value>, ExchangeError> {
    Ok(match name {
        "Get-AcceptedDomain" => {
            let all = Org::accepted_domains(c)?;
            match p.str("Identity")? {
                Some(id) => to_values(
                    all.into_iter()
                        .filter(|d| d.domain_name.eq_ignore_ascii_case(&id))
                        .collect(),
                ),
                None => to_values(all),
            }
        }
        "New-AcceptedDomain" => one(Org::add_accepted_domain(c, &p.req("DomainName")?, false)?),
        "New-Mailbox" => {
            let name = p.req("Name")?;
            let smtp = match p.str("PrimarySmtpAddress")? {
                Some(s) => s,
                None => p
                    .str("UserPrincipalName")?
                    .ok_or(ExchangeError::MissingParameter {
                        cmdlet: "New-Mailbox".into(),
                        param: "PrimarySmtpAddress",
                    })?,
            };
            // a resource mailbox's account is disabled, as Exchange creates it, unless
            // -EnableRoomMailboxAccount $true (a Teams Rooms device signs in as its room)
            let details = match (p.switch("Room")?, p.switch("Equipment")?) {
                (true, true) => {
                    return Err(ExchangeError::Invalid(
                        "give -Room or -Equipment, not both".into(),
                    ));
                }
                (true, false) => Some(crate::org::ROOM_MAILBOX),
                (false, true) => Some(crate::org::EQUIPMENT_MAILBOX),
                (false, false) => None,
            };
            let enable = p.bool("EnableRoomMailboxAccount")?;
            if enable.is_some() && details != Some(crate::org::ROOM_MAILBOX) {
                return Err(ExchangeError::Invalid(
                    "-EnableRoomMailboxAccount is for a room mailbox (-Room)".into(),
                ));
            }
            let r = org.new_recipient(
                c,
                "UserMailbox",
                NewRecipient {
                    name,
                    alias: p.str("Alias")?,
                    upn: Some(p.str("UserPrincipalName")?.unwrap_or_else(|| smtp.clone())),
                    sip: Some(p.str("SipAddress")?.unwrap_or_else(|| smtp.clone())),
                    primary_smtp: Some(smtp),
                    external_email: None,
                    netid: Some(format!("{:016X}", uuid::Uuid::new_v4().as_u128() as u64)),
                    details,
                    disabled: details.is_some() && enable != Some(true),
                },
                now,
            )?;
            one(r)
        }
        "Get-Mailbox" | "Get-MailUser" | "Get-Recipient" => {
            let kind = match name {
                "Get-Mailbox" => Some("UserMailbox"),
                "Get-MailUser" => Some("MailUser"),
                _ => None,
            };
            match p.str("Identity")? {
                Some(id) => {
                    let r = org.get_recipient(c, &id)?;
                    if kind.is_some_and(|k| k != r.recipient_type) {
                        return Err(ExchangeError::NotFound(id));
                    }
                    one(r)
                }
                None => {
                    let mut all = org.list_recipients(c, kind)?;
                    // Get-Mailbox -RecipientTypeDetails RoomMailbox (one value, or a list)
                    if let Some(want) = p.strings("RecipientTypeDetails")? {
                        const KNOWN: &[&str] = &["UserMailbox", "RoomMailbox", "EquipmentMailbox"];
                        for w in &want {
                            if !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(w)) {
                                return Err(ExchangeError::Invalid(format!(
                                    "-RecipientTypeDetails '{}' is not one of {}",
                                    w.chars().take(40).collect::<String>(),
                                    KNOWN.join(", ")
                                )));
                            }
                        }
                        all.retain(|r| {
                            want.iter()
                                .any(|w| w.eq_ignore_ascii_case(&r.recipient_type_details))
                        });
                    }
                    to_values(all)
                }
            }
        }
        "Get-CalendarProcessing" => {
            let id = p.req("Identity")?;
            let r = org.get_recipient(c, &id)?;
            if !r.is_mailbox() {
                return Err(wrong_type(&id, r, "mailbox"));
            }
            one(org.calendar_processing(c, &r)?)
        }
        "Set-CalendarProcessing" => one(org.set_calendar_processing(
            c,
            &p.req("Identity")?,
            &crate::org::SetCalendarProcessing {
                automate_processing: p.str("AutomateProcessing")?,
                allow_conflicts: p.bool("AllowConflicts")?,
                booking_window_in_days: p.int("BookingWindowInDays")?,
                maximum_duration_in_minutes: p.int("MaximumDurationInMinutes")?,
                allow_recurring_meetings: p.bool("AllowRecurringMeetings")?,
            },
        )?),
        "Set-Mailbox" => {
            let id = p.req("Identity")?;
            let mut r = org.get_recipient(c, &id)?;
            if r.is_group() {
                return Err(wrong_type(&id, r, "mailbox (use Set-DistributionGroup)"));
            }
            if let Some(change) = address_change(p, name)? {
                if !r.is_mailbox() {
                    return Err(wrong_type(&id, r, "mailbox (use Set-MailUser)"));
                }
                r = org.set_email_addresses(c, &r, &change)?;
            }
            if p.has("MailTip") {
                r = org.set_mail_tip(c, &r.guid, p.str("MailTip")?.as_deref())?;
            }
            match p.bool("AccountDisabled")? {
                Some(d) => one(org.set_enabled(c, &r.guid, !d)?),
                None => one(r),
            }
        }
        "New-MailUser" => {
            let ext = p.req("ExternalEmailAddress")?;
            let ext = crate::org::bare_smtp(&ext).to_owned();
            one(org.new_recipient(
                c,
                "MailUser",
                NewRecipient {
                    name: p.req("Name")?,
                    alias: p.str("Alias")?,
                    primary_smtp: p.str("PrimarySmtpAddress")?,
                    external_email: Some(ext),
                    ..Default::default()
                },
                now,
            )?)
        }
        "Set-MailUser" => {
            let id = p.req("Identity")?;
            let mut r = org.get_recipient(c, &id)?;
            if !r.is_mail_user() {
                return Err(wrong_type(&id, r, "mail user"));
            }
            if let Some(change) = address_change(p, name)? {
                r = org.set_email_addresses(c, &r, &change)?;
            }
            if p.has("MailTip") {
                r = org.set_mail_tip(c, &r.guid, p.str("MailTip")?.as_deref())?;
            }
            match p.bool("HiddenFromAddressListsEnabled")? {
                Some(h) => one(org.set_hidden(c, &r.guid, h)?),
                None => one(r),
            }
        }
        "New-DistributionGroup" => {
            if let Some(t) = p.str("Type")?
                && !t.eq_ignore_ascii_case("Distribution")
            {
                return Err(ExchangeError::Invalid(format!(
                    "-Type '{}': this server has distribution groups only (-Type Distribution); a security group would grant permissions",
                    t.chars().take(40).collect::<String>()
                )));
            }
            one(org.new_group(
                c,
                NewGroup {
                    name: p.req("Name")?,
                    alias: p.str("Alias")?,
                    primary_smtp: p.str("PrimarySmtpAddress")?,
                    members: p.strings("Members")?.unwrap_or_default(),
                    room_list: p.switch("RoomList")?,
                },
                now,
            )?)
        }
        "Get-DistributionGroup" => match p.str("Identity")? {
            Some(id) => one(org.get_group(c, &id)?),
            None => to_values(org.list_recipients(c, Some(crate::org::GROUP))?),
        },
        "Set-DistributionGroup" => {
            let id = p.req("Identity")?;
            let mut g = org.get_group(c, &id)?;
            if let Some(change) = address_change(p, name)? {
                g = org.set_email_addresses(c, &g, &change)?;
            }
            if p.has("MailTip") {
                g = org.set_mail_tip(c, &g.guid, p.str("MailTip")?.as_deref())?;
            }
            match p.bool("HiddenFromAddressListsEnabled")? {
                Some(h) => one(org.set_hidden(c, &g.guid, h)?),
                None => one(g),
            }
        }
        "Remove-DistributionGroup" => {
            let g = org.get_group(c, &p.req("Identity")?)?;
            org.remove_group(c, &g)?;
            vec![]
        }
        "Add-DistributionGroupMember" => {
            let g = org.get_group(c, &p.req("Identity")?)?;
            org.add_group_member(c, &g, &p.req("Member")?)?;
            vec![]
        }
        "Remove-DistributionGroupMember" => {
            let g = org.get_group(c, &p.req("Identity")?)?;
            org.remove_group_member(c, &g, &p.req("Member")?)?;
            vec![]
        }
        "Get-DistributionGroupMember" => {
            let g = org.get_group(c, &p.req("Identity")?)?;
            to_values(org.group_members(c, &g.guid)?)
        }
        "Get-ManagementRole" => {
            let id = p.str("Identity")?;
            ROLES
                .iter()
                .filter(|(r, _)| id.as_deref().is_none_or(|i| r.eq_ignore_ascii_case(i)))
                .map(|(r, d)| json!({"Name": r, "Identity": r, "RoleType": r.replace(' ', ""), "Description": d}))
                .collect()
        }
        "New-ManagementRoleAssignment" => one(org.new_role_assignment(
            c,
            &p.req("Role")?,
            &p.req("User")?,
            p.str("CustomRecipientWriteScope")?.as_deref(),
            now,
        )?),
        "New-ManagementScope" => vec![Org::new_scope(
            c,
            &p.req("Name")?,
            &p.req("RecipientRestrictionFilter")?,
            now,
        )?],
        "Get-ManagementScope" => {
            let all = Org::scopes(c)?;
            match p.str("Identity")? {
                Some(id) => all
                    .into_iter()
                    .filter(|s| {
                        s["Name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(&id))
                    })
                    .collect(),
                None => all,
            }
        }
        "Remove-ManagementScope" => {
            Org::remove_scope(c, &p.req("Identity")?)?;
            vec![]
        }
        "Get-ManagementRoleAssignment" => {
            let user = match p.str("RoleAssignee")? {
                Some(u) => Some(u),
                None => p.str("User")?,
            };
            let mut all = org.role_assignments(c, p.str("Role")?.as_deref(), user.as_deref())?;
            if let Some(id) = p.str("Identity")? {
                all.retain(|a| a.name.eq_ignore_ascii_case(&id) || a.guid == id);
            }
            to_values(all)
        }
        "Remove-ManagementRoleAssignment" => {
            org.remove_role_assignment(c, &p.req("Identity")?)?;
            vec![]
        }
        "Get-AuthConfig" => one(trust::get_auth_config(c)?),
        "Set-AuthConfig" => {
            let s = SetAuthConfig {
                certificate_thumbprint: p.str("CertificateThumbprint")?,
                new_certificate_thumbprint: p.str("NewCertificateThumbprint")?,
                new_certificate_effective_date: p.date("NewCertificateEffectiveDate")?,
                publish_certificate: p.switch("PublishCertificate")?,
                clear_previous_certificate: p.switch("ClearPreviousCertificate")?,
                realm: p.str("Realm")?,
                service_name: p.str("ServiceName")?,
            };
            one(trust::set_auth_config(c, s, now)?)
        }
        "New-ExchangeCertificate" => {
            if let Some(k) = p.str("KeySize")?
                && !k.parse::<u32>().is_ok_and(|n| n == 2048)
            {
                return Err(ExchangeError::Invalid(format!(
                    "-KeySize {k}: this server generates RSA-2048 keys"
                )));
            }
            let subject = p
                .str("SubjectName")?
                .unwrap_or_else(|| format!("CN={}", trust::AUTH_CERT_SUBJECT));
            let cn = subject
                .strip_prefix("CN=")
                .or_else(|| subject.strip_prefix("cn="))
                .unwrap_or(&subject)
                .to_owned();
            let friendly = p.str("FriendlyName")?.unwrap_or_else(|| cn.clone());
            one(trust::new_certificate(
                c,
                &cn,
                &friendly,
                &p.str("Services")?.unwrap_or_else(|| "None".into()),
                now,
            )?)
        }
        "Get-ExchangeCertificate" => match p.str("Thumbprint")?.or(p.str("Identity")?) {
            Some(t) => one(trust::get_certificate(c, &t, now)?),
            None => to_values(trust::list_certificates(c, now)?),
        },
        "Export-ExchangeCertificate" => {
            let t = p.req("Thumbprint")?;
            let der = trust::certificate_der(c, &t)?;
            let cert = s2s_proto::Certificate::from_der(&der)?;
            vec![
                json!({"Thumbprint": cert.thumbprint, "FileData": cert.to_base64(), "FileName": p.str("FileName")?}),
            ]
        }
        "New-AuthServer" => {
            let md = md.ok_or_else(|| ExchangeError::Invalid("metadata was not fetched".into()))?;
            let kind = p.str("Type")?.unwrap_or_else(|| "MicrosoftACS".into());
            if !["MicrosoftACS", "AzureAD", "ADFS", "Facebook", "LinkedIn"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&kind))
            {
                return Err(ExchangeError::Invalid(format!(
                    "-Type '{kind}' must be MicrosoftACS or AzureAD"
                )));
            }
            one(trust::insert_auth_server(
                c,
                &NewAuthServer {
                    name: p.req("Name")?,
                    kind,
                    metadata_url: p.req("AuthMetadataUrl")?,
                    enabled: p.bool("Enabled")?.unwrap_or(true),
                    domain_name: p.str("DomainName")?,
                    is_default: p.switch("IsDefaultAuthorizationEndpoint")?,
                },
                md,
                now,
            )?)
        }
        "Get-AuthServer" => match p.str("Identity")? {
            Some(id) => one(trust::get_auth_server(c, &id)?),
            None => to_values(trust::list_auth_servers(c)?),
        },
        "Set-AuthServer" => {
            let id = p.req("Identity")?;
            if let Some(e) = p.bool("Enabled")? {
                trust::set_auth_server_enabled(c, &id, e)?;
            }
            if let Some(md) = md {
                let name = trust::get_auth_server(c, &id)?.name;
                trust::update_auth_server_metadata(c, &name, md, now)?;
                if let Some(u) = p.str("AuthMetadataUrl")? {
                    c.execute(
                        "UPDATE auth_servers SET metadata_url = ?1 WHERE name = ?2",
                        [u, name],
                    )?;
                }
            }
            one(trust::get_auth_server(c, &id)?)
        }
        "Remove-AuthServer" => {
            trust::remove_auth_server(c, &p.req("Identity")?)?;
            vec![]
        }
        "New-PartnerApplication" | "Set-PartnerApplication" => {
            let params = PartnerParams {
                name: p.str("Name")?,
                app_id: p.str("ApplicationIdentifier")?,
                realm: p.str("Realm")?,
                metadata_url: p.str("AuthMetadataUrl")?,
                enabled: p.bool("Enabled")?,
                linked_account: p.str("LinkedAccount")?,
                accept_sid: p.bool("AcceptSecurityIdentifierInformation")?,
                account_type: p.str("AccountType")?,
            };
            let existing = if name == "Set-PartnerApplication" {
                Some(p.req("Identity")?)
            } else {
                None
            };
            one(trust::upsert_partner(
                org,
                c,
                existing.as_deref(),
                params,
                md,
            )?)
        }
        "Get-PartnerApplication" => match p.str("Identity")? {
            Some(id) => one(trust::get_partner(org, c, &id)?),
            None => to_values(trust::list_partners(org, c)?),
        },
        "Remove-PartnerApplication" => {
            trust::remove_partner(c, &p.req("Identity")?)?;
            vec![]
        }
        other => return Err(ExchangeError::UnknownCmdlet(other.to_owned())),
    })
}

impl Exchange {
    /// Test-OAuthConnectivity on Exchange's side (flow F2): a token signed with the current auth
    /// certificate for the target, then a call to it. Each stage: Success or the reason.
    async fn test_oauth_connectivity(
        &self,
        service: &str,
        target: &str,
    ) -> Result<Vec<Value>, ExchangeError> {
        if !service.eq_ignore_ascii_case("Generic") {
            return Err(ExchangeError::Invalid(format!(
                "-Service {service}: this server tests outbound calls with -Service Generic (EWS and AutoD are tested from the partner's side)"
            )));
        }
        let url = crate::notify::check_callback_url(target)
            .map_err(|e| ExchangeError::Invalid(e.message))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut rows = Vec::new();
        let row = |task: &str, ok: bool, detail: String| json!({"Task": task, "ResultType": if ok { "Success" } else { "Error" }, "Detail": detail});
        let token = match self
            .sign_outbound_token(s2s_proto::principal::SKYPE_APP_ID, &host)
            .await
        {
            Ok(t) => {
                rows.push(row(
                    "Token",
                    true,
                    format!("signed with the current auth certificate for 00000004-…/{host}"),
                ));
                t
            }
            Err(e) => {
                rows.push(row("Token", false, e.to_string()));
                return Ok(rows);
            }
        };
        let note = ews_proto::notification::Notification {
            subscription_id: "test-oauth-connectivity".into(),
            previous_watermark: None,
            more_events: false,
            events: vec![ews_proto::notification::NotificationEvent::Status {
                watermark: "0".into(),
            }],
        };
        let body = ews_proto::notification::write_send_notification(std::slice::from_ref(&note));
        match self
            .inner
            .http
            .post(url.clone())
            .bearer_auth(token)
            .header("content-type", "text/xml; charset=utf-8")
            .body(body)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => rows.push(row(
                "Checking Generic API Call Under Oauth",
                true,
                format!("{target} accepted the token (HTTP {})", r.status()),
            )),
            Ok(r) => {
                let diag = r
                    .headers()
                    .get("x-ms-diagnostics")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                rows.push(row(
                    "Checking Generic API Call Under Oauth",
                    false,
                    format!("HTTP {} {diag}", r.status()),
                ));
            }
            Err(e) => rows.push(row(
                "Checking Generic API Call Under Oauth",
                false,
                format!("the call failed: {e}"),
            )),
        }
        Ok(rows)
    }
}

/// Names of the cmdlets, for help output.
pub fn cmdlet_names() -> BTreeSet<&'static str> {
    CMDLETS.iter().map(|(n, _)| *n).collect()
}
