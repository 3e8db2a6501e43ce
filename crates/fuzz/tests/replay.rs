//! Replays every committed corpus file and every committed regression input through every
//! target. A panic anywhere fails the test, naming the file and the target. No timing thresholds:
//! slowness is the smoke run's business (`scripts/fuzz-smoke`).

use std::path::PathBuf;

use fuzz::runner::{self, Finding, Limits};
use fuzz::{TARGETS, targets};

fn all_inputs() -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for t in TARGETS {
        v.extend(runner::corpus(t));
        v.extend(runner::regressions(t));
    }
    v
}

fn crashes(inputs: &[(PathBuf, Vec<u8>)]) -> Vec<String> {
    targets::prepare();
    let limits = Limits::default();
    let mut out = Vec::new();
    for (path, bytes) in inputs {
        for t in TARGETS {
            if let Err(f @ Finding::Crash { .. }) = runner::execute(t, bytes, &limits).outcome {
                out.push(format!("{} through {}: {f}", path.display(), t.name));
            }
        }
    }
    out
}

#[test]
fn every_corpus_file_and_regression_input_survives_every_target() {
    let inputs = all_inputs();
    let per_target = TARGETS.iter().map(|t| runner::corpus(t).len()).min();
    assert!(
        per_target.is_some_and(|n| n >= 3),
        "every target needs a committed seed corpus"
    );
    let found = crashes(&inputs);
    assert!(
        found.is_empty(),
        "{} crash(es):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_seeds_reach_the_success_paths() {
    targets::prepare();
    let limits = Limits::default();
    let run = |target: &str, file: &str| {
        let t = fuzz::target(target).expect("target");
        let path = targets::crate_dir().join("corpus").join(target).join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        runner::execute(t, &bytes, &limits)
            .outcome
            .unwrap_or_else(|f| panic!("{file}: {f}"))
    };
    // the signed seeds match keys/sts.cer and the fixed policy
    assert!(run("token", "valid_user_context.jwt").contains("|ok|"));
    assert!(run("token", "valid_app_only.jwt").ends_with("|ok"));
    assert!(!run("token", "j1_actor_alg_None.jwt").contains("|ok|"));
    assert!(run("metadata", "acs_real.json").starts_with("ok|ok|ok"));
    assert_eq!(run("inspect", "bearer_user_context.txt"), "S2sUser|Valid");
    assert_eq!(run("har", "s2s_flow.har"), "ok");
    assert!(run("ews_request", "exchangelib_get_item_all_fields.xml").starts_with("ok "));
    assert_eq!(
        run("ews_request", "openhybrid_create_item_recurring.xml"),
        "ok CreateItem"
    );
    assert_eq!(
        run("ews_request", "openhybrid_update_occurrence.xml"),
        "ok UpdateItem"
    );
    assert_eq!(run("recurrence", "daily_no_end.xml"), "ok valid 3 open");
    // one a year: one in each 400-day window
    assert_eq!(run("recurrence", "relative_yearly.xml"), "ok valid 2 ends");
    assert!(run("send_notification", "send_notification_exchange.xml").starts_with("ok|"));
    assert_eq!(run("shell", "steps_2_3_filled.ps1"), "ok");
    assert_eq!(run("principal", "p01.txt"), "ok");
    assert_eq!(
        run("fx_item", "openhybrid_item_attachment.bin"),
        "ok 1 attachments, 1 items"
    );
    assert_eq!(
        run("fx_item", "openhybrid_message_with_attachments.bin"),
        "ok 2 attachments, 1 items"
    );
    assert_eq!(
        run("fx_item", "exchange_documented_example.bin"),
        "ok 0 attachments, 0 items"
    );
    assert_eq!(
        run("fx_item", "openhybrid_item_attachment_stream.bin"),
        "ok 1 attachments, 1 items"
    );
}

#[test]
fn a_panicking_input_is_reported_as_a_crash() {
    fn boom(input: &[u8]) -> String {
        assert!(!input.starts_with(b"boom"), "input starts with boom");
        "ok".into()
    }
    let t = fuzz::Target {
        name: "boom",
        kind: fuzz::targets::Kind::Text,
        max_len: 64,
        run: boom,
    };
    let limits = Limits::default();
    assert!(runner::execute(&t, b"fine", &limits).outcome.is_ok());
    match runner::execute(&t, b"boom and more", &limits).outcome {
        Err(Finding::Crash { message, .. }) => assert!(message.contains("boom"), "{message}"),
        other => panic!("expected a crash, got {other:?}"),
    }
    let small = runner::minimize(
        &t,
        b"xx boom yy",
        &Finding::Crash {
            message: String::new(),
            location: String::new(),
        },
        &limits,
        std::time::Duration::from_secs(5),
    );
    // "xx boom yy" does not start with boom, so it is not a crash and stays as it is
    assert_eq!(small, b"xx boom yy");
}
