//! The SQLite VFS of every connection to a SQLite file (the pool's and the message log's
//! committer's): SQLite's own ("unix") with changes to two kinds of file, each in its
//! module.
//!
//! - `database`: writes of the database file (checkpoints, in WAL mode) offer the core to
//!   other threads as they go, since a checkpoint is one step of SQLite's that nothing else
//!   can cut.
//! - `wal`: an appended frame goes out with zeros to its block's end, so that a write
//!   never waits for the disk to read back a block the page cache lost; and a frame's two
//!   writes (its header, then its page) go to the kernel as one.
//!
//! The VFS hands out SQLite's own file objects with a copy of their method table in which
//! those entries first do their part and then call SQLite's. Everything else is SQLite's
//! code, unchanged. A WAL's state of ours lives in the same allocation, after SQLite's
//! file object (the VFS's `szOsFile` is SQLite's plus ours).

mod database;
mod wal;

use std::ffi::{CStr, c_int};
use std::sync::OnceLock;

use rusqlite::ffi;

pub use database::offers;
pub use wal::frames_joined;

/// The VFS's name, for `SqliteConnectOptions::vfs` and `Connection::open_with_flags_and_vfs`.
pub const NAME: &str = "zhanggui";
const NAME_C: &CStr = c"zhanggui";

type OpenFn = unsafe extern "C" fn(
    *mut ffi::sqlite3_vfs,
    ffi::sqlite3_filename,
    *mut ffi::sqlite3_file,
    c_int,
    *mut c_int,
) -> c_int;

/// SQLite's VFS this one is built over, its `xOpen`, and where in our larger file object
/// a WAL's own state begins (after SQLite's file object).
struct Base {
    vfs: usize,
    open: OpenFn,
    wal_state_at: usize,
}

static BASE: OnceLock<Option<Base>> = OnceLock::new();

fn base() -> Option<&'static Base> {
    BASE.get()?.as_ref()
}

/// Registers the VFS (once per process); false if SQLite has no default VFS to build on,
/// in which case connections keep SQLite's own.
pub fn register() -> bool {
    BASE.get_or_init(register_now).is_some()
}

#[allow(unsafe_code)]
fn register_now() -> Option<Base> {
    // SAFETY: `sqlite3_vfs_find(NULL)` returns SQLite's default VFS, which lives as long as
    // the process; it is only read here. The copy is leaked, as SQLite requires a
    // registered VFS to outlive every connection using it.
    unsafe {
        let base = ffi::sqlite3_vfs_find(std::ptr::null());
        let open = base.as_ref()?.xOpen?;
        let wal_state_at = usize::try_from((*base).szOsFile)
            .ok()?
            .next_multiple_of(wal::STATE_ALIGN);
        let mut ours = *base;
        ours.zName = NAME_C.as_ptr();
        ours.pNext = std::ptr::null_mut();
        ours.xOpen = Some(open_file);
        ours.szOsFile = c_int::try_from(wal_state_at + wal::STATE_SIZE).ok()?;
        let ours = Box::leak(Box::new(ours));
        if ffi::sqlite3_vfs_register(ours, 0) != ffi::SQLITE_OK {
            return None;
        }
        Some(Base {
            vfs: base as usize,
            open,
            wal_state_at,
        })
    }
}

/// SQLite's `xOpen`; a database file and a WAL then get the method tables of their module.
#[allow(unsafe_code)]
unsafe extern "C" fn open_file(
    _ours: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(base) = base() else {
        return ffi::SQLITE_CANTOPEN;
    };
    // SAFETY: SQLite calls xOpen with `file` pointing at our `szOsFile` bytes, of which the
    // base VFS's xOpen fills in the first (its own `szOsFile`); it is handed the base VFS,
    // as SQLite's own callers would.
    let rc = unsafe {
        (base.open)(
            base.vfs as *mut ffi::sqlite3_vfs,
            name,
            file,
            flags,
            out_flags,
        )
    };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    // SAFETY: after a successful xOpen, `file` is an open SQLite file of our `szOsFile`
    // bytes whose first field is its method table; a WAL's name is a NUL-terminated path
    // SQLite keeps while the file is open.
    unsafe {
        if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            database::adopt(file);
        } else if flags & ffi::SQLITE_OPEN_WAL != 0 && !name.is_null() {
            wal::adopt(file, base, CStr::from_ptr(name));
        }
    }
    rc
}

/// A copy of SQLite's method table `methods` made by `edit`, once for the process; `None`
/// for a table other than the one the first such file had (the unix VFS has one per locking
/// style: a file with another keeps it, unchanged).
#[allow(unsafe_code)]
unsafe fn wrapped_table<T>(
    slot: &'static OnceLock<Option<(usize, T)>>,
    methods: *const ffi::sqlite3_io_methods,
    edit: impl FnOnce(&ffi::sqlite3_io_methods) -> Option<T>,
) -> Option<&'static T> {
    // SAFETY: `methods` is the method table of an open file: static data of SQLite's.
    let original = unsafe { methods.as_ref()? };
    let (first, wrapped) = slot
        .get_or_init(|| Some((methods as usize, edit(original)?)))
        .as_ref()?;
    (*first == methods as usize).then_some(wrapped)
}
