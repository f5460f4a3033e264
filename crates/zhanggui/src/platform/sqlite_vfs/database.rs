//! The database file: writes offer the core as they go.
//!
//! In WAL mode a connection writes the database file only when it checkpoints (commits go
//! to the WAL), and a checkpoint is a single step of SQLite's virtual machine that copies
//! everything committed since the last one: the pool's progress handler (`platform::db`),
//! which cuts long reads, is never called inside it. Under the callback benchmark a
//! checkpoint every 25 ms took ~2 ms of the callbacks' core in one piece, and the kernel
//! takes a core back from a thread only at its next tick (4 ms at 250 Hz), so every
//! callback in flight waited it out. Offered between the pages it copies, the core goes back
//! and forth in short stretches instead. A PASSIVE checkpoint holds no write lock, so the
//! log's committer can commit while the checkpoint is paused (BENCHMARKS.md, callback,
//! twenty-third round).

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::ffi;

/// The longest a thread writes the database file before offering the core (the same
/// stretch as the progress handler's, `platform::db`).
const OFFER_EVERY: Duration = Duration::from_micros(200);

/// How many times writes of the database file offered the core (read by the tests).
static OFFERS: AtomicU64 = AtomicU64::new(0);

type WriteFn = unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, i64) -> c_int;

/// SQLite's `xWrite` of database files, and the table handed out instead of theirs.
struct Methods {
    write: WriteFn,
    table: &'static ffi::sqlite3_io_methods,
}

static METHODS: OnceLock<Option<(usize, Methods)>> = OnceLock::new();

thread_local! {
    /// When this thread last offered the core (or first wrote, if it never did).
    static LAST_OFFER: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Times writes of the database file offered the core, since the process started.
pub fn offers() -> u64 {
    OFFERS.load(Ordering::Relaxed)
}

/// Gives the database file just opened as `file` the table whose `xWrite` offers the core.
///
/// # Safety
/// `file` is an open SQLite file, not yet used.
#[allow(unsafe_code)]
pub(super) unsafe fn adopt(file: *mut ffi::sqlite3_file) {
    // SAFETY: the caller's promise; replacing the table with an equal one (but xWrite) is
    // what the VFS interface allows, since SQLite calls the file only through it.
    unsafe {
        let made = super::wrapped_table(&METHODS, (*file).pMethods, |original| {
            let write = original.xWrite?;
            let mut table = *original;
            table.xWrite = Some(write_then_offer);
            Some(Methods {
                write,
                table: Box::leak(Box::new(table)),
            })
        });
        if let Some(methods) = made {
            (*file).pMethods = methods.table;
        }
    }
}

/// The database file's `xWrite`: SQLite's, then an offer of the core when one is due.
#[allow(unsafe_code)]
unsafe extern "C" fn write_then_offer(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let Some(Some((_, methods))) = METHODS.get() else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: the arguments are SQLite's, passed on unchanged to the function this table
    // replaced, for the file it was opened with.
    let rc = unsafe { (methods.write)(file, data, amount, offset) };
    offer_the_core_when_due();
    rc
}

fn offer_the_core_when_due() {
    LAST_OFFER.with(|last| {
        let now = Instant::now();
        match last.get() {
            Some(since) if now.duration_since(since) < OFFER_EVERY => {}
            // A thread's first write starts the clock: a checkpoint after a pause offers
            // the core only once it has worked `OFFER_EVERY`.
            Some(since) if now.duration_since(since) > OFFER_EVERY * 10 => last.set(Some(now)),
            None => last.set(Some(now)),
            Some(_) => {
                std::thread::yield_now();
                OFFERS.fetch_add(1, Ordering::Relaxed);
                last.set(Some(Instant::now()));
            }
        }
    });
}
