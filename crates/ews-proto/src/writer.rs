//! Thin wrapper over quick-xml's `Writer<Vec<u8>>`.
//!
//! All text and attribute values go through quick-xml's escaping; before
//! that, characters that XML 1.0 cannot represent at all (C0 controls
//! other than TAB/LF/CR, U+FFFE, U+FFFF) are replaced by U+FFFD so that the
//! output is always well-formed, whatever the stored data contains.
//! Element and attribute *names* are always crate constants or names that
//! were validated as XML names.

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::ns;

/// Replaces characters XML 1.0 cannot carry with U+FFFD.
pub(crate) fn sanitize(s: &str) -> Cow<'_, str> {
    if s.chars().all(crate::xml::is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.chars()
                .map(|c| {
                    if crate::xml::is_xml_char(c) {
                        c
                    } else {
                        '\u{FFFD}'
                    }
                })
                .collect(),
        )
    }
}

pub(crate) struct XmlOut {
    w: Writer<Vec<u8>>,
}

impl XmlOut {
    pub(crate) fn new() -> Self {
        Self {
            w: Writer::new(Vec::with_capacity(1024)),
        }
    }

    fn emit(&mut self, event: Event<'_>) {
        // `impl io::Write for Vec<u8>` never fails, and quick-xml's writer
        // performs no other fallible work, so this cannot error.
        self.w
            .write_event(event)
            .expect("writing XML into a Vec<u8> cannot fail");
    }

    /// `<?xml version="1.0" encoding="utf-8"?>`
    pub(crate) fn declaration(&mut self) {
        self.emit(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
    }

    fn tag<'a>(name: &'a str, attrs: &[(&'a str, &'a str)]) -> BytesStart<'a> {
        let mut start = BytesStart::new(name);
        for (key, value) in attrs {
            let value = sanitize(value);
            start.push_attribute((*key, value.as_ref()));
        }
        start
    }

    pub(crate) fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let tag = Self::tag(name, attrs);
        self.emit(Event::Start(tag));
    }

    pub(crate) fn end(&mut self, name: &str) {
        self.emit(Event::End(BytesEnd::new(name)));
    }

    pub(crate) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let tag = Self::tag(name, attrs);
        self.emit(Event::Empty(tag));
    }

    pub(crate) fn text(&mut self, text: &str) {
        let clean = sanitize(text);
        self.emit(Event::Text(BytesText::new(&clean)));
    }

    /// `<name attrs>text</name>`
    pub(crate) fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.text(text);
        self.end(name);
    }

    /// `<name>text</name>` with no attributes.
    pub(crate) fn leaf(&mut self, name: &str, text: &str) {
        self.text_element(name, &[], text);
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.w.into_inner()
    }
}

/// Writes a full SOAP envelope with the given header content and body content.
pub(crate) fn envelope(
    header: impl FnOnce(&mut XmlOut),
    body: impl FnOnce(&mut XmlOut),
) -> Vec<u8> {
    envelope_with(true, header, body)
}

/// [`envelope`] without the XML declaration: one of several envelopes sent one after another
/// in one HTTP response (GetStreamingEvents), where a declaration after the first document is
/// not well-formed for a reader of the whole stream.
pub(crate) fn envelope_without_declaration(
    header: impl FnOnce(&mut XmlOut),
    body: impl FnOnce(&mut XmlOut),
) -> Vec<u8> {
    envelope_with(false, header, body)
}

fn envelope_with(
    declaration: bool,
    header: impl FnOnce(&mut XmlOut),
    body: impl FnOnce(&mut XmlOut),
) -> Vec<u8> {
    let mut w = XmlOut::new();
    if declaration {
        w.declaration();
    }
    w.start("s:Envelope", &[("xmlns:s", ns::SOAP)]);
    w.start("s:Header", &[]);
    header(&mut w);
    w.end("s:Header");
    w.start("s:Body", &[]);
    body(&mut w);
    w.end("s:Body");
    w.end("s:Envelope");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_sanitizes() {
        let mut w = XmlOut::new();
        w.text_element("a", &[("v", "x\"<&>\n\u{1}")], "<b>&amp;\u{0}\u{FFFF}");
        let out = String::from_utf8(w.finish()).expect("utf8");
        assert_eq!(
            out,
            "<a v=\"x&quot;&lt;&amp;&gt;&#10;\u{FFFD}\">&lt;b&gt;&amp;amp;\u{FFFD}\u{FFFD}</a>"
        );
    }
}
