//! The full-fidelity item stream of EWS bulk transfer (`ExportItems`' and `UploadItems`'
//! `Data`), written from and read into the mailbox store's item model.
//!
//! Two layers:
//!
//! * Exchange's framing (what its `EwsFxProxy` writes and `UploadItems` reads): a sequence of
//!   `(opcode: u32 LE, length: u32 LE, bytes)` frames, the `FxOpcodes` of Exchange's MAPI layer:
//!   `Config` (1: flags 0, transfer method 1 = CopyTo), `IsInterfaceOk` (3: transfer method,
//!   `IID_IMessage`, flags `0x80002400`), `TellPartnerVersion` (4: the server version as three
//!   16-bit words, MS-OXCRPC's form), then `TransferBuffer` (2) frames whose bytes, concatenated,
//!   are the FastTransfer stream.
//! * The FastTransfer stream (MS-OXCFXICS §2.2.4) of one `messageContent`:
//!   `propList [PidTagFXDelProp] *(StartRecip propList EndToRecip) [PidTagFXDelProp]
//!   *(NewAttach PidTagAttachNumber propList [StartEmbed messageContent EndEmbed] EndAttach)`;
//!   a `propValue` is a property tag (type in the low 16 bits, id in the high 16), for a named
//!   property (id ≥ 0x8000) the name (property set GUID, kind 0 + a 32-bit LID or kind 1 + a
//!   NUL-terminated UTF-16LE name), then the value: fixed-size types raw, variable-size ones
//!   (`PtypString` as UTF-16LE with its terminator, `PtypString8`, `PtypBinary`, `PtypServerId`,
//!   `PtypObject`, and code-page strings, type `0x8000 | codepage`) after a 32-bit byte length,
//!   multi-valued ones after a 32-bit count.
//!
//! Reading bounds every length by what is left of the input before allocating, refuses
//! truncated and malformed streams ([`FxError`], answered as `ErrorCorruptData`), skips
//! properties the model has no place for, and keeps named and tagged ones the store can keep as
//! extended properties (keyed as `ews_proto::types::ExtendedFieldUri::canonical_key` names
//! them). What the store keeps that MAPI cannot say in a stream of its own (an extended property
//! that is also a modelled one, or whose stored text is not the canonical form of its value) is
//! carried in one private named property, so an export read back is the item it was.

use base64::Engine as _;
use ews_proto::types::ExtendedFieldUri;
use mailbox::{
    Attachment, Body, BodyType, Calendar, DictEntry, FreeBusy, Importance, Item, NewAttachment,
    NewItem, Recipient, Sensitivity, UserConfig,
};
use time::OffsetDateTime;

/// Largest `Data` read or written, bytes (Exchange limits an import to 25 MB of base64).
pub const MAX_DATA_BYTES: usize = 64 << 20;
/// Most properties in one stream (each takes at least six bytes of it anyway).
pub const MAX_PROPERTIES: usize = 100_000;
/// Most values of one multi-valued property.
pub const MAX_MULTI_VALUES: usize = 65_536;
/// Deepest nesting of embedded messages read.
pub const MAX_EMBED_DEPTH: usize = 4;
/// Bytes of FastTransfer stream per `TransferBuffer` frame written.
const TRANSFER_BUFFER_BYTES: usize = 32 * 1024;

/// Why a stream was refused. Nothing is written for a refused stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FxError {
    #[error("the data ends inside {what} at byte {offset}")]
    Truncated { what: &'static str, offset: usize },
    #[error("{what} at byte {offset} claims {length} bytes, past the end of the data")]
    LengthPastEnd {
        what: &'static str,
        offset: usize,
        length: u64,
    },
    #[error("unexpected frame opcode {opcode} at byte {offset}")]
    UnknownOpcode { opcode: u32, offset: usize },
    #[error("the {frame} frame at byte {offset} is malformed: {reason}")]
    BadFrame {
        frame: &'static str,
        offset: usize,
        reason: &'static str,
    },
    #[error("the marker 0x{marker:08X} at byte {offset} is not valid in a message")]
    UnexpectedMarker { marker: u32, offset: usize },
    #[error("the property tag 0x{tag:08X} at byte {offset} has a type a stream cannot carry")]
    UnsupportedType { tag: u32, offset: usize },
    #[error("the string of property 0x{tag:08X} at byte {offset} is not valid text")]
    BadString { tag: u32, offset: usize },
    #[error("the named property at byte {offset} has name kind {kind}, not 0 or 1")]
    BadNameKind { kind: u8, offset: usize },
    #[error("{what} exceeds {limit}")]
    TooLarge { what: &'static str, limit: usize },
    #[error("{what}: expected {expected}, found property type 0x{found:04X}")]
    WrongType {
        what: &'static str,
        expected: &'static str,
        found: u16,
    },
    #[error("{what}: the value {value} is out of range")]
    OutOfRange { what: &'static str, value: i64 },
    #[error("{0}")]
    Invalid(String),
    /// Valid, but beyond what the store keeps (an attachment by reference, an OLE object).
    #[error("{0} is not supported by this server")]
    Unsupported(&'static str),
}

impl FxError {
    /// The EWS `ResponseCode`: `ErrorCorruptData` (what Exchange's UploadItems answers for data
    /// it cannot read), `ErrorInvalidOperation` for what this server does not support.
    pub fn response_code(&self) -> &'static str {
        match self {
            FxError::Unsupported(_) => "ErrorInvalidOperation",
            _ => "ErrorCorruptData",
        }
    }
}

type Result<T> = std::result::Result<T, FxError>;

// ---------------------------------------------------------------------------------------------
// Property types (MS-OXCDATA §2.11.1) and tags (MS-OXPROPS)
// ---------------------------------------------------------------------------------------------

pub(crate) mod pt {
    pub const I16: u16 = 0x0002;
    pub const I32: u16 = 0x0003;
    pub const F32: u16 = 0x0004;
    pub const F64: u16 = 0x0005;
    pub const CURRENCY: u16 = 0x0006;
    pub const APPTIME: u16 = 0x0007;
    pub const ERROR: u16 = 0x000A;
    pub const BOOLEAN: u16 = 0x000B;
    pub const OBJECT: u16 = 0x000D;
    pub const I64: u16 = 0x0014;
    pub const STRING8: u16 = 0x001E;
    pub const STRING: u16 = 0x001F;
    pub const TIME: u16 = 0x0040;
    pub const GUID: u16 = 0x0048;
    pub const SERVER_ID: u16 = 0x00FB;
    pub const BINARY: u16 = 0x0102;
    pub const MV: u16 = 0x1000;
    /// Code-page string: `0x8000 | codepage` (MS-OXCFXICS, code page property types).
    pub const CODEPAGE: u16 = 0x8000;
}

/// Property ids (the high 16 bits of a tag).
mod id {
    pub const IMPORTANCE: u16 = 0x0017;
    pub const MESSAGE_CLASS: u16 = 0x001A;
    pub const SENSITIVITY: u16 = 0x0036;
    pub const SUBJECT: u16 = 0x0037;
    pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
    pub const SUBJECT_PREFIX: u16 = 0x003D;
    pub const SENT_REPRESENTING_NAME: u16 = 0x0042;
    pub const SENT_REPRESENTING_ADDRTYPE: u16 = 0x0064;
    pub const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
    pub const SENDER_NAME: u16 = 0x0C1A;
    pub const SENDER_ADDRTYPE: u16 = 0x0C1E;
    pub const SENDER_EMAIL: u16 = 0x0C1F;
    pub const RECIPIENT_TYPE: u16 = 0x0C15;
    pub const MESSAGE_DELIVERY_TIME: u16 = 0x0E06;
    pub const MESSAGE_FLAGS: u16 = 0x0E07;
    pub const MESSAGE_SIZE: u16 = 0x0E08;
    pub const NORMALIZED_SUBJECT: u16 = 0x0E1D;
    pub const ATTACH_SIZE: u16 = 0x0E20;
    pub const ATTACH_NUMBER: u16 = 0x0E21;
    pub const BODY: u16 = 0x1000;
    pub const RTF_COMPRESSED: u16 = 0x1009;
    pub const HTML: u16 = 0x1013;
    pub const NATIVE_BODY: u16 = 0x1016;
    pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
    pub const ROWID: u16 = 0x3000;
    pub const DISPLAY_NAME: u16 = 0x3001;
    pub const ADDRTYPE: u16 = 0x3002;
    pub const EMAIL_ADDRESS: u16 = 0x3003;
    pub const CREATION_TIME: u16 = 0x3007;
    pub const LAST_MODIFICATION_TIME: u16 = 0x3008;
    pub const ATTACH_DATA_BINARY: u16 = 0x3701;
    pub const ATTACH_FILENAME: u16 = 0x3704;
    pub const ATTACH_METHOD: u16 = 0x3705;
    pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
    pub const ATTACH_MIME_TAG: u16 = 0x370E;
    pub const ATTACH_CONTENT_ID: u16 = 0x3712;
    pub const ATTACH_FLAGS: u16 = 0x3714;
    pub const SMTP_ADDRESS: u16 = 0x39FE;
    pub const INTERNET_CODEPAGE: u16 = 0x3FDE;
    pub const SENDER_SMTP: u16 = 0x5D01;
    pub const SENT_REPRESENTING_SMTP: u16 = 0x5D02;
    pub const ATTACHMENT_HIDDEN: u16 = 0x7FFE;
    pub const ATTACHMENT_CONTACT_PHOTO: u16 = 0x7FFF;
    /// `PidTagRoamingXmlStream` and `PidTagRoamingBinary` (MS-OXOCFG): a user
    /// configuration's XML and binary streams.
    pub const ROAMING_XML: u16 = 0x7C08;
    pub const ROAMING_BINARY: u16 = 0x7C09;
    /// `PidTagFXDelProp`: a meta-property (PtypInteger32) that may precede the recipients and
    /// the attachments of a message.
    pub const FX_DEL_PROP: u16 = 0x4016;
}

/// `PR_MESSAGE_FLAGS` bits (MS-OXCMSG).
const MSGFLAG_READ: i32 = 0x1;
const MSGFLAG_UNSENT: i32 = 0x8;
const MSGFLAG_HASATTACH: i32 = 0x10;
/// `PidTagAttachMethod` values.
const ATTACH_BY_VALUE: i32 = 1;
const ATTACH_EMBEDDED_MSG: i32 = 5;
/// `PidTagAttachFlags`: `attRenderedInBody`.
const ATT_RENDERED_IN_BODY: i32 = 0x4;
/// `PidTagInternetCodepage` of the HTML bodies written: UTF-8.
const CODEPAGE_UTF8: i32 = 65001;

/// Markers (MS-OXCFXICS §2.2.4.1.4), the whole tag.
mod marker {
    pub const NEW_ATTACH: u32 = 0x4000_0003;
    pub const START_EMBED: u32 = 0x4001_0003;
    pub const END_EMBED: u32 = 0x4002_0003;
    pub const START_RECIP: u32 = 0x4003_0003;
    pub const END_TO_RECIP: u32 = 0x4004_0003;
    pub const END_ATTACH: u32 = 0x400E_0003;
    /// Markers of folders, message lists and ICS, none of which belongs in a message.
    pub const OTHERS: &[u32] = &[
        0x4009_0003, // StartTopFld
        0x400A_0003, // StartSubFld
        0x400B_0003, // EndFolder
        0x400C_0003, // StartMessage
        0x400D_0003, // EndMessage
        0x4010_0003, // StartFAIMsg
        0x4012_0003, // IncrSyncChg
        0x407D_0003, // IncrSyncChgPartial
        0x4013_0003, // IncrSyncDel
        0x4014_0003, // IncrSyncEnd
        0x402F_0003, // IncrSyncRead
        0x403A_0003, // IncrSyncStateBegin
        0x403B_0003, // IncrSyncStateEnd
        0x4074_000B, // IncrSyncProgressMode
        0x4075_000B, // IncrSyncProgressPerMsg
        0x4015_0003, // IncrSyncMessage
        0x407B_0102, // IncrSyncGroupInfo
        0x4018_0003, // FXErrorInfo
    ];
}

/// `MetaTagIdsetGiven`.
const META_TAG_IDSET_GIVEN: u32 = 0x4017_0003;

/// A GUID in its wire form (MS-DTYP: Data1 u32 LE, Data2 u16 LE, Data3 u16 LE, Data4 8 bytes).
pub(crate) type Guid = [u8; 16];

const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ]
}

const OLE: [u8; 8] = [0xC0, 0, 0, 0, 0, 0, 0, 0x46];
/// `IID_IMessage` {00020307-0000-0000-C000-000000000046}.
const IID_IMESSAGE: Guid = guid(0x0002_0307, 0, 0, OLE);
const PS_PUBLIC_STRINGS: Guid = guid(0x0002_0329, 0, 0, OLE);
const PSETID_APPOINTMENT: Guid = guid(0x0006_2002, 0, 0, OLE);

/// EWS `DistinguishedPropertySetId` names and their property sets (MS-OXPROPS).
const DISTINGUISHED_SETS: &[(&str, Guid)] = &[
    (
        "Meeting",
        guid(
            0x6ED8_DA90,
            0x450B,
            0x101B,
            [0x98, 0xDA, 0x00, 0xAA, 0x00, 0x3F, 0x13, 0x05],
        ),
    ),
    ("Appointment", PSETID_APPOINTMENT),
    ("Common", guid(0x0006_2008, 0, 0, OLE)),
    ("PublicStrings", PS_PUBLIC_STRINGS),
    ("Address", guid(0x0006_2004, 0, 0, OLE)),
    ("InternetHeaders", guid(0x0002_0386, 0, 0, OLE)),
    (
        "CalendarAssistant",
        guid(
            0x1100_0E07,
            0xB51B,
            0x40D6,
            [0xAF, 0x21, 0xCA, 0xA8, 0x5E, 0xDA, 0xB1, 0xD0],
        ),
    ),
    (
        "UnifiedMessaging",
        guid(
            0x4442_858E,
            0xA9E3,
            0x4E80,
            [0xB9, 0x00, 0x31, 0x7A, 0x21, 0x0C, 0xC1, 0x5B],
        ),
    ),
    ("Task", guid(0x0006_2003, 0, 0, OLE)),
    ("Sharing", guid(0x0006_2040, 0, 0, OLE)),
];

/// This server's own property set, for what the store keeps beyond MAPI (see the module docs).
const PSETID_OPENHYBRID: Guid = guid(
    0x5B8C_0A3E,
    0x6F1D,
    0x4E57,
    [0x9A, 0x52, 0x0C, 0x4F, 0x3E, 0x1D, 0x7A, 0x21],
);
/// Its properties: the extended properties kept aside, each a JSON `[key, value]`; and a user
/// configuration's dictionary as the store keeps it (JSON of its typed entries), which this
/// server does not write as MS-OXOCFG's `PidTagRoamingDictionary` XML.
const SHADOW_NAME: &str = "OpenHybrid.ExtendedProperties";
const DICTIONARY_NAME: &str = "OpenHybrid.UserConfigurationDictionary";
/// An item's meeting part (attendees and their answers, the uid shared by its copies, this
/// copy's own answer), as the store keeps it: JSON of [`mailbox::Meeting`]. MAPI spreads it over
/// many PSETID_Appointment and PSETID_Meeting properties and recipient rows this server does not
/// write; carried whole, a meeting exported and uploaded again is still that meeting.
const MEETING_NAME: &str = "OpenHybrid.Meeting";
/// A recurring series' rule, time zone and deleted occurrences, as the store keeps them: JSON of
/// [`mailbox::Series`] (MAPI's `PidLidAppointmentRecur` blob is not written by this server).
const SERIES_NAME: &str = "OpenHybrid.RecurringSeries";
/// A contact's own properties, as the store keeps them: JSON of `ews_proto::contact::Contact`,
/// or of `ews_proto::dlist::DistributionList` for a private distribution list (MAPI spreads
/// them over many PSETID_Address properties this server does not write).
const CONTACT_NAME: &str = "OpenHybrid.Contact";
/// A task's own properties, as the store keeps them: JSON of `ews_proto::task::Task`
/// (MAPI spreads them over many PSETID_Task properties this server does not write).
const TASK_NAME: &str = "OpenHybrid.Task";

/// The class prefix of a user configuration (MS-OXOCFG), compared as the store compares it.
const CONFIG_CLASS_PREFIX: &str = "IPM.Configuration.";

fn is_config_class(class: &str) -> bool {
    class
        .get(..CONFIG_CLASS_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CONFIG_CLASS_PREFIX))
}

/// PSETID_Appointment LIDs (MS-OXOCAL).
mod lid {
    pub const BUSY_STATUS: u32 = 0x8205;
    pub const LOCATION: u32 = 0x8208;
    pub const START_WHOLE: u32 = 0x820D;
    pub const END_WHOLE: u32 = 0x820E;
    pub const SUB_TYPE: u32 = 0x8215;
}

// ---------------------------------------------------------------------------------------------
// The generic stream model
// ---------------------------------------------------------------------------------------------

/// A named property's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Name {
    Lid(u32),
    String(String),
}

/// Which property: a tagged one by its id, or a named one by property set and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PropId {
    Tag(u16),
    Named(Guid, Name),
}

/// A property value. Strings are text; `String8` keeps its bytes and code page (`None`: the
/// plain `PtypString8`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    I16(i16),
    I32(i32),
    F32(f32),
    F64(f64),
    Currency(i64),
    AppTime(f64),
    Error(u32),
    Bool(bool),
    I64(i64),
    /// FILETIME: 100 ns since 1601-01-01 UTC.
    Time(i64),
    Guid(Guid),
    String(String),
    String8(Vec<u8>, Option<u16>),
    Binary(Vec<u8>),
    ServerId(Vec<u8>),
    Object(Vec<u8>),
    /// A multi-valued property: its base type and the values (all of that type).
    Multi(u16, Vec<Value>),
}

impl Value {
    /// The property type it is written with.
    fn ptype(&self) -> u16 {
        match self {
            Value::I16(_) => pt::I16,
            Value::I32(_) => pt::I32,
            Value::F32(_) => pt::F32,
            Value::F64(_) => pt::F64,
            Value::Currency(_) => pt::CURRENCY,
            Value::AppTime(_) => pt::APPTIME,
            Value::Error(_) => pt::ERROR,
            Value::Bool(_) => pt::BOOLEAN,
            Value::I64(_) => pt::I64,
            Value::Time(_) => pt::TIME,
            Value::Guid(_) => pt::GUID,
            Value::String(_) => pt::STRING,
            Value::String8(_, None) => pt::STRING8,
            Value::String8(_, Some(cp)) => pt::CODEPAGE | cp,
            Value::Binary(_) => pt::BINARY,
            Value::ServerId(_) => pt::SERVER_ID,
            Value::Object(_) => pt::OBJECT,
            Value::Multi(base, _) => pt::MV | base,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prop {
    pub id: PropId,
    pub value: Value,
}

/// One attachment: its properties and, for an attached message, that message.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FxAttachment {
    pub props: Vec<Prop>,
    pub embedded: Option<Box<FxMessage>>,
}

/// One `messageContent`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FxMessage {
    pub props: Vec<Prop>,
    pub recipients: Vec<Vec<Prop>>,
    pub attachments: Vec<FxAttachment>,
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // every length written is bounded far below 4 GiB by the store's limits
    put_u32(out, u32::try_from(n).unwrap_or(u32::MAX));
}

fn utf16z(s: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(s.len() * 2 + 2);
    for u in s.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b.extend_from_slice(&[0, 0]);
    b
}

/// A value without its tag: fixed-size raw, variable-size after its byte length.
fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) | Value::AppTime(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Currency(x) | Value::I64(x) | Value::Time(x) => {
            out.extend_from_slice(&x.to_le_bytes())
        }
        Value::Error(x) => out.extend_from_slice(&x.to_le_bytes()),
        // PtypBoolean is two bytes in a FastTransfer stream
        Value::Bool(x) => put_u16(out, u16::from(*x)),
        Value::Guid(g) => out.extend_from_slice(g),
        Value::String(s) => {
            let b = utf16z(s);
            put_len(out, b.len());
            out.extend_from_slice(&b);
        }
        Value::String8(b, _) | Value::Binary(b) | Value::ServerId(b) | Value::Object(b) => {
            put_len(out, b.len());
            out.extend_from_slice(b);
        }
        Value::Multi(_, vs) => {
            put_len(out, vs.len());
            for v in vs {
                put_value(out, v);
            }
        }
    }
}

fn put_prop(out: &mut Vec<u8>, p: &Prop, next_named: &mut u16) {
    let ptype = p.value.ptype();
    match &p.id {
        PropId::Tag(id) => put_u32(out, (u32::from(*id) << 16) | u32::from(ptype)),
        PropId::Named(set, name) => {
            // the id of a named property only has to be ≥ 0x8000; the name follows it
            let nid = *next_named;
            *next_named = next_named.saturating_add(1).max(0x8000);
            put_u32(out, (u32::from(nid) << 16) | u32::from(ptype));
            out.extend_from_slice(set);
            match name {
                Name::Lid(l) => {
                    out.push(0);
                    put_u32(out, *l);
                }
                Name::String(s) => {
                    out.push(1);
                    out.extend_from_slice(&utf16z(s));
                }
            }
        }
    }
    put_value(out, &p.value);
}

fn put_props(out: &mut Vec<u8>, props: &[Prop], next_named: &mut u16) {
    for p in props {
        put_prop(out, p, next_named);
    }
}

/// The FastTransfer stream of one `messageContent`.
pub(crate) fn write_message(m: &FxMessage) -> Vec<u8> {
    let mut out = Vec::new();
    let mut next_named = 0x8000u16;
    write_message_into(&mut out, m, &mut next_named);
    out
}

fn write_message_into(out: &mut Vec<u8>, m: &FxMessage, next_named: &mut u16) {
    put_props(out, &m.props, next_named);
    for r in &m.recipients {
        put_u32(out, marker::START_RECIP);
        put_props(out, r, next_named);
        put_u32(out, marker::END_TO_RECIP);
    }
    for a in &m.attachments {
        put_u32(out, marker::NEW_ATTACH);
        put_props(out, &a.props, next_named);
        if let Some(e) = &a.embedded {
            put_u32(out, marker::START_EMBED);
            write_message_into(out, e, next_named);
            put_u32(out, marker::END_EMBED);
        }
        put_u32(out, marker::END_ATTACH);
    }
}

/// Exchange's frame opcodes (`FxOpcodes`).
mod op {
    pub const CONFIG: u32 = 1;
    pub const TRANSFER_BUFFER: u32 = 2;
    pub const IS_INTERFACE_OK: u32 = 3;
    pub const TELL_PARTNER_VERSION: u32 = 4;
}
/// `Config`/`IsInterfaceOk` transfer method: CopyTo.
const TRANSFER_METHOD_COPY_TO: u32 = 1;
/// `IsInterfaceOk` flags Exchange writes.
const INTERFACE_FLAGS: u32 = 0x8000_2400;
/// This server's version (15.1.2507.6, as in `ServerVersionInfo`) in MS-OXCRPC's three words:
/// `major << 8 | minor`, `0x8000 | build`, `revision`.
const SERVER_VERSION: [u16; 3] = [0x0F01, 0x8000 | 2507, 6];

fn put_frame(out: &mut Vec<u8>, opcode: u32, data: &[u8]) {
    put_u32(out, opcode);
    put_len(out, data.len());
    out.extend_from_slice(data);
}

/// `Data` as Exchange frames it: the three configuration frames, then the stream in
/// `TransferBuffer` frames.
pub fn frame(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stream.len() + 64 + stream.len() / TRANSFER_BUFFER_BYTES * 8);
    let mut config = Vec::with_capacity(8);
    put_u32(&mut config, 0);
    put_u32(&mut config, TRANSFER_METHOD_COPY_TO);
    put_frame(&mut out, op::CONFIG, &config);
    let mut ok = Vec::with_capacity(24);
    put_u32(&mut ok, TRANSFER_METHOD_COPY_TO);
    ok.extend_from_slice(&IID_IMESSAGE);
    put_u32(&mut ok, INTERFACE_FLAGS);
    put_frame(&mut out, op::IS_INTERFACE_OK, &ok);
    let mut version = Vec::with_capacity(6);
    for w in SERVER_VERSION {
        put_u16(&mut version, w);
    }
    put_frame(&mut out, op::TELL_PARTNER_VERSION, &version);
    for chunk in stream.chunks(TRANSFER_BUFFER_BYTES) {
        put_frame(&mut out, op::TRANSFER_BUFFER, chunk);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    props: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            props: 0,
        }
    }

    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.left() {
            return Err(FxError::Truncated {
                what,
                offset: self.pos,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn peek_u32(&self) -> Option<u32> {
        let s = self.buf.get(self.pos..self.pos.checked_add(4)?)?;
        Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// A 32-bit byte length and that many bytes, the length checked against what is left before
    /// anything is taken.
    fn counted(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let at = self.pos;
        let n = self.u32(what)?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n > self.left() {
            return Err(FxError::LengthPastEnd {
                what,
                offset: at,
                length: n as u64,
            });
        }
        self.take(n, what)
    }

    /// A NUL-terminated UTF-16LE string (a named property's name).
    fn naked_utf16(&mut self) -> Result<String> {
        let at = self.pos;
        let mut units = Vec::new();
        loop {
            let u = self.u16("a property name")?;
            if u == 0 {
                break;
            }
            if units.len() >= 1024 {
                return Err(FxError::TooLarge {
                    what: "a property name",
                    limit: 1024,
                });
            }
            units.push(u);
        }
        String::from_utf16(&units).map_err(|_| FxError::BadString { tag: 0, offset: at })
    }
}

/// UTF-16LE bytes (with or without the terminator) as text.
fn utf16_text(b: &[u8], tag: u32, offset: usize) -> Result<String> {
    if !b.len().is_multiple_of(2) {
        return Err(FxError::BadString { tag, offset });
    }
    let mut units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    while units.last() == Some(&0) {
        units.pop();
    }
    String::from_utf16(&units).map_err(|_| FxError::BadString { tag, offset })
}

fn fixed_size(base: u16) -> Option<usize> {
    Some(match base {
        pt::I16 => 2,
        pt::I32 | pt::F32 | pt::ERROR => 4,
        pt::BOOLEAN => 2,
        pt::F64 | pt::CURRENCY | pt::APPTIME | pt::I64 | pt::TIME => 8,
        pt::GUID => 16,
        _ => return None,
    })
}

fn is_variable(base: u16) -> bool {
    matches!(
        base,
        pt::STRING | pt::STRING8 | pt::BINARY | pt::SERVER_ID | pt::OBJECT
    ) || base & pt::CODEPAGE != 0
}

fn read_fixed(r: &mut Reader<'_>, base: u16) -> Result<Value> {
    const W: &str = "a property value";
    Ok(match base {
        pt::I16 => Value::I16(i16::from_le_bytes(r.array(W)?)),
        pt::I32 => Value::I32(i32::from_le_bytes(r.array(W)?)),
        pt::F32 => Value::F32(f32::from_le_bytes(r.array(W)?)),
        pt::ERROR => Value::Error(u32::from_le_bytes(r.array(W)?)),
        pt::BOOLEAN => Value::Bool(r.u16(W)? != 0),
        pt::F64 => Value::F64(f64::from_le_bytes(r.array(W)?)),
        pt::APPTIME => Value::AppTime(f64::from_le_bytes(r.array(W)?)),
        pt::CURRENCY => Value::Currency(i64::from_le_bytes(r.array(W)?)),
        pt::I64 => Value::I64(i64::from_le_bytes(r.array(W)?)),
        pt::TIME => Value::Time(i64::from_le_bytes(r.array(W)?)),
        pt::GUID => Value::Guid(r.array(W)?),
        _ => {
            return Err(FxError::Invalid(format!(
                "type 0x{base:04X} is not fixed-size"
            )));
        }
    })
}

fn read_variable(r: &mut Reader<'_>, base: u16, tag: u32) -> Result<Value> {
    let at = r.pos;
    let b = r.counted("a property value")?;
    Ok(match base {
        pt::STRING => Value::String(utf16_text(b, tag, at)?),
        pt::STRING8 => Value::String8(b.to_vec(), None),
        pt::BINARY => Value::Binary(b.to_vec()),
        pt::SERVER_ID => Value::ServerId(b.to_vec()),
        pt::OBJECT => Value::Object(b.to_vec()),
        cp if cp & pt::CODEPAGE != 0 => {
            let page = cp & !pt::CODEPAGE;
            if page == 1200 {
                Value::String(utf16_text(b, tag, at)?)
            } else {
                Value::String8(b.to_vec(), Some(page))
            }
        }
        _ => return Err(FxError::UnsupportedType { tag, offset: at }),
    })
}

/// One `propValue` whose tag was already read.
fn read_prop(r: &mut Reader<'_>, tag: u32, at: usize) -> Result<Prop> {
    r.props += 1;
    if r.props > MAX_PROPERTIES {
        return Err(FxError::TooLarge {
            what: "the number of properties",
            limit: MAX_PROPERTIES,
        });
    }
    let ptype = (tag & 0xFFFF) as u16;
    let pid = (tag >> 16) as u16;
    let id = if pid >= 0x8000 {
        let set: Guid = r.array("a property set")?;
        let name_at = r.pos;
        let name = match r.u8("a property name kind")? {
            0 => Name::Lid(r.u32("a property LID")?),
            1 => Name::String(r.naked_utf16()?),
            kind => {
                return Err(FxError::BadNameKind {
                    kind,
                    offset: name_at,
                });
            }
        };
        PropId::Named(set, name)
    } else {
        PropId::Tag(pid)
    };
    let value = if tag == META_TAG_IDSET_GIVEN {
        // typed PtypInteger32 by its tag, but a counted IDSET on the wire (MS-OXCFXICS
        // §3.2.5.2.1); an ICS property no message carries, read past as binary
        read_variable(r, pt::BINARY, tag)?
    } else if ptype & pt::CODEPAGE != 0 {
        read_variable(r, ptype, tag)?
    } else if ptype & pt::MV != 0 {
        let base = ptype & !pt::MV;
        let count_at = r.pos;
        let count = usize::try_from(r.u32("a value count")?).unwrap_or(usize::MAX);
        if count > MAX_MULTI_VALUES {
            return Err(FxError::TooLarge {
                what: "a multi-valued property",
                limit: MAX_MULTI_VALUES,
            });
        }
        let least = match fixed_size(base) {
            Some(n) => n,
            None if is_variable(base) => 4,
            None => return Err(FxError::UnsupportedType { tag, offset: at }),
        };
        if count.saturating_mul(least) > r.left() {
            return Err(FxError::LengthPastEnd {
                what: "a multi-valued property",
                offset: count_at,
                length: count as u64,
            });
        }
        let mut vs = Vec::with_capacity(count);
        for _ in 0..count {
            vs.push(if is_variable(base) {
                read_variable(r, base, tag)?
            } else {
                read_fixed(r, base)?
            });
        }
        Value::Multi(base, vs)
    } else if fixed_size(ptype).is_some() {
        read_fixed(r, ptype)?
    } else if is_variable(ptype) {
        read_variable(r, ptype, tag)?
    } else {
        return Err(FxError::UnsupportedType { tag, offset: at });
    };
    Ok(Prop { id, value })
}

/// Properties up to the next marker this level handles (or the end); `PidTagFXDelProp` read
/// and dropped; a marker that belongs nowhere in a message refused.
fn read_props(r: &mut Reader<'_>, stop: &[u32]) -> Result<Vec<Prop>> {
    let mut props = Vec::new();
    while let Some(tag) = r.peek_u32() {
        if stop.contains(&tag) {
            break;
        }
        let at = r.pos;
        if is_marker(tag) {
            return Err(FxError::UnexpectedMarker {
                marker: tag,
                offset: at,
            });
        }
        r.pos += 4;
        let p = read_prop(r, tag, at)?;
        if p.id == PropId::Tag(id::FX_DEL_PROP) {
            continue;
        }
        props.push(p);
    }
    if !r.at_end() && r.left() < 4 {
        return Err(FxError::Truncated {
            what: "a property tag",
            offset: r.pos,
        });
    }
    Ok(props)
}

fn is_marker(tag: u32) -> bool {
    matches!(
        tag,
        marker::NEW_ATTACH
            | marker::START_EMBED
            | marker::END_EMBED
            | marker::START_RECIP
            | marker::END_TO_RECIP
            | marker::END_ATTACH
    ) || marker::OTHERS.contains(&tag)
}

fn expect_marker(r: &mut Reader<'_>, m: u32, what: &'static str) -> Result<()> {
    let at = r.pos;
    match r.peek_u32() {
        Some(t) if t == m => {
            r.pos += 4;
            Ok(())
        }
        Some(t) if is_marker(t) => Err(FxError::UnexpectedMarker {
            marker: t,
            offset: at,
        }),
        _ => Err(FxError::Truncated { what, offset: at }),
    }
}

/// One `messageContent`, up to `end` (the end of the data, or `EndEmbed`).
fn read_message(r: &mut Reader<'_>, depth: usize) -> Result<FxMessage> {
    if depth > MAX_EMBED_DEPTH {
        return Err(FxError::TooLarge {
            what: "the nesting of attached messages",
            limit: MAX_EMBED_DEPTH,
        });
    }
    let children = [marker::START_RECIP, marker::NEW_ATTACH, marker::END_EMBED];
    let mut m = FxMessage {
        props: read_props(r, &children)?,
        ..FxMessage::default()
    };
    while r.peek_u32() == Some(marker::START_RECIP) {
        r.pos += 4;
        let props = read_props(r, &[marker::END_TO_RECIP])?;
        expect_marker(r, marker::END_TO_RECIP, "a recipient (no EndToRecip)")?;
        m.recipients.push(props);
        // PidTagFXDelProp may sit between the recipients and the attachments
        let more = read_props(r, &children)?;
        if !more.is_empty() {
            return Err(FxError::Invalid(format!(
                "a property at byte {} after a recipient; only recipients and attachments may follow",
                r.pos
            )));
        }
    }
    while r.peek_u32() == Some(marker::NEW_ATTACH) {
        r.pos += 4;
        let props = read_props(r, &[marker::START_EMBED, marker::END_ATTACH])?;
        let embedded = if r.peek_u32() == Some(marker::START_EMBED) {
            r.pos += 4;
            let e = read_message(r, depth + 1)?;
            expect_marker(r, marker::END_EMBED, "an attached message (no EndEmbed)")?;
            Some(Box::new(e))
        } else {
            None
        };
        expect_marker(r, marker::END_ATTACH, "an attachment (no EndAttach)")?;
        m.attachments.push(FxAttachment { props, embedded });
    }
    if let Some(t) = r.peek_u32()
        && !(depth > 0 && t == marker::END_EMBED)
    {
        let at = r.pos;
        return Err(if t == marker::START_RECIP || is_marker(t) {
            FxError::UnexpectedMarker {
                marker: t,
                offset: at,
            }
        } else {
            FxError::Invalid(format!(
                "a property at byte {at} after the attachments of a message"
            ))
        });
    }
    Ok(m)
}

/// Reads a whole FastTransfer stream of one `messageContent`.
pub(crate) fn read_stream(stream: &[u8]) -> Result<FxMessage> {
    let mut r = Reader::new(stream);
    let m = read_message(&mut r, 0)?;
    if !r.at_end() {
        return Err(FxError::Truncated {
            what: "the message",
            offset: r.pos,
        });
    }
    Ok(m)
}

/// Reads the stored form of an attached item (its `messageContent`, as [`write_message`] wrote
/// it) as an attachment's message one level down, so what it nests counts toward
/// [`MAX_EMBED_DEPTH`] as it will inside its item's stream.
pub(crate) fn read_embedded(stream: &[u8]) -> Result<FxMessage> {
    let mut r = Reader::new(stream);
    let m = read_message(&mut r, 1)?;
    if !r.at_end() {
        return Err(FxError::Invalid(format!(
            "the attached message's data goes on past its end, at byte {}",
            r.pos
        )));
    }
    Ok(m)
}

/// Undoes [`frame`]: checks the configuration frames and joins the `TransferBuffer` ones.
pub(crate) fn unframe(data: &[u8]) -> Result<Vec<u8>> {
    if data.len() > MAX_DATA_BYTES {
        return Err(FxError::TooLarge {
            what: "the data",
            limit: MAX_DATA_BYTES,
        });
    }
    let mut r = Reader::new(data);
    let mut stream = Vec::with_capacity(data.len());
    let mut seen = [false; 5];
    while !r.at_end() {
        let at = r.pos;
        let opcode = r.u32("a frame header")?;
        let body = r.counted("a frame")?;
        let expect = |frame: &'static str, n: usize| -> Result<()> {
            if body.len() != n {
                return Err(FxError::BadFrame {
                    frame,
                    offset: at,
                    reason: "wrong length",
                });
            }
            Ok(())
        };
        let header_first = |frame: &'static str, seen: &[bool; 5], slot: usize| -> Result<()> {
            if seen[slot] || seen[op::TRANSFER_BUFFER as usize] {
                return Err(FxError::BadFrame {
                    frame,
                    offset: at,
                    reason: "repeated, or after the data",
                });
            }
            Ok(())
        };
        match opcode {
            op::CONFIG => {
                header_first("Config", &seen, 1)?;
                expect("Config", 8)?;
                let method = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                if method != TRANSFER_METHOD_COPY_TO {
                    return Err(FxError::BadFrame {
                        frame: "Config",
                        offset: at,
                        reason: "the transfer method is not CopyTo (1)",
                    });
                }
                seen[1] = true;
            }
            op::IS_INTERFACE_OK => {
                header_first("IsInterfaceOk", &seen, 3)?;
                expect("IsInterfaceOk", 24)?;
                if body[4..20] != IID_IMESSAGE {
                    return Err(FxError::BadFrame {
                        frame: "IsInterfaceOk",
                        offset: at,
                        reason: "the interface is not IMessage",
                    });
                }
                seen[3] = true;
            }
            op::TELL_PARTNER_VERSION => {
                header_first("TellPartnerVersion", &seen, 4)?;
                expect("TellPartnerVersion", 6)?;
                seen[4] = true;
            }
            op::TRANSFER_BUFFER => {
                if body.is_empty() {
                    return Err(FxError::BadFrame {
                        frame: "TransferBuffer",
                        offset: at,
                        reason: "empty",
                    });
                }
                if !(seen[1] && seen[3]) {
                    return Err(FxError::BadFrame {
                        frame: "TransferBuffer",
                        offset: at,
                        reason: "before the Config and IsInterfaceOk frames",
                    });
                }
                seen[2] = true;
                stream.extend_from_slice(body);
            }
            other => {
                return Err(FxError::UnknownOpcode {
                    opcode: other,
                    offset: at,
                });
            }
        }
    }
    if !seen[2] {
        return Err(FxError::Invalid("the data holds no message stream".into()));
    }
    Ok(stream)
}

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

/// 100 ns intervals from 1601-01-01 to 1970-01-01.
const FILETIME_UNIX_EPOCH: i64 = 116_444_736_000_000_000;

fn to_filetime(t: OffsetDateTime) -> i64 {
    let ticks = t.unix_timestamp_nanos() / 100;
    i64::try_from(ticks)
        .unwrap_or(0)
        .saturating_add(FILETIME_UNIX_EPOCH)
}

fn from_filetime(ft: i64, what: &'static str) -> Result<OffsetDateTime> {
    let nanos = (i128::from(ft) - i128::from(FILETIME_UNIX_EPOCH)) * 100;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| FxError::OutOfRange { what, value: ft })
}

// ---------------------------------------------------------------------------------------------
// Extended properties: stored key and text ↔ MAPI identity and value
// ---------------------------------------------------------------------------------------------

/// EWS `PropertyType` names and their MAPI types.
const EWS_TYPES: &[(&str, u16)] = &[
    ("ApplicationTime", pt::APPTIME),
    ("ApplicationTimeArray", pt::MV | pt::APPTIME),
    ("Binary", pt::BINARY),
    ("BinaryArray", pt::MV | pt::BINARY),
    ("Boolean", pt::BOOLEAN),
    ("CLSID", pt::GUID),
    ("CLSIDArray", pt::MV | pt::GUID),
    ("Currency", pt::CURRENCY),
    ("CurrencyArray", pt::MV | pt::CURRENCY),
    ("Double", pt::F64),
    ("DoubleArray", pt::MV | pt::F64),
    ("Error", pt::ERROR),
    ("Float", pt::F32),
    ("FloatArray", pt::MV | pt::F32),
    ("Integer", pt::I32),
    ("IntegerArray", pt::MV | pt::I32),
    ("Long", pt::I64),
    ("LongArray", pt::MV | pt::I64),
    ("Object", pt::OBJECT),
    ("ObjectArray", pt::MV | pt::OBJECT),
    ("Short", pt::I16),
    ("ShortArray", pt::MV | pt::I16),
    ("SystemTime", pt::TIME),
    ("SystemTimeArray", pt::MV | pt::TIME),
    ("String", pt::STRING),
    ("StringArray", pt::MV | pt::STRING),
];

fn ews_type_of(name: &str) -> Option<u16> {
    EWS_TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, t)| *t)
}

fn ews_type_name(ptype: u16) -> Option<&'static str> {
    EWS_TYPES.iter().find(|(_, t)| *t == ptype).map(|(n, _)| *n)
}

fn parse_guid_text(s: &str) -> Option<Guid> {
    let s = s.trim().trim_start_matches('{').trim_end_matches('}');
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 5
        || [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .any(|(n, p)| p.len() != *n || !p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    let d1 = u32::from_str_radix(parts[0], 16).ok()?;
    let d2 = u16::from_str_radix(parts[1], 16).ok()?;
    let d3 = u16::from_str_radix(parts[2], 16).ok()?;
    let rest = format!("{}{}", parts[3], parts[4]);
    let mut d4 = [0u8; 8];
    for (i, b) in d4.iter_mut().enumerate() {
        *b = u8::from_str_radix(rest.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(guid(d1, d2, d3, d4))
}

fn guid_text(g: &Guid) -> String {
    let d1 = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
    let d2 = u16::from_le_bytes([g[4], g[5]]);
    let d3 = u16::from_le_bytes([g[6], g[7]]);
    format!(
        "{d1:08x}-{d2:04x}-{d3:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
    )
}

fn parse_number(s: &str) -> Option<u32> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

/// The MAPI identity and type a stored extended-property key names.
fn identity_of_key(key: &str) -> Option<(PropId, u16)> {
    let uri = ExtendedFieldUri::from_canonical_key(key)?;
    let ptype = ews_type_of(&uri.property_type)?;
    if let Some(tag) = &uri.property_tag {
        let t = parse_number(tag)?;
        let pid = u16::try_from(t).ok()?;
        if pid >= 0x8000 || uri.property_set_id.is_some() || uri.property_name.is_some() {
            return None;
        }
        return Some((PropId::Tag(pid), ptype));
    }
    let set = match (&uri.distinguished_property_set_id, &uri.property_set_id) {
        (Some(d), None) => DISTINGUISHED_SETS.iter().find(|(n, _)| n == d)?.1,
        (None, Some(g)) => parse_guid_text(g)?,
        _ => return None,
    };
    let name = match (&uri.property_name, &uri.property_id) {
        (Some(n), None) => Name::String(n.clone()),
        (None, Some(i)) => Name::Lid(parse_number(i)?),
        _ => return None,
    };
    Some((PropId::Named(set, name), ptype))
}

/// The stored key of a MAPI identity and type (a distinguished set by its EWS name).
fn key_of_identity(id: &PropId, ptype: u16) -> Option<String> {
    let type_name = ews_type_name(ptype)?;
    let mut uri = ExtendedFieldUri {
        property_type: type_name.to_owned(),
        ..ExtendedFieldUri::default()
    };
    match id {
        PropId::Tag(t) => uri.property_tag = Some(format!("0x{t:04x}")),
        PropId::Named(set, name) => {
            match DISTINGUISHED_SETS.iter().find(|(_, g)| g == set) {
                Some((n, _)) => uri.distinguished_property_set_id = Some((*n).to_owned()),
                None => uri.property_set_id = Some(guid_text(set)),
            }
            match name {
                Name::Lid(l) => uri.property_id = Some(l.to_string()),
                Name::String(s) => uri.property_name = Some(s.clone()),
            }
        }
    }
    Some(uri.canonical_key())
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// One value of base type `base` from its EWS text.
fn value_of_text(base: u16, s: &str) -> Option<Value> {
    let t = s.trim();
    Some(match base {
        pt::I16 => Value::I16(t.parse().ok()?),
        pt::I32 => Value::I32(t.parse().ok()?),
        pt::I64 => Value::I64(t.parse().ok()?),
        pt::CURRENCY => Value::Currency(t.parse().ok()?),
        pt::F32 => Value::F32(t.parse().ok()?),
        pt::F64 => Value::F64(t.parse().ok()?),
        pt::APPTIME => Value::AppTime(t.parse().ok()?),
        pt::ERROR => Value::Error(t.parse().ok()?),
        pt::BOOLEAN => Value::Bool(ews_proto::types::parse_xs_boolean(t)?),
        pt::TIME => {
            let dt =
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
            Value::Time(to_filetime(dt))
        }
        pt::GUID => Value::Guid(parse_guid_text(t)?),
        pt::STRING => Value::String(s.to_owned()),
        pt::BINARY => Value::Binary(b64().decode(t).ok()?),
        pt::OBJECT => Value::Object(b64().decode(t).ok()?),
        _ => return None,
    })
}

/// The EWS text of one value.
fn text_of_value(v: &Value) -> Option<String> {
    Some(match v {
        Value::I16(x) => x.to_string(),
        Value::I32(x) => x.to_string(),
        Value::I64(x) | Value::Currency(x) => x.to_string(),
        Value::F32(x) => x.to_string(),
        Value::F64(x) | Value::AppTime(x) => x.to_string(),
        Value::Error(x) => x.to_string(),
        Value::Bool(x) => x.to_string(),
        Value::Time(ft) => {
            let t = from_filetime(*ft, "a time").ok()?;
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()?
        }
        Value::Guid(g) => guid_text(g),
        Value::String(s) => s.clone(),
        Value::String8(b, _) => latin1(b),
        Value::Binary(b) | Value::Object(b) | Value::ServerId(b) => b64().encode(b),
        Value::Multi(..) => return None,
    })
}

/// A stored extended property as a MAPI value: `None` when its text is not a value of its type.
fn value_of_stored(ptype: u16, text: &str) -> Option<Value> {
    if ptype & pt::MV != 0 {
        let base = ptype & !pt::MV;
        let items: Vec<String> = serde_json::from_str(text).ok()?;
        let vs = items
            .iter()
            .map(|s| value_of_text(base, s))
            .collect::<Option<Vec<_>>>()?;
        Some(Value::Multi(base, vs))
    } else {
        value_of_text(ptype, text)
    }
}

/// A MAPI value as stored text (multi-valued: a JSON array of the texts).
fn stored_of_value(v: &Value) -> Option<String> {
    match v {
        Value::Multi(_, vs) => {
            let texts = vs.iter().map(text_of_value).collect::<Option<Vec<_>>>()?;
            serde_json::to_string(&texts).ok()
        }
        v => text_of_value(v),
    }
}

/// A MAPI type as EWS names it: code-page and 8-bit strings are `String`.
fn ews_ptype(v: &Value) -> u16 {
    match v {
        Value::String8(..) => pt::STRING,
        Value::Multi(base, _) if *base == pt::STRING8 || base & pt::CODEPAGE != 0 => {
            pt::MV | pt::STRING
        }
        v => v.ptype(),
    }
}

fn latin1(b: &[u8]) -> String {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Item → stream
// ---------------------------------------------------------------------------------------------

fn tag(id: u16, value: Value) -> Prop {
    Prop {
        id: PropId::Tag(id),
        value,
    }
}

fn string(id: u16, s: &str) -> Prop {
    tag(id, Value::String(s.to_owned()))
}

fn appointment(l: u32, value: Value) -> Prop {
    Prop {
        id: PropId::Named(PSETID_APPOINTMENT, Name::Lid(l)),
        value,
    }
}

fn keywords(categories: &[String]) -> Prop {
    Prop {
        id: PropId::Named(PS_PUBLIC_STRINGS, Name::String("Keywords".into())),
        value: Value::Multi(
            pt::STRING,
            categories
                .iter()
                .map(|c| Value::String(c.clone()))
                .collect(),
        ),
    }
}

fn importance_value(i: Importance) -> i32 {
    match i {
        Importance::Low => 0,
        Importance::Normal => 1,
        Importance::High => 2,
    }
}

fn sensitivity_value(s: Sensitivity) -> i32 {
    match s {
        Sensitivity::Normal => 0,
        Sensitivity::Personal => 1,
        Sensitivity::Private => 2,
        Sensitivity::Confidential => 3,
    }
}

/// `PidLidBusyStatus` (MS-OXOCAL); `NoData` has none.
fn busy_value(f: FreeBusy) -> Option<i32> {
    Some(match f {
        FreeBusy::Free => 0,
        FreeBusy::Tentative => 1,
        FreeBusy::Busy => 2,
        FreeBusy::Oof => 3,
        FreeBusy::WorkingElsewhere => 4,
        FreeBusy::NoData => return None,
    })
}

fn address_props(
    out: &mut Vec<Prop>,
    r: &Recipient,
    name_id: u16,
    type_id: u16,
    email_id: u16,
    smtp_id: u16,
) {
    if let Some(n) = &r.name {
        out.push(string(name_id, n));
    }
    out.push(string(type_id, "SMTP"));
    out.push(string(email_id, &r.email));
    out.push(string(smtp_id, &r.email));
}

/// The identities the model writes for an item (`config`: a user configuration, whose streams
/// are modelled too): an extended property with one of them is kept aside ([`SHADOW_NAME`]).
fn modelled(id: &PropId, config: bool) -> bool {
    match id {
        PropId::Tag(t) => {
            (config && matches!(*t, id::ROAMING_XML | id::ROAMING_BINARY))
                || matches!(
                    *t,
                    id::IMPORTANCE
                        | id::MESSAGE_CLASS
                        | id::SENSITIVITY
                        | id::SUBJECT
                        | id::CLIENT_SUBMIT_TIME
                        | id::SUBJECT_PREFIX
                        | id::SENT_REPRESENTING_NAME
                        | id::SENT_REPRESENTING_ADDRTYPE
                        | id::SENT_REPRESENTING_EMAIL
                        | id::SENDER_NAME
                        | id::SENDER_ADDRTYPE
                        | id::SENDER_EMAIL
                        | id::MESSAGE_DELIVERY_TIME
                        | id::MESSAGE_FLAGS
                        | id::NORMALIZED_SUBJECT
                        | id::BODY
                        | id::HTML
                        | id::INTERNET_MESSAGE_ID
                        | id::CREATION_TIME
                        | id::INTERNET_CODEPAGE
                        | id::SENDER_SMTP
                        | id::SENT_REPRESENTING_SMTP
                )
                || skipped_tag(*t)
        }
        PropId::Named(set, Name::Lid(l)) => {
            *set == PSETID_APPOINTMENT
                && matches!(
                    *l,
                    lid::BUSY_STATUS
                        | lid::LOCATION
                        | lid::START_WHOLE
                        | lid::END_WHOLE
                        | lid::SUB_TYPE
                )
        }
        PropId::Named(set, Name::String(n)) => {
            (*set == PS_PUBLIC_STRINGS && n == "Keywords")
                || (*set == PSETID_OPENHYBRID
                    && (n == SHADOW_NAME
                        || n == DICTIONARY_NAME
                        || n == MEETING_NAME
                        || n == SERIES_NAME
                        || n == CONTACT_NAME
                        || n == TASK_NAME))
        }
    }
}

/// Tagged properties a stream's reader drops rather than keep: the store's own (ids, keys,
/// sizes, times of change), the FastTransfer meta-properties, and body forms the model does
/// not hold.
fn skipped_tag(t: u16) -> bool {
    matches!(t, 0x4000..=0x40FF | 0x0FF0..=0x0FFF | 0x65E0..=0x65E3 | 0x6700..=0x67FF)
        || matches!(
            t,
            id::MESSAGE_SIZE
                | id::LAST_MODIFICATION_TIME
                | id::RTF_COMPRESSED
                | id::NATIVE_BODY
                | 0x0E17 // PidTagMessageStatus
                | 0x0E1B // PidTagHasAttachments
                | 0x3613 // PidTagContainerClass
        )
}

/// The `Data` of an item: Exchange's frames around the FastTransfer stream of its properties,
/// recipients and file attachments (`attachments`: their content, in the item's order).
/// The series carried in [`SERIES_NAME`]: its rule and zone must read as the server reads
/// them, so an uploaded series expands as one created over EWS does.
fn series_of(v: &Value) -> Result<mailbox::Series> {
    let text = text(v, SERIES_NAME)?;
    let s: mailbox::Series = serde_json::from_str(&text)
        .map_err(|e| FxError::Invalid(format!("{SERIES_NAME} is not a series: {e}")))?;
    crate::recurring::check_stored(&s)
        .map_err(|why| FxError::Invalid(format!("{SERIES_NAME}: {why}")))?;
    Ok(s)
}

/// A contact's or task's properties carried in the named property `name`: within the store's
/// bound, they must read as `parse` reads them (`from_storage`), and are kept as the server
/// writes them (its `to_storage`).
fn typed_of<T>(
    v: &Value,
    name: &'static str,
    what: &str,
    parse: fn(&str) -> std::result::Result<T, serde_json::Error>,
    write: fn(&T) -> String,
) -> Result<String> {
    let text = text(v, name)?;
    if text.len() > mailbox::limits::MAX_CONTACT_BYTES {
        return Err(FxError::Invalid(format!(
            "{name} is longer than {} bytes",
            mailbox::limits::MAX_CONTACT_BYTES
        )));
    }
    let t = parse(&text).map_err(|e| FxError::Invalid(format!("{name} is not {what}: {e}")))?;
    Ok(write(&t))
}

/// The meeting part carried in [`MEETING_NAME`], within the store's bounds.
fn meeting_of(v: &Value) -> Result<mailbox::Meeting> {
    let text = text(v, MEETING_NAME)?;
    let m: mailbox::Meeting = serde_json::from_str(&text)
        .map_err(|e| FxError::Invalid(format!("{MEETING_NAME} is not a meeting: {e}")))?;
    let attendees = m.required.len() + m.optional.len() + m.resources.len();
    if attendees > mailbox::limits::MAX_ATTENDEES {
        return Err(FxError::TooLarge {
            what: "the meeting's attendees",
            limit: mailbox::limits::MAX_ATTENDEES,
        });
    }
    if m.uid.is_empty() || m.uid.len() > mailbox::limits::MAX_UID_BYTES {
        return Err(FxError::Invalid(format!(
            "{MEETING_NAME}'s uid must be 1 to {} bytes",
            mailbox::limits::MAX_UID_BYTES
        )));
    }
    Ok(m)
}

pub fn encode_item(item: &Item, attachments: &[Attachment]) -> Vec<u8> {
    frame(&write_message(&message_of_item(item, attachments)))
}

pub(crate) fn message_of_item(item: &Item, attachments: &[Attachment]) -> FxMessage {
    let mut p = Vec::new();
    p.push(string(id::MESSAGE_CLASS, &item.item_class));
    if let Some(s) = &item.subject {
        p.push(string(id::SUBJECT, s));
    }
    p.push(tag(
        id::IMPORTANCE,
        Value::I32(importance_value(item.importance)),
    ));
    p.push(tag(
        id::SENSITIVITY,
        Value::I32(sensitivity_value(item.sensitivity)),
    ));
    let mut flags = 0;
    if item.is_read {
        flags |= MSGFLAG_READ;
    }
    if item.is_draft {
        flags |= MSGFLAG_UNSENT;
    }
    if item.has_attachments {
        flags |= MSGFLAG_HASATTACH;
    }
    p.push(tag(id::MESSAGE_FLAGS, Value::I32(flags)));
    if let Some(m) = &item.internet_message_id {
        p.push(string(id::INTERNET_MESSAGE_ID, m));
    }
    if let Some(t) = item.date_time_sent {
        p.push(tag(id::CLIENT_SUBMIT_TIME, Value::Time(to_filetime(t))));
    }
    p.push(tag(
        id::MESSAGE_DELIVERY_TIME,
        Value::Time(to_filetime(item.date_time_received)),
    ));
    p.push(tag(
        id::CREATION_TIME,
        Value::Time(to_filetime(item.date_time_created)),
    ));
    p.push(tag(
        id::LAST_MODIFICATION_TIME,
        Value::Time(to_filetime(item.last_modified_time)),
    ));
    if let Some(f) = &item.from {
        address_props(
            &mut p,
            f,
            id::SENT_REPRESENTING_NAME,
            id::SENT_REPRESENTING_ADDRTYPE,
            id::SENT_REPRESENTING_EMAIL,
            id::SENT_REPRESENTING_SMTP,
        );
    }
    if let Some(s) = &item.sender {
        address_props(
            &mut p,
            s,
            id::SENDER_NAME,
            id::SENDER_ADDRTYPE,
            id::SENDER_EMAIL,
            id::SENDER_SMTP,
        );
    }
    match &item.body {
        Some(Body {
            body_type: BodyType::Html,
            content,
        }) => {
            p.push(tag(id::INTERNET_CODEPAGE, Value::I32(CODEPAGE_UTF8)));
            p.push(tag(id::HTML, Value::Binary(content.as_bytes().to_vec())));
        }
        Some(Body {
            body_type: BodyType::Text,
            content,
        }) => p.push(string(id::BODY, content)),
        None => {}
    }
    if !item.categories.is_empty() {
        p.push(keywords(&item.categories));
    }
    if let Some(c) = &item.calendar {
        p.push(appointment(
            lid::START_WHOLE,
            Value::Time(to_filetime(c.start)),
        ));
        p.push(appointment(lid::END_WHOLE, Value::Time(to_filetime(c.end))));
        p.push(appointment(lid::SUB_TYPE, Value::Bool(c.is_all_day)));
        if let Some(b) = busy_value(c.legacy_free_busy_status) {
            p.push(appointment(lid::BUSY_STATUS, Value::I32(b)));
        }
        if let Some(l) = &c.location {
            p.push(appointment(lid::LOCATION, Value::String(l.clone())));
        }
    }
    let config = is_config_class(&item.item_class);
    if let Some(c) = &item.user_configuration {
        if let Some(x) = &c.xml_data {
            p.push(tag(id::ROAMING_XML, Value::Binary(x.clone())));
        }
        if let Some(b) = &c.binary_data {
            p.push(tag(id::ROAMING_BINARY, Value::Binary(b.clone())));
        }
        if let Some(d) = &c.dictionary {
            p.push(Prop {
                id: PropId::Named(PSETID_OPENHYBRID, Name::String(DICTIONARY_NAME.into())),
                value: Value::String(serde_json::to_string(d).unwrap_or_default()),
            });
        }
    }
    // extended properties: as MAPI properties when that is exact, else kept aside
    let mut aside: Vec<String> = Vec::new();
    for (key, text) in &item.extended {
        let exact = identity_of_key(key).and_then(|(pid, ptype)| {
            if modelled(&pid, config) {
                return None;
            }
            let v = value_of_stored(ptype, text)?;
            // only what reads back as the very key and text it was
            (key_of_identity(&pid, ews_ptype(&v)).as_deref() == Some(key.as_str())
                && stored_of_value(&v).as_deref() == Some(text.as_str()))
            .then_some(Prop { id: pid, value: v })
        });
        match exact {
            Some(prop) => p.push(prop),
            None => aside.push(serde_json::to_string(&[key, text]).unwrap_or_default()),
        }
    }
    if !aside.is_empty() {
        p.push(Prop {
            id: PropId::Named(PSETID_OPENHYBRID, Name::String(SHADOW_NAME.into())),
            value: Value::Multi(pt::STRING, aside.into_iter().map(Value::String).collect()),
        });
    }
    if let Some(m) = &item.meeting
        && let Ok(text) = serde_json::to_string(m)
    {
        p.push(Prop {
            id: PropId::Named(PSETID_OPENHYBRID, Name::String(MEETING_NAME.into())),
            value: Value::String(text),
        });
    }
    if let Some(s) = item.calendar.as_ref().and_then(|c| c.recurrence.as_ref())
        && let Ok(text) = serde_json::to_string(s)
    {
        p.push(Prop {
            id: PropId::Named(PSETID_OPENHYBRID, Name::String(SERIES_NAME.into())),
            value: Value::String(text),
        });
    }
    if let Some(c) = &item.contact {
        p.push(Prop {
            id: PropId::Named(PSETID_OPENHYBRID, Name::String(CONTACT_NAME.into())),
            value: Value::String(c.clone()),
        });
    }
    if let Some(t) = &item.task {
        p.push(Prop {
            id: PropId::Named(PSETID_OPENHYBRID, Name::String(TASK_NAME.into())),
            value: Value::String(t.clone()),
        });
    }
    let mut recipients = Vec::new();
    for (kind, line) in [(1, &item.to), (2, &item.cc), (3, &item.bcc)] {
        for r in line {
            let mut rp = vec![
                tag(
                    id::ROWID,
                    Value::I32(i32::try_from(recipients.len()).unwrap_or(i32::MAX)),
                ),
                tag(id::RECIPIENT_TYPE, Value::I32(kind)),
            ];
            address_props(
                &mut rp,
                r,
                id::DISPLAY_NAME,
                id::ADDRTYPE,
                id::EMAIL_ADDRESS,
                id::SMTP_ADDRESS,
            );
            recipients.push(rp);
        }
    }
    let mut atts = Vec::new();
    for (n, a) in attachments.iter().enumerate() {
        let info = &a.info;
        // an item attachment: its item's messageContent between StartEmbed and EndEmbed
        let embedded = if info.is_item {
            match read_embedded(&a.content) {
                Ok(e) => Some(Box::new(e)),
                Err(e) => {
                    // only this server writes the stored form; one it cannot read is a bug
                    tracing::error!(error = %e, "an item attachment's stored item does not read back; left out");
                    continue;
                }
            }
        } else {
            None
        };
        let method = if embedded.is_some() {
            ATTACH_EMBEDDED_MSG
        } else {
            ATTACH_BY_VALUE
        };
        let mut ap = vec![
            tag(
                id::ATTACH_NUMBER,
                Value::I32(i32::try_from(n).unwrap_or(i32::MAX)),
            ),
            tag(id::ATTACH_METHOD, Value::I32(method)),
        ];
        if let Some(name) = &info.name {
            // an attached message is named by its display name (MS-OXCMSG §2.2.2.6)
            let name_id = if embedded.is_some() {
                id::DISPLAY_NAME
            } else {
                id::ATTACH_LONG_FILENAME
            };
            ap.push(string(name_id, name));
        }
        if let Some(ct) = &info.content_type {
            ap.push(string(id::ATTACH_MIME_TAG, ct));
        }
        if let Some(cid) = &info.content_id {
            ap.push(string(id::ATTACH_CONTENT_ID, cid));
        }
        ap.push(tag(id::ATTACHMENT_HIDDEN, Value::Bool(info.is_inline)));
        if info.is_inline {
            ap.push(tag(id::ATTACH_FLAGS, Value::I32(ATT_RENDERED_IN_BODY)));
        }
        ap.push(tag(
            id::ATTACHMENT_CONTACT_PHOTO,
            Value::Bool(info.is_contact_photo),
        ));
        ap.push(tag(
            id::ATTACH_SIZE,
            Value::I32(i32::try_from(a.content.len()).unwrap_or(i32::MAX)),
        ));
        if embedded.is_none() {
            ap.push(tag(
                id::ATTACH_DATA_BINARY,
                Value::Binary(a.content.clone()),
            ));
        }
        atts.push(FxAttachment {
            props: ap,
            embedded,
        });
    }
    FxMessage {
        props: p,
        recipients,
        attachments: atts,
    }
}

// ---------------------------------------------------------------------------------------------
// Stream → item
// ---------------------------------------------------------------------------------------------

/// An item read from `Data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The item to store (`is_associated` is the caller's: UploadItems' attribute says it).
    pub item: NewItem,
    /// `PidTagMessageDeliveryTime`, which the store keeps as the item's received time.
    pub received: Option<OffsetDateTime>,
    /// For a user configuration's class (`IPM.Configuration.*`): its streams (the name is the
    /// store's, from the class). The store keeps them when the upload is of an associated item.
    pub user_configuration: Option<UserConfig>,
}

/// Reads `Data` into an item, refusing anything malformed.
pub fn decode_item(data: &[u8]) -> Result<Decoded> {
    let stream = unframe(data)?;
    let m = read_stream(&stream)?;
    item_of_message(&m)
}

/// Reads an item attachment's stored item (the `messageContent` this module wrote for it, or
/// read from an attached message of `Data`), as GetAttachment reads it.
pub fn decode_attached(stored: &[u8]) -> Result<Decoded> {
    item_of_message(&read_embedded(stored)?)
}

/// The properties of one level, by identity (the last of a repeated one wins).
struct Props<'a>(&'a [Prop]);

impl<'a> Props<'a> {
    fn get(&self, id: &PropId) -> Option<&'a Value> {
        self.0.iter().rev().find(|p| p.id == *id).map(|p| &p.value)
    }

    fn tag(&self, t: u16) -> Option<&'a Value> {
        self.get(&PropId::Tag(t))
    }

    fn text(&self, t: u16, what: &'static str) -> Result<Option<String>> {
        self.tag(t).map(|v| text(v, what)).transpose()
    }

    fn i32(&self, t: u16, what: &'static str) -> Result<Option<i32>> {
        self.tag(t).map(|v| int(v, what)).transpose()
    }

    fn bool(&self, t: u16, what: &'static str) -> Result<Option<bool>> {
        self.tag(t).map(|v| boolean(v, what)).transpose()
    }

    fn time(&self, t: u16, what: &'static str) -> Result<Option<OffsetDateTime>> {
        self.tag(t).map(|v| time_of(v, what)).transpose()
    }

    fn binary(&self, t: u16, what: &'static str) -> Result<Option<Vec<u8>>> {
        self.tag(t)
            .map(|v| match v {
                Value::Binary(b) => Ok(b.clone()),
                other => Err(wrong(what, "PtypBinary", other)),
            })
            .transpose()
    }
}

fn wrong(what: &'static str, expected: &'static str, v: &Value) -> FxError {
    FxError::WrongType {
        what,
        expected,
        found: v.ptype(),
    }
}

fn text(v: &Value, what: &'static str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::String8(b, _) => Ok(latin1(b)),
        other => Err(wrong(what, "a string", other)),
    }
}

fn int(v: &Value, what: &'static str) -> Result<i32> {
    match v {
        Value::I32(x) => Ok(*x),
        other => Err(wrong(what, "PtypInteger32", other)),
    }
}

fn boolean(v: &Value, what: &'static str) -> Result<bool> {
    match v {
        Value::Bool(x) => Ok(*x),
        other => Err(wrong(what, "PtypBoolean", other)),
    }
}

fn time_of(v: &Value, what: &'static str) -> Result<OffsetDateTime> {
    match v {
        Value::Time(ft) => from_filetime(*ft, what),
        other => Err(wrong(what, "PtypTime", other)),
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn address(
    p: &Props<'_>,
    name_id: u16,
    email_id: u16,
    smtp_id: u16,
    what: &'static str,
) -> Result<Option<Recipient>> {
    let email = match non_empty(p.text(smtp_id, what)?) {
        Some(e) => Some(e),
        None => non_empty(p.text(email_id, what)?),
    };
    Ok(match email {
        Some(email) => Some(Recipient {
            name: p.text(name_id, what)?,
            email,
        }),
        None => None,
    })
}

/// An HTML body's bytes as text, by `PidTagInternetCodepage` (UTF-8 unless it names a
/// single-byte Latin code page).
fn html_text(b: &[u8], codepage: Option<i32>) -> String {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    match codepage {
        Some(1252 | 28591) if std::str::from_utf8(b).is_err() => {
            b.iter().map(|&c| char::from(c)).collect()
        }
        _ => String::from_utf8_lossy(b).into_owned(),
    }
}

pub(crate) fn item_of_message(m: &FxMessage) -> Result<Decoded> {
    let p = Props(&m.props);
    let mut item = NewItem {
        item_class: p
            .text(id::MESSAGE_CLASS, "PidTagMessageClass")?
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "IPM.Note".into()),
        ..NewItem::default()
    };
    item.subject = match p.text(id::SUBJECT, "PidTagSubject")? {
        Some(s) => Some(s),
        None => match p.text(id::NORMALIZED_SUBJECT, "PidTagNormalizedSubject")? {
            Some(n) => Some(
                p.text(id::SUBJECT_PREFIX, "PidTagSubjectPrefix")?
                    .unwrap_or_default()
                    + &n,
            ),
            None => None,
        },
    };
    let codepage = p.i32(id::INTERNET_CODEPAGE, "PidTagInternetCodepage")?;
    item.body = match p.tag(id::HTML) {
        Some(Value::Binary(b)) => Some(Body {
            body_type: BodyType::Html,
            content: html_text(b, codepage),
        }),
        Some(v @ (Value::String(_) | Value::String8(..))) => Some(Body {
            body_type: BodyType::Html,
            content: text(v, "PidTagHtml")?,
        }),
        Some(other) => return Err(wrong("PidTagHtml", "PtypBinary", other)),
        None => p.text(id::BODY, "PidTagBody")?.map(|content| Body {
            body_type: BodyType::Text,
            content,
        }),
    };
    item.importance = match p.i32(id::IMPORTANCE, "PidTagImportance")? {
        None | Some(1) => Importance::Normal,
        Some(0) => Importance::Low,
        Some(2) => Importance::High,
        Some(v) => {
            return Err(FxError::OutOfRange {
                what: "PidTagImportance",
                value: v.into(),
            });
        }
    };
    item.sensitivity = match p.i32(id::SENSITIVITY, "PidTagSensitivity")? {
        None | Some(0) => Sensitivity::Normal,
        Some(1) => Sensitivity::Personal,
        Some(2) => Sensitivity::Private,
        Some(3) => Sensitivity::Confidential,
        Some(v) => {
            return Err(FxError::OutOfRange {
                what: "PidTagSensitivity",
                value: v.into(),
            });
        }
    };
    let flags = p.i32(id::MESSAGE_FLAGS, "PidTagMessageFlags")?.unwrap_or(0);
    item.is_read = flags & MSGFLAG_READ != 0;
    item.is_draft = flags & MSGFLAG_UNSENT != 0;
    item.internet_message_id =
        non_empty(p.text(id::INTERNET_MESSAGE_ID, "PidTagInternetMessageId")?);
    item.date_time_sent = p.time(id::CLIENT_SUBMIT_TIME, "PidTagClientSubmitTime")?;
    item.date_time_created = p.time(id::CREATION_TIME, "PidTagCreationTime")?;
    let received = p.time(id::MESSAGE_DELIVERY_TIME, "PidTagMessageDeliveryTime")?;
    item.from = address(
        &p,
        id::SENT_REPRESENTING_NAME,
        id::SENT_REPRESENTING_EMAIL,
        id::SENT_REPRESENTING_SMTP,
        "the From address",
    )?;
    item.sender = address(
        &p,
        id::SENDER_NAME,
        id::SENDER_EMAIL,
        id::SENDER_SMTP,
        "the Sender address",
    )?;
    if let Some(v) = p.get(&PropId::Named(
        PS_PUBLIC_STRINGS,
        Name::String("Keywords".into()),
    )) {
        item.categories = match v {
            Value::Multi(_, vs) => vs
                .iter()
                .map(|v| text(v, "PidNameKeywords"))
                .collect::<Result<Vec<_>>>()?,
            other => return Err(wrong("PidNameKeywords", "PtypMultipleString", other)),
        };
    }
    let appt = |l: u32| p.get(&PropId::Named(PSETID_APPOINTMENT, Name::Lid(l)));
    if let (Some(s), Some(e)) = (appt(lid::START_WHOLE), appt(lid::END_WHOLE)) {
        item.calendar = Some(Calendar {
            start: time_of(s, "PidLidAppointmentStartWhole")?,
            end: time_of(e, "PidLidAppointmentEndWhole")?,
            is_all_day: appt(lid::SUB_TYPE)
                .map(|v| boolean(v, "PidLidAppointmentSubType"))
                .transpose()?
                .unwrap_or(false),
            legacy_free_busy_status: match appt(lid::BUSY_STATUS)
                .map(|v| int(v, "PidLidBusyStatus"))
                .transpose()?
            {
                None | Some(2) => FreeBusy::Busy,
                Some(0) => FreeBusy::Free,
                Some(1) => FreeBusy::Tentative,
                Some(3) => FreeBusy::Oof,
                Some(4) => FreeBusy::WorkingElsewhere,
                Some(v) => {
                    return Err(FxError::OutOfRange {
                        what: "PidLidBusyStatus",
                        value: v.into(),
                    });
                }
            },
            location: appt(lid::LOCATION)
                .map(|v| text(v, "PidLidLocation"))
                .transpose()?,
            recurrence: None,
        });
    }
    let config = is_config_class(&item.item_class);
    let user_configuration = if config {
        let dictionary = match p.get(&PropId::Named(
            PSETID_OPENHYBRID,
            Name::String(DICTIONARY_NAME.into()),
        )) {
            Some(v) => Some(
                serde_json::from_str::<Vec<DictEntry>>(&text(v, DICTIONARY_NAME)?).map_err(
                    |_| FxError::Invalid(format!("{DICTIONARY_NAME} is not a dictionary")),
                )?,
            ),
            None => None,
        };
        Some(UserConfig {
            name: String::new(),
            dictionary,
            xml_data: p.binary(id::ROAMING_XML, "PidTagRoamingXmlStream")?,
            binary_data: p.binary(id::ROAMING_BINARY, "PidTagRoamingBinary")?,
        })
    } else {
        None
    };
    // what else there is: extended properties (the last of a repeated identity wins)
    let mut extended: Vec<(String, String)> = Vec::new();
    let mut put = |k: String, v: String| {
        extended.retain(|(x, _)| *x != k);
        extended.push((k, v));
    };
    let mut aside = Vec::new();
    let mut series = None;
    for prop in &m.props {
        if prop.id == PropId::Named(PSETID_OPENHYBRID, Name::String(SHADOW_NAME.into())) {
            aside.push(&prop.value);
            continue;
        }
        if prop.id == PropId::Named(PSETID_OPENHYBRID, Name::String(MEETING_NAME.into())) {
            item.meeting = Some(meeting_of(&prop.value)?);
            continue;
        }
        if prop.id == PropId::Named(PSETID_OPENHYBRID, Name::String(SERIES_NAME.into())) {
            series = Some(series_of(&prop.value)?);
            continue;
        }
        if prop.id == PropId::Named(PSETID_OPENHYBRID, Name::String(CONTACT_NAME.into())) {
            // a private distribution list keeps its members where a contact its properties
            item.contact = Some(if crate::ews::is_dist_list_class(&item.item_class) {
                typed_of(
                    &prop.value,
                    CONTACT_NAME,
                    "a distribution list",
                    ews_proto::dlist::DistributionList::from_storage,
                    ews_proto::dlist::DistributionList::to_storage,
                )?
            } else {
                typed_of(
                    &prop.value,
                    CONTACT_NAME,
                    "a contact",
                    ews_proto::contact::Contact::from_storage,
                    ews_proto::contact::Contact::to_storage,
                )?
            });
            continue;
        }
        if prop.id == PropId::Named(PSETID_OPENHYBRID, Name::String(TASK_NAME.into())) {
            item.task = Some(typed_of(
                &prop.value,
                TASK_NAME,
                "a task",
                ews_proto::task::Task::from_storage,
                ews_proto::task::Task::to_storage,
            )?);
            continue;
        }
        if modelled(&prop.id, config) {
            continue;
        }
        let Some(key) = key_of_identity(&prop.id, ews_ptype(&prop.value)) else {
            continue; // a type EWS cannot name (PtypServerId): the store cannot keep it
        };
        if let Some(text) = stored_of_value(&prop.value) {
            put(key, text);
        }
    }
    for v in aside {
        let Value::Multi(_, vs) = v else {
            return Err(wrong(SHADOW_NAME, "PtypMultipleString", v));
        };
        for v in vs {
            let entry = text(v, SHADOW_NAME)?;
            let (k, val): (String, String) = serde_json::from_str(&entry).map_err(|_| {
                FxError::Invalid(format!(
                    "a value of {SHADOW_NAME} is not a [key, value] pair"
                ))
            })?;
            put(k, val);
        }
    }
    if let Some(s) = series {
        let Some(c) = &mut item.calendar else {
            return Err(FxError::Invalid(format!(
                "{SERIES_NAME} is on an item without its appointment's start and end"
            )));
        };
        c.recurrence = Some(s);
    }
    extended.sort();
    item.extended = extended;
    // recipients
    for r in &m.recipients {
        let rp = Props(r);
        let Some(rcpt) = address(
            &rp,
            id::DISPLAY_NAME,
            id::EMAIL_ADDRESS,
            id::SMTP_ADDRESS,
            "a recipient",
        )?
        else {
            continue; // a recipient without an address: the model has no place for it
        };
        match rp
            .i32(id::RECIPIENT_TYPE, "PidTagRecipientType")?
            .map(|t| t & 0xF)
        {
            Some(1) | None => item.to.push(rcpt),
            Some(2) => item.cc.push(rcpt),
            Some(3) => item.bcc.push(rcpt),
            Some(_) => {} // the originator (0): not a recipient line
        }
    }
    // attachments
    for a in &m.attachments {
        let ap = Props(&a.props);
        let method = ap.i32(id::ATTACH_METHOD, "PidTagAttachMethod")?;
        let flags = ap.i32(id::ATTACH_FLAGS, "PidTagAttachFlags")?.unwrap_or(0);
        let is_inline = ap
            .bool(id::ATTACHMENT_HIDDEN, "PidTagAttachmentHidden")?
            .unwrap_or(false)
            || flags & ATT_RENDERED_IN_BODY != 0;
        if let Some(e) = &a.embedded {
            // an item attachment: what it holds must be an item this server keeps
            item_of_message(e)?;
            let name = match ap.text(id::DISPLAY_NAME, "PidTagDisplayName")? {
                Some(n) => Some(n),
                None => ap.text(id::ATTACH_LONG_FILENAME, "PidTagAttachLongFilename")?,
            };
            item.attachments.push(NewAttachment {
                name,
                content_type: ap.text(id::ATTACH_MIME_TAG, "PidTagAttachMimeTag")?,
                content_id: ap.text(id::ATTACH_CONTENT_ID, "PidTagAttachContentId")?,
                is_inline,
                is_contact_photo: false,
                is_item: true,
                content: write_message(e),
            });
            continue;
        }
        if method == Some(ATTACH_EMBEDDED_MSG) {
            return Err(FxError::Invalid(
                "an attachment of an attached message (PidTagAttachMethod 5) without the message (no StartEmbed)"
                    .to_owned(),
            ));
        }
        if !matches!(method, None | Some(ATTACH_BY_VALUE)) {
            return Err(FxError::Unsupported(
                "an attachment other than by value (a reference or an OLE object)",
            ));
        }
        let name = match ap.text(id::ATTACH_LONG_FILENAME, "PidTagAttachLongFilename")? {
            Some(n) => Some(n),
            None => ap.text(id::ATTACH_FILENAME, "PidTagAttachFilename")?,
        };
        item.attachments.push(NewAttachment {
            name,
            content_type: ap.text(id::ATTACH_MIME_TAG, "PidTagAttachMimeTag")?,
            content_id: ap.text(id::ATTACH_CONTENT_ID, "PidTagAttachContentId")?,
            is_item: false,
            is_inline,
            is_contact_photo: ap
                .bool(id::ATTACHMENT_CONTACT_PHOTO, "PidTagAttachmentContactPhoto")?
                .unwrap_or(false),
            content: ap
                .binary(id::ATTACH_DATA_BINARY, "PidTagAttachDataBinary")?
                .unwrap_or_default(),
        });
    }
    Ok(Decoded {
        item,
        received,
        user_configuration,
    })
}

#[cfg(test)]
mod tests;
