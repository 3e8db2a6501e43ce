//! The crate's single error type.
//!
//! Every variant has exactly one meaning. Variants that come from a spot in
//! the input carry the byte offset (`position`, counted from the first byte
//! of the input as given, BOM included); [`crate::xml::line_col`] turns it
//! into the line/column pair that an `ErrorSchemaValidation` fault reports.
//!
//! Values copied from the input into an error are shortened to
//! [`MAX_ECHO_CHARS`] characters so that an error message can never be
//! used to amplify a hostile request.

use crate::ns;

/// Longest input-derived string (in characters) that an error repeats.
pub const MAX_ECHO_CHARS: usize = 80;

/// Shortens an input-derived string for inclusion in an error message.
pub(crate) fn echo(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

/// Human-readable qualified name using the conventional EWS prefixes
/// (`soap:`, `m:`, `t:`, `e:`) for the well-known namespaces and
/// `{uri}local` for anything else.
pub(crate) fn display_name(namespace: &str, local: &str) -> String {
    let prefix = match namespace {
        ns::SOAP => "soap:",
        ns::MESSAGES => "m:",
        ns::TYPES => "t:",
        ns::ERRORS => "e:",
        ns::AUTODISCOVER => "a:",
        ns::POX_REQUEST => "pox:",
        "" => "",
        other => return format!("{{{}}}{}", echo(other), echo(local)),
    };
    format!("{prefix}{}", echo(local))
}

/// [`display_name`] of an element.
pub(crate) fn dn(el: &crate::xml::Element) -> String {
    display_name(&el.ns, &el.local)
}

/// `parent` lacks its required child `name`.
pub(crate) fn missing(parent: &crate::xml::Element, name: &'static str) -> EwsProtoError {
    EwsProtoError::MissingElement {
        parent: dn(parent),
        name,
        position: parent.position(),
    }
}

/// Error returned by [`std::str::FromStr`] implementations of this crate's
/// enumerations (server versions, distinguished folder ids, shapes, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind}")]
pub struct UnknownValue {
    /// What was being parsed, e.g. `"DistinguishedFolderId"`.
    pub kind: &'static str,
    /// The rejected text (shortened to [`MAX_ECHO_CHARS`]).
    pub value: String,
}

impl UnknownValue {
    pub(crate) fn new(kind: &'static str, value: &str) -> Self {
        Self {
            kind,
            value: echo(value),
        }
    }
}

/// Everything that can go wrong while reading XML, parsing an EWS request
/// or reading back an EWS response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EwsProtoError {
    // ------------------------------------------------------------------
    // Input and encoding
    // ------------------------------------------------------------------
    /// The input is larger than [`crate::xml::Limits::max_input_bytes`].
    #[error("the XML input is {size} bytes, more than the limit of {limit} bytes")]
    InputTooLarge { size: usize, limit: usize },
    /// The input is not valid UTF-8.
    #[error("the XML input is not valid UTF-8 (first invalid byte at offset {position})")]
    NotUtf8 { position: usize },
    /// The input starts with a UTF-16 or UTF-32 byte order mark.
    #[error("the XML input starts with a {encoding} byte order mark; only UTF-8 is accepted")]
    UnsupportedByteOrderMark { encoding: &'static str },
    /// The XML declaration names an encoding other than UTF-8.
    #[error("the XML declaration names encoding {encoding:?}; only UTF-8 is accepted")]
    UnsupportedEncoding { encoding: String, position: usize },
    /// The XML declaration names a version other than 1.0, or none.
    #[error("the XML declaration names version {version:?}; only XML 1.0 is accepted")]
    UnsupportedXmlVersion { version: String, position: usize },
    /// A character that XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF),
    /// either literally or through a character reference.
    #[error("character U+{codepoint:04X} at byte {position} is not allowed in XML 1.0")]
    InvalidCharacter { codepoint: u32, position: usize },

    // ------------------------------------------------------------------
    // Forbidden constructs
    // ------------------------------------------------------------------
    /// A `<!DOCTYPE …>`: no DTDs, hence no entity declarations at all.
    #[error(
        "a DOCTYPE declaration at byte {position} is not allowed (no DTDs, no entity declarations)"
    )]
    DtdNotAllowed { position: usize },
    /// A processing instruction other than the leading XML declaration.
    #[error("the processing instruction <?{target}?> at byte {position} is not allowed")]
    ProcessingInstructionNotAllowed { target: String, position: usize },
    /// An XML declaration that is not at the very start of the input.
    #[error("an XML declaration at byte {position} is only allowed at the very start of the input")]
    MisplacedXmlDeclaration { position: usize },
    /// `&name;` where `name` is not one of the five predefined entities.
    #[error(
        "unknown entity reference &{name}; at byte {position}; only &lt; &gt; &amp; &apos; &quot; and numeric character references are allowed"
    )]
    UnknownEntity { name: String, position: usize },
    /// A numeric character reference that is not a number or names no character.
    #[error("malformed character reference &{reference}; at byte {position}")]
    InvalidCharacterReference { reference: String, position: usize },

    // ------------------------------------------------------------------
    // Document structure
    // ------------------------------------------------------------------
    /// The input contains no element at all.
    #[error("the XML input contains no root element")]
    NoRootElement,
    /// A second top-level element.
    #[error("a second root element <{name}> at byte {position}; a document has exactly one root")]
    MultipleRoots { name: String, position: usize },
    /// Non-whitespace text (or a second BOM) before the root element.
    #[error("non-whitespace content at byte {position} before the root element")]
    TextBeforeRoot { position: usize },
    /// Non-whitespace text, CDATA or references after the root element.
    #[error("non-whitespace content at byte {position} after the end of the root element")]
    TrailingContent { position: usize },
    /// The input ends while an element is still open.
    #[error("the XML input ends before element <{name}> is closed")]
    UnclosedElement { name: String },
    /// The literal sequence `]]>` in character data (forbidden by XML 1.0 §2.4).
    #[error("the sequence ]]> at byte {position} is not allowed in text content")]
    CdataEndInText { position: usize },
    /// An end tag that does not match the open element.
    #[error("mismatched end tag at byte {position}: expected </{expected}>, found </{found}>")]
    MismatchedEndTag {
        expected: String,
        found: String,
        position: usize,
    },
    /// An element or attribute name that is not a valid (namespace-aware) XML name.
    #[error("{name:?} at byte {position} is not a valid XML name")]
    InvalidName { name: String, position: usize },
    /// An attribute that cannot be parsed (missing `=`, unquoted value, `<` in value, ...).
    #[error("malformed attribute at byte {position}: {reason}")]
    MalformedAttribute { reason: String, position: usize },
    /// The same attribute (by qualified or by expanded name) twice on one element.
    #[error("attribute {name} appears twice on the element at byte {position}")]
    DuplicateAttribute { name: String, position: usize },
    /// Any other well-formedness error reported by the tokenizer.
    #[error("malformed XML at byte {position}: {reason}")]
    MalformedXml { reason: String, position: usize },

    // ------------------------------------------------------------------
    // Namespaces
    // ------------------------------------------------------------------
    /// A prefix used on an element or attribute that is not bound in scope.
    #[error("namespace prefix {prefix:?} at byte {position} is not declared")]
    UndeclaredPrefix { prefix: String, position: usize },
    /// A namespace declaration that XML Namespaces 1.0 forbids.
    #[error("invalid namespace declaration {attribute} at byte {position}: {reason}")]
    InvalidNamespaceDeclaration {
        attribute: String,
        reason: &'static str,
        position: usize,
    },

    // ------------------------------------------------------------------
    // Limits (see `xml::Limits`)
    // ------------------------------------------------------------------
    /// Elements nested deeper than `Limits::max_depth`.
    #[error("element nesting at byte {position} exceeds the limit of {limit} levels")]
    TooDeep { limit: usize, position: usize },
    /// More elements than `Limits::max_elements`.
    #[error("the element at byte {position} exceeds the limit of {limit} elements per document")]
    TooManyElements { limit: usize, position: usize },
    /// More attributes on one element than `Limits::max_attributes`.
    #[error("the element at byte {position} has more than {limit} attributes")]
    TooManyAttributes { limit: usize, position: usize },
    /// More attributes in the whole document than `Limits::max_total_attributes`.
    #[error("the element at byte {position} exceeds the limit of {limit} attributes per document")]
    TooManyTotalAttributes { limit: usize, position: usize },
    /// More namespace declarations on one element than `Limits::max_namespace_declarations`.
    #[error("the element at byte {position} has more than {limit} namespace declarations")]
    TooManyNamespaceDeclarations { limit: usize, position: usize },
    /// An element or attribute name longer than `Limits::max_name_len`.
    #[error("a name of {length} bytes at byte {position} exceeds the limit of {limit} bytes")]
    NameTooLong {
        length: usize,
        limit: usize,
        position: usize,
    },
    /// An attribute value longer than `Limits::max_attribute_value_len`.
    #[error(
        "an attribute value of {length} bytes on the element at byte {position} exceeds the limit of {limit} bytes"
    )]
    AttributeValueTooLong {
        length: usize,
        limit: usize,
        position: usize,
    },
    /// The text of one element longer than `Limits::max_text_len`.
    #[error(
        "the text of an element reaches byte {position} and exceeds the limit of {limit} bytes"
    )]
    TextTooLong { limit: usize, position: usize },

    // ------------------------------------------------------------------
    // SOAP envelope
    // ------------------------------------------------------------------
    /// The root element is not `soap:Envelope` (SOAP 1.1 namespace).
    #[error("the root element is {found}, expected soap:Envelope in namespace {expected}", expected = ns::SOAP)]
    NotSoapEnvelope { found: String },
    /// `soap:Envelope` without `soap:Body`.
    #[error("soap:Envelope has no soap:Body")]
    MissingSoapBody,
    /// An element directly under `soap:Envelope` other than one Header followed by one Body.
    #[error(
        "unexpected {found} at byte {position} in soap:Envelope (expected an optional soap:Header then soap:Body)"
    )]
    UnexpectedSoapElement { found: String, position: usize },
    /// Non-whitespace text directly inside `soap:Envelope`, `soap:Header` or `soap:Body`.
    #[error("non-whitespace text at byte {position} directly inside {parent}")]
    UnexpectedSoapText {
        parent: &'static str,
        position: usize,
    },
    /// `soap:Body` does not contain exactly one element.
    #[error("soap:Body must contain exactly one element, found {count}")]
    SoapBodyChildCount { count: usize },
    /// The element in `soap:Body` is not in the EWS messages namespace.
    #[error(
        "the operation element {found} at byte {position} is not in the EWS messages namespace"
    )]
    NotAnEwsOperation { found: String, position: usize },
    /// The root or `soap:Body` element is not an Autodiscover request this server answers.
    #[error("{found} at byte {position} is not an Autodiscover request; expected {expected}")]
    NotAnAutodiscoverRequest {
        found: String,
        expected: &'static str,
        position: usize,
    },
    /// More entries than a request may carry (users or settings of one GetUserSettings).
    #[error("{parent} at byte {position} has more than {limit} {what}; send at most {limit}")]
    TooManyEntries {
        parent: String,
        what: &'static str,
        limit: usize,
        position: usize,
    },
    /// A header that appears twice (`RequestServerVersion`, `ExchangeImpersonation`).
    #[error("the SOAP header t:{name} appears more than once")]
    DuplicateHeader { name: &'static str },
    /// A header we do not know, marked `soap:mustUnderstand="1"`.
    #[error("the SOAP header {found} is marked mustUnderstand but is not understood")]
    MustUnderstandHeader { found: String },
    /// `t:RequestServerVersion Version` with a value we do not accept.
    #[error("the requested server version {version:?} is not supported")]
    UnsupportedServerVersion { version: String },
    /// An Autodiscover answer refusing the whole request (its `Response/ErrorCode`; only when
    /// reading answers).
    #[error("Autodiscover refused the whole request with {code}: {message}")]
    AutodiscoverRefused { code: String, message: String },
    /// A SOAP fault instead of a response (only when reading responses).
    #[error("the server answered with a SOAP fault {code}: {message}")]
    SoapFault {
        /// The EWS response code from the fault detail, or the `faultcode` text.
        code: String,
        message: String,
    },

    // ------------------------------------------------------------------
    // EWS schema
    // ------------------------------------------------------------------
    /// A required child element is missing.
    #[error("{parent} at byte {position} is missing the required element {name}")]
    MissingElement {
        parent: String,
        name: &'static str,
        position: usize,
    },
    /// A required attribute is missing.
    #[error("{element} at byte {position} is missing the required attribute {name}")]
    MissingAttribute {
        element: String,
        name: &'static str,
        position: usize,
    },
    /// An element that the schema does not allow at this place.
    #[error("unexpected element {found} at byte {position} inside {parent}")]
    UnexpectedElement {
        parent: String,
        found: String,
        position: usize,
    },
    /// An element that may appear at most once appears again.
    #[error("element {name} at byte {position} appears more than once inside {parent}")]
    DuplicateElement {
        parent: String,
        name: String,
        position: usize,
    },
    /// A value that is not one of the allowed values / not of the right type.
    #[error("{context} at byte {position} has the invalid value {value:?}; expected {expected}")]
    InvalidValue {
        /// Element or attribute, e.g. `t:BaseShape` or `m:FindItem/@Traversal`.
        context: String,
        value: String,
        /// What would have been valid, e.g. `one of: IdOnly, Default, AllProperties`.
        expected: String,
        position: usize,
    },
    /// A value that is not a valid `xs:dateTime`.
    #[error("{context} at byte {position} has the invalid xs:dateTime value {value:?}")]
    InvalidDateTime {
        context: String,
        value: String,
        position: usize,
    },
    /// Base64 content that does not decode.
    #[error("{element} at byte {position} does not contain valid base64")]
    InvalidBase64 {
        element: &'static str,
        position: usize,
    },
    /// `t:DistinguishedFolderId Id` that names no known folder.
    #[error("{id:?} at byte {position} is not a known DistinguishedFolderId")]
    UnknownDistinguishedFolderId { id: String, position: usize },
    /// An empty `Id` attribute on an item or folder id.
    #[error("{element} at byte {position} has an empty Id")]
    EmptyId { element: String, position: usize },
    /// A `t:UserId` that cannot name a delegate (MS-OXWSDLGM: GetDelegate, AddDelegate,
    /// UpdateDelegate, RemoveDelegate): one naming `t:DistinguishedUser` (Default, Anonymous) or
    /// `t:ExternalUserIdentity`, which are folder-permission entries and not users, or one with
    /// neither `t:SID` nor `t:PrimarySmtpAddress`. `found` is the offending element.
    #[error("{found} at byte {position} cannot name a delegate: {reason}")]
    InvalidDelegateUserId {
        found: String,
        reason: &'static str,
        position: usize,
    },
    /// A property a client cannot set (a read-only contact property such as `t:CompleteName`,
    /// `t:ContactSource` or `t:HasPicture`, a read-only task property such as `t:IsComplete`,
    /// `t:CompleteDate` or `t:StatusDescription`) in the item element of a CreateItem or
    /// UpdateItem.
    #[error(
        "{element} at byte {position} is a read-only property: the server computes it, a client cannot set it"
    )]
    ReadOnlyProperty { element: String, position: usize },
    /// A construct that is valid EWS but that this implementation does not support
    /// (e.g. `t:OccurrenceItemId`, `m:FractionalPageItemView`, `t:PostItem` in CreateItem).
    #[error("{found} at byte {position} is valid EWS but not supported by this server")]
    Unsupported { found: String, position: usize },
}

impl EwsProtoError {
    /// The EWS response code a server should report for this error.
    ///
    /// * `ErrorInvalidServerVersion` for [`Self::UnsupportedServerVersion`];
    /// * `ErrorInvalidIdMalformed` for [`Self::EmptyId`];
    /// * `ErrorInvalidPropertySet` for [`Self::ReadOnlyProperty`] (a read-only property set);
    /// * `ErrorInvalidDelegateUserId` for [`Self::InvalidDelegateUserId`] (Exchange's code for a
    ///   user id that names no delegate);
    /// * `ErrorInvalidRequest` for requests that are well-formed but not
    ///   acceptable (too large, a foreign operation, a `mustUnderstand` header
    ///   we do not understand);
    /// * `ErrorInvalidOperation` for valid EWS this server does not support (not
    ///   `ErrorInvalidRequest`: exchangelib takes that fault for a wrong server
    ///   version and retries every version before giving up with a misleading
    ///   error);
    /// * `ErrorSchemaValidation` for everything that is malformed XML or
    ///   does not match the EWS schema (including the hardening limits).
    pub fn response_code(&self) -> &'static str {
        match self {
            Self::UnsupportedServerVersion { .. } => "ErrorInvalidServerVersion",
            Self::EmptyId { .. } => "ErrorInvalidIdMalformed",
            Self::ReadOnlyProperty { .. } => "ErrorInvalidPropertySet",
            Self::InvalidDelegateUserId { .. } => "ErrorInvalidDelegateUserId",
            Self::Unsupported { .. } => "ErrorInvalidOperation",
            Self::InvalidBase64 {
                element: "t:MimeContent",
                ..
            } => "ErrorMimeContentInvalidBase64String",
            Self::InputTooLarge { .. }
            | Self::NotAnEwsOperation { .. }
            | Self::NotAnAutodiscoverRequest { .. }
            | Self::TooManyEntries { .. }
            | Self::MustUnderstandHeader { .. } => "ErrorInvalidRequest",
            Self::SoapFault { .. } | Self::AutodiscoverRefused { .. } => "ErrorInternalServerError",
            _ => "ErrorSchemaValidation",
        }
    }

    /// The byte offset in the input that the error refers to, when known.
    pub fn position(&self) -> Option<usize> {
        match self {
            Self::NotUtf8 { position }
            | Self::UnsupportedEncoding { position, .. }
            | Self::UnsupportedXmlVersion { position, .. }
            | Self::InvalidCharacter { position, .. }
            | Self::DtdNotAllowed { position }
            | Self::ProcessingInstructionNotAllowed { position, .. }
            | Self::MisplacedXmlDeclaration { position }
            | Self::UnknownEntity { position, .. }
            | Self::InvalidCharacterReference { position, .. }
            | Self::MultipleRoots { position, .. }
            | Self::TextBeforeRoot { position }
            | Self::TrailingContent { position }
            | Self::CdataEndInText { position }
            | Self::MismatchedEndTag { position, .. }
            | Self::InvalidName { position, .. }
            | Self::MalformedAttribute { position, .. }
            | Self::DuplicateAttribute { position, .. }
            | Self::MalformedXml { position, .. }
            | Self::UndeclaredPrefix { position, .. }
            | Self::InvalidNamespaceDeclaration { position, .. }
            | Self::TooDeep { position, .. }
            | Self::TooManyElements { position, .. }
            | Self::TooManyAttributes { position, .. }
            | Self::TooManyTotalAttributes { position, .. }
            | Self::TooManyNamespaceDeclarations { position, .. }
            | Self::NameTooLong { position, .. }
            | Self::AttributeValueTooLong { position, .. }
            | Self::TextTooLong { position, .. }
            | Self::UnexpectedSoapElement { position, .. }
            | Self::UnexpectedSoapText { position, .. }
            | Self::NotAnEwsOperation { position, .. }
            | Self::NotAnAutodiscoverRequest { position, .. }
            | Self::TooManyEntries { position, .. }
            | Self::MissingElement { position, .. }
            | Self::MissingAttribute { position, .. }
            | Self::UnexpectedElement { position, .. }
            | Self::DuplicateElement { position, .. }
            | Self::InvalidValue { position, .. }
            | Self::InvalidDateTime { position, .. }
            | Self::InvalidBase64 { position, .. }
            | Self::UnknownDistinguishedFolderId { position, .. }
            | Self::EmptyId { position, .. }
            | Self::ReadOnlyProperty { position, .. }
            | Self::InvalidDelegateUserId { position, .. }
            | Self::Unsupported { position, .. } => Some(*position),
            Self::InputTooLarge { .. }
            | Self::UnsupportedByteOrderMark { .. }
            | Self::NoRootElement
            | Self::UnclosedElement { .. }
            | Self::NotSoapEnvelope { .. }
            | Self::MissingSoapBody
            | Self::SoapBodyChildCount { .. }
            | Self::DuplicateHeader { .. }
            | Self::MustUnderstandHeader { .. }
            | Self::UnsupportedServerVersion { .. }
            | Self::SoapFault { .. }
            | Self::AutodiscoverRefused { .. } => None,
        }
    }

    /// True for the errors that are answered with a SOAP fault whose
    /// `faultcode` is `soap:MustUnderstand` (SOAP 1.1 §4.4.1) instead of an
    /// EWS code.
    pub fn is_must_understand(&self) -> bool {
        matches!(self, Self::MustUnderstandHeader { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_truncates_long_values() {
        let long = "x".repeat(10_000);
        let e = echo(&long);
        assert_eq!(e.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(echo("short"), "short");
        // multi-byte characters are cut on a character boundary
        let wide = "é".repeat(200);
        assert_eq!(echo(&wide).chars().count(), MAX_ECHO_CHARS + 1);
    }

    #[test]
    fn display_names_use_conventional_prefixes() {
        assert_eq!(display_name(ns::TYPES, "ItemId"), "t:ItemId");
        assert_eq!(display_name(ns::MESSAGES, "GetItem"), "m:GetItem");
        assert_eq!(display_name("urn:evil", "ItemId"), "{urn:evil}ItemId");
        assert_eq!(display_name("", "x"), "x");
    }

    #[test]
    fn response_codes() {
        assert_eq!(
            EwsProtoError::UnsupportedServerVersion {
                version: "Exchange2099".into()
            }
            .response_code(),
            "ErrorInvalidServerVersion"
        );
        assert_eq!(
            EwsProtoError::EmptyId {
                element: "t:ItemId".into(),
                position: 3
            }
            .response_code(),
            "ErrorInvalidIdMalformed"
        );
        assert_eq!(
            EwsProtoError::ReadOnlyProperty {
                element: "t:CompleteName".into(),
                position: 9
            }
            .response_code(),
            "ErrorInvalidPropertySet"
        );
        assert_eq!(
            EwsProtoError::DtdNotAllowed { position: 0 }.response_code(),
            "ErrorSchemaValidation"
        );
        assert_eq!(
            EwsProtoError::Unsupported {
                found: "x".into(),
                position: 0
            }
            .response_code(),
            // not ErrorInvalidRequest, which exchangelib retries as a version mismatch
            "ErrorInvalidOperation"
        );
        assert_eq!(
            EwsProtoError::DtdNotAllowed { position: 7 }.position(),
            Some(7)
        );
        assert_eq!(EwsProtoError::NoRootElement.position(), None);
    }
}
