//! The organization: accepted domains, recipients, RBAC, the certificate store and AuthConfig,
//! auth servers and partner applications. One SQLite database (`exchange.sqlite`), one
//! transaction per cmdlet.

use serde::Serialize;
use store::rusqlite::{Connection, OptionalExtension, Row, params};
use store::{Db, Migration};

use std::borrow::Cow;

use crate::AuthFailure;
use crate::error::ExchangeError;

pub const MIGRATIONS: &[Migration] = &[
    V1,
    crate::notify::MIGRATION,
    V3,
    V4,
    crate::notify::STREAMING_MIGRATION,
    V6,
    V7,
    V8,
    V9,
];

/// How a mailbox's calendar handles meeting requests (`Set-CalendarProcessing`); a mailbox
/// without a row has the defaults of its kind ([`CalendarProcessing::default_for`]).
const V9: Migration = Migration {
    version: 9,
    sql: "CREATE TABLE calendar_processing (
              guid TEXT PRIMARY KEY REFERENCES recipients(guid) ON DELETE CASCADE,
              automate TEXT NOT NULL CHECK (automate IN ('AutoUpdate', 'AutoAccept')),
              allow_conflicts INTEGER NOT NULL,
              booking_window_days INTEGER NOT NULL,
              max_duration_minutes INTEGER NOT NULL,
              allow_recurring INTEGER NOT NULL
          ) WITHOUT ROWID;",
};

/// A mailbox's calendar processing (`Get-`/`Set-CalendarProcessing`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CalendarProcessing {
    pub identity: String,
    /// `AutoUpdate` (requests placed on the calendar as tentative, the user answers) or
    /// `AutoAccept` (the resource booking attendant answers them).
    pub automate_processing: &'static str,
    pub allow_conflicts: bool,
    /// How far ahead the resource may be booked, in days (1–1080).
    pub booking_window_in_days: u32,
    /// The longest meeting it accepts, in minutes (0: any length).
    pub maximum_duration_in_minutes: u32,
    pub allow_recurring_meetings: bool,
}

/// Exchange's bounds on `-BookingWindowInDays`.
pub const MAX_BOOKING_WINDOW_DAYS: u32 = 1080;

impl CalendarProcessing {
    /// Exchange's defaults: a room or equipment mailbox books itself (AutoAccept, no conflicts,
    /// 180 days ahead, at most 24 hours, recurring meetings allowed); a user's calendar is
    /// AutoUpdate.
    pub fn default_for(r: &Recipient) -> CalendarProcessing {
        CalendarProcessing {
            identity: r.identity.clone(),
            automate_processing: if r.is_resource() {
                "AutoAccept"
            } else {
                "AutoUpdate"
            },
            allow_conflicts: false,
            booking_window_in_days: 180,
            maximum_duration_in_minutes: 1440,
            allow_recurring_meetings: true,
        }
    }

    pub fn auto_accepts(&self) -> bool {
        self.automate_processing == "AutoAccept"
    }
}

/// What `Set-CalendarProcessing` changes (`None`: kept).
#[derive(Debug, Clone, Default)]
pub struct SetCalendarProcessing {
    pub automate_processing: Option<String>,
    pub allow_conflicts: Option<bool>,
    pub booking_window_in_days: Option<i64>,
    pub maximum_duration_in_minutes: Option<i64>,
    pub allow_recurring_meetings: Option<bool>,
}

/// Resource mailboxes and room lists: a recipient's `RecipientTypeDetails` when it is more than
/// its kind (`New-Mailbox -Room`/`-Equipment`, `New-DistributionGroup -RoomList`).
const V8: Migration = Migration {
    version: 8,
    sql: "ALTER TABLE recipients ADD COLUMN details TEXT CHECK (details IN ('RoomMailbox', 'EquipmentMailbox', 'RoomList'));
          CREATE INDEX recipients_details ON recipients (details) WHERE details IS NOT NULL;",
};

/// `RecipientTypeDetails` of a room mailbox, an equipment mailbox and a room list.
pub const ROOM_MAILBOX: &str = "RoomMailbox";
pub const EQUIPMENT_MAILBOX: &str = "EquipmentMailbox";
pub const ROOM_LIST: &str = "RoomList";

/// A recipient's custom mail tip (`Set-Mailbox -MailTip`, GetMailTips' `CustomMailTip`).
const V7: Migration = Migration {
    version: 7,
    sql: "ALTER TABLE recipients ADD COLUMN mail_tip TEXT;",
};

/// Proxy addresses and distribution groups. `recipients` gains a third kind, the mail-enabled
/// universal distribution group: SQLite cannot change a CHECK constraint in place, so the table
/// is rebuilt. Dropping the old table fires its children's ON DELETE actions (role assignments
/// cascade, partner applications' linked accounts are set NULL), so both are kept aside and put
/// back. A mail user without a primary SMTP address gets its external address, as New-MailUser
/// gives it now (unless another recipient has that address, or an older mail user the same one).
/// Every primary SMTP address becomes the recipient's `SMTP:` proxy address.
const V6: Migration = Migration {
    version: 6,
    sql: r#"
CREATE TABLE recipients_v6 (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind TEXT NOT NULL CHECK (kind IN ('UserMailbox', 'MailUser', 'MailUniversalDistributionGroup')),
    alias TEXT NOT NULL,
    primary_smtp TEXT UNIQUE COLLATE NOCASE,
    upn TEXT UNIQUE COLLATE NOCASE,
    sip TEXT UNIQUE COLLATE NOCASE,
    external_email TEXT,
    hidden INTEGER NOT NULL DEFAULT 0,
    sid TEXT NOT NULL UNIQUE COLLATE NOCASE,
    netid TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    created INTEGER NOT NULL
);
INSERT INTO recipients_v6 (guid, name, kind, alias, primary_smtp, upn, sip, external_email, hidden, sid, netid, enabled, created)
SELECT r.guid, r.name, r.kind, r.alias,
       COALESCE(r.primary_smtp, CASE WHEN r.kind = 'MailUser' AND NOT EXISTS (
           SELECT 1 FROM recipients o WHERE o.guid <> r.guid AND (o.primary_smtp = r.external_email
               OR (o.primary_smtp IS NULL AND o.kind = 'MailUser'
                   AND o.external_email = r.external_email COLLATE NOCASE AND o.guid < r.guid)))
           THEN r.external_email END),
       r.upn, r.sip, r.external_email, r.hidden, r.sid, r.netid, r.enabled, r.created
FROM recipients r;
CREATE TEMP TABLE v6_role_assignments AS SELECT * FROM role_assignments;
CREATE TEMP TABLE v6_linked_accounts AS
    SELECT guid, linked_account FROM partner_apps WHERE linked_account IS NOT NULL;
DROP TABLE recipients;
ALTER TABLE recipients_v6 RENAME TO recipients;
CREATE INDEX recipients_netid ON recipients (netid COLLATE NOCASE) WHERE netid IS NOT NULL;
INSERT INTO role_assignments SELECT * FROM v6_role_assignments;
UPDATE partner_apps SET linked_account =
    (SELECT l.linked_account FROM v6_linked_accounts l WHERE l.guid = partner_apps.guid)
    WHERE guid IN (SELECT guid FROM v6_linked_accounts);
DROP TABLE v6_role_assignments;
DROP TABLE v6_linked_accounts;

-- EmailAddresses: unique across the organization by type and address (ASCII case ignored);
-- `prefix` as shown (SMTP for the primary SMTP address, smtp for the others, other types as
-- given); at most one primary SMTP address a recipient, which is its `primary_smtp`.
CREATE TABLE proxy_addresses (
    kind TEXT NOT NULL,
    address TEXT NOT NULL COLLATE NOCASE,
    recipient TEXT NOT NULL REFERENCES recipients(guid) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (kind, address)
) WITHOUT ROWID;
CREATE INDEX proxy_addresses_of ON proxy_addresses (recipient, position);
CREATE UNIQUE INDEX proxy_addresses_one_primary ON proxy_addresses (recipient) WHERE prefix = 'SMTP';
INSERT INTO proxy_addresses (kind, address, recipient, prefix, position)
    SELECT 'SMTP', primary_smtp, guid, 'SMTP', 0 FROM recipients WHERE primary_smtp IS NOT NULL;

-- A distribution group's direct members (mailboxes, mail users, groups); nesting may form
-- cycles, which expansion detects.
CREATE TABLE group_members (
    group_guid TEXT NOT NULL REFERENCES recipients(guid) ON DELETE CASCADE,
    member TEXT NOT NULL REFERENCES recipients(guid) ON DELETE CASCADE,
    PRIMARY KEY (group_guid, member),
    CHECK (group_guid <> member)
) WITHOUT ROWID;
CREATE INDEX group_members_of ON group_members (member);
"#,
};

/// Management scopes and the scope a role assignment is limited to.
const V4: Migration = Migration {
    version: 4,
    sql: "CREATE TABLE management_scopes (name TEXT PRIMARY KEY COLLATE NOCASE, filter TEXT NOT NULL, created INTEGER NOT NULL);
          ALTER TABLE role_assignments ADD COLUMN scope TEXT REFERENCES management_scopes(name);",
};

/// User resolution looks mailboxes up by NetID (the cloud `nameid`) on every uncached request:
/// without this index that was a scan of every recipient.
const V3: Migration = Migration {
    version: 3,
    sql: "CREATE INDEX recipients_netid ON recipients (netid COLLATE NOCASE) WHERE netid IS NOT NULL;",
};

const V1: Migration = Migration {
    version: 1,
    sql: r#"
CREATE TABLE settings (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE accepted_domains (
    domain TEXT PRIMARY KEY COLLATE NOCASE,
    name TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE recipients (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind TEXT NOT NULL CHECK (kind IN ('UserMailbox', 'MailUser')),
    alias TEXT NOT NULL,
    primary_smtp TEXT UNIQUE COLLATE NOCASE,
    upn TEXT UNIQUE COLLATE NOCASE,
    sip TEXT UNIQUE COLLATE NOCASE,
    external_email TEXT,
    hidden INTEGER NOT NULL DEFAULT 0,
    sid TEXT NOT NULL UNIQUE COLLATE NOCASE,
    netid TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    created INTEGER NOT NULL
);
CREATE TABLE role_assignments (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL,
    user_guid TEXT NOT NULL REFERENCES recipients(guid) ON DELETE CASCADE,
    created INTEGER NOT NULL,
    UNIQUE (role, user_guid)
);
CREATE TABLE certificates (
    thumbprint TEXT PRIMARY KEY,
    der BLOB NOT NULL,
    pkcs8 BLOB,
    friendly_name TEXT,
    services TEXT NOT NULL DEFAULT 'None',
    created INTEGER NOT NULL
);
CREATE TABLE auth_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    current_thumbprint TEXT,
    previous_thumbprint TEXT,
    next_thumbprint TEXT,
    next_effective INTEGER,
    service_name TEXT NOT NULL,
    realm TEXT NOT NULL DEFAULT ''
);
CREATE TABLE auth_servers (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    type TEXT NOT NULL,
    metadata_url TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    domain_name TEXT,
    issuer TEXT NOT NULL,
    realm TEXT NOT NULL,
    token_endpoint TEXT NOT NULL,
    certificates TEXT NOT NULL,
    refreshed INTEGER NOT NULL
);
CREATE TABLE partner_apps (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    app_id TEXT NOT NULL,
    realm TEXT NOT NULL DEFAULT '',
    metadata_url TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL,
    linked_account TEXT REFERENCES recipients(guid) ON DELETE SET NULL,
    accept_sid INTEGER NOT NULL DEFAULT 0,
    account_type TEXT NOT NULL DEFAULT 'OrganizationalAccount',
    issuer TEXT NOT NULL DEFAULT '',
    certificates TEXT NOT NULL DEFAULT '[]'
);
"#,
};

/// Management roles this server knows. UserApplication and ArchiveApplication are what the seed
/// grants; ApplicationImpersonation gates `ExchangeImpersonation`.
pub const ROLES: &[(&str, &str)] = &[
    (
        "UserApplication",
        "Partner applications act on behalf of end users on their own mailbox data.",
    ),
    (
        "ArchiveApplication",
        "Partner applications archive items into users' Recoverable Items.",
    ),
    (
        "ApplicationImpersonation",
        "Applications impersonate users through the EWS ExchangeImpersonation header.",
    ),
    (
        "LegalHoldApplication",
        "Partner applications put mailboxes on hold.",
    ),
    (
        "Mail Recipients",
        "Administrators manage mailboxes and mail users.",
    ),
    (
        "MailboxSearchApplication",
        "Partner applications search mailboxes.",
    ),
];

pub fn canonical_role(name: &str) -> Option<&'static str> {
    ROLES
        .iter()
        .map(|(r, _)| *r)
        .find(|r| r.eq_ignore_ascii_case(name))
}

pub fn iso(t: i64) -> String {
    s2s_proto::clock::rfc3339(t).unwrap_or_default()
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AcceptedDomain {
    pub name: String,
    pub domain_name: String,
    pub default: bool,
    pub domain_type: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recipient {
    pub identity: String,
    pub name: String,
    pub alias: String,
    pub recipient_type: String,
    pub recipient_type_details: String,
    pub primary_smtp_address: Option<String>,
    pub external_email_address: Option<String>,
    pub user_principal_name: Option<String>,
    pub sip_address: Option<String>,
    pub hidden_from_address_lists_enabled: bool,
    pub account_disabled: bool,
    pub guid: String,
    pub exchange_guid: String,
    pub sid: String,
    #[serde(skip)]
    pub netid: Option<String>,
    pub when_created: String,
    /// Every proxy address: `SMTP:` the primary, `smtp:` the other SMTP addresses, other types
    /// (`SIP:`, `X500:`, …) as given.
    pub email_addresses: Vec<String>,
    /// `Universal` for a distribution group; absent for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_type: Option<&'static str>,
    /// The custom mail tip senders see (`-MailTip`), at most [`MAX_MAIL_TIP_CHARS`].
    pub mail_tip: Option<String>,
}

/// Longest custom mail tip, in characters (Exchange's own bound).
pub const MAX_MAIL_TIP_CHARS: usize = 175;

/// The recipient type of a mail-enabled universal distribution group.
pub const GROUP: &str = "MailUniversalDistributionGroup";

/// Most proxy addresses one recipient has.
pub const MAX_PROXY_ADDRESSES: usize = 100;

/// Longest proxy address, prefix included (Active Directory's bound on `proxyAddresses`).
pub const MAX_PROXY_ADDRESS_LEN: usize = 1123;

/// Most direct members of one distribution group.
pub const MAX_GROUP_MEMBERS: usize = 5000;

/// Most groups one expansion (a message's recipients) opens, nested ones included.
pub const MAX_GROUPS_EXPANDED: usize = 1000;

impl Recipient {
    pub fn is_mailbox(&self) -> bool {
        self.recipient_type == "UserMailbox"
    }

    pub fn is_group(&self) -> bool {
        self.recipient_type == GROUP
    }

    pub fn is_mail_user(&self) -> bool {
        self.recipient_type == "MailUser"
    }

    /// Its SMTP proxy addresses (the primary first), without their prefixes.
    pub fn smtp_addresses(&self) -> Vec<String> {
        self.email_addresses
            .iter()
            .filter_map(|a| {
                a.strip_prefix("SMTP:")
                    .or_else(|| a.strip_prefix("smtp:"))
                    .map(str::to_owned)
            })
            .collect()
    }

    /// A room mailbox (`New-Mailbox -Room`).
    pub fn is_room(&self) -> bool {
        self.recipient_type_details == ROOM_MAILBOX
    }

    /// A room or equipment mailbox: one the resource booking attendant answers for.
    pub fn is_resource(&self) -> bool {
        self.recipient_type_details == ROOM_MAILBOX
            || self.recipient_type_details == EQUIPMENT_MAILBOX
    }

    /// A room list (`New-DistributionGroup -RoomList`).
    pub fn is_room_list(&self) -> bool {
        self.recipient_type_details == ROOM_LIST
    }

    /// The address mail to this recipient is written to: the primary SMTP address, or (a mail
    /// user without one) the external address.
    pub fn address(&self) -> Option<&str> {
        self.primary_smtp_address
            .as_deref()
            .or_else(|| self.external_email_address.as_deref().map(bare_smtp))
    }

    /// The value of the column a user claim of this kind is looked up in
    /// ([`Org::mailbox_by`]'s kinds).
    fn claim(&self, kind: &str) -> Option<&str> {
        match kind {
            "smtp" => self.primary_smtp_address.as_deref(),
            "upn" => self.user_principal_name.as_deref(),
            "sip" => self.sip_address.as_deref(),
            "sid" => Some(&self.sid),
            "netid" => self.netid.as_deref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleAssignment {
    pub name: String,
    pub identity: String,
    pub role: String,
    pub role_assignee: String,
    pub role_assignee_type: &'static str,
    pub enabled: bool,
    pub recipient_write_scope: &'static str,
    pub custom_recipient_write_scope: Option<String>,
    pub guid: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthConfigView {
    pub name: &'static str,
    pub current_certificate_thumbprint: Option<String>,
    pub previous_certificate_thumbprint: Option<String>,
    pub next_certificate_thumbprint: Option<String>,
    pub new_certificate_effective_date: Option<String>,
    pub service_name: String,
    pub realm: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExchangeCertificate {
    pub thumbprint: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub services: String,
    pub friendly_name: String,
    pub has_private_key: bool,
    pub serial_number: String,
    pub status: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthServer {
    pub name: String,
    pub identity: String,
    #[serde(rename = "Type")]
    pub kind: String,
    pub auth_metadata_url: String,
    pub enabled: bool,
    pub is_default_authorization_endpoint: bool,
    pub domain_name: Option<String>,
    pub issuer_identifier: String,
    pub realm: String,
    pub token_issuing_endpoint: String,
    pub certificate_strings: Vec<String>,
    pub last_refreshed: String,
    pub guid: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartnerApplication {
    pub name: String,
    pub identity: String,
    pub enabled: bool,
    pub application_identifier: String,
    pub certificate_strings: Vec<String>,
    pub auth_metadata_url: String,
    pub realm: String,
    pub use_auth_server: bool,
    pub accept_security_identifier_information: bool,
    pub linked_account: Option<String>,
    pub issuer_identifier: String,
    pub app_only_permissions: Vec<String>,
    pub act_as_permissions: Vec<String>,
    pub account_type: String,
    pub guid: String,
}

/// The store of organization objects.
#[derive(Clone, Debug)]
pub struct Org {
    pub db: Db,
    pub domain_for_identity: String,
}

/// The columns [`recipient_from_row`] reads, in its order (a macro so that statements can be
/// built with `concat!` and stay `'static` for the statement cache).
/// An address without its `SMTP:` routing prefix (any case), as it is stored and compared.
pub fn bare_smtp(address: &str) -> &str {
    address
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("smtp:"))
        .map_or(address, |_| &address[5..])
}

macro_rules! recipient_columns {
    () => {
        "guid, name, kind, alias, primary_smtp, upn, sip, external_email, hidden, sid, netid, enabled, created, \
         (SELECT group_concat(p.prefix || ':' || p.address, char(10) ORDER BY p.position) \
          FROM proxy_addresses p WHERE p.recipient = recipients.guid), mail_tip, details"
    };
}

/// One indexed search per user claim (a compound SELECT: SQLite plans an OR of these terms as a
/// table scan), each absent claim bound NULL, which matches nothing. `UNION ALL`: a mailbox two
/// claims name comes twice, which costs less than SQLite sorting the rows to merge them.
const MAILBOX_BY_CLAIMS: &str = {
    macro_rules! by {
        ($term:literal) => {
            concat!(
                "SELECT ",
                recipient_columns!(),
                " FROM recipients WHERE kind = 'UserMailbox' AND ",
                $term
            )
        };
    }
    concat!(
        by!("primary_smtp = ?1"),
        " UNION ALL ",
        by!("upn = ?2"),
        " UNION ALL ",
        by!("sip = ?3"),
        " UNION ALL ",
        by!("sid = ?4"),
        " UNION ALL ",
        by!("netid = ?5 COLLATE NOCASE"),
        " LIMIT 10"
    )
};

/// The value a user claim is compared with: a `sip` claim without its `sip:` prefix.
fn claim_value<'v>(kind: &str, value: &'v str) -> &'v str {
    if kind == "sip" {
        value.trim_start_matches("sip:")
    } else {
        value
    }
}

/// The mailbox the claims name, each claim in order found by `find`: claims that find nothing
/// are passed over; two that find different mailboxes are [`AuthFailure::UserConflict`].
fn first_user<'r>(
    lookups: &[(&str, String)],
    mut find: impl FnMut(&str, &str) -> Result<Option<Cow<'r, Recipient>>, ExchangeError>,
) -> Result<Option<Recipient>, ExchangeError> {
    let mut user: Option<Cow<'r, Recipient>> = None;
    for (kind, v) in lookups {
        let Some(r) = find(kind, v)? else { continue };
        match &user {
            Some(u) if u.guid != r.guid => {
                return Err(ExchangeError::Auth(AuthFailure::UserConflict {
                    a: u.primary_smtp_address.clone().unwrap_or_default(),
                    b: r.primary_smtp_address.clone().unwrap_or_default(),
                }));
            }
            _ => user = Some(r),
        }
    }
    Ok(user.map(Cow::into_owned))
}

/// A recipient from a row of `SELECT recipient_columns!() …`, read by position: reading by
/// name looks every name up among the columns, which was most of a row's cost.
fn recipient_from_row(r: &Row, org_domain: &str) -> store::rusqlite::Result<Recipient> {
    let guid: String = r.get(0)?;
    let name: String = r.get(1)?;
    let kind: String = r.get(2)?;
    let group_type = (kind == GROUP).then_some("Universal");
    Ok(Recipient {
        identity: format!("{org_domain}/Users/{name}"),
        alias: r.get(3)?,
        recipient_type_details: r
            .get::<_, Option<String>>(15)?
            .unwrap_or_else(|| kind.clone()),
        recipient_type: kind,
        primary_smtp_address: r.get(4)?,
        user_principal_name: r.get(5)?,
        sip_address: r.get(6)?,
        external_email_address: r.get::<_, Option<String>>(7)?.map(|e| format!("SMTP:{e}")),
        hidden_from_address_lists_enabled: r.get(8)?,
        sid: r.get(9)?,
        netid: r.get(10)?,
        account_disabled: !r.get::<_, bool>(11)?,
        when_created: iso(r.get(12)?),
        email_addresses: r
            .get::<_, Option<String>>(13)?
            .map(|a| a.split('\n').map(str::to_owned).collect())
            .unwrap_or_default(),
        group_type,
        mail_tip: r.get(14)?,
        exchange_guid: guid.clone(),
        guid,
        name,
    })
}

fn domain_of(addr: &str) -> Option<&str> {
    addr.rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

pub(crate) fn valid_smtp(addr: &str) -> bool {
    let Some((local, domain)) = addr.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.contains('@')
        && addr.len() <= 320
        && addr.chars().all(|c| c.is_ascii_graphic())
}

/// One proxy address of `EmailAddresses`: its type (upper case: `SMTP`, `SIP`, `X500`, …), its
/// prefix as shown (`SMTP` for the primary SMTP address, `smtp` for another; other types as
/// given) and the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAddress {
    pub kind: String,
    pub prefix: String,
    pub address: String,
}

impl std::fmt::Display for ProxyAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.prefix, self.address)
    }
}

impl ProxyAddress {
    /// Reads `TYPE:address` as Exchange's `ProxyAddress` does: a type of letters and digits
    /// before the first `:`, none meaning `smtp`; `SMTP` (upper case) marks the primary SMTP
    /// address. An SMTP address must be `user@domain`; any other type's is kept as given (Exchange
    /// does not check custom types either). Bounded: [`MAX_PROXY_ADDRESS_LEN`], no control
    /// characters.
    pub fn parse(raw: &str) -> Result<Self, ExchangeError> {
        let shown = || raw.chars().take(80).collect::<String>();
        let bad = |why: &str| ExchangeError::InvalidProxyAddress {
            address: shown(),
            why: why.to_owned(),
        };
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(bad("it is empty"));
        }
        if raw.len() > MAX_PROXY_ADDRESS_LEN {
            return Err(bad(&format!(
                "it is {} characters long; at most {MAX_PROXY_ADDRESS_LEN}",
                raw.len()
            )));
        }
        if raw.chars().any(char::is_control) {
            return Err(bad("it contains a control character"));
        }
        let (prefix, address) = match raw.split_once(':') {
            Some((p, a))
                if !p.is_empty()
                    && p.len() <= 16
                    && p.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                (p, a.trim())
            }
            _ => ("smtp", raw),
        };
        if address.is_empty() {
            return Err(bad("there is no address after the type"));
        }
        let kind = prefix.to_ascii_uppercase();
        if kind == "SMTP" {
            if !valid_smtp(address) {
                return Err(bad(
                    "an SMTP address is user@domain, in printable ASCII without spaces, at most 320 characters",
                ));
            }
            let prefix = if prefix == "SMTP" { "SMTP" } else { "smtp" };
            return Ok(ProxyAddress {
                kind,
                prefix: prefix.to_owned(),
                address: address.to_owned(),
            });
        }
        Ok(ProxyAddress {
            kind,
            prefix: prefix.to_owned(),
            address: address.to_owned(),
        })
    }

    /// The primary SMTP address `address`.
    pub fn primary(address: &str) -> Self {
        ProxyAddress {
            kind: "SMTP".into(),
            prefix: "SMTP".into(),
            address: address.to_owned(),
        }
    }

    pub fn is_smtp(&self) -> bool {
        self.kind == "SMTP"
    }

    pub fn is_primary_smtp(&self) -> bool {
        self.prefix == "SMTP"
    }

    /// The same address (type and address, ASCII case ignored), whatever its prefix's case.
    pub fn same(&self, other: &ProxyAddress) -> bool {
        self.kind == other.kind && self.address.eq_ignore_ascii_case(&other.address)
    }

    fn demoted(mut self) -> Self {
        if self.is_smtp() {
            self.prefix = "smtp".into();
        }
        self
    }

    fn promoted(mut self) -> Self {
        if self.is_smtp() {
            self.prefix = "SMTP".into();
        }
        self
    }
}

/// A change of `EmailAddresses`: the whole list (`-EmailAddresses a,b`), `@{Add=…; Remove=…}`,
/// or a new primary SMTP address (`-PrimarySmtpAddress`; the old one stays, as `smtp:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressChange {
    Replace(Vec<String>),
    Change {
        add: Vec<String>,
        remove: Vec<String>,
    },
    Primary(String),
}

impl From<psh::bind::MultiValued> for AddressChange {
    fn from(v: psh::bind::MultiValued) -> Self {
        match v {
            psh::bind::MultiValued::Replace(all) => AddressChange::Replace(all),
            psh::bind::MultiValued::Change { add, remove } => AddressChange::Change { add, remove },
        }
    }
}

/// The list `change` makes of `current` for `recipient` (named in errors): exactly one primary
/// SMTP address, no address twice, at most [`MAX_PROXY_ADDRESSES`]. A whole list's primary is
/// its `SMTP:` address, or else its first SMTP address (as Exchange reads it); `@{Add}` with an
/// `SMTP:` address makes that the primary and the old one a secondary; the primary can't be
/// removed unless another is added; removing an address that isn't there is an error.
pub fn changed_addresses(
    recipient: &str,
    current: &[ProxyAddress],
    change: &AddressChange,
) -> Result<Vec<ProxyAddress>, ExchangeError> {
    let list_err = |why: String| ExchangeError::ProxyAddressList {
        recipient: recipient.to_owned(),
        why,
    };
    let parse_all = |raw: &[String]| -> Result<Vec<ProxyAddress>, ExchangeError> {
        if raw.len() > MAX_PROXY_ADDRESSES {
            return Err(list_err(format!(
                "{} addresses given; a recipient has at most {MAX_PROXY_ADDRESSES}",
                raw.len()
            )));
        }
        raw.iter().map(|a| ProxyAddress::parse(a)).collect()
    };
    let two_primaries = |a: &[ProxyAddress]| a.iter().filter(|p| p.is_primary_smtp()).count() > 1;
    let mut list: Vec<ProxyAddress> = match change {
        AddressChange::Replace(raw) => {
            let mut all = parse_all(raw)?;
            if two_primaries(&all) {
                return Err(list_err(
                    "more than one address is SMTP: (the primary); mark one, the others smtp:"
                        .into(),
                ));
            }
            if !all.iter().any(ProxyAddress::is_primary_smtp) {
                match all.iter_mut().find(|p| p.is_smtp()) {
                    Some(first) => first.prefix = "SMTP".into(),
                    None => {
                        return Err(list_err(
                            "the list has no SMTP address, and a mail-enabled recipient needs a primary one".into(),
                        ));
                    }
                }
            }
            all
        }
        AddressChange::Change { add, remove } => {
            let add = parse_all(add)?;
            let remove = parse_all(remove)?;
            if two_primaries(&add) {
                return Err(list_err(
                    "more than one added address is SMTP: (the primary); add one as SMTP:, the others as smtp:".into(),
                ));
            }
            let mut list = current.to_vec();
            for r in &remove {
                let Some(i) = list.iter().position(|p| p.same(r)) else {
                    return Err(list_err(format!(
                        "{r} isn't one of its addresses (Get-Recipient shows its EmailAddresses)"
                    )));
                };
                if list[i].is_primary_smtp() && !add.iter().any(ProxyAddress::is_primary_smtp) {
                    return Err(list_err(format!(
                        "{} is the primary SMTP address and can't be removed; make another address primary first (Add=\"SMTP:other@domain\", or -PrimarySmtpAddress)",
                        list[i]
                    )));
                }
                list.remove(i);
            }
            for a in add {
                list = with_added(list, a);
            }
            list
        }
        AddressChange::Primary(raw) => {
            let p = ProxyAddress::parse(raw)?;
            if !p.is_smtp() {
                return Err(ExchangeError::InvalidProxyAddress {
                    address: raw.chars().take(80).collect(),
                    why: "a primary SMTP address is an SMTP address".into(),
                });
            }
            with_added(current.to_vec(), p.promoted())
        }
    };
    for (i, a) in list.iter().enumerate() {
        if list[..i].iter().any(|b| b.same(a)) {
            return Err(list_err(format!("{a} is given twice")));
        }
    }
    if list.len() > MAX_PROXY_ADDRESSES {
        return Err(list_err(format!(
            "it would have {} addresses; a recipient has at most {MAX_PROXY_ADDRESSES}",
            list.len()
        )));
    }
    if !list.iter().any(ProxyAddress::is_primary_smtp) {
        return Err(list_err(
            "it would have no primary SMTP address; a mail-enabled recipient needs one".into(),
        ));
    }
    // the primary first, the others in their order
    list.sort_by_key(|p| !p.is_primary_smtp());
    Ok(list)
}

/// `list` with `a` added: an `SMTP:` address becomes the primary (the old primary stays as
/// `smtp:`); an address already there stays where it is (promoted if `a` is `SMTP:`).
fn with_added(list: Vec<ProxyAddress>, a: ProxyAddress) -> Vec<ProxyAddress> {
    let primary = a.is_primary_smtp();
    let mut out: Vec<ProxyAddress> = list
        .into_iter()
        .map(|p| {
            if p.same(&a) {
                if primary { p.promoted() } else { p }
            } else if primary {
                p.demoted()
            } else {
                p
            }
        })
        .collect();
    if !out.iter().any(|p| p.same(&a)) {
        out.push(a);
    }
    out
}

fn random_sid() -> String {
    let mut b = [0u8; 12];
    let _ = aws_lc_rs_fill(&mut b);
    let n = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    format!(
        "s-1-5-21-{}-{}-{}-{}",
        n(0),
        n(4),
        n(8) % 100000,
        1000 + (n(0) % 9000)
    )
}

fn aws_lc_rs_fill(b: &mut [u8]) -> Result<(), ()> {
    use rand::RngCore;
    rand::rng().fill_bytes(b);
    Ok(())
}

/// Parameters of New-Mailbox / New-MailUser.
#[derive(Debug, Clone, Default)]
pub struct NewRecipient {
    pub name: String,
    pub alias: Option<String>,
    pub primary_smtp: Option<String>,
    pub external_email: Option<String>,
    pub upn: Option<String>,
    pub sip: Option<String>,
    pub netid: Option<String>,
    /// `RoomMailbox` or `EquipmentMailbox` for a resource mailbox.
    pub details: Option<&'static str>,
    /// Whether its account may sign in (a resource mailbox's is disabled unless asked).
    pub disabled: bool,
}

/// Parameters of New-DistributionGroup.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub name: String,
    pub alias: Option<String>,
    pub primary_smtp: Option<String>,
    /// Identities of the first members.
    pub members: Vec<String>,
    /// A room list (`-RoomList`): its members are room mailboxes only.
    pub room_list: bool,
}

impl Org {
    pub fn open(db: Db, org_domain: &str) -> Self {
        Org {
            db,
            domain_for_identity: org_domain.to_owned(),
        }
    }

    // ---------- accepted domains ----------

    pub fn add_accepted_domain(
        c: &Connection,
        domain: &str,
        default: bool,
    ) -> Result<AcceptedDomain, ExchangeError> {
        if !domain.contains('.')
            || domain.len() > 253
            || domain
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        {
            return Err(ExchangeError::Invalid(format!(
                "'{domain}' is not a DNS domain name"
            )));
        }
        let exists: Option<String> = c
            .query_row(
                "SELECT domain FROM accepted_domains WHERE domain = ?1",
                [domain],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(ExchangeError::AlreadyExists(format!(
                "accepted domain {domain}"
            )));
        }
        if default {
            c.execute("UPDATE accepted_domains SET is_default = 0", [])?;
        }
        c.execute(
            "INSERT INTO accepted_domains (domain, name, is_default) VALUES (?1, ?1, ?2)",
            params![domain, default],
        )?;
        Ok(AcceptedDomain {
            name: domain.to_owned(),
            domain_name: domain.to_owned(),
            default,
            domain_type: "Authoritative",
        })
    }

    pub fn accepted_domains(c: &Connection) -> Result<Vec<AcceptedDomain>, ExchangeError> {
        let mut st =
            c.prepare("SELECT domain, is_default FROM accepted_domains ORDER BY domain")?;
        let rows = st.query_map([], |r| {
            let d: String = r.get(0)?;
            Ok(AcceptedDomain {
                name: d.clone(),
                domain_name: d,
                default: r.get(1)?,
                domain_type: "Authoritative",
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Is `domain` one of the organization's accepted domains (ASCII case ignored)?
    pub fn is_accepted_domain(c: &Connection, domain: &str) -> Result<bool, ExchangeError> {
        let found: Option<i64> = c
            .query_row(
                "SELECT 1 FROM accepted_domains WHERE domain = ?1",
                [domain],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    fn require_accepted(c: &Connection, what: &str, addr: &str) -> Result<(), ExchangeError> {
        let domain = domain_of(addr).ok_or_else(|| {
            ExchangeError::Invalid(format!("{what} '{addr}' is not an SMTP address"))
        })?;
        let found: Option<String> = c
            .query_row(
                "SELECT domain FROM accepted_domains WHERE domain = ?1",
                [domain],
                |r| r.get(0),
            )
            .optional()?;
        if found.is_none() {
            return Err(ExchangeError::NotAcceptedDomain {
                what: format!("{what} {addr}"),
                domain: domain.to_owned(),
            });
        }
        Ok(())
    }

    // ---------- recipients ----------

    pub fn new_recipient(
        &self,
        c: &Connection,
        kind: &str,
        p: NewRecipient,
        now: i64,
    ) -> Result<Recipient, ExchangeError> {
        let name = p.name.trim();
        let alias = p.alias.clone().unwrap_or_else(|| name.replace(' ', ""));
        Self::check_name_and_alias(c, name, &alias)?;
        for (what, a) in [
            ("-PrimarySmtpAddress", &p.primary_smtp),
            ("-ExternalEmailAddress", &p.external_email),
            ("-UserPrincipalName", &p.upn),
            ("-SipAddress", &p.sip),
        ] {
            if let Some(a) = a
                && !valid_smtp(a.trim_start_matches("sip:"))
            {
                return Err(ExchangeError::Invalid(format!(
                    "{what} '{a}' is not a valid address (user@domain)"
                )));
            }
        }
        if let Some(smtp) = &p.primary_smtp {
            Self::require_accepted(c, "primary SMTP address", smtp)?;
        }
        // a mail user's primary address is its external one unless -PrimarySmtpAddress is given
        // (New-MailUser); that one is exempt from the accepted domains
        let primary = match (&p.primary_smtp, kind) {
            (Some(a), _) => Some(a.clone()),
            (None, "MailUser") => p.external_email.clone(),
            (None, _) => None,
        };
        for (col, v) in [("upn", &p.upn), ("sip", &p.sip)] {
            if let Some(v) = v {
                let taken: Option<String> = c
                    .query_row(
                        &format!("SELECT name FROM recipients WHERE {col} = ?1"),
                        [v],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(other) = taken {
                    return Err(ExchangeError::AlreadyExists(format!(
                        "address {v} (used by '{other}')"
                    )));
                }
            }
        }
        let addresses: Vec<ProxyAddress> =
            primary.iter().map(|a| ProxyAddress::primary(a)).collect();
        Self::check_unique(c, &addresses, None)?;
        let guid = uuid::Uuid::new_v4().to_string();
        c.execute(
            "INSERT INTO recipients (guid, name, kind, alias, primary_smtp, upn, sip, external_email, hidden, sid, netid, enabled, created, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12, ?13)",
            params![
                guid,
                name,
                kind,
                alias,
                primary,
                p.upn,
                p.sip.as_ref().map(|s| s.trim_start_matches("sip:").to_owned()),
                p.external_email,
                random_sid(),
                p.netid,
                kind == "UserMailbox" && !p.disabled,
                now,
                p.details
            ],
        )?;
        Self::write_addresses(c, &guid, &addresses)?;
        self.get_recipient(c, &guid)
    }

    /// Resolves an identity: GUID, Name, alias, `<domain>/Users/<name>`, or an address.
    /// The address-list entries a name resolves to (EWS ResolveNames), as Exchange's ambiguous
    /// name resolution does: an exact address, any of a recipient's SMTP proxy addresses
    /// (`SMTP:`/`smtp:` prefix allowed), or the start of a display name, alias, primary SMTP
    /// address or UPN, case-insensitively; distribution groups among them. Recipients hidden
    /// from address lists (the partner applications' mail users among them) and disabled ones
    /// are never listed. At most `limit`, by name.
    pub fn resolve_names(
        &self,
        c: &Connection,
        entry: &str,
        limit: usize,
    ) -> Result<Vec<Recipient>, ExchangeError> {
        let exact = bare_smtp(entry.trim());
        // LIKE with its wildcards escaped: the entry is text, not a pattern
        let mut prefix = String::with_capacity(exact.len() + 1);
        for ch in exact.chars() {
            if matches!(ch, '%' | '_' | '\\') {
                prefix.push('\\');
            }
            prefix.push(ch);
        }
        prefix.push('%');
        let mut st = c.prepare_cached(concat!(
            "SELECT ",
            recipient_columns!(),
            " FROM recipients WHERE hidden = 0 AND (enabled = 1 OR details IS NOT NULL) AND (primary_smtp = ?1 \
             OR guid = (SELECT recipient FROM proxy_addresses WHERE kind = 'SMTP' AND address = ?1) \
             OR name LIKE ?2 ESCAPE '\\' OR alias LIKE ?2 ESCAPE '\\' \
             OR primary_smtp LIKE ?2 ESCAPE '\\' OR upn LIKE ?2 ESCAPE '\\') \
             ORDER BY name COLLATE NOCASE LIMIT ?3"
        ))?;
        let dom = self.domain_for_identity.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let found = st
            .query_map(params![exact, prefix, limit], |r| {
                recipient_from_row(r, &dom)
            })?
            .collect::<Result<_, _>>()?;
        Ok(found)
    }

    pub fn get_recipient(
        &self,
        c: &Connection,
        identity: &str,
    ) -> Result<Recipient, ExchangeError> {
        let id = identity.trim();
        let id = id.rsplit_once("/Users/").map(|(_, n)| n).unwrap_or(id);
        let mut st = c.prepare_cached(
            concat!(
                "SELECT ",
                recipient_columns!(),
                " FROM recipients WHERE guid = ?1 OR name = ?1 COLLATE NOCASE OR alias = ?1 COLLATE NOCASE
                 OR primary_smtp = ?1 OR upn = ?1 OR sip = ?1 OR external_email = ?1 COLLATE NOCASE
                 OR guid = (SELECT recipient FROM proxy_addresses WHERE kind = 'SMTP' AND address = ?1) LIMIT 2"
            ),
        )?;
        let dom = self.domain_for_identity.clone();
        let found: Vec<Recipient> = st
            .query_map([id], |r| recipient_from_row(r, &dom))?
            .collect::<Result<_, _>>()?;
        match found.len() {
            0 => Err(ExchangeError::NotFound(identity.to_owned())),
            1 => Ok(found
                .into_iter()
                .next()
                .ok_or_else(|| ExchangeError::NotFound(identity.to_owned()))?),
            _ => Err(ExchangeError::Ambiguous(identity.to_owned())),
        }
    }

    pub fn list_recipients(
        &self,
        c: &Connection,
        kind: Option<&str>,
    ) -> Result<Vec<Recipient>, ExchangeError> {
        let mut st = c.prepare(concat!(
            "SELECT ",
            recipient_columns!(),
            " FROM recipients WHERE (?1 IS NULL OR kind = ?1) ORDER BY name"
        ))?;
        let dom = self.domain_for_identity.clone();
        let rows = st.query_map([kind], |r| recipient_from_row(r, &dom))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_hidden(
        &self,
        c: &Connection,
        identity: &str,
        hidden: bool,
    ) -> Result<Recipient, ExchangeError> {
        let r = self.get_recipient(c, identity)?;
        c.execute(
            "UPDATE recipients SET hidden = ?1 WHERE guid = ?2",
            params![hidden, r.guid],
        )?;
        self.get_recipient(c, &r.guid)
    }

    /// `-MailTip`: the custom mail tip of any recipient; an empty one (or only spaces) removes
    /// it. Longer than [`MAX_MAIL_TIP_CHARS`] characters, or with control characters other than
    /// line breaks, is refused.
    pub fn set_mail_tip(
        &self,
        c: &Connection,
        identity: &str,
        tip: Option<&str>,
    ) -> Result<Recipient, ExchangeError> {
        let tip = tip.map(str::trim).filter(|t| !t.is_empty());
        if let Some(t) = tip {
            let n = t.chars().count();
            if n > MAX_MAIL_TIP_CHARS {
                return Err(ExchangeError::Invalid(format!(
                    "-MailTip is {n} characters long; a mail tip has at most {MAX_MAIL_TIP_CHARS}"
                )));
            }
            if t.chars()
                .any(|ch| ch.is_control() && ch != '\n' && ch != '\r')
            {
                return Err(ExchangeError::Invalid(
                    "-MailTip has a control character; give text (line breaks allowed)".into(),
                ));
            }
        }
        let r = self.get_recipient(c, identity)?;
        c.execute(
            "UPDATE recipients SET mail_tip = ?1 WHERE guid = ?2",
            params![tip, r.guid],
        )?;
        self.get_recipient(c, &r.guid)
    }

    /// A mailbox's calendar processing (its row, or its kind's defaults).
    pub fn calendar_processing(
        &self,
        c: &Connection,
        mailbox: &Recipient,
    ) -> Result<CalendarProcessing, ExchangeError> {
        let mut p = CalendarProcessing::default_for(mailbox);
        let row = c
            .prepare_cached(
                "SELECT automate, allow_conflicts, booking_window_days, max_duration_minutes, allow_recurring \
                 FROM calendar_processing WHERE guid = ?1",
            )?
            .query_row([&mailbox.guid], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })
            .optional()?;
        if let Some((automate, conflicts, window, duration, recurring)) = row {
            p.automate_processing = if automate == "AutoAccept" {
                "AutoAccept"
            } else {
                "AutoUpdate"
            };
            p.allow_conflicts = conflicts;
            p.booking_window_in_days = window;
            p.maximum_duration_in_minutes = duration;
            p.allow_recurring_meetings = recurring;
        }
        Ok(p)
    }

    /// `Set-CalendarProcessing`: changes what it is given of a mailbox's processing, each value
    /// checked first (nothing is written on a refusal).
    pub fn set_calendar_processing(
        &self,
        c: &Connection,
        identity: &str,
        s: &SetCalendarProcessing,
    ) -> Result<CalendarProcessing, ExchangeError> {
        let r = self.get_recipient(c, identity)?;
        if !r.is_mailbox() {
            return Err(ExchangeError::WrongRecipientType {
                identity: identity.to_owned(),
                found: r.recipient_type_details,
                expected: "mailbox (calendar processing is a mailbox's)",
            });
        }
        let mut p = self.calendar_processing(c, &r)?;
        if let Some(a) = &s.automate_processing {
            p.automate_processing = match a.trim() {
                x if x.eq_ignore_ascii_case("AutoAccept") => "AutoAccept",
                x if x.eq_ignore_ascii_case("AutoUpdate") => "AutoUpdate",
                x if x.eq_ignore_ascii_case("None") => {
                    return Err(ExchangeError::Invalid(
                        "-AutomateProcessing None is not supported: this server always places a meeting request on the calendar as tentative (AutoUpdate); give AutoUpdate or AutoAccept".into(),
                    ));
                }
                x => {
                    return Err(ExchangeError::Invalid(format!(
                        "-AutomateProcessing '{}' is not one of AutoUpdate, AutoAccept",
                        x.chars().take(40).collect::<String>()
                    )));
                }
            };
        }
        if let Some(v) = s.allow_conflicts {
            p.allow_conflicts = v;
        }
        if let Some(v) = s.allow_recurring_meetings {
            p.allow_recurring_meetings = v;
        }
        if let Some(d) = s.booking_window_in_days {
            p.booking_window_in_days = u32::try_from(d)
                .ok()
                .filter(|d| (1..=MAX_BOOKING_WINDOW_DAYS).contains(d))
                .ok_or_else(|| {
                    ExchangeError::Invalid(format!(
                        "-BookingWindowInDays {d} is not between 1 and {MAX_BOOKING_WINDOW_DAYS}"
                    ))
                })?;
        }
        if let Some(m) = s.maximum_duration_in_minutes {
            p.maximum_duration_in_minutes = u32::try_from(m)
                .ok()
                .filter(|m| i32::try_from(*m).is_ok())
                .ok_or_else(|| {
                    ExchangeError::Invalid(format!(
                        "-MaximumDurationInMinutes {m} is not between 0 (any length) and 2147483647"
                    ))
                })?;
        }
        c.execute(
            "INSERT OR REPLACE INTO calendar_processing \
             (guid, automate, allow_conflicts, booking_window_days, max_duration_minutes, allow_recurring) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                r.guid,
                p.automate_processing,
                p.allow_conflicts,
                p.booking_window_in_days,
                p.maximum_duration_in_minutes,
                p.allow_recurring_meetings
            ],
        )?;
        Ok(p)
    }

    /// The room lists on the address list (EWS GetRoomLists), by name.
    pub fn room_lists(&self, c: &Connection) -> Result<Vec<Recipient>, ExchangeError> {
        let mut st = c.prepare_cached(concat!(
            "SELECT ",
            recipient_columns!(),
            " FROM recipients WHERE details = 'RoomList' AND hidden = 0 ORDER BY name COLLATE NOCASE"
        ))?;
        let dom = self.domain_for_identity.clone();
        let rows = st.query_map([], |r| recipient_from_row(r, &dom))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_enabled(
        &self,
        c: &Connection,
        identity: &str,
        enabled: bool,
    ) -> Result<Recipient, ExchangeError> {
        let r = self.get_recipient(c, identity)?;
        c.execute(
            "UPDATE recipients SET enabled = ?1 WHERE guid = ?2",
            params![enabled, r.guid],
        )?;
        self.get_recipient(c, &r.guid)
    }

    /// The mailbox a user claim names, if exactly one does.
    pub fn mailbox_by(
        &self,
        c: &Connection,
        column: &str,
        value: &str,
    ) -> Result<Option<Recipient>, ExchangeError> {
        let col = match column {
            "smtp" => "primary_smtp",
            "upn" => "upn",
            "sip" => "sip",
            "sid" => "sid",
            "netid" => "netid",
            "guid" => "guid",
            _ => return Ok(None),
        };
        let v = claim_value(column, value);
        let mut st = c.prepare_cached(&format!(
            concat!(
                "SELECT ",
                recipient_columns!(),
                " FROM recipients WHERE kind = 'UserMailbox' AND {} = ?1 COLLATE NOCASE LIMIT 2"
            ),
            col
        ))?;
        let dom = self.domain_for_identity.clone();
        let found: Vec<Recipient> = st
            .query_map([v], |r| recipient_from_row(r, &dom))?
            .collect::<Result<_, _>>()?;
        if found.len() > 1 {
            return Err(ExchangeError::Ambiguous(value.to_owned()));
        }
        Ok(found.into_iter().next())
    }

    /// The mailbox a token's user claims name ([`crate::auth::user_lookups`]: `(kind, value)` in
    /// precedence order), in one statement: what [`Org::mailbox_by`] for each claim in turn
    /// would find, with the same refusals (the columns other than netid are `COLLATE NOCASE`,
    /// which compares as `eq_ignore_ascii_case` does). A claim that matches two mailboxes is
    /// [`ExchangeError::Ambiguous`]; two claims naming different mailboxes are
    /// [`AuthFailure::UserConflict`] (the first two, in order); claims that match nothing are
    /// passed over, and `None` means none matched.
    pub fn mailbox_by_claims(
        &self,
        c: &Connection,
        lookups: &[(&str, String)],
    ) -> Result<Option<Recipient>, ExchangeError> {
        const KINDS: [&str; 5] = ["smtp", "upn", "sip", "sid", "netid"];
        let params: [Option<&str>; 5] = KINDS.map(|kind| {
            lookups
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(k, v)| claim_value(k, v))
        });
        let mut st = c.prepare_cached(MAILBOX_BY_CLAIMS)?;
        let dom = self.domain_for_identity.clone();
        let mut found: Vec<Recipient> = st
            .query_map(params, |r| recipient_from_row(r, &dom))?
            .collect::<Result<_, _>>()?;
        // Only netid is not unique: should the limit be reached, the rows seen may not be all
        // that matter, and each claim is looked up on its own.
        if found.len() >= 10 {
            return self.mailbox_by_each(c, lookups);
        }
        // a mailbox two claims name came once per claim
        found.sort_unstable_by(|a, b| a.guid.cmp(&b.guid));
        found.dedup_by(|a, b| a.guid == b.guid);
        first_user(lookups, |kind, raw| {
            let v = claim_value(kind, raw);
            let mut matching = found
                .iter()
                .filter(|r| r.claim(kind).is_some_and(|c| c.eq_ignore_ascii_case(v)));
            match (matching.next(), matching.next()) {
                (Some(_), Some(_)) => Err(ExchangeError::Ambiguous(raw.to_owned())),
                (r, _) => Ok(r.map(Cow::Borrowed)),
            }
        })
    }

    /// [`Org::mailbox_by_claims`] one claim at a time.
    fn mailbox_by_each(
        &self,
        c: &Connection,
        lookups: &[(&str, String)],
    ) -> Result<Option<Recipient>, ExchangeError> {
        first_user(lookups, |kind, v| {
            Ok(self.mailbox_by(c, kind, v)?.map(Cow::Owned))
        })
    }

    // ---------- proxy addresses and distribution groups ----------

    /// A recipient's Name (1-64 characters, no control characters, slashes or quotes, unique
    /// among recipients) and Alias (1-64 characters, no control characters or whitespace).
    fn check_name_and_alias(c: &Connection, name: &str, alias: &str) -> Result<(), ExchangeError> {
        if name.is_empty()
            || name.len() > 64
            || name.chars().any(|c| c.is_control() || "/\\\"".contains(c))
        {
            return Err(ExchangeError::Invalid(format!(
                "name '{}' must be 1-64 characters without control characters, slashes or quotes",
                name.chars().take(80).collect::<String>()
            )));
        }
        if alias.is_empty()
            || alias.len() > 64
            || alias.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ExchangeError::Invalid(format!(
                "alias '{}' must be 1-64 characters without spaces or control characters",
                alias.chars().take(80).collect::<String>()
            )));
        }
        let exists: Option<String> = c
            .query_row("SELECT guid FROM recipients WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(ExchangeError::AlreadyExists(format!("recipient '{name}'")));
        }
        Ok(())
    }

    /// Each address is nobody else's ([`ExchangeError::ProxyAddressInUse`] names who has it, and
    /// the address as they have it); `owner` is the recipient they are for, once it exists.
    fn check_unique(
        c: &Connection,
        addresses: &[ProxyAddress],
        owner: Option<&str>,
    ) -> Result<(), ExchangeError> {
        let mut st = c.prepare_cached(
            "SELECT r.name, p.prefix || ':' || p.address FROM proxy_addresses p
             JOIN recipients r ON r.guid = p.recipient
             WHERE p.kind = ?1 AND p.address = ?2 AND p.recipient IS NOT ?3",
        )?;
        for a in addresses {
            let taken: Option<(String, String)> = st
                .query_row(params![a.kind, a.address, owner], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((holder, address)) = taken {
                return Err(ExchangeError::ProxyAddressInUse { address, holder });
            }
        }
        Ok(())
    }

    /// Replaces the recipient's proxy addresses with `addresses` (checked: unique, one primary
    /// SMTP address) and sets its primary SMTP address to theirs.
    fn write_addresses(
        c: &Connection,
        guid: &str,
        addresses: &[ProxyAddress],
    ) -> Result<(), ExchangeError> {
        c.execute("DELETE FROM proxy_addresses WHERE recipient = ?1", [guid])?;
        let mut st = c.prepare_cached(
            "INSERT INTO proxy_addresses (kind, address, recipient, prefix, position) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (i, a) in addresses.iter().enumerate() {
            st.execute(params![a.kind, a.address, guid, a.prefix, i as i64])?;
        }
        let primary = addresses
            .iter()
            .find(|a| a.is_primary_smtp())
            .map(|a| a.address.as_str());
        c.execute(
            "UPDATE recipients SET primary_smtp = ?1 WHERE guid = ?2",
            params![primary, guid],
        )?;
        Ok(())
    }

    /// The recipient's proxy addresses, in order.
    fn addresses_of(r: &Recipient) -> Vec<ProxyAddress> {
        r.email_addresses
            .iter()
            .filter_map(|a| {
                let (prefix, address) = a.split_once(':')?;
                Some(ProxyAddress {
                    kind: prefix.to_ascii_uppercase(),
                    prefix: prefix.to_owned(),
                    address: address.to_owned(),
                })
            })
            .collect()
    }

    /// Set-Mailbox/Set-MailUser/Set-DistributionGroup `-EmailAddresses` or `-PrimarySmtpAddress`:
    /// the list [`changed_addresses`] makes, each SMTP address in an accepted domain (a mail
    /// user's external address excepted, as Exchange's email address policies leave it) and
    /// nobody else's.
    pub fn set_email_addresses(
        &self,
        c: &Connection,
        r: &Recipient,
        change: &AddressChange,
    ) -> Result<Recipient, ExchangeError> {
        let current = Self::addresses_of(r);
        let list = changed_addresses(&r.name, &current, change)?;
        let external = r.external_email_address.as_deref().map(bare_smtp);
        for a in list.iter().filter(|a| a.is_smtp()) {
            let exempt =
                r.is_mail_user() && external.is_some_and(|e| e.eq_ignore_ascii_case(&a.address));
            if !exempt {
                Self::require_accepted(c, "the email address", &a.address)?;
            }
        }
        Self::check_unique(c, &list, Some(&r.guid))?;
        Self::write_addresses(c, &r.guid, &list)?;
        self.get_recipient(c, &r.guid)
    }

    /// The recipient (any kind) one of whose SMTP proxy addresses is `address` (an `SMTP:`
    /// prefix allowed), ASCII case ignored.
    pub fn recipient_by_smtp(
        &self,
        c: &Connection,
        address: &str,
    ) -> Result<Option<Recipient>, ExchangeError> {
        let mut st = c.prepare_cached(concat!(
            "SELECT ",
            recipient_columns!(),
            " FROM recipients WHERE guid = (SELECT recipient FROM proxy_addresses WHERE kind = 'SMTP' AND address = ?1)"
        ))?;
        let dom = self.domain_for_identity.clone();
        Ok(st
            .query_row([bare_smtp(address.trim())], |r| recipient_from_row(r, &dom))
            .optional()?)
    }

    /// The mailbox one of whose SMTP proxy addresses is `address` (Autodiscover, ExchangeImpersonation
    /// by `t:SmtpAddress`); a recipient of another kind is `None`.
    pub fn mailbox_by_smtp(
        &self,
        c: &Connection,
        address: &str,
    ) -> Result<Option<Recipient>, ExchangeError> {
        Ok(self
            .recipient_by_smtp(c, address)?
            .filter(Recipient::is_mailbox))
    }

    /// New-DistributionGroup: a mail-enabled universal distribution group with its primary SMTP
    /// address (`-PrimarySmtpAddress`, else `<alias>@<default accepted domain>`) and members.
    pub fn new_group(
        &self,
        c: &Connection,
        g: NewGroup,
        now: i64,
    ) -> Result<Recipient, ExchangeError> {
        let name = g.name.trim();
        let alias = g.alias.clone().unwrap_or_else(|| name.replace(' ', ""));
        Self::check_name_and_alias(c, name, &alias)?;
        let primary = match g.primary_smtp {
            Some(a) => {
                let p = ProxyAddress::parse(&a)?;
                if !p.is_smtp() {
                    return Err(ExchangeError::InvalidProxyAddress {
                        address: a.chars().take(80).collect(),
                        why: "a primary SMTP address is an SMTP address".into(),
                    });
                }
                p.address
            }
            None => {
                let domain: Option<String> = c
                    .query_row(
                        "SELECT domain FROM accepted_domains ORDER BY is_default DESC, domain LIMIT 1",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(domain) = domain else {
                    return Err(ExchangeError::Invalid(
                        "the organization has no accepted domain; add one with New-AcceptedDomain, or give -PrimarySmtpAddress".into(),
                    ));
                };
                let a = format!("{alias}@{domain}");
                if !valid_smtp(&a) {
                    return Err(ExchangeError::InvalidProxyAddress {
                        address: a.chars().take(80).collect(),
                        why: "the alias makes no SMTP address; give -PrimarySmtpAddress".into(),
                    });
                }
                a
            }
        };
        Self::require_accepted(c, "primary SMTP address", &primary)?;
        let addresses = [ProxyAddress::primary(&primary)];
        Self::check_unique(c, &addresses, None)?;
        if g.members.len() > MAX_GROUP_MEMBERS {
            return Err(ExchangeError::TooManyMembers {
                group: name.to_owned(),
                count: g.members.len(),
                max: MAX_GROUP_MEMBERS,
            });
        }
        let guid = uuid::Uuid::new_v4().to_string();
        c.execute(
            "INSERT INTO recipients (guid, name, kind, alias, primary_smtp, hidden, sid, enabled, created, details)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 1, ?7, ?8)",
            params![
                guid,
                name,
                GROUP,
                alias,
                primary,
                random_sid(),
                now,
                g.room_list.then_some(ROOM_LIST)
            ],
        )?;
        Self::write_addresses(c, &guid, &addresses)?;
        let group = self.get_recipient(c, &guid)?;
        for m in &g.members {
            self.add_group_member(c, &group, m)?;
        }
        Ok(group)
    }

    /// The distribution group `identity` names ([`ExchangeError::WrongRecipientType`] for
    /// another recipient).
    pub fn get_group(&self, c: &Connection, identity: &str) -> Result<Recipient, ExchangeError> {
        let r = self.get_recipient(c, identity)?;
        if !r.is_group() {
            return Err(ExchangeError::WrongRecipientType {
                identity: identity.to_owned(),
                found: r.recipient_type,
                expected: "distribution group",
            });
        }
        Ok(r)
    }

    /// Add-DistributionGroupMember: `member` (a mailbox, mail user or group) joins `group`.
    pub fn add_group_member(
        &self,
        c: &Connection,
        group: &Recipient,
        member: &str,
    ) -> Result<(), ExchangeError> {
        let m = self.get_recipient(c, member)?;
        if m.guid == group.guid {
            return Err(ExchangeError::SelfMember {
                group: group.name.clone(),
            });
        }
        if group.is_room_list() && !m.is_room() {
            return Err(ExchangeError::WrongRecipientType {
                identity: member.to_owned(),
                found: m.recipient_type_details,
                expected: "room mailbox (a room list holds room mailboxes only)",
            });
        }
        let count: i64 = c.query_row(
            "SELECT COUNT(*) FROM group_members WHERE group_guid = ?1",
            [&group.guid],
            |r| r.get(0),
        )?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count >= MAX_GROUP_MEMBERS {
            return Err(ExchangeError::TooManyMembers {
                group: group.name.clone(),
                count: count.saturating_add(1),
                max: MAX_GROUP_MEMBERS,
            });
        }
        let added = c.execute(
            "INSERT OR IGNORE INTO group_members (group_guid, member) VALUES (?1, ?2)",
            params![group.guid, m.guid],
        )?;
        if added == 0 {
            return Err(ExchangeError::AlreadyMember {
                member: m.name,
                group: group.name.clone(),
            });
        }
        Ok(())
    }

    /// Remove-DistributionGroupMember.
    pub fn remove_group_member(
        &self,
        c: &Connection,
        group: &Recipient,
        member: &str,
    ) -> Result<(), ExchangeError> {
        let m = self.get_recipient(c, member)?;
        let removed = c.execute(
            "DELETE FROM group_members WHERE group_guid = ?1 AND member = ?2",
            params![group.guid, m.guid],
        )?;
        if removed == 0 {
            return Err(ExchangeError::NotMember {
                member: m.name,
                group: group.name.clone(),
            });
        }
        Ok(())
    }

    /// Remove-DistributionGroup: the group, its addresses, its memberships (its own members and
    /// its place in other groups) go.
    pub fn remove_group(&self, c: &Connection, group: &Recipient) -> Result<(), ExchangeError> {
        c.execute("DELETE FROM recipients WHERE guid = ?1", [&group.guid])?;
        Ok(())
    }

    /// A group's direct members, by name (Get-DistributionGroupMember, ExpandDL).
    pub fn group_members(
        &self,
        c: &Connection,
        group_guid: &str,
    ) -> Result<Vec<Recipient>, ExchangeError> {
        let mut st = c.prepare_cached(concat!(
            "SELECT ",
            recipient_columns!(),
            " FROM recipients WHERE guid IN (SELECT member FROM group_members WHERE group_guid = ?1) ORDER BY name COLLATE NOCASE"
        ))?;
        let dom = self.domain_for_identity.clone();
        let rows = st.query_map([group_guid], |r| recipient_from_row(r, &dom))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The recipients mail to `group` reaches that are not in `seen` yet (each is added to it):
    /// its members, and the members of the groups among them, recursively; each group opened
    /// once, so a cycle ends; groups themselves are not listed. `counted` recipients of the
    /// message are counted already: past `limit` in all, or past [`MAX_GROUPS_EXPANDED`] groups
    /// opened, it is [`ExchangeError::TooManyRecipients`].
    pub fn expand_group(
        &self,
        c: &Connection,
        group: &Recipient,
        seen: &mut std::collections::HashSet<String>,
        counted: usize,
        limit: usize,
    ) -> Result<Vec<Recipient>, ExchangeError> {
        let mut opened = std::collections::HashSet::from([group.guid.clone()]);
        let mut queue = std::collections::VecDeque::from([group.guid.clone()]);
        let mut out = Vec::new();
        while let Some(g) = queue.pop_front() {
            for m in self.group_members(c, &g)? {
                if m.is_group() {
                    if opened.insert(m.guid.clone()) {
                        if opened.len() > MAX_GROUPS_EXPANDED {
                            return Err(ExchangeError::TooManyRecipients {
                                max: limit,
                                why: format!(
                                    "the distribution group '{}' nests more than {MAX_GROUPS_EXPANDED} groups",
                                    group.name
                                ),
                            });
                        }
                        queue.push_back(m.guid);
                    }
                } else if seen.insert(m.guid.clone()) {
                    out.push(m);
                    if counted + out.len() > limit {
                        return Err(ExchangeError::TooManyRecipients {
                            max: limit,
                            why: format!(
                                "the distribution group '{}' expands to members past that, its nested groups' included",
                                group.name
                            ),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    // ---------- RBAC ----------

    pub fn new_role_assignment(
        &self,
        c: &Connection,
        role: &str,
        user: &str,
        scope: Option<&str>,
        now: i64,
    ) -> Result<RoleAssignment, ExchangeError> {
        let scope = match scope {
            Some(s) => Some(
                c.query_row(
                    "SELECT name FROM management_scopes WHERE name = ?1",
                    [s],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
                .ok_or_else(|| {
                    ExchangeError::NotFound(format!(
                        "management scope '{s}' (create it with New-ManagementScope)"
                    ))
                })?,
            ),
            None => None,
        };
        let role = canonical_role(role).ok_or_else(|| {
            ExchangeError::NotFound(format!(
                "management role '{role}' (known roles: {})",
                ROLES.iter().map(|(r, _)| *r).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let r = self.get_recipient(c, user)?;
        if r.is_group() {
            return Err(ExchangeError::WrongRecipientType {
                identity: user.to_owned(),
                found: r.recipient_type,
                expected: "user (a role is assigned to a mailbox or mail user)",
            });
        }
        let existing: Option<String> = c
            .query_row(
                "SELECT name FROM role_assignments WHERE role = ?1 AND user_guid = ?2",
                params![role, r.guid],
                |x| x.get(0),
            )
            .optional()?;
        if let Some(n) = existing {
            return Err(ExchangeError::AlreadyExists(format!(
                "role assignment '{n}' of {role} to {}",
                r.name
            )));
        }
        let name: String = format!("{role}-{}", r.name).chars().take(64).collect();
        let guid = uuid::Uuid::new_v4().to_string();
        c.execute(
            "INSERT INTO role_assignments (guid, name, role, user_guid, created, scope) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![guid, name, role, r.guid, now, scope],
        )?;
        Ok(RoleAssignment {
            identity: name.clone(),
            name,
            role: role.to_owned(),
            role_assignee: r.name,
            role_assignee_type: "User",
            enabled: true,
            recipient_write_scope: if scope.is_some() {
                "CustomRecipientScope"
            } else {
                "Organization"
            },
            custom_recipient_write_scope: scope,
            guid,
        })
    }

    pub fn role_assignments(
        &self,
        c: &Connection,
        role: Option<&str>,
        user: Option<&str>,
    ) -> Result<Vec<RoleAssignment>, ExchangeError> {
        let user_guid = match user {
            Some(u) => Some(self.get_recipient(c, u)?.guid),
            None => None,
        };
        let role = match role {
            Some(r) => Some(
                canonical_role(r)
                    .ok_or_else(|| ExchangeError::NotFound(format!("management role '{r}'")))?,
            ),
            None => None,
        };
        let mut st = c.prepare(
            "SELECT a.guid, a.name, a.role, r.name, a.scope FROM role_assignments a JOIN recipients r ON r.guid = a.user_guid
             WHERE (?1 IS NULL OR a.role = ?1) AND (?2 IS NULL OR a.user_guid = ?2) ORDER BY a.name",
        )?;
        let rows = st.query_map(params![role, user_guid], |r| {
            let name: String = r.get(1)?;
            Ok(RoleAssignment {
                identity: name.clone(),
                name,
                guid: r.get(0)?,
                role: r.get(2)?,
                role_assignee: r.get(3)?,
                role_assignee_type: "User",
                enabled: true,
                recipient_write_scope: if r.get::<_, Option<String>>(4)?.is_some() {
                    "CustomRecipientScope"
                } else {
                    "Organization"
                },
                custom_recipient_write_scope: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn remove_role_assignment(
        &self,
        c: &Connection,
        identity: &str,
    ) -> Result<(), ExchangeError> {
        let n = c.execute(
            "DELETE FROM role_assignments WHERE name = ?1 COLLATE NOCASE OR guid = ?1",
            [identity],
        )?;
        if n == 0 {
            return Err(ExchangeError::NotFound(format!(
                "role assignment '{identity}'"
            )));
        }
        Ok(())
    }

    /// Roles held by a recipient (by GUID).
    /// The scopes of the account's ApplicationImpersonation assignments: `None` for an
    /// organization-wide one, else the scope's filter.
    pub fn impersonation_scopes_of(
        c: &Connection,
        user_guid: &str,
    ) -> Result<Vec<Option<String>>, ExchangeError> {
        let mut st = c.prepare_cached(
            "SELECT s.filter FROM role_assignments a LEFT JOIN management_scopes s ON s.name = a.scope
             WHERE a.user_guid = ?1 AND a.role = 'ApplicationImpersonation'",
        )?;
        let rows = st.query_map([user_guid], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn new_scope(
        c: &Connection,
        name: &str,
        filter: &str,
        now: i64,
    ) -> Result<serde_json::Value, ExchangeError> {
        crate::scope::Filter::parse(filter)
            .map_err(|e| ExchangeError::Invalid(format!("-RecipientRestrictionFilter: {e}")))?;
        if name.trim().is_empty() || name.len() > 64 {
            return Err(ExchangeError::Invalid(
                "-Name must be 1-64 characters".into(),
            ));
        }
        let exists: Option<String> = c
            .query_row(
                "SELECT name FROM management_scopes WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(ExchangeError::AlreadyExists(format!(
                "management scope '{name}'"
            )));
        }
        c.execute(
            "INSERT INTO management_scopes (name, filter, created) VALUES (?1, ?2, ?3)",
            params![name, filter, now],
        )?;
        Ok(
            serde_json::json!({"Name": name, "ScopeRestrictionType": "RecipientScope", "RecipientFilter": filter}),
        )
    }

    pub fn scopes(c: &Connection) -> Result<Vec<serde_json::Value>, ExchangeError> {
        let mut st = c.prepare("SELECT name, filter FROM management_scopes ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(serde_json::json!({"Name": r.get::<_, String>(0)?, "ScopeRestrictionType": "RecipientScope", "RecipientFilter": r.get::<_, String>(1)?}))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn remove_scope(c: &Connection, name: &str) -> Result<(), ExchangeError> {
        let used: i64 = c.query_row(
            "SELECT COUNT(*) FROM role_assignments WHERE scope = ?1",
            [name],
            |r| r.get(0),
        )?;
        if used > 0 {
            return Err(ExchangeError::Invalid(format!(
                "management scope '{name}' is used by {used} role assignment(s); remove them first"
            )));
        }
        if c.execute("DELETE FROM management_scopes WHERE name = ?1", [name])? == 0 {
            return Err(ExchangeError::NotFound(format!(
                "management scope '{name}'"
            )));
        }
        Ok(())
    }

    pub fn roles_of(c: &Connection, user_guid: &str) -> Result<Vec<String>, ExchangeError> {
        let mut st = c.prepare_cached("SELECT role FROM role_assignments WHERE user_guid = ?1")?;
        let rows = st.query_map([user_guid], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

pub fn setting(c: &Connection, k: &str) -> Result<Option<String>, ExchangeError> {
    Ok(
        c.query_row("SELECT v FROM settings WHERE k = ?1", [k], |r| r.get(0))
            .optional()?,
    )
}

pub fn set_setting(c: &Connection, k: &str, v: &str) -> Result<(), ExchangeError> {
    c.execute(
        "INSERT INTO settings (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        params![k, v],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mailbox_by_claims` (one statement) finds what looking each claim up in turn finds, with
    /// the same refusal, over every combination of claims against mailboxes that share, clash
    /// and differ in case; including a netid shared by more mailboxes than the statement's limit.
    #[test]
    fn one_statement_resolves_claims_as_each_lookup_in_turn() {
        let org = Org::open(Db::open_in_memory(MIGRATIONS).unwrap(), "contoso.example");
        // name, kind, smtp, upn, sip, sid, netid ("-": none)
        let mut rows = vec![
            "a UserMailbox a@x.example a@x.example a@x.example S-1-A N1".to_owned(),
            "b UserMailbox b@x.example bu@x.example - S-1-B N2".to_owned(),
            "c UserMailbox c@x.example - c@x.example S-1-C N2".to_owned(),
            "m MailUser m@x.example m@x.example - S-1-M N3".to_owned(),
        ];
        rows.extend((0..12).map(|i| format!("d UserMailbox - - - S-1-D{i} NBIG")));
        org.db
            .call_blocking(|c| -> Result<(), ExchangeError> {
                for (i, row) in rows.iter().enumerate() {
                    let f: Vec<Option<&str>> =
                        row.split(' ').map(|f| Some(f).filter(|f| *f != "-")).collect();
                    c.execute(
                        "INSERT INTO recipients (guid, name, kind, alias, primary_smtp, upn, sip, sid, netid, created)
                         VALUES (?1, ?2, ?3, ?2, ?4, ?5, ?6, ?7, ?8, 0)",
                        params![format!("g{i}"), format!("{}{i}", row.split(' ').next().unwrap_or("")), f[1], f[2], f[3], f[4], f[5], f[6]],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let options: [(&str, &[&str]); 5] = [
            (
                "smtp",
                &[
                    "a@x.example",
                    "B@X.EXAMPLE",
                    "m@x.example",
                    "nobody@x.example",
                ],
            ),
            ("upn", &["A@x.example", "bu@x.example"]),
            (
                "sip",
                &["sip:a@x.example", "c@x.example", "sip:nobody@x.example"],
            ),
            ("sid", &["s-1-b", "S-1-C", "S-1-D3"]),
            ("netid", &["N1", "n2", "NBIG", "N3"]),
        ];
        let outcome = |r: Result<Option<Recipient>, ExchangeError>| match r {
            Ok(u) => format!("{:?}", u.map(|u| u.guid)),
            Err(e) => format!("{e:?}"),
        };
        // every combination: each kind absent or one of its values
        let mut combos: Vec<Vec<(&str, String)>> = vec![vec![]];
        for (kind, values) in options {
            let mut next = Vec::new();
            for combo in &combos {
                next.push(combo.clone());
                for v in values {
                    let mut c = combo.clone();
                    c.push((kind, (*v).to_owned()));
                    next.push(c);
                }
            }
            combos = next;
        }
        let (mut found, mut refused) = (0, 0);
        for lookups in &combos {
            let (one, each) = org
                .db
                .call_blocking(|c| -> Result<_, ExchangeError> {
                    Ok((
                        outcome(org.mailbox_by_claims(c, lookups)),
                        outcome(org.mailbox_by_each(c, lookups)),
                    ))
                })
                .unwrap();
            assert_eq!(one, each, "{lookups:?}");
            found += usize::from(one.starts_with("Some"));
            refused += usize::from(!one.starts_with("Some") && one != "None");
        }
        // the table exercises all three outcomes
        assert!(
            found > 100 && refused > 100,
            "{found} found, {refused} refused"
        );
        // every claim is an index search, never a scan of the directory
        let plan: Vec<String> = org
            .db
            .call_blocking(|c| -> Result<_, ExchangeError> {
                let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {MAILBOX_BY_CLAIMS}"))?;
                let rows = st.query_map([None::<&str>; 5], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .unwrap();
        // five searches of recipients (each row's EmailAddresses is one more, of its own index)
        assert_eq!(
            plan.iter()
                .filter(|p| p.starts_with("SEARCH recipients"))
                .count(),
            5,
            "{plan:?}"
        );
        assert!(
            plan.iter()
                .filter(|p| p.starts_with("SEARCH p "))
                .all(|p| p.contains("proxy_addresses_of")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|p| p.starts_with("SCAN")), "{plan:?}");
    }

    fn proxies(list: &[&str]) -> Vec<ProxyAddress> {
        list.iter()
            .map(|a| ProxyAddress::parse(a).unwrap())
            .collect()
    }

    fn shown(list: &[ProxyAddress]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    /// `TYPE:address` as Exchange reads it, and every refusal with what was wrong.
    #[test]
    fn proxy_addresses_parse() {
        let p = ProxyAddress::parse("SMTP:Alice@Contoso.Example").unwrap();
        assert_eq!((p.kind.as_str(), p.prefix.as_str()), ("SMTP", "SMTP"));
        assert!(p.is_primary_smtp());
        let p = ProxyAddress::parse(" alias@contoso.example ").unwrap();
        assert_eq!(p.to_string(), "smtp:alias@contoso.example");
        assert_eq!(
            ProxyAddress::parse("Smtp:a@b.example").unwrap().prefix,
            "smtp"
        );
        let p = ProxyAddress::parse("X500:/o=Org/ou=Group/cn=Recipients/cn=alice").unwrap();
        assert_eq!(
            (p.kind.as_str(), p.address.as_str()),
            ("X500", "/o=Org/ou=Group/cn=Recipients/cn=alice")
        );
        assert_eq!(
            ProxyAddress::parse("sip:alice@contoso.example")
                .unwrap()
                .to_string(),
            "sip:alice@contoso.example"
        );
        for (bad, why) in [
            ("", "empty"),
            ("smtp:", "no address after the type"),
            ("smtp:not-an-address", "user@domain"),
            ("a b@contoso.example", "user@domain"),
            ("SIP:a\u{7}@x.example", "control character"),
        ] {
            let e = ProxyAddress::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        let long = format!("X500:{}", "a".repeat(MAX_PROXY_ADDRESS_LEN));
        let e = ProxyAddress::parse(&long).unwrap_err().to_string();
        assert!(e.contains("at most 1123"), "{e}");
    }

    /// The whole list, `@{Add; Remove}` and a new primary, as Set-Mailbox applies them.
    #[test]
    fn address_changes() {
        let current = proxies(&["SMTP:alice@contoso.example", "smtp:a@contoso.example"]);
        let change = |c: AddressChange| {
            changed_addresses("Alice", &current, &c)
                .map(|l| shown(&l))
                .map_err(|e| e.to_string())
        };
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        // a whole list: its SMTP: is the primary, else its first SMTP address
        assert_eq!(
            change(AddressChange::Replace(s(&[
                "x@contoso.example",
                "SMTP:y@contoso.example",
                "SIP:y@contoso.example"
            ]))),
            Ok(s(&[
                "SMTP:y@contoso.example",
                "smtp:x@contoso.example",
                "SIP:y@contoso.example"
            ]))
        );
        assert_eq!(
            change(AddressChange::Replace(s(&[
                "X500:/o=x",
                "x@contoso.example",
                "z@contoso.example"
            ]))),
            Ok(s(&[
                "SMTP:x@contoso.example",
                "X500:/o=x",
                "smtp:z@contoso.example"
            ]))
        );
        // an added SMTP: is the new primary, the old one stays as smtp:
        assert_eq!(
            change(AddressChange::Change {
                add: s(&["SMTP:new@contoso.example"]),
                remove: vec![]
            }),
            Ok(s(&[
                "SMTP:new@contoso.example",
                "smtp:alice@contoso.example",
                "smtp:a@contoso.example"
            ]))
        );
        // an added secondary that is there already changes nothing; a secondary promoted
        assert_eq!(
            change(AddressChange::Change {
                add: s(&["A@Contoso.Example"]),
                remove: vec![]
            }),
            Ok(s(&["SMTP:alice@contoso.example", "smtp:a@contoso.example"]))
        );
        assert_eq!(
            change(AddressChange::Primary("a@contoso.example".into())),
            Ok(s(&["SMTP:a@contoso.example", "smtp:alice@contoso.example"]))
        );
        // removed, any case; the primary only with a new one
        assert_eq!(
            change(AddressChange::Change {
                add: vec![],
                remove: s(&["smtp:A@CONTOSO.example"])
            }),
            Ok(s(&["SMTP:alice@contoso.example"]))
        );
        assert_eq!(
            change(AddressChange::Change {
                add: s(&["SMTP:b@contoso.example"]),
                remove: s(&["alice@contoso.example"])
            }),
            Ok(s(&["SMTP:b@contoso.example", "smtp:a@contoso.example"]))
        );
        let refused = [
            (
                AddressChange::Replace(s(&["SMTP:x@contoso.example", "SMTP:y@contoso.example"])),
                "more than one address is SMTP:",
            ),
            (AddressChange::Replace(s(&["X500:/o=x"])), "no SMTP address"),
            (
                AddressChange::Replace(s(&["x@contoso.example", "X@CONTOSO.EXAMPLE"])),
                "given twice",
            ),
            (
                AddressChange::Change {
                    add: vec![],
                    remove: s(&["alice@contoso.example"]),
                },
                "can't be removed",
            ),
            (
                AddressChange::Change {
                    add: vec![],
                    remove: s(&["nobody@contoso.example"]),
                },
                "isn't one of its addresses",
            ),
            (
                AddressChange::Change {
                    add: s(&["SMTP:x@contoso.example", "SMTP:y@contoso.example"]),
                    remove: vec![],
                },
                "more than one added address",
            ),
            (
                AddressChange::Primary("SIP:x@contoso.example".into()),
                "is an SMTP address",
            ),
            (
                AddressChange::Replace(
                    (0..=MAX_PROXY_ADDRESSES)
                        .map(|i| format!("u{i}@contoso.example"))
                        .collect(),
                ),
                "at most 100",
            ),
            (
                AddressChange::Change {
                    add: (0..MAX_PROXY_ADDRESSES)
                        .map(|i| format!("u{i}@contoso.example"))
                        .collect(),
                    remove: vec![],
                },
                "would have 102 addresses",
            ),
        ];
        for (c, why) in refused {
            let e = change(c.clone()).unwrap_err();
            assert!(e.contains(why), "{c:?}: {e}");
        }
    }

    /// Version 5 to 6 rebuilds `recipients`: role assignments and linked accounts survive the
    /// rebuild, every primary SMTP address becomes a proxy address, and a mail user without one
    /// gets its external address (unless someone has it).
    #[test]
    fn migration_to_groups_keeps_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exchange.sqlite");
        {
            let db = Db::open(&path, &MIGRATIONS[..5]).unwrap();
            db.call_blocking(|c| -> Result<(), ExchangeError> {
                c.execute_batch(
                    "INSERT INTO recipients (guid, name, kind, alias, primary_smtp, upn, sid, created)
                       VALUES ('g-alice', 'Alice', 'UserMailbox', 'alice', 'alice@contoso.example', 'alice@contoso.example', 'S-1', 0);
                     INSERT INTO recipients (guid, name, kind, alias, external_email, sid, enabled, created)
                       VALUES ('g-app', 'App', 'MailUser', 'App', 'app@contoso.example', 'S-2', 0, 0);
                     INSERT INTO recipients (guid, name, kind, alias, external_email, sid, enabled, created)
                       VALUES ('g-clash', 'Clash', 'MailUser', 'Clash', 'ALICE@contoso.example', 'S-3', 0, 0);
                     INSERT INTO role_assignments (guid, name, role, user_guid, created)
                       VALUES ('r1', 'UserApplication-App', 'UserApplication', 'g-app', 0);
                     INSERT INTO partner_apps (guid, name, app_id, enabled, linked_account)
                       VALUES ('p1', 'SfBOnline', '00000004-0000-0ff1-ce00-000000000000', 1, 'g-app');",
                )?;
                Ok(())
            })
            .unwrap();
        }
        let org = Org::open(Db::open(&path, MIGRATIONS).unwrap(), "contoso.example");
        let (roles, linked, app, clash, alice) = org
            .db
            .call_blocking(|c| -> Result<_, ExchangeError> {
                let roles = Org::roles_of(c, "g-app")?;
                let linked: Option<String> = c.query_row(
                    "SELECT linked_account FROM partner_apps WHERE guid = 'p1'",
                    [],
                    |r| r.get(0),
                )?;
                Ok((
                    roles,
                    linked,
                    org.get_recipient(c, "App")?,
                    org.get_recipient(c, "Clash")?,
                    org.recipient_by_smtp(c, "Alice@Contoso.Example")?,
                ))
            })
            .unwrap();
        assert_eq!(roles, ["UserApplication"]);
        assert_eq!(linked.as_deref(), Some("g-app"));
        assert_eq!(
            app.primary_smtp_address.as_deref(),
            Some("app@contoso.example")
        );
        assert_eq!(app.email_addresses, ["SMTP:app@contoso.example"]);
        assert_eq!(clash.primary_smtp_address, None, "alice has that address");
        assert!(clash.email_addresses.is_empty());
        assert_eq!(
            alice.map(|a| a.email_addresses),
            Some(vec!["SMTP:alice@contoso.example".to_owned()])
        );
    }

    /// Expansion: nested groups, a cycle, each recipient once, and the bound.
    #[test]
    fn groups_expand_recursively_once_each() {
        let org = Org::open(Db::open_in_memory(MIGRATIONS).unwrap(), "contoso.example");
        let out = org
            .db
            .call_blocking(|c| -> Result<_, ExchangeError> {
                Org::add_accepted_domain(c, "contoso.example", true)?;
                for n in ["a", "b", "c"] {
                    org.new_recipient(
                        c,
                        "UserMailbox",
                        NewRecipient {
                            name: n.into(),
                            primary_smtp: Some(format!("{n}@contoso.example")),
                            ..Default::default()
                        },
                        0,
                    )?;
                }
                let group = |name: &str, members: &[&str]| {
                    org.new_group(
                        c,
                        NewGroup {
                            name: name.into(),
                            members: members.iter().map(|m| (*m).to_owned()).collect(),
                            ..Default::default()
                        },
                        0,
                    )
                };
                let outer = group("Outer", &["a"])?;
                let inner = group("Inner", &["b", "a", "Outer"])?;
                org.add_group_member(c, &outer, "Inner")?;
                org.add_group_member(c, &outer, "c")?;
                let names = |v: Vec<Recipient>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
                let mut seen = std::collections::HashSet::new();
                let all = names(org.expand_group(c, &outer, &mut seen, 0, 500)?);
                let mut seen = std::collections::HashSet::new();
                let too_many = org
                    .expand_group(c, &inner, &mut seen, 498, 500)
                    .unwrap_err();
                Ok((all, outer.email_addresses, too_many.to_string()))
            })
            .unwrap();
        // Outer's members first (a, c), then Inner's new one (b); the cycle back to Outer ends
        assert_eq!(out.0, ["a", "c", "b"]);
        assert_eq!(out.1, ["SMTP:Outer@contoso.example"]);
        assert!(out.2.contains("more than 500"), "{}", out.2);
    }

    /// The bounds: a group's direct members, and the groups one expansion opens.
    #[test]
    fn group_bounds() {
        let org = Org::open(Db::open_in_memory(MIGRATIONS).unwrap(), "contoso.example");
        let (full, listed, deep) = org
            .db
            .call_blocking(|c| -> Result<_, ExchangeError> {
                Org::add_accepted_domain(c, "contoso.example", true)?;
                let big = org.new_group(
                    c,
                    NewGroup {
                        name: "Big".into(),
                        ..Default::default()
                    },
                    0,
                )?;
                // MAX_GROUP_MEMBERS mail users in it, and one more outside
                c.execute_batch(&format!(
                    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {MAX_GROUP_MEMBERS})
                     INSERT INTO recipients (guid, name, kind, alias, sid, enabled, created)
                       SELECT 'm' || i, 'M' || i, 'MailUser', 'm' || i, 'S-M' || i, 0, 0 FROM n;
                     INSERT INTO group_members (group_guid, member)
                       SELECT '{}', guid FROM recipients WHERE kind = 'MailUser' AND guid <> 'm0';",
                    big.guid
                ))?;
                let full = org.add_group_member(c, &big, "M0").unwrap_err().to_string();
                let listed = org
                    .new_group(
                        c,
                        NewGroup {
                            name: "Listed".into(),
                            members: vec!["M0".into(); MAX_GROUP_MEMBERS + 1],
                            ..Default::default()
                        },
                        0,
                    )
                    .unwrap_err()
                    .to_string();
                // a chain of MAX_GROUPS_EXPANDED + 1 groups, each the member of the one before
                c.execute_batch(&format!(
                    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {MAX_GROUPS_EXPANDED})
                     INSERT INTO recipients (guid, name, kind, alias, sid, enabled, created)
                       SELECT 'g' || i, 'G' || i, '{GROUP}', 'g' || i, 'S-G' || i, 1, 0 FROM n;
                     WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {MAX_GROUPS_EXPANDED})
                     INSERT INTO group_members (group_guid, member)
                       SELECT 'g' || i, 'g' || (i + 1) FROM n WHERE i < {MAX_GROUPS_EXPANDED};"
                ))?;
                let top = org.get_group(c, "G0")?;
                let mut seen = std::collections::HashSet::new();
                let deep = org
                    .expand_group(c, &top, &mut seen, 0, 500)
                    .unwrap_err()
                    .to_string();
                Ok((full, listed, deep))
            })
            .unwrap();
        assert!(
            full.contains("5001 members") && full.contains("at most 5000"),
            "{full}"
        );
        assert!(listed.contains("5001 members"), "{listed}");
        assert!(deep.contains("nests more than 1000 groups"), "{deep}");
    }
}
