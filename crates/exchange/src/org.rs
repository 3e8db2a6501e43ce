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
];

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
}

impl Recipient {
    pub fn is_mailbox(&self) -> bool {
        self.recipient_type == "UserMailbox"
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
        "guid, name, kind, alias, primary_smtp, upn, sip, external_email, hidden, sid, netid, enabled, created"
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
    Ok(Recipient {
        identity: format!("{org_domain}/Users/{name}"),
        alias: r.get(3)?,
        recipient_type_details: kind.clone(),
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
        if name.is_empty()
            || name.len() > 64
            || name.chars().any(|c| c.is_control() || "/\\\"".contains(c))
        {
            return Err(ExchangeError::Invalid(format!(
                "name '{name}' must be 1-64 characters without control characters, slashes or quotes"
            )));
        }
        let alias = p.alias.clone().unwrap_or_else(|| name.replace(' ', ""));
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
        let exists: Option<String> = c
            .query_row("SELECT guid FROM recipients WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(ExchangeError::AlreadyExists(format!("recipient '{name}'")));
        }
        for (col, v) in [
            ("primary_smtp", &p.primary_smtp),
            ("upn", &p.upn),
            ("sip", &p.sip),
        ] {
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
        let guid = uuid::Uuid::new_v4().to_string();
        c.execute(
            "INSERT INTO recipients (guid, name, kind, alias, primary_smtp, upn, sip, external_email, hidden, sid, netid, enabled, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12)",
            params![
                guid,
                name,
                kind,
                alias,
                p.primary_smtp,
                p.upn,
                p.sip.as_ref().map(|s| s.trim_start_matches("sip:").to_owned()),
                p.external_email,
                random_sid(),
                p.netid,
                kind == "UserMailbox",
                now
            ],
        )?;
        self.get_recipient(c, &guid)
    }

    /// Resolves an identity: GUID, Name, alias, `<domain>/Users/<name>`, or an address.
    /// The address-list entries a name resolves to (EWS ResolveNames), as Exchange's ambiguous
    /// name resolution does: an exact address (`SMTP:` prefix allowed), or the start of a
    /// display name, alias, primary SMTP address or UPN, case-insensitively. Recipients hidden
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
            " FROM recipients WHERE hidden = 0 AND enabled = 1 AND (primary_smtp = ?1 \
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
                 OR primary_smtp = ?1 OR upn = ?1 OR sip = ?1 OR external_email = ?1 COLLATE NOCASE LIMIT 2"
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
        assert_eq!(
            plan.iter().filter(|p| p.starts_with("SEARCH")).count(),
            5,
            "{plan:?}"
        );
        assert!(!plan.iter().any(|p| p.starts_with("SCAN")), "{plan:?}");
    }
}
