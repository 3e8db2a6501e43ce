//! The subset's semantics: values, parameters, strings, variables, comments, built-ins, output.

mod common;

use common::*;
use psh::ast::{Arg, Command, Expr, ExprKind, Pipeline, Pos, Statement, Variable};
use psh::{CmdletHost, HostError, Session, run_line};
use serde_json::{Map, Value, json};

fn params_of(src: &str) -> Value {
    let (_, calls) = run_ok(src);
    match calls.last() {
        Some((_, p)) => p.clone(),
        None => panic!("no call for {src}"),
    }
}

#[test]
fn parameter_values() {
    assert_eq!(
        params_of(
            "Echo-Params -S1 -Name bare-word@contoso.example -B:$false -T $TRUE -N $Null -I 42 -Neg -7 -F 1.5 -Lead 007 -Big 123456789012345678901234567890 -Guid 00000004-0000-0ff1-ce00-000000000000 -Path Cert:\\LocalMachine\\My -Q 'it''s' -S2"
        ),
        json!({
            "S1": true, "Name": "bare-word@contoso.example", "B": false, "T": true, "N": null,
            "I": 42, "Neg": -7, "F": 1.5, "Lead": 7, "Big": "123456789012345678901234567890",
            "Guid": "00000004-0000-0ff1-ce00-000000000000", "Path": "Cert:\\LocalMachine\\My",
            "Q": "it's", "S2": true
        })
    );
    // `-P:value` with a bare word and a spaced colon form; a parameter after a switch.
    assert_eq!(
        params_of(
            "Echo-Params -Confirm:$False -DomainController:dc01 -BinaryEncoded -FileName x.cer"
        ),
        json!({"Confirm": false, "DomainController": "dc01", "BinaryEncoded": true, "FileName": "x.cer"})
    );
    // Objects and arrays pass through as JSON; names keep their spelling.
    assert_eq!(
        params_of(
            "$u = New-MailUser -Name a\n$m = Get-Many\nEcho-Params -identity $u -Names $m.Name -Roles $m.Roles -Count $m.Count"
        ),
        json!({
            "identity": {"Name": "a", "Identity": IDENTITY, "ExternalEmailAddress": "SMTP:",
                          "HiddenFromAddressListsEnabled": false, "RecipientTypeDetails": "MailUser"},
            "Names": ["alice", "bob"], "Roles": ["a", "b", "c"], "Count": 2
        })
    );
}

/// Lists (`a,b`) as parameter values, and hashtables (`@{Add=…; Remove=…}`, the form
/// `Set-Mailbox -EmailAddresses` takes) in every way the lexer splits an entry.
#[test]
fn lists_and_hashtables() {
    assert_eq!(
        params_of(
            "Echo-Params -Members bob,'carol',\"dave\" -One x -Wrapped a,\n  b -E @{Add=\"a@x.example\",\"b@x.example\"; Remove = 'c@x.example'} -G @{Add=x1,x2\n Remove=y}"
        ),
        json!({
            "Members": ["bob", "carol", "dave"],
            "One": "x",
            "Wrapped": ["a", "b"],
            "E": {"Add": ["a@x.example", "b@x.example"], "Remove": "c@x.example"},
            "G": {"Add": ["x1", "x2"], "Remove": "y"}
        })
    );
    let (out, _) = run_ok("$h = @{Name = 'x'; N = 2}\n$h.Name");
    assert!(out.contains('x'), "{out}");
}

#[test]
fn list_and_hashtable_mistakes_are_named() {
    for (src, want) in [
        ("Echo-Params -M a,", "needs a value after it"),
        ("Echo-Params -H @{Add}", "needs `=` and a value"),
        ("Echo-Params -H @{Add=}", "needs a value after `=`"),
        ("Echo-Params -H @{A=1; a=2}", "given twice"),
        ("Echo-Params -H @{A=1 B=2}", "separated by `;`"),
        ("Echo-Params -H @{A=1", "no closing `}`"),
    ] {
        let mut host = FakeHost::default();
        let (_, r) = run(src, &mut session(), &mut host);
        let e = r.expect_err(src).to_string();
        assert!(e.contains(want), "{src}: {e}");
    }
}

#[test]
fn string_expansion() {
    let (out, _) = run_ok(concat!(
        "$x = 'val'\n",
        "$u = New-MailUser -Name SfB\n",
        "\"x=$x, prop=$($u.Name), env=$env:SYSTEMDRIVE\\dir, unset env=[$env:NOPE], literal=$x.Name\"\n",
        "\"tick=`$x `\"q`\" a`tb ``, dq=\"\"inner\"\", lone $ sign, end$\"\n",
        "'single: $x $($u.Name) `n'\n",
        "\"bools: $true $FALSE null:[$null]\"\n",
        "\"nested: $(\"in $((Get-AuthConfig).CurrentCertificateThumbprint)\")\"\n",
        "\"array: $((Get-Many).Name)\"\n",
        "\"multi\nline\"\n",
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "x=val, prop=SfB, env=C:\\dir, unset env=[], literal=val.Name",
            "tick=$x \"q\" a\tb `, dq=\"inner\", lone $ sign, end$",
            "single: $x $($u.Name) `n",
            "bools: True False null:[]",
            &format!("nested: in {THUMBPRINT}"),
            "array: alice bob",
            "multi",
            "line",
        ]
    );
}

#[test]
fn unset_variable_in_a_string_is_an_error_at_its_position() {
    let (_, r) = run("\"a $nope\"", &mut session(), &mut FakeHost::default());
    assert_eq!(
        r.err().map(|e| e.to_string()).as_deref(),
        Some("line 1, column 4: the variable $nope is not set")
    );
}

#[test]
fn names_are_case_insensitive() {
    let mut s = session();
    let mut host = FakeHost::default();
    let (out, r) = run(
        "$User = NEW-MAILUSER -Name a\n$USER.IDENTITY\n$user.identity\nimport-module msonline\nIMPORT-MODULE -name MSOnline\nwrite-host $TrUe\n$Global:user.Name",
        &mut s,
        &mut host,
    );
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(out, format!("{IDENTITY}\n{IDENTITY}\nTrue\na\n"));
    assert_eq!(
        host.names(),
        ["NEW-MAILUSER"],
        "cmdlet names reach the host as written"
    );
    assert_eq!(s.variables().map(|(n, _)| n).collect::<Vec<_>>(), ["User"]);
}

#[test]
fn comments_and_separators() {
    let (out, calls) = run_ok(concat!(
        "# a comment line\n",
        "<# a block\n   comment over lines #>\n",
        "Get-AuthConfig # trailing comment\n",
        "Echo-Params <# inline #> -A 1; Echo-Params -B `\n   -C 2 ;;\n",
        "\r\n",
        "Echo-Params -D x#notacomment -E 'x#y'\r\n",
        "  \t  \n",
    ));
    assert_eq!(
        calls,
        vec![
            ("Get-AuthConfig".to_owned(), json!({})),
            ("Echo-Params".to_owned(), json!({"A": 1})),
            ("Echo-Params".to_owned(), json!({"B": true, "C": 2})),
            (
                "Echo-Params".to_owned(),
                json!({"D": "x#notacomment", "E": "x#y"})
            ),
        ]
    );
    assert!(out.starts_with("CurrentCertificateThumbprint : "));
}

#[test]
fn statements_print_values() {
    let (out, _) = run_ok("$m = Get-Many\n$m.Name\n$m.Count\n5\n-2.5\n'text'\n$null\nGet-Nothing");
    assert_eq!(out, "alice\nbob\n2\n5\n-2.5\ntext\n");
    let (out, _) = run_ok("$m = Get-Many\n$m");
    assert_eq!(
        out,
        "Name  : alice\nRoles : {a, b}\n\nName  : bob\nRoles : {c}\n"
    );
    let (out, _) = run_ok("Get-Nothing\n$x = Get-Nothing\n\"[$x]\"");
    assert_eq!(out, "[]\n");
}

#[test]
fn builtins() {
    let (out, calls) = run_ok(concat!(
        "Import-Module MSOnline\n",
        "Write-Host \"Connecting\" -ForegroundColor Green\n",
        "Write-Host a b 3\n",
        "Write-Output one (Get-AuthConfig).CurrentCertificateThumbprint\n",
        "echo -InputObject $true\n",
        "$when = Get-Date\n",
        "\"at $when\"\n",
        "Echo-Params -StartDate (Get-Date)\n",
    ));
    assert_eq!(
        out,
        format!(
            "Connecting\na b 3\none\n{THUMBPRINT}\nTrue\nat 2026-05-01T12:00:00Z\n\nStartDate : 2026-05-01T12:00:00Z\n"
        )
    );
    let names: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Get-AuthConfig", "Echo-Params"],
        "built-ins never reach the host"
    );
}

#[test]
fn get_date_reads_the_session_clock() {
    let mut s = Session::new(|| {
        time::OffsetDateTime::from_unix_timestamp(1_800_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .replace_nanosecond(123)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap_or(time::UtcOffset::UTC))
    });
    let mut out = Vec::new();
    let r = block_on(run_line(
        "GET-DATE",
        &mut s,
        &mut FakeHost::default(),
        &mut out,
    ));
    assert!(r.is_ok());
    assert_eq!(String::from_utf8_lossy(&out), "2027-01-15T08:00:00Z\n");
}

/// A host that connects on its own terms.
#[derive(Default)]
struct Connecting {
    connected_with: Option<Map<String, Value>>,
    calls: usize,
}

impl CmdletHost for Connecting {
    async fn invoke(
        &mut self,
        cmdlet: &str,
        _: Map<String, Value>,
    ) -> Result<Vec<Value>, HostError> {
        self.calls += 1;
        if self.connected_with.is_none() && cmdlet.starts_with("Get-Msol") {
            return Err(HostError::new(
                "You must call the Connect-MsolService cmdlet before calling any other cmdlets",
            ));
        }
        Ok(vec![json!({"AppPrincipalId": SKYPE})])
    }

    async fn connect(&mut self, params: Map<String, Value>) -> Result<Vec<Value>, HostError> {
        self.connected_with = Some(params);
        Ok(vec![])
    }
}

#[test]
fn connect_msolservice_calls_the_hosts_hook() {
    let mut host = Connecting::default();
    let mut s = session();
    let mut out = Vec::new();
    let r = block_on(run_line(
        "Get-MsolServicePrincipal -AppPrincipalId x",
        &mut s,
        &mut host,
        &mut out,
    ));
    assert_eq!(
        r.err().map(|e| e.to_string()).as_deref(),
        Some(
            "line 1, column 1: Get-MsolServicePrincipal: You must call the Connect-MsolService cmdlet before calling any other cmdlets"
        )
    );
    let r = block_on(run_line(
        "$cred = 'admin'; Connect-MsolService -Credential $cred",
        &mut s,
        &mut host,
        &mut out,
    ));
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        host.connected_with,
        Some(Map::from_iter([("Credential".to_owned(), json!("admin"))]))
    );
    assert_eq!(host.calls, 1, "connect does not go through invoke");
    // The default hook is invoke("Connect-MsolService", params).
    let (_, calls) = run_ok("Connect-MsolService");
    assert_eq!(calls, vec![("Connect-MsolService".to_owned(), json!({}))]);
}

#[test]
fn interactive_lines_share_the_session() {
    let mut s = session();
    let mut host = FakeHost::default();
    let mut out = Vec::new();
    let mut line = |l: &str, out: &mut Vec<u8>| block_on(run_line(l, &mut s, &mut host, out));
    assert!(line("$user = New-MailUser -Name a", &mut out).is_ok());
    assert!(line("$user.Identity | fl", &mut out).is_err());
    assert!(
        line(
            "Set-MailUser -Identity $user.Identity -HiddenFromAddressListsEnabled $True",
            &mut out
        )
        .is_ok()
    );
    assert!(line("$user.Name", &mut out).is_ok());
    assert!(line("$env:Tenant = 'contoso'; \"$env:TENANT\"", &mut out).is_ok());
    assert_eq!(String::from_utf8_lossy(&out), "a\ncontoso\n");
    assert_eq!(s.env("tenant"), Some("contoso"));
    assert_eq!(
        host.calls[1].1,
        json!({"Identity": IDENTITY, "HiddenFromAddressListsEnabled": true})
    );
}

#[test]
fn objects_are_separated_from_earlier_output_across_lines() {
    let mut s = session();
    let mut host = FakeHost::default();
    let mut out = Vec::new();
    for l in [
        "Get-AuthConfig",
        "Get-AuthConfig",
        "'text'",
        "Get-AuthConfig",
    ] {
        assert!(block_on(run_line(l, &mut s, &mut host, &mut out)).is_ok());
    }
    let one = "CurrentCertificateThumbprint : 3F2A9C0B7D5E41A6B8C2D9E0F1A2B3C4D5E6F708\nRealm                        : \nServiceName                  : 00000002-0000-0ff1-ce00-000000000000\n";
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!("{one}\n{one}text\n\n{one}")
    );
}

#[test]
fn the_syntax_tree() {
    let script =
        psh::parse("$t = (Get-AuthConfig).CurrentCertificateThumbprint\nSet-X -Id $t -On").ok();
    let pos = |line, column| Pos { line, column };
    let expected = psh::ast::Script {
        statements: vec![
            Statement::Assign {
                target: Variable {
                    name: "t".into(),
                    env: false,
                    pos: pos(1, 1),
                },
                value: Pipeline::Expr(Expr {
                    pos: pos(1, 22),
                    kind: ExprKind::Member {
                        target: Box::new(Expr {
                            pos: pos(1, 6),
                            kind: ExprKind::Paren(Box::new(Pipeline::Command(Command {
                                name: "Get-AuthConfig".into(),
                                pos: pos(1, 7),
                                args: vec![],
                            }))),
                        }),
                        name: "CurrentCertificateThumbprint".into(),
                    },
                }),
            },
            Statement::Pipeline(Pipeline::Command(Command {
                name: "Set-X".into(),
                pos: pos(2, 1),
                args: vec![
                    Arg::Named {
                        name: "Id".into(),
                        pos: pos(2, 7),
                        value: Some(Expr {
                            pos: pos(2, 11),
                            kind: ExprKind::Variable(Variable {
                                name: "t".into(),
                                env: false,
                                pos: pos(2, 11),
                            }),
                        }),
                    },
                    Arg::Named {
                        name: "On".into(),
                        pos: pos(2, 14),
                        value: None,
                    },
                ],
            })),
        ],
    };
    assert_eq!(script, Some(expected));
}

#[test]
fn smart_quotes_from_copied_documentation() {
    let (out, _) =
        run_ok("$s = \u{201C}00000004-0000-0ff1-ce00-000000000000\u{201D}\n\u{2018}x\u{2019}\n$s");
    assert_eq!(out, format!("x\n{SKYPE}\n"));
}

#[test]
fn a_script_can_run_on_a_multithreaded_executor() {
    fn assert_send<T: Send>(_: &T) {}
    let mut s = session();
    let mut host = FakeHost::default();
    let mut out: Vec<u8> = Vec::new();
    let fut = psh::run_script("Get-AuthConfig", &mut s, &mut host, &mut out);
    assert_send(&fut);
    assert!(block_on(fut).is_ok());
}

#[test]
fn incomplete_input_asks_for_more() {
    assert!(psh::needs_more_input(
        "$CertFile = \"$env:SYSTEMDRIVE\\OAuth"
    ));
    assert!(psh::needs_more_input(
        "New-MsolServicePrincipalCredential -AppPrincipalId $p.AppPrincipalId `"
    ));
    assert!(!psh::needs_more_input("Get-AuthConfig"));
}

#[test]
fn add_appends_to_a_list_in_a_variable() {
    // the OAuth article's lines: read the principal, add a name, set the whole list back
    let (out, calls) = run_ok(
        "$p = Get-MsolServicePrincipal -AppPrincipalId 00000004-0000-0ff1-ce00-000000000000\n\
         $p.ServicePrincipalNames.Add(\"00000004-0000-0ff1-ce00-000000000000/sfb.contoso.example\")\n\
         $P.servicePrincipalNames.Add('x') ; $n = 'y'; $p.ServicePrincipalNames.Add($n)\n\
         Echo-Params -ServicePrincipalNames $p.ServicePrincipalNames",
    );
    assert!(
        out.starts_with("ServicePrincipalNames :") && out.lines().count() == 1,
        ".Add outputs nothing: {out}"
    );
    assert_eq!(
        calls.last().unwrap().1,
        json!({"ServicePrincipalNames": [
            SKYPE,
            "00000004-0000-0ff1-ce00-000000000000/*.contoso.example",
            "00000004-0000-0ff1-ce00-000000000000/sfb.contoso.example",
            "x",
            "y"
        ]})
    );
    // a plain list variable, too
    let (_, calls) = run_ok("$m = Get-Many\n$r = $m.Roles\n$r.Add('d')\nEcho-Params -R $r");
    assert_eq!(calls.last().unwrap().1, json!({"R": ["a", "b", "c", "d"]}));
}

#[test]
fn add_errors_say_what_was_wrong() {
    let err = |src: &str| {
        let mut s = session();
        let mut h = FakeHost::default();
        run(src, &mut s, &mut h).1.unwrap_err().to_string()
    };
    let p = "$p = Get-MsolServicePrincipal -AppPrincipalId x\n";
    assert_eq!(
        err(&format!("{p}$p.DisplayName.Add('x')")),
        "line 2, column 15: $p.DisplayName.Add(…): only a list can be added to, and this is the string 'Skype for Business Online'"
    );
    assert_eq!(
        err(&format!("{p}$p.Spns.Add('x')")),
        "line 2, column 8: $p.Spns.Add(…): the object has no property `Spns`; its properties are AppPrincipalId, DisplayName, ServicePrincipalNames"
    );
    assert_eq!(
        err("$q.X.Add('x')"),
        "line 1, column 1: the variable $q is not set"
    );
    assert!(
        err(&format!("{p}$p.ServicePrincipalNames.Add('a', 'b')"))
            .contains("takes exactly one value"),
    );
    assert!(err(&format!("{p}$p.ServicePrincipalNames.Add()")).contains("needs the value to add"));
    // other methods stay unsupported
    assert!(
        err(&format!("{p}$p.ServicePrincipalNames.Remove('a')"))
            .contains("method calls (`.Remove(…)`) is not supported")
    );
}

#[test]
fn one_positional_argument_is_the_identity_of_get_set_remove() {
    assert_eq!(
        run_ok("Get-AuthConfig SfBOnline").1.last().unwrap().1,
        json!({"Identity": "SfBOnline"})
    );
    let (_, calls) = run_ok("$u = New-MailUser -Name a\nGet-AuthConfig $u.Identity -Verbose");
    assert_eq!(
        calls.last().unwrap().1,
        json!({"Identity": IDENTITY, "Verbose": true})
    );
}

#[test]
fn a_host_error_names_the_cmdlet_once() {
    let mut s = session();
    let mut h = FakeHost::default();
    let e = run("set-named -X 1", &mut s, &mut h)
        .1
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "line 1, column 1: Set-Named: the parameter -X is required"
    );
    let e = run("Fail-Me", &mut s, &mut h).1.unwrap_err().to_string();
    assert_eq!(e, "line 1, column 1: Fail-Me: the server refused: boom");
}
