//! Table-driven negative tests for every hostile input of security.md §3.
//! Each case asserts the precise error variant (or, for prefix games, that
//! the rebound element is *not* taken for the EWS namespace).

mod common;

#[test]
fn every_hostile_input_gets_its_precise_outcome() {
    let cases = common::cases();
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = case.run();
        if !(case.check)(&outcome) {
            failures.push(format!(
                "{}: got {:?}",
                case.name,
                outcome.map(|r| r.operation)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        cases.len() >= 60,
        "the table shrank to {} cases",
        cases.len()
    );
}

#[test]
fn rejections_map_to_schema_validation_or_the_right_code() {
    use ews_proto::EwsProtoError as E;
    for case in common::cases() {
        if let Err(e) = case.run() {
            let expected = match &e {
                E::UnsupportedServerVersion { .. } => "ErrorInvalidServerVersion",
                E::InputTooLarge { .. }
                | E::NotAnEwsOperation { .. }
                | E::MustUnderstandHeader { .. } => "ErrorInvalidRequest",
                _ => "ErrorSchemaValidation",
            };
            assert_eq!(e.response_code(), expected, "{}: {e}", case.name);
            // Messages never echo more than a short prefix of hostile input.
            assert!(
                e.to_string().len() < 600,
                "{}: message too long: {} bytes",
                case.name,
                e.to_string().len()
            );
        }
    }
}

#[test]
fn faults_for_rejections_are_well_formed_and_bounded() {
    use ews_proto::response::{parse_response, write_fault_for_error};
    use ews_proto::xml::Limits;
    for case in common::cases() {
        if let Err(e) = case.run() {
            let fault = write_fault_for_error(&e, &case.input);
            assert!(
                fault.len() < 4096,
                "{}: fault of {} bytes",
                case.name,
                fault.len()
            );
            match parse_response(&fault, &Limits::default()) {
                Err(ews_proto::EwsProtoError::SoapFault { code, .. }) => {
                    if !e.is_must_understand() {
                        assert_eq!(code, e.response_code(), "{}", case.name);
                    }
                }
                other => panic!(
                    "{}: fault did not read back as a fault: {other:?}",
                    case.name
                ),
            }
        }
    }
}
