//! The `openhybrid` binary's handling of bad and unusual input, driven as a user would: each
//! check is one defect a reviewer found (data loss, ignored parameters, misleading errors,
//! panics on a closed pipe, …) and what the command does now.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_openhybrid")
}

fn run_in(data: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("OPENHYBRID_DATA", data)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn run(data: &Path, args: &[&str]) -> Output {
    run_in(data, data, args)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the command with its standard output closed before it writes anything (`| head`).
fn run_stdout_closed(data: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .env("OPENHYBRID_DATA", data)
        .current_dir(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// A check that records its failure (labelled with the defect's number) instead of stopping,
/// so one run shows every defect that is back.
macro_rules! check {
    ($item:expr, $fails:ident, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            $fails.push(format!("[defect {}] {}", $item, format!($($msg)+)));
        }
    };
}

const EXCHANGE_APP: &str = "00000002-0000-0ff1-ce00-000000000000";
const SKYPE_APP: &str = "00000004-0000-0ff1-ce00-000000000000";

fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defects_found_in_review_stay_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab::start(dir.path(), (0, 0)).await.unwrap();
    let data = lab.info.data_dir.clone();
    let d = data.as_path();
    let mut fails: Vec<String> = Vec::new();
    let mut item = "12";

    // 12: setup with its standard output closed finishes every step and does not panic
    let o = block(|| run_stdout_closed(d, &["setup"]));
    check!(
        item,
        fails,
        o.status.success(),
        "setup | head: {}",
        text(&o)
    );
    check!(item, fails, !text(&o).contains("panicked"), "{}", text(&o));
    let o = block(|| run(d, &["doctor"]));
    check!(
        item,
        fails,
        o.status.code() == Some(0),
        "all six steps ran:\n{}",
        text(&o)
    );
    let o = block(|| run_stdout_closed(d, &["trace"]));
    check!(
        item,
        fails,
        o.status.success() && !text(&o).contains("panicked"),
        "trace | head: {}",
        text(&o)
    );

    item = "1";
    // 1: an empty SPN list is refused and changes nothing
    let spns = |d: &Path| {
        let o = run(
            d,
            &[
                "msol",
                "Get-MsolServicePrincipal",
                "-AppPrincipalId",
                EXCHANGE_APP,
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let before = block(|| spns(d));
    check!(
        item,
        fails,
        before.contains("/mail.contoso.example"),
        "{before}"
    );
    for empty in ["", " ", "$null"] {
        let o = block(|| {
            run(
                d,
                &[
                    "msol",
                    "Set-MsolServicePrincipal",
                    "-AppPrincipalId",
                    EXCHANGE_APP,
                    "-ServicePrincipalNames",
                    empty,
                ],
            )
        });
        check!(
            item,
            fails,
            !o.status.success(),
            "{empty:?} accepted: {}",
            text(&o)
        );
        check!(
            item,
            fails,
            text(&o).contains("-ServicePrincipalNames is")
                && text(&o).contains("nothing was changed"),
            "{}",
            text(&o)
        );
    }
    check!(
        item,
        fails,
        block(|| spns(d)) == before,
        "the SPNs are unchanged"
    );
    // … and the OAuth article's array form works in the shell
    let o = block(|| {
        run(
            d,
            &[
                "shell",
                "-c",
                &format!(
                    "$p = Get-MsolServicePrincipal -AppPrincipalId {EXCHANGE_APP}\n\
                     $p.ServicePrincipalNames.Add(\"{EXCHANGE_APP}/mail2.contoso.example\")\n\
                     Set-MsolServicePrincipal -AppPrincipalId {EXCHANGE_APP} -ServicePrincipalNames $p.ServicePrincipalNames"
                ),
            ],
        )
    });
    check!(item, fails, o.status.success(), "{}", text(&o));
    let after = block(|| spns(d));
    check!(
        item,
        fails,
        after.contains("/mail2.contoso.example") && after.contains("/mail.contoso.example"),
        "{after}"
    );

    item = "2";
    // 2: unknown and misspelled MSOnline parameters are refused, naming the valid ones
    let cred = |extra: &[&str]| {
        let mut a = vec![
            "msol",
            "New-MsolServicePrincipalCredential",
            "-AppPrincipalId",
            SKYPE_APP,
            "-Value",
            "AAAA",
        ];
        a.extend_from_slice(extra);
        block(|| run(d, &a))
    };
    let o = cred(&["-Type", "asymmetric", "-Usgae", "Verify"]);
    check!(
        item,
        fails,
        !o.status.success()
            && text(&o).contains("'Usgae'")
            && text(&o).contains("Supported: -AppPrincipalId -Type -Usage"),
        "{}",
        text(&o)
    );
    let o = cred(&["-Type", "asymmetric", "-Bogus", "1"]);
    check!(
        item,
        fails,
        !o.status.success() && text(&o).contains("'Bogus'"),
        "{}",
        text(&o)
    );
    let o = cred(&["-Usage", "Verify"]);
    check!(
        item,
        fails,
        !o.status.success()
            && text(&o).contains("the parameter -Type is required")
            && !text(&o).contains("JSON"),
        "{}",
        text(&o)
    );
    let o = block(|| {
        run(
            d,
            &[
                "shell",
                "-c",
                &format!("Get-MsolServicePrincipalCredential -AppPrincipalId {SKYPE_APP} -Bogus 1"),
            ],
        )
    });
    check!(
        item,
        fails,
        !o.status.success() && text(&o).contains("'Bogus'"),
        "{}",
        text(&o)
    );

    item = "3";
    // 3: a token for no user, or for something that is not an address, is refused
    for bad in [
        "",
        "not an email",
        "alice",
        "@contoso.example",
        "alice@localhost",
    ] {
        let o = block(|| run(d, &["token", "--user", bad]));
        check!(
            item,
            fails,
            !o.status.success()
                && o.stdout.is_empty()
                && text(&o).contains("is not a user")
                && text(&o).contains("alice@contoso.example"),
            "{bad:?}: {}",
            text(&o)
        );
    }
    let o = block(|| {
        run(
            d,
            &["token", "--user", "alice@contoso.example", "--app-only"],
        )
    });
    check!(
        item,
        fails,
        !o.status.success() && text(&o).contains("cannot be used with"),
        "{}",
        text(&o)
    );

    item = "4";
    // 4: a parameter given twice on the command line is refused, and nothing is created
    let o = block(|| {
        run(
            d,
            &[
                "exchange",
                "New-Mailbox",
                "-Name",
                "Carol",
                "-Name",
                "Dave",
                "-PrimarySmtpAddress",
                "dave@contoso.example",
            ],
        )
    });
    check!(
        item,
        fails,
        !o.status.success() && text(&o).contains("the parameter -Name is given twice"),
        "{}",
        text(&o)
    );
    let o = block(|| {
        run(
            d,
            &[
                "exchange",
                "Get-Mailbox",
                "-Identity",
                "dave@contoso.example",
            ],
        )
    });
    check!(
        item,
        fails,
        !o.status.success(),
        "no mailbox was created: {}",
        text(&o)
    );

    item = "5";
    // 5: dates: a plain ISO 8601 date and (Get-Date) are dates; Unix seconds are not. (The
    // date binds, then Set-AuthConfig asks for the next certificate it would date.)
    for ok in ["2026-11-27", "(Get-Date)", "2026-11-27T09:00:00Z"] {
        let o = block(|| {
            run(
                d,
                &[
                    "exchange",
                    "Set-AuthConfig",
                    "-NewCertificateEffectiveDate",
                    ok,
                ],
            )
        });
        check!(
            item,
            fails,
            text(&o).contains("give -NewCertificateThumbprint") && !text(&o).contains("not a date"),
            "{ok}: {}",
            text(&o)
        );
    }
    let o = block(|| {
        run(
            d,
            &[
                "exchange",
                "Set-AuthConfig",
                "-NewCertificateEffectiveDate",
                "1795683600",
            ],
        )
    });
    check!(
        item,
        fails,
        !o.status.success() && text(&o).contains("Unix seconds are not accepted"),
        "{}",
        text(&o)
    );

    item = "7";
    // 7: Test-OAuthConnectivity -Service Generic is Exchange's F2 test
    let o = block(|| {
        run(
            d,
            &[
                "shell",
                "-c",
                "Test-OAuthConnectivity -Service Generic -TargetUri https://sfb.contoso.example/ -Mailbox alice@contoso.example",
            ],
        )
    });
    check!(
        item,
        fails,
        text(&o).contains("Checking Generic API Call Under Oauth"),
        "{}",
        text(&o)
    );
    let o = block(|| run(d, &["shell", "-c", "Test-OAuthConnectivity -Service Foo"]));
    check!(
        item,
        fails,
        !o.status.success()
            && text(&o).contains("-Service EWS")
            && text(&o).contains("-Service Generic"),
        "{}",
        text(&o)
    );

    item = "8";
    // 8: the article's export path: C:\ is the shell's working directory
    let work = data.join("work");
    std::fs::create_dir(&work).unwrap();
    let o = block(|| {
        run_in(
            d,
            &work,
            &[
                "shell",
                "-c",
                "Export-ExchangeCertificate -Thumbprint (Get-AuthConfig).CurrentCertificateThumbprint -BinaryEncoded -FileName \"$env:SYSTEMDRIVE\\OAuthConfig\\OAuthCert.cer\"\n\
                 $v = Get-AuthCertificateBase64 -FileName C:\\OAuthConfig\\OAuthCert.cer\n\
                 \"length $($v.Length)\"",
            ],
        )
    });
    let cer = work.join("OAuthConfig").join("OAuthCert.cer");
    check!(item, fails, o.status.success(), "{}", text(&o));
    check!(item, fails, cer.is_file(), "{}", text(&o));
    check!(
        item,
        fails,
        text(&o).contains(&format!("wrote {}", cer.display())),
        "{}",
        text(&o)
    );
    check!(item, fails, text(&o).contains("length "), "{}", text(&o));

    item = "10";
    // 10: --list lists each party's cmdlets
    for (party, has) in [
        ("exchange", "Get-PartnerApplication -Identity"),
        ("skype", "Enable-CsUser"),
        (
            "msol",
            "Set-MsolServicePrincipal -AppPrincipalId -ServicePrincipalNames",
        ),
    ] {
        let o = block(|| run(d, &[party, "--list"]));
        check!(
            item,
            fails,
            o.status.success() && text(&o).contains(has),
            "{party}: {}",
            text(&o)
        );
    }
    let o = block(|| run(d, &["msol", "Get-MsolFoo"]));
    check!(
        item,
        fails,
        text(&o).contains("openhybrid msol --list"),
        "{}",
        text(&o)
    );

    item = "11";
    // 11: the cmdlet is named once; a positional argument is the -Identity
    let o = block(|| {
        run(
            d,
            &[
                "exchange",
                "Set-PartnerApplication",
                "-Identity",
                "SfBOnline",
                "-Bogus",
                "1",
            ],
        )
    });
    check!(
        item,
        fails,
        text(&o).matches("Set-PartnerApplication:").count() == 1,
        "{}",
        text(&o)
    );
    let o = block(|| {
        run(
            d,
            &[
                "shell",
                "-c",
                "Set-PartnerApplication -Identity SfBOnline -Bogus 1",
            ],
        )
    });
    check!(
        item,
        fails,
        text(&o).matches("Set-PartnerApplication:").count() == 1,
        "{}",
        text(&o)
    );
    let o = block(|| run(d, &["shell", "-c", "Set-AuthConfig -Bogus 1"]));
    check!(
        item,
        fails,
        text(&o).matches("Set-AuthConfig:").count() == 1,
        "{}",
        text(&o)
    );
    for args in [
        &["shell", "-c", "Get-PartnerApplication SfBOnline"][..],
        &["exchange", "Get-PartnerApplication", "SfBOnline"],
    ] {
        let o = block(|| run(d, args));
        check!(
            item,
            fails,
            o.status.success() && text(&o).contains(SKYPE_APP),
            "{args:?}: {}",
            text(&o)
        );
    }

    item = "6";
    // 6: setup against a lab whose services are down says which and what to do
    let down = data.join("down");
    std::fs::create_dir(&down).unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("lab.json")).unwrap()).unwrap();
    for k in ["sts_url", "exchange_url", "skype_url"] {
        info[k] = format!("http://127.0.0.1:{closed}").into();
    }
    std::fs::File::create(down.join("lab.json"))
        .unwrap()
        .write_all(info.to_string().as_bytes())
        .unwrap();
    let o = block(|| run(&down, &["setup", "--data", down.to_str().unwrap()]));
    check!(item, fails, o.status.code() == Some(1), "{}", text(&o));
    check!(
        item,
        fails,
        text(&o).contains(&format!("not reachable at http://127.0.0.1:{closed}"))
            && text(&o).contains("openhybrid up --data"),
        "{}",
        text(&o)
    );
    drop(lab);
    let _ = item;
    assert!(
        fails.is_empty(),
        "{} check(s) failed:\n{}",
        fails.len(),
        fails.join("\n---\n")
    );
}

#[test]
fn missing_files_are_not_read_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 9: a path that does not exist is "no such file", not a malformed token or HAR
    for args in [
        &["inspect", "/tmp/x/nonexistent.tok"][..],
        &["inspect", "nonexistent.jwt"],
        &["trace", "--har", "/nonexistent.har"],
    ] {
        let o = run(d, args);
        assert!(
            !o.status.success() && text(&o).contains("no such file"),
            "{args:?}: {}",
            text(&o)
        );
    }
    // a literal token still is one
    let o = run(d, &["inspect", "eyJhbGciOiJub25lIn0.e30."]);
    assert!(
        !text(&o).contains("no such file") && text(&o).contains("alg none"),
        "{}",
        text(&o)
    );
}

#[test]
fn help_says_what_the_commands_do() {
    let d = Path::new(".");
    // 13
    let o = run(d, &["up", "--help"]);
    assert!(text(&o).contains("Skype Online"), "{}", text(&o));
    let o = run(d, &["shell", "--help"]);
    for s in [
        "ExportAuthCert.ps1",
        "UploadAuthCert.ps1",
        "Export-ExchangeCertificate -Thumbprint (Get-AuthConfig).CurrentCertificateThumbprint",
        "Get-AuthCertificateBase64",
        "C:\\OAuthConfig\\OAuthCert.cer",
    ] {
        assert!(text(&o).contains(s), "{s} missing: {}", text(&o));
    }
    let o = run(d, &["exchange", "--help"]);
    assert!(text(&o).contains("--list"), "{}", text(&o));
}

/// `inspect --metadata https://…` against a lab started with --tls: trusting the lab CA with
/// --ca verifies the token; without it the refusal says how. Regression: "invalid peer
/// certificate: UnknownIssuer" with no way to trust the lab CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_fetches_tls_metadata_with_the_lab_ca() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab::start_with(
        dir.path(),
        lab::LabOptions {
            tls: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    lab::steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    let token = lab::client::mint_f1(&lab.info, Some("alice@contoso.example"))
        .await
        .unwrap();
    let md = format!("{}/{}/metadata/json/1", lab.info.sts_url, lab.info.realm);
    assert!(md.starts_with("https://"), "{md}");
    let d = lab.info.data_dir.clone();
    let ca = d.join("tls").join("lab-ca.pem");
    let o = block(|| {
        run(
            &d,
            &[
                "inspect",
                &token,
                "--metadata",
                &md,
                "--ca",
                ca.to_str().unwrap(),
            ],
        )
    });
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("signature VALID"), "{}", text(&o));
    let o = block(|| run(&d, &["inspect", &token, "--metadata", &md]));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("--ca DIR/tls/lab-ca.pem"), "{}", text(&o));
}

/// A Remove- cmdlet shows nothing, as PowerShell does. Regression: it printed `""`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_msol_credential_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab::start(dir.path(), (0, 0)).await.unwrap();
    lab::steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    let d = lab.info.data_dir.clone();
    let o = block(|| {
        run(
            &d,
            &[
                "msol",
                "Get-MsolServicePrincipalCredential",
                "-AppPrincipalId",
                SKYPE_APP,
            ],
        )
    });
    assert!(o.status.success(), "{}", text(&o));
    let key_id = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim() == "KeyId")
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no KeyId in {}", text(&o)));
    let o = block(|| {
        run(
            &d,
            &[
                "msol",
                "Remove-MsolServicePrincipalCredential",
                "-AppPrincipalId",
                SKYPE_APP,
                "-KeyIds",
                &key_id,
            ],
        )
    });
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "",
        "{}",
        text(&o)
    );
}
