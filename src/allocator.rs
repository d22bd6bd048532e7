//! Settings of the global allocator (mimalloc), applied by each binary before it starts a
//! thread.

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same in its v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the process before it goes back to the OS, in ms.
///
/// mimalloc's default (1 s) returns memory between two batches of a steady ingest, and the
/// next batch faults it in again, zeroed page by page: the ingest benchmark lost about a tenth
/// of its CPU time to that. Ten seconds keeps memory while posts flow and still returns it
/// when the daemon is idle.
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Apply otklik's allocator settings. Call first thing in `main`: mimalloc's option setter is
/// not thread-safe.
pub fn tune() {
    // SAFETY: a plain store into mimalloc's option table, made before any other thread runs.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}
