//! Private distribution lists (contact groups, MS-OXWSCONT `t:DistributionList`): a list of
//! members kept as an item of the mailbox (class `IPM.DistList`, in Contacts by default), as
//! opposed to a distribution group of the directory.
//!
//! Read from CreateItem (`t:DisplayName`, `t:FileAs`, `t:Members`; each `t:Member` a
//! `t:Mailbox` with an email address, and its `t:Status`) and from UpdateItem's item element
//! (`contacts:DisplayName`, `contacts:FileAs`, `distributionlist:Members`: set, appended to,
//! deleted), written after the `t:ItemType` properties in schema order (`t:DisplayName`,
//! `t:FileAs`, `t:ContactSource` (`Store`), `t:Members`), and kept as JSON (`to_storage`). A list
//! holds at most [`MAX_MEMBERS`] members.

use serde::{Deserialize, Serialize};

use crate::error::EwsProtoError;
use crate::types::{Mailbox, PropertyPath};
use crate::writer::XmlOut;
use crate::xml::Element;

/// Most members one list holds (what one request can set, and what the store keeps).
pub const MAX_MEMBERS: usize = 1_000;

/// `t:Member`: a mailbox (an address of the organization, a contact's, or a one-off one) and
/// its status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_type: Option<String>,
    /// `t:MailboxType` as given (`Mailbox`, `OneOff`, `Contact`, `PublicDL`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox_type: Option<String>,
    /// `Normal` (the default), `Demoted` or `Unrecognized`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Member {
    /// The member's `t:Mailbox`.
    pub fn mailbox(&self) -> Mailbox {
        Mailbox {
            name: self.name.clone(),
            email_address: Some(self.email.clone()),
            routing_type: Some(
                self.routing_type
                    .clone()
                    .unwrap_or_else(|| "SMTP".to_owned()),
            ),
            mailbox_type: Some(
                self.mailbox_type
                    .clone()
                    .unwrap_or_else(|| "OneOff".to_owned()),
            ),
            item_id: None,
        }
    }
}

/// A private distribution list's own properties.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_as: Option<String>,
    #[serde(default)]
    pub members: Vec<Member>,
}

/// What an UpdateItem item element sets of a list (the path says which one a change takes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFields {
    pub display_name: Option<String>,
    pub file_as: Option<String>,
    pub members: Option<Vec<Member>>,
}

/// Why a change of a list's property was refused (each an EWS `ResponseCode`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListFieldError {
    #[error("The change names {0}, which its t:DistributionList element does not set.")]
    Missing(&'static str),
    #[error("A list holds at most {MAX_MEMBERS} members; this change would make it {0}.")]
    TooManyMembers(usize),
    #[error("{0} cannot be appended to; set it instead.")]
    NotAppendable(&'static str),
}

impl ListFieldError {
    /// The EWS `ResponseCode`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing(_) => "ErrorInvalidPropertySet",
            Self::TooManyMembers(_) => "ErrorInvalidRequest",
            Self::NotAppendable(_) => "ErrorInvalidPropertyAppend",
        }
    }
}

impl DistributionList {
    /// The list as stored (JSON).
    pub fn to_storage(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// A stored list.
    pub fn from_storage(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }

    /// Applies one UpdateItem change: `path` names the property, `fields` what the item element
    /// set (`None` for a delete); `append` for `t:AppendToItemField`.
    pub fn change(
        &mut self,
        path: &PropertyPath,
        fields: Option<&ListFields>,
        append: bool,
    ) -> Result<(), ListFieldError> {
        match path.field_uri() {
            Some("distributionlist:Members") => {
                let Some(f) = fields else {
                    self.members.clear();
                    return Ok(());
                };
                let given = f
                    .members
                    .clone()
                    .ok_or(ListFieldError::Missing("distributionlist:Members"))?;
                if append {
                    self.members.extend(given);
                } else {
                    self.members = given;
                }
                if self.members.len() > MAX_MEMBERS {
                    return Err(ListFieldError::TooManyMembers(self.members.len()));
                }
            }
            Some("contacts:DisplayName") => set_text(
                &mut self.display_name,
                fields.map(|f| &f.display_name),
                "contacts:DisplayName",
                append,
            )?,
            Some("contacts:FileAs") => set_text(
                &mut self.file_as,
                fields.map(|f| &f.file_as),
                "contacts:FileAs",
                append,
            )?,
            _ => {}
        }
        Ok(())
    }
}

/// A text property of a list set (`given` the item element's value, refused when it lacks it)
/// or deleted (`given` `None`); a text is not appended to.
fn set_text(
    slot: &mut Option<String>,
    given: Option<&Option<String>>,
    name: &'static str,
    append: bool,
) -> Result<(), ListFieldError> {
    if append {
        return Err(ListFieldError::NotAppendable(name));
    }
    *slot = match given {
        None => None,
        Some(v) => Some(v.clone().ok_or(ListFieldError::Missing(name))?),
    };
    Ok(())
}

/// Whether `path` names a list's own property.
pub fn is_list_path(path: &PropertyPath) -> bool {
    matches!(
        path.field_uri(),
        Some("distributionlist:Members" | "contacts:DisplayName" | "contacts:FileAs")
    )
}

/// `t:Members`: each `t:Member` with its `t:Mailbox` (an email address required) and
/// `t:Status`; at most [`MAX_MEMBERS`].
pub(crate) fn parse_members(el: &Element) -> Result<Vec<Member>, EwsProtoError> {
    let mut out = Vec::with_capacity(el.children.len().min(MAX_MEMBERS));
    for m in &el.children {
        if !m.is(crate::ns::TYPES, "Member") {
            return Err(EwsProtoError::UnexpectedElement {
                parent: "t:Members".to_owned(),
                found: format!("{}:{}", m.ns, m.local),
                position: m.position(),
            });
        }
        if out.len() == MAX_MEMBERS {
            return Err(EwsProtoError::InvalidValue {
                context: "t:Members".to_owned(),
                value: format!("more than {MAX_MEMBERS} members"),
                expected: format!("at most {MAX_MEMBERS} members"),
                position: m.position(),
            });
        }
        let mut member = Member::default();
        let mut mailbox = None;
        for c in &m.children {
            match c.local.as_str() {
                "Mailbox" if &*c.ns == crate::ns::TYPES => {
                    mailbox = Some(crate::request::parse_mailbox(c)?);
                }
                "Status" if &*c.ns == crate::ns::TYPES => {
                    let s = c.text_trimmed();
                    if !matches!(s, "Normal" | "Demoted" | "Unrecognized") {
                        return Err(EwsProtoError::InvalidValue {
                            context: "t:Status".to_owned(),
                            value: s.chars().take(64).collect(),
                            expected: "Normal, Demoted or Unrecognized".to_owned(),
                            position: c.position(),
                        });
                    }
                    member.status = Some(s.to_owned());
                }
                _ => {
                    return Err(EwsProtoError::UnexpectedElement {
                        parent: "t:Member".to_owned(),
                        found: format!("{}:{}", c.ns, c.local),
                        position: c.position(),
                    });
                }
            }
        }
        let Some(mb) = mailbox else {
            return Err(EwsProtoError::MissingElement {
                parent: "t:Member".to_owned(),
                name: "Mailbox",
                position: m.position(),
            });
        };
        let Some(email) = mb.email_address.filter(|e| !e.trim().is_empty()) else {
            return Err(EwsProtoError::MissingElement {
                parent: "t:Mailbox".to_owned(),
                name: "EmailAddress",
                position: m.position(),
            });
        };
        member.email = email.trim().to_owned();
        member.name = mb.name;
        member.routing_type = mb.routing_type;
        member.mailbox_type = mb.mailbox_type;
        out.push(member);
    }
    Ok(out)
}

/// The list's own properties after the `t:ItemType` ones, in schema order; `members`: whether
/// the shape asks for `t:Members`.
pub(crate) fn write(w: &mut XmlOut, l: &DistributionList, members: bool) {
    if let Some(v) = &l.display_name {
        w.leaf("t:DisplayName", v);
    }
    if let Some(v) = l.file_as.as_ref().or(l.display_name.as_ref()) {
        w.leaf("t:FileAs", v);
    }
    w.leaf("t:ContactSource", "Store");
    if members {
        if l.members.is_empty() {
            w.empty("t:Members", &[]);
        } else {
            w.start("t:Members", &[]);
            for (n, m) in l.members.iter().enumerate() {
                let key = n.to_string();
                w.start("t:Member", &[("Key", key.as_str())]);
                w.start("t:Mailbox", &[]);
                crate::response::write_mailbox_fields(w, &m.mailbox());
                w.end("t:Mailbox");
                w.leaf("t:Status", m.status.as_deref().unwrap_or("Normal"));
                w.end("t:Member");
            }
            w.end("t:Members");
        }
    }
}

/// Reads a `t:DistributionList` response element's own properties (for clients and tests).
pub fn list_from_element(el: &Element) -> Result<DistributionList, EwsProtoError> {
    let text = |name: &str| {
        el.child(crate::ns::TYPES, name)
            .map(|c| c.text_trimmed().to_owned())
    };
    Ok(DistributionList {
        display_name: text("DisplayName"),
        file_as: text("FileAs"),
        members: match el.child(crate::ns::TYPES, "Members") {
            Some(m) => parse_members(m)?,
            None => Vec::new(),
        },
    })
}
