//! Contacts (`t:Contact`, `t:ContactItemType`): the properties a contact keeps, read from a
//! CreateItem or an UpdateItem change, changed one property (or one dictionary entry) at a time,
//! and written back in schema order.
//!
//! The store keeps a [`Contact`] as JSON beside the item (its serde form is the storage form:
//! keep field names stable), so this module is the single place that knows the contact schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

use crate::error::{EwsProtoError, dn, echo};
use crate::ns::TYPES;
use crate::request::{datetime_text, invalid, set_once, unexpected};
use crate::types::{BaseShape, ItemShape, PropertyPath, format_xs_datetime, str_enum};
use crate::writer::XmlOut;
use crate::xml::Element;

/// A contact's own properties (those of `t:ContactItemType` a client can set), as stored.
/// Read-only properties (`CompleteName`, `ContactSource`, `HasPicture`, …) are derived on write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    pub file_as: Option<String>,
    /// `t:FileAsMapping` (one of [`FILE_AS_MAPPINGS`]).
    pub file_as_mapping: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub initials: Option<String>,
    pub middle_name: Option<String>,
    pub nickname: Option<String>,
    pub company_name: Option<String>,
    /// `t:EmailAddresses` by key (`EmailAddress1`–`EmailAddress3`).
    pub email_addresses: BTreeMap<String, EmailEntry>,
    /// `t:PhysicalAddresses` by key (`Home`, `Business`, `Other`).
    pub physical_addresses: BTreeMap<String, PhysicalAddress>,
    /// `t:PhoneNumbers` by key (`BusinessPhone`, `MobilePhone`, … : [`PHONE_KEYS`]).
    pub phone_numbers: BTreeMap<String, String>,
    pub assistant_name: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub birthday: Option<OffsetDateTime>,
    pub business_home_page: Option<String>,
    pub children: Vec<String>,
    pub companies: Vec<String>,
    pub department: Option<String>,
    pub generation: Option<String>,
    /// `t:ImAddresses` by key (`ImAddress1`–`ImAddress3`).
    pub im_addresses: BTreeMap<String, String>,
    pub job_title: Option<String>,
    pub manager: Option<String>,
    pub mileage: Option<String>,
    pub office_location: Option<String>,
    /// `t:PostalAddressIndex` (`Business`, `Home`, `Other`, `None`).
    pub postal_address_index: Option<String>,
    pub profession: Option<String>,
    pub spouse_name: Option<String>,
    pub surname: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub wedding_anniversary: Option<OffsetDateTime>,
}

/// One `t:EmailAddresses` entry: the address (the entry's text) and its optional attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailEntry {
    pub address: String,
    pub name: Option<String>,
    pub routing_type: Option<String>,
    pub mailbox_type: Option<String>,
}

/// One `t:PhysicalAddresses` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhysicalAddress {
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country_or_region: Option<String>,
    pub postal_code: Option<String>,
}

/// `t:FileAsMapping` values (`FileAsMappingType`), in schema order.
pub const FILE_AS_MAPPINGS: &[&str] = &[
    "None",
    "LastCommaFirst",
    "FirstSpaceLast",
    "Company",
    "LastCommaFirstCompany",
    "CompanyLastFirst",
    "LastFirst",
    "LastFirstCompany",
    "CompanyLastCommaFirst",
    "LastFirstSuffix",
    "LastSpaceFirstCompany",
    "CompanyLastSpaceFirst",
    "LastSpaceFirst",
    "DisplayName",
    "FirstName",
    "LastFirstMiddleSuffix",
    "LastName",
    "Empty",
];

/// `t:PostalAddressIndex` values (`PhysicalAddressIndexType`).
pub const POSTAL_ADDRESS_INDEXES: &[&str] = &["None", "Home", "Business", "Other"];

/// The keys of `t:EmailAddresses` (`EmailAddressKeyType`).
pub const EMAIL_KEYS: &[&str] = &["EmailAddress1", "EmailAddress2", "EmailAddress3"];

/// The keys of `t:ImAddresses` (`ImAddressKeyType`).
pub const IM_KEYS: &[&str] = &["ImAddress1", "ImAddress2", "ImAddress3"];

/// The keys of `t:PhoneNumbers` (`PhoneNumberKeyType`), in schema order.
pub const PHONE_KEYS: &[&str] = &[
    "AssistantPhone",
    "BusinessFax",
    "BusinessPhone",
    "BusinessPhone2",
    "Callback",
    "CarPhone",
    "CompanyMainPhone",
    "HomeFax",
    "HomePhone",
    "HomePhone2",
    "Isdn",
    "MobilePhone",
    "OtherFax",
    "OtherTelephone",
    "Pager",
    "PrimaryPhone",
    "RadioPhone",
    "Telex",
    "TtyTddPhone",
];

/// The keys of `t:PhysicalAddresses` (`PhysicalAddressKeyType`), in schema order.
pub const ADDRESS_KEYS: &[&str] = &["Home", "Business", "Other"];

/// The parts of a `t:PhysicalAddresses` entry, in schema order (`contacts:PhysicalAddress:<part>`).
pub const ADDRESS_PARTS: &[&str] = &["Street", "City", "State", "CountryOrRegion", "PostalCode"];

/// The longest value (in bytes) of one contact property, dictionary entry, address part or list
/// string a request may set.
pub const MAX_VALUE_BYTES: usize = 4 * 1024;

/// The most strings a `t:Children` or `t:Companies` list may hold.
pub const MAX_LIST_ENTRIES: usize = 50;

/// The longest text [`Contact::from_storage`] reads: a contact at its limits (every value
/// [`MAX_VALUE_BYTES`] long, each byte escaped) stays below it.
pub const MAX_STORAGE_BYTES: usize = 2 * 1024 * 1024;

str_enum! {
    /// Every element of `t:ContactItemType`, in schema order (the writer's order).
    enum Prop ("contact property") {
        FileAs = "FileAs",
        FileAsMapping = "FileAsMapping",
        DisplayName = "DisplayName",
        GivenName = "GivenName",
        Initials = "Initials",
        MiddleName = "MiddleName",
        Nickname = "Nickname",
        CompleteName = "CompleteName",
        CompanyName = "CompanyName",
        EmailAddresses = "EmailAddresses",
        PhysicalAddresses = "PhysicalAddresses",
        PhoneNumbers = "PhoneNumbers",
        AssistantName = "AssistantName",
        Birthday = "Birthday",
        BusinessHomePage = "BusinessHomePage",
        Children = "Children",
        Companies = "Companies",
        ContactSource = "ContactSource",
        Department = "Department",
        Generation = "Generation",
        ImAddresses = "ImAddresses",
        JobTitle = "JobTitle",
        Manager = "Manager",
        Mileage = "Mileage",
        OfficeLocation = "OfficeLocation",
        PostalAddressIndex = "PostalAddressIndex",
        Profession = "Profession",
        SpouseName = "SpouseName",
        Surname = "Surname",
        WeddingAnniversary = "WeddingAnniversary",
        HasPicture = "HasPicture",
        PhoneticFullName = "PhoneticFullName",
        PhoneticFirstName = "PhoneticFirstName",
        PhoneticLastName = "PhoneticLastName",
        Alias = "Alias",
        Notes = "Notes",
        Photo = "Photo",
        UserSmimeCertificate = "UserSMIMECertificate",
        MsExchangeCertificate = "MSExchangeCertificate",
        DirectoryId = "DirectoryId",
        ManagerMailbox = "ManagerMailbox",
        DirectReports = "DirectReports",
    }
}

impl Prop {
    /// Computed by Exchange (or kept in the directory): no client sets it.
    fn read_only(self) -> bool {
        matches!(
            self,
            Self::CompleteName
                | Self::ContactSource
                | Self::HasPicture
                | Self::PhoneticFullName
                | Self::PhoneticFirstName
                | Self::PhoneticLastName
                | Self::Alias
                | Self::Notes
                | Self::Photo
                | Self::UserSmimeCertificate
                | Self::MsExchangeCertificate
                | Self::DirectoryId
                | Self::ManagerMailbox
                | Self::DirectReports
        )
    }

    /// Its bit in [`Selection::props`] (fewer than 64 properties).
    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

slots!(Contact; text, text_mut, Option<String>, {
    FileAs => file_as,
    FileAsMapping => file_as_mapping,
    DisplayName => display_name,
    GivenName => given_name,
    Initials => initials,
    MiddleName => middle_name,
    Nickname => nickname,
    CompanyName => company_name,
    AssistantName => assistant_name,
    BusinessHomePage => business_home_page,
    Department => department,
    Generation => generation,
    JobTitle => job_title,
    Manager => manager,
    Mileage => mileage,
    OfficeLocation => office_location,
    PostalAddressIndex => postal_address_index,
    Profession => profession,
    SpouseName => spouse_name,
    Surname => surname,
}, text_key_of);

slots!(Contact; date, date_mut, Option<OffsetDateTime>, {
    Birthday => birthday,
    WeddingAnniversary => wedding_anniversary,
});

slots!(Contact; list, list_mut, Vec<String>, {
    Children => children,
    Companies => companies,
});

slots!(Contact; strings, strings_mut, BTreeMap<String, String>, {
    PhoneNumbers => phone_numbers,
    ImAddresses => im_addresses,
});

/// The allowed values of an enumerated text property.
fn allowed_values(p: Prop) -> Option<&'static [&'static str]> {
    match p {
        Prop::FileAsMapping => Some(FILE_AS_MAPPINGS),
        Prop::PostalAddressIndex => Some(POSTAL_ADDRESS_INDEXES),
        _ => None,
    }
}

fn part(a: &PhysicalAddress, i: usize) -> Option<&Option<String>> {
    Some(match i {
        0 => &a.street,
        1 => &a.city,
        2 => &a.state,
        3 => &a.country_or_region,
        4 => &a.postal_code,
        _ => return None,
    })
}

fn part_mut(a: &mut PhysicalAddress, i: usize) -> Option<&mut Option<String>> {
    Some(match i {
        0 => &mut a.street,
        1 => &mut a.city,
        2 => &mut a.state,
        3 => &mut a.country_or_region,
        4 => &mut a.postal_code,
        _ => return None,
    })
}

fn non_blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.trim().is_empty())
}

impl PhysicalAddress {
    /// No part is set.
    pub fn is_empty(&self) -> bool {
        (0..ADDRESS_PARTS.len()).all(|i| part(self, i).is_none_or(Option::is_none))
    }
}

impl Contact {
    /// The storage form: JSON of the serde form. A date that RFC 3339 cannot carry (a year past
    /// 9999 or an offset with seconds, which no parsed `xs:dateTime` has) is left out.
    pub fn to_storage(&self) -> String {
        if let Ok(s) = serde_json::to_string(self) {
            return s;
        }
        // Only a date can fail to serialize (every other value is a string or a map by string).
        let mut c = self.clone();
        for d in [&mut c.birthday, &mut c.wedding_anniversary] {
            if d.is_some_and(|v| {
                v.format(&time::format_description::well_known::Rfc3339)
                    .is_err()
            }) {
                *d = None;
            }
        }
        serde_json::to_string(&c).unwrap_or_else(|_| String::from("{}"))
    }

    /// Reads [`Contact::to_storage`]'s text (at most [`MAX_STORAGE_BYTES`]); members it does not
    /// know are ignored, missing ones read as empty.
    pub fn from_storage(s: &str) -> Result<Self, serde_json::Error> {
        if s.len() > MAX_STORAGE_BYTES {
            return Err(<serde_json::Error as serde::de::Error>::custom(format!(
                "a stored contact of {} bytes is longer than the limit of {MAX_STORAGE_BYTES} bytes",
                s.len()
            )));
        }
        serde_json::from_str(s)
    }

    /// No property is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The name the contact shows: its display name, else "Given Surname" (either alone), else
    /// its company, else its first e-mail address — as Exchange derives `t:DisplayName` when a
    /// client sets none. `None` when the contact has none of them.
    pub fn display(&self) -> Option<String> {
        if let Some(d) = non_blank(&self.display_name) {
            return Some(d.to_owned());
        }
        let names: Vec<&str> = [&self.given_name, &self.surname]
            .into_iter()
            .filter_map(non_blank)
            .map(str::trim)
            .collect();
        if !names.is_empty() {
            return Some(names.join(" "));
        }
        if let Some(c) = non_blank(&self.company_name) {
            return Some(c.to_owned());
        }
        EMAIL_KEYS
            .iter()
            .filter_map(|k| self.email_addresses.get(*k))
            .map(|e| e.address.trim())
            .find(|a| !a.is_empty())
            .map(str::to_owned)
    }
}

// ======================================================================
// Reading (CreateItem, UpdateItem, responses)
// ======================================================================

/// The text of a leaf element, refused when it has child elements or is longer than
/// [`MAX_VALUE_BYTES`].
pub(crate) fn leaf_text(el: &Element) -> Result<&str, EwsProtoError> {
    if let Some(first) = el.children.first() {
        return Err(unexpected(el, first));
    }
    bounded(el, dn(el), &el.text)
}

fn bounded<'a>(el: &Element, context: String, value: &'a str) -> Result<&'a str, EwsProtoError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(invalid(
            el,
            context,
            value,
            &format!("a value of at most {MAX_VALUE_BYTES} bytes"),
        ));
    }
    Ok(value)
}

/// An `xs:dateTime` kept in UTC, refused when its UTC instant falls outside the years 1–9999
/// that `xs:dateTime` (and this crate's writer) can carry.
pub(crate) fn utc_datetime(el: &Element) -> Result<OffsetDateTime, EwsProtoError> {
    datetime_text(el)?
        .checked_to_offset(UtcOffset::UTC)
        .filter(|u| (1..=9999).contains(&u.year()))
        .ok_or_else(|| EwsProtoError::InvalidDateTime {
            context: dn(el),
            value: echo(&el.text),
            position: el.position(),
        })
}

pub(crate) fn one_of(values: &[&str]) -> String {
    format!("one of: {}", values.join(", "))
}

pub(crate) fn duplicate(parent: &Element, child: &Element, name: String) -> EwsProtoError {
    EwsProtoError::DuplicateElement {
        parent: dn(parent),
        name,
        position: child.position(),
    }
}

/// The `t:Entry` children of a dictionary element, each with its `Key` checked against `keys`
/// and given once; at least one (the schema's `minOccurs`).
fn entries<'a>(
    dict: &'a Element,
    keys: &'static [&'static str],
) -> Result<Vec<(&'static str, &'a Element)>, EwsProtoError> {
    let mut out: Vec<(&'static str, &Element)> = Vec::new();
    for entry in &dict.children {
        if !entry.is(TYPES, "Entry") {
            return Err(unexpected(dict, entry));
        }
        let value = entry
            .attr("Key")
            .ok_or_else(|| EwsProtoError::MissingAttribute {
                element: format!("{}/t:Entry", dn(dict)),
                name: "Key",
                position: entry.position(),
            })?;
        let key = keys
            .iter()
            .copied()
            .find(|k| *k == value.trim_matches(crate::xml::is_xml_whitespace))
            .ok_or_else(|| {
                invalid(
                    entry,
                    format!("{}/t:Entry/@Key", dn(dict)),
                    value,
                    &one_of(keys),
                )
            })?;
        if out.iter().any(|(k, _)| *k == key) {
            return Err(duplicate(dict, entry, format!("t:Entry Key=\"{key}\"")));
        }
        out.push((key, entry));
    }
    if out.is_empty() {
        return Err(crate::error::missing(dict, "Entry"));
    }
    Ok(out)
}

fn opt_attr(
    entry: &Element,
    dict: &Element,
    name: &'static str,
) -> Result<Option<String>, EwsProtoError> {
    entry
        .attr(name)
        .map(|v| bounded(entry, format!("{}/t:Entry/@{name}", dn(dict)), v).map(str::to_owned))
        .transpose()
}

fn parse_address(entry: &Element) -> Result<PhysicalAddress, EwsProtoError> {
    let mut a = PhysicalAddress::default();
    for child in &entry.children {
        let i = ADDRESS_PARTS
            .iter()
            .position(|p| child.is(TYPES, p))
            .ok_or_else(|| unexpected(entry, child))?;
        let value = leaf_text(child)?.to_owned();
        if let Some(slot) = part_mut(&mut a, i) {
            set_once(slot, entry, child, value)?;
        }
    }
    Ok(a)
}

/// Reads `child`, a child of the contact element `parent`, into `c` when it is one of the
/// contact properties a client sets, and answers whether it was. Another element (an
/// `t:ItemType` one, which the caller reads) answers false.
///
/// Refused: a property given twice ([`EwsProtoError::DuplicateElement`], also for a dictionary
/// entry's key given twice), a read-only property ([`EwsProtoError::ReadOnlyProperty`]), an
/// unknown dictionary key or enumeration value ([`EwsProtoError::InvalidValue`]), a malformed
/// date ([`EwsProtoError::InvalidDateTime`]), a value longer than [`MAX_VALUE_BYTES`] and a list
/// of more than [`MAX_LIST_ENTRIES`] strings.
pub(crate) fn parse_contact_child(
    c: &mut Contact,
    parent: &Element,
    child: &Element,
) -> Result<bool, EwsProtoError> {
    if &*child.ns != TYPES {
        return Ok(false);
    }
    let Ok(p) = child.local.parse::<Prop>() else {
        return Ok(false);
    };
    if p.read_only() {
        return Err(EwsProtoError::ReadOnlyProperty {
            element: dn(child),
            position: child.position(),
        });
    }
    if let Some(allowed) = allowed_values(p) {
        let value = leaf_text(child)?.trim_matches(crate::xml::is_xml_whitespace);
        let value = allowed
            .iter()
            .find(|v| **v == value)
            .ok_or_else(|| invalid(child, dn(child), &child.text, &one_of(allowed)))?;
        if let Some(slot) = text_mut(c, p) {
            set_once(slot, parent, child, (*value).to_owned())?;
        }
    } else if let Some(slot) = text_mut(c, p) {
        set_once(slot, parent, child, leaf_text(child)?.to_owned())?;
    } else if let Some(slot) = date_mut(c, p) {
        if let Some(first) = child.children.first() {
            return Err(unexpected(child, first));
        }
        set_once(slot, parent, child, utc_datetime(child)?)?;
    } else if let Some(slot) = list_mut(c, p) {
        if !slot.is_empty() {
            return Err(duplicate(parent, child, dn(child)));
        }
        if child.children.len() > MAX_LIST_ENTRIES {
            return Err(EwsProtoError::TooManyEntries {
                parent: dn(child),
                what: "t:String entries",
                limit: MAX_LIST_ENTRIES,
                position: child.position(),
            });
        }
        for s in &child.children {
            if !s.is(TYPES, "String") {
                return Err(unexpected(child, s));
            }
            slot.push(leaf_text(s)?.to_owned());
        }
    } else if p == Prop::EmailAddresses {
        if !c.email_addresses.is_empty() {
            return Err(duplicate(parent, child, dn(child)));
        }
        for (key, entry) in entries(child, EMAIL_KEYS)? {
            let address = leaf_text(entry)?
                .trim_matches(crate::xml::is_xml_whitespace)
                .to_owned();
            let e = EmailEntry {
                address,
                name: opt_attr(entry, child, "Name")?,
                routing_type: opt_attr(entry, child, "RoutingType")?,
                mailbox_type: opt_attr(entry, child, "MailboxType")?,
            };
            c.email_addresses.insert(key.to_owned(), e);
        }
    } else if p == Prop::PhysicalAddresses {
        if !c.physical_addresses.is_empty() {
            return Err(duplicate(parent, child, dn(child)));
        }
        for (key, entry) in entries(child, ADDRESS_KEYS)? {
            c.physical_addresses
                .insert(key.to_owned(), parse_address(entry)?);
        }
    } else if let Some(map) = strings_mut(c, p) {
        if !map.is_empty() {
            return Err(duplicate(parent, child, dn(child)));
        }
        let keys = if p == Prop::PhoneNumbers {
            PHONE_KEYS
        } else {
            IM_KEYS
        };
        for (key, entry) in entries(child, keys)? {
            let value = leaf_text(entry)?
                .trim_matches(crate::xml::is_xml_whitespace)
                .to_owned();
            map.insert(key.to_owned(), value);
        }
    } else {
        // every settable property has a slot above
        return Ok(false);
    }
    Ok(true)
}

// ======================================================================
// Property paths: shapes and UpdateItem
// ======================================================================

/// What a `contacts:` property path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A whole property (`t:FieldURI`).
    Prop(Prop),
    /// One entry of `t:EmailAddresses`, `t:PhoneNumbers` or `t:ImAddresses`, by its index in
    /// the dictionary's keys.
    Email(usize),
    Phone(usize),
    Im(usize),
    /// One part (index in [`ADDRESS_PARTS`]) of one `t:PhysicalAddresses` entry (index in
    /// [`ADDRESS_KEYS`]).
    Part {
        key: usize,
        part: usize,
    },
}

fn index_of(keys: &[&str], value: &str) -> Option<usize> {
    keys.iter().position(|k| *k == value)
}

fn target(path: &PropertyPath) -> Option<Target> {
    match path {
        PropertyPath::Field(f) => f.strip_prefix("contacts:")?.parse().ok().map(Target::Prop),
        PropertyPath::Indexed {
            field_uri,
            field_index,
        } => match field_uri.strip_prefix("contacts:")? {
            "EmailAddress" => index_of(EMAIL_KEYS, field_index).map(Target::Email),
            "PhoneNumber" => index_of(PHONE_KEYS, field_index).map(Target::Phone),
            "ImAddress" => index_of(IM_KEYS, field_index).map(Target::Im),
            other => Some(Target::Part {
                part: index_of(ADDRESS_PARTS, other.strip_prefix("PhysicalAddress:")?)?,
                key: index_of(ADDRESS_KEYS, field_index)?,
            }),
        },
        PropertyPath::Extended(_) | PropertyPath::Exception(_) => None,
    }
}

/// The member of the storage form ([`Contact::to_storage`]) that holds the plain text property
/// `path` names (`contacts:GivenName` → `given_name`), for sorting on it; `None` for any other
/// path.
pub fn text_key(path: &PropertyPath) -> Option<&'static str> {
    match target(path)? {
        Target::Prop(p) => text_key_of(p),
        _ => None,
    }
}

/// The JSON path (SQLite's `json_extract` syntax) in the storage form of the text value `path`
/// names, for searching on it: a plain text property (`$.given_name`), one email address
/// (`$.email_addresses.EmailAddress1.address`), phone number, IM address or postal address part
/// (`$.physical_addresses.Business.city`). `None` for any other path (dates, lists, whole
/// dictionaries, read-only properties). Only fixed names go into it.
pub fn search_path(path: &PropertyPath) -> Option<String> {
    const PART_KEYS: [&str; 5] = [
        "street",
        "city",
        "state",
        "country_or_region",
        "postal_code",
    ];
    Some(match target(path)? {
        Target::Prop(p) => format!("$.{}", text_key_of(p)?),
        Target::Email(i) => format!("$.email_addresses.{}.address", EMAIL_KEYS.get(i)?),
        Target::Phone(i) => format!("$.phone_numbers.{}", PHONE_KEYS.get(i)?),
        Target::Im(i) => format!("$.im_addresses.{}", IM_KEYS.get(i)?),
        Target::Part { key, part } => format!(
            "$.physical_addresses.{}.{}",
            ADDRESS_KEYS.get(key)?,
            PART_KEYS.get(part)?
        ),
    })
}

/// A `contacts:` `t:FieldURI` or `t:IndexedFieldURI` (whether or not it names a property this
/// module knows).
pub fn is_contact_path(path: &PropertyPath) -> bool {
    match path {
        PropertyPath::Field(f) => f.starts_with("contacts:"),
        PropertyPath::Indexed { field_uri, .. } => field_uri.starts_with("contacts:"),
        PropertyPath::Extended(_) | PropertyPath::Exception(_) => false,
    }
}

/// The properties of a shape, read once per item written.
#[derive(Debug, Default)]
struct Selection {
    /// Default and AllProperties: every property that has a value.
    all: bool,
    /// Bits of [`Prop::bit`].
    props: u64,
    /// Bits by index in [`EMAIL_KEYS`], [`PHONE_KEYS`], [`IM_KEYS`].
    emails: u32,
    phones: u32,
    ims: u32,
    /// Per [`ADDRESS_KEYS`] entry, bits by index in [`ADDRESS_PARTS`].
    parts: [u32; 3],
}

impl Selection {
    fn for_shape(shape: &ItemShape) -> Self {
        let mut s = Self {
            all: shape.base_shape != BaseShape::IdOnly,
            ..Self::default()
        };
        for path in &shape.additional {
            match target(path) {
                Some(Target::Prop(p)) => s.props |= p.bit(),
                Some(Target::Email(i)) => s.emails |= 1 << i,
                Some(Target::Phone(i)) => s.phones |= 1 << i,
                Some(Target::Im(i)) => s.ims |= 1 << i,
                Some(Target::Part { key, part }) => {
                    if let Some(bits) = s.parts.get_mut(key) {
                        *bits |= 1 << part;
                    }
                }
                None => {}
            }
        }
        s
    }

    fn prop(&self, p: Prop) -> bool {
        self.all || self.props & p.bit() != 0
    }

    /// Entry `i` of the dictionary `p`, whose entries are asked for one by one in `bits`.
    fn entry(&self, p: Prop, bits: u32, i: usize) -> bool {
        self.prop(p) || bits & (1 << i) != 0
    }

    fn part(&self, key: usize, part: usize) -> bool {
        self.prop(Prop::PhysicalAddresses)
            || self.parts.get(key).is_some_and(|b| b & (1 << part) != 0)
    }
}

// ======================================================================
// Writing
// ======================================================================

/// Writes `t:Entry Key=".."` elements of a dictionary of strings (only those selected), inside
/// `name`; nothing when none is written.
fn write_string_dictionary(
    w: &mut XmlOut,
    name: &str,
    keys: &[&str],
    map: &BTreeMap<String, String>,
    selected: impl Fn(usize) -> bool,
) {
    let mut open = false;
    for (i, key) in keys.iter().enumerate() {
        if let Some(v) = map.get(*key)
            && selected(i)
        {
            if !open {
                w.start(name, &[]);
                open = true;
            }
            w.text_element("t:Entry", &[("Key", key)], v);
        }
    }
    if open {
        w.end(name);
    }
}

fn write_emails(w: &mut XmlOut, c: &Contact, s: &Selection) {
    let mut open = false;
    for (i, key) in EMAIL_KEYS.iter().enumerate() {
        if let Some(e) = c.email_addresses.get(*key)
            && s.entry(Prop::EmailAddresses, s.emails, i)
        {
            if !open {
                w.start("t:EmailAddresses", &[]);
                open = true;
            }
            let mut attrs: Vec<(&str, &str)> = vec![("Key", key)];
            for (name, v) in [
                ("Name", &e.name),
                ("RoutingType", &e.routing_type),
                ("MailboxType", &e.mailbox_type),
            ] {
                if let Some(v) = v {
                    attrs.push((name, v));
                }
            }
            w.text_element("t:Entry", &attrs, &e.address);
        }
    }
    if open {
        w.end("t:EmailAddresses");
    }
}

fn write_addresses(w: &mut XmlOut, c: &Contact, s: &Selection) {
    let mut open = false;
    for (k, key) in ADDRESS_KEYS.iter().enumerate() {
        let Some(a) = c.physical_addresses.get(*key) else {
            continue;
        };
        let parts: Vec<(&str, &str)> = ADDRESS_PARTS
            .iter()
            .enumerate()
            .filter(|(i, _)| s.part(k, *i))
            .filter_map(|(i, name)| Some((*name, part(a, i)?.as_deref()?)))
            .collect();
        // an entry with no part at all is written when the whole dictionary is asked for
        if parts.is_empty() && !(a.is_empty() && s.prop(Prop::PhysicalAddresses)) {
            continue;
        }
        if !open {
            w.start("t:PhysicalAddresses", &[]);
            open = true;
        }
        if parts.is_empty() {
            w.empty("t:Entry", &[("Key", key)]);
            continue;
        }
        w.start("t:Entry", &[("Key", key)]);
        for (name, v) in parts {
            w.leaf(&format!("t:{name}"), v);
        }
        w.end("t:Entry");
    }
    if open {
        w.end("t:PhysicalAddresses");
    }
}

/// `t:CompleteName` (read-only, derived): the parts the contact has, in schema order.
fn write_complete_name(w: &mut XmlOut, c: &Contact) {
    let full = c.display();
    let parts = [
        ("t:FirstName", c.given_name.as_deref()),
        ("t:MiddleName", c.middle_name.as_deref()),
        ("t:LastName", c.surname.as_deref()),
        ("t:Initials", c.initials.as_deref()),
        ("t:FullName", full.as_deref()),
        ("t:Nickname", c.nickname.as_deref()),
    ];
    if parts.iter().all(|(_, v)| v.is_none()) {
        return;
    }
    w.start("t:CompleteName", &[]);
    for (name, v) in parts {
        if let Some(v) = v {
            w.leaf(name, v);
        }
    }
    w.end("t:CompleteName");
}

/// Writes the contact's own elements of a `t:Contact` (after its `t:ItemType` elements), in
/// schema order: under the Default and AllProperties shapes every property that has a value,
/// under IdOnly those `shape.additional` names (a `contacts:` `t:FieldURI`, or a
/// `t:IndexedFieldURI` for one dictionary entry or address part). Besides the stored
/// properties: `t:DisplayName` derived when none is stored ([`Contact::display`]), and the
/// read-only `t:CompleteName`, `t:ContactSource` (`Store`) and `t:HasPicture` (`has_picture`:
/// whether the item has a contact photo attachment). Empty dictionaries and lists and absent
/// values are not written.
pub(crate) fn write_contact_fields(
    w: &mut XmlOut,
    c: &Contact,
    shape: &ItemShape,
    has_picture: bool,
) {
    let s = Selection::for_shape(shape);
    for &p in Prop::ALL {
        match p {
            Prop::DisplayName => {
                if s.prop(p)
                    && let Some(v) = c.display()
                {
                    w.leaf("t:DisplayName", &v);
                }
            }
            Prop::CompleteName => {
                if s.prop(p) {
                    write_complete_name(w, c);
                }
            }
            Prop::EmailAddresses => write_emails(w, c, &s),
            Prop::PhysicalAddresses => write_addresses(w, c, &s),
            Prop::PhoneNumbers => {
                write_string_dictionary(w, "t:PhoneNumbers", PHONE_KEYS, &c.phone_numbers, |i| {
                    s.entry(p, s.phones, i)
                })
            }
            Prop::ImAddresses => {
                write_string_dictionary(w, "t:ImAddresses", IM_KEYS, &c.im_addresses, |i| {
                    s.entry(p, s.ims, i)
                })
            }
            Prop::ContactSource => {
                if s.prop(p) {
                    w.leaf("t:ContactSource", "Store");
                }
            }
            Prop::HasPicture => {
                if s.prop(p) {
                    w.leaf("t:HasPicture", if has_picture { "true" } else { "false" });
                }
            }
            _ if !s.prop(p) => {}
            _ => {
                let name = format!("t:{}", p.as_str());
                if let Some(Some(v)) = text(c, p) {
                    w.leaf(&name, v);
                } else if let Some(Some(v)) = date(c, p) {
                    // (a stored date the writer cannot carry is left out, never a panic)
                    if let Some(u) = v.checked_to_offset(UtcOffset::UTC) {
                        w.leaf(&name, &format_xs_datetime(u));
                    }
                } else if let Some(l) = list(c, p)
                    && !l.is_empty()
                {
                    w.start(&name, &[]);
                    for v in l {
                        w.leaf("t:String", v);
                    }
                    w.end(&name);
                }
            }
        }
    }
}

// ======================================================================
// UpdateItem: one property at a time
// ======================================================================

/// Why [`set_field`] or [`delete_field`] refused a property path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactFieldError {
    /// The path names no contact property (an unknown `contacts:` name, dictionary or key, or a
    /// path outside `contacts:`).
    #[error("{0} is not a contact property this server can change")]
    NotSettable(String),
    /// The path names a read-only contact property (`contacts:CompleteName`, …).
    #[error(
        "the contact property {0} is read-only: Exchange computes it, a client cannot set or delete it"
    )]
    ReadOnly(String),
    /// A SetItemField or AppendToItemField whose `t:Contact` lacks the property its path names.
    #[error("the t:Contact of the change for {0} does not contain that property")]
    Missing(String),
}

impl ContactFieldError {
    /// The EWS response code: `ErrorInvalidPropertyRequest` for a path that names no contact
    /// property, `ErrorInvalidPropertySet` for a read-only one, `ErrorUpdatePropertyMismatch`
    /// (the path does not match the property the item element sets) for a missing value.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotSettable(_) => "ErrorInvalidPropertyRequest",
            Self::ReadOnly(_) => "ErrorInvalidPropertySet",
            Self::Missing(_) => "ErrorUpdatePropertyMismatch",
        }
    }
}

/// A path as an administrator reads it: `contacts:GivenName`, `contacts:PhoneNumber[MobilePhone]`.
pub(crate) fn path_text(path: &PropertyPath) -> String {
    match path {
        PropertyPath::Field(f) => echo(f),
        PropertyPath::Indexed {
            field_uri,
            field_index,
        } => format!("{}[{}]", echo(field_uri), echo(field_index)),
        PropertyPath::Extended(_) => "an extended property".to_owned(),
        PropertyPath::Exception(f) => format!("the exception property {}", echo(f)),
    }
}

/// The settable target of `path`.
fn settable(path: &PropertyPath) -> Result<Target, ContactFieldError> {
    match target(path) {
        None => Err(ContactFieldError::NotSettable(path_text(path))),
        Some(Target::Prop(p)) if p.read_only() => Err(ContactFieldError::ReadOnly(path_text(path))),
        Some(t) => Ok(t),
    }
}

/// Copies one whole property from `partial` into `stored`; false when `partial` lacks it.
fn copy_prop(stored: &mut Contact, partial: &Contact, p: Prop) -> bool {
    fn put<T: Clone>(to: Option<&mut T>, from: Option<&T>, present: impl Fn(&T) -> bool) -> bool {
        match (to, from) {
            (Some(to), Some(from)) if present(from) => {
                *to = from.clone();
                true
            }
            _ => false,
        }
    }
    match p {
        Prop::EmailAddresses => put(
            Some(&mut stored.email_addresses),
            Some(&partial.email_addresses),
            |m| !m.is_empty(),
        ),
        Prop::PhysicalAddresses => put(
            Some(&mut stored.physical_addresses),
            Some(&partial.physical_addresses),
            |m| !m.is_empty(),
        ),
        _ => {
            put(text_mut(stored, p), text(partial, p), Option::is_some)
                || put(date_mut(stored, p), date(partial, p), Option::is_some)
                || put(list_mut(stored, p), list(partial, p), |l| !l.is_empty())
                || put(strings_mut(stored, p), strings(partial, p), |m| {
                    !m.is_empty()
                })
        }
    }
}

/// Clears one whole property.
fn clear_prop(c: &mut Contact, p: Prop) {
    match p {
        Prop::EmailAddresses => c.email_addresses.clear(),
        Prop::PhysicalAddresses => c.physical_addresses.clear(),
        _ => {
            if let Some(v) = text_mut(c, p) {
                *v = None;
            } else if let Some(v) = date_mut(c, p) {
                *v = None;
            } else if let Some(v) = list_mut(c, p) {
                v.clear();
            } else if let Some(v) = strings_mut(c, p) {
                v.clear();
            }
        }
    }
}

fn copy_entry<T: Clone>(
    to: &mut BTreeMap<String, T>,
    from: &BTreeMap<String, T>,
    key: Option<&&str>,
) -> bool {
    match key.and_then(|k| Some((*k, from.get(*k)?))) {
        Some((k, v)) => {
            to.insert(k.to_owned(), v.clone());
            true
        }
        None => false,
    }
}

/// A `t:SetItemField` (or `t:AppendToItemField`) of a contact: copies the one property `path`
/// names — a whole property (`t:FieldURI`, a dictionary replaced whole by `contacts:PhoneNumbers`
/// and the like), one dictionary entry, or one part of one physical address (a
/// `t:IndexedFieldURI`) — from `partial`, the contact properties of the change's item element,
/// into `stored`.
pub fn set_field(
    stored: &mut Contact,
    path: &PropertyPath,
    partial: &Contact,
) -> Result<(), ContactFieldError> {
    let copied = match settable(path)? {
        Target::Prop(p) => copy_prop(stored, partial, p),
        Target::Email(i) => copy_entry(
            &mut stored.email_addresses,
            &partial.email_addresses,
            EMAIL_KEYS.get(i),
        ),
        Target::Phone(i) => copy_entry(
            &mut stored.phone_numbers,
            &partial.phone_numbers,
            PHONE_KEYS.get(i),
        ),
        Target::Im(i) => copy_entry(
            &mut stored.im_addresses,
            &partial.im_addresses,
            IM_KEYS.get(i),
        ),
        Target::Part { key, part: i } => {
            let value = ADDRESS_KEYS.get(key).and_then(|k| {
                let v = part(partial.physical_addresses.get(*k)?, i)?.clone()?;
                Some((*k, v))
            });
            match value {
                Some((k, v)) => {
                    let entry = stored.physical_addresses.entry(k.to_owned()).or_default();
                    if let Some(slot) = part_mut(entry, i) {
                        *slot = Some(v);
                    }
                    true
                }
                None => false,
            }
        }
    };
    if copied {
        Ok(())
    } else {
        Err(ContactFieldError::Missing(path_text(path)))
    }
}

/// A `t:DeleteItemField` of a contact: removes the property, dictionary entry or address part
/// `path` names (an address left with no part is removed). Deleting what is not set succeeds.
pub fn delete_field(stored: &mut Contact, path: &PropertyPath) -> Result<(), ContactFieldError> {
    match settable(path)? {
        Target::Prop(p) => clear_prop(stored, p),
        Target::Email(i) => {
            if let Some(k) = EMAIL_KEYS.get(i) {
                stored.email_addresses.remove(*k);
            }
        }
        Target::Phone(i) => {
            if let Some(k) = PHONE_KEYS.get(i) {
                stored.phone_numbers.remove(*k);
            }
        }
        Target::Im(i) => {
            if let Some(k) = IM_KEYS.get(i) {
                stored.im_addresses.remove(*k);
            }
        }
        Target::Part { key, part: i } => {
            if let Some(k) = ADDRESS_KEYS.get(key)
                && let Some(a) = stored.physical_addresses.get_mut(*k)
            {
                if let Some(slot) = part_mut(a, i) {
                    *slot = None;
                }
                if a.is_empty() {
                    stored.physical_addresses.remove(*k);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, parse};

    fn element(inner: &str) -> Element {
        let xml = format!(r#"<t:Contact xmlns:t="{TYPES}">{inner}</t:Contact>"#);
        parse(xml.as_bytes(), &Limits::default()).expect("well-formed")
    }

    /// Every child read as a contact property.
    fn read(inner: &str) -> Result<Contact, EwsProtoError> {
        let el = element(inner);
        let mut c = Contact::default();
        for child in &el.children {
            assert!(
                parse_contact_child(&mut c, &el, child)?,
                "{} is not a contact property",
                child.local
            );
        }
        Ok(c)
    }

    fn at(s: &str) -> OffsetDateTime {
        crate::types::parse_xs_datetime(s).expect("date")
    }

    fn field(f: &str) -> PropertyPath {
        PropertyPath::Field(f.to_owned())
    }

    fn indexed(f: &str, i: &str) -> PropertyPath {
        PropertyPath::Indexed {
            field_uri: f.to_owned(),
            field_index: i.to_owned(),
        }
    }

    fn bob() -> Contact {
        Contact {
            file_as: Some("Jones, Bob".into()),
            file_as_mapping: Some("LastCommaFirst".into()),
            display_name: Some("Bob Jones".into()),
            given_name: Some("Bob".into()),
            initials: Some("BQJ".into()),
            middle_name: Some("Q".into()),
            nickname: Some("Bobby".into()),
            company_name: Some("Contoso & Sons".into()),
            email_addresses: [
                (
                    "EmailAddress1".to_owned(),
                    EmailEntry {
                        address: "bob@contoso.example".into(),
                        name: Some("Bob <work>".into()),
                        routing_type: Some("SMTP".into()),
                        mailbox_type: Some("Contact".into()),
                    },
                ),
                (
                    "EmailAddress3".to_owned(),
                    EmailEntry {
                        address: "bob@home.example".into(),
                        ..EmailEntry::default()
                    },
                ),
            ]
            .into(),
            physical_addresses: [
                (
                    "Business".to_owned(),
                    PhysicalAddress {
                        street: Some("1 Main St".into()),
                        city: Some("Springfield".into()),
                        state: Some("IL".into()),
                        country_or_region: Some("US".into()),
                        postal_code: Some("62701".into()),
                    },
                ),
                (
                    "Home".to_owned(),
                    PhysicalAddress {
                        city: Some("Shelbyville".into()),
                        ..PhysicalAddress::default()
                    },
                ),
            ]
            .into(),
            phone_numbers: [
                ("MobilePhone".to_owned(), "+1 555 0100".to_owned()),
                ("BusinessPhone".to_owned(), "+1 555 0101".to_owned()),
            ]
            .into(),
            assistant_name: Some("Dave".into()),
            birthday: Some(at("1980-05-17T11:59:00Z")),
            business_home_page: Some("https://contoso.example/bob".into()),
            children: vec!["Ann".into(), "Ben".into()],
            companies: vec!["Contoso".into()],
            department: Some("R&D".into()),
            generation: Some("Jr.".into()),
            im_addresses: [(
                "ImAddress1".to_owned(),
                "sip:bob@contoso.example".to_owned(),
            )]
            .into(),
            job_title: Some("Engineer".into()),
            manager: Some("Carol".into()),
            mileage: Some("12".into()),
            office_location: Some("Building 4".into()),
            postal_address_index: Some("Business".into()),
            profession: Some("Plumber".into()),
            spouse_name: Some("Eve".into()),
            surname: Some("Jones".into()),
            wedding_anniversary: Some(at("2005-06-01T11:59:00Z")),
        }
    }

    fn written(c: &Contact, shape: &ItemShape) -> String {
        let mut w = XmlOut::new();
        write_contact_fields(&mut w, c, shape, false);
        String::from_utf8(w.finish())
            .expect("utf-8")
            .replace("><", ">\n<")
    }

    #[test]
    fn reads_every_settable_property() {
        let c = read(concat!(
            "<t:FileAs>Jones, Bob</t:FileAs><t:FileAsMapping>LastCommaFirst</t:FileAsMapping>",
            "<t:DisplayName>Bob Jones</t:DisplayName><t:GivenName>Bob</t:GivenName>",
            "<t:Initials>BQJ</t:Initials><t:MiddleName>Q</t:MiddleName><t:Nickname>Bobby</t:Nickname>",
            "<t:CompanyName>Contoso &amp; Sons</t:CompanyName>",
            r#"<t:EmailAddresses><t:Entry Key="EmailAddress1" Name="Bob &lt;work&gt;" RoutingType="SMTP" MailboxType="Contact"> bob@contoso.example </t:Entry>"#,
            r#"<t:Entry Key="EmailAddress3">bob@home.example</t:Entry></t:EmailAddresses>"#,
            r#"<t:PhysicalAddresses><t:Entry Key="Business"><t:Street>1 Main St</t:Street><t:City>Springfield</t:City>"#,
            "<t:State>IL</t:State><t:CountryOrRegion>US</t:CountryOrRegion><t:PostalCode>62701</t:PostalCode></t:Entry>",
            r#"<t:Entry Key="Home"><t:City>Shelbyville</t:City></t:Entry></t:PhysicalAddresses>"#,
            r#"<t:PhoneNumbers><t:Entry Key="MobilePhone">+1 555 0100</t:Entry><t:Entry Key="BusinessPhone">+1 555 0101</t:Entry></t:PhoneNumbers>"#,
            "<t:AssistantName>Dave</t:AssistantName><t:Birthday>1980-05-17T11:59:00Z</t:Birthday>",
            "<t:BusinessHomePage>https://contoso.example/bob</t:BusinessHomePage>",
            "<t:Children><t:String>Ann</t:String><t:String>Ben</t:String></t:Children>",
            "<t:Companies><t:String>Contoso</t:String></t:Companies><t:Department>R&amp;D</t:Department>",
            r#"<t:Generation>Jr.</t:Generation><t:ImAddresses><t:Entry Key="ImAddress1">sip:bob@contoso.example</t:Entry></t:ImAddresses>"#,
            "<t:JobTitle>Engineer</t:JobTitle><t:Manager>Carol</t:Manager><t:Mileage>12</t:Mileage>",
            "<t:OfficeLocation>Building 4</t:OfficeLocation><t:PostalAddressIndex>Business</t:PostalAddressIndex>",
            "<t:Profession>Plumber</t:Profession><t:SpouseName>Eve</t:SpouseName><t:Surname>Jones</t:Surname>",
            "<t:WeddingAnniversary>2005-06-01T11:59:00Z</t:WeddingAnniversary>",
        ))
        .expect("reads");
        assert_eq!(c, bob());
    }

    #[test]
    fn item_type_and_foreign_elements_are_left_to_the_caller() {
        let el = element(
            r#"<t:Subject>x</t:Subject><t:ReminderIsSet>0</t:ReminderIsSet><x:GivenName xmlns:x="urn:x">y</x:GivenName>"#,
        );
        let mut c = Contact::default();
        for child in &el.children {
            assert_eq!(parse_contact_child(&mut c, &el, child), Ok(false));
        }
        assert!(c.is_empty());
    }

    /// Each refusal, with the variant and what it names.
    #[test]
    fn refusals_are_precise() {
        type Check = fn(&EwsProtoError) -> bool;
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let many = "<t:String>a</t:String>".repeat(MAX_LIST_ENTRIES + 1);
        let cases: Vec<(String, Check)> = vec![
            (
                "<t:CompleteName><t:FirstName>B</t:FirstName></t:CompleteName>".into(),
                |e| matches!(e, EwsProtoError::ReadOnlyProperty { element, .. } if element == "t:CompleteName"),
            ),
            (
                "<t:GivenName>a</t:GivenName><t:GivenName>b</t:GivenName>".into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { parent, name, .. } if parent == "t:Contact" && name == "t:GivenName"),
            ),
            (
                r#"<t:EmailAddresses><t:Entry Key="EmailAddress4">a@b</t:Entry></t:EmailAddresses>"#.into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, value, expected, .. }
                    if context == "t:EmailAddresses/t:Entry/@Key" && value == "EmailAddress4"
                        && expected == "one of: EmailAddress1, EmailAddress2, EmailAddress3"),
            ),
            (
                r#"<t:PhoneNumbers><t:Entry Key="Mobile">1</t:Entry></t:PhoneNumbers>"#.into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, value, .. }
                    if context == "t:PhoneNumbers/t:Entry/@Key" && value == "Mobile"),
            ),
            (
                r#"<t:PhysicalAddresses><t:Entry Key="Work"/></t:PhysicalAddresses>"#.into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, value, .. }
                    if context == "t:PhysicalAddresses/t:Entry/@Key" && value == "Work"),
            ),
            (
                r#"<t:PhoneNumbers><t:Entry Key="HomePhone">1</t:Entry><t:Entry Key="HomePhone">2</t:Entry></t:PhoneNumbers>"#.into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { parent, name, .. }
                    if parent == "t:PhoneNumbers" && name == r#"t:Entry Key="HomePhone""#),
            ),
            (
                r#"<t:ImAddresses><t:Entry Key="ImAddress1">a</t:Entry></t:ImAddresses><t:ImAddresses><t:Entry Key="ImAddress2">b</t:Entry></t:ImAddresses>"#.into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { name, .. } if name == "t:ImAddresses"),
            ),
            (
                r#"<t:EmailAddresses><t:Entry Key="EmailAddress1">a</t:Entry></t:EmailAddresses><t:EmailAddresses><t:Entry Key="EmailAddress2">b</t:Entry></t:EmailAddresses>"#.into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { name, .. } if name == "t:EmailAddresses"),
            ),
            (
                r#"<t:PhysicalAddresses><t:Entry Key="Home"/></t:PhysicalAddresses><t:PhysicalAddresses><t:Entry Key="Other"/></t:PhysicalAddresses>"#.into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { name, .. } if name == "t:PhysicalAddresses"),
            ),
            (
                "<t:Children><t:String>a</t:String></t:Children><t:Children><t:String>b</t:String></t:Children>".into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { name, .. } if name == "t:Children"),
            ),
            (
                "<t:Birthday>1980-05-17T11:59:00Z</t:Birthday><t:Birthday>1980-05-17T11:59:00Z</t:Birthday>".into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { name, .. } if name == "t:Birthday"),
            ),
            (
                "<t:FileAsMapping>SurnameFirst</t:FileAsMapping>".into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, value, expected, .. }
                    if context == "t:FileAsMapping" && value == "SurnameFirst" && expected.starts_with("one of: None, LastCommaFirst,")),
            ),
            (
                "<t:PostalAddressIndex>Work</t:PostalAddressIndex>".into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, value, expected, .. }
                    if context == "t:PostalAddressIndex" && value == "Work" && expected == "one of: None, Home, Business, Other"),
            ),
            (
                "<t:Birthday>1980-05-17</t:Birthday>".into(),
                |e| matches!(e, EwsProtoError::InvalidDateTime { context, value, .. }
                    if context == "t:Birthday" && value == "1980-05-17"),
            ),
            (
                "<t:WeddingAnniversary>9999-12-31T23:00:00-02:00</t:WeddingAnniversary>".into(),
                |e| matches!(e, EwsProtoError::InvalidDateTime { context, value, .. }
                    if context == "t:WeddingAnniversary" && value == "9999-12-31T23:00:00-02:00"),
            ),
            (
                // year 0 in UTC
                "<t:Birthday>0001-01-01T00:00:00+01:00</t:Birthday>".into(),
                |e| matches!(e, EwsProtoError::InvalidDateTime { context, .. } if context == "t:Birthday"),
            ),
            (
                "<t:EmailAddresses/>".into(),
                |e| matches!(e, EwsProtoError::MissingElement { parent, name: "Entry", .. } if parent == "t:EmailAddresses"),
            ),
            (
                "<t:PhoneNumbers><t:Entry>1</t:Entry></t:PhoneNumbers>".into(),
                |e| matches!(e, EwsProtoError::MissingAttribute { element, name: "Key", .. } if element == "t:PhoneNumbers/t:Entry"),
            ),
            (
                r#"<t:PhysicalAddresses><t:Entry Key="Home"><t:Zip>1</t:Zip></t:Entry></t:PhysicalAddresses>"#.into(),
                |e| matches!(e, EwsProtoError::UnexpectedElement { parent, found, .. } if parent == "t:Entry" && found == "t:Zip"),
            ),
            (
                r#"<t:PhysicalAddresses><t:Entry Key="Home"><t:City>a</t:City><t:City>b</t:City></t:Entry></t:PhysicalAddresses>"#.into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { parent, name, .. } if parent == "t:Entry" && name == "t:City"),
            ),
            (
                "<t:GivenName><t:B>x</t:B></t:GivenName>".into(),
                |e| matches!(e, EwsProtoError::UnexpectedElement { parent, found, .. } if parent == "t:GivenName" && found == "t:B"),
            ),
            (
                "<t:Children><t:Item>x</t:Item></t:Children>".into(),
                |e| matches!(e, EwsProtoError::UnexpectedElement { found, .. } if found == "t:Item"),
            ),
            (
                format!("<t:Surname>{long}</t:Surname>"),
                |e| matches!(e, EwsProtoError::InvalidValue { context, expected, .. }
                    if context == "t:Surname" && expected == "a value of at most 4096 bytes"),
            ),
            (
                format!(r#"<t:EmailAddresses><t:Entry Key="EmailAddress1" Name="{long}">a@b</t:Entry></t:EmailAddresses>"#),
                |e| matches!(e, EwsProtoError::InvalidValue { context, .. } if context == "t:EmailAddresses/t:Entry/@Name"),
            ),
            (
                format!("<t:Companies>{many}</t:Companies>"),
                |e| matches!(e, EwsProtoError::TooManyEntries { parent, limit: MAX_LIST_ENTRIES, .. } if parent == "t:Companies"),
            ),
        ];
        for (inner, check) in cases {
            match read(&inner) {
                Err(e) => assert!(check(&e), "{inner}: wrong error {e:?}"),
                Ok(c) => panic!("{inner}: accepted as {c:?}"),
            }
        }
    }

    #[test]
    fn every_read_only_property_is_refused_and_answers_invalid_property_set() {
        for p in Prop::ALL.iter().filter(|p| p.read_only()) {
            let name = p.as_str();
            let e = read(&format!("<t:{name}>x</t:{name}>")).expect_err(name);
            assert_eq!(
                e,
                EwsProtoError::ReadOnlyProperty {
                    element: format!("t:{name}"),
                    position: e.position().expect("position"),
                }
            );
            assert_eq!(e.response_code(), "ErrorInvalidPropertySet");
            assert!(e.to_string().contains("read-only"), "{e}");
        }
        // the derived ones, and those exchangelib marks read-only
        let read_only: Vec<_> = Prop::ALL.iter().filter(|p| p.read_only()).collect();
        assert_eq!(read_only.len(), 14);
    }

    #[test]
    fn display_name_is_derived_as_exchange_does() {
        let mut c = bob();
        assert_eq!(c.display().as_deref(), Some("Bob Jones"));
        c.display_name = Some("  ".into());
        c.given_name = Some(" Robert ".into());
        assert_eq!(c.display().as_deref(), Some("Robert Jones"));
        c.surname = None;
        assert_eq!(c.display().as_deref(), Some("Robert"));
        c.given_name = None;
        c.surname = Some("Jones".into());
        assert_eq!(c.display().as_deref(), Some("Jones"));
        c.surname = None;
        assert_eq!(c.display().as_deref(), Some("Contoso & Sons"));
        c.company_name = None;
        assert_eq!(c.display().as_deref(), Some("bob@contoso.example"));
        c.email_addresses.remove("EmailAddress1");
        assert_eq!(c.display().as_deref(), Some("bob@home.example"));
        assert_eq!(Contact::default().display(), None);
    }

    #[test]
    fn storage_round_trips_and_is_bounded() {
        let c = bob();
        let stored = c.to_storage();
        assert_eq!(Contact::from_storage(&stored).expect("reads"), c);
        assert!(stored.contains(r#""given_name":"Bob""#), "{stored}");
        assert!(
            stored.contains(r#""birthday":"1980-05-17T11:59:00Z""#),
            "{stored}"
        );
        assert!(Contact::default().is_empty());
        assert!(!c.is_empty());
        assert_eq!(
            Contact::from_storage("{}").expect("empty"),
            Contact::default()
        );
        let big = format!("{stored}{}", " ".repeat(MAX_STORAGE_BYTES));
        let e = Contact::from_storage(&big).expect_err("too long");
        assert!(e.to_string().contains("longer than the limit"), "{e}");
        // a date RFC 3339 cannot carry is left out, the rest kept
        let mut odd = bob();
        let with_seconds = UtcOffset::from_hms(1, 0, 30).expect("offset");
        odd.birthday = Some(at("1980-05-17T11:59:00Z").to_offset(with_seconds));
        let back = Contact::from_storage(&odd.to_storage()).expect("reads");
        assert_eq!(back.birthday, None);
        assert_eq!(back.wedding_anniversary, c.wedding_anniversary);
    }

    #[test]
    fn written_under_all_properties() {
        let shape = ItemShape::new(BaseShape::AllProperties);
        insta::assert_snapshot!("all_properties", written(&bob(), &shape));
        // Default is the same set
        assert_eq!(
            written(&bob(), &ItemShape::new(BaseShape::Default)),
            written(&bob(), &shape)
        );
    }

    #[test]
    fn written_under_id_only_with_additional_properties() {
        let mut shape = ItemShape::new(BaseShape::IdOnly);
        assert_eq!(written(&bob(), &shape), "", "IdOnly names nothing");
        shape.additional = vec![
            field("contacts:Surname"),
            field("contacts:GivenName"),
            field("contacts:Children"),
            field("contacts:CompleteName"),
            field("contacts:HasPicture"),
            field("contacts:Notes"),
            field("contacts:ImAddresses"),
            field("item:Subject"),
            indexed("contacts:EmailAddress", "EmailAddress3"),
            indexed("contacts:EmailAddress", "EmailAddress2"),
            indexed("contacts:PhoneNumber", "MobilePhone"),
            indexed("contacts:PhysicalAddress:City", "Business"),
            indexed("contacts:PhysicalAddress:PostalCode", "Business"),
            indexed("contacts:PhysicalAddress:Street", "Home"),
            indexed("contacts:PhysicalAddress:City", "Other"),
        ];
        insta::assert_snapshot!("id_only_additional", written(&bob(), &shape));
    }

    #[test]
    fn nothing_empty_is_written() {
        let shape = ItemShape::new(BaseShape::AllProperties);
        assert_eq!(
            written(&Contact::default(), &shape),
            "<t:ContactSource>Store</t:ContactSource>\n<t:HasPicture>false</t:HasPicture>"
        );
        // no display name stored: derived; an address without parts is written as such
        let c = Contact {
            surname: Some("Jones".into()),
            physical_addresses: [("Other".to_owned(), PhysicalAddress::default())].into(),
            ..Contact::default()
        };
        assert_eq!(
            written(&c, &shape),
            concat!(
                "<t:DisplayName>Jones</t:DisplayName>\n",
                "<t:CompleteName>\n<t:LastName>Jones</t:LastName>\n<t:FullName>Jones</t:FullName>\n</t:CompleteName>\n",
                "<t:PhysicalAddresses>\n<t:Entry Key=\"Other\"/>\n</t:PhysicalAddresses>\n",
                "<t:ContactSource>Store</t:ContactSource>\n<t:Surname>Jones</t:Surname>\n",
                "<t:HasPicture>false</t:HasPicture>"
            )
        );
    }

    #[test]
    fn contact_paths() {
        assert!(is_contact_path(&field("contacts:GivenName")));
        assert!(is_contact_path(&field("contacts:Nonsense")));
        assert!(is_contact_path(&indexed(
            "contacts:EmailAddress",
            "EmailAddress1"
        )));
        assert!(!is_contact_path(&field("item:Subject")));
        assert!(!is_contact_path(&indexed("item:Subject", "x")));
        assert!(!is_contact_path(&PropertyPath::Exception(
            "contacts:GivenName".into()
        )));
    }

    #[test]
    fn set_and_delete_a_plain_property() {
        let mut stored = bob();
        let partial = read("<t:JobTitle>Senior Engineer</t:JobTitle>").expect("reads");
        set_field(&mut stored, &field("contacts:JobTitle"), &partial).expect("set");
        assert_eq!(stored.job_title.as_deref(), Some("Senior Engineer"));
        let mut expected = bob();
        expected.job_title = Some("Senior Engineer".into());
        assert_eq!(stored, expected, "nothing else changed");
        delete_field(&mut stored, &field("contacts:JobTitle")).expect("deleted");
        assert_eq!(stored.job_title, None);
        delete_field(&mut stored, &field("contacts:JobTitle")).expect("deleting twice is fine");
        // lists and dates
        let partial = read("<t:Children><t:String>Cy</t:String></t:Children><t:Birthday>1981-01-01T00:00:00Z</t:Birthday>")
            .expect("reads");
        set_field(&mut stored, &field("contacts:Children"), &partial).expect("set");
        set_field(&mut stored, &field("contacts:Birthday"), &partial).expect("set");
        assert_eq!(stored.children, ["Cy"]);
        assert_eq!(stored.birthday, Some(at("1981-01-01T00:00:00Z")));
        delete_field(&mut stored, &field("contacts:Children")).expect("deleted");
        delete_field(&mut stored, &field("contacts:Birthday")).expect("deleted");
        assert!(stored.children.is_empty());
        assert_eq!(stored.birthday, None);
    }

    #[test]
    fn set_and_delete_an_email_entry() {
        let mut stored = bob();
        let partial = read(r#"<t:EmailAddresses><t:Entry Key="EmailAddress1">bob@new.example</t:Entry></t:EmailAddresses>"#)
            .expect("reads");
        let path = indexed("contacts:EmailAddress", "EmailAddress1");
        set_field(&mut stored, &path, &partial).expect("set");
        assert_eq!(
            stored.email_addresses["EmailAddress1"],
            EmailEntry {
                address: "bob@new.example".into(),
                ..EmailEntry::default()
            },
            "the entry replaced whole, its attributes with it"
        );
        assert_eq!(
            stored.email_addresses["EmailAddress3"].address,
            "bob@home.example"
        );
        // what exchangelib sends next: the entries it left out deleted
        delete_field(
            &mut stored,
            &indexed("contacts:EmailAddress", "EmailAddress2"),
        )
        .expect("absent");
        delete_field(
            &mut stored,
            &indexed("contacts:EmailAddress", "EmailAddress3"),
        )
        .expect("deleted");
        assert_eq!(
            stored.email_addresses.keys().collect::<Vec<_>>(),
            ["EmailAddress1"]
        );
        // the whole dictionary
        let partial = read(
            r#"<t:EmailAddresses><t:Entry Key="EmailAddress2">x@y</t:Entry></t:EmailAddresses>"#,
        )
        .expect("reads");
        set_field(&mut stored, &field("contacts:EmailAddresses"), &partial).expect("set");
        assert_eq!(stored.email_addresses, partial.email_addresses);
        delete_field(&mut stored, &field("contacts:EmailAddresses")).expect("deleted");
        assert!(stored.email_addresses.is_empty());
    }

    #[test]
    fn set_and_delete_a_phone_entry() {
        let mut stored = bob();
        let partial = read(
            r#"<t:PhoneNumbers><t:Entry Key="HomePhone">+1 555 0199</t:Entry></t:PhoneNumbers>"#,
        )
        .expect("reads");
        set_field(
            &mut stored,
            &indexed("contacts:PhoneNumber", "HomePhone"),
            &partial,
        )
        .expect("set");
        delete_field(&mut stored, &indexed("contacts:PhoneNumber", "MobilePhone"))
            .expect("deleted");
        assert_eq!(
            stored.phone_numbers,
            BTreeMap::from([
                ("BusinessPhone".to_owned(), "+1 555 0101".to_owned()),
                ("HomePhone".to_owned(), "+1 555 0199".to_owned()),
            ])
        );
        let partial =
            read(r#"<t:ImAddresses><t:Entry Key="ImAddress2">im</t:Entry></t:ImAddresses>"#)
                .expect("reads");
        set_field(
            &mut stored,
            &indexed("contacts:ImAddress", "ImAddress2"),
            &partial,
        )
        .expect("set");
        delete_field(&mut stored, &indexed("contacts:ImAddress", "ImAddress1")).expect("deleted");
        assert_eq!(
            stored.im_addresses,
            BTreeMap::from([("ImAddress2".to_owned(), "im".to_owned())])
        );
    }

    #[test]
    fn set_and_delete_a_physical_address_part() {
        let mut stored = bob();
        let partial = read(r#"<t:PhysicalAddresses><t:Entry Key="Home"><t:Street>2 Elm St</t:Street></t:Entry></t:PhysicalAddresses>"#)
            .expect("reads");
        set_field(
            &mut stored,
            &indexed("contacts:PhysicalAddress:Street", "Home"),
            &partial,
        )
        .expect("set");
        assert_eq!(
            stored.physical_addresses["Home"],
            PhysicalAddress {
                street: Some("2 Elm St".into()),
                city: Some("Shelbyville".into()),
                ..PhysicalAddress::default()
            },
            "the other parts kept"
        );
        // a part of an address not stored yet creates it
        let partial = read(r#"<t:PhysicalAddresses><t:Entry Key="Other"><t:PostalCode>99</t:PostalCode></t:Entry></t:PhysicalAddresses>"#)
            .expect("reads");
        set_field(
            &mut stored,
            &indexed("contacts:PhysicalAddress:PostalCode", "Other"),
            &partial,
        )
        .expect("set");
        assert_eq!(
            stored.physical_addresses["Other"].postal_code.as_deref(),
            Some("99")
        );
        // deleting parts: the address goes with its last part
        delete_field(
            &mut stored,
            &indexed("contacts:PhysicalAddress:Street", "Home"),
        )
        .expect("deleted");
        assert!(stored.physical_addresses.contains_key("Home"));
        delete_field(
            &mut stored,
            &indexed("contacts:PhysicalAddress:City", "Home"),
        )
        .expect("deleted");
        assert!(!stored.physical_addresses.contains_key("Home"));
        for part in ADDRESS_PARTS {
            delete_field(
                &mut stored,
                &indexed(&format!("contacts:PhysicalAddress:{part}"), "Business"),
            )
            .expect("deleted");
        }
        assert_eq!(
            stored.physical_addresses.keys().collect::<Vec<_>>(),
            ["Other"]
        );
    }

    #[test]
    fn set_and_delete_refusals() {
        let mut stored = bob();
        let partial = read("<t:Surname>Smith</t:Surname>").expect("reads");
        let cases = [
            (
                field("contacts:Nonsense"),
                ContactFieldError::NotSettable("contacts:Nonsense".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                field("item:Subject"),
                ContactFieldError::NotSettable("item:Subject".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                field("contacts:EmailAddress"),
                ContactFieldError::NotSettable("contacts:EmailAddress".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                indexed("contacts:PhoneNumber", "Mobile"),
                ContactFieldError::NotSettable("contacts:PhoneNumber[Mobile]".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                indexed("contacts:PhysicalAddress:Zip", "Home"),
                ContactFieldError::NotSettable("contacts:PhysicalAddress:Zip[Home]".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                indexed("contacts:PhysicalAddress:City", "Work"),
                ContactFieldError::NotSettable("contacts:PhysicalAddress:City[Work]".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                indexed("contacts:GivenName", "x"),
                ContactFieldError::NotSettable("contacts:GivenName[x]".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                field("contacts:CompleteName"),
                ContactFieldError::ReadOnly("contacts:CompleteName".into()),
                "ErrorInvalidPropertySet",
            ),
            (
                field("contacts:HasPicture"),
                ContactFieldError::ReadOnly("contacts:HasPicture".into()),
                "ErrorInvalidPropertySet",
            ),
        ];
        for (path, expected, code) in cases {
            assert_eq!(
                set_field(&mut stored, &path, &partial),
                Err(expected.clone()),
                "{path:?}"
            );
            assert_eq!(
                delete_field(&mut stored, &path),
                Err(expected.clone()),
                "{path:?}"
            );
            assert_eq!(expected.code(), code);
        }
        // the item element lacks what the path names
        for path in [
            field("contacts:GivenName"),
            field("contacts:Children"),
            field("contacts:PhoneNumbers"),
            indexed("contacts:EmailAddress", "EmailAddress1"),
            indexed("contacts:PhysicalAddress:City", "Home"),
        ] {
            let e = set_field(&mut stored, &path, &partial).expect_err("missing");
            assert!(matches!(e, ContactFieldError::Missing(_)), "{e:?}");
            assert_eq!(e.code(), "ErrorUpdatePropertyMismatch");
        }
        let partial = read(r#"<t:PhysicalAddresses><t:Entry Key="Home"><t:City>x</t:City></t:Entry></t:PhysicalAddresses>"#)
            .expect("reads");
        let e = set_field(
            &mut stored,
            &indexed("contacts:PhysicalAddress:Street", "Home"),
            &partial,
        )
        .expect_err("the entry lacks the part");
        assert_eq!(
            e,
            ContactFieldError::Missing("contacts:PhysicalAddress:Street[Home]".into())
        );
        assert_eq!(
            e.to_string(),
            "the t:Contact of the change for contacts:PhysicalAddress:Street[Home] does not contain that property"
        );
        assert_eq!(stored, bob(), "no refusal changed anything");
    }

    /// The storage paths searches and sorts use name the members `to_storage` writes.
    #[test]
    fn search_paths_name_the_stored_members() {
        let mut c = Contact {
            given_name: Some("Carol".into()),
            ..Contact::default()
        };
        c.email_addresses.insert(
            "EmailAddress2".into(),
            EmailEntry {
                address: "c@x.example".into(),
                ..EmailEntry::default()
            },
        );
        c.phone_numbers.insert("MobilePhone".into(), "1".into());
        c.physical_addresses.insert(
            "Home".into(),
            PhysicalAddress {
                country_or_region: Some("NZ".into()),
                ..PhysicalAddress::default()
            },
        );
        let stored: serde_json::Value = serde_json::from_str(&c.to_storage()).expect("stored JSON");
        let at = |path: &str| {
            path.strip_prefix("$.")
                .expect("a root path")
                .split('.')
                .fold(&stored, |v, k| &v[k])
                .clone()
        };
        let cases = [
            (field("contacts:GivenName"), "Carol"),
            (
                indexed("contacts:EmailAddress", "EmailAddress2"),
                "c@x.example",
            ),
            (indexed("contacts:PhoneNumber", "MobilePhone"), "1"),
            (
                indexed("contacts:PhysicalAddress:CountryOrRegion", "Home"),
                "NZ",
            ),
        ];
        for (path, want) in cases {
            let p = search_path(&path).expect("searchable");
            assert_eq!(at(&p), want, "{p}");
        }
        assert_eq!(text_key(&field("contacts:Surname")), Some("surname"));
        assert_eq!(
            text_key(&field("contacts:DisplayName")),
            Some("display_name")
        );
        // not plain text, not known, or read-only: not searchable
        for path in [
            field("contacts:Birthday"),
            field("contacts:Children"),
            field("contacts:CompleteName"),
            field("contacts:Nope"),
            field("item:Subject"),
            indexed("contacts:PhoneNumber", "SatellitePhone"),
        ] {
            assert_eq!(search_path(&path), None, "{path:?}");
            assert_eq!(text_key(&path), None, "{path:?}");
        }
    }
}
