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
/// the others: this module's other functions, the pool's progress handler in
/// `platform::db`, and the message log's prepared INSERTs in `messages::sqlite_log`):
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

/// The binary's global allocator: mimalloc (docs/ARCHITECTURE.md, "The allocator"), entered
/// the way the C library's `malloc` would be wherever the alignment allows.
///
/// The `mimalloc` crate hands every request to `mi_malloc_aligned`, whose quick path covers
/// blocks up to 1 KiB only; a larger block whose size is not a power of two (hyper's read
/// buffer, a boxed request future, a message's fields) was over-allocated and shifted, ~230
/// instructions each (counted) instead of `mi_malloc`'s quick path, and its page marked as
/// holding interior pointers, which every later free there has to undo first (BENCHMARKS.md,
/// callback, twentieth round).
/// mimalloc's blocks are at least 8-byte aligned whatever their size (every size class is a
/// multiple of 8), so a request for at most that alignment, and no more than its own size,
/// needs nothing more; anything else still goes to the aligned entry points.
pub struct Allocator;

/// The alignment every block `mi_malloc` returns has.
const PLAIN_ALIGN: usize = 8;

fn plain(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

// SAFETY: every path returns a block of at least `size` bytes aligned to `layout.align()`
// (see `Allocator`) or null, and every block goes back through `mi_free`/`mi_realloc*`, which
// take blocks from either kind of entry point.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: mimalloc's allocation functions take sizes and alignments, no pointers.
        unsafe {
            if plain(layout.align(), layout.size()) {
                libmimalloc_sys::mi_malloc(layout.size()).cast()
            } else {
                libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain(layout.align(), layout.size()) {
                libmimalloc_sys::mi_zalloc(layout.size()).cast()
            } else {
                libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract), so from mimalloc.
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout` (GlobalAlloc's contract).
        unsafe {
            if plain(layout.align(), new_size) {
                libmimalloc_sys::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                libmimalloc_sys::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    use super::Allocator;

    /// Sizes around mimalloc's size classes (1 KiB is where its aligned quick path ends),
    /// with alignments below, at and above what `mi_malloc` gives by itself; 16 with sizes
    /// that are not multiples of it is what hashbrown asks for.
    fn layouts() -> Vec<Layout> {
        let mut all = Vec::new();
        for size in [1, 7, 8, 24, 52, 100, 1000, 1030, 1280, 5000, 70_000] {
            for align in [1, 8, 16, 64, 4096] {
                all.extend(Layout::from_size_align(size, align).ok());
            }
        }
        all
    }

    #[test]
    fn every_block_has_the_alignment_asked_for_and_keeps_its_bytes() {
        let mut blocks = Vec::new();
        for layout in layouts() {
            for round in 0..16u8 {
                // SAFETY: non-zero sizes; every block is freed below with its layout.
                let block = unsafe {
                    if round % 2 == 0 {
                        Allocator.alloc(layout)
                    } else {
                        Allocator.alloc_zeroed(layout)
                    }
                };
                assert!(!block.is_null());
                assert_eq!(block as usize % layout.align(), 0, "{layout:?}");
                // SAFETY: `block` holds `layout.size()` bytes.
                let bytes = unsafe { std::slice::from_raw_parts_mut(block, layout.size()) };
                if round % 2 == 1 {
                    assert!(bytes.iter().all(|&b| b == 0), "{layout:?} not zeroed");
                }
                bytes.fill(round);
                blocks.push((block, layout, round));
            }
        }
        for (block, layout, round) in blocks {
            let grown = layout.size() * 3 + 5;
            // SAFETY: `block` came from `Allocator` with `layout`; `grown` is not zero.
            let moved = unsafe { Allocator.realloc(block, layout, grown) };
            assert!(!moved.is_null());
            assert_eq!(moved as usize % layout.align(), 0, "{layout:?} grown");
            // SAFETY: the first `layout.size()` bytes were copied over.
            let kept = unsafe { std::slice::from_raw_parts(moved, layout.size()) };
            assert!(
                kept.iter().all(|&b| b == round),
                "{layout:?} lost its bytes"
            );
            // SAFETY: `moved` has the layout's alignment and the grown size.
            unsafe {
                Allocator.dealloc(
                    moved,
                    Layout::from_size_align_unchecked(grown, layout.align()),
                )
            };
        }
    }
}
