//! Restrictions (`m:Restriction`) as a small filter tree, translated to parameterised SQL.
//!
//! Semantics follow MAPI restrictions: a comparison on a missing property is false (so `Ne` on a
//! missing property is false too), and `Not` of that is true. Every SQL fragment therefore
//! evaluates to 0 or 1, never NULL. String comparisons (`Eq`..`Le`) are case-insensitive (Unicode
//! lower-case folding); `Contains` is case-sensitive unless `ignore_case`. Values are always bound
//! parameters; only fixed column names and operators are written into the SQL text.

use rusqlite::types::Value as SqlValue;
use time::OffsetDateTime;

use crate::error::MailboxError;
use crate::limits::{MAX_FILTER_DEPTH, MAX_FILTER_NODES};
use crate::model::to_micros;

/// Name of the SQL function that case-folds text (registered on the store's connection).
pub(crate) const CASEFOLD_FN: &str = "oh_casefold";

/// The folding used for case-insensitive comparisons, in SQL and in Rust.
pub(crate) fn casefold(s: &str) -> String {
    s.to_lowercase()
}

/// Item fields a restriction can test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    ItemClass,
    Subject,
    InternetMessageId,
    DateTimeReceived,
    DateTimeSent,
    DateTimeCreated,
    IsRead,
    /// `Low`, `Normal` or `High`.
    Importance,
    /// `Normal`, `Personal`, `Private` or `Confidential`.
    Sensitivity,
    /// Calendar start.
    Start,
    /// Calendar end.
    End,
    /// An extended property by its canonical key (as stored in [`crate::NewItem::extended`]).
    ExtendedProperty(String),
    /// A value inside an item type's own properties (a contact's, [`crate::NewItem::contact`],
    /// or a task's, [`crate::NewItem::task`]), by its JSON path (`$.` and then names of ASCII
    /// letters, digits and `_` joined by `.`); items without it have none.
    Typed(Bag, String),
}

/// An item type's own properties, kept as the EWS layer's JSON beside the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bag {
    Contact,
    Task,
}

impl Bag {
    pub(crate) fn column(self) -> &'static str {
        match self {
            Bag::Contact => "i.contact_json",
            Bag::Task => "i.task_json",
        }
    }
}

/// A constant to compare with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    String(String),
    DateTime(OffsetDateTime),
    Bool(bool),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<OffsetDateTime> for Value {
    fn from(t: OffsetDateTime) -> Self {
        Value::DateTime(t)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn sql(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
        }
    }
}

/// `t:Contains/@ContainmentMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainmentMode {
    Substring,
    Prefixed,
    FullString,
}

/// A restriction tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// All hold (an empty `And` is true).
    And(Vec<Filter>),
    /// Any holds (an empty `Or` is false).
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        field: Field,
        op: CompareOp,
        value: Value,
    },
    Exists(Field),
    /// String fields only.
    Contains {
        field: Field,
        value: String,
        mode: ContainmentMode,
        ignore_case: bool,
    },
}

impl Filter {
    pub fn eq(field: Field, value: impl Into<Value>) -> Filter {
        Filter::compare(field, CompareOp::Eq, value)
    }

    pub fn ne(field: Field, value: impl Into<Value>) -> Filter {
        Filter::compare(field, CompareOp::Ne, value)
    }

    pub fn gt(field: Field, value: impl Into<Value>) -> Filter {
        Filter::compare(field, CompareOp::Gt, value)
    }

    pub fn ge(field: Field, value: impl Into<Value>) -> Filter {
        Filter::compare(field, CompareOp::Ge, value)
    }

    pub fn lt(field: Field, value: impl Into<Value>) -> Filter {
        Filter::compare(field, CompareOp::Lt, value)
    }

    pub fn le(field: Field, value: impl Into<Value>) -> Filter {
        Filter::compare(field, CompareOp::Le, value)
    }

    pub fn compare(field: Field, op: CompareOp, value: impl Into<Value>) -> Filter {
        Filter::Compare {
            field,
            op,
            value: value.into(),
        }
    }

    pub fn contains(
        field: Field,
        value: impl Into<String>,
        mode: ContainmentMode,
        ignore_case: bool,
    ) -> Filter {
        Filter::Contains {
            field,
            value: value.into(),
            mode,
            ignore_case,
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(inner: Filter) -> Filter {
        Filter::Not(Box::new(inner))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Time,
    Bool,
}

fn kind(field: &Field) -> Kind {
    match field {
        Field::ItemClass
        | Field::Subject
        | Field::InternetMessageId
        | Field::Importance
        | Field::Sensitivity => Kind::Str,
        Field::ExtendedProperty(_) | Field::Typed(..) => Kind::Str,
        Field::DateTimeReceived
        | Field::DateTimeSent
        | Field::DateTimeCreated
        | Field::Start
        | Field::End => Kind::Time,
        Field::IsRead => Kind::Bool,
    }
}

/// A WHERE-clause fragment with its positional parameters, in order.
#[derive(Debug, Default)]
pub(crate) struct SqlFragment {
    pub text: String,
    pub params: Vec<SqlValue>,
}

/// Appends the SQL for `filter` (items aliased `i`) to `out`.
pub(crate) fn to_sql(filter: &Filter, out: &mut SqlFragment) -> Result<(), MailboxError> {
    let mut nodes = 0;
    check_shape(filter, 1, &mut nodes)?;
    render(filter, out)
}

/// A typed property's path is `$.` and names of ASCII letters, digits and `_` joined by `.`
/// (what SQLite's `json_extract` reads as members, nothing else), at most 256 bytes.
fn field_ok(field: &Field) -> bool {
    let Field::Typed(_, path) = field else {
        return true;
    };
    path.len() <= 256
        && path.strip_prefix("$.").is_some_and(|rest| {
            rest.split('.').all(|name| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        })
}

/// Bounds depth and size before anything recurses without limit.
fn check_shape(filter: &Filter, depth: usize, nodes: &mut usize) -> Result<(), MailboxError> {
    *nodes += 1;
    if depth > MAX_FILTER_DEPTH {
        return Err(MailboxError::InvalidRestriction(format!(
            "nested deeper than {MAX_FILTER_DEPTH} levels"
        )));
    }
    if *nodes > MAX_FILTER_NODES {
        return Err(MailboxError::InvalidRestriction(format!(
            "more than {MAX_FILTER_NODES} nodes"
        )));
    }
    match filter {
        Filter::And(xs) | Filter::Or(xs) => {
            for x in xs {
                check_shape(x, depth + 1, nodes)?;
            }
            Ok(())
        }
        Filter::Not(x) => check_shape(x, depth + 1, nodes),
        Filter::Compare { field, .. } | Filter::Exists(field) | Filter::Contains { field, .. }
            if !field_ok(field) =>
        {
            Err(MailboxError::InvalidRestriction(format!(
                "{field:?} is not a JSON path of names"
            )))
        }
        Filter::Compare { field, value, .. } => {
            let ok = matches!(
                (kind(field), value),
                (Kind::Str, Value::String(_))
                    | (Kind::Time, Value::DateTime(_))
                    | (Kind::Bool, Value::Bool(_))
            );
            if ok {
                Ok(())
            } else {
                Err(MailboxError::InvalidRestriction(format!(
                    "{field:?} cannot be compared with {value:?}"
                )))
            }
        }
        Filter::Exists(_) => Ok(()),
        Filter::Contains { field, .. } => {
            if kind(field) == Kind::Str {
                Ok(())
            } else {
                Err(MailboxError::InvalidRestriction(format!(
                    "Contains needs a string property, not {field:?}"
                )))
            }
        }
    }
}

/// Pushes the column expression for `field`, with any parameters it needs.
fn column(field: &Field, out: &mut SqlFragment) {
    let col = match field {
        Field::ItemClass => "i.item_class",
        Field::Subject => "i.subject",
        Field::InternetMessageId => "i.internet_message_id",
        Field::DateTimeReceived => "i.received",
        Field::DateTimeSent => "i.sent",
        Field::DateTimeCreated => "i.created",
        Field::IsRead => "i.is_read",
        Field::Importance => "i.importance",
        Field::Sensitivity => "i.sensitivity",
        Field::Start => "i.start_time",
        Field::End => "i.end_time",
        Field::ExtendedProperty(key) => {
            out.text.push_str(
                "(SELECT p.value FROM item_props p WHERE p.item_id = i.id AND p.key = ?)",
            );
            out.params.push(SqlValue::Text(key.clone()));
            return;
        }
        Field::Typed(bag, path) => {
            out.text.push_str("json_extract(");
            out.text.push_str(bag.column());
            out.text.push_str(", ?)");
            out.params.push(SqlValue::Text(path.clone()));
            return;
        }
    };
    out.text.push_str(col);
}

fn render(filter: &Filter, out: &mut SqlFragment) -> Result<(), MailboxError> {
    match filter {
        Filter::And(xs) | Filter::Or(xs) if xs.is_empty() => {
            out.text.push_str(if matches!(filter, Filter::And(_)) {
                "1"
            } else {
                "0"
            });
        }
        Filter::And(xs) | Filter::Or(xs) => {
            let joiner = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            out.text.push('(');
            for (n, x) in xs.iter().enumerate() {
                if n > 0 {
                    out.text.push_str(joiner);
                }
                render(x, out)?;
            }
            out.text.push(')');
        }
        Filter::Not(x) => {
            out.text.push_str("(NOT ");
            render(x, out)?;
            out.text.push(')');
        }
        Filter::Compare { field, op, value } => {
            out.text.push_str("COALESCE(");
            let param = match value {
                Value::String(s) => {
                    out.text.push_str(CASEFOLD_FN);
                    out.text.push('(');
                    column(field, out);
                    out.text.push(')');
                    SqlValue::Text(casefold(s))
                }
                Value::DateTime(t) => {
                    column(field, out);
                    SqlValue::Integer(to_micros(*t)?)
                }
                Value::Bool(b) => {
                    column(field, out);
                    SqlValue::Integer(i64::from(*b))
                }
            };
            out.text.push(' ');
            out.text.push_str(op.sql());
            out.text.push_str(" ?, 0)");
            out.params.push(param);
        }
        Filter::Exists(Field::ExtendedProperty(key)) => {
            out.text.push_str(
                "EXISTS (SELECT 1 FROM item_props p WHERE p.item_id = i.id AND p.key = ?)",
            );
            out.params.push(SqlValue::Text(key.clone()));
        }
        Filter::Exists(field) => {
            out.text.push('(');
            column(field, out);
            out.text.push_str(" IS NOT NULL)");
        }
        Filter::Contains {
            field,
            value,
            mode,
            ignore_case,
        } => {
            let (needle, hay_open, hay_close) = if *ignore_case {
                (casefold(value), true, ")")
            } else {
                (value.clone(), false, "")
            };
            let (open, close) = match mode {
                ContainmentMode::Substring => ("COALESCE(instr(", ", ?) > 0, 0)"),
                ContainmentMode::Prefixed => ("COALESCE(instr(", ", ?) = 1, 0)"),
                ContainmentMode::FullString => ("COALESCE((", " = ?), 0)"),
            };
            out.text.push_str(open);
            if hay_open {
                out.text.push_str(CASEFOLD_FN);
                out.text.push('(');
            }
            column(field, out);
            out.text.push_str(hay_close);
            out.text.push_str(close);
            out.params.push(SqlValue::Text(needle));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sql(f: &Filter) -> Result<SqlFragment, MailboxError> {
        let mut out = SqlFragment::default();
        to_sql(f, &mut out)?;
        Ok(out)
    }

    #[test]
    fn values_are_parameters_never_text() {
        let evil = "x' OR 1=1; DROP TABLE items; --";
        let f = Filter::And(vec![
            Filter::eq(Field::Subject, evil),
            Filter::contains(
                Field::ExtendedProperty(evil.into()),
                evil,
                ContainmentMode::Substring,
                true,
            ),
            Filter::Exists(Field::ExtendedProperty(evil.into())),
        ]);
        let out = sql(&f).unwrap();
        assert!(!out.text.contains("DROP"), "{}", out.text);
        assert_eq!(out.text.matches('?').count(), out.params.len());
        assert_eq!(out.params.len(), 4);
    }

    #[test]
    fn type_mismatch_is_rejected() {
        for f in [
            Filter::eq(Field::Subject, true),
            Filter::gt(Field::DateTimeReceived, "yesterday"),
            Filter::eq(Field::IsRead, datetime!(2020-01-01 0:00 UTC)),
            Filter::contains(Field::Start, "1", ContainmentMode::Substring, false),
        ] {
            assert!(
                matches!(sql(&f), Err(MailboxError::InvalidRestriction(_))),
                "{f:?}"
            );
        }
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let mut deep = Filter::Exists(Field::Subject);
        for _ in 0..1_000 {
            deep = Filter::not(deep);
        }
        assert!(matches!(
            sql(&deep),
            Err(MailboxError::InvalidRestriction(_))
        ));
        let wide = Filter::Or(vec![Filter::Exists(Field::Subject); MAX_FILTER_NODES + 1]);
        assert!(matches!(
            sql(&wide),
            Err(MailboxError::InvalidRestriction(_))
        ));
        let ok = Filter::Or(vec![Filter::Exists(Field::Subject); MAX_FILTER_NODES - 1]);
        sql(&ok).unwrap();
    }

    #[test]
    fn empty_and_or() {
        assert_eq!(sql(&Filter::And(vec![])).unwrap().text, "1");
        assert_eq!(sql(&Filter::Or(vec![])).unwrap().text, "0");
    }
}
