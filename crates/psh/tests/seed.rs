//! The seed's PowerShell, verbatim once its placeholders are filled, against a recording host.

mod common;

use common::*;
use psh::{ShellError, run_line};
use serde_json::{Value, json};

/// Steps 2 and 3 of the procedure, as printed (placeholders unfilled).
const STEPS_2_3: &str = "\
$user = New-MailUser -Name SfBOnline-ApplicationAccount -ExternalEmailAddress SfBOnline-ApplicationAccount@<your Verified Domain> -DomainController <DomainControllerFQDN>
Set-MailUser -Identity $user.Identity -HiddenFromAddressListsEnabled $True -DomainController <DomainControllerFQDN>
New-ManagementRoleAssignment -Role UserApplication -User $user.Identity -DomainController <DomainControllerFQDN>
New-ManagementRoleAssignment -Role ArchiveApplication -User $user.Identity -DomainController <DomainControllerFQDN>
New-PartnerApplication -Name SfBOnline -ApplicationIdentifier 00000004-0000-0ff1-ce00-000000000000 -Enabled $True -LinkedAccount $user.Identity
";

/// Step 4's ExportAuthCert.ps1, as printed.
const EXPORT_AUTH_CERT_PS1: &str = r#"$thumbprint = (Get-AuthConfig).CurrentCertificateThumbprint
if((test-path $env:SYSTEMDRIVE\OAuthConfig) -eq $false) {
    md $env:SYSTEMDRIVE\OAuthConfig
cd $env:SYSTEMDRIVE\OAuthConfig
$oAuthCert = (dir Cert:\LocalMachine\My) | where {$_.Thumbprint -match $thumbprint}
$certType = [System.Security.Cryptography.X509Certificates.X509ContentType]::Cert
$certBytes = $oAuthCert.Export($certType)
$CertFile = "$env:SYSTEMDRIVE\OAuthConfig\OAuthCert.cer"
[System.IO.File]::WriteAllBytes($CertFile, $certBytes)
"#;

/// Step 5's UploadAuthCert.ps1, as printed (indented as in the procedure).
const UPLOAD_AUTH_CERT_PS1: &str = r#"    Import-Module MSOnline
    $CertFile = "$env:SYSTEMDRIVE\OAuthConfig\OAuthCert.cer"
    $objFSO = New-Object -ComObject Scripting.FileSystemObject
    $CertFile = $objFSO.GetAbsolutePathName($CertFile);
    $cer = New-Object System.Security.Cryptography.X509Certificates.X509Certificate
    $binCert = $cer.GetRawCertData();
    $credValue = [System.Convert]::ToBase64String($binCert)
    $ServiceName = "00000004-0000-0ff1-ce00-000000000000"
    $p = Get-MsolServicePrincipal -ServicePrincipalName $ServiceName
    New-MsolServicePrincipalCredential -AppPrincipalId $p.AppPrincipalId -Type asymmetric -Usage Verify -Value $credValue"#;

/// Step 6, as printed.
const STEP_6: &str =
    "    Get-MsolServicePrincipalCredential -AppPrincipalId 00000004-0000-0ff1-ce00-000000000000";

/// The translation of step 4's script (see the crate documentation).
const STEP_4_TRANSLATED: &str = "Export-ExchangeCertificate -Thumbprint (Get-AuthConfig).CurrentCertificateThumbprint -BinaryEncoded -FileName OAuthCert.cer";

/// The translation of step 5's .NET lines.
const STEP_5_TRANSLATED: &str = "$credValue = Get-AuthCertificateBase64 -FileName OAuthCert.cer";

fn fill(s: &str) -> String {
    s.replace("<your Verified Domain>", "contoso.example")
        .replace("<DomainControllerFQDN>", "dc01.contoso.example")
}

fn line_of(script: &str, n: usize) -> &str {
    script.lines().nth(n - 1).unwrap_or_default()
}

const DC: &str = "dc01.contoso.example";

#[test]
fn the_whole_procedure_line_by_line() {
    let mut session = session();
    let mut host = FakeHost::default();
    let mut out = Vec::new();
    let upload = UPLOAD_AUTH_CERT_PS1;
    let lines: Vec<String> = fill(STEPS_2_3)
        .lines()
        .map(str::to_owned)
        .chain([
            line_of(EXPORT_AUTH_CERT_PS1, 1).to_owned(),
            STEP_4_TRANSLATED.to_owned(),
            line_of(upload, 1).to_owned(),
            "Connect-MsolService".to_owned(),
            line_of(upload, 2).to_owned(),
            STEP_5_TRANSLATED.to_owned(),
            line_of(upload, 8).to_owned(),
            line_of(upload, 9).to_owned(),
            line_of(upload, 10).to_owned(),
            STEP_6.to_owned(),
        ])
        .collect();
    for line in &lines {
        if let Err(e) = block_on(run_line(line, &mut session, &mut host, &mut out)) {
            panic!("{line:?}: {e}");
        }
    }
    let expected = vec![
        (
            "New-MailUser",
            json!({"Name": "SfBOnline-ApplicationAccount", "ExternalEmailAddress": "SfBOnline-ApplicationAccount@contoso.example", "DomainController": DC}),
        ),
        (
            "Set-MailUser",
            json!({"Identity": IDENTITY, "HiddenFromAddressListsEnabled": true, "DomainController": DC}),
        ),
        (
            "New-ManagementRoleAssignment",
            json!({"Role": "UserApplication", "User": IDENTITY, "DomainController": DC}),
        ),
        (
            "New-ManagementRoleAssignment",
            json!({"Role": "ArchiveApplication", "User": IDENTITY, "DomainController": DC}),
        ),
        (
            "New-PartnerApplication",
            json!({"Name": "SfBOnline", "ApplicationIdentifier": SKYPE, "Enabled": true, "LinkedAccount": IDENTITY}),
        ),
        ("Get-AuthConfig", json!({})),
        ("Get-AuthConfig", json!({})),
        (
            "Export-ExchangeCertificate",
            json!({"Thumbprint": THUMBPRINT, "BinaryEncoded": true, "FileName": "OAuthCert.cer"}),
        ),
        ("Connect-MsolService", json!({})),
        (
            "Get-AuthCertificateBase64",
            json!({"FileName": "OAuthCert.cer"}),
        ),
        (
            "Get-MsolServicePrincipal",
            json!({"ServicePrincipalName": SKYPE}),
        ),
        (
            "New-MsolServicePrincipalCredential",
            json!({"AppPrincipalId": SKYPE, "Type": "asymmetric", "Usage": "Verify", "Value": CERT_B64}),
        ),
        (
            "Get-MsolServicePrincipalCredential",
            json!({"AppPrincipalId": SKYPE}),
        ),
    ];
    let got: Vec<(&str, Value)> = host
        .calls
        .iter()
        .map(|(n, p)| (n.as_str(), p.clone()))
        .collect();
    assert_eq!(got, expected);

    // Variables the seed's lines set, read back case-insensitively.
    assert_eq!(
        session.variable("USER").map(|u| &u["Identity"]),
        Some(&json!(IDENTITY))
    );
    assert_eq!(session.variable("Thumbprint"), Some(&json!(THUMBPRINT)));
    assert_eq!(
        session.variable("certfile"),
        Some(&json!(r"C:\OAuthConfig\OAuthCert.cer"))
    );
    assert_eq!(session.variable("credValue"), Some(&json!(CERT_B64)));

    // What the administrator sees: the role assignments, the partner application, the export
    // and the uploaded key, in Format-List style; assignments print nothing.
    let out = String::from_utf8_lossy(&out);
    assert_eq!(
        out,
        "\
Name             : UserApplication-SfBOnline-ApplicationAccount
Role             : UserApplication
RoleAssigneeName : SfBOnline-ApplicationAccount

Name             : ArchiveApplication-SfBOnline-ApplicationAccount
Role             : ArchiveApplication
RoleAssigneeName : SfBOnline-ApplicationAccount

ApplicationIdentifier : 00000004-0000-0ff1-ce00-000000000000
Enabled               : True
LinkedAccount         : contoso.example/Users/SfBOnline-ApplicationAccount
Name                  : SfBOnline

FileName   : OAuthCert.cer
Thumbprint : 3F2A9C0B7D5E41A6B8C2D9E0F1A2B3C4D5E6F708

EndDate   : 2031-05-01T12:00:00Z
KeyId     : 7d2c3f4e-0000-4000-8000-000000000001
StartDate : 2026-05-01T12:00:00Z
Type      : Asymmetric
Usage     : Verify
Value     : 
"
    );
}

#[test]
fn steps_2_and_3_as_one_script_separate_objects_with_blank_lines() {
    let (out, calls) = run_ok(&fill(STEPS_2_3));
    assert_eq!(calls.len(), 5);
    assert!(out.contains(
        "RoleAssigneeName : SfBOnline-ApplicationAccount\n\nName             : ArchiveApplication"
    ));
    assert!(out.contains("SfBOnline-ApplicationAccount\n\nApplicationIdentifier"));
}

#[test]
fn thumbprint_expression_yields_the_hosts_value() {
    let (out, calls) = run_ok("(Get-AuthConfig).CurrentCertificateThumbprint");
    assert_eq!(out, format!("{THUMBPRINT}\n"));
    assert_eq!(calls, vec![("Get-AuthConfig".to_owned(), json!({}))]);
    let (out, _) = run_ok(&format!(
        "{}\n$thumbprint\n$p = Get-MsolServicePrincipal -ServicePrincipalName {SKYPE}\n$p.AppPrincipalId",
        line_of(EXPORT_AUTH_CERT_PS1, 1)
    ));
    assert_eq!(out, format!("{THUMBPRINT}\n{SKYPE}\n"));
}

#[test]
fn the_value_may_be_a_parenthesised_cmdlet() {
    let (_, calls) = run_ok(
        "New-MsolServicePrincipalCredential -AppPrincipalId (Get-MsolServicePrincipal -ServicePrincipalName 00000004-0000-0ff1-ce00-000000000000).AppPrincipalId -Type asymmetric -Usage Verify -Value (Get-AuthCertificateBase64 -FileName OAuthCert.cer)",
    );
    assert_eq!(
        calls.last(),
        Some(&(
            "New-MsolServicePrincipalCredential".to_owned(),
            json!({"AppPrincipalId": SKYPE, "Type": "asymmetric", "Usage": "Verify", "Value": CERT_B64})
        ))
    );
}

#[test]
fn export_script_is_rejected_before_anything_runs() {
    let mut host = FakeHost::default();
    let (out, r) = run(EXPORT_AUTH_CERT_PS1, &mut session(), &mut host);
    assert_eq!(out, "");
    assert!(
        host.calls.is_empty(),
        "nothing runs when the script does not parse"
    );
    let Err(ShellError::Parse(e)) = r else {
        panic!("{r:?}")
    };
    assert_eq!((e.line, e.column), (2, 1));
    assert_eq!(e.message, unsupported("the `if` keyword"));
}

const NO_FILES: &str = ": this shell has no file system or certificate drive; export the auth certificate with `Export-ExchangeCertificate -Thumbprint (Get-AuthConfig).CurrentCertificateThumbprint -BinaryEncoded -FileName OAuthCert.cer`";
const NO_CODE: &str = ": .NET, COM and script code are not available here; the seed's certificate scripts are the cmdlets Export-ExchangeCertificate and Get-AuthCertificateBase64 (see the psh documentation)";

fn with_hint(what: &str, hint: &str) -> String {
    format!(
        "{what} is not supported{hint}. Supported: {}",
        psh::SUPPORTED
    )
}

#[test]
fn every_line_of_the_export_script() {
    let s = EXPORT_AUTH_CERT_PS1;
    // Line 1 and line 8 are in the subset.
    assert!(psh::parse(line_of(s, 1)).is_ok());
    let (out, _) = run_ok(&format!("{}\n$CertFile", line_of(s, 8)));
    assert_eq!(out, "C:\\OAuthConfig\\OAuthCert.cer\n");
    let cases: &[(usize, usize, usize, String)] = &[
        (2, 1, 1, unsupported("the `if` keyword")),
        (3, 1, 5, with_hint("`md` (New-Item)", NO_FILES)),
        (4, 1, 1, with_hint("`cd` (Set-Location)", NO_FILES)),
        (5, 1, 15, with_hint("`dir` (Get-ChildItem)", NO_FILES)),
        (
            6,
            1,
            13,
            unsupported(
                "the type literal `[System.Security.Cryptography.X509Certificates.X509ContentType]` (types, casts and static calls)",
            ),
        ),
        (7, 1, 31, unsupported("method calls (`.Export(…)`)")),
        (
            9,
            1,
            1,
            unsupported("the type literal `[System.IO.File]` (types, casts and static calls)"),
        ),
    ];
    for (n, line, column, message) in cases {
        assert_eq!(
            parse_err(line_of(s, *n)),
            (*line, *column, message.clone()),
            "line {n}: {}",
            line_of(s, *n)
        );
    }
}

#[test]
fn every_line_of_the_upload_script() {
    let s = UPLOAD_AUTH_CERT_PS1;
    for n in [1, 2, 8, 9, 10] {
        if let Err(e) = psh::parse(line_of(s, n)) {
            panic!("line {n}: {e}");
        }
    }
    let cases: &[(usize, usize, String)] = &[
        (3, 15, with_hint("`New-Object`", NO_CODE)),
        (
            4,
            44,
            unsupported("method calls (`.GetAbsolutePathName(…)`)"),
        ),
        (5, 12, with_hint("`New-Object`", NO_CODE)),
        (6, 35, unsupported("method calls (`.GetRawCertData(…)`)")),
        (
            7,
            18,
            unsupported("the type literal `[System.Convert]` (types, casts and static calls)"),
        ),
    ];
    for (n, column, message) in cases {
        assert_eq!(
            parse_err(line_of(s, *n)),
            (1, *column, message.clone()),
            "line {n}: {}",
            line_of(s, *n)
        );
    }
    // As a whole script, the first .NET line stops it before anything runs.
    let mut host = FakeHost::default();
    let (_, r) = run(s, &mut session(), &mut host);
    assert!(host.calls.is_empty());
    let Err(ShellError::Parse(e)) = r else {
        panic!("{r:?}")
    };
    assert_eq!((e.line, e.column), (3, 15));
}

#[test]
fn the_translated_upload_script_runs() {
    let s = UPLOAD_AUTH_CERT_PS1;
    let script = [
        line_of(s, 1),
        "    Connect-MsolService",
        line_of(s, 2),
        STEP_5_TRANSLATED,
        line_of(s, 8),
        line_of(s, 9),
        line_of(s, 10),
    ]
    .join("\n");
    let (out, calls) = run_ok(&script);
    assert_eq!(out, "");
    let names: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Connect-MsolService",
            "Get-AuthCertificateBase64",
            "Get-MsolServicePrincipal",
            "New-MsolServicePrincipalCredential"
        ]
    );
}
