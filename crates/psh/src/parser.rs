//! Recursive-descent parser from tokens to [`Script`]. Everything outside the subset is
//! rejected here, with the position of the first token that leaves it.
//!
//! Grammar (`NL` is a newline or `;`):
//!
//! ```text
//! script     := NL* (statement (NL+ statement)*)? NL*
//! statement  := VAR member* '=' NL* pipeline  |  VAR member* '.Add' '(' NL* value NL* ')'  |  pipeline
//! pipeline   := command | value                  (exactly one element)
//! command    := WORD arg*
//! arg        := PARAM value?  |  PARAM ':' value |  value (built-ins only)
//! value      := WORD | VAR member* | STRING member* | '(' NL* pipeline NL* ')' member*
//! ```

use serde_json::{Number, Value};

use crate::SUPPORTED;
use crate::ast::{
    Arg, Command, Expr, ExprKind, Pipeline, Pos, Script, Statement, StringPart, Variable,
};
use crate::error::ParseError;
use crate::lexer::{self, MAX_DEPTH, StrPart, Tok, Token};

/// Parses a script or an input line.
pub fn parse(source: &str) -> Result<Script, ParseError> {
    let chars: Vec<char> = source.chars().collect();
    let toks = lexer::tokenize(&chars)?;
    Parser::new(&chars, &toks, 0).script()
}

/// Built-ins whose first parameter binds positionally (`Import-Module MSOnline`).
const POSITIONAL_BUILTINS: &[&str] = &["import-module", "write-host", "write-output", "echo"];

/// Cmdlets whose one positional argument is their -Identity (`Get-Mailbox alice`).
const IDENTITY_VERBS: &[&str] = &["get-", "set-", "remove-"];

const KEYWORDS: &[&str] = &[
    "if",
    "elseif",
    "else",
    "switch",
    "foreach",
    "for",
    "while",
    "do",
    "until",
    "function",
    "filter",
    "workflow",
    "configuration",
    "param",
    "begin",
    "process",
    "end",
    "return",
    "break",
    "continue",
    "throw",
    "try",
    "catch",
    "finally",
    "trap",
    "exit",
    "class",
    "enum",
    "using",
    "data",
    "dynamicparam",
];

const NO_PIPELINES: &str =
    ": there are no pipelines here; pass values with -Param and read properties with .Name";
const NO_FILES: &str = ": this shell has no file system or certificate drive; export the auth certificate with `Export-ExchangeCertificate -Thumbprint (Get-AuthConfig).CurrentCertificateThumbprint -BinaryEncoded -FileName OAuthCert.cer`";
const NO_CODE: &str = ": .NET, COM and script code are not available here; the seed's certificate scripts are the cmdlets Export-ExchangeCertificate and Get-AuthCertificateBase64 (see the psh documentation)";

/// PowerShell built-in commands that make no sense without .NET, a file system or pipelines:
/// (name, the cmdlet an alias stands for, hint).
const REJECTED: &[(&str, &str, &str)] = &[
    ("new-object", "New-Object", NO_CODE),
    ("add-type", "Add-Type", NO_CODE),
    ("invoke-expression", "Invoke-Expression", NO_CODE),
    ("iex", "Invoke-Expression", NO_CODE),
    ("invoke-command", "Invoke-Command", NO_CODE),
    ("icm", "Invoke-Command", NO_CODE),
    ("start-process", "Start-Process", NO_CODE),
    ("where-object", "Where-Object", NO_PIPELINES),
    ("where", "Where-Object", NO_PIPELINES),
    ("?", "Where-Object", NO_PIPELINES),
    ("foreach-object", "ForEach-Object", NO_PIPELINES),
    ("%", "ForEach-Object", NO_PIPELINES),
    ("select-object", "Select-Object", NO_PIPELINES),
    ("select", "Select-Object", NO_PIPELINES),
    ("sort-object", "Sort-Object", NO_PIPELINES),
    ("sort", "Sort-Object", NO_PIPELINES),
    ("format-list", "Format-List", NO_PIPELINES),
    ("fl", "Format-List", NO_PIPELINES),
    ("format-table", "Format-Table", NO_PIPELINES),
    ("ft", "Format-Table", NO_PIPELINES),
    ("out-file", "Out-File", NO_FILES),
    ("get-childitem", "Get-ChildItem", NO_FILES),
    ("dir", "Get-ChildItem", NO_FILES),
    ("ls", "Get-ChildItem", NO_FILES),
    ("gci", "Get-ChildItem", NO_FILES),
    ("set-location", "Set-Location", NO_FILES),
    ("cd", "Set-Location", NO_FILES),
    ("chdir", "Set-Location", NO_FILES),
    ("sl", "Set-Location", NO_FILES),
    ("new-item", "New-Item", NO_FILES),
    ("md", "New-Item", NO_FILES),
    ("mkdir", "New-Item", NO_FILES),
    ("ni", "New-Item", NO_FILES),
    ("test-path", "Test-Path", NO_FILES),
    ("get-content", "Get-Content", NO_FILES),
    ("gc", "Get-Content", NO_FILES),
    ("cat", "Get-Content", NO_FILES),
    ("type", "Get-Content", NO_FILES),
    ("set-content", "Set-Content", NO_FILES),
    ("remove-item", "Remove-Item", NO_FILES),
    ("rm", "Remove-Item", NO_FILES),
    ("del", "Remove-Item", NO_FILES),
];

const OPERATOR_WORDS: &[&str] = &[
    "+", "-", "*", "/", "%", "!", "++", "--", "+=", "-=", "*=", "/=", "%=", "..", "??", "??=", "::",
];

const COMPARISONS: &[&str] = &[
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "like",
    "notlike",
    "match",
    "notmatch",
    "contains",
    "notcontains",
    "in",
    "notin",
    "replace",
    "split",
];

const OTHER_OPERATORS: &[&str] = &[
    "join", "is", "isnot", "as", "and", "or", "xor", "not", "band", "bor", "bxor", "bnot", "shl",
    "shr", "f",
];

/// Short operator names a cmdlet parameter could plausibly abbreviate; only an operator after a
/// value, never a parameter after a cmdlet.
const AMBIGUOUS_OPERATORS: &[&str] = &["in", "is", "as", "f"];

fn is_operator(name: &str, after_value: bool) -> bool {
    let n = name.to_lowercase();
    if !after_value && AMBIGUOUS_OPERATORS.contains(&n.as_str()) {
        return false;
    }
    let base = n
        .strip_prefix('c')
        .or_else(|| n.strip_prefix('i'))
        .filter(|b| COMPARISONS.contains(b))
        .unwrap_or(&n);
    COMPARISONS.contains(&base) || OTHER_OPERATORS.contains(&base)
}

/// A bare word that is a number: `42`, `-7`, `1.5` (others, and integers beyond 64 bits, stay
/// strings).
fn number(w: &str) -> Option<Value> {
    let digits = w.strip_prefix('-').unwrap_or(w);
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if all_digits(digits) {
        return w.parse::<i64>().ok().map(Value::from);
    }
    let (a, b) = digits.split_once('.')?;
    if all_digits(a) && all_digits(b) {
        return w
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number);
    }
    None
}

fn unsupported(pos: Pos, what: &str, hint: &str) -> ParseError {
    ParseError::at(
        pos,
        format!("{what} is not supported{hint}. Supported: {SUPPORTED}"),
    )
}

/// Where a token was unexpected, for the message.
#[derive(Clone, Copy)]
enum Ctx {
    Start,
    AfterStatement,
    Value,
    InParen(Pos),
    InSub,
}

enum VarRef {
    Literal(Value),
    Var(Variable),
}

struct Parser<'a> {
    src: &'a [char],
    toks: &'a [Token],
    i: usize,
    depth: usize,
    eof: Token,
}

impl<'a> Parser<'a> {
    fn new(src: &'a [char], toks: &'a [Token], depth: usize) -> Self {
        let eof = toks.last().cloned().unwrap_or(Token {
            tok: Tok::Eof,
            pos: Pos { line: 1, column: 1 },
            space_before: false,
            start: 0,
            end: 0,
        });
        Parser {
            src,
            toks,
            i: 0,
            depth,
            eof,
        }
    }

    fn peek(&self) -> &Token {
        self.at(self.i)
    }

    fn at(&self, i: usize) -> &Token {
        self.toks.get(i).unwrap_or(&self.eof)
    }

    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn skip_newlines(&mut self) {
        while self.peek().tok == Tok::Newline {
            self.i += 1;
        }
    }

    /// The source text of a token.
    fn text(&self, t: &Token) -> String {
        self.src
            .get(t.start..t.end)
            .map(|c| c.iter().collect())
            .unwrap_or_default()
    }

    fn script(&mut self) -> Result<Script, ParseError> {
        let mut statements = Vec::new();
        loop {
            while matches!(self.peek().tok, Tok::Newline | Tok::Semi) {
                self.i += 1;
            }
            if self.peek().tok == Tok::Eof {
                break;
            }
            statements.push(self.statement()?);
            let t = self.peek();
            if !matches!(t.tok, Tok::Newline | Tok::Semi | Tok::Eof) {
                return Err(self.unexpected(t, Ctx::AfterStatement));
            }
        }
        Ok(Script { statements })
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        let t = self.peek().clone();
        if let Tok::Var { scope, name } = &t.tok {
            let mut j = self.i + 1;
            while matches!(self.at(j).tok, Tok::Member(_)) {
                j += 1;
            }
            if j > self.i + 1
                && self.at(j).tok == Tok::LParen
                && !self.at(j).space_before
                && matches!(&self.at(j - 1).tok, Tok::Member(m) if m.eq_ignore_ascii_case("Add"))
            {
                return self.add_to_list(&t, j);
            }
            if self.at(j).tok == Tok::Equals {
                if j > self.i + 1 {
                    let member = self.at(self.i + 1).pos;
                    return Err(unsupported(
                        member,
                        "assigning to a property (`$name.Property = …`)",
                        "",
                    ));
                }
                let target = match self.var_ref(t.pos, scope.as_deref(), name)? {
                    VarRef::Var(v) => v,
                    VarRef::Literal(_) => {
                        return Err(ParseError::at(
                            t.pos,
                            format!("cannot assign to `{}`: it is a constant", self.text(&t)),
                        ));
                    }
                };
                let equals = self.at(j).pos;
                self.i = j + 1;
                self.skip_newlines();
                if matches!(self.peek().tok, Tok::Eof | Tok::Semi | Tok::RParen) {
                    return Err(ParseError::at(
                        equals,
                        format!(
                            "`{} =` needs a cmdlet or a value after the `=`",
                            self.text(&t)
                        ),
                    ));
                }
                let value = self.pipeline()?;
                return Ok(Statement::Assign { target, value });
            }
        }
        Ok(Statement::Pipeline(self.pipeline()?))
    }

    /// `$var.P.Add(value)`; `open` is the index of the `(` after `.Add`.
    fn add_to_list(&mut self, var: &Token, open: usize) -> Result<Statement, ParseError> {
        let Tok::Var { scope, name } = &var.tok else {
            return Err(self.unexpected(var, Ctx::Start));
        };
        let add = self.at(open - 1).pos;
        let target = match self.var_ref(var.pos, scope.as_deref(), name)? {
            VarRef::Var(v) if !v.env => v,
            _ => {
                return Err(ParseError::at(
                    var.pos,
                    format!(
                        "`{}.Add(…)`: only a list held in a variable (such as `$p.ServicePrincipalNames`) can be added to",
                        self.text(var)
                    ),
                ));
            }
        };
        let path: Vec<String> = (self.i + 1..open - 1)
            .filter_map(|k| match &self.at(k).tok {
                Tok::Member(m) => Some(m.clone()),
                _ => None,
            })
            .collect();
        let paren = self.at(open).pos;
        self.i = open + 1;
        self.skip_newlines();
        if matches!(self.peek().tok, Tok::RParen | Tok::Eof) {
            return Err(ParseError::at(
                paren,
                "`.Add()` needs the value to add, as in $p.ServicePrincipalNames.Add(\"…\")",
            ));
        }
        let value = self.value()?;
        self.skip_newlines();
        let close = self.peek().clone();
        match close.tok {
            Tok::RParen => self.i += 1,
            Tok::Eof => return Err(ParseError::at(paren, "this `(` has no closing `)`")),
            _ => {
                return Err(ParseError::at(
                    close.pos,
                    "`.Add(…)` takes exactly one value; add each item with its own `.Add(…)`",
                ));
            }
        }
        Ok(Statement::AddToList {
            target,
            path,
            value,
            pos: add,
        })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Word(w) => {
                if number(w).is_some() {
                    return Ok(Pipeline::Expr(self.value()?));
                }
                let lower = w.to_lowercase();
                if OPERATOR_WORDS.contains(&w.as_str())
                    && !REJECTED.iter().any(|(n, _, _)| *n == lower)
                {
                    return Err(unsupported(t.pos, &format!("the operator `{w}`"), ""));
                }
                Ok(Pipeline::Command(self.command()?))
            }
            Tok::Param { name, .. } => {
                if is_operator(name, true) {
                    return Err(unsupported(t.pos, &format!("the operator `-{name}`"), ""));
                }
                Err(ParseError::at(
                    t.pos,
                    format!(
                        "`-{name}` is a parameter, but no cmdlet comes before it; write `Cmdlet -{name} value`"
                    ),
                ))
            }
            Tok::Eof | Tok::Newline | Tok::Semi | Tok::RParen => {
                Err(self.unexpected(&t, Ctx::Start))
            }
            _ => Ok(Pipeline::Expr(self.value()?)),
        }
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let t = self.advance();
        let Tok::Word(name) = &t.tok else {
            return Err(self.unexpected(&t, Ctx::Start));
        };
        let lower = name.to_lowercase();
        if KEYWORDS.contains(&lower.as_str()) {
            return Err(unsupported(t.pos, &format!("the `{name}` keyword"), ""));
        }
        if let Some((_, canonical, hint)) = REJECTED.iter().find(|(n, _, _)| *n == lower) {
            let what = if canonical.eq_ignore_ascii_case(name) {
                format!("`{name}`")
            } else {
                format!("`{name}` ({canonical})")
            };
            return Err(unsupported(t.pos, &what, hint));
        }
        if name == "." {
            return Err(unsupported(
                t.pos,
                "dot-sourcing (`. script.ps1`)",
                "; run a script file with `openhybrid shell FILE`",
            ));
        }
        if name.contains(['\\', '/']) || lower.ends_with(".ps1") {
            return Err(unsupported(
                t.pos,
                &format!("running the script `{name}` from inside the shell"),
                "; run a script file with `openhybrid shell FILE`",
            ));
        }
        let positional_ok = POSITIONAL_BUILTINS.contains(&lower.as_str());
        // `Get-PartnerApplication SfBOnline`: PowerShell binds the first positional argument of
        // the Get-/Set-/Remove- cmdlets to -Identity; so does this shell (once).
        let identity_ok = IDENTITY_VERBS.iter().any(|v| lower.starts_with(v));
        let mut args = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        loop {
            let a = self.peek().clone();
            match &a.tok {
                Tok::Param { name: pname, colon } => {
                    if is_operator(pname, false) {
                        return Err(unsupported(a.pos, &format!("the operator `-{pname}`"), ""));
                    }
                    let key = pname.to_lowercase();
                    if seen.contains(&key) {
                        return Err(ParseError::at(
                            a.pos,
                            format!("the parameter -{pname} is given twice to {name}"),
                        ));
                    }
                    seen.push(key);
                    self.i += 1;
                    let value = if *colon {
                        if !starts_value(&self.peek().tok) {
                            return Err(ParseError::at(
                                a.pos,
                                format!(
                                    "`-{pname}:` needs a value right after the colon, as in -{pname}:$false"
                                ),
                            ));
                        }
                        Some(self.list_value()?)
                    } else if starts_value(&self.peek().tok) {
                        Some(self.list_value()?)
                    } else {
                        None
                    };
                    args.push(Arg::Named {
                        name: pname.clone(),
                        pos: a.pos,
                        value,
                    });
                }
                tok if starts_value(tok) => {
                    if positional_ok {
                        args.push(Arg::Positional(self.value()?));
                        continue;
                    }
                    let plain = matches!(
                        tok,
                        Tok::Word(_)
                            | Tok::Var { .. }
                            | Tok::SingleStr(_)
                            | Tok::DoubleStr(_)
                            | Tok::LParen
                    );
                    if plain && identity_ok && !seen.iter().any(|k| k == "identity") {
                        seen.push("identity".into());
                        args.push(Arg::Positional(self.value()?));
                        continue;
                    }
                    if plain {
                        let mut shown = if a.tok == Tok::LParen {
                            "(…)".to_owned()
                        } else {
                            self.text(&a)
                        };
                        if shown.chars().count() > 40 {
                            shown = shown.chars().take(39).collect::<String>() + "…";
                        }
                        let why = if identity_ok {
                            "only one positional argument binds (to -Identity), and -Identity is already given"
                        } else {
                            "this shell binds parameters by name only (a positional -Identity only for Get-, Set- and Remove- cmdlets)"
                        };
                        return Err(ParseError::at(
                            a.pos,
                            format!(
                                "positional argument `{shown}` given to {name}: {why}; write it as {name} -Param {shown}"
                            ),
                        ));
                    }
                    // `{`, `[`, `@(`, `$(`: the value parser names the construct.
                    self.value()?;
                    return Err(self.unexpected(&a, Ctx::AfterStatement));
                }
                _ => break,
            }
        }
        Ok(Command {
            name: name.clone(),
            pos: t.pos,
            args,
        })
    }

    fn value(&mut self) -> Result<Expr, ParseError> {
        let t = self.peek().clone();
        let kind = match &t.tok {
            Tok::Word(w) => {
                self.i += 1;
                ExprKind::Literal(number(w).unwrap_or_else(|| Value::String(w.clone())))
            }
            Tok::Var { scope, name } => {
                self.i += 1;
                match self.var_ref(t.pos, scope.as_deref(), name)? {
                    VarRef::Literal(v) => ExprKind::Literal(v),
                    VarRef::Var(v) => ExprKind::Variable(v),
                }
            }
            Tok::SingleStr(s) => {
                self.i += 1;
                ExprKind::Literal(Value::String(s.clone()))
            }
            Tok::DoubleStr(parts) => {
                self.i += 1;
                ExprKind::Expandable(self.string_parts(parts)?)
            }
            Tok::LParen => return self.paren(t.start),
            Tok::At('{') => return self.hashtable(),
            _ => return Err(self.unexpected(&t, Ctx::Value)),
        };
        self.postfix(Expr { pos: t.pos, kind }, t.start)
    }

    /// A value, or values separated by commas (a list): a parameter's value, a hashtable
    /// entry's. A comma may end a line; the list goes on on the next.
    fn list_value(&mut self) -> Result<Expr, ParseError> {
        let first = self.value()?;
        self.rest_of_list(first)
    }

    /// `@{ Key = value; Key2 = a, b }` (entries separated by `;` or new lines). The lexer reads
    /// `Add="x"` as the word `Add=` and a string, and `Add=x` as one word: all three forms are
    /// an entry.
    fn hashtable(&mut self) -> Result<Expr, ParseError> {
        let open = self.advance();
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::at(open.pos, "hashtables nested too deeply"));
        }
        self.depth += 1;
        let mut entries: Vec<(String, Expr)> = Vec::new();
        loop {
            while matches!(self.peek().tok, Tok::Newline | Tok::Semi) {
                self.i += 1;
            }
            let t = self.advance();
            let (key, glued) = match &t.tok {
                Tok::RBrace => break,
                Tok::Eof => return Err(ParseError::at(open.pos, "this `@{` has no closing `}`")),
                Tok::Word(w) => match w.split_once('=') {
                    Some((k, rest)) if !k.is_empty() => (k.to_owned(), Some(rest.to_owned())),
                    _ => (w.clone(), None),
                },
                Tok::SingleStr(s) => (s.clone(), None),
                _ => {
                    return Err(ParseError::at(
                        t.pos,
                        "a hashtable entry is `Key = value`, as in @{Add=\"alice2@contoso.example\"}",
                    ));
                }
            };
            let value = match glued {
                // `Add=x` (the value in the same word), or `Add=` then the value
                Some(rest) if !rest.is_empty() => {
                    let first = Expr {
                        pos: t.pos,
                        kind: ExprKind::Literal(number(&rest).unwrap_or(Value::String(rest))),
                    };
                    self.rest_of_list(first)?
                }
                Some(_) => self.entry_value(&key, t.pos)?,
                None => {
                    if self.peek().tok != Tok::Equals {
                        return Err(ParseError::at(
                            t.pos,
                            format!(
                                "the hashtable key `{key}` needs `=` and a value, as in {key}=\"value\""
                            ),
                        ));
                    }
                    self.i += 1;
                    self.entry_value(&key, t.pos)?
                }
            };
            if entries.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                return Err(ParseError::at(
                    t.pos,
                    format!("the hashtable key `{key}` is given twice"),
                ));
            }
            if entries.len() >= MAX_LIST_ITEMS {
                return Err(ParseError::at(
                    t.pos,
                    format!("a hashtable of more than {MAX_LIST_ITEMS} entries"),
                ));
            }
            entries.push((key, value));
            match self.peek().tok {
                Tok::Semi | Tok::Newline | Tok::RBrace => {}
                Tok::Eof => return Err(ParseError::at(open.pos, "this `@{` has no closing `}`")),
                _ => {
                    let next = self.peek().clone();
                    return Err(ParseError::at(
                        next.pos,
                        "hashtable entries are separated by `;` or new lines",
                    ));
                }
            }
        }
        self.depth -= 1;
        Ok(Expr {
            pos: open.pos,
            kind: ExprKind::Hashtable(entries),
        })
    }

    fn entry_value(&mut self, key: &str, pos: Pos) -> Result<Expr, ParseError> {
        if !starts_value(&self.peek().tok) {
            return Err(ParseError::at(
                pos,
                format!("the hashtable key `{key}` needs a value after `=`"),
            ));
        }
        self.list_value()
    }

    /// `first` then `, value` ...: a list when a comma follows `first`, else `first`.
    fn rest_of_list(&mut self, first: Expr) -> Result<Expr, ParseError> {
        if self.peek().tok != Tok::Comma {
            return Ok(first);
        }
        let pos = first.pos;
        let mut items = vec![first];
        while self.peek().tok == Tok::Comma {
            let comma = self.advance();
            self.skip_newlines();
            if !starts_value(&self.peek().tok) {
                return Err(ParseError::at(
                    comma.pos,
                    "a `,` needs a value after it, as in -Members bob,carol",
                ));
            }
            if items.len() >= MAX_LIST_ITEMS {
                return Err(ParseError::at(
                    comma.pos,
                    format!("a list of more than {MAX_LIST_ITEMS} values"),
                ));
            }
            items.push(self.value()?);
        }
        Ok(Expr {
            pos,
            kind: ExprKind::Array(items),
        })
    }

    fn paren(&mut self, start: usize) -> Result<Expr, ParseError> {
        let open = self.advance();
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::at(open.pos, "parentheses nested too deeply"));
        }
        self.depth += 1;
        self.skip_newlines();
        if self.peek().tok == Tok::RParen {
            return Err(ParseError::at(
                open.pos,
                "empty parentheses `()`: put a cmdlet or a value inside",
            ));
        }
        if self.peek().tok == Tok::Eof {
            return Err(ParseError::at(open.pos, "this `(` has no closing `)`"));
        }
        let inner = self.pipeline()?;
        self.skip_newlines();
        let close = self.peek().clone();
        match close.tok {
            Tok::RParen => self.i += 1,
            Tok::Eof => return Err(ParseError::at(open.pos, "this `(` has no closing `)`")),
            Tok::Semi => {
                return Err(unsupported(
                    close.pos,
                    "several statements inside `( … )`",
                    "",
                ));
            }
            _ => return Err(self.unexpected(&close, Ctx::InParen(open.pos))),
        }
        self.depth -= 1;
        self.postfix(
            Expr {
                pos: open.pos,
                kind: ExprKind::Paren(Box::new(inner)),
            },
            start,
        )
    }

    /// Member accesses, then a check that nothing is glued to the value.
    fn postfix(&mut self, mut expr: Expr, start: usize) -> Result<Expr, ParseError> {
        let mut chain = 0usize;
        while let Tok::Member(name) = &self.peek().tok {
            let name = name.clone();
            let t = self.advance();
            chain += 1;
            if chain > MAX_DEPTH {
                return Err(ParseError::at(t.pos, "property chain too long"));
            }
            expr = Expr {
                pos: t.pos,
                kind: ExprKind::Member {
                    target: Box::new(expr),
                    name,
                },
            };
        }
        let n = self.peek();
        if n.space_before {
            return Ok(expr);
        }
        match &n.tok {
            Tok::LParen => Err(match &expr.kind {
                ExprKind::Member { name, .. } => {
                    unsupported(n.pos, &format!("method calls (`.{name}(…)`)"), "")
                }
                _ => unsupported(n.pos, "`(` directly after a value (a call)", ""),
            }),
            Tok::LBracket => Err(unsupported(n.pos, "indexing (`[…]`)", "")),
            Tok::Word(w) if w.starts_with(['+', '-', '*', '/', '%', '!']) => {
                let op: String = w.chars().take_while(|c| "+-*/%!=".contains(*c)).collect();
                Err(unsupported(n.pos, &format!("the operator `{op}`"), ""))
            }
            Tok::Word(_)
            | Tok::Var { .. }
            | Tok::SingleStr(_)
            | Tok::DoubleStr(_)
            | Tok::SubExprStart => {
                let whole: String = self
                    .src
                    .get(start..n.end)
                    .map(|c| c.iter().collect())
                    .unwrap_or_default();
                Err(ParseError::at(
                    n.pos,
                    format!(
                        "`{}` is joined to the value before it without a space; write the whole value as one double-quoted string: \"{whole}\"",
                        self.text(n)
                    ),
                ))
            }
            _ => Ok(expr),
        }
    }

    fn var_ref(&self, pos: Pos, scope: Option<&str>, name: &str) -> Result<VarRef, ParseError> {
        let var = |env| {
            VarRef::Var(Variable {
                name: name.to_owned(),
                env,
                pos,
            })
        };
        match scope.map(str::to_lowercase).as_deref() {
            None => Ok(match name.to_lowercase().as_str() {
                "true" => VarRef::Literal(Value::Bool(true)),
                "false" => VarRef::Literal(Value::Bool(false)),
                "null" => VarRef::Literal(Value::Null),
                _ => var(false),
            }),
            Some("env") => Ok(var(true)),
            Some("global" | "script" | "local" | "private") => Ok(var(false)),
            Some(_) => Err(unsupported(
                pos,
                &format!("the variable drive `${}:`", scope.unwrap_or_default()),
                "; only `$env:NAME` is",
            )),
        }
    }

    fn string_parts(&self, parts: &[StrPart]) -> Result<Vec<StringPart>, ParseError> {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            out.push(match p {
                StrPart::Text(t) => StringPart::Text(t.clone()),
                StrPart::Var { scope, name, pos } => {
                    match self.var_ref(*pos, scope.as_deref(), name)? {
                        VarRef::Var(v) => StringPart::Variable(v),
                        VarRef::Literal(v) => StringPart::Text(crate::format::to_text(&v)),
                    }
                }
                StrPart::Sub(toks, pos) => {
                    if self.depth >= MAX_DEPTH {
                        return Err(ParseError::at(*pos, "`$( … )` nested too deeply"));
                    }
                    let mut sub = Parser::new(self.src, toks, self.depth + 1);
                    sub.skip_newlines();
                    if sub.peek().tok == Tok::Eof {
                        return Err(ParseError::at(
                            *pos,
                            "empty `$()`: put a value inside, as in \"$($user.Identity)\"",
                        ));
                    }
                    let inner = sub.pipeline()?;
                    sub.skip_newlines();
                    let t = sub.peek();
                    match t.tok {
                        Tok::Eof => {}
                        Tok::Semi => {
                            return Err(unsupported(
                                t.pos,
                                "several statements inside `$( … )`",
                                "",
                            ));
                        }
                        _ => return Err(sub.unexpected(t, Ctx::InSub)),
                    }
                    StringPart::Sub(Box::new(inner), *pos)
                }
            });
        }
        Ok(out)
    }

    /// The error for a token that cannot stand where it is.
    fn unexpected(&self, t: &Token, ctx: Ctx) -> ParseError {
        let text = self.text(t);
        let construct = |what: &str| unsupported(t.pos, what, "");
        match &t.tok {
            Tok::Pipe if text == "||" => return construct("the pipeline chain operator `||`"),
            Tok::Pipe => return construct("a pipeline of more than one command (`|`)"),
            Tok::Amp if text == "&&" => return construct("the pipeline chain operator `&&`"),
            Tok::Amp => return construct("the call operator `&`"),
            Tok::Redirect => return construct(&format!("redirection (`{text}`)")),
            Tok::Comma => return construct("arrays (`,`)"),
            Tok::LBrace => return construct("script blocks (`{ … }`)"),
            Tok::LBracket => {
                let rest = self.src.get(t.start..).unwrap_or_default();
                let lit = rest
                    .iter()
                    .position(|c| *c == ']' || *c == '\n')
                    .filter(|&k| rest.get(k) == Some(&']'))
                    .map(|k| rest[..=k].iter().collect::<String>());
                return construct(&match lit {
                    Some(l) => format!("the type literal `{l}` (types, casts and static calls)"),
                    None => "type literals, casts and static calls (`[…]`)".to_owned(),
                });
            }
            Tok::At('(') => return construct("array subexpressions (`@( … )`)"),
            Tok::At('"') => return construct("here-strings (`@\" … \"@`)"),
            Tok::At(_) => return construct(&format!("splatting (`{text}`)")),
            Tok::SubExprStart => {
                return construct("subexpressions `$( … )` outside double-quoted strings");
            }
            Tok::Word(w) if OPERATOR_WORDS.contains(&w.as_str()) => {
                return construct(&format!("the operator `{w}`"));
            }
            Tok::Param { name, .. } if is_operator(name, true) => {
                return construct(&format!("the operator `-{name}`"));
            }
            _ => {}
        }
        let found = match t.tok {
            Tok::Eof => "the end of the input".to_owned(),
            Tok::Newline => "the end of the line".to_owned(),
            Tok::Semi => "`;`".to_owned(),
            _ => format!("`{text}`"),
        };
        let message = match (ctx, &t.tok) {
            (_, Tok::Equals) => "unexpected `=`: an assignment is written `$name = <cmdlet or value>` at the start of a statement".to_owned(),
            (Ctx::InParen(open), _) => format!(
                "expected `)` to close the `(` at line {}, column {}, found {found}",
                open.line, open.column
            ),
            (Ctx::InSub, _) => format!("expected `)` to close `$(`, found {found}"),
            (_, Tok::RParen) => "unexpected `)` without a matching `(`".to_owned(),
            (_, Tok::RBrace) => "unexpected `}` without a matching `{`".to_owned(),
            (Ctx::AfterStatement, _) => format!(
                "unexpected {found} after a value; a statement is one cmdlet with its -Param value pairs, or one value"
            ),
            (Ctx::Start, _) => format!("expected a cmdlet or a value, found {found}"),
            (Ctx::Value, _) => format!("expected a value, found {found}"),
        };
        ParseError::at(t.pos, message)
    }
}

/// Most values in one list, and entries in one hashtable.
const MAX_LIST_ITEMS: usize = 10_000;

fn starts_value(t: &Tok) -> bool {
    matches!(
        t,
        Tok::Word(_)
            | Tok::Var { .. }
            | Tok::SingleStr(_)
            | Tok::DoubleStr(_)
            | Tok::LParen
            | Tok::SubExprStart
            | Tok::At(_)
            | Tok::LBracket
            | Tok::LBrace
    )
}
