//! Hardened XML reader: bytes → a small, bounded element tree with
//! namespace URIs resolved.
//!
//! Built on quick-xml's pull tokenizer; namespace resolution, entity
//! handling and every limit are done here, while streaming, before the
//! corresponding memory is allocated:
//!
//! * no DTD (`<!DOCTYPE` is an error), hence no entity declarations, no
//!   external entities, no billion laughs, no quadratic blowup;
//! * only the five predefined entities and numeric character references;
//! * no processing instructions except a leading XML declaration, which
//!   must say version 1.0 and (if it names one) encoding UTF-8;
//! * input must be UTF-8 (a UTF-8 BOM is skipped; UTF-16/32 BOMs are errors);
//! * characters XML 1.0 forbids are rejected, literal or referenced;
//! * exactly one root element, nothing but whitespace, comments around it;
//! * undeclared prefixes and illegal namespace declarations are errors;
//! * depth, element count, attribute counts, name lengths, attribute value
//!   length, text length and namespace declarations are bounded by
//!   [`Limits`].
//!
//! Namespace URIs are shared (`Arc<str>`) between the elements that use
//! them, so a long namespace URI cannot be multiplied by many elements.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use quick_xml::errors::{Error as QxError, IllFormedError};
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::error::{EwsProtoError, echo};

/// The namespace bound to the `xml` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of `xmlns` attributes (may never be declared).
pub const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Depth above which [`Limits::max_depth`] is clamped: the tree is dropped
/// and walked recursively, so the depth must stay far from the stack size.
pub const HARD_MAX_DEPTH: usize = 1024;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Resource limits enforced while parsing. [`Limits::default`] is safe
/// for EWS requests; every limit is checked before the memory it protects
/// is allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes (default 16 MiB).
    pub max_input_bytes: usize,
    /// Deepest element nesting (default 64, clamped to [`HARD_MAX_DEPTH`]).
    pub max_depth: usize,
    /// Most elements per document (default 200 000).
    pub max_elements: usize,
    /// Most attributes per element, namespace declarations not counted (default 64).
    pub max_attributes: usize,
    /// Most attributes per document, namespace declarations not counted (default 200 000).
    pub max_total_attributes: usize,
    /// Longest element or attribute name, prefix included (default 256 bytes).
    pub max_name_len: usize,
    /// Longest raw attribute value, namespace URIs included (default 1 MiB).
    pub max_attribute_value_len: usize,
    /// Longest decoded text of one element (default 16 MiB, for base64 payloads).
    pub max_text_len: usize,
    /// Most namespace declarations on one element (default 32).
    pub max_namespace_declarations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 16 * 1024 * 1024,
            max_depth: 64,
            max_elements: 200_000,
            max_attributes: 64,
            max_total_attributes: 200_000,
            max_name_len: 256,
            max_attribute_value_len: 1024 * 1024,
            max_text_len: 16 * 1024 * 1024,
            max_namespace_declarations: 32,
        }
    }
}

/// An attribute with its namespace resolved (`None` for unprefixed
/// attributes, which are in no namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub ns: Option<Arc<str>>,
    pub local: String,
    /// Decoded and normalized value (entities resolved, whitespace
    /// characters normalized to spaces as XML 1.0 §3.3.3 requires).
    pub value: String,
}

/// An element with its namespace resolved. Namespace declarations are not
/// kept as attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI (empty for elements in no namespace).
    pub ns: Arc<str>,
    pub local: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
    /// Concatenated text and CDATA directly inside this element.
    /// Whitespace-only text of an element that has child elements is dropped.
    pub text: String,
    /// Byte range of the whole element (start tag to end tag) in the input.
    pub span: Range<usize>,
    /// Byte range between the start tag and the end tag (empty for `<x/>`).
    pub content: Range<usize>,
}

impl Element {
    /// True if this element has the given namespace URI and local name.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        &*self.ns == ns && self.local == local
    }

    /// The first child with the given namespace URI and local name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// All children with the given namespace URI and local name.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// The value of the unprefixed attribute `local` (attributes in a
    /// namespace never match).
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The value of the attribute `local` in namespace `ns`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The text with leading and trailing XML whitespace removed.
    pub fn text_trimmed(&self) -> &str {
        self.text.trim_matches(is_xml_whitespace)
    }

    /// Byte offset of the start tag in the input.
    pub fn position(&self) -> usize {
        self.span.start
    }

    /// The raw markup between the start and end tag, exactly as it appears
    /// in `input` (the bytes this element was parsed from).
    pub fn raw_content<'a>(&self, input: &'a [u8]) -> Option<&'a str> {
        input
            .get(self.content.clone())
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// Converts a byte offset into a 1-based (line, column) pair; the column
/// counts characters. Offsets past the end are clamped.
pub fn line_col(input: &[u8], position: usize) -> (usize, usize) {
    let upto = &input[..position.min(input.len())];
    let line = 1 + upto.iter().filter(|&&b| b == b'\n').count();
    let line_start = upto.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let col = 1 + String::from_utf8_lossy(&upto[line_start..]).chars().count();
    (line, col)
}

pub(crate) fn is_xml_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_all_whitespace(s: &str) -> bool {
    s.chars().all(is_xml_whitespace)
}

/// Characters allowed by XML 1.0 production [2] `Char`.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn is_name_start_char(c: char) -> bool {
    c.is_ascii_alphabetic()
        || c == '_'
        || (c as u32 >= 0xC0 && c != '\u{D7}' && c != '\u{F7}' && !is_non_name_range(c))
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c) || c.is_ascii_digit() || c == '-' || c == '.' || c == '\u{B7}'
}

/// Non-ASCII ranges excluded from XML 1.0 (5th ed.) NameStartChar.
fn is_non_name_range(c: char) -> bool {
    matches!(c, '\u{37E}' | '\u{2000}'..='\u{200B}' | '\u{200E}'..='\u{206F}' | '\u{2190}'..='\u{2BFF}' | '\u{2FF0}'..='\u{3000}' | '\u{E000}'..='\u{F8FF}' | '\u{FDD0}'..='\u{FDEF}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Is `s` a valid NCName (a name without colon)?
pub(crate) fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if is_name_start_char(c) => chars.all(is_name_char),
        _ => false,
    }
}

/// Splits a qualified name into (prefix, local), validating both parts.
fn split_qname(qname: &str, position: usize) -> Result<(Option<&str>, &str), EwsProtoError> {
    let invalid = || EwsProtoError::InvalidName {
        name: echo(qname),
        position,
    };
    match qname.split_once(':') {
        None if is_ncname(qname) => Ok((None, qname)),
        Some((p, l)) if is_ncname(p) && is_ncname(l) => Ok((Some(p), l)),
        _ => Err(invalid()),
    }
}

/// In-scope namespace bindings: prefix → stack of URIs ("" = default namespace).
struct NsScopes {
    map: HashMap<String, Vec<Arc<str>>>,
    declared: Vec<String>,
    xml: Arc<str>,
    empty: Arc<str>,
}

impl NsScopes {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            declared: Vec::new(),
            xml: Arc::from(XML_NS),
            empty: Arc::from(""),
        }
    }

    fn mark(&self) -> usize {
        self.declared.len()
    }

    fn pop_to(&mut self, mark: usize) {
        while self.declared.len() > mark {
            if let Some(prefix) = self.declared.pop()
                && let Some(stack) = self.map.get_mut(&prefix)
            {
                stack.pop();
            }
        }
    }

    fn declare(
        &mut self,
        attribute: &str,
        prefix: &str,
        uri: &str,
        position: usize,
    ) -> Result<(), EwsProtoError> {
        let bad = |reason: &'static str| EwsProtoError::InvalidNamespaceDeclaration {
            attribute: echo(attribute),
            reason,
            position,
        };
        if prefix == "xmlns" {
            return Err(bad("the prefix xmlns cannot be declared"));
        }
        if prefix == "xml" {
            return if uri == XML_NS {
                Ok(())
            } else {
                Err(bad("the prefix xml can only be bound to its own namespace"))
            };
        }
        if uri == XML_NS || uri == XMLNS_NS {
            return Err(bad(
                "the xml and xmlns namespaces cannot be bound to another prefix",
            ));
        }
        if uri.is_empty() && !prefix.is_empty() {
            return Err(bad("a prefix cannot be bound to the empty namespace name"));
        }
        let value: Arc<str> = if uri.is_empty() {
            Arc::clone(&self.empty)
        } else {
            Arc::from(uri)
        };
        self.map.entry(prefix.to_owned()).or_default().push(value);
        self.declared.push(prefix.to_owned());
        Ok(())
    }

    fn lookup(&self, prefix: &str) -> Option<Arc<str>> {
        if prefix == "xml" {
            return Some(Arc::clone(&self.xml));
        }
        self.map.get(prefix).and_then(|s| s.last()).cloned()
    }

    fn element_ns(&self, prefix: Option<&str>, position: usize) -> Result<Arc<str>, EwsProtoError> {
        match prefix {
            None => Ok(self.lookup("").unwrap_or_else(|| Arc::clone(&self.empty))),
            Some("xmlns") => Err(EwsProtoError::InvalidName {
                name: "xmlns:…".to_owned(),
                position,
            }),
            Some(p) => self
                .lookup(p)
                .ok_or_else(|| EwsProtoError::UndeclaredPrefix {
                    prefix: echo(p),
                    position,
                }),
        }
    }
}

struct Frame {
    element: Element,
    ns_mark: usize,
}

struct Parser<'l> {
    limits: &'l Limits,
    max_depth: usize,
    /// Byte offset of the parsed text within the caller's input (BOM length).
    offset: usize,
    ns: NsScopes,
    stack: Vec<Frame>,
    root: Option<Element>,
    elements: usize,
    total_attrs: usize,
}

/// Parses `input` into an element tree, enforcing `limits`.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Element, EwsProtoError> {
    if input.len() > limits.max_input_bytes {
        return Err(EwsProtoError::InputTooLarge {
            size: input.len(),
            limit: limits.max_input_bytes,
        });
    }
    for (bom, encoding) in [
        (&[0x00, 0x00, 0xFE, 0xFF][..], "UTF-32BE"),
        (&[0xFF, 0xFE, 0x00, 0x00][..], "UTF-32LE"),
        (&[0xFE, 0xFF][..], "UTF-16BE"),
        (&[0xFF, 0xFE][..], "UTF-16LE"),
    ] {
        if input.starts_with(bom) {
            return Err(EwsProtoError::UnsupportedByteOrderMark { encoding });
        }
    }
    let offset = if input.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let body = &input[offset..];
    let text = std::str::from_utf8(body).map_err(|e| EwsProtoError::NotUtf8 {
        position: offset + e.valid_up_to(),
    })?;
    check_characters(text, offset)?;
    if text.starts_with('\u{FEFF}') {
        // A second BOM: quick-xml would silently skip it.
        return Err(EwsProtoError::TextBeforeRoot { position: offset });
    }

    let mut reader = Reader::from_str(text);
    {
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        config.allow_dangling_amp = false;
        config.allow_unmatched_ends = false;
        config.trim_text(false);
    }
    let mut parser = Parser {
        limits,
        max_depth: limits.max_depth.min(HARD_MAX_DEPTH),
        offset,
        ns: NsScopes::new(),
        stack: Vec::new(),
        root: None,
        elements: 0,
        total_attrs: 0,
    };
    parser.run(&mut reader)?;
    parser.root.ok_or(EwsProtoError::NoRootElement)
}

/// Rejects characters XML 1.0 forbids anywhere in a document.
fn check_characters(text: &str, offset: usize) -> Result<(), EwsProtoError> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let bad = match b {
            b'\t' | b'\n' | b'\r' => None,
            0x00..=0x1F => Some(u32::from(b)),
            // U+FFFE / U+FFFF are EF BF BE / EF BF BF in UTF-8.
            0xEF if bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) =>
            {
                Some(if bytes.get(i + 2) == Some(&0xBE) {
                    0xFFFE
                } else {
                    0xFFFF
                })
            }
            _ => None,
        };
        if let Some(codepoint) = bad {
            return Err(EwsProtoError::InvalidCharacter {
                codepoint,
                position: offset + i,
            });
        }
    }
    Ok(())
}

/// Resolves `&name;` (without `&` and `;`) to its replacement text.
fn resolve_reference(name: &str, position: usize) -> Result<char, EwsProtoError> {
    match name {
        "lt" => return Ok('<'),
        "gt" => return Ok('>'),
        "amp" => return Ok('&'),
        "apos" => return Ok('\''),
        "quot" => return Ok('"'),
        _ => {}
    }
    let Some(num) = name.strip_prefix('#') else {
        return Err(EwsProtoError::UnknownEntity {
            name: echo(name),
            position,
        });
    };
    let bad = || EwsProtoError::InvalidCharacterReference {
        reference: echo(name),
        position,
    };
    let (digits, radix) = match num.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (num, 10),
    };
    if digits.is_empty() || digits.len() > 8 || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(bad());
    }
    let code = u32::from_str_radix(digits, radix).map_err(|_| bad())?;
    let c = char::from_u32(code).ok_or_else(bad)?;
    if !is_xml_char(c) {
        return Err(EwsProtoError::InvalidCharacter {
            codepoint: code,
            position,
        });
    }
    Ok(c)
}

/// Decodes a raw attribute value: resolves references and applies XML 1.0
/// attribute-value normalization (literal TAB/CR/LF become spaces; CRLF
/// has already become LF through end-of-line handling, so it becomes one
/// space).
fn decode_attribute_value(raw: &str, position: usize) -> Result<String, EwsProtoError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<', '\t', '\r', '\n']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match tail.as_bytes().first() {
            Some(b'&') => {
                let end = tail
                    .find(';')
                    .ok_or_else(|| EwsProtoError::MalformedAttribute {
                        reason: "'&' without a terminating ';' in an attribute value".to_owned(),
                        position,
                    })?;
                out.push(resolve_reference(&tail[1..end], position)?);
                rest = &tail[end + 1..];
            }
            Some(b'<') => {
                return Err(EwsProtoError::MalformedAttribute {
                    reason: "'<' is not allowed in an attribute value".to_owned(),
                    position,
                });
            }
            Some(b'\r') => {
                out.push(' ');
                rest = tail.strip_prefix("\r\n").unwrap_or(&tail[1..]);
            }
            _ => {
                // TAB or LF (one byte each).
                out.push(' ');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn map_qx_error(err: QxError, position: usize) -> EwsProtoError {
    match err {
        QxError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
            EwsProtoError::MismatchedEndTag {
                expected: echo(&expected),
                found: echo(&found),
                position,
            }
        }
        QxError::IllFormed(
            IllFormedError::MissingDeclVersion(_) | IllFormedError::UnknownVersion,
        ) => EwsProtoError::UnsupportedXmlVersion {
            version: String::new(),
            position,
        },
        QxError::InvalidAttr(AttrError::Duplicated(..)) => EwsProtoError::DuplicateAttribute {
            name: "(same qualified name)".to_owned(),
            position,
        },
        QxError::InvalidAttr(e) => EwsProtoError::MalformedAttribute {
            reason: e.to_string(),
            position,
        },
        QxError::Encoding(_) => EwsProtoError::NotUtf8 { position },
        other => EwsProtoError::MalformedXml {
            reason: other.to_string(),
            position,
        },
    }
}

impl Parser<'_> {
    fn run(&mut self, reader: &mut Reader<&[u8]>) -> Result<(), EwsProtoError> {
        loop {
            let pos = self.offset + reader.buffer_position() as usize;
            let event = reader
                .read_event()
                .map_err(|e| map_qx_error(e, self.offset + reader.error_position() as usize))?;
            match event {
                Event::Decl(decl) => {
                    if pos != self.offset {
                        return Err(EwsProtoError::MisplacedXmlDeclaration { position: pos });
                    }
                    let version = decl
                        .version()
                        .map_err(|e| map_qx_error(e, pos))?
                        .into_owned();
                    if version != "1.0" {
                        return Err(EwsProtoError::UnsupportedXmlVersion {
                            version: echo(&version),
                            position: pos,
                        });
                    }
                    if let Some(enc) = decl.encoding() {
                        let enc = enc.map_err(|e| map_qx_error(QxError::InvalidAttr(e), pos))?;
                        if !enc.eq_ignore_ascii_case("utf-8") {
                            return Err(EwsProtoError::UnsupportedEncoding {
                                encoding: echo(&enc),
                                position: pos,
                            });
                        }
                    }
                }
                Event::DocType(_) => return Err(EwsProtoError::DtdNotAllowed { position: pos }),
                Event::PI(pi) => {
                    return Err(EwsProtoError::ProcessingInstructionNotAllowed {
                        target: echo(pi.target()),
                        position: pos,
                    });
                }
                Event::Comment(_) => {}
                Event::Start(start) => {
                    let after = self.offset + reader.buffer_position() as usize;
                    let element = self.open(&start, pos, after)?;
                    let ns_mark = element.1;
                    self.stack.push(Frame {
                        element: element.0,
                        ns_mark,
                    });
                }
                Event::Empty(start) => {
                    let after = self.offset + reader.buffer_position() as usize;
                    let (mut element, ns_mark) = self.open(&start, pos, after)?;
                    element.span = pos..after;
                    element.content = after..after;
                    self.ns.pop_to(ns_mark);
                    self.attach(element);
                }
                Event::End(_) => {
                    let after = self.offset + reader.buffer_position() as usize;
                    let Some(Frame {
                        mut element,
                        ns_mark,
                    }) = self.stack.pop()
                    else {
                        return Err(EwsProtoError::MalformedXml {
                            reason: "end tag without a start tag".to_owned(),
                            position: pos,
                        });
                    };
                    element.content.end = pos;
                    element.span.end = after;
                    if !element.children.is_empty() && is_all_whitespace(&element.text) {
                        element.text = String::new();
                    }
                    self.ns.pop_to(ns_mark);
                    self.attach(element);
                }
                Event::Text(text) => {
                    let raw: &str = &text;
                    if let Some(i) = raw.find("]]>") {
                        return Err(EwsProtoError::CdataEndInText { position: pos + i });
                    }
                    let content = text.xml10_content();
                    self.push_text(&content, pos, !is_all_whitespace(&content))?;
                }
                Event::CData(cdata) => {
                    let content = cdata.xml10_content();
                    self.push_text(&content, pos, true)?;
                }
                Event::GeneralRef(reference) => {
                    let c = resolve_reference(&reference, pos)?;
                    let mut buf = [0u8; 4];
                    self.push_text(c.encode_utf8(&mut buf), pos, true)?;
                }
                Event::Eof => break,
            }
        }
        if let Some(frame) = self.stack.last() {
            return Err(EwsProtoError::UnclosedElement {
                name: echo(&frame.element.local),
            });
        }
        Ok(())
    }

    /// Appends text to the open element, or checks that text outside the
    /// root is only whitespace.
    fn push_text(
        &mut self,
        text: &str,
        pos: usize,
        significant: bool,
    ) -> Result<(), EwsProtoError> {
        let Some(frame) = self.stack.last_mut() else {
            if !significant {
                return Ok(());
            }
            return Err(if self.root.is_some() {
                EwsProtoError::TrailingContent { position: pos }
            } else {
                EwsProtoError::TextBeforeRoot { position: pos }
            });
        };
        let limit = self.limits.max_text_len;
        if frame.element.text.len().saturating_add(text.len()) > limit {
            return Err(EwsProtoError::TextTooLong {
                limit,
                position: pos,
            });
        }
        frame.element.text.push_str(text);
        Ok(())
    }

    fn attach(&mut self, element: Element) {
        match self.stack.last_mut() {
            Some(parent) => parent.element.children.push(element),
            None => self.root = Some(element),
        }
    }

    /// Builds the element for a start tag: checks limits, processes
    /// namespace declarations (pushing them in scope) and resolves names.
    /// Returns the element and the namespace mark to pop to when it closes.
    fn open(
        &mut self,
        start: &BytesStart<'_>,
        pos: usize,
        after: usize,
    ) -> Result<(Element, usize), EwsProtoError> {
        let limits = self.limits;
        let qname = start.name().into_inner();
        if self.stack.is_empty() && self.root.is_some() {
            return Err(EwsProtoError::MultipleRoots {
                name: echo(qname),
                position: pos,
            });
        }
        if self.stack.len() >= self.max_depth {
            return Err(EwsProtoError::TooDeep {
                limit: self.max_depth,
                position: pos,
            });
        }
        self.elements += 1;
        if self.elements > limits.max_elements {
            return Err(EwsProtoError::TooManyElements {
                limit: limits.max_elements,
                position: pos,
            });
        }
        self.check_name_len(qname, pos)?;
        let (prefix, local) = split_qname(qname, pos)?;

        // Collect attributes, enforcing counts and lengths before decoding.
        let mut decls: Vec<(&str, &str, String)> = Vec::new();
        let mut plain: Vec<(&str, String)> = Vec::new();
        let mut attributes = start.attributes();
        attributes.with_checks(true);
        for attribute in attributes {
            let attribute = attribute.map_err(|e| map_qx_error(QxError::InvalidAttr(e), pos))?;
            let key = attribute.key.into_inner();
            self.check_name_len(key, pos)?;
            let raw_len = attribute.value.len();
            if raw_len > limits.max_attribute_value_len {
                return Err(EwsProtoError::AttributeValueTooLong {
                    length: raw_len,
                    limit: limits.max_attribute_value_len,
                    position: pos,
                });
            }
            let declared_prefix = if key == "xmlns" {
                Some("")
            } else {
                key.strip_prefix("xmlns:")
            };
            if let Some(declared_prefix) = declared_prefix {
                if decls.len() >= limits.max_namespace_declarations {
                    return Err(EwsProtoError::TooManyNamespaceDeclarations {
                        limit: limits.max_namespace_declarations,
                        position: pos,
                    });
                }
                if !declared_prefix.is_empty() && !is_ncname(declared_prefix) {
                    return Err(EwsProtoError::InvalidName {
                        name: echo(key),
                        position: pos,
                    });
                }
                let value = decode_attribute_value(&attribute.value, pos)?;
                decls.push((key, declared_prefix, value));
            } else {
                if plain.len() >= limits.max_attributes {
                    return Err(EwsProtoError::TooManyAttributes {
                        limit: limits.max_attributes,
                        position: pos,
                    });
                }
                self.total_attrs += 1;
                if self.total_attrs > limits.max_total_attributes {
                    return Err(EwsProtoError::TooManyTotalAttributes {
                        limit: limits.max_total_attributes,
                        position: pos,
                    });
                }
                split_qname(key, pos)?;
                let value = decode_attribute_value(&attribute.value, pos)?;
                plain.push((key, value));
            }
        }

        let ns_mark = self.ns.mark();
        for (key, declared_prefix, uri) in &decls {
            if let Err(e) = self.ns.declare(key, declared_prefix, uri, pos) {
                self.ns.pop_to(ns_mark);
                return Err(e);
            }
        }
        let resolved = self.resolve(prefix, plain, pos);
        match resolved {
            Ok((ns, attrs)) => Ok((
                Element {
                    ns,
                    local: local.to_owned(),
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                    span: pos..after,
                    content: after..after,
                },
                ns_mark,
            )),
            Err(e) => {
                self.ns.pop_to(ns_mark);
                Err(e)
            }
        }
    }

    fn resolve(
        &self,
        prefix: Option<&str>,
        plain: Vec<(&str, String)>,
        pos: usize,
    ) -> Result<(Arc<str>, Vec<Attr>), EwsProtoError> {
        let ns = self.ns.element_ns(prefix, pos)?;
        let mut attrs: Vec<Attr> = Vec::with_capacity(plain.len());
        for (key, value) in plain {
            let (attr_prefix, attr_local) = split_qname(key, pos)?;
            let attr_ns = match attr_prefix {
                None => None,
                Some(p) => {
                    Some(
                        self.ns
                            .lookup(p)
                            .ok_or_else(|| EwsProtoError::UndeclaredPrefix {
                                prefix: echo(p),
                                position: pos,
                            })?,
                    )
                }
            };
            if attrs
                .iter()
                .any(|a| a.local == attr_local && a.ns == attr_ns)
            {
                return Err(EwsProtoError::DuplicateAttribute {
                    name: echo(key),
                    position: pos,
                });
            }
            attrs.push(Attr {
                ns: attr_ns,
                local: attr_local.to_owned(),
                value,
            });
        }
        Ok((ns, attrs))
    }

    fn check_name_len(&self, name: &str, pos: usize) -> Result<(), EwsProtoError> {
        if name.len() > self.limits.max_name_len {
            return Err(EwsProtoError::NameTooLong {
                length: name.len(),
                limit: self.limits.max_name_len,
                position: pos,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Element, EwsProtoError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn resolves_namespaces_not_prefixes() {
        let a = p(r#"<a:x xmlns:a="urn:one"><b:y xmlns:b="urn:one" b:k="v" k="w"/></a:x>"#)
            .expect("parses");
        assert!(a.is("urn:one", "x"));
        let y = a.child("urn:one", "y").expect("child");
        assert_eq!(y.attr("k"), Some("w"));
        assert_eq!(y.attr_ns("urn:one", "k"), Some("v"));
        assert_eq!(y.attrs.len(), 2);
    }

    #[test]
    fn default_namespace_and_undeclaring() {
        let a = p(r#"<x xmlns="urn:d"><y/><z xmlns=""/></x>"#).expect("parses");
        assert!(a.is("urn:d", "x"));
        assert!(a.children[0].is("urn:d", "y"));
        assert!(a.children[1].is("", "z"));
    }

    #[test]
    fn text_cdata_and_references() {
        let a = p("<a>x &lt;&#65;&#x42;<![CDATA[<c>]]>\r\ny</a>").expect("parses");
        assert_eq!(a.text, "x <AB<c>\ny");
    }

    #[test]
    fn whitespace_between_children_is_dropped_but_leaf_whitespace_kept() {
        let a = p("<a>\n  <b> </b>\n</a>").expect("parses");
        assert_eq!(a.text, "");
        assert_eq!(a.children[0].text, " ");
        assert_eq!(a.children[0].text_trimmed(), "");
    }

    #[test]
    fn attribute_normalization() {
        let a = p("<a v=\"x\ty\r\nz&#10;&amp;\"/>").expect("parses");
        assert_eq!(a.attr("v"), Some("x y z\n&"));
    }

    #[test]
    fn spans_and_raw_content() {
        let input = "<a><b>t<i>x</i></b><c/></a>";
        let a = p(input).expect("parses");
        let b = &a.children[0];
        assert_eq!(&input[b.span.clone()], "<b>t<i>x</i></b>");
        assert_eq!(b.raw_content(input.as_bytes()), Some("t<i>x</i>"));
        let c = &a.children[1];
        assert_eq!(&input[c.span.clone()], "<c/>");
        assert_eq!(c.raw_content(input.as_bytes()), Some(""));
    }

    #[test]
    fn bom_and_declaration() {
        let mut input = UTF8_BOM.to_vec();
        input.extend_from_slice(b"<?xml version='1.0' encoding='utf-8'?><a/>");
        let a = parse(&input, &Limits::default()).expect("parses");
        assert_eq!(a.span.start, 41);
    }

    #[test]
    fn line_col_counts_lines_and_chars() {
        let input = "ab\ncdé\nf".as_bytes();
        assert_eq!(line_col(input, 0), (1, 1));
        assert_eq!(line_col(input, 3), (2, 1));
        assert_eq!(line_col(input, 7), (2, 4));
        assert_eq!(line_col(input, 999), (3, 2));
    }

    #[test]
    fn rejects_basic_errors() {
        assert!(matches!(
            p("<!DOCTYPE a><a/>"),
            Err(EwsProtoError::DtdNotAllowed { position: 0 })
        ));
        assert!(matches!(
            p("<a>&foo;</a>"),
            Err(EwsProtoError::UnknownEntity { .. })
        ));
        assert!(matches!(
            p("<a x='&foo;'/>"),
            Err(EwsProtoError::UnknownEntity { .. })
        ));
        assert!(matches!(
            p("<a>&#0;</a>"),
            Err(EwsProtoError::InvalidCharacter { codepoint: 0, .. })
        ));
        assert!(matches!(
            p("<a>&#xD800;</a>"),
            Err(EwsProtoError::InvalidCharacterReference { .. })
        ));
        assert!(matches!(
            p("<a>&#xZZ;</a>"),
            Err(EwsProtoError::InvalidCharacterReference { .. })
        ));
        assert!(matches!(
            p("<a/><b/>"),
            Err(EwsProtoError::MultipleRoots { .. })
        ));
        assert!(matches!(
            p("<a/>x"),
            Err(EwsProtoError::TrailingContent { .. })
        ));
        assert!(matches!(
            p("x<a/>"),
            Err(EwsProtoError::TextBeforeRoot { .. })
        ));
        assert!(p("<a/> <!-- c --> \n").is_ok());
        assert!(matches!(p(""), Err(EwsProtoError::NoRootElement)));
        assert!(matches!(
            p("<a><b></a>"),
            Err(EwsProtoError::MismatchedEndTag { .. })
        ));
        assert!(matches!(
            p("<a><b>"),
            Err(EwsProtoError::UnclosedElement { .. })
        ));
        assert!(matches!(
            p("<p:a/>"),
            Err(EwsProtoError::UndeclaredPrefix { .. })
        ));
        assert!(matches!(
            p("<a p:x='1'/>"),
            Err(EwsProtoError::UndeclaredPrefix { .. })
        ));
        assert!(matches!(
            p("<a x='1' x='2'/>"),
            Err(EwsProtoError::DuplicateAttribute { .. })
        ));
        assert!(matches!(
            p("<a xmlns:p='urn:x' xmlns:q='urn:x' p:x='1' q:x='2'/>"),
            Err(EwsProtoError::DuplicateAttribute { .. })
        ));
        assert!(matches!(
            p("<a xmlns:p=''/>"),
            Err(EwsProtoError::InvalidNamespaceDeclaration { .. })
        ));
        assert!(matches!(
            p("<a xmlns:xmlns='urn:x'/>"),
            Err(EwsProtoError::InvalidNamespaceDeclaration { .. })
        ));
        assert!(matches!(
            p("<a xmlns:xml='urn:x'/>"),
            Err(EwsProtoError::InvalidNamespaceDeclaration { .. })
        ));
        assert!(p("<a xmlns:xml='http://www.w3.org/XML/1998/namespace'/>").is_ok());
        assert!(p("<1a/>").is_err());
        assert!(matches!(
            p("<a:b:c xmlns:a='urn:x'/>"),
            Err(EwsProtoError::InvalidName { .. })
        ));
        assert!(matches!(
            p("<a>]]></a>"),
            Err(EwsProtoError::CdataEndInText { .. })
        ));
        assert!(p("<a x='<'/>").is_err());
        assert!(matches!(
            p("<a>\u{1}</a>"),
            Err(EwsProtoError::InvalidCharacter { codepoint: 1, .. })
        ));
        assert!(matches!(
            p("<a>\u{FFFE}</a>"),
            Err(EwsProtoError::InvalidCharacter {
                codepoint: 0xFFFE,
                ..
            })
        ));
        assert!(p("<a>&amp</a>").is_err());
        assert!(matches!(
            p(" <?xml version='1.0'?><a/>"),
            Err(EwsProtoError::MisplacedXmlDeclaration { .. })
        ));
        assert!(matches!(
            p("<?xml version='1.1'?><a/>"),
            Err(EwsProtoError::UnsupportedXmlVersion { .. })
        ));
        assert!(matches!(
            p("<a><?pi x?></a>"),
            Err(EwsProtoError::ProcessingInstructionNotAllowed { .. })
        ));
        assert!(matches!(
            parse(b"<a>\xff</a>", &Limits::default()),
            Err(EwsProtoError::NotUtf8 { position: 3 })
        ));
    }

    #[test]
    fn namespace_scopes_are_popped() {
        // p is declared on the first child only; using it in the sibling fails.
        assert!(matches!(
            p("<a><b xmlns:p='urn:x'><p:c/></b><p:d/></a>"),
            Err(EwsProtoError::UndeclaredPrefix { .. })
        ));
        // rebinding in a child scope, then back
        let a = p("<p:a xmlns:p='urn:1'><p:b xmlns:p='urn:2'/><p:c/></p:a>").expect("parses");
        assert!(a.children[0].is("urn:2", "b"));
        assert!(a.children[1].is("urn:1", "c"));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_depth: 3,
            max_elements: 5,
            max_attributes: 2,
            max_total_attributes: 3,
            max_name_len: 8,
            max_attribute_value_len: 4,
            max_text_len: 4,
            max_namespace_declarations: 1,
            max_input_bytes: 200,
        };
        let l = |s: &str| parse(s.as_bytes(), &limits);
        assert!(l("<a><b><c/></b></a>").is_ok());
        assert!(matches!(
            l("<a><b><c><d/></c></b></a>"),
            Err(EwsProtoError::TooDeep { limit: 3, .. })
        ));
        assert!(matches!(
            l("<a><b/><b/><b/><b/><b/></a>"),
            Err(EwsProtoError::TooManyElements { limit: 5, .. })
        ));
        assert!(matches!(
            l("<a x='1' y='2' z='3'/>"),
            Err(EwsProtoError::TooManyAttributes { limit: 2, .. })
        ));
        assert!(matches!(
            l("<a x='1' y='2'><b x='1' y='2'/></a>"),
            Err(EwsProtoError::TooManyTotalAttributes { limit: 3, .. })
        ));
        assert!(matches!(
            l("<abcdefghi/>"),
            Err(EwsProtoError::NameTooLong { length: 9, .. })
        ));
        assert!(matches!(
            l("<a x='12345'/>"),
            Err(EwsProtoError::AttributeValueTooLong { length: 5, .. })
        ));
        assert!(matches!(
            l("<a>12345</a>"),
            Err(EwsProtoError::TextTooLong { limit: 4, .. })
        ));
        assert!(matches!(
            l("<a>12<b/>345</a>"),
            Err(EwsProtoError::TextTooLong { .. })
        ));
        assert!(matches!(
            l("<a xmlns:p='u' xmlns:q='u'/>"),
            Err(EwsProtoError::TooManyNamespaceDeclarations { limit: 1, .. })
        ));
        let big = format!("<a>{}</a>", " ".repeat(300));
        assert!(matches!(
            l(&big),
            Err(EwsProtoError::InputTooLarge {
                size: 307,
                limit: 200
            })
        ));
    }
}
