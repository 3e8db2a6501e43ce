//! Inbox rules: a mailbox's server-side rules (EWS GetInboxRules and UpdateInboxRules), kept in
//! priority order, and run on each message delivered to its Inbox, in the delivery's own
//! transaction, as Exchange's rules run at delivery: sent mail, meeting requests, responses and
//! cancellations, non-delivery reports and automatic replies (mail filed as junk is not). The
//! "sent to me" tests compare with the recipient's own addresses where the delivery knows them
//! (a send's and a meeting request's, from `Send::recipient_addresses` and
//! `Invite::recipient_addresses`; an automatic reply's); for meeting responses, cancellations
//! and reports they hold for no address. Forwards (also as an attachment) and redirects are
//! returned to the caller with each delivery's result, whatever was delivered (`Sent`,
//! `Invited`, `Responded`, `Cancelled`, `OofReplies`), for it to send after the transaction.
//!
//! A rule matches when every condition it sets holds (an empty set: every message) and none of
//! the exceptions it sets does; a list of strings or addresses holds when any of its entries
//! does, strings compared as case-insensitive substrings, addresses as whole addresses without
//! ASCII case. The actions of every matching rule run in priority order until one stops the
//! processing: read flag, importance and categories change the delivered message; the first
//! rule that moves it (to a folder, or to Deleted Items) moves it and later moves copy it; a
//! copy copies it; a permanent delete removes it, last. A rule whose folder is gone does nothing
//! for that action.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::MailboxError;
use crate::items::{copy_local, delete_local, item_header, load_item, move_local};
use crate::model::*;
use crate::store::{MailboxStore, Mb, distinguished_folder, mailbox_row, resolve_folder};

/// Most rules one mailbox has.
pub const MAX_RULES: usize = 256;
/// Most bytes one mailbox's rules take together, as stored (Exchange's largest `RulesQuota`,
/// 256 KB): what each delivery to the mailbox reads at most.
pub const MAX_RULES_BYTES: usize = 256 * 1024;
/// Most strings or addresses one condition lists, and the longest of each (characters).
pub const MAX_RULE_STRINGS: usize = 256;
pub const MAX_RULE_STRING_CHARS: usize = 255;

mod opt_enum {
    //! `Option<Importance>`/`Option<Sensitivity>` as their EWS spelling.
    use serde::{Deserialize, Deserializer, Serializer};

    pub trait Spelled: Sized + Copy {
        fn spell(self) -> &'static str;
        fn read(s: &str) -> Option<Self>;
    }
    impl Spelled for crate::model::Importance {
        fn spell(self) -> &'static str {
            self.as_str()
        }
        fn read(s: &str) -> Option<Self> {
            Self::parse(s)
        }
    }
    impl Spelled for crate::model::Sensitivity {
        fn spell(self) -> &'static str {
            self.as_str()
        }
        fn read(s: &str) -> Option<Self> {
            Self::parse(s)
        }
    }

    pub fn serialize<T: Spelled, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(v.spell()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Spelled, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => T::read(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown value {s:?}"))),
            None => Ok(None),
        }
    }
}

/// What a rule tests (as conditions, all must hold; as exceptions, any one excepts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleConditions {
    pub categories: Vec<String>,
    pub contains_body_strings: Vec<String>,
    pub contains_recipient_strings: Vec<String>,
    pub contains_sender_strings: Vec<String>,
    pub contains_subject_or_body_strings: Vec<String>,
    pub contains_subject_strings: Vec<String>,
    pub from_addresses: Vec<String>,
    pub sent_to_addresses: Vec<String>,
    pub item_classes: Vec<String>,
    pub has_attachments: Option<bool>,
    #[serde(with = "opt_enum")]
    pub importance: Option<Importance>,
    #[serde(with = "opt_enum")]
    pub sensitivity: Option<Sensitivity>,
    pub is_approval_request: Option<bool>,
    pub is_automatic_reply: Option<bool>,
    pub is_encrypted: Option<bool>,
    pub is_meeting_request: Option<bool>,
    pub is_meeting_response: Option<bool>,
    pub is_ndr: Option<bool>,
    pub is_read_receipt: Option<bool>,
    pub is_signed: Option<bool>,
    pub is_voicemail: Option<bool>,
    pub not_sent_to_me: Option<bool>,
    pub sent_cc_me: Option<bool>,
    pub sent_only_to_me: Option<bool>,
    pub sent_to_me: Option<bool>,
    pub sent_to_or_cc_me: Option<bool>,
    /// `WithinSizeRange`, in kilobytes, both ends included.
    pub size_kb: Option<(Option<u64>, Option<u64>)>,
    /// `WithinDateRange`: when the message was received.
    #[serde(with = "opt_range")]
    pub received: Option<(Option<OffsetDateTime>, Option<OffsetDateTime>)>,
}

mod opt_range {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use time::OffsetDateTime;

    type Range = Option<(Option<OffsetDateTime>, Option<OffsetDateTime>)>;

    pub fn serialize<S: Serializer>(v: &Range, s: S) -> Result<S::Ok, S::Error> {
        v.map(|(a, b)| (a.map(|t| t.unix_timestamp()), b.map(|t| t.unix_timestamp())))
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Range, D::Error> {
        let raw = Option::<(Option<i64>, Option<i64>)>::deserialize(d)?;
        let at = |t: Option<i64>| {
            t.map(|t| OffsetDateTime::from_unix_timestamp(t).map_err(serde::de::Error::custom))
                .transpose()
        };
        raw.map(|(a, b)| Ok((at(a)?, at(b)?))).transpose()
    }
}

/// What a matching rule does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleActions {
    pub assign_categories: Vec<String>,
    /// A folder of the mailbox (its id once stored).
    pub copy_to_folder: Option<FolderSel>,
    pub move_to_folder: Option<FolderSel>,
    /// To Deleted Items.
    pub delete: bool,
    pub permanent_delete: bool,
    pub mark_as_read: bool,
    #[serde(with = "opt_enum")]
    pub mark_importance: Option<Importance>,
    pub stop_processing_rules: bool,
    /// Addresses the message is forwarded to as an attachment, forwarded to ("FW: ", from the
    /// mailbox) or redirected to (as it is, from its sender), after the delivery
    /// ([`RuleForward`]).
    pub forward_as_attachment_to_recipients: Vec<String>,
    pub forward_to_recipients: Vec<String>,
    pub redirect_to_recipients: Vec<String>,
}

/// How a rule passes a message on ([`RuleForward`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardKind {
    /// "FW: " from the rule's mailbox, the original quoted, its attachments carried.
    Forward,
    /// "FW: " from the rule's mailbox, the original attached whole as an item attachment.
    AsAttachment,
    /// The message as it is, from its sender.
    Redirect,
}

/// `PR_AUTO_FORWARDED` (0x0005), set on what a rule forwards or redirects: such a message is
/// never forwarded by a rule again, so two mailboxes forwarding to each other make no loop.
pub const AUTO_FORWARDED_KEY: &str = "tag:0x0005|type:boolean";

/// A forward or redirect a rule asks for, done by the caller after the delivery's transaction
/// (a send of its own, routed through the directory).
#[derive(Debug, Clone)]
pub struct RuleForward {
    /// The mailbox whose rule it is.
    pub mailbox: MailboxKey,
    /// The message as delivered (with its body; its attachments named).
    pub item: Item,
    pub to: Vec<String>,
    pub kind: ForwardKind,
}

/// One Inbox rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxRule {
    /// Given by the store; empty in a rule to create.
    pub id: String,
    pub display_name: String,
    /// 1 is first; the store keeps them 1, 2, 3, … in order.
    pub priority: u32,
    pub is_enabled: bool,
    pub conditions: RuleConditions,
    pub exceptions: RuleConditions,
    pub actions: RuleActions,
}

/// One operation of [`MailboxStore::update_rules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOp {
    Create(InboxRule),
    /// The rule with this id, replaced whole.
    Set(InboxRule),
    Delete(String),
}

/// Why an operation of [`MailboxStore::update_rules`] was refused: its index and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOpError {
    pub index: usize,
    /// `RuleNotFound`, `DuplicateDisplayName`, … (what the reason is about).
    pub code: &'static str,
    pub why: String,
}

impl RuleConditions {
    fn strings(&self) -> [&Vec<String>; 9] {
        [
            &self.categories,
            &self.contains_body_strings,
            &self.contains_recipient_strings,
            &self.contains_sender_strings,
            &self.contains_subject_or_body_strings,
            &self.contains_subject_strings,
            &self.from_addresses,
            &self.sent_to_addresses,
            &self.item_classes,
        ]
    }

    fn needs_body(&self) -> bool {
        !self.contains_body_strings.is_empty() || !self.contains_subject_or_body_strings.is_empty()
    }

    /// Each test it sets, evaluated on `m` (`me`: the mailbox's own addresses).
    fn tests(&self, m: &Item, me: &[String]) -> Vec<bool> {
        let lower = |s: &str| s.to_lowercase();
        let any_in = |hay: &str, needles: &[String]| {
            let hay = lower(hay);
            needles.iter().any(|n| hay.contains(&lower(n)))
        };
        let is_me = |r: &Recipient| me.iter().any(|a| a.eq_ignore_ascii_case(r.email.trim()));
        let class = m.item_class.to_ascii_lowercase();
        let class_is = |prefix: &str| class.starts_with(&prefix.to_ascii_lowercase());
        let subject = m.subject.as_deref().unwrap_or_default();
        let body = m
            .body
            .as_ref()
            .map(|b| b.content.as_str())
            .unwrap_or_default();
        let sender = m.from.as_ref().or(m.sender.as_ref());
        let mut t = Vec::new();
        let mut list = |l: &Vec<String>, f: &dyn Fn(&[String]) -> bool| {
            if !l.is_empty() {
                t.push(f(l));
            }
        };
        list(&self.categories, &|l| {
            m.categories
                .iter()
                .any(|c| l.iter().any(|x| x.eq_ignore_ascii_case(c)))
        });
        list(&self.contains_body_strings, &|l| any_in(body, l));
        list(&self.contains_recipient_strings, &|l| {
            m.to.iter()
                .chain(&m.cc)
                .any(|r| any_in(&r.email, l) || r.name.as_deref().is_some_and(|n| any_in(n, l)))
        });
        list(&self.contains_sender_strings, &|l| {
            sender.is_some_and(|r| {
                any_in(&r.email, l) || r.name.as_deref().is_some_and(|n| any_in(n, l))
            })
        });
        list(&self.contains_subject_or_body_strings, &|l| {
            any_in(subject, l) || any_in(body, l)
        });
        list(&self.contains_subject_strings, &|l| any_in(subject, l));
        list(&self.from_addresses, &|l| {
            sender.is_some_and(|r| l.iter().any(|a| a.eq_ignore_ascii_case(r.email.trim())))
        });
        list(&self.sent_to_addresses, &|l| {
            m.to.iter()
                .chain(&m.cc)
                .any(|r| l.iter().any(|a| a.eq_ignore_ascii_case(r.email.trim())))
        });
        list(&self.item_classes, &|l| {
            l.iter().any(|c| c.eq_ignore_ascii_case(&m.item_class))
        });
        let mut flag = |want: Option<bool>, have: bool| {
            if let Some(w) = want {
                t.push(w == have);
            }
        };
        flag(self.has_attachments, m.has_attachments);
        flag(
            self.is_approval_request,
            class_is("IPM.Note.Microsoft.Approval.Request"),
        );
        flag(
            self.is_automatic_reply,
            class_is("IPM.Note.Rules.OofTemplate"),
        );
        flag(
            self.is_encrypted,
            class_is("IPM.Note.SMIME") && !class_is("IPM.Note.SMIME.MultipartSigned"),
        );
        flag(
            self.is_meeting_request,
            class_is("IPM.Schedule.Meeting.Request"),
        );
        flag(
            self.is_meeting_response,
            class_is("IPM.Schedule.Meeting.Resp."),
        );
        flag(self.is_ndr, class_is("REPORT.IPM.Note.NDR"));
        flag(self.is_read_receipt, class_is("REPORT.IPM.Note.IPNRN"));
        flag(self.is_signed, class_is("IPM.Note.SMIME.MultipartSigned"));
        flag(self.is_voicemail, class_is("IPM.Note.Microsoft.Voicemail"));
        let to_me = m.to.iter().any(is_me);
        let cc_me = m.cc.iter().any(is_me);
        flag(self.not_sent_to_me, !to_me);
        flag(self.sent_cc_me, cc_me);
        flag(
            self.sent_only_to_me,
            m.to.len() == 1 && to_me && m.cc.is_empty(),
        );
        flag(self.sent_to_me, to_me);
        flag(self.sent_to_or_cc_me, to_me || cc_me);
        if let Some(i) = self.importance {
            t.push(m.importance == i);
        }
        if let Some(s) = self.sensitivity {
            t.push(m.sensitivity == s);
        }
        if let Some((min, max)) = self.size_kb {
            let kb = m.size / 1024;
            t.push(min.is_none_or(|x| kb >= x) && max.is_none_or(|x| kb <= x));
        }
        if let Some((from, to)) = self.received {
            let at = m.date_time_received;
            t.push(from.is_none_or(|x| at >= x) && to.is_none_or(|x| at <= x));
        }
        t
    }

    fn check(&self, what: &str) -> Result<(), String> {
        for l in self.strings() {
            if l.len() > MAX_RULE_STRINGS {
                return Err(format!(
                    "the {what} list {} entries; at most {MAX_RULE_STRINGS}",
                    l.len()
                ));
            }
            for s in l {
                if s.trim().is_empty() {
                    return Err(format!("the {what} have an empty string"));
                }
                if s.chars().count() > MAX_RULE_STRING_CHARS {
                    return Err(format!(
                        "the {what} have a string longer than {MAX_RULE_STRING_CHARS} characters"
                    ));
                }
            }
        }
        if let Some((Some(a), Some(b))) = self.size_kb
            && a > b
        {
            return Err(format!("the {what}' size range ends before it starts"));
        }
        if let Some((Some(a), Some(b))) = self.received
            && a > b
        {
            return Err(format!("the {what}' date range ends before it starts"));
        }
        Ok(())
    }
}

impl InboxRule {
    /// Conditions hold and no exception does.
    pub fn matches(&self, m: &Item, me: &[String]) -> bool {
        self.conditions.tests(m, me).into_iter().all(|x| x)
            && !self.exceptions.tests(m, me).into_iter().any(|x| x)
    }

    fn check(&self) -> Result<(), String> {
        let name = self.display_name.trim();
        if name.is_empty() {
            return Err("a rule needs a DisplayName".into());
        }
        if name.chars().count() > MAX_RULE_STRING_CHARS {
            return Err(format!(
                "the DisplayName is longer than {MAX_RULE_STRING_CHARS} characters"
            ));
        }
        self.conditions.check("conditions")?;
        self.exceptions.check("exceptions")?;
        let a = &self.actions;
        if a.assign_categories.len() > MAX_RULE_STRINGS
            || a.assign_categories
                .iter()
                .any(|c| c.trim().is_empty() || c.chars().count() > MAX_RULE_STRING_CHARS)
        {
            return Err(format!(
                "AssignCategories holds at most {MAX_RULE_STRINGS} non-empty categories of at most {MAX_RULE_STRING_CHARS} characters"
            ));
        }
        for (what, l) in [
            (
                "ForwardAsAttachmentToRecipients",
                &a.forward_as_attachment_to_recipients,
            ),
            ("ForwardToRecipients", &a.forward_to_recipients),
            ("RedirectToRecipients", &a.redirect_to_recipients),
        ] {
            if l.len() > MAX_RULE_STRINGS || l.iter().any(|x| !x.contains('@') || x.len() > 320) {
                return Err(format!(
                    "{what} holds at most {MAX_RULE_STRINGS} SMTP addresses (name@domain)"
                ));
            }
        }
        let any = !a.forward_to_recipients.is_empty()
            || !a.forward_as_attachment_to_recipients.is_empty()
            || !a.redirect_to_recipients.is_empty()
            || !a.assign_categories.is_empty()
            || a.copy_to_folder.is_some()
            || a.move_to_folder.is_some()
            || a.delete
            || a.permanent_delete
            || a.mark_as_read
            || a.mark_importance.is_some()
            || a.stop_processing_rules;
        if !any {
            return Err("a rule needs at least one action".into());
        }
        Ok(())
    }
}

fn load_rules(tx: &Connection, mb: &Mb) -> Result<Vec<InboxRule>, MailboxError> {
    let mut st = tx.prepare_cached(
        "SELECT rule_id, rule_json FROM inbox_rules WHERE mailbox_id = ?1 ORDER BY priority",
    )?;
    let rows = st.query_map(params![mb.id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        let (id, json) = row?;
        let mut rule: InboxRule = serde_json::from_str(&json)
            .map_err(|e| MailboxError::Corrupt(format!("inbox rule {id}: {e}")))?;
        rule.id = id;
        rule.priority = u32::try_from(i + 1).unwrap_or(u32::MAX);
        out.push(rule);
    }
    Ok(out)
}

/// A folder a rule names, as the store keeps it: its id, checked to be a folder of the mailbox
/// outside Recoverable Items.
fn stored_folder(tx: &Connection, mb: &Mb, sel: &FolderSel) -> Result<FolderSel, String> {
    let local = resolve_folder(tx, mb, sel).map_err(|e| match e {
        MailboxError::FolderNotFound => "the folder it names is not a folder of the mailbox".into(),
        e => e.to_string(),
    })?;
    let recoverable = crate::store::lineage(tx, mb, local)
        .map_err(|e| e.to_string())?
        .iter()
        .flatten()
        .any(|d| crate::distinguished::is_recoverable_items(d));
    if recoverable {
        return Err("a rule cannot file mail under Recoverable Items".into());
    }
    Ok(FolderSel::Id(crate::ids::encode_id(
        crate::ids::IdKind::Folder,
        &mb.key,
        local,
    )))
}

/// Whether a stored folder id is still a folder of the mailbox: its local id.
fn live_folder(tx: &Connection, mb: &Mb, sel: &FolderSel) -> Result<Option<i64>, MailboxError> {
    match resolve_folder(tx, mb, sel) {
        Ok(f) => Ok(Some(f)),
        Err(MailboxError::FolderNotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The `i`th recipient's own addresses in a delivery's list of them (none when it has no entry).
pub(crate) fn own_addresses(list: &[Vec<String>], i: usize) -> &[String] {
    list.get(i).map(Vec::as_slice).unwrap_or_default()
}

/// Runs the mailbox's enabled rules on `local`, just delivered to its Inbox (module
/// documentation). `me`: the mailbox's own addresses.
pub(crate) fn run_rules(
    tx: &Connection,
    mb: &Mb,
    local: i64,
    me: &[String],
    now_us: i64,
) -> Result<Vec<RuleForward>, MailboxError> {
    let any: Option<i64> = tx
        .prepare_cached("SELECT 1 FROM inbox_rules WHERE mailbox_id = ?1 LIMIT 1")?
        .query_row(params![mb.id], |r| r.get(0))
        .optional()?;
    if any.is_none() {
        return Ok(Vec::new());
    }
    let rules: Vec<InboxRule> = load_rules(tx, mb)?
        .into_iter()
        .filter(|r| r.is_enabled)
        .collect();
    let body = rules.iter().any(|r| {
        r.conditions.needs_body()
            || r.exceptions.needs_body()
            || !r.actions.forward_to_recipients.is_empty()
            || !r.actions.forward_as_attachment_to_recipients.is_empty()
            || !r.actions.redirect_to_recipients.is_empty()
    });
    let item = load_item(tx, mb, local, body)?;
    let auto_forwarded = item
        .extended
        .iter()
        .any(|(k, v)| k == AUTO_FORWARDED_KEY && v.eq_ignore_ascii_case("true"));
    let mut forwards = Vec::new();
    let mut update = ItemUpdate::default();
    let (mut moved_to, mut copies, mut purge) = (None, Vec::new(), false);
    for rule in &rules {
        if !rule.matches(&item, me) {
            continue;
        }
        let a = &rule.actions;
        if a.mark_as_read {
            update.is_read = Some(true);
        }
        if let Some(i) = a.mark_importance {
            update.importance = Some(i);
        }
        if !a.assign_categories.is_empty() {
            let mut cats = update
                .categories
                .clone()
                .unwrap_or_else(|| item.categories.clone());
            for c in &a.assign_categories {
                if !cats.iter().any(|x| x.eq_ignore_ascii_case(c)) {
                    cats.push(c.clone());
                }
            }
            update.categories = Some(cats);
        }
        let mut targets = Vec::new();
        if let Some(f) = &a.move_to_folder
            && let Some(f) = live_folder(tx, mb, f)?
        {
            targets.push(f);
        }
        if a.delete {
            targets.push(distinguished_folder(
                tx,
                mb,
                crate::distinguished::DELETED_ITEMS,
            )?);
        }
        for f in targets {
            if moved_to.is_none() {
                moved_to = Some(f);
            } else if moved_to != Some(f) && !copies.contains(&f) {
                copies.push(f);
            }
        }
        if let Some(f) = &a.copy_to_folder
            && let Some(f) = live_folder(tx, mb, f)?
            && !copies.contains(&f)
        {
            copies.push(f);
        }
        purge |= a.permanent_delete;
        if !auto_forwarded {
            for (to, kind) in [
                (
                    &a.forward_as_attachment_to_recipients,
                    ForwardKind::AsAttachment,
                ),
                (&a.forward_to_recipients, ForwardKind::Forward),
                (&a.redirect_to_recipients, ForwardKind::Redirect),
            ] {
                if !to.is_empty() {
                    forwards.push(RuleForward {
                        mailbox: MailboxKey::new(mb.key.clone())?,
                        item: item.clone(),
                        to: to.clone(),
                        kind,
                    });
                }
            }
        }
        if a.stop_processing_rules {
            break;
        }
    }
    if update != ItemUpdate::default() {
        let header = item_header(tx, mb, local)?;
        let update = crate::items::validated_update(update)?;
        crate::items::write_update(tx, mb, local, &header, &update, now_us)?;
    }
    let mut total = 0;
    for f in copies {
        copy_local(tx, mb, local, f, now_us, &mut total)?;
    }
    let header = item_header(tx, mb, local)?;
    if purge {
        delete_local(tx, mb, local, header.folder, false, now_us)?;
    } else if let Some(f) = moved_to
        && f != header.folder
    {
        move_local(tx, mb, local, &header, f, now_us)?;
    }
    Ok(forwards)
}

/// A new rule's id: unique in the mailbox (one of its change numbers), opaque to clients.
fn new_rule_id(tx: &Connection, mb: &Mb) -> Result<String, MailboxError> {
    let cn = crate::store::next_change_number(tx, mb.id)?;
    Ok(format!("R{cn:012x}"))
}

impl MailboxStore {
    /// A mailbox's Inbox rules, in priority order.
    pub async fn get_rules(&self, mailbox: &MailboxKey) -> Result<Vec<InboxRule>, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| load_rules(tx, &mailbox_row(tx, &key)?))
            .await
    }

    /// Applies `ops` in order, all or nothing (EWS UpdateInboxRules): a refused operation is
    /// `Ok(Err(..))` naming it, and nothing is written. A created rule is put at its priority
    /// (past the last: last); a set one moves to its priority; the others keep their order.
    pub async fn update_rules(
        &self,
        mailbox: &MailboxKey,
        ops: Vec<RuleOp>,
    ) -> Result<Result<(), RuleOpError>, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, _| {
            let mb = mailbox_row(tx, &key)?;
            let mut rules = load_rules(tx, &mb)?;
            let last = ops.len().saturating_sub(1);
            for (index, op) in ops.into_iter().enumerate() {
                let refuse = |code: &'static str, why: String| {
                    Ok(Err(RuleOpError { index, code, why }))
                };
                let (mut rule, existing) = match op {
                    RuleOp::Delete(id) => {
                        match rules.iter().position(|r| r.id == id) {
                            Some(i) => {
                                rules.remove(i);
                            }
                            None => {
                                return refuse(
                                    "RuleNotFound",
                                    format!("no rule of the mailbox has the id {id:?}"),
                                );
                            }
                        }
                        continue;
                    }
                    RuleOp::Create(r) => (r, None),
                    RuleOp::Set(r) => match rules.iter().position(|x| x.id == r.id) {
                        Some(i) => {
                            let old = rules.remove(i);
                            (r, Some(old.id))
                        }
                        None => {
                            return refuse(
                                "RuleNotFound",
                                format!("no rule of the mailbox has the id {:?}", r.id),
                            );
                        }
                    },
                };
                if let Err(why) = rule.check() {
                    return refuse("InvalidValue", why);
                }
                if rules
                    .iter()
                    .any(|r| r.display_name.trim().eq_ignore_ascii_case(rule.display_name.trim()))
                {
                    return refuse(
                        "DuplicateDisplayName",
                        format!("another rule is named {:?}", rule.display_name.trim()),
                    );
                }
                for f in [&mut rule.actions.move_to_folder, &mut rule.actions.copy_to_folder]
                    .into_iter()
                    .flatten()
                {
                    match stored_folder(tx, &mb, f) {
                        Ok(s) => *f = s,
                        Err(why) => return refuse("FolderDoesNotExist", why),
                    }
                }
                if rules.len() >= MAX_RULES {
                    return refuse(
                        "RulesTooLarge",
                        format!("a mailbox has at most {MAX_RULES} rules"),
                    );
                }
                rule.id = match existing {
                    Some(id) => id,
                    None => new_rule_id(tx, &mb)?,
                };
                let at = usize::try_from(rule.priority.max(1) - 1)
                    .unwrap_or(usize::MAX)
                    .min(rules.len());
                rules.insert(at, rule);
            }
            let stored = rules
                .iter()
                .map(|r| {
                    serde_json::to_string(r).map_err(|e| MailboxError::InvalidValue(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let bytes: usize = stored.iter().map(String::len).sum();
            if bytes > MAX_RULES_BYTES {
                return Ok(Err(RuleOpError {
                    index: last,
                    code: "RulesTooLarge",
                    why: format!(
                        "the mailbox's rules would take {bytes} bytes; they take at most {MAX_RULES_BYTES} together (Exchange's RulesQuota): shorten or remove some"
                    ),
                }));
            }
            tx.prepare_cached("DELETE FROM inbox_rules WHERE mailbox_id = ?1")?
                .execute(params![mb.id])?;
            for (i, (r, json)) in rules.iter().zip(stored).enumerate() {
                tx.prepare_cached(
                    "INSERT INTO inbox_rules (mailbox_id, rule_id, priority, rule_json) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![mb.id, r.id, i64::try_from(i).unwrap_or(i64::MAX) + 1, json])?;
            }
            Ok(Ok(()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(c: RuleConditions, e: RuleConditions) -> InboxRule {
        InboxRule {
            display_name: "r".into(),
            is_enabled: true,
            conditions: c,
            exceptions: e,
            actions: RuleActions {
                mark_as_read: true,
                ..RuleActions::default()
            },
            ..InboxRule::default()
        }
    }

    #[test]
    fn rules_are_checked_and_round_trip_as_json() {
        let mut r = rule(RuleConditions::default(), RuleConditions::default());
        r.conditions.importance = Some(Importance::High);
        r.actions.mark_importance = Some(Importance::Low);
        r.conditions.received = Some((
            Some(OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()),
            None,
        ));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<InboxRule>(&json).unwrap(), r);
        assert!(r.check().is_ok());
        let mut none = r.clone();
        none.actions = RuleActions::default();
        assert!(none.check().unwrap_err().contains("at least one action"));
        let mut unnamed = r.clone();
        unnamed.display_name = " ".into();
        assert!(unnamed.check().unwrap_err().contains("DisplayName"));
        let mut empty = r.clone();
        empty.conditions.contains_subject_strings = vec!["".into()];
        assert!(empty.check().unwrap_err().contains("empty string"));
        let mut backwards = r;
        backwards.exceptions.size_kb = Some((Some(5), Some(1)));
        assert!(backwards.check().unwrap_err().contains("ends before"));
    }
}
