//! A counting global allocator for the fuzz binary: live bytes, the peak of live bytes, and the
//! largest single request, so the fuzzer can flag inputs whose allocation grows beyond a cap.
//!
//! This is the only module of the crate allowed to use `unsafe`: implementing [`GlobalAlloc`]
//! requires it. Every method forwards to [`System`] with the caller's arguments unchanged and
//! only updates atomic counters around the call, so the safety contract is [`System`]'s.
//!
//! The binary installs it with `#[global_allocator]`; tests do not, and then every measurement
//! reads zero ([`installed`] tells which).
//!
//! A hard cap guards the process itself: while a target runs ([`arm`]), a request that would take
//! live bytes over [`hard_cap`] does not reach the system allocator; the fuzzer's hook saves the
//! current input and exits instead of letting the process be killed by the OOM killer.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);
static IN_HOOK: AtomicBool = AtomicBool::new(false);
static HARD_CAP: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Called (once) when an armed request would exceed the hard cap; never returns.
static HOOK: std::sync::OnceLock<fn(usize) -> !> = std::sync::OnceLock::new();

/// Counts live bytes around [`System`].
pub struct CountingAlloc;

impl CountingAlloc {
    #[inline]
    fn before(&self, size: usize) {
        if ARMED.load(Relaxed)
            && CURRENT.load(Relaxed).saturating_add(size) > HARD_CAP.load(Relaxed)
            && !IN_HOOK.swap(true, Relaxed)
        {
            ARMED.store(false, Relaxed);
            if let Some(hook) = HOOK.get() {
                hook(size);
            }
            std::process::abort();
        }
    }

    #[inline]
    fn added(&self, size: usize) {
        CALLS.fetch_add(1, Relaxed);
        let now = CURRENT.fetch_add(size, Relaxed) + size;
        PEAK.fetch_max(now, Relaxed);
        LARGEST.fetch_max(size, Relaxed);
    }
}

// SAFETY: every method calls the same method of `System` with the same arguments and returns its
// result unchanged; the bookkeeping touches only atomics (and, past the hard cap, a hook that
// exits the process). `System` upholds the `GlobalAlloc` contract, so this does too.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.before(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            self.added(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.before(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            self.added(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator (i.e. from `System`).
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.before(new_size.saturating_sub(layout.size()));
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Relaxed);
            self.added(new_size);
        }
        p
    }
}

/// Whether the counting allocator is the global allocator of this process.
pub fn installed() -> bool {
    CALLS.load(Relaxed) > 0
}

/// Live bytes now.
pub fn current() -> usize {
    CURRENT.load(Relaxed)
}

/// Starts a measurement: resets the peak to the live bytes now and returns that baseline.
pub fn begin() -> usize {
    let now = CURRENT.load(Relaxed);
    PEAK.store(now, Relaxed);
    now
}

/// The highest growth of live bytes above `baseline` since [`begin`].
pub fn peak_since(baseline: usize) -> usize {
    PEAK.load(Relaxed).saturating_sub(baseline)
}

/// The largest single allocation request seen by the process.
pub fn largest_request() -> usize {
    LARGEST.load(Relaxed)
}

/// Enables (`true`) or disables the hard-cap check; the fuzzer arms it around each target call.
pub fn arm(on: bool) {
    ARMED.store(on, Relaxed);
}

/// Sets the hard cap (live bytes) and the hook that reports and exits when it is hit.
pub fn set_hard_cap(bytes: usize, hook: fn(usize) -> !) {
    HARD_CAP.store(bytes, Relaxed);
    let _ = HOOK.set(hook);
}

/// The hard cap in force.
pub fn hard_cap() -> usize {
    HARD_CAP.load(Relaxed)
}
