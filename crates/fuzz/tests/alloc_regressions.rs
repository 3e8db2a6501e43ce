//! Inputs that once allocated far beyond their size stay bounded. The counting allocator is this
//! test binary's global allocator, and the file holds one test, so no other thread's allocations
//! are counted. Allocation counts are deterministic (no timing).

use fuzz::alloc::{self, CountingAlloc};
use fuzz::runner::{self, Limits};
use fuzz::targets;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn regression_inputs_stay_within_their_allocation_bound() {
    targets::prepare();
    let limits = Limits::default();
    // (target, input file under regressions/<target>/, most live bytes the input may add)
    let cases = [
        // 24 levels of "$(" nesting then 700 parentheses: the parser deep-copied every nested
        // subexpression's tokens at each level (6.3 MB live for a 1.6 KB input; 0.3 MB now).
        ("shell", "alloc-nested-subexpressions", 1 << 20),
    ];
    assert!(
        alloc::installed(),
        "the counting allocator is not installed"
    );
    for (target, file, bound) in cases {
        let t = fuzz::target(target).expect("target");
        let path = targets::crate_dir()
            .join("regressions")
            .join(target)
            .join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let exec = runner::execute(t, &bytes, &limits);
        assert!(exec.outcome.is_ok(), "{file}: {:?}", exec.outcome);
        assert!(
            exec.peak_bytes <= bound,
            "{file} through {target}: {} bytes live at the peak, bound {bound}",
            exec.peak_bytes
        );
    }
}
