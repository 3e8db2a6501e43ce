//! The evaluator: a [`Session`] of variables, a [`CmdletHost`] that runs the cmdlets, and the
//! built-ins the shell answers itself.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::ast::{
    Arg, Command, Expr, ExprKind, Pipeline, Pos, Script, Statement, StringPart, Variable,
};
use crate::error::{HostError, ShellError};
use crate::format::{format_objects, to_text};
use crate::parser::parse;

/// Runs the cmdlets the evaluator does not answer itself (everything but `Import-Module`,
/// `Write-Host`, `Write-Output` and `Get-Date`).
///
/// Implement it with `async fn` in the `impl` block; the futures must be `Send` so a whole
/// script can run on any executor.
pub trait CmdletHost: Send {
    /// Runs `cmdlet` (as the user wrote it; match it case-insensitively) with its parameters:
    /// names as written, without the `-`; values are strings, numbers, booleans (`true` for a
    /// switch), `null`, objects or arrays — an object where a string is expected is passed
    /// through for the host to bind (Exchange binds `$user` by its `Identity`).
    /// Returns the output objects; an error's message is shown to the user with the position.
    fn invoke(
        &mut self,
        cmdlet: &str,
        params: Map<String, Value>,
    ) -> impl Future<Output = Result<Vec<Value>, HostError>> + Send;

    /// `Connect-MsolService` (the seed's credentials dialog): by default
    /// `invoke("Connect-MsolService", params)`. The host decides what connecting means.
    fn connect(
        &mut self,
        params: Map<String, Value>,
    ) -> impl Future<Output = Result<Vec<Value>, HostError>> + Send {
        self.invoke("Connect-MsolService", params)
    }
}

/// The state that lives across statements and lines: variables (names case-insensitive, as in
/// PowerShell), the environment seen by `$env:NAME`, and the clock `Get-Date` reads.
pub struct Session {
    vars: HashMap<String, (String, Value)>,
    env: HashMap<String, (String, String)>,
    clock: Box<dyn Fn() -> OffsetDateTime + Send + Sync>,
    /// Something was written; the next object output is separated by a blank line.
    written: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("vars", &self.vars)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with no variables and an empty environment; `clock` is read by `Get-Date`.
    pub fn new(clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        Session {
            vars: HashMap::new(),
            env: HashMap::new(),
            clock: Box::new(clock),
            written: false,
        }
    }

    pub fn set_variable(&mut self, name: &str, value: Value) {
        self.vars
            .insert(name.to_lowercase(), (name.to_owned(), value));
    }

    /// `$name`'s value, matched case-insensitively.
    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.vars.get(&name.to_lowercase()).map(|(_, v)| v)
    }

    pub fn remove_variable(&mut self, name: &str) -> Option<Value> {
        self.vars.remove(&name.to_lowercase()).map(|(_, v)| v)
    }

    /// Every variable, with the name as first assigned.
    pub fn variables(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.vars.values().map(|(n, v)| (n.as_str(), v))
    }

    /// Sets what `$env:NAME` reads (names case-insensitive, as on Windows).
    pub fn set_env(&mut self, name: &str, value: impl Into<String>) {
        self.env
            .insert(name.to_lowercase(), (name.to_owned(), value.into()));
    }

    pub fn env(&self, name: &str) -> Option<&str> {
        self.env.get(&name.to_lowercase()).map(|(_, v)| v.as_str())
    }

    pub fn remove_env(&mut self, name: &str) -> Option<String> {
        self.env.remove(&name.to_lowercase()).map(|(_, v)| v)
    }

    /// What `Get-Date` returns: the clock in UTC, to the second, ISO 8601
    /// (`2026-05-01T12:00:00Z`).
    pub fn now_iso8601(&self) -> Result<String, time::error::Format> {
        let t = (self.clock)().to_offset(UtcOffset::UTC);
        let t = t.replace_nanosecond(0).unwrap_or(t);
        t.format(&Rfc3339)
    }
}

/// Parses all of `source`, then runs it statement by statement, writing each statement's output
/// to `out` as it completes (objects in `Format-List` style, separated from whatever the session
/// wrote before by a blank line). Nothing runs when the source does not parse; execution stops at the
/// first failing statement (what ran before it stays done, and its output stays written).
pub async fn run_script<H: CmdletHost, W: Write>(
    source: &str,
    session: &mut Session,
    host: &mut H,
    out: &mut W,
) -> Result<(), ShellError> {
    let script = parse(source)?;
    execute(&script, session, host, out).await
}

/// One line of interactive input (it may hold several `;`-separated statements). The session
/// keeps its variables between calls; an error leaves it usable for the next line.
pub async fn run_line<H: CmdletHost, W: Write>(
    line: &str,
    session: &mut Session,
    host: &mut H,
    out: &mut W,
) -> Result<(), ShellError> {
    run_script(line, session, host, out).await
}

/// Runs an already parsed script.
pub async fn execute<H: CmdletHost, W: Write>(
    script: &Script,
    session: &mut Session,
    host: &mut H,
    out: &mut W,
) -> Result<(), ShellError> {
    for st in &script.statements {
        let mut ev = Eval {
            session: &mut *session,
            host: &mut *host,
            console: Vec::new(),
        };
        let result = ev.statement(st).await;
        let console = std::mem::take(&mut ev.console);
        for line in &console {
            writeln!(out, "{line}")?;
            session.written = true;
        }
        let values = result?;
        let text = format_objects(&values);
        if text.is_empty() {
            continue;
        }
        if session.written && values.iter().any(has_object) {
            writeln!(out)?;
        }
        out.write_all(text.as_bytes())?;
        session.written = true;
    }
    out.flush()?;
    Ok(())
}

fn has_object(v: &Value) -> bool {
    match v {
        Value::Object(_) => true,
        Value::Array(a) => a.iter().any(has_object),
        _ => false,
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ShellError>> + Send + 'a>>;

struct Eval<'s, H> {
    session: &'s mut Session,
    host: &'s mut H,
    /// `Write-Host` lines, printed when the statement ends.
    console: Vec<String>,
}

/// PowerShell's unrolling of output: nothing is `$null`, one object is that object.
fn unroll(mut values: Vec<Value>) -> Value {
    match values.len() {
        0 => Value::Null,
        1 => values.pop().unwrap_or(Value::Null),
        _ => Value::Array(values),
    }
}

/// A value written as a statement: arrays enumerate, `$null` writes nothing.
fn enumerate(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        v => vec![v],
    }
}

/// `.Add(item)` on the list at `path` inside `root` (a .NET `List.Add`: outputs nothing).
fn add_to_list(root: &mut Value, path: &[String], item: Value) -> Result<(), String> {
    let mut slot = root;
    for name in path {
        slot = match slot {
            Value::Object(m) => {
                let props = m.keys().cloned().collect::<Vec<_>>().join(", ");
                match m.iter_mut().find(|(k, _)| eq_ci(k, name)) {
                    Some((_, v)) => v,
                    None => {
                        return Err(format!(
                            "the object has no property `{name}`; its properties are {props}"
                        ));
                    }
                }
            }
            Value::Null => {
                return Err(format!(
                    "cannot read the property `{name}` of $null (the value before `.{name}` is empty)"
                ));
            }
            other => return Err(format!("{} has no property `{name}`", describe(other))),
        };
    }
    match (slot, item) {
        (_, Value::Array(_)) => {
            Err("adds one value at a time; call .Add(…) once for each item".to_owned())
        }
        (_, Value::Object(_)) => Err(
            "adds a string or a number; pass the property you mean, as in $x.Identity".to_owned(),
        ),
        (Value::Array(a), item) => {
            a.push(item);
            Ok(())
        }
        (other, _) => Err(format!(
            "only a list can be added to, and this is {}",
            describe(other)
        )),
    }
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string '{s}'"),
        Value::Bool(b) => format!("the boolean {}", to_text(&Value::Bool(*b))),
        Value::Number(n) => format!("the number {n}"),
        Value::Null => "$null".to_owned(),
        Value::Array(_) => "the array".to_owned(),
        Value::Object(_) => "the object".to_owned(),
    }
}

/// `v.name`: case-insensitive; on an array, the array's `Count`/`Length`, else member
/// enumeration over its objects.
fn member(v: &Value, name: &str) -> Result<Value, String> {
    match v {
        Value::Object(m) => m
            .iter()
            .find(|(k, _)| eq_ci(k, name))
            .map(|(_, x)| x.clone())
            .ok_or_else(|| {
                if m.is_empty() {
                    format!("the object has no property `{name}`; it has no properties")
                } else {
                    format!(
                        "the object has no property `{name}`; its properties are {}",
                        m.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                    )
                }
            }),
        Value::Array(a) => {
            if eq_ci(name, "Count") || eq_ci(name, "Length") {
                return Ok(Value::from(a.len()));
            }
            let mut found = false;
            let mut out = Vec::new();
            for x in a {
                let Value::Object(m) = x else { continue };
                if let Some((_, y)) = m.iter().find(|(k, _)| eq_ci(k, name)) {
                    found = true;
                    match y {
                        Value::Array(inner) => out.extend(inner.iter().cloned()),
                        Value::Null => {}
                        y => out.push(y.clone()),
                    }
                }
            }
            if !found && !a.is_empty() {
                return Err(format!(
                    "none of the {} objects has a property `{name}`",
                    a.len()
                ));
            }
            Ok(unroll(out))
        }
        Value::String(s) if eq_ci(name, "Length") => Ok(Value::from(s.chars().count())),
        Value::Null => Err(format!(
            "cannot read the property `{name}` of $null (the value before `.{name}` is empty)"
        )),
        other => Err(format!("{} has no property `{name}`", describe(other))),
    }
}

impl<H: CmdletHost> Eval<'_, H> {
    async fn statement(&mut self, st: &Statement) -> Result<Vec<Value>, ShellError> {
        match st {
            Statement::Assign { target, value } => {
                let v = match value {
                    Pipeline::Expr(e) => self.expr(e).await?,
                    Pipeline::Command(c) => unroll(self.command(c).await?),
                };
                if target.env {
                    match v {
                        Value::Null => {
                            self.session.remove_env(&target.name);
                        }
                        v => self.session.set_env(&target.name, to_text(&v)),
                    }
                } else {
                    self.session.set_variable(&target.name, v);
                }
                Ok(Vec::new())
            }
            Statement::Pipeline(p) => self.pipeline(p).await,
            Statement::AddToList {
                target,
                path,
                value,
                pos,
            } => {
                let item = self.expr(value).await?;
                let mut root = self.var(target)?;
                add_to_list(&mut root, path, item).map_err(|m| {
                    let mut written = format!("${}", target.name);
                    for p in path {
                        written.push('.');
                        written.push_str(p);
                    }
                    ShellError::runtime(*pos, format!("{written}.Add(…): {m}"))
                })?;
                self.session.set_variable(&target.name, root);
                Ok(Vec::new())
            }
        }
    }

    async fn pipeline(&mut self, p: &Pipeline) -> Result<Vec<Value>, ShellError> {
        match p {
            Pipeline::Command(c) => self.command(c).await,
            Pipeline::Expr(e) => Ok(enumerate(self.expr(e).await?)),
        }
    }

    fn expr<'a>(&'a mut self, e: &'a Expr) -> BoxFuture<'a, Value> {
        Box::pin(async move {
            match &e.kind {
                ExprKind::Literal(v) => Ok(v.clone()),
                ExprKind::Variable(v) => self.var(v),
                ExprKind::Expandable(parts) => {
                    let mut s = String::new();
                    for p in parts {
                        match p {
                            StringPart::Text(t) => s.push_str(t),
                            StringPart::Variable(v) => s.push_str(&to_text(&self.var(v)?)),
                            StringPart::Sub(p, _) => {
                                let vals = self.pipeline(p).await?;
                                s.push_str(&to_text(&Value::Array(vals)));
                            }
                        }
                    }
                    Ok(Value::String(s))
                }
                ExprKind::Member { target, name } => {
                    let t = self.expr(target).await?;
                    member(&t, name).map_err(|m| ShellError::runtime(e.pos, m))
                }
                ExprKind::Paren(p) => Ok(match &**p {
                    Pipeline::Expr(x) => self.expr(x).await?,
                    Pipeline::Command(c) => unroll(self.command(c).await?),
                }),
                ExprKind::Array(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for i in items {
                        out.push(self.expr(i).await?);
                    }
                    Ok(Value::Array(out))
                }
                ExprKind::Hashtable(entries) => {
                    let mut out = serde_json::Map::new();
                    for (k, v) in entries {
                        out.insert(k.clone(), self.expr(v).await?);
                    }
                    Ok(Value::Object(out))
                }
            }
        })
    }

    fn var(&self, v: &Variable) -> Result<Value, ShellError> {
        if v.env {
            return Ok(self
                .session
                .env(&v.name)
                .map_or(Value::Null, |s| Value::String(s.to_owned())));
        }
        self.session.variable(&v.name).cloned().ok_or_else(|| {
            ShellError::runtime(v.pos, format!("the variable ${} is not set", v.name))
        })
    }

    async fn command(&mut self, c: &Command) -> Result<Vec<Value>, ShellError> {
        let host_error = |source: HostError| ShellError::Host {
            line: c.pos.line,
            column: c.pos.column,
            cmdlet: c.name.clone(),
            source,
        };
        match c.name.to_lowercase().as_str() {
            "import-module" => {
                let names = self.builtin_values(c, "Name").await?;
                if names.is_empty() {
                    return Err(ShellError::runtime(
                        c.pos,
                        "Import-Module: name the module, as in Import-Module MSOnline",
                    ));
                }
                for n in names {
                    let n = to_text(&n);
                    if !n.eq_ignore_ascii_case("MSOnline") {
                        return Err(ShellError::runtime(
                            c.pos,
                            format!(
                                "Import-Module: the module `{n}` is not available here; only MSOnline is (the Exchange cmdlets need no import)"
                            ),
                        ));
                    }
                }
                Ok(Vec::new())
            }
            "connect-msolservice" => {
                let params = self.params(c).await?;
                self.host.connect(params).await.map_err(host_error)
            }
            "write-host" => {
                let parts = self.builtin_values(c, "Object").await?;
                let text = parts.iter().map(to_text).collect::<Vec<_>>().join(" ");
                self.console.push(text);
                Ok(Vec::new())
            }
            "write-output" | "echo" => {
                let values = self.builtin_values(c, "InputObject").await?;
                Ok(values.into_iter().flat_map(enumerate).collect())
            }
            "get-date" => {
                if let Some(pos) = c.args.iter().map(arg_pos).next() {
                    return Err(ShellError::runtime(
                        pos,
                        "Get-Date takes no parameters here; it returns the current time in UTC as ISO 8601, e.g. 2026-05-01T12:00:00Z",
                    ));
                }
                let now = self
                    .session
                    .now_iso8601()
                    .map_err(|e| ShellError::runtime(c.pos, format!("Get-Date: {e}")))?;
                Ok(vec![Value::String(now)])
            }
            _ => {
                let params = self.params(c).await?;
                let positional = c.args.iter().find_map(|a| match a {
                    Arg::Positional(e) => Some(e.pos),
                    Arg::Named { .. } => None,
                });
                self.host.invoke(&c.name, params).await.map_err(|mut e| {
                    if positional.is_some() && e.message.to_lowercase().contains("identity") {
                        e.message.push_str(
                            " (the positional argument was bound to -Identity; name its parameter instead)",
                        );
                    }
                    host_error(e)
                })
            }
        }
    }

    /// A host cmdlet's parameters: a switch is `true`.
    async fn params(&mut self, c: &Command) -> Result<Map<String, Value>, ShellError> {
        let mut params = Map::new();
        for a in &c.args {
            match a {
                Arg::Named { name, value, .. } => {
                    let v = match value {
                        Some(e) => self.expr(e).await?,
                        None => Value::Bool(true),
                    };
                    params.insert(name.clone(), v);
                }
                // the parser lets one through only for Get-/Set-/Remove- cmdlets: -Identity
                Arg::Positional(e) => {
                    if params.keys().any(|k| eq_ci(k, "Identity")) {
                        return Err(ShellError::runtime(
                            e.pos,
                            format!(
                                "{}: -Identity is given both by name and by position; give it once",
                                c.name
                            ),
                        ));
                    }
                    let v = self.expr(e).await?;
                    params.insert("Identity".to_owned(), v);
                }
            }
        }
        Ok(params)
    }

    /// A built-in's positional arguments and its `-param`, in order; other named parameters
    /// (`-ForegroundColor`, `-Force`, …) are accepted and ignored.
    async fn builtin_values(&mut self, c: &Command, param: &str) -> Result<Vec<Value>, ShellError> {
        let mut out = Vec::new();
        for a in &c.args {
            match a {
                Arg::Positional(e) => out.push(self.expr(e).await?),
                Arg::Named {
                    name,
                    value: Some(e),
                    ..
                } if eq_ci(name, param) => out.push(self.expr(e).await?),
                Arg::Named { .. } => {}
            }
        }
        Ok(out)
    }
}

fn arg_pos(a: &Arg) -> Pos {
    match a {
        Arg::Named { pos, .. } => *pos,
        Arg::Positional(e) => e.pos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn member_rules() {
        let o = json!({"Identity": "x", "Spns": ["a", "b"]});
        assert_eq!(member(&o, "identity"), Ok(json!("x")));
        assert_eq!(
            member(&o, "Identiy"),
            Err("the object has no property `Identiy`; its properties are Identity, Spns".into())
        );
        let a = json!([{"K": 1, "L": ["p"]}, {"K": 2, "L": ["q", "r"]}, "s"]);
        assert_eq!(member(&a, "k"), Ok(json!([1, 2])));
        assert_eq!(member(&a, "L"), Ok(json!(["p", "q", "r"])));
        assert_eq!(member(&a, "count"), Ok(json!(3)));
        assert_eq!(member(&json!([{"K": 1}]), "K"), Ok(json!(1)));
        assert_eq!(member(&json!("abc"), "Length"), Ok(json!(3)));
        assert!(member(&Value::Null, "X").is_err());
        assert_eq!(
            member(&json!(true), "X"),
            Err("the boolean True has no property `X`".into())
        );
    }
}
