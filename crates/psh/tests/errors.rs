//! Everything outside the subset is a parse error at an exact line and column, naming what was
//! found and listing what is supported; run-time failures carry positions too.

mod common;

use common::*;
use psh::ShellError;
use serde_json::json;

#[test]
fn unsupported_constructs() {
    let cases: &[(&str, usize, usize, String)] = &[
        ("if ($x) { Get-Mailbox }", 1, 1, unsupported("the `if` keyword")),
        ("foreach ($m in $list) {}", 1, 1, unsupported("the `foreach` keyword")),
        ("  while (1) {}", 1, 3, unsupported("the `while` keyword")),
        ("function f {}", 1, 1, unsupported("the `function` keyword")),
        (
            "Get-Mailbox | Set-Mailbox -X 1",
            1,
            13,
            unsupported("a pipeline of more than one command (`|`)"),
        ),
        (
            "$m = Get-Mailbox -Identity a |\n  fl",
            1,
            30,
            unsupported("a pipeline of more than one command (`|`)"),
        ),
        ("Get-A || Get-B", 1, 7, unsupported("the pipeline chain operator `||`")),
        ("Get-A && Get-B", 1, 7, unsupported("the pipeline chain operator `&&`")),
        ("& Get-A", 1, 1, unsupported("the call operator `&`")),
        ("Get-A > out.txt", 1, 7, unsupported("redirection (`>`)")),
        (
            "$c = [System.Convert]::ToBase64String($b)",
            1,
            6,
            unsupported("the type literal `[System.Convert]` (types, casts and static calls)"),
        ),
        ("[int]$x", 1, 1, unsupported("the type literal `[int]` (types, casts and static calls)")),
        ("$x = { Get-A }", 1, 6, unsupported("script blocks (`{ … }`)")),
        ("Get-A -Filter {Name -eq 'x'}", 1, 15, unsupported("script blocks (`{ … }`)")),
        ("$x -eq $y", 1, 4, unsupported("the operator `-eq`")),
        ("$a = $b -like 'x*'", 1, 9, unsupported("the operator `-like`")),
        ("$a = (Get-A) -ne $null", 1, 14, unsupported("the operator `-ne`")),
        ("-not $x", 1, 1, unsupported("the operator `-not`")),
        ("Get-A -X 1 -and -Y 2", 1, 12, unsupported("the operator `-and`")),
        ("$n = $n + 1", 1, 9, unsupported("the operator `+`")),
        ("$n = $n+1", 1, 8, unsupported("the operator `+`")),
        ("$n++", 1, 3, unsupported("the operator `++`")),
        ("$n += 1", 1, 4, unsupported("the operator `+=`")),
        ("$a = @(1, 2)", 1, 6, unsupported("array subexpressions (`@( … )`)")),
        ("Get-A @params", 1, 7, unsupported("splatting (`@params`)")),
        ("$s = @\"\nx\n\"@", 1, 6, unsupported("here-strings (`@\" … \"@`)")),
        ("$a = 1, 2", 1, 7, unsupported("arrays (`,`)")),
        (
            "$x = $(Get-A)",
            1,
            6,
            unsupported("subexpressions `$( … )` outside double-quoted strings"),
        ),
        (
            "Get-A -X $(Get-B)",
            1,
            10,
            unsupported("subexpressions `$( … )` outside double-quoted strings"),
        ),
        ("$p.Method()", 1, 10, unsupported("method calls (`.Method(…)`)")),
        (
            "(Get-Date).AddYears(1)",
            1,
            20,
            unsupported("method calls (`.AddYears(…)`)"),
        ),
        ("$a[0]", 1, 3, unsupported("indexing (`[…]`)")),
        (
            "$p.Name = 'x'",
            1,
            3,
            unsupported("assigning to a property (`$name.Property = …`)"),
        ),
        (
            "$x = ($y = 1)",
            1,
            10,
            "unexpected `=`: an assignment is written `$name = <cmdlet or value>` at the start of a statement".to_owned(),
        ),
        (
            "$x = $function:f",
            1,
            6,
            format!(
                "the variable drive `$function:` is not supported; only `$env:NAME` is. Supported: {}",
                psh::SUPPORTED
            ),
        ),
        (
            "Write-Host \"${x}\"",
            1,
            13,
            format!(
                "braced variable names like `${{name}}` are not supported; write `$name`. Supported: {}",
                psh::SUPPORTED
            ),
        ),
        (
            "\"$(Get-A | Get-B)\"",
            1,
            10,
            unsupported("a pipeline of more than one command (`|`)"),
        ),
        ("\"$(Get-A; Get-B)\"", 1, 9, unsupported("several statements inside `$( … )`")),
        ("(Get-A; Get-B)", 1, 7, unsupported("several statements inside `( … )`")),
        (
            ".\\ExportAuthCert.ps1",
            1,
            1,
            format!(
                "running the script `.\\ExportAuthCert.ps1` from inside the shell is not supported; run a script file with `openhybrid shell FILE`. Supported: {}",
                psh::SUPPORTED
            ),
        ),
        (
            ". ./x.ps1",
            1,
            1,
            format!(
                "dot-sourcing (`. script.ps1`) is not supported; run a script file with `openhybrid shell FILE`. Supported: {}",
                psh::SUPPORTED
            ),
        ),
        (
            "Get-Mailbox | where {$_.Name -eq 'x'}",
            1,
            13,
            unsupported("a pipeline of more than one command (`|`)"),
        ),
        (
            "% { $_ }",
            1,
            1,
            format!(
                "`%` (ForEach-Object) is not supported: there are no pipelines here; pass values with -Param and read properties with .Name. Supported: {}",
                psh::SUPPORTED
            ),
        ),
    ];
    for (src, line, column, message) in cases {
        assert_eq!(
            parse_err(src),
            (*line, *column, message.clone()),
            "source: {src}"
        );
    }
}

#[test]
fn positional_arguments_name_the_cmdlet() {
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "Get-Mailbox alice bob",
            1,
            19,
            "positional argument `bob` given to Get-Mailbox: only one positional argument binds (to -Identity), and -Identity is already given; write it as Get-Mailbox -Param bob",
        ),
        (
            "New-MailUser -Name x 'y z'",
            1,
            22,
            "positional argument `'y z'` given to New-MailUser: this shell binds parameters by name only (a positional -Identity only for Get-, Set- and Remove- cmdlets); write it as New-MailUser -Param 'y z'",
        ),
        (
            "Set-MailUser -Identity $u.Identity -HiddenFromAddressListsEnabled:$true $u",
            1,
            73,
            "positional argument `$u` given to Set-MailUser: only one positional argument binds (to -Identity), and -Identity is already given; write it as Set-MailUser -Param $u",
        ),
        (
            "Get-AuthConfig (Get-A) (Get-B)",
            1,
            24,
            "positional argument `(…)` given to Get-AuthConfig: only one positional argument binds (to -Identity), and -Identity is already given; write it as Get-AuthConfig -Param (…)",
        ),
        (
            "Get-PartnerApplication SfBOnline -Identity SfBOnline",
            1,
            34,
            "the parameter -Identity is given twice to Get-PartnerApplication",
        ),
    ];
    for (src, line, column, message) in cases {
        assert_eq!(
            parse_err(src),
            (*line, *column, (*message).to_owned()),
            "source: {src}"
        );
    }
}

#[test]
fn malformed_input() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("$x = 'abc", 1, 6, "this string has no closing quote"),
        (
            "Get-A\n  -Name \"abc",
            2,
            9,
            "this string has no closing quote",
        ),
        (
            "Get-A <# never closed",
            1,
            7,
            "this block comment `<#` has no closing `#>`",
        ),
        ("$x = (Get-A", 1, 6, "this `(` has no closing `)`"),
        (
            "$x = (Get-A\nGet-B)",
            2,
            1,
            "expected `)` to close the `(` at line 1, column 6, found `Get-B`",
        ),
        ("Get-A)", 1, 6, "unexpected `)` without a matching `(`"),
        ("Get-A }", 1, 7, "unexpected `}` without a matching `{`"),
        (
            "$x = ()",
            1,
            6,
            "empty parentheses `()`: put a cmdlet or a value inside",
        ),
        (
            "$x =",
            1,
            4,
            "`$x =` needs a cmdlet or a value after the `=`",
        ),
        (
            "$x = ; Get-A",
            1,
            4,
            "`$x =` needs a cmdlet or a value after the `=`",
        ),
        (
            "$true = 1",
            1,
            1,
            "cannot assign to `$true`: it is a constant",
        ),
        (
            "$x $y",
            1,
            4,
            "unexpected `$y` after a value; a statement is one cmdlet with its -Param value pairs, or one value",
        ),
        (
            "'a' Get-A",
            1,
            5,
            "unexpected `Get-A` after a value; a statement is one cmdlet with its -Param value pairs, or one value",
        ),
        (
            "-Name x",
            1,
            1,
            "`-Name` is a parameter, but no cmdlet comes before it; write `Cmdlet -Name value`",
        ),
        (
            "Get-A -Name x -name y",
            1,
            15,
            "the parameter -name is given twice to Get-A",
        ),
        (
            "Get-A -Enabled:",
            1,
            7,
            "`-Enabled:` needs a value right after the colon, as in -Enabled:$false",
        ),
        (
            "\"$()\"",
            1,
            2,
            "empty `$()`: put a value inside, as in \"$($user.Identity)\"",
        ),
        ("md $env:SYSTEMDRIVE\\OAuthConfig", 1, 1, ""),
        (
            "Get-A -Path $env:SYSTEMDRIVE\\OAuthConfig",
            1,
            29,
            "`\\OAuthConfig` is joined to the value before it without a space; write the whole value as one double-quoted string: \"$env:SYSTEMDRIVE\\OAuthConfig\"",
        ),
        (
            "Get-A -Name pre$x",
            1,
            16,
            "`$x` is joined to the value before it without a space; write the whole value as one double-quoted string: \"pre$x\"",
        ),
    ];
    for (src, line, column, message) in cases {
        let (l, c, m) = parse_err(src);
        assert_eq!((l, c), (*line, *column), "source: {src}: {m}");
        if !message.is_empty() {
            assert_eq!(m, *message, "source: {src}");
        }
    }
}

#[test]
fn parse_error_display() {
    let e = psh::parse("Get-A\n  | Get-B").err();
    assert_eq!(
        e.map(|e| e.to_string()),
        Some(format!(
            "line 2, column 3: a pipeline of more than one command (`|`) is not supported. Supported: {}",
            psh::SUPPORTED
        ))
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}Get-A{}", "(".repeat(200), ")".repeat(200));
    let (l, c, m) = parse_err(&format!("$x = {deep}"));
    assert_eq!((l, c, m.as_str()), (1, 38, "parentheses nested too deeply"));
    let deep = format!("\"{}x{}\"", "$(\"".repeat(100), "\")".repeat(100));
    let (_, _, m) = parse_err(&deep);
    assert_eq!(m, "`$( … )` nested too deeply");
}

#[test]
fn runtime_errors_carry_positions_and_stop_the_script() {
    let mut host = FakeHost::default();
    let mut s = session();
    let (out, r) = run(
        "Write-Host before\n$u = New-MailUser -Name a\n  Fail-Me -Identity $u.Identity\nWrite-Host after",
        &mut s,
        &mut host,
    );
    assert_eq!(out, "before\n");
    assert_eq!(host.names(), ["New-MailUser", "Fail-Me"]);
    match r {
        Err(ShellError::Host {
            line,
            column,
            cmdlet,
            source,
        }) => {
            assert_eq!((line, column, cmdlet.as_str()), (3, 3, "Fail-Me"));
            assert_eq!(source.message, "the server refused: boom");
        }
        other => panic!("{other:?}"),
    }
    // The variable set before the failure stays set.
    assert!(s.variable("u").is_some());

    let (_, r) = run(
        "Set-MailUser -Identity $usr.Identity",
        &mut session(),
        &mut FakeHost::default(),
    );
    let e = r.err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("line 1, column 24: the variable $usr is not set")
    );

    let (_, r) = run(
        "$u = New-MailUser -Name a\nSet-MailUser -Identity $u.Identiy",
        &mut session(),
        &mut FakeHost::default(),
    );
    assert_eq!(
        r.err().map(|e| e.to_string()).as_deref(),
        Some(
            "line 2, column 26: the object has no property `Identiy`; its properties are ExternalEmailAddress, HiddenFromAddressListsEnabled, Identity, Name, RecipientTypeDetails"
        )
    );

    let (_, r) = run(
        "$n = Get-Nothing\n$n.Name",
        &mut session(),
        &mut FakeHost::default(),
    );
    assert_eq!(
        r.err().map(|e| e.to_string()).as_deref(),
        Some(
            "line 2, column 3: cannot read the property `Name` of $null (the value before `.Name` is empty)"
        )
    );

    let (_, r) = run(
        "Import-Module ActiveDirectory",
        &mut session(),
        &mut FakeHost::default(),
    );
    assert_eq!(
        r.err().map(|e| e.to_string()).as_deref(),
        Some(
            "line 1, column 1: Import-Module: the module `ActiveDirectory` is not available here; only MSOnline is (the Exchange cmdlets need no import)"
        )
    );

    let (_, r) = run(
        "Get-Date -Format o",
        &mut session(),
        &mut FakeHost::default(),
    );
    assert!(matches!(
        r,
        Err(ShellError::Runtime {
            line: 1,
            column: 10,
            ..
        })
    ));

    let (_, r) = run("Get-Unknown", &mut session(), &mut FakeHost::default());
    assert_eq!(
        r.err().map(|e| e.to_string()).as_deref(),
        Some(
            "line 1, column 1: Get-Unknown: The term 'Get-Unknown' is not recognized as a cmdlet of this lab"
        )
    );
}

#[test]
fn an_error_position_is_reported_uniformly() {
    let e = psh::ShellError::from(psh::parse("Get-A |").err().unwrap_or(psh::ParseError {
        line: 0,
        column: 0,
        message: String::new(),
    }));
    assert_eq!(e.position(), Some(psh::ast::Pos { line: 1, column: 7 }));
    let _ = json!(null);
}

#[test]
fn long_property_chains_are_bounded() {
    let src = format!("$x{}", ".a".repeat(10_000));
    let (l, c, m) = parse_err(&src);
    assert_eq!(
        (l, c, m.as_str()),
        (1, 3 + 2 * 32, "property chain too long")
    );
}

#[test]
fn no_prefix_of_the_seed_panics() {
    let text = concat!(
        "$user = New-MailUser -Name SfBOnline-ApplicationAccount -ExternalEmailAddress SfBOnline-ApplicationAccount@contoso.example -DomainController dc01\n",
        "$thumbprint = (Get-AuthConfig).CurrentCertificateThumbprint\n",
        "if((test-path $env:SYSTEMDRIVE\\OAuthConfig) -eq $false) {\n",
        "$oAuthCert = (dir Cert:\\LocalMachine\\My) | where {$_.Thumbprint -match $thumbprint}\n",
        "$certType = [System.Security.Cryptography.X509Certificates.X509ContentType]::Cert\n",
        "$CertFile = \"$env:SYSTEMDRIVE\\OAuthConfig\\OAuthCert.cer\"\n",
        "\"a $($u.Identity) `\"q`\" $(\"x $((Get-A).B)\")\" <# c #> 'it''s' @{a=1} @(1) $(x) `\n",
    );
    let chars: Vec<char> = text.chars().collect();
    for n in 0..=chars.len() {
        let prefix: String = chars[..n].iter().collect();
        let _ = psh::parse(&prefix);
        let _ = psh::needs_more_input(&prefix);
        let suffix: String = chars[n..].iter().collect();
        let _ = psh::parse(&suffix);
    }
}
