//! Item bodies in the form a request asks for (`t:ItemShape/t:BodyType`, `item:TextBody`): the
//! text of an HTML body, and an HTML document of a text one, as Exchange converts them.

/// The plain text of an HTML body: block elements on their own lines, entities decoded, tags,
/// scripts and styles dropped, nothing wrapped. Rendered by `html2text`. `None` for a body of
/// more than [`MAX_CONVERTED_TAGS`] tags (rendering deeply nested markup costs time that grows
/// with the square of its depth: 16,000 nested `div`s took 0.85 s) or one it cannot read; the
/// caller then gives the body as it is stored.
pub fn html_to_text(html: &str) -> Option<String> {
    if html.bytes().filter(|&b| b == b'<').count() > MAX_CONVERTED_TAGS {
        return None;
    }
    html2text::config::plain_no_decorate()
        .raw_mode(true)
        .no_link_wrapping()
        .string_from_read(html.as_bytes(), MAX_LINE)
        .ok()
        .map(|t| t.trim_end().to_owned())
}

/// Most tags of an HTML body converted to text (a chat transcript has tens to hundreds; at this
/// bound the worst nesting measured renders in about 50 ms).
pub const MAX_CONVERTED_TAGS: usize = 4_000;

/// Wider than any body line, so that nothing is wrapped.
const MAX_LINE: usize = 1 << 20;

/// `text` with the characters HTML gives meaning to (`<`, `>`, `&`, `"`) escaped.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// An HTML document of a text body, each line as it was, characters escaped.
pub fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str("<html><body><div>");
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        push_escaped(&mut out, line.trim_end_matches('\r'));
    }
    out.push_str("</div></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(html: &str) -> String {
        html_to_text(html).expect("converted")
    }

    #[test]
    fn html_becomes_text() {
        assert_eq!(text("<div>hi &amp; bye</div>"), "hi & bye");
        let t = text(
            "<html><head><style>p{color:red}</style></head><body><p>one</p><p>two <b>bold</b></p><script>x()</script></body></html>",
        );
        assert!(t.contains("one") && t.contains("two bold"), "{t:?}");
        assert!(
            !t.contains("color") && !t.contains("x()") && !t.contains('<'),
            "{t:?}"
        );
        let long = "word ".repeat(500);
        assert!(!text(&format!("<p>{long}</p>")).trim().contains('\n'));
    }

    #[test]
    fn text_becomes_html() {
        assert_eq!(
            text_to_html("a < b\r\n& \"c\""),
            "<html><body><div>a &lt; b<br>&amp; &quot;c&quot;</div></body></html>"
        );
        // and back
        assert_eq!(
            text(&text_to_html("line one\nline two")),
            "line one\nline two"
        );
    }

    /// A body is the sender's: deep nesting is not rendered past the bound (it would cost time
    /// growing with the square of its depth), and what is rendered does not exhaust the stack
    /// of the thread rendering it (2 MiB, as a Tokio worker's).
    #[test]
    fn deep_nesting_is_bounded() {
        for tag in ["div", "b", "table", "ul"] {
            let over = format!("<{tag}>").repeat(MAX_CONVERTED_TAGS + 1) + "x";
            assert_eq!(html_to_text(&over), None, "{tag}");
            let at = format!("<{tag}>").repeat(MAX_CONVERTED_TAGS) + "x";
            let t = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || html_to_text(&at))
                .unwrap()
                .join()
                .expect("rendered without overflowing the stack");
            assert!(t.is_some_and(|t| t.contains('x')), "{tag}");
        }
    }
}
