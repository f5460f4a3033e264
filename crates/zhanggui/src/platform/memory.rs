//! Giving memory back to the system after a burst of work that freed a lot of it.
//!
//! glibc keeps what a thread frees in that thread's arena for the next allocation, and on a
//! runtime whose work moves between threads that memory may never be reused: compiling a
//! 10,000-rule reply index reads and parses every rule once and then keeps only the index,
//! yet the process stayed ~12 MiB larger than the index itself (BENCHMARKS.md, "Reply
//! rules"). `malloc_trim` walks every arena and returns whole free pages. The binary
//! allocates with mimalloc, which keeps freed pages per thread in the same way:
//! `release_freed_on_this_thread` gives those back.

/// How much free memory at the top of a glibc arena it keeps rather than gives back. glibc's
/// default (128 KiB) made the C library hand back, and then fault in again, the pages of
/// SQLite's page caches many times a second: a pool connection's whole cache is freed
/// whenever another connection wrote (every log commit does), and the next statement
/// allocates it anew. The arena's top shrank with each such release (`madvise`) and grew
/// with each read, every page zeroed by the kernel: 8% of the server's core under the
/// callback benchmark on a freshly booted machine, ~1% on a warm one, for ~3 MB more
/// resident at rest (BENCHMARKS.md, callback, fifteenth round). An arena's top is never
/// larger than what its thread once held at the same time (a few page caches), so what is
/// kept never takes the process past its own peak; `release_freed` still returns it all.
const KEPT_AT_ARENA_TOP: i32 = 64 << 20;

/// Keeps what the C allocator frees for the next allocation instead of returning it to the
/// system at once (`KEPT_AT_ARENA_TOP`). Call before the threads that use SQLite start.
#[allow(unsafe_code)]
pub fn keep_freed_c_heap_for_reuse() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets one of the allocator's parameters; it takes no pointers.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEPT_AT_ARENA_TOP);
    }
}

/// Returns the allocator's free pages to the system, off the runtime's threads (a trim
/// locks each arena while it walks it, a few milliseconds for a large heap).
pub fn release_freed_soon() {
    tokio::task::spawn_blocking(release_freed);
}

/// Returns the allocator's free pages to the system now.
///
/// One of the workspace's few `unsafe` blocks (the lint is `deny`, not `forbid`, for them;
/// the others: this module's other functions, and the pool's progress handler in
/// `platform::db`):
/// glibc has no safe binding, and the call takes no pointers.
#[allow(unsafe_code)]
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and releases the allocator's own free chunks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Gives back the pages mimalloc holds freed on this thread (the binary's allocator, see
/// docs/ARCHITECTURE.md, "The allocator"). mimalloc returns them by itself only while the
/// thread goes on allocating, and the blocking-pool thread that compiled a reply index goes
/// idle: with this, 10,000 rules took ~4 MB less (BENCHMARKS.md, "Reply rules", sixth
/// round). Where the allocator is the system's (tests), this only tidies mimalloc's own
/// empty heap.
#[allow(unsafe_code)]
pub fn release_freed_on_this_thread() {
    // SAFETY: mi_collect takes no pointers; it only frees and purges mimalloc's own pages.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}
