//! The syntax tree of the supported subset. Every node that can fail at run time carries the
//! position (1-based line and column) it was written at.

use serde_json::Value;

/// A 1-based line and column (columns count characters, a tab is one column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A whole script or input line: statements separated by newlines or `;`.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `$var = <pipeline>`.
    Assign { target: Variable, value: Pipeline },
    /// A cmdlet (its output is printed) or a bare expression (its value is printed).
    Pipeline(Pipeline),
    /// `$var.Property.Add(value)`: the one method call the subset has, for the list in a
    /// variable's property (`$p.ServicePrincipalNames.Add("…")`, as the OAuth article writes
    /// it). `path` is the property chain before `.Add` (empty for `$list.Add(…)`); `pos` is
    /// where `.Add` is written.
    AddToList {
        target: Variable,
        path: Vec<String>,
        value: Expr,
        pos: Pos,
    },
}

/// A pipeline of exactly one element.
#[derive(Debug, Clone, PartialEq)]
pub enum Pipeline {
    Command(Command),
    Expr(Expr),
}

/// `Name -Param value -Switch -Param:$false`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// As written (cmdlet names are matched case-insensitively by the built-ins and the host).
    pub name: String,
    pub pos: Pos,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `-Name value`, `-Name:value`, or a switch `-Name` (`value` is `None`).
    Named {
        name: String,
        pos: Pos,
        value: Option<Expr>,
    },
    /// Only the built-ins that bind positionally (`Import-Module MSOnline`, `Write-Host "…"`,
    /// `Write-Output …`) get these; for any other command the parser rejects them.
    Positional(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub pos: Pos,
    pub kind: ExprKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A single-quoted string, a bare word, a number, `$True`, `$False` or `$null`.
    Literal(Value),
    /// A double-quoted string: text, `$var` and `$( … )` parts.
    Expandable(Vec<StringPart>),
    Variable(Variable),
    /// `target.Name` (on an array: member enumeration).
    Member {
        target: Box<Expr>,
        name: String,
    },
    /// `( <pipeline> )`.
    Paren(Box<Pipeline>),
    /// `a, b, c`: a list, as a parameter's value or a hashtable entry's (`-Members bob,carol`).
    Array(Vec<Expr>),
    /// `@{ Key = value; ... }`: keys as written (a later duplicate is refused by the parser).
    Hashtable(Vec<(String, Expr)>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum StringPart {
    Text(String),
    Variable(Variable),
    /// `$( <pipeline> )` inside a double-quoted string, at the position of its `$`.
    Sub(Box<Pipeline>, Pos),
}

/// `$name` (scope prefixes `global:`, `script:`, `local:`, `private:` are dropped) or
/// `$env:NAME` (`env` is true).
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub env: bool,
    pub pos: Pos,
}
