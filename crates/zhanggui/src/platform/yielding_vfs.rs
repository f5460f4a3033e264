//! A SQLite VFS for the pool's connections: SQLite's own ("unix"), except that a connection
//! writing the database file offers the core to other threads every `OFFER_EVERY` of writes.
//!
//! In WAL mode a connection writes the database file only when it checkpoints (commits go
//! to the WAL), and a checkpoint is a single step of SQLite's virtual machine that copies
//! everything committed since the last one: the pool's progress handler
//! (`platform::db`), which cuts long reads, is never called inside it. Under the callback
//! benchmark a checkpoint every 25 ms took ~2 ms of the callbacks' core in one piece, and
//! the kernel takes a core back from a thread only at its next tick (4 ms at 250 Hz), so
//! every callback in flight waited it out. Offered between the pages it copies, the core
//! goes back and forth in short stretches instead. A PASSIVE checkpoint holds no write
//! lock, so the log's committer can commit while the checkpoint is paused (BENCHMARKS.md,
//! callback, twenty-third round).
//!
//! Only the database file's `xWrite` is wrapped: the VFS hands out SQLite's own file objects
//! with a copy of their method table in which that one entry first calls the original,
//! then offers the core when it is due. Everything else is SQLite's code, unchanged.

use std::cell::Cell;
use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::ffi;

/// The VFS's name, for `SqliteConnectOptions::vfs`.
pub const NAME: &str = "zhanggui-yielding";
const NAME_C: &CStr = c"zhanggui-yielding";

/// The longest a thread writes the database file before offering the core (the same
/// stretch as the progress handler's, `platform::db`).
const OFFER_EVERY: Duration = Duration::from_micros(200);

/// How many times writes of the database file offered the core (read by the tests).
static OFFERS: AtomicU64 = AtomicU64::new(0);

type WriteFn = unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, i64) -> c_int;
type OpenFn = unsafe extern "C" fn(
    *mut ffi::sqlite3_vfs,
    ffi::sqlite3_filename,
    *mut ffi::sqlite3_file,
    c_int,
    *mut c_int,
) -> c_int;

/// SQLite's VFS this one is built over, and its `xOpen`.
struct Base {
    vfs: usize,
    open: OpenFn,
}

/// The method table of SQLite's database files, and the copy handed out instead.
struct Wrapped {
    original: usize,
    write: WriteFn,
    table: &'static ffi::sqlite3_io_methods,
}

static BASE: OnceLock<Option<Base>> = OnceLock::new();
static WRAPPED: OnceLock<Wrapped> = OnceLock::new();

thread_local! {
    /// When this thread last offered the core (or first wrote, if it never did).
    static LAST_OFFER: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Registers the VFS (once per process); false if SQLite has no default VFS to build on,
/// in which case connections keep SQLite's own.
pub fn register() -> bool {
    BASE.get_or_init(register_now).is_some()
}

/// Times writes of the database file offered the core, since the process started.
pub fn offers() -> u64 {
    OFFERS.load(Ordering::Relaxed)
}

#[allow(unsafe_code)]
fn register_now() -> Option<Base> {
    // SAFETY: `sqlite3_vfs_find(NULL)` returns SQLite's default VFS, which lives as long as
    // the process; it is only read here. The copy is leaked, as SQLite requires a
    // registered VFS to outlive every connection using it.
    unsafe {
        let base = ffi::sqlite3_vfs_find(std::ptr::null());
        let open = base.as_ref()?.xOpen?;
        let mut ours = *base;
        ours.zName = NAME_C.as_ptr();
        ours.pNext = std::ptr::null_mut();
        ours.xOpen = Some(open_file);
        let ours = Box::leak(Box::new(ours));
        if ffi::sqlite3_vfs_register(ours, 0) != ffi::SQLITE_OK {
            return None;
        }
        Some(Base {
            vfs: base as usize,
            open,
        })
    }
}

/// SQLite's `xOpen`; a database file gets the method table that offers the core.
#[allow(unsafe_code)]
unsafe extern "C" fn open_file(
    _ours: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(Some(base)) = BASE.get() else {
        return ffi::SQLITE_CANTOPEN;
    };
    // SAFETY: SQLite calls xOpen with `file` pointing at `szOsFile` bytes (ours is the base
    // VFS's size), which the base VFS's xOpen fills in; it is handed the base VFS, as
    // SQLite's own callers would.
    let rc = unsafe {
        (base.open)(
            base.vfs as *mut ffi::sqlite3_vfs,
            name,
            file,
            flags,
            out_flags,
        )
    };
    if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
        // SAFETY: after a successful xOpen, `file` is an open SQLite file whose first field
        // is its method table; replacing it with an equal table (but xWrite) is what the
        // VFS interface allows, since SQLite calls the file only through that table.
        unsafe {
            if let Some(table) = yielding_table_for((*file).pMethods) {
                (*file).pMethods = table;
            }
        }
    }
    rc
}

/// The copy of `methods` with the offering `xWrite`; `None` for a table other than the
/// one the first database file had (the unix VFS has one per locking style), left alone.
#[allow(unsafe_code)]
unsafe fn yielding_table_for(
    methods: *const ffi::sqlite3_io_methods,
) -> Option<&'static ffi::sqlite3_io_methods> {
    // SAFETY: `methods` is the method table of an open file: static data of SQLite's.
    let original = unsafe { methods.as_ref()? };
    let write = original.xWrite?;
    let wrapped = WRAPPED.get_or_init(|| {
        let mut table = *original;
        table.xWrite = Some(write_then_offer);
        Wrapped {
            original: methods as usize,
            write,
            table: Box::leak(Box::new(table)),
        }
    });
    (wrapped.original == methods as usize).then_some(wrapped.table)
}

/// The database file's `xWrite`: SQLite's, then an offer of the core when one is due.
#[allow(unsafe_code)]
unsafe extern "C" fn write_then_offer(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let Some(wrapped) = WRAPPED.get() else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: the arguments are SQLite's, passed on unchanged to the function this table
    // replaced, for the file it was opened with.
    let rc = unsafe { (wrapped.write)(file, data, amount, offset) };
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
