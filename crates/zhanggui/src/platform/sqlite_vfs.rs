//! The SQLite VFS of every connection to a SQLite file (the pool's and the message log's
//! committer's): SQLite's own ("unix") with two changes, each to one file's `xWrite`.
//!
//! **Database file writes offer the core.** In WAL mode a connection writes the database
//! file only when it checkpoints (commits go to the WAL), and a checkpoint is a single step
//! of SQLite's virtual machine that copies everything committed since the last one: the
//! pool's progress handler (`platform::db`), which cuts long reads, is never called inside
//! it. Under the callback benchmark a checkpoint every 25 ms took ~2 ms of the callbacks'
//! core in one piece, and the kernel takes a core back from a thread only at its next tick
//! (4 ms at 250 Hz), so every callback in flight waited it out. Offered between the pages
//! it copies, the core goes back and forth in short stretches instead. A PASSIVE
//! checkpoint holds no write lock, so the log's committer can commit while the checkpoint
//! is paused (BENCHMARKS.md, callback, twenty-third round).
//!
//! **WAL writes ask for the blocks ahead.** A WAL frame is 24 bytes of header and a page
//! (4,120 bytes), written in two pieces, so nearly every write covers part of a block; when
//! that block is no longer in the page cache the kernel reads it from the disk before the
//! write returns, on the writer's thread, which for the log's committer is the thread that
//! answers callbacks. The WAL is rewritten from its start after each checkpoint, so its
//! blocks are normally cached; but a host that reclaims cold page cache (the VMs we measure
//! on run DAMON, which pages out physical regions it sampled as cold, hot pages of the WAL
//! among them) leaves holes, and a read there took up to 50 ms (BENCHMARKS.md, callback,
//! twenty-fourth round). So as it writes, the file asks the kernel, without waiting, to
//! read what is not cached in the next `AHEAD` bytes and at the WAL's start (where it goes
//! on after the next checkpoint), once every `AHEAD / 2` bytes written: the write that
//! comes there later finds its block cached.
//!
//! The VFS hands out SQLite's own file objects with a copy of their method table in which
//! those entries first call the original. Everything else is SQLite's code, unchanged.

use std::cell::Cell;
use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::ffi;

/// The VFS's name, for `SqliteConnectOptions::vfs` and `Connection::open_with_flags_and_vfs`.
pub const NAME: &str = "zhanggui";
const NAME_C: &CStr = c"zhanggui";

/// The longest a thread writes the database file before offering the core (the same
/// stretch as the progress handler's, `platform::db`).
const OFFER_EVERY: Duration = Duration::from_micros(200);

/// How far past its writes a WAL asks the kernel to have its blocks cached. A megabyte is
/// ~250 frames, a dozen commits of the log under load: tens of milliseconds of writing,
/// time for the disk to answer.
const AHEAD: i64 = 1 << 20;

/// How many times writes of the database file offered the core (read by the tests).
static OFFERS: AtomicU64 = AtomicU64::new(0);

/// How many times a WAL asked the kernel to read ahead (read by the tests).
static READS_AHEAD: AtomicU64 = AtomicU64::new(0);

type WriteFn = unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, i64) -> c_int;
type CloseFn = unsafe extern "C" fn(*mut ffi::sqlite3_file) -> c_int;
type OpenFn = unsafe extern "C" fn(
    *mut ffi::sqlite3_vfs,
    ffi::sqlite3_filename,
    *mut ffi::sqlite3_file,
    c_int,
    *mut c_int,
) -> c_int;

/// SQLite's VFS this one is built over, its `xOpen`, and where in our larger file object
/// a WAL's `WalAhead` begins (after SQLite's own file object).
struct Base {
    vfs: usize,
    open: OpenFn,
    ahead_at: usize,
}

/// A method table of SQLite's files and the copy handed out instead of it.
struct Wrapped {
    original: usize,
    write: WriteFn,
    close: CloseFn,
    table: &'static ffi::sqlite3_io_methods,
}

static BASE: OnceLock<Option<Base>> = OnceLock::new();
static DATABASE_TABLE: OnceLock<Wrapped> = OnceLock::new();
static WAL_TABLE: OnceLock<Wrapped> = OnceLock::new();

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

/// Times a WAL asked the kernel to read ahead, since the process started.
pub fn reads_ahead() -> u64 {
    READS_AHEAD.load(Ordering::Relaxed)
}

#[allow(unsafe_code)]
fn register_now() -> Option<Base> {
    // SAFETY: `sqlite3_vfs_find(NULL)` returns SQLite's default VFS, which lives as long as
    // the process; it is only read here. The copy is leaked, as SQLite requires a
    // registered VFS to outlive every connection using it.
    unsafe {
        let base = ffi::sqlite3_vfs_find(std::ptr::null());
        let open = base.as_ref()?.xOpen?;
        let ahead_at = usize::try_from((*base).szOsFile)
            .ok()?
            .next_multiple_of(std::mem::align_of::<WalAhead>());
        let mut ours = *base;
        ours.zName = NAME_C.as_ptr();
        ours.pNext = std::ptr::null_mut();
        ours.xOpen = Some(open_file);
        ours.szOsFile = c_int::try_from(ahead_at + std::mem::size_of::<WalAhead>()).ok()?;
        let ours = Box::leak(Box::new(ours));
        if ffi::sqlite3_vfs_register(ours, 0) != ffi::SQLITE_OK {
            return None;
        }
        Some(Base {
            vfs: base as usize,
            open,
            ahead_at,
        })
    }
}

/// SQLite's `xOpen`; a database file gets the method table that offers the core, a WAL the
/// one that reads ahead.
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
    // SAFETY: after a successful xOpen, `file` is an open SQLite file whose first field is
    // its method table; replacing it with an equal table (but the entries wrapped) is what
    // the VFS interface allows, since SQLite calls the file only through that table.
    unsafe {
        if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            let methods = (*file).pMethods;
            if let Some(table) = wrapped_table(&DATABASE_TABLE, methods, write_then_offer, None) {
                (*file).pMethods = table;
            }
        } else if flags & ffi::SQLITE_OPEN_WAL != 0 && !name.is_null() {
            // SAFETY: the WAL's name is a NUL-terminated path SQLite keeps while it is open.
            read_ahead_for(file, base, CStr::from_ptr(name));
        }
    }
    rc
}

/// Gives the WAL just opened as `file` its `WalAhead` and the method table that reads
/// ahead; without a descriptor of its own it stays as SQLite opened it.
#[allow(unsafe_code)]
unsafe fn read_ahead_for(file: *mut ffi::sqlite3_file, base: &Base, path: &CStr) {
    let Some(ahead) = WalAhead::open(path) else {
        return;
    };
    // SAFETY: `file` is open (its first field the method table); `ahead_at` is inside our
    // `szOsFile` bytes and aligned for a WalAhead, which `close_wal` reads out again.
    unsafe {
        match wrapped_table(
            &WAL_TABLE,
            (*file).pMethods,
            write_then_ask,
            Some(close_wal),
        ) {
            Some(table) => {
                std::ptr::write(ahead_of(file, base), ahead);
                (*file).pMethods = table;
            }
            None => ahead.close(),
        }
    }
}

/// The copy of `methods` with `write` in place of its `xWrite` (and `close`, if given, of its
/// `xClose`), kept in `slot`; `None` for
/// a table other than the one the first such file had (the unix VFS has one per locking
/// style), left alone.
#[allow(unsafe_code)]
unsafe fn wrapped_table(
    slot: &'static OnceLock<Wrapped>,
    methods: *const ffi::sqlite3_io_methods,
    write: WriteFn,
    close: Option<CloseFn>,
) -> Option<&'static ffi::sqlite3_io_methods> {
    // SAFETY: `methods` is the method table of an open file: static data of SQLite's.
    let original = unsafe { methods.as_ref()? };
    let (original_write, original_close) = (original.xWrite?, original.xClose?);
    let wrapped = slot.get_or_init(|| {
        let mut table = *original;
        table.xWrite = Some(write);
        table.xClose = close.or(table.xClose);
        Wrapped {
            original: methods as usize,
            write: original_write,
            close: original_close,
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
    let Some(wrapped) = DATABASE_TABLE.get() else {
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

/// A WAL's `xWrite`: SQLite's, then a request to read ahead when one is due.
#[allow(unsafe_code)]
unsafe extern "C" fn write_then_ask(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let (Some(wrapped), Some(Some(base))) = (WAL_TABLE.get(), BASE.get()) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: as in `write_then_offer`.
    let rc = unsafe { (wrapped.write)(file, data, amount, offset) };
    if rc == ffi::SQLITE_OK {
        // SAFETY: a file with this table was given its WalAhead when it opened, and SQLite
        // uses a file from one thread at a time.
        let ahead = unsafe { &mut *ahead_of(file, base) };
        ahead.after_write(offset);
    }
    rc
}

/// A WAL's `xClose`: our descriptor, then SQLite's.
#[allow(unsafe_code)]
unsafe extern "C" fn close_wal(file: *mut ffi::sqlite3_file) -> c_int {
    let (Some(wal), Some(Some(base))) = (WAL_TABLE.get(), BASE.get()) else {
        return ffi::SQLITE_IOERR_CLOSE;
    };
    // SAFETY: SQLite calls xClose once, through this table, which only files given a
    // WalAhead have; the WalAhead is read out (and its descriptor closed) once.
    unsafe {
        std::ptr::read(ahead_of(file, base)).close();
        (wal.close)(file)
    }
}

#[allow(unsafe_code)]
unsafe fn ahead_of(file: *mut ffi::sqlite3_file, base: &Base) -> *mut WalAhead {
    // SAFETY: the caller's file object is ours, `szOsFile` bytes long.
    unsafe { file.cast::<u8>().add(base.ahead_at).cast::<WalAhead>() }
}

/// What a WAL asked the kernel for: a descriptor of its own on the WAL (read-only; the page
/// cache is the file's, whichever descriptor reads), and the stretch last asked for.
#[repr(C)]
struct WalAhead {
    fd: c_int,
    asked: Asked,
}

impl WalAhead {
    #[allow(unsafe_code)]
    fn open(path: &CStr) -> Option<WalAhead> {
        // SAFETY: `path` is NUL-terminated; the descriptor is closed by `close`.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        (fd >= 0).then_some(WalAhead {
            fd,
            asked: Asked::default(),
        })
    }

    fn after_write(&mut self, start: i64) {
        let (asked, wanted) = self.asked.after_write(start);
        self.asked = asked;
        for range in wanted.into_iter().flatten() {
            self.read_ahead(range);
        }
    }

    #[allow(unsafe_code)]
    fn read_ahead(&self, (start, end): Range) {
        // A length of 0 would mean "to the end of the file".
        if end <= start {
            return;
        }
        // SAFETY: a plain system call on our own descriptor; its failure only means the
        // write that comes there later may have to wait, as without this.
        unsafe { libc::posix_fadvise(self.fd, start, end - start, libc::POSIX_FADV_WILLNEED) };
        READS_AHEAD.fetch_add(1, Ordering::Relaxed);
    }

    #[allow(unsafe_code)]
    fn close(self) {
        // SAFETY: our own descriptor, closed once (the WalAhead is consumed).
        unsafe { libc::close(self.fd) };
    }
}

/// Where the last request to read ahead was made (the start of the write after which it
/// was) and the end of the stretch it covered; nothing at first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Asked {
    at: Option<i64>,
    until: i64,
}

/// A stretch of the file to read ahead, `start..end` in bytes.
type Range = (i64, i64);

impl Asked {
    /// After a write from `start`: the stretches to ask for now and the new state. Due
    /// once the writes have gone `AHEAD / 2` past the last request, or back to or before it
    /// (the WAL starts over after a checkpoint, whether or not it got that far). Then asks
    /// for what was not asked yet of the `AHEAD` bytes from the write's block and, far from
    /// the WAL's start, for its first `HEAD` bytes, where the writes go after the next
    /// checkpoint. The kernel looks up each page asked for, cached or not (~50 ns a page).
    fn after_write(self, start: i64) -> (Asked, [Option<Range>; 2]) {
        let from = start - start % BLOCK;
        let ahead = match self.at {
            Some(at) if start > at && start - at < AHEAD / 2 => return (self, [None, None]),
            Some(at) if start > at => (self.until.max(from), from + AHEAD),
            _ => (from, from + AHEAD),
        };
        let head = (from >= AHEAD).then_some((0, HEAD));
        let asked = Asked {
            at: Some(start),
            until: ahead.1,
        };
        (asked, [Some(ahead), head])
    }
}

/// The unit the kernel reads a file in; stretches asked for start on one.
const BLOCK: i64 = 4096;

/// How much of the WAL's start is asked for again while the writes are far from it: the
/// first few commits after it starts over, written before the request made then is served.
const HEAD: i64 = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::{AHEAD, Asked, HEAD};

    #[test]
    fn the_first_write_asks_for_the_stretch_from_its_block() {
        let (asked, wanted) = Asked::default().after_write(4096 + 32);
        assert_eq!(wanted, [Some((4096, 4096 + AHEAD)), None]);
        assert_eq!(
            asked,
            Asked {
                at: Some(4096 + 32),
                until: 4096 + AHEAD
            }
        );
    }

    #[test]
    fn writes_ask_again_once_half_the_stretch_is_behind_them_and_only_for_the_rest() {
        let (asked, _) = Asked::default().after_write(32);
        let (same, wanted) = asked.after_write(32 + AHEAD / 2 - 1);
        assert_eq!((same, wanted), (asked, [None, None]));
        let (next, wanted) = asked.after_write(32 + AHEAD / 2);
        assert_eq!(wanted, [Some((AHEAD, AHEAD / 2 + AHEAD)), None]);
        assert_eq!(
            next,
            Asked {
                at: Some(32 + AHEAD / 2),
                until: AHEAD / 2 + AHEAD
            }
        );
    }

    #[test]
    fn far_from_the_start_the_start_is_asked_for_too() {
        let asked = Asked {
            at: Some(2 * AHEAD),
            until: 3 * AHEAD,
        };
        let (_, wanted) = asked.after_write(3 * AHEAD);
        assert_eq!(wanted, [Some((3 * AHEAD, 4 * AHEAD)), Some((0, HEAD))]);
    }

    #[test]
    fn a_write_back_at_or_before_the_last_request_asks_for_the_whole_stretch_again() {
        let asked = Asked {
            at: Some(5 * AHEAD),
            until: 6 * AHEAD,
        };
        let (_, wanted) = asked.after_write(0);
        assert_eq!(wanted, [Some((0, AHEAD)), None], "the WAL started over");
        let asked = Asked {
            at: Some(0),
            until: AHEAD,
        };
        let (_, wanted) = asked.after_write(0);
        assert_eq!(
            wanted,
            [Some((0, AHEAD)), None],
            "a short WAL started over too"
        );
    }

    /// Through the VFS, a WAL that starts over on blocks the page cache lost has the kernel
    /// read the stretch ahead of its writes before they come there.
    #[test]
    #[allow(unsafe_code)]
    fn a_wal_starting_over_has_its_blocks_ahead_read() {
        use std::os::fd::AsRawFd;
        assert!(super::register(), "SQLite has its unix VFS");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ahead.db");
        let conn = rusqlite::Connection::open_with_flags_and_vfs(
            &path,
            rusqlite::OpenFlags::default(),
            super::NAME,
        )
        .expect("open through the VFS");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("WAL");
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("no automatic checkpoints");
        conn.execute_batch(
            "CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8000) \
             INSERT INTO filler (id, body) SELECT i, printf('%.300c', 'x') FROM n; \
             PRAGMA wal_checkpoint(PASSIVE);",
        )
        .expect("a WAL of a few megabytes, all of it checkpointed");
        let wal = std::fs::File::open(dir.path().join("ahead.db-wal")).expect("the WAL");
        let length = wal.metadata().expect("its size").len() as usize;
        assert!(
            length > 2 * super::AHEAD as usize,
            "the WAL is {length} bytes"
        );
        wal.sync_all()
            .expect("its blocks on disk, so the cache can let go of them");
        // SAFETY: a system call on a descriptor this test owns.
        unsafe { libc::posix_fadvise(wal.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let ahead = 64 * 1024..super::AHEAD as usize;
        assert_eq!(
            cached_pages(&wal, length, ahead.clone()),
            0,
            "the cache let go of the WAL"
        );

        let before = super::reads_ahead();
        conn.execute("INSERT INTO filler (id, body) VALUES (0, 'a')", [])
            .expect("a commit, at the WAL's start");
        assert!(
            super::reads_ahead() > before,
            "the commit asked for the blocks ahead"
        );
        let pages = ahead.len() / 4096;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while cached_pages(&wal, length, ahead.clone()) < pages {
            assert!(
                std::time::Instant::now() < deadline,
                "{} of the {pages} pages ahead cached after 5 s",
                cached_pages(&wal, length, ahead.clone())
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// How many of the file's pages in `range` (bytes, page-aligned) are in the page cache.
    #[allow(unsafe_code)]
    fn cached_pages(file: &std::fs::File, length: usize, range: std::ops::Range<usize>) -> usize {
        use std::os::fd::AsRawFd;
        let mut resident = vec![0u8; length.div_ceil(4096)];
        // SAFETY: a read-only shared mapping of the whole file, only asked about (mincore
        // reads no page) and unmapped before returning; `resident` has a byte a page.
        unsafe {
            let map = libc::mmap(
                std::ptr::null_mut(),
                length,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(map, libc::MAP_FAILED, "map the file");
            let rc = libc::mincore(map, length, resident.as_mut_ptr());
            libc::munmap(map, length);
            assert_eq!(rc, 0, "mincore");
        }
        resident[range.start / 4096..range.end / 4096]
            .iter()
            .filter(|page| *page & 1 == 1)
            .count()
    }
}
