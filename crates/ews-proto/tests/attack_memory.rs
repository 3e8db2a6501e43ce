//! Allocation bounds for the hostile inputs of security.md §3.
//!
//! A counting global allocator measures every byte `parse_request`
//! allocates (reallocation growth included) for each hostile input; the
//! total must stay within the case's budget, far below what expanding or
//! materialising the input would need. This file holds a single test so
//! no other test allocates concurrently. No timing thresholds.

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

mod common;

#[test]
fn hostile_inputs_are_rejected_with_bounded_allocation() {
    let cases = common::cases();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let region = Region::new(GLOBAL);
        let outcome = case.run();
        let change = region.change();
        // Drop the outcome outside the measurement; it was counted above.
        let ok = (case.check)(&outcome);
        drop(outcome);
        let grown = change.bytes_allocated + change.bytes_reallocated.max(0) as usize;
        report.push(format!(
            "{:>10} B  {:>10} B input  {}",
            grown,
            case.input.len(),
            case.name
        ));
        if !ok {
            failures.push(format!("{}: wrong outcome", case.name));
        }
        if grown > case.alloc_budget {
            failures.push(format!(
                "{}: allocated {grown} bytes, budget {}",
                case.name, case.alloc_budget
            ));
        }
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
