//! EWS restrictions → the mailbox store's filter tree, and `SortOrder` → the store's sort keys.
//! Unknown properties are an error, never silently dropped (a dropped condition would widen a
//! search; a dropped sort key would answer in an order the client did not ask for).

use ews_proto::request::{
    ComparisonOp, ContainmentComparison, ContainmentMode, Operand, Restriction, SortDirection,
};
use ews_proto::response::ResponseError;
use ews_proto::types::PropertyPath;
use mailbox::{Bag, CompareOp, Field, Filter, SortField, SortOrder, Value};

fn field(p: &PropertyPath) -> Result<Field, ResponseError> {
    let bad = |what: &str| {
        ResponseError::new(
            "ErrorInvalidRestriction",
            &format!("the restriction uses {what}, which this server cannot search on"),
        )
    };
    match p {
        PropertyPath::Field(f) => Ok(match f.as_str() {
            "item:ItemClass" => Field::ItemClass,
            "item:Subject" => Field::Subject,
            "message:InternetMessageId" => Field::InternetMessageId,
            "item:DateTimeReceived" => Field::DateTimeReceived,
            "item:DateTimeSent" => Field::DateTimeSent,
            "item:DateTimeCreated" => Field::DateTimeCreated,
            "message:IsRead" => Field::IsRead,
            "item:Importance" => Field::Importance,
            "item:Sensitivity" => Field::Sensitivity,
            "calendar:Start" => Field::Start,
            "calendar:End" => Field::End,
            // a task's numbers would compare as text with the request's constant: not taken
            other if ews_proto::task::number_key(p).is_some() => return Err(bad(other)),
            other => match (
                ews_proto::contact::search_path(p),
                ews_proto::task::search_path(p),
            ) {
                (Some(path), _) => Field::Typed(Bag::Contact, path),
                (None, Some(path)) => Field::Typed(Bag::Task, path),
                (None, None) => return Err(bad(other)),
            },
        }),
        // the key extended properties are stored under (CreateItem, UpdateItem)
        PropertyPath::Extended(e) => Ok(Field::ExtendedProperty(e.canonical_key())),
        // a contact's text properties, email addresses, phone numbers and address parts
        PropertyPath::Indexed { .. } => ews_proto::contact::search_path(p)
            .map(|path| Field::Typed(Bag::Contact, path))
            .ok_or_else(|| bad("an indexed property other than a contact's")),
        PropertyPath::Exception(_) => Err(bad("an exception property")),
    }
}

fn value(f: &Field, o: &Operand) -> Result<Value, ResponseError> {
    let Operand::Constant(s) = o else {
        return Err(ResponseError::new(
            "ErrorInvalidRestriction",
            "comparing two properties is not supported; compare with a constant",
        ));
    };
    Ok(match f {
        Field::DateTimeReceived
        | Field::DateTimeSent
        | Field::DateTimeCreated
        | Field::Start
        | Field::End => {
            let d = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    ResponseError::new(
                        "ErrorInvalidRestriction",
                        &format!("'{s}' is not an xs:dateTime"),
                    )
                })?;
            Value::DateTime(d)
        }
        Field::IsRead => Value::Bool(s.eq_ignore_ascii_case("true") || s == "1"),
        _ => Value::String(s.clone()),
    })
}

pub fn translate(r: &Restriction) -> Result<Filter, ResponseError> {
    Ok(match r {
        Restriction::And(v) => Filter::And(v.iter().map(translate).collect::<Result<_, _>>()?),
        Restriction::Or(v) => Filter::Or(v.iter().map(translate).collect::<Result<_, _>>()?),
        Restriction::Not(x) => Filter::Not(Box::new(translate(x)?)),
        Restriction::Compare { op, path, value: v } => {
            let f = field(path)?;
            let value = value(&f, v)?;
            let op = match op {
                ComparisonOp::IsEqualTo => CompareOp::Eq,
                ComparisonOp::IsNotEqualTo => CompareOp::Ne,
                ComparisonOp::IsGreaterThan => CompareOp::Gt,
                ComparisonOp::IsGreaterThanOrEqualTo => CompareOp::Ge,
                ComparisonOp::IsLessThan => CompareOp::Lt,
                ComparisonOp::IsLessThanOrEqualTo => CompareOp::Le,
            };
            Filter::Compare {
                field: f,
                op,
                value,
            }
        }
        Restriction::Exists(p) => Filter::Exists(field(p)?),
        Restriction::Contains {
            path,
            constant,
            containment_mode,
            containment_comparison,
        } => Filter::Contains {
            field: field(path)?,
            value: constant.clone(),
            mode: match containment_mode {
                Some(ContainmentMode::FullString) => mailbox::ContainmentMode::FullString,
                Some(ContainmentMode::Prefixed) => mailbox::ContainmentMode::Prefixed,
                _ => mailbox::ContainmentMode::Substring,
            },
            ignore_case: !matches!(
                containment_comparison,
                None | Some(ContainmentComparison::Exact)
            ),
        },
        Restriction::Excludes { .. } => {
            return Err(ResponseError::new(
                "ErrorInvalidRestriction",
                "Excludes (bitmask) restrictions are not supported",
            ));
        }
    })
}

/// FindItem's `m:SortOrder` as the store's sort keys, first key first.
pub fn sort(
    order: &[(PropertyPath, SortDirection)],
) -> Result<Vec<(SortField, SortOrder)>, ResponseError> {
    order
        .iter()
        .map(|(path, dir)| {
            let field = match path.field_uri() {
                Some("item:DateTimeReceived") => SortField::DateTimeReceived,
                Some("item:DateTimeSent") => SortField::DateTimeSent,
                Some("item:DateTimeCreated") => SortField::DateTimeCreated,
                Some("item:Subject") => SortField::Subject,
                Some("item:ItemClass") => SortField::ItemClass,
                Some("item:Size") => SortField::Size,
                Some("calendar:Start") => SortField::Start,
                Some("calendar:End") => SortField::End,
                _ if let Some(name) = ews_proto::contact::text_key(path) => {
                    SortField::Typed(Bag::Contact, name)
                }
                _ if let Some(name) = ews_proto::task::text_key(path)
                    .or_else(|| ews_proto::task::number_key(path)) =>
                {
                    SortField::Typed(Bag::Task, name)
                }
                other => {
                    return Err(ResponseError::new(
                        "ErrorUnsupportedPathForSortGroup",
                        &format!(
                            "the sort order uses {}, which this server cannot sort on (it sorts on item:DateTimeReceived, item:DateTimeSent, item:DateTimeCreated, item:Subject, item:ItemClass, item:Size, calendar:Start, calendar:End, a contact's text properties such as contacts:DisplayName, and a task's text and numbers such as task:PercentComplete)",
                            other.unwrap_or("an extended or indexed property")
                        ),
                    ));
                }
            };
            let order = match dir {
                SortDirection::Ascending => SortOrder::Ascending,
                SortDirection::Descending => SortOrder::Descending,
            };
            Ok((field, order))
        })
        .collect()
}
