//! Tokens of the subset. One lexing mode: ambiguous words (numbers, operators, cmdlet names,
//! bare-word arguments) are left to the parser, which knows the position they stand in.
//! Every token records whether whitespace preceded it, so the parser can tell `$a.B` from
//! `$a .B` and `-P:$false` from `-P: $false`, and reject values joined without a space.

use crate::ast::Pos;
use crate::error::ParseError;

/// How deeply `( … )` and `"$( … )"` may nest.
pub(crate) const MAX_DEPTH: usize = 32;

pub(crate) const DOUBLE_QUOTES: [char; 4] = ['"', '\u{201C}', '\u{201D}', '\u{201E}'];
pub(crate) const SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word (escapes resolved): cmdlet name, argument, number, or stray operator.
    Word(String),
    /// `$name`, `$scope:name`.
    Var {
        scope: Option<String>,
        name: String,
    },
    /// `$(` outside a string.
    SubExprStart,
    SingleStr(String),
    DoubleStr(Vec<StrPart>),
    /// `-Name` or `-Name:`.
    Param {
        name: String,
        colon: bool,
    },
    /// `.Name` directly after a variable, a `)`, a string or another member.
    Member(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    /// `@(`, `@{`, `@"`/`@'` (here-string), `@name` (splatting): the char after `@`.
    At(char),
    Pipe,
    Amp,
    Redirect,
    Comma,
    Semi,
    Newline,
    Equals,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StrPart {
    Text(String),
    Var {
        scope: Option<String>,
        name: String,
        pos: Pos,
    },
    /// `$( … )`: its tokens, ending with an `Eof` at the closing `)`. Shared, so that cloning a
    /// token (the parser clones what it peeks at) never copies a nested subtree: deep `"$("$(…`
    /// nesting once made every level copy everything below it (the fuzzer's 16.5 MiB peak on a
    /// 1.6 KB input).
    Sub(std::rc::Rc<[Token]>, Pos),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
    pub space_before: bool,
    /// Char range in the source.
    pub start: usize,
    pub end: usize,
}

pub(crate) fn tokenize(src: &[char]) -> Result<Vec<Token>, ParseError> {
    scan(src).0
}

/// Tokens, and whether the input stopped inside a string, a block comment or a `$(`.
fn scan(src: &[char]) -> (Result<Vec<Token>, ParseError>, bool) {
    let mut lx = Lexer {
        src,
        i: 0,
        line: 1,
        col: 1,
        depth: 0,
        unterminated: false,
    };
    if lx.peek() == Some('\u{feff}') {
        lx.i += 1;
    }
    let r = lx.tokens(None);
    (r, lx.unterminated)
}

/// True when `source` stops in the middle of something: a string, a `<# #>` comment, an open
/// `(`, or a line continued with a trailing backtick — an interactive shell reads another line.
pub(crate) fn needs_more_input(source: &str) -> bool {
    if source
        .trim_end_matches([' ', '\t', '\r', '\n'])
        .ends_with('`')
    {
        return true;
    }
    let chars: Vec<char> = source.chars().collect();
    match scan(&chars) {
        (Err(_), unterminated) => unterminated,
        (Ok(toks), _) => {
            let mut depth = 0i64;
            for t in &toks {
                match t.tok {
                    Tok::LParen | Tok::SubExprStart | Tok::At('(') => depth += 1,
                    Tok::RParen => depth -= 1,
                    _ => {}
                }
            }
            depth > 0
        }
    }
}

struct Lexer<'s> {
    src: &'s [char],
    i: usize,
    line: usize,
    col: usize,
    depth: usize,
    unterminated: bool,
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\u{0b}' | '\u{0c}' | '\u{a0}' | '\u{feff}'
    )
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    is_space(c)
        || matches!(
            c,
            '\n' | '(' | ')' | '{' | '}' | ';' | ',' | '|' | '&' | '$' | '>'
        )
        || DOUBLE_QUOTES.contains(&c)
        || SINGLE_QUOTES.contains(&c)
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src.get(self.i + n).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn unterminated(&mut self, open: Pos) -> ParseError {
        self.unterminated = true;
        ParseError::at(open, "this string has no closing quote")
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.col,
        }
    }

    /// Skips blanks, comments and line continuations; true if anything was skipped.
    fn skip_space(&mut self) -> Result<bool, ParseError> {
        let mut skipped = false;
        loop {
            match self.peek() {
                Some(c) if is_space(c) => {
                    self.bump();
                }
                Some('`') if matches!(self.peek_at(1), Some('\n')) => {
                    self.bump();
                    self.bump();
                }
                Some('`') if self.peek_at(1) == Some('\r') && self.peek_at(2) == Some('\n') => {
                    self.bump();
                    self.bump();
                    self.bump();
                }
                Some('#') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                Some('<') if self.peek_at(1) == Some('#') => {
                    let open = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            Some('#') if self.peek() == Some('>') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                            None => {
                                self.unterminated = true;
                                return Err(ParseError::at(
                                    open,
                                    "this block comment `<#` has no closing `#>`",
                                ));
                            }
                        }
                    }
                }
                _ => return Ok(skipped),
            }
            skipped = true;
        }
    }

    /// Lexes to the end (top level), or to the `)` closing the `$(` at `open` in a string.
    fn tokens(&mut self, open: Option<Pos>) -> Result<Vec<Token>, ParseError> {
        let mut out: Vec<Token> = Vec::new();
        let mut parens = 0usize;
        loop {
            let space_before = self.skip_space()?;
            let start = self.i;
            let pos = self.pos();
            let Some(c) = self.peek() else {
                if let Some(open) = open {
                    self.unterminated = true;
                    return Err(ParseError::at(
                        open,
                        "this `$(` in a string has no closing `)`",
                    ));
                }
                out.push(Token {
                    tok: Tok::Eof,
                    pos,
                    space_before,
                    start,
                    end: start,
                });
                return Ok(out);
            };
            let member_ok = !space_before
                && out.last().is_some_and(|t| {
                    matches!(
                        t.tok,
                        Tok::Var { .. }
                            | Tok::RParen
                            | Tok::Member(_)
                            | Tok::SingleStr(_)
                            | Tok::DoubleStr(_)
                    )
                });
            let tok = self.token(c, member_ok, pos)?;
            if let Some(_open) = open {
                match tok {
                    Tok::LParen | Tok::SubExprStart | Tok::At('(') => parens += 1,
                    Tok::RParen if parens == 0 => {
                        out.push(Token {
                            tok: Tok::Eof,
                            pos,
                            space_before,
                            start,
                            end: self.i,
                        });
                        return Ok(out);
                    }
                    Tok::RParen => parens -= 1,
                    _ => {}
                }
            }
            out.push(Token {
                tok,
                pos,
                space_before,
                start,
                end: self.i,
            });
        }
    }

    fn token(&mut self, c: char, member_ok: bool, pos: Pos) -> Result<Tok, ParseError> {
        let next = self.peek_at(1);
        let single = |lx: &mut Self, t: Tok| {
            lx.bump();
            t
        };
        Ok(match c {
            '\n' => single(self, Tok::Newline),
            ';' => single(self, Tok::Semi),
            '(' => single(self, Tok::LParen),
            ')' => single(self, Tok::RParen),
            '{' => single(self, Tok::LBrace),
            '}' => single(self, Tok::RBrace),
            '[' => single(self, Tok::LBracket),
            ',' => single(self, Tok::Comma),
            '=' => single(self, Tok::Equals),
            '|' | '&' | '>' | '<' => {
                self.bump();
                if next == Some(c) {
                    self.bump();
                }
                match c {
                    '|' => Tok::Pipe,
                    '&' => Tok::Amp,
                    _ => Tok::Redirect,
                }
            }
            '@' => match next {
                Some(n @ ('(' | '{')) => {
                    self.bump();
                    self.bump();
                    Tok::At(n)
                }
                Some(n) if DOUBLE_QUOTES.contains(&n) || SINGLE_QUOTES.contains(&n) => {
                    self.bump();
                    Tok::At('"')
                }
                Some(n) if is_name_char(n) => {
                    self.bump();
                    while self.peek().is_some_and(is_name_char) {
                        self.bump();
                    }
                    Tok::At('n')
                }
                _ => Tok::Word(self.word()),
            },
            '$' => match next {
                Some('(') => {
                    self.bump();
                    self.bump();
                    Tok::SubExprStart
                }
                Some('{') => return Err(braced(pos)),
                Some(n) if is_name_char(n) || matches!(n, '?' | '^' | '$') => {
                    let (scope, name) = self.variable();
                    Tok::Var { scope, name }
                }
                _ => {
                    self.bump();
                    Tok::Word("$".into())
                }
            },
            '-' if next.is_some_and(is_ident_start) => match self.parameter() {
                Some(t) => t,
                None => Tok::Word(self.word()),
            },
            '.' if member_ok && next.is_some_and(is_ident_start) => {
                self.bump();
                let mut name = String::new();
                while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
                    name.push(c);
                    self.bump();
                }
                Tok::Member(name)
            }
            c if DOUBLE_QUOTES.contains(&c) => Tok::DoubleStr(self.double_quoted(pos)?),
            c if SINGLE_QUOTES.contains(&c) => Tok::SingleStr(self.single_quoted(pos)?),
            _ => Tok::Word(self.word()),
        })
    }

    /// At `$`: reads `$name`, `$scope:name`, `$?`, `$^`, `$$`.
    fn variable(&mut self) -> (Option<String>, String) {
        self.bump();
        if let Some(c) = self.peek().filter(|c| matches!(c, '?' | '^' | '$')) {
            self.bump();
            return (None, c.to_string());
        }
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
            name.push(c);
            self.bump();
        }
        if self.peek() == Some(':') && self.peek_at(1).is_some_and(is_name_char) {
            self.bump();
            let mut inner = String::new();
            while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
                inner.push(c);
                self.bump();
            }
            return (Some(name), inner);
        }
        (None, name)
    }

    /// At `-x`: a parameter token ends at a blank, a terminator or `:`; anything else makes
    /// the whole run a bare word (`-a.b`), as in PowerShell.
    fn parameter(&mut self) -> Option<Tok> {
        let save = (self.i, self.line, self.col);
        self.bump();
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
            name.push(c);
            self.bump();
        }
        match self.peek() {
            Some(':') => {
                self.bump();
                Some(Tok::Param { name, colon: true })
            }
            None => Some(Tok::Param { name, colon: false }),
            Some(c) if ends_word(c) => Some(Tok::Param { name, colon: false }),
            Some(_) => {
                (self.i, self.line, self.col) = save;
                None
            }
        }
    }

    fn word(&mut self) -> String {
        let mut w = String::new();
        while let Some(c) = self.peek() {
            if ends_word(c) {
                break;
            }
            if c == '`' {
                match self.peek_at(1) {
                    None => {
                        self.bump();
                        w.push('`');
                    }
                    Some('\n' | '\r') => break,
                    Some(e) => {
                        self.bump();
                        self.bump();
                        w.push(e);
                    }
                }
                continue;
            }
            w.push(c);
            self.bump();
        }
        if w.is_empty() {
            // Not reachable with the dispatch in `token`, but never loop forever.
            if let Some(c) = self.bump() {
                w.push(c);
            }
        }
        w
    }

    fn single_quoted(&mut self, open: Pos) -> Result<String, ParseError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.unterminated(open)),
                Some(c) if SINGLE_QUOTES.contains(&c) => {
                    match self.peek().filter(|n| SINGLE_QUOTES.contains(n)) {
                        Some(n) => {
                            self.bump();
                            s.push(n);
                        }
                        None => return Ok(s),
                    }
                }
                Some(c) => s.push(c),
            }
        }
    }

    fn double_quoted(&mut self, open: Pos) -> Result<Vec<StrPart>, ParseError> {
        self.bump();
        let mut parts = Vec::new();
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.unterminated(open));
            };
            match c {
                c if DOUBLE_QUOTES.contains(&c) => {
                    self.bump();
                    match self.peek().filter(|n| DOUBLE_QUOTES.contains(n)) {
                        Some(n) => {
                            self.bump();
                            text.push(n);
                        }
                        None => break,
                    }
                }
                '`' => {
                    self.bump();
                    let Some(e) = self.bump() else {
                        return Err(self.unterminated(open));
                    };
                    text.push(match e {
                        '0' => '\0',
                        'a' => '\u{07}',
                        'b' => '\u{08}',
                        'e' => '\u{1b}',
                        'f' => '\u{0c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'v' => '\u{0b}',
                        other => other,
                    });
                }
                '$' => {
                    let pos = self.pos();
                    match self.peek_at(1) {
                        Some('(') => {
                            if self.depth >= MAX_DEPTH {
                                return Err(ParseError::at(pos, "`$( … )` nested too deeply"));
                            }
                            if !text.is_empty() {
                                parts.push(StrPart::Text(std::mem::take(&mut text)));
                            }
                            self.bump();
                            self.bump();
                            self.depth += 1;
                            let toks = self.tokens(Some(pos))?;
                            self.depth -= 1;
                            parts.push(StrPart::Sub(toks.into(), pos));
                        }
                        Some('{') => return Err(braced(pos)),
                        Some(n) if is_name_char(n) => {
                            if !text.is_empty() {
                                parts.push(StrPart::Text(std::mem::take(&mut text)));
                            }
                            let (scope, name) = self.variable();
                            parts.push(StrPart::Var { scope, name, pos });
                        }
                        _ => {
                            self.bump();
                            text.push('$');
                        }
                    }
                }
                c => {
                    self.bump();
                    text.push(c);
                }
            }
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(StrPart::Text(text));
        }
        Ok(parts)
    }
}

fn braced(pos: Pos) -> ParseError {
    ParseError::at(
        pos,
        format!(
            "braced variable names like `${{name}}` are not supported; write `$name`. Supported: {}",
            crate::SUPPORTED
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let chars: Vec<char> = s.chars().collect();
        match tokenize(&chars) {
            Ok(t) => t.into_iter().map(|t| t.tok).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn w(s: &str) -> Tok {
        Tok::Word(s.into())
    }

    fn p(s: &str) -> Tok {
        Tok::Param {
            name: s.into(),
            colon: false,
        }
    }

    #[test]
    fn words_parameters_and_members() {
        assert_eq!(
            toks("Set-MailUser -Identity $user.Identity -X:$false -a.b SfB@contoso.example"),
            vec![
                w("Set-MailUser"),
                p("Identity"),
                Tok::Var {
                    scope: None,
                    name: "user".into()
                },
                Tok::Member("Identity".into()),
                Tok::Param {
                    name: "X".into(),
                    colon: true
                },
                Tok::Var {
                    scope: None,
                    name: "false".into()
                },
                w("-a.b"),
                w("SfB@contoso.example"),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn member_needs_adjacency() {
        assert_eq!(
            toks("$a .b"),
            vec![
                Tok::Var {
                    scope: None,
                    name: "a".into()
                },
                w(".b"),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("(x).P.Q"),
            vec![
                Tok::LParen,
                w("x"),
                Tok::RParen,
                Tok::Member("P".into()),
                Tok::Member("Q".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn comments_and_continuations() {
        assert_eq!(
            toks("a # c\n<# x\n y #> b `\n -c"),
            vec![w("a"), Tok::Newline, w("b"), p("c"), Tok::Eof]
        );
    }

    #[test]
    fn strings() {
        assert_eq!(
            toks("'it''s' \"a`t$x $env:P\\q\" \"\""),
            vec![
                Tok::SingleStr("it's".into()),
                Tok::DoubleStr(vec![
                    StrPart::Text("a\t".into()),
                    StrPart::Var {
                        scope: None,
                        name: "x".into(),
                        pos: Pos {
                            line: 1,
                            column: 13
                        }
                    },
                    StrPart::Text(" ".into()),
                    StrPart::Var {
                        scope: Some("env".into()),
                        name: "P".into(),
                        pos: Pos {
                            line: 1,
                            column: 16
                        }
                    },
                    StrPart::Text("\\q".into()),
                ]),
                Tok::DoubleStr(vec![StrPart::Text(String::new())]),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn subexpression_in_string_nests() {
        let t = toks("\"$( (a).B ) x\"");
        let Tok::DoubleStr(parts) = &t[0] else {
            panic!("{t:?}")
        };
        let StrPart::Sub(inner, pos) = &parts[0] else {
            panic!("{parts:?}")
        };
        assert_eq!(*pos, Pos { line: 1, column: 2 });
        let inner: Vec<Tok> = inner.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(
            inner,
            vec![
                Tok::LParen,
                w("a"),
                Tok::RParen,
                Tok::Member("B".into()),
                Tok::Eof
            ]
        );
        assert_eq!(parts[1], StrPart::Text(" x".into()));
    }

    #[test]
    fn incomplete_input() {
        for s in [
            "$x = 'abc",
            "Get-A -Name \"x",
            "<# comment",
            "$x = (Get-A",
            "\"$(Get-A\"",
            "Get-A `",
            "Get-A -X (",
        ] {
            assert!(needs_more_input(s), "{s}");
        }
        for s in [
            "",
            "Get-A",
            "$x = (Get-A)",
            "Get-A)",
            "Get-A {",
            "\"a`\"\"",
            "$(x)",
        ] {
            assert!(!needs_more_input(s), "{s}");
        }
    }

    #[test]
    fn unterminated_constructs() {
        let e = |s: &str| {
            let c: Vec<char> = s.chars().collect();
            tokenize(&c).err().map(|e| (e.line, e.column, e.message))
        };
        assert_eq!(
            e("a\n  'abc"),
            Some((2, 3, "this string has no closing quote".into()))
        );
        assert_eq!(
            e("x <# never"),
            Some((1, 3, "this block comment `<#` has no closing `#>`".into()))
        );
        assert_eq!(
            e("\"$(a\""),
            Some((1, 5, "this string has no closing quote".into()))
        );
    }
}
