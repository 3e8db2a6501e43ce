//! The `openhybrid` binary driven as a user would: the seed's lines through `shell`, then
//! `doctor`, `verify`, `inspect`, `trace`, `token`, and clear errors for bad input.

use std::path::Path;
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_openhybrid")
}

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("OPENHYBRID_DATA", data)
        .current_dir(data)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_through_shell_then_doctor_verify_inspect_trace() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab::start(dir.path(), (0, 0)).await.unwrap();
    let data = lab.info.data_dir.clone();
    let script = include_str!("fixtures/seed.ps1").replace(
        "{METADATA_URL}",
        &format!("{}/{}/metadata/json/1", lab.info.sts_url, lab.info.realm),
    );
    std::fs::write(data.join("seed.ps1"), script).unwrap();
    let o = tokio::task::block_in_place(|| run(&data, &["shell", "seed.ps1"]));
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // step 6's output: the key with the certificate's dates, PowerShell-style
    assert!(
        out.contains("Type")
            && out.contains("Asymmetric")
            && out.contains("Usage")
            && out.contains("Verify"),
        "{out}"
    );
    assert!(data.join("OAuthCert.cer").exists(), "step 4 wrote the file");

    let o = tokio::task::block_in_place(|| run(&data, &["doctor"]));
    assert_eq!(
        o.status.code(),
        Some(0),
        "doctor after the shell steps:\n{}",
        text(&o)
    );
    let o = tokio::task::block_in_place(|| run(&data, &["verify"]));
    assert_eq!(o.status.code(), Some(0), "verify:\n{}", text(&o));
    let v = text(&o);
    for check in [
        "voicemail greeting",
        "conversation history",
        "archiving to Purges",
        "traffic",
        "calendar presence",
    ] {
        assert!(v.contains(check), "{check} missing: {v}");
    }

    // a token, inspected against the metadata: VALID; against nothing: NOT CHECKED; tampered: INVALID
    let o =
        tokio::task::block_in_place(|| run(&data, &["token", "--user", "alice@contoso.example"]));
    assert!(o.status.success(), "{}", text(&o));
    let token = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    let md = format!("{}/{}/metadata/json/1", lab.info.sts_url, lab.info.realm);
    let o = tokio::task::block_in_place(|| run(&data, &["inspect", "--metadata", &md, &token]));
    assert!(
        o.status.success() && text(&o).contains("signature VALID"),
        "{}",
        text(&o)
    );
    let o = tokio::task::block_in_place(|| run(&data, &["inspect", &token]));
    assert!(
        text(&o).contains("NOT CHECKED") && !text(&o).contains("VALID against"),
        "{}",
        text(&o)
    );
    // flip a byte of the actor's signature inside the outer token's claims
    let actor = {
        let c = s2s_proto::jwt::Compact::parse(&token).unwrap();
        c.claims["actortoken"].as_str().unwrap().to_owned()
    };
    let (head, sig) = actor.rsplit_once('.').unwrap();
    let mut raw = s2s_proto::b64::url_decode(sig).unwrap();
    raw[3] ^= 0x40;
    let forged_actor = format!("{head}.{}", s2s_proto::b64::url_encode(raw));
    let mut claims = s2s_proto::jwt::Compact::parse(&token).unwrap().claims;
    claims.insert("actortoken".into(), forged_actor.into());
    let forged = s2s_proto::jwt::unsigned(&claims);
    let o = tokio::task::block_in_place(|| run(&data, &["inspect", "--metadata", &md, &forged]));
    assert!(
        !o.status.success() && text(&o).contains("INVALID"),
        "{}",
        text(&o)
    );

    // trace shows the S2S calls with the actor and no Basic
    let o = tokio::task::block_in_place(|| run(&data, &["trace"]));
    let t = text(&o);
    assert!(
        o.status.success() && t.contains("0 Basic") && t.contains("00000004-"),
        "{t}"
    );
    assert!(!t.contains(&token), "trace never prints a whole token");
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // no lab there
    let o = run(dir.path(), &["doctor"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("openhybrid up --data"), "{}", text(&o));
    // a positional value where a parameter name belongs
    let o = run(dir.path(), &["exchange", "Get-Mailbox", "alice"]);
    assert!(!o.status.success());
    // something that is not a token
    let o = run(dir.path(), &["inspect", "not-a-token"]);
    assert!(!o.status.success());
}
