//! EWS types shared by requests and responses: folder and item ids,
//! shapes, property paths, mailboxes, enumerations and `xs:dateTime`.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Declares a string-valued enumeration with `as_str`, `ALL`, `FromStr`
/// (case-sensitive, as `xs:enumeration` is) and `Display`.
macro_rules! str_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in schema order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::UnknownValue;

            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err($crate::error::UnknownValue::new($kind, s)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use str_enum;

str_enum! {
    /// `t:RequestServerVersion/@Version` values we accept.
    pub enum ServerVersion ("RequestServerVersion Version") {
        Exchange2007 = "Exchange2007",
        Exchange2007Sp1 = "Exchange2007_SP1",
        Exchange2010 = "Exchange2010",
        Exchange2010Sp1 = "Exchange2010_SP1",
        Exchange2010Sp2 = "Exchange2010_SP2",
        Exchange2013 = "Exchange2013",
        Exchange2013Sp1 = "Exchange2013_SP1",
        Exchange2015 = "Exchange2015",
        Exchange2016 = "Exchange2016",
        V2015_10_05 = "V2015_10_05",
        V2016_01_06 = "V2016_01_06",
        V2016_04_13 = "V2016_04_13",
        V2016_07_13 = "V2016_07_13",
        V2016_10_10 = "V2016_10_10",
        V2017_01_07 = "V2017_01_07",
        V2017_04_14 = "V2017_04_14",
        V2017_07_11 = "V2017_07_11",
    }
}

str_enum! {
    /// `t:DistinguishedFolderId/@Id` (DistinguishedFolderIdNameType). The
    /// list covers every id exchangelib 5.6 may send (it asks for all of
    /// them in one GetFolder when probing) plus the Recoverable Items
    /// and archive folders.
    pub enum DistinguishedFolderId ("DistinguishedFolderId") {
        Root = "root",
        MsgFolderRoot = "msgfolderroot",
        Inbox = "inbox",
        SentItems = "sentitems",
        DeletedItems = "deleteditems",
        Drafts = "drafts",
        Outbox = "outbox",
        JunkEmail = "junkemail",
        Calendar = "calendar",
        Contacts = "contacts",
        Tasks = "tasks",
        Notes = "notes",
        Journal = "journal",
        ConversationHistory = "conversationhistory",
        VoiceMail = "voicemail",
        SearchFolders = "searchfolders",
        PublicFoldersRoot = "publicfoldersroot",
        RecoverableItemsRoot = "recoverableitemsroot",
        RecoverableItemsDeletions = "recoverableitemsdeletions",
        RecoverableItemsVersions = "recoverableitemsversions",
        RecoverableItemsPurges = "recoverableitemspurges",
        RecoverableItemsDiscoveryHolds = "recoverableitemsdiscoveryholds",
        RecoverableItemsSubstrateHolds = "recoverableitemssubstrateholds",
        ArchiveRoot = "archiveroot",
        ArchiveMsgFolderRoot = "archivemsgfolderroot",
        ArchiveDeletedItems = "archivedeleteditems",
        ArchiveInbox = "archiveinbox",
        ArchiveRecoverableItemsRoot = "archiverecoverableitemsroot",
        ArchiveRecoverableItemsDeletions = "archiverecoverableitemsdeletions",
        ArchiveRecoverableItemsVersions = "archiverecoverableitemsversions",
        ArchiveRecoverableItemsPurges = "archiverecoverableitemspurges",
        ArchiveRecoverableItemsDiscoveryHolds = "archiverecoverableitemsdiscoveryholds",
        SyncIssues = "syncissues",
        Conflicts = "conflicts",
        LocalFailures = "localfailures",
        ServerFailures = "serverfailures",
        RecipientCache = "recipientcache",
        QuickContacts = "quickcontacts",
        ImContactList = "imcontactlist",
        AdminAuditLogs = "adminauditlogs",
        ToDoSearch = "todosearch",
        MyContacts = "mycontacts",
        Directory = "directory",
        PeopleConnect = "peopleconnect",
        Favorites = "favorites",
        AllItems = "allitems",
        AllCategorizedItems = "allcategorizeditems",
        AllContacts = "allcontacts",
        AllPersonMetadata = "allpersonmetadata",
        CompanyContacts = "companycontacts",
        DlpPolicyEvaluation = "dlppolicyevaluation",
        FromFavoriteSenders = "fromfavoritesenders",
        Inference = "inference",
        OneNotePagePreviews = "onenotepagepreviews",
        PeopleCentricConversationBuddies = "peoplecentricconversationbuddies",
        QedcDefaultRetention = "qedcdefaultretention",
        QedcLongRetention = "qedclongretention",
        QedcMediumRetention = "qedcmediumretention",
        QedcShortRetention = "qedcshortretention",
        QuarantinedEmail = "quarantinedemail",
        QuarantinedEmailDefaultCategory = "quarantinedemaildefaultcategory",
        RelevantContacts = "relevantcontacts",
        SharePointNotifications = "sharepointnotifications",
        ShortNotes = "shortnotes",
        TemporarySaves = "temporarysaves",
        UserCuratedContacts = "usercuratedcontacts",
    }
}

/// A reference to a folder: `t:DistinguishedFolderId` or `t:FolderId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FolderRef {
    /// A well-known folder, optionally in another mailbox
    /// (`t:Mailbox/t:EmailAddress`, always sent by exchangelib).
    Distinguished {
        id: DistinguishedFolderId,
        mailbox: Option<String>,
    },
    /// An opaque folder id minted by the server.
    Id {
        id: String,
        change_key: Option<String>,
    },
}

/// `t:ItemId Id ChangeKey`: an opaque item id minted by the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemRef {
    pub id: String,
    pub change_key: Option<String>,
}

impl ItemRef {
    pub fn new(id: &str, change_key: Option<&str>) -> Self {
        Self {
            id: id.to_owned(),
            change_key: change_key.map(str::to_owned),
        }
    }

    /// A `t:OccurrenceItemId`: occurrence `index` (1-based) of the series `master`.
    pub fn occurrence(master: &str, index: u32, change_key: Option<&str>) -> Self {
        Self {
            id: format!("{OCCURRENCE_REF}{index}:{master}"),
            change_key: change_key.map(str::to_owned),
        }
    }

    /// A `t:RecurringMasterItemId`: the series that occurrence `occurrence` belongs to.
    pub fn master_of(occurrence: &str, change_key: Option<&str>) -> Self {
        Self {
            id: format!("{MASTER_OF_REF}{occurrence}"),
            change_key: change_key.map(str::to_owned),
        }
    }

    /// What the reference names. The request parser keeps a `t:OccurrenceItemId` or a
    /// `t:RecurringMasterItemId` in `id` in a form no server id takes (a `:`, outside the
    /// base64url alphabet of ids), so an operation that does not read them sees an id it cannot
    /// find rather than a wrong item.
    pub fn target(&self) -> ItemTarget<'_> {
        if let Some(rest) = self.id.strip_prefix(OCCURRENCE_REF)
            && let Some((index, master)) = rest.split_once(':')
            && let Ok(index) = index.parse::<u32>()
        {
            return ItemTarget::Occurrence { master, index };
        }
        if let Some(occurrence) = self.id.strip_prefix(MASTER_OF_REF) {
            return ItemTarget::MasterOf(occurrence);
        }
        ItemTarget::Id(&self.id)
    }
}

const OCCURRENCE_REF: &str = "occurrence:";
const MASTER_OF_REF: &str = "recurring-master-of:";

/// What an [`ItemRef`] names ([`ItemRef::target`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemTarget<'a> {
    /// `t:ItemId`: an item, or an occurrence by the id the server gave it.
    Id(&'a str),
    /// `t:OccurrenceItemId RecurringMasterId InstanceIndex`.
    Occurrence { master: &'a str, index: u32 },
    /// `t:RecurringMasterItemId OccurrenceId`.
    MasterOf(&'a str),
}

/// `t:FolderId Id ChangeKey` where only a concrete folder id is allowed
/// (e.g. `t:ParentFolderId` in notifications).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FolderId {
    pub id: String,
    pub change_key: Option<String>,
}

impl FolderId {
    pub fn new(id: &str, change_key: Option<&str>) -> Self {
        Self {
            id: id.to_owned(),
            change_key: change_key.map(str::to_owned),
        }
    }
}

str_enum! {
    /// `t:BaseShape`.
    pub enum BaseShape ("BaseShape") {
        IdOnly = "IdOnly",
        Default = "Default",
        AllProperties = "AllProperties",
    }
}

str_enum! {
    /// `t:Body/@BodyType` of a stored body.
    pub enum BodyType ("BodyType") {
        Html = "HTML",
        Text = "Text",
    }
}

str_enum! {
    /// `t:BodyType` in an item shape (which body format to return).
    pub enum ShapeBodyType ("BodyType") {
        Best = "Best",
        Html = "HTML",
        Text = "Text",
    }
}

str_enum! {
    /// `t:Importance`.
    pub enum Importance ("Importance") {
        Low = "Low",
        Normal = "Normal",
        High = "High",
    }
}

str_enum! {
    /// `t:Sensitivity`.
    pub enum Sensitivity ("Sensitivity") {
        Normal = "Normal",
        Personal = "Personal",
        Private = "Private",
        Confidential = "Confidential",
    }
}

str_enum! {
    /// `t:LegacyFreeBusyStatus`.
    pub enum LegacyFreeBusyStatus ("LegacyFreeBusyStatus") {
        Free = "Free",
        Tentative = "Tentative",
        Busy = "Busy",
        Oof = "OOF",
        WorkingElsewhere = "WorkingElsewhere",
        NoData = "NoData",
    }
}

str_enum! {
    /// Which item element a message, calendar item, contact, task or generic item uses.
    pub enum ItemKind ("item element") {
        Item = "Item",
        Message = "Message",
        CalendarItem = "CalendarItem",
        MeetingRequest = "MeetingRequest",
        MeetingResponse = "MeetingResponse",
        MeetingCancellation = "MeetingCancellation",
        /// `t:Contact` (`t:ContactItemType`): not a message.
        Contact = "Contact",
        /// `t:Task` (`t:TaskType`): not a message.
        Task = "Task",
        /// `t:DistributionList` (a private list, [`crate::dlist`]): not a message.
        DistributionList = "DistributionList",
    }
}

impl ItemKind {
    /// A meeting message (`t:MeetingMessageType` and its extensions): a message to EWS, with
    /// the meeting's fields besides.
    pub fn is_meeting_message(self) -> bool {
        matches!(
            self,
            Self::MeetingRequest | Self::MeetingResponse | Self::MeetingCancellation
        )
    }

    /// A `t:MessageType` or one of its extensions.
    pub fn is_message(self) -> bool {
        self == Self::Message || self.is_meeting_message()
    }
}

str_enum! {
    /// `t:ResponseTypeType`: an attendee's answer to a meeting (`t:ResponseType`,
    /// `t:MyResponseType`, `meeting:ResponseType`).
    pub enum ResponseType ("ResponseType") {
        Unknown = "Unknown",
        Organizer = "Organizer",
        Tentative = "Tentative",
        Accept = "Accept",
        Decline = "Decline",
        NoResponseReceived = "NoResponseReceived",
    }
}

/// `t:Attendee`: a mailbox invited to a meeting, with its answer as the organizer knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attendee {
    pub mailbox: Mailbox,
    pub response_type: Option<ResponseType>,
    pub last_response_time: Option<OffsetDateTime>,
}

str_enum! {
    /// Which folder element to use (`t:Folder` unless a typed one applies).
    pub enum FolderKind ("folder element") {
        Folder = "Folder",
        CalendarFolder = "CalendarFolder",
        ContactsFolder = "ContactsFolder",
        SearchFolder = "SearchFolder",
        TasksFolder = "TasksFolder",
    }
}

impl FolderKind {
    /// Picks the typed folder element from a folder class
    /// (`IPF.Appointment*` → CalendarFolder, `IPF.Contact*` → ContactsFolder,
    /// `IPF.Task*` → TasksFolder, anything else → Folder). Search folders
    /// cannot be recognised by class; set [`FolderKind::SearchFolder`] yourself.
    pub fn from_folder_class(class: Option<&str>) -> Self {
        match class {
            Some(c) if c == "IPF.Appointment" || c.starts_with("IPF.Appointment.") => {
                Self::CalendarFolder
            }
            Some(c) if c == "IPF.Contact" || c.starts_with("IPF.Contact.") => Self::ContactsFolder,
            Some(c) if c == "IPF.Task" || c.starts_with("IPF.Task.") => Self::TasksFolder,
            _ => Self::Folder,
        }
    }

    /// Whether the schema gives this folder element an `UnreadCount`.
    pub fn has_unread_count(self) -> bool {
        matches!(self, Self::Folder | Self::SearchFolder | Self::TasksFolder)
    }
}

/// `t:Mailbox` (an email address, optionally with name and routing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub email_address: Option<String>,
    pub routing_type: Option<String>,
    pub mailbox_type: Option<String>,
    /// `t:ItemId`: the contact or private distribution list of a mailbox it names.
    pub item_id: Option<ItemRef>,
}

impl Mailbox {
    /// An SMTP mailbox with an optional display name.
    pub fn smtp(email_address: &str, name: Option<&str>) -> Self {
        Self {
            name: name.map(str::to_owned),
            email_address: Some(email_address.to_owned()),
            routing_type: Some("SMTP".to_owned()),
            mailbox_type: None,
            item_id: None,
        }
    }
}

/// `t:ExtendedFieldURI`. All attributes are kept as strings, as sent;
/// use [`ExtendedFieldUri::matches`] to compare two of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ExtendedFieldUri {
    pub distinguished_property_set_id: Option<String>,
    pub property_set_id: Option<String>,
    pub property_tag: Option<String>,
    pub property_name: Option<String>,
    pub property_id: Option<String>,
    /// MapiPropertyTypeType, e.g. `String`, `Binary`, `Integer`, `SystemTime`.
    pub property_type: String,
}

fn parse_tag(tag: &str) -> Option<u32> {
    let t = tag.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

fn same_opt(a: Option<&str>, b: Option<&str>, eq: impl Fn(&str, &str) -> bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => eq(x, y),
        _ => false,
    }
}

impl ExtendedFieldUri {
    /// A tagged property, e.g. `ExtendedFieldUri::tag(0x7C09, "Binary")`.
    pub fn tag(tag: u16, property_type: &str) -> Self {
        Self {
            property_tag: Some(format!("0x{tag:04x}")),
            property_type: property_type.to_owned(),
            ..Self::default()
        }
    }

    /// A canonical string naming this property, the same for any two URIs that
    /// [`ExtendedFieldUri::matches`]: tags as `0x` + lowercase hex, property ids in
    /// decimal, property set GUIDs and the type lowercase, names as sent (`%` and `|`
    /// escaped). A server can key stored extended properties by it.
    pub fn canonical_key(&self) -> String {
        fn esc(s: &str) -> String {
            s.replace('%', "%25").replace('|', "%7c")
        }
        let mut k = String::new();
        if let Some(t) = &self.property_tag {
            k.push_str("tag:");
            match parse_tag(t) {
                Some(n) => k.push_str(&format!("0x{n:04x}")),
                None => k.push_str(&esc(t)),
            }
        }
        if let Some(d) = &self.distinguished_property_set_id {
            k.push_str("|dset:");
            k.push_str(&esc(d));
        }
        if let Some(g) = &self.property_set_id {
            k.push_str("|set:");
            k.push_str(&esc(&g.trim().to_ascii_lowercase()));
        }
        if let Some(n) = &self.property_name {
            k.push_str("|name:");
            k.push_str(&esc(n));
        }
        if let Some(i) = &self.property_id {
            k.push_str("|id:");
            match parse_tag(i) {
                Some(n) => k.push_str(&n.to_string()),
                None => k.push_str(&esc(i)),
            }
        }
        k.push_str("|type:");
        k.push_str(&esc(&self.property_type.trim().to_ascii_lowercase()));
        k
    }

    /// The URI a [`ExtendedFieldUri::canonical_key`] names (it `matches` the original); `None`
    /// for a string no `canonical_key` produced.
    pub fn from_canonical_key(key: &str) -> Option<Self> {
        fn unesc(s: &str) -> String {
            s.replace("%7c", "|").replace("%25", "%")
        }
        let mut u = ExtendedFieldUri::default();
        let mut typed = false;
        for part in key.split('|').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once(':')?;
            let v = unesc(v);
            match k {
                "tag" => u.property_tag = Some(v),
                "dset" => u.distinguished_property_set_id = Some(v),
                "set" => u.property_set_id = Some(v),
                "name" => u.property_name = Some(v),
                "id" => u.property_id = Some(v),
                "type" => {
                    u.property_type = v;
                    typed = true;
                }
                _ => return None,
            }
        }
        typed.then_some(u)
    }

    /// Is this a multi-valued MAPI type (`StringArray`, `BinaryArray`, …)?
    pub fn is_multi_valued(&self) -> bool {
        self.property_type
            .trim()
            .to_ascii_lowercase()
            .ends_with("array")
    }

    /// Semantic equality: property tags compare numerically (`0x7C09` ==
    /// `0x7c09` == `31753`), property set GUIDs and the property type
    /// case-insensitively, property ids numerically, names exactly.
    pub fn matches(&self, other: &Self) -> bool {
        let ci = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        let num = |a: &str, b: &str| match (parse_tag(a), parse_tag(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        };
        same_opt(
            self.property_tag.as_deref(),
            other.property_tag.as_deref(),
            num,
        ) && same_opt(
            self.property_set_id.as_deref(),
            other.property_set_id.as_deref(),
            ci,
        ) && same_opt(
            self.distinguished_property_set_id.as_deref(),
            other.distinguished_property_set_id.as_deref(),
            |a, b| a == b,
        ) && same_opt(
            self.property_name.as_deref(),
            other.property_name.as_deref(),
            |a, b| a == b,
        ) && same_opt(
            self.property_id.as_deref(),
            other.property_id.as_deref(),
            num,
        ) && ci(&self.property_type, &other.property_type)
    }
}

/// The value of an extended property: `t:Value` or `t:Values/t:Value*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendedValue {
    Single(String),
    Multi(Vec<String>),
}

/// `t:ExtendedProperty`: an extended field URI plus its value(s), kept as
/// sent (binary values stay base64 text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedProperty {
    pub uri: ExtendedFieldUri,
    pub value: ExtendedValue,
}

/// A property path: `t:FieldURI`, `t:IndexedFieldURI`, `t:ExtendedFieldURI`
/// or `t:ExceptionFieldURI`. Unknown field URIs are kept, never an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PropertyPath {
    Field(String),
    Indexed {
        field_uri: String,
        field_index: String,
    },
    Extended(ExtendedFieldUri),
    Exception(String),
}

impl PropertyPath {
    /// The `FieldURI` string of a plain field path.
    pub fn field_uri(&self) -> Option<&str> {
        match self {
            Self::Field(f) => Some(f),
            _ => None,
        }
    }
}

/// `m:FolderShape`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderShape {
    pub base_shape: BaseShape,
    pub additional: Vec<PropertyPath>,
}

impl FolderShape {
    pub fn new(base_shape: BaseShape) -> Self {
        Self {
            base_shape,
            additional: Vec::new(),
        }
    }
}

/// `m:ItemShape`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemShape {
    pub base_shape: BaseShape,
    pub body_type: Option<ShapeBodyType>,
    pub include_mime_content: bool,
    pub additional: Vec<PropertyPath>,
}

impl ItemShape {
    pub fn new(base_shape: BaseShape) -> Self {
        Self {
            base_shape,
            body_type: None,
            include_mime_content: false,
            additional: Vec::new(),
        }
    }
}

// ----------------------------------------------------------------------
// xs:dateTime
// ----------------------------------------------------------------------

fn digits<const N: usize>(s: &str) -> Option<u32> {
    if s.len() == N && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Parses an `xs:dateTime` such as `2024-01-02T03:04:05Z`,
/// `2024-01-02T03:04:05.123+01:00` or (no time zone) `2024-01-02T03:04:05`.
/// A value without a time zone is taken as UTC. Fractions beyond
/// nanoseconds are truncated. Returns `None` for anything else (including
/// `24:00:00`, leap seconds and years outside 0001–9999).
pub fn parse_xs_datetime(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim_matches(crate::xml::is_xml_whitespace);
    let (date, rest) = s.split_once('T')?;
    let mut date_parts = date.split('-');
    let year = digits::<4>(date_parts.next()?)?;
    let month = digits::<2>(date_parts.next()?)?;
    let day = digits::<2>(date_parts.next()?)?;
    if date_parts.next().is_some() || year == 0 {
        return None;
    }
    // Split off the time zone designator.
    let (time, offset) = if let Some(t) = rest.strip_suffix('Z') {
        (t, UtcOffset::UTC)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (t, tz) = rest.split_at(i);
        let sign: i8 = if tz.starts_with('-') { -1 } else { 1 };
        let (h, m) = tz[1..].split_once(':')?;
        let h = digits::<2>(h)?;
        let m = digits::<2>(m)?;
        if h > 14 || m > 59 || (h == 14 && m != 0) {
            return None;
        }
        let h = i8::try_from(h).ok()? * sign;
        let m = i8::try_from(m).ok()? * sign;
        (t, UtcOffset::from_hms(h, m, 0).ok()?)
    } else {
        (rest, UtcOffset::UTC)
    };
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (time, None),
    };
    let mut time_parts = hms.split(':');
    let hour = digits::<2>(time_parts.next()?)?;
    let minute = digits::<2>(time_parts.next()?)?;
    let second = digits::<2>(time_parts.next()?)?;
    if time_parts.next().is_some() {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let mut n: u32 = 0;
            for i in 0..9 {
                n = n * 10 + f.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
            }
            n
        }
        Some(_) => return None,
    };
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let dt = PrimitiveDateTime::new(date, time).assume_offset(offset);
    // an instant whose UTC date is past the years this crate handles (9999-12-31T23:00-02:00)
    // would panic where it is written in UTC
    dt.checked_to_offset(UtcOffset::UTC)?;
    Some(dt)
}

/// Formats a date-time the way Exchange does: UTC, second precision,
/// `2024-01-02T03:04:05Z`.
pub fn format_xs_datetime(dt: OffsetDateTime) -> String {
    let u = dt.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        u.year(),
        u8::from(u.month()),
        u.day(),
        u.hour(),
        u.minute(),
        u.second()
    )
}

/// Parses `xs:boolean` (`true`, `false`, `1`, `0`, surrounding whitespace allowed).
pub fn parse_xs_boolean(s: &str) -> Option<bool> {
    match s.trim_matches(crate::xml::is_xml_whitespace) {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn canonical_keys_name_their_uri() {
        for u in [
            ExtendedFieldUri {
                property_tag: Some("0x7C09".into()),
                property_type: "Binary".into(),
                ..Default::default()
            },
            ExtendedFieldUri {
                distinguished_property_set_id: Some("PublicStrings".into()),
                property_name: Some("Odd|Name%".into()),
                property_type: "String".into(),
                ..Default::default()
            },
            ExtendedFieldUri {
                property_set_id: Some("C11FF724-AA03-4555-9952-8FA248A11C3E".into()),
                property_id: Some("0x8101".into()),
                property_type: "StringArray".into(),
                ..Default::default()
            },
        ] {
            let back = ExtendedFieldUri::from_canonical_key(&u.canonical_key()).unwrap();
            assert!(back.matches(&u), "{u:?} -> {back:?}");
            assert_eq!(back.canonical_key(), u.canonical_key());
        }
        assert!(ExtendedFieldUri::from_canonical_key("nonsense").is_none());
        assert!(
            ExtendedFieldUri::from_canonical_key("tag:0x0001").is_none(),
            "no type"
        );
    }
    use super::*;
    use std::str::FromStr;

    #[test]
    fn enums_round_trip() {
        for v in DistinguishedFolderId::ALL {
            assert_eq!(DistinguishedFolderId::from_str(v.as_str()), Ok(*v));
        }
        for v in ServerVersion::ALL {
            assert_eq!(ServerVersion::from_str(v.as_str()), Ok(*v));
        }
        assert_eq!(
            DistinguishedFolderId::from_str("recoverableitemspurges"),
            Ok(DistinguishedFolderId::RecoverableItemsPurges)
        );
        let err = DistinguishedFolderId::from_str("Inbox").expect_err("case-sensitive");
        assert_eq!(err.kind, "DistinguishedFolderId");
        assert_eq!(
            err.to_string(),
            "\"Inbox\" is not a valid DistinguishedFolderId"
        );
        assert_eq!(LegacyFreeBusyStatus::Oof.to_string(), "OOF");
    }

    #[test]
    fn canonical_keys_agree_with_matches() {
        let tag = |t: &str, ty: &str| ExtendedFieldUri {
            property_tag: Some(t.into()),
            property_type: ty.into(),
            ..ExtendedFieldUri::default()
        };
        let a = tag("0x7C09", "Binary");
        for same in [
            tag("0x7c09", "binary"),
            tag("31753", "Binary"),
            tag(" 0X7C09", "BINARY"),
        ] {
            assert!(a.matches(&same));
            assert_eq!(a.canonical_key(), same.canonical_key());
        }
        assert_eq!(a.canonical_key(), "tag:0x7c09|type:binary");
        let named = |set: &str, name: &str| ExtendedFieldUri {
            property_set_id: Some(set.into()),
            property_name: Some(name.into()),
            property_type: "String".into(),
            ..ExtendedFieldUri::default()
        };
        let g = "00020329-0000-0000-C000-000000000046";
        assert_eq!(
            named(g, "X").canonical_key(),
            named(&g.to_ascii_lowercase(), "X").canonical_key()
        );
        // names are exact, and cannot forge another key's structure
        assert_ne!(named(g, "X").canonical_key(), named(g, "x").canonical_key());
        let forged = named(g, "a|type:string");
        assert_ne!(forged.canonical_key(), named(g, "a").canonical_key());
        assert!(!forged.canonical_key().contains("a|type"));
        assert_ne!(a.canonical_key(), tag("0x7C09", "String").canonical_key());
    }

    #[test]
    fn distinguished_ids_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for v in DistinguishedFolderId::ALL {
            assert!(seen.insert(v.as_str()), "duplicate {v}");
        }
    }

    #[test]
    fn datetime_parsing() {
        let z = parse_xs_datetime("2024-01-02T03:04:05Z").expect("z");
        assert_eq!(format_xs_datetime(z), "2024-01-02T03:04:05Z");
        let off = parse_xs_datetime("2024-01-02T03:04:05.5+01:30").expect("offset");
        assert_eq!(format_xs_datetime(off), "2024-01-02T01:34:05Z");
        assert_eq!(off.nanosecond(), 500_000_000);
        let neg = parse_xs_datetime("2024-01-02T23:00:00-02:00").expect("neg");
        assert_eq!(format_xs_datetime(neg), "2024-01-03T01:00:00Z");
        let local = parse_xs_datetime(" 2024-02-29T00:00:00 ").expect("no tz");
        assert_eq!(format_xs_datetime(local), "2024-02-29T00:00:00Z");
        let long_fraction = parse_xs_datetime("2024-01-02T03:04:05.1234567891234Z").expect("frac");
        assert_eq!(long_fraction.nanosecond(), 123_456_789);
        for bad in [
            "",
            "2024-01-02",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-02T24:00:00Z",
            "2024-01-02T03:04:60Z",
            "2024-01-02T03:04Z",
            "2024-01-02T03:04:05+15:00",
            "2024-01-02T03:04:05+0100",
            "2024-01-02T03:04:05.Z",
            "0000-01-01T00:00:00Z",
            "+2024-01-02T03:04:05Z",
            "2024-1-02T03:04:05Z",
            "2024-01-02 03:04:05Z",
            "2024-01-02T03:04:05ZZ",
            // regression: its UTC instant is in year 10000, and writing it in UTC panicked
            "9999-12-31T23:00:00-02:00",
        ] {
            assert_eq!(parse_xs_datetime(bad), None, "{bad:?} must be rejected");
        }
        // the last instant that is still in year 9999 in UTC
        let last = parse_xs_datetime("9999-12-31T21:59:59-02:00").expect("last");
        assert_eq!(format_xs_datetime(last), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_xs_boolean("true"), Some(true));
        assert_eq!(parse_xs_boolean(" 0\n"), Some(false));
        assert_eq!(parse_xs_boolean("True"), None);
        assert_eq!(parse_xs_boolean("yes"), None);
    }

    #[test]
    fn extended_field_uri_matching() {
        let a = ExtendedFieldUri::tag(0x7C09, "Binary");
        let b = ExtendedFieldUri {
            property_tag: Some("31753".into()),
            property_type: "binary".into(),
            ..Default::default()
        };
        assert!(a.matches(&b));
        let c = ExtendedFieldUri::tag(0x7C08, "Binary");
        assert!(!a.matches(&c));
        let named1 = ExtendedFieldUri {
            property_set_id: Some("00020329-0000-0000-C000-000000000046".into()),
            property_name: Some("Keywords".into()),
            property_type: "StringArray".into(),
            ..Default::default()
        };
        let mut named2 = named1.clone();
        named2.property_set_id = Some("00020329-0000-0000-c000-000000000046".into());
        assert!(named1.matches(&named2));
        named2.property_name = Some("keywords".into());
        assert!(!named1.matches(&named2));
    }

    #[test]
    fn folder_kind_from_class() {
        assert_eq!(
            FolderKind::from_folder_class(Some("IPF.Appointment")),
            FolderKind::CalendarFolder
        );
        assert_eq!(
            FolderKind::from_folder_class(Some("IPF.Contact.MOC.QuickContacts")),
            FolderKind::ContactsFolder
        );
        assert_eq!(
            FolderKind::from_folder_class(Some("IPF.Task")),
            FolderKind::TasksFolder
        );
        assert_eq!(
            FolderKind::from_folder_class(Some("IPF.Note")),
            FolderKind::Folder
        );
        assert_eq!(
            FolderKind::from_folder_class(Some("IPF.Appointments")),
            FolderKind::Folder
        );
        assert_eq!(FolderKind::from_folder_class(None), FolderKind::Folder);
        assert!(!FolderKind::CalendarFolder.has_unread_count());
    }
}
