//! Contacts (`t:Contact`): a contact is a stored item whose own properties (names, email
//! addresses, phone numbers, postal addresses, …) the store keeps as one JSON value beside it
//! ([`mailbox::NewItem::contact`]; the schema is `ews_proto::contact`'s). UpdateItem changes
//! them one property or one dictionary entry at a time, here, against the contact as stored;
//! ResolveNames finds contacts in the caller's Contacts folder.

use ews_proto::contact::{self, Contact};
use ews_proto::request::{ItemFieldChange, ItemFieldValue};
use ews_proto::response::ResponseError;
use ews_proto::types::Mailbox;

/// A new contact as stored: its display name derived when the client set none (as Exchange
/// does: given name and surname, else the company, else the first email address), and the
/// item's subject that display name when the client set none.
pub(crate) fn new_contact(mut c: Contact, subject: &mut Option<String>) -> String {
    if c.display_name.is_none() {
        c.display_name = c.display();
    }
    if subject.is_none() {
        subject.clone_from(&c.display_name);
    }
    c.to_storage()
}

/// A new private distribution list as stored (where a contact's properties are): named by its
/// display name, else its subject (one of them is required); its subject the display name when
/// it has none.
pub(crate) fn new_list(
    mut l: ews_proto::dlist::DistributionList,
    subject: &mut Option<String>,
) -> Result<String, ews_proto::response::ResponseError> {
    if l.display_name
        .as_deref()
        .is_none_or(|n| n.trim().is_empty())
    {
        l.display_name = subject.clone().filter(|s| !s.trim().is_empty());
    }
    if l.display_name.is_none() {
        return Err(ews_proto::response::ResponseError::new(
            "ErrorRequiredPropertyMissing",
            "A distribution list needs a name: t:DistributionList has no t:DisplayName.",
        ));
    }
    if subject.is_none() {
        subject.clone_from(&l.display_name);
    }
    Ok(l.to_storage())
}

/// The private distribution list an item stores, if it is one (a stored value that does not
/// read is logged and shown as a list without members).
pub(crate) fn stored_list(i: &mailbox::Item) -> Option<ews_proto::dlist::DistributionList> {
    if !crate::ews::is_dist_list_class(&i.item_class) {
        return None;
    }
    let s = i.contact.as_deref().unwrap_or("{}");
    Some(
        ews_proto::dlist::DistributionList::from_storage(s).unwrap_or_else(|e| {
            tracing::warn!(item = %i.id, error = %e, "a stored distribution list does not read");
            ews_proto::dlist::DistributionList::default()
        }),
    )
}

/// The contact an item stores, if it is one (not a distribution list, which keeps its members
/// in the same place). A stored value that does not read (never written by this server) is
/// logged and shown as a contact without properties.
pub(crate) fn stored(i: &mailbox::Item) -> Option<Contact> {
    if crate::ews::is_dist_list_class(&i.item_class) {
        return None;
    }
    let s = i.contact.as_deref()?;
    Some(Contact::from_storage(s).unwrap_or_else(|e| {
        tracing::warn!(item = %i.id, error = %e, "a stored contact does not read");
        Contact::default()
    }))
}

/// Applies UpdateItem's changes of a distribution list's own properties, in order, to the list
/// as stored: each Set or Append with the `t:DistributionList` element's value, each Delete
/// clearing it.
pub(crate) fn apply_list(
    l: &mut ews_proto::dlist::DistributionList,
    changes: &[&ItemFieldChange],
) -> Result<(), ResponseError> {
    for c in changes {
        let (values, append) = match c {
            ItemFieldChange::Set { values, .. } => (Some(values), false),
            ItemFieldChange::Append { values, .. } => (Some(values), true),
            ItemFieldChange::Delete { .. } => (None, false),
        };
        let fields = match values {
            None => None,
            Some(v) => Some(
                v.iter()
                    .find_map(|v| match v {
                        ews_proto::request::ItemFieldValue::DistributionList(f) => Some(&**f),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        ResponseError::new(
                            "ErrorInvalidPropertySet",
                            &format!(
                                "The change names {}, which its item element does not set: give it in a t:DistributionList.",
                                c.path().field_uri().unwrap_or("a property")
                            ),
                        )
                    })?,
            ),
        };
        l.change(c.path(), fields, append)
            .map_err(|e| ResponseError::new(e.code(), &e.to_string()))?;
    }
    Ok(())
}

/// Whether an UpdateItem change is to a contact's own property.
pub(crate) fn is_contact_change(c: &ItemFieldChange) -> bool {
    contact::is_contact_path(c.path())
}

/// Applies UpdateItem's contact changes, in order, to the contact as stored.
pub(crate) fn apply(c: &mut Contact, changes: &[&ItemFieldChange]) -> Result<(), ResponseError> {
    let refused = |e: contact::ContactFieldError| ResponseError::new(e.code(), &e.to_string());
    for change in changes {
        match change {
            ItemFieldChange::Set { path, values } => {
                // without contact properties in its item element (none, or only read-only
                // ones), the path alone decides: read-only, unknown, or not set by the element
                let none = Contact::default();
                let partial = values
                    .iter()
                    .find_map(|v| match v {
                        ItemFieldValue::Contact(p) => Some(&**p),
                        _ => None,
                    })
                    .unwrap_or(&none);
                contact::set_field(c, path, partial).map_err(refused)?;
            }
            ItemFieldChange::Append { path, .. } => {
                return Err(ResponseError::new(
                    "ErrorInvalidPropertyAppend",
                    &format!(
                        "Append action is invalid for property {}: a contact's properties are set or deleted, not appended to.",
                        crate::ews::path_name(path)
                    ),
                ));
            }
            ItemFieldChange::Delete { path } => contact::delete_field(c, path).map_err(refused)?,
        }
    }
    Ok(())
}

/// The contacts a ResolveNames entry names, as a store restriction (run in the store, so only
/// matches are read): a display name, given name, surname, nickname, file-as name or email
/// address that starts with it, or for an `SMTP:` entry an email address that is it. Case is
/// ignored (Unicode case folding). `None` for an entry that names nothing (blank).
pub(crate) fn resolve_filter(entry: &str) -> Option<mailbox::Filter> {
    use mailbox::{Bag, ContainmentMode, Field, Filter};
    let entry = entry.trim();
    let smtp = entry
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("smtp:"))
        .and_then(|_| entry.get(5..));
    let needle = smtp.unwrap_or(entry).trim();
    if needle.is_empty() {
        return None;
    }
    let field = |path: String| Field::Typed(Bag::Contact, path);
    let emails = contact::EMAIL_KEYS
        .iter()
        .map(|k| field(format!("$.email_addresses.{k}.address")));
    let (fields, mode): (Vec<Field>, _) = match smtp {
        Some(_) => (emails.collect(), ContainmentMode::FullString),
        None => (
            [
                "display_name",
                "given_name",
                "surname",
                "nickname",
                "file_as",
            ]
            .iter()
            .map(|n| field(format!("$.{n}")))
            .chain(emails)
            .collect(),
            ContainmentMode::Prefixed,
        ),
    };
    Some(Filter::Or(
        fields
            .into_iter()
            .map(|f| Filter::contains(f, needle, mode, true))
            .collect(),
    ))
}

/// A private distribution list as ResolveNames answers it: its name, routing type `MAPIPDL`,
/// mailbox type `PrivateDL`, and its item id (what ExpandDL expands it by); it has no address.
pub(crate) fn list_resolution(
    i: &mailbox::Item,
    l: &ews_proto::dlist::DistributionList,
) -> ews_proto::response::Resolution {
    ews_proto::response::Resolution {
        mailbox: Mailbox {
            name: l.display_name.clone().or_else(|| i.subject.clone()),
            email_address: None,
            routing_type: Some("MAPIPDL".into()),
            mailbox_type: Some("PrivateDL".into()),
            item_id: Some(ews_proto::types::ItemRef::new(&i.id, Some(&i.change_key))),
        },
        contact: None,
    }
}

/// A contact as ResolveNames answers it: its display name and first email address, of mailbox
/// type `Contact`; `None` for a contact without an email address (nothing to address).
pub(crate) fn resolution(c: &Contact, full: bool) -> Option<ews_proto::response::Resolution> {
    let first = c.email_addresses.values().next()?;
    let name = c.display();
    Some(ews_proto::response::Resolution {
        mailbox: Mailbox {
            name: name.clone(),
            email_address: Some(first.address.clone()),
            routing_type: Some("SMTP".into()),
            mailbox_type: Some("Contact".into()),
            item_id: None,
        },
        contact: full.then(|| ews_proto::response::ResolvedContact {
            display_name: name.unwrap_or_default(),
            email_addresses: c
                .email_addresses
                .values()
                .map(|e| format!("SMTP:{}", e.address))
                .collect(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ews_proto::contact::EmailEntry;

    fn carol() -> Contact {
        let mut c = Contact {
            given_name: Some("Carol".into()),
            surname: Some("Jones".into()),
            ..Contact::default()
        };
        c.email_addresses.insert(
            "EmailAddress1".into(),
            EmailEntry {
                address: "carol@fabrikam.example".into(),
                ..EmailEntry::default()
            },
        );
        c
    }

    #[test]
    fn a_new_contact_gets_a_display_name_and_subject() {
        let mut subject = None;
        let s = new_contact(carol(), &mut subject);
        assert_eq!(subject.as_deref(), Some("Carol Jones"));
        let back = Contact::from_storage(&s).unwrap();
        assert_eq!(back.display_name.as_deref(), Some("Carol Jones"));
        // what the client set is kept
        let mut subject = Some("Mine".into());
        let mut c = carol();
        c.display_name = Some("CJ".into());
        let s = new_contact(c, &mut subject);
        assert_eq!(subject.as_deref(), Some("Mine"));
        assert_eq!(
            Contact::from_storage(&s).unwrap().display_name.as_deref(),
            Some("CJ")
        );
    }

    #[test]
    fn a_blank_entry_names_no_contact() {
        for blank in ["", "  ", "SMTP:", "smtp:  "] {
            assert!(resolve_filter(blank).is_none(), "{blank:?}");
        }
        assert!(resolve_filter("SMTP:a@b.example").is_some());
    }

    #[test]
    fn a_contact_resolves_to_its_first_address() {
        let c = carol();
        let r = resolution(&c, true).unwrap();
        assert_eq!(r.mailbox.mailbox_type.as_deref(), Some("Contact"));
        assert_eq!(r.mailbox.name.as_deref(), Some("Carol Jones"));
        assert_eq!(
            r.contact.unwrap().email_addresses,
            ["SMTP:carol@fabrikam.example"]
        );
        assert!(resolution(&Contact::default(), false).is_none());
    }
}
