//! Errors: where the script went wrong, and why.

use crate::ast::Pos;

/// The source is outside the supported subset or malformed. Nothing of a script runs when it
/// does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn at(pos: Pos, message: impl Into<String>) -> Self {
        ParseError {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }
}

/// A cmdlet host refused or failed a command; `message` is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HostError {
    pub message: String,
}

impl HostError {
    pub fn new(message: impl Into<String>) -> Self {
        HostError {
            message: message.into(),
        }
    }
}

impl From<String> for HostError {
    fn from(message: String) -> Self {
        HostError { message }
    }
}

impl From<&str> for HostError {
    fn from(message: &str) -> Self {
        HostError::new(message)
    }
}

/// Why a script or line stopped.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The evaluator's own failure (an unset variable, a missing property, a built-in's misuse).
    #[error("line {line}, column {column}: {message}")]
    Runtime {
        line: usize,
        column: usize,
        message: String,
    },
    /// The host failed the cmdlet written at `line`/`column`.
    #[error("line {line}, column {column}: {}", prefixed(cmdlet, &source.message))]
    Host {
        line: usize,
        column: usize,
        cmdlet: String,
        source: HostError,
    },
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// `Cmdlet: message`, unless the message already starts with the cmdlet's name (hosts that
/// bind with [`crate::bind`] name it themselves): the name is said once.
fn prefixed(cmdlet: &str, message: &str) -> String {
    let named = message
        .get(..cmdlet.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(cmdlet))
        && message[cmdlet.len()..].starts_with(':');
    if named {
        message.to_owned()
    } else {
        format!("{cmdlet}: {message}")
    }
}

impl ShellError {
    pub(crate) fn runtime(pos: Pos, message: impl Into<String>) -> Self {
        ShellError::Runtime {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    /// Where it happened (none for an output failure).
    pub fn position(&self) -> Option<Pos> {
        match self {
            ShellError::Parse(e) => Some(Pos {
                line: e.line,
                column: e.column,
            }),
            ShellError::Runtime { line, column, .. } | ShellError::Host { line, column, .. } => {
                Some(Pos {
                    line: *line,
                    column: *column,
                })
            }
            ShellError::Output(_) => None,
        }
    }
}
