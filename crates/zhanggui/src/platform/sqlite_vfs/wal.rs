//! A WAL: an appended frame ends on a block's end, and a frame's two writes go out as one.
//!
//! **Appended frames end on a block's end.** A WAL frame is 24 bytes of header and a page
//! (4,120 bytes), so nearly every write covers part of a block; when that block is no
//! longer in the page cache the kernel reads it from the disk before the write returns, on
//! the writer's thread, which for the log's committer is the thread that answers callbacks.
//! A host that reclaims cold page cache (the VMs we measure on run DAMON, which pages out
//! physical regions it sampled as cold, pages of the WAL among them) leaves holes, and a
//! read there took up to 75 ms (BENCHMARKS.md, callback, twenty-fourth and thirty-third
//! rounds). Asking the kernel to read ahead of the writes did not do: on a busy host's
//! disk the writes caught up with reads still under way and waited for them. Pinning the
//! WAL's pages would not do either: under load the WAL grows to 40–70 MB (it starts over
//! only when a write finds it all checkpointed and no reader in it).
//!
//! But the block a frame ends in is read only for the bytes after the frame, and those are
//! never read: a frame SQLite appends (its header, then its page) is the last valid one,
//! and what follows it is left over from before the WAL started over, or past the file's
//! end, until SQLite appends the next frame there. So an appended frame goes out with zeros
//! up to the end of its last block: every block it touches is then written whole or was
//! written whole by the frame before, and the kernel has nothing to read. Zeros where a
//! frame would be make an invalid frame, as the leftovers were (recovery stops at the first
//! frame whose salt or checksum does not match). Likewise the WAL's 32-byte header, written
//! at offset 0 when the WAL starts (over), goes out with zeros to its block's end. Frames
//! SQLite writes over in place (a page written twice in one transaction: the page alone)
//! and checksums it rewrites (a header alone, elsewhere) are written as SQLite writes them.
//!
//! **A frame in one write.** SQLite writes a frame's header and its page with two `pwrite`s
//! (`walWriteOneFrame`), each through the kernel's whole buffered-write path; one `pwritev`
//! of both costs ~40% less. The header is kept (24 bytes, in the file's state) until the
//! next write: when that is the page right after it, both go out with `pwritev` on a
//! descriptor of our own; otherwise the header is written first, as SQLite would have. Every
//! other call SQLite makes on a WAL (read, sync, truncate, size, close) writes a kept header
//! first, so nothing SQLite does can see the file without it; and SQLite writes a frame's
//! page right after its header, with nothing between, so a header waits microseconds.
//!
//! Each WAL gets a descriptor of its own on the same file (read-write, or read-only when the
//! WAL is, and then frames are not joined): the page cache is the file's, whichever
//! descriptor reads or writes it. SQLite holds no lock on a WAL (its locks are on the
//! database file and the `-shm`), so closing ours releases none of SQLite's.

use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::ffi;

use super::Base;

/// The unit the kernel reads a file in.
const BLOCK: i64 = 4096;

/// A WAL frame's header, written by SQLite on its own just before the frame's page.
const FRAME_HEADER: usize = 24;

/// The WAL's own header, at its start.
const WAL_HEADER: usize = 32;

/// What an appended frame, or the WAL's header, is followed by up to its block's end.
static ZEROS: [u8; BLOCK as usize] = [0; BLOCK as usize];

/// The zeros that take a write ending at `end` to its block's end.
fn padding_after(end: i64) -> &'static [u8] {
    let rest = (BLOCK - end.rem_euclid(BLOCK)) % BLOCK;
    &ZEROS[..rest as usize]
}

/// How many frames went to the kernel in one write (read by the tests).
static FRAMES_JOINED: AtomicU64 = AtomicU64::new(0);

/// Frames written with one `pwritev`, since the process started.
pub fn frames_joined() -> u64 {
    FRAMES_JOINED.load(Ordering::Relaxed)
}

type File = *mut ffi::sqlite3_file;
type WriteFn = unsafe extern "C" fn(File, *const c_void, c_int, i64) -> c_int;
type ReadFn = unsafe extern "C" fn(File, *mut c_void, c_int, i64) -> c_int;
type SyncFn = unsafe extern "C" fn(File, c_int) -> c_int;
type TruncateFn = unsafe extern "C" fn(File, i64) -> c_int;
type FileSizeFn = unsafe extern "C" fn(File, *mut i64) -> c_int;
type CloseFn = unsafe extern "C" fn(File) -> c_int;

/// SQLite's methods of WAL files that ours call, and the table handed out instead of theirs.
struct Methods {
    write: WriteFn,
    read: ReadFn,
    sync: SyncFn,
    truncate: TruncateFn,
    file_size: FileSizeFn,
    close: CloseFn,
    table: &'static ffi::sqlite3_io_methods,
}

static METHODS: OnceLock<Option<(usize, Methods)>> = OnceLock::new();

fn methods() -> Option<&'static Methods> {
    Some(&METHODS.get()?.as_ref()?.1)
}

/// The size and alignment of a WAL's state, which the VFS allocates after SQLite's file.
pub(super) const STATE_SIZE: usize = std::mem::size_of::<WalState>();
pub(super) const STATE_ALIGN: usize = std::mem::align_of::<WalState>();

/// Gives the WAL just opened as `file` its state and our method table; without a
/// descriptor of its own it stays as SQLite opened it.
///
/// # Safety
/// `file` is an open SQLite file of the VFS's `szOsFile` bytes, not yet used.
#[allow(unsafe_code)]
pub(super) unsafe fn adopt(file: File, base: &Base, path: &CStr) {
    let Some(state) = WalState::open(path) else {
        return;
    };
    // SAFETY: the caller's promise; `wal_state_at` is inside the file's bytes and aligned
    // for a WalState, which `close_wal` reads out again. Replacing the table with one that
    // calls SQLite's (after our part) is what the VFS interface allows.
    unsafe {
        match super::wrapped_table(&METHODS, (*file).pMethods, our_table) {
            Some(methods) => {
                std::ptr::write(state_of(file, base), state);
                (*file).pMethods = methods.table;
            }
            None => state.close(),
        }
    }
}

fn our_table(original: &ffi::sqlite3_io_methods) -> Option<Methods> {
    let mut table = *original;
    table.xWrite = Some(write_wal);
    table.xRead = Some(read_wal);
    table.xSync = Some(sync_wal);
    table.xTruncate = Some(truncate_wal);
    table.xFileSize = Some(file_size_wal);
    table.xClose = Some(close_wal);
    Some(Methods {
        write: original.xWrite?,
        read: original.xRead?,
        sync: original.xSync?,
        truncate: original.xTruncate?,
        file_size: original.xFileSize?,
        close: original.xClose?,
        table: Box::leak(Box::new(table)),
    })
}

#[allow(unsafe_code)]
unsafe fn state_of(file: File, base: &Base) -> *mut WalState {
    // SAFETY: the caller's file object is ours, `szOsFile` bytes long.
    unsafe { file.cast::<u8>().add(base.wal_state_at).cast::<WalState>() }
}

/// The state of a file with our table, and SQLite's methods; `None` only if the VFS was
/// never registered, which a file with our table rules out.
///
/// # Safety
/// `file` has our table (so its state was written when it opened), and SQLite uses a file
/// from one thread at a time.
#[allow(unsafe_code)]
unsafe fn wal<'a>(file: File) -> Option<(&'a mut WalState, &'static Methods)> {
    let (base, methods) = (super::base()?, methods()?);
    // SAFETY: the caller's promise.
    Some((unsafe { &mut *state_of(file, base) }, methods))
}

/// A WAL's `xWrite`: a frame's header kept, an appended frame (and the WAL's header)
/// written whole with zeros to its block's end.
#[allow(unsafe_code)]
unsafe extern "C" fn write_wal(
    file: File,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite calls this through our table.
    let Some((state, methods)) = (unsafe { wal(file) }) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: the arguments are SQLite's, for the file it opened; `data` holds `amount`
    // bytes for the duration of the call.
    unsafe {
        match state.header.take() {
            Some(header) if header.frame_page_at() == offset => {
                state.write_frame(methods, file, &header, data, amount)
            }
            Some(header) => header.write_then(methods, file, data, amount, offset),
            None if state.joins && amount == FRAME_HEADER as c_int => {
                state.header = Some(Header::keep(data, offset));
                ffi::SQLITE_OK
            }
            // The WAL's header, padded; SQLite's own write if that fails.
            None if state.joins
                && offset == 0
                && amount == WAL_HEADER as c_int
                && state.write_padded(&[(data, WAL_HEADER)], 0) =>
            {
                ffi::SQLITE_OK
            }
            None => (methods.write)(file, data, amount, offset),
        }
    }
}

/// Writes a kept header, if any, before SQLite's own `call` on the file.
#[allow(unsafe_code)]
unsafe fn header_first(file: File, call: impl FnOnce(&'static Methods) -> c_int) -> c_int {
    // SAFETY: SQLite calls this through our table.
    let Some((state, methods)) = (unsafe { wal(file) }) else {
        return ffi::SQLITE_IOERR;
    };
    if let Some(header) = state.header.take() {
        // SAFETY: as in `write_wal`.
        let rc = unsafe { header.write(methods, file) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    call(methods)
}

#[allow(unsafe_code)]
unsafe extern "C" fn read_wal(file: File, data: *mut c_void, amount: c_int, offset: i64) -> c_int {
    // SAFETY: SQLite's arguments, passed on unchanged.
    unsafe { header_first(file, |m| (m.read)(file, data, amount, offset)) }
}

#[allow(unsafe_code)]
unsafe extern "C" fn sync_wal(file: File, flags: c_int) -> c_int {
    // SAFETY: as in `read_wal`.
    unsafe { header_first(file, |m| (m.sync)(file, flags)) }
}

#[allow(unsafe_code)]
unsafe extern "C" fn truncate_wal(file: File, size: i64) -> c_int {
    // SAFETY: as in `read_wal`.
    unsafe { header_first(file, |m| (m.truncate)(file, size)) }
}

#[allow(unsafe_code)]
unsafe extern "C" fn file_size_wal(file: File, size: *mut i64) -> c_int {
    // SAFETY: as in `read_wal`.
    unsafe { header_first(file, |m| (m.file_size)(file, size)) }
}

/// A WAL's `xClose`: a kept header written, our descriptor closed, then SQLite's close
/// (always: SQLite frees the file whatever this returns).
#[allow(unsafe_code)]
unsafe extern "C" fn close_wal(file: File) -> c_int {
    let (Some(base), Some(methods)) = (super::base(), methods()) else {
        return ffi::SQLITE_IOERR_CLOSE;
    };
    // SAFETY: SQLite calls xClose once, through our table, which only files given a state
    // have; the state is read out (and its descriptor closed) here, once.
    unsafe {
        let state = std::ptr::read(state_of(file, base));
        let written = match &state.header {
            Some(header) => header.write(methods, file),
            None => ffi::SQLITE_OK,
        };
        state.close();
        let closed = (methods.close)(file);
        if written != ffi::SQLITE_OK {
            written
        } else {
            closed
        }
    }
}

/// What we keep of a WAL: a descriptor of its own, whether it may write with it (frames
/// are joined and padded only then), and a frame header not yet written.
struct WalState {
    fd: c_int,
    joins: bool,
    header: Option<Header>,
}

/// A frame header SQLite wrote (to us), and where.
struct Header {
    offset: i64,
    bytes: [u8; FRAME_HEADER],
}

impl Header {
    /// # Safety
    /// `data` holds `FRAME_HEADER` bytes.
    #[allow(unsafe_code)]
    unsafe fn keep(data: *const c_void, offset: i64) -> Header {
        let mut bytes = [0; FRAME_HEADER];
        // SAFETY: the caller's promise; `bytes` is as long.
        unsafe {
            std::ptr::copy_nonoverlapping(data.cast::<u8>(), bytes.as_mut_ptr(), FRAME_HEADER)
        };
        Header { offset, bytes }
    }

    /// Where the page of this header's frame begins.
    fn frame_page_at(&self) -> i64 {
        self.offset + FRAME_HEADER as i64
    }

    /// Writes the header, then SQLite's write of `amount` bytes at `data` to `offset`, each
    /// with SQLite's own `xWrite`, as SQLite would have; the first failure is the result.
    ///
    /// # Safety
    /// `data` holds `amount` bytes; `file` is SQLite's.
    #[allow(unsafe_code)]
    unsafe fn write_then(
        &self,
        methods: &Methods,
        file: File,
        data: *const c_void,
        amount: c_int,
        offset: i64,
    ) -> c_int {
        // SAFETY: the caller's promise.
        unsafe {
            match self.write(methods, file) {
                ffi::SQLITE_OK => (methods.write)(file, data, amount, offset),
                failed => failed,
            }
        }
    }

    /// Writes the header as SQLite would have, with its own `xWrite`.
    #[allow(unsafe_code)]
    unsafe fn write(&self, methods: &Methods, file: File) -> c_int {
        // SAFETY: the file is SQLite's, the bytes ours for the call.
        unsafe {
            (methods.write)(
                file,
                self.bytes.as_ptr().cast(),
                FRAME_HEADER as c_int,
                self.offset,
            )
        }
    }
}

impl WalState {
    #[allow(unsafe_code)]
    fn open(path: &CStr) -> Option<WalState> {
        let flags = libc::O_CLOEXEC;
        // SAFETY: `path` is NUL-terminated; the descriptor is closed by `close`.
        let (fd, joins) = match unsafe { libc::open(path.as_ptr(), libc::O_RDWR | flags) } {
            fd if fd >= 0 => (fd, true),
            _ => (
                unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | flags) },
                false,
            ),
        };
        (fd >= 0).then_some(WalState {
            fd,
            joins,
            header: None,
        })
    }

    /// Writes a kept header and the page after it with one `pwritev`; if that fails or
    /// writes less, both with SQLite's `xWrite` instead, which reports the failure as SQLite
    /// does (a full disk, say).
    ///
    /// # Safety
    /// `data` holds `amount` bytes; `file` is SQLite's.
    #[allow(unsafe_code)]
    unsafe fn write_frame(
        &self,
        methods: &Methods,
        file: File,
        header: &Header,
        data: *const c_void,
        amount: c_int,
    ) -> c_int {
        // SAFETY: as promised by the caller.
        let joined = usize::try_from(amount)
            .is_ok_and(|page| unsafe { self.write_both(header, data, page) });
        if joined {
            FRAMES_JOINED.fetch_add(1, Ordering::Relaxed);
            return ffi::SQLITE_OK;
        }
        // SAFETY: as promised by the caller.
        unsafe { header.write_then(methods, file, data, amount, header.frame_page_at()) }
    }

    /// One `pwritev` of the header and `page` bytes at `data`, then zeros to the block's
    /// end (an appended frame); whether it wrote them all.
    ///
    /// # Safety
    /// `data` holds `page` bytes.
    #[allow(unsafe_code)]
    unsafe fn write_both(&self, header: &Header, data: *const c_void, page: usize) -> bool {
        let parts = [
            (header.bytes.as_ptr().cast::<c_void>(), FRAME_HEADER),
            (data, page),
        ];
        // SAFETY: the header's bytes are ours, the page's by the caller's promise.
        unsafe { self.write_padded(&parts, header.offset) }
    }

    /// One `pwritev` of `parts` (pointers and lengths) from `offset`, then zeros to the end
    /// of the block the last one ends in; whether it wrote them all. Only for what ends the
    /// WAL's valid part (see the module's comment): the zeros overwrite what follows.
    ///
    /// # Safety
    /// Each part holds as many readable bytes as it says.
    #[allow(unsafe_code)]
    unsafe fn write_padded(&self, parts: &[(*const c_void, usize)], offset: i64) -> bool {
        let length: usize = parts.iter().map(|(_, n)| n).sum();
        let Ok(end) = i64::try_from(length).map(|n| offset + n) else {
            return false;
        };
        let padding = padding_after(end);
        let mut vectors = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 3];
        let Some(used) = vectors.get_mut(..=parts.len()) else {
            return false;
        };
        let zeros = (padding.as_ptr().cast::<c_void>(), padding.len());
        let pieces = parts.iter().chain([&zeros]);
        for (vector, &(base, len)) in used.iter_mut().zip(pieces) {
            *vector = libc::iovec {
                iov_base: base as *mut c_void,
                iov_len: len,
            };
        }
        let Ok(count) = c_int::try_from(used.len()) else {
            return false;
        };
        // SAFETY: every vector points at as many readable bytes as it says, for the call
        // (pwritev only reads them: the parts by the caller's promise, the zeros static);
        // the descriptor is ours.
        let written = unsafe { libc::pwritev(self.fd, vectors.as_ptr(), count, offset) };
        usize::try_from(written).is_ok_and(|n| n == length + padding.len())
    }

    #[allow(unsafe_code)]
    fn close(self) {
        // SAFETY: our own descriptor, closed once (the state is consumed).
        unsafe { libc::close(self.fd) };
    }
}

#[cfg(test)]
mod tests {
    use crate::platform::sqlite_vfs::{NAME, register};

    /// After the WAL starts over, the last frame appended is followed by zeros to its
    /// block's end, and past that block the frames left over from before are untouched.
    #[test]
    fn an_appended_frame_is_followed_by_zeros_to_its_blocks_end() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = open_in_wal_mode(&dir.path().join("padded.db"));
        conn.execute_batch(
            "CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO filler (id, body) SELECT i, printf('%.300c', 'x') FROM n; \
             PRAGMA wal_checkpoint(PASSIVE);",
        )
        .expect("a WAL of frames, all of them checkpointed");
        conn.execute("INSERT INTO filler (id, body) VALUES (0, 'a')", [])
            .expect("a commit, at the WAL's start");
        let wal = std::fs::read(dir.path().join("padded.db-wal")).expect("the WAL");
        let frame = 24 + 4096;
        let salts = &wal[16..24];
        let valid = (0..)
            .map(|n| 32 + n * frame)
            .take_while(|at| at + frame <= wal.len() && &wal[at + 8..at + 16] == salts)
            .count();
        assert!(valid >= 1, "the commit's frames");
        let end = 32 + valid * frame;
        let block_end = end.next_multiple_of(4096);
        assert!(end % 4096 != 0, "the last frame ends inside a block");
        assert!(
            wal[end..block_end].iter().all(|b| *b == 0),
            "zeros after the last frame to its block's end"
        );
        assert!(
            wal[block_end..block_end + 4096].iter().any(|b| *b != 0),
            "the leftovers past that block are as they were"
        );
    }

    /// Pages written twice in one transaction (SQLite writes the page again over its frame,
    /// without its header) leave the frames after them whole: a copy rebuilt from the WAL
    /// alone holds every row.
    #[test]
    fn frames_written_over_in_place_leave_the_frames_after_them_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rewritten.db");
        let conn = open_in_wal_mode(&path);
        conn.execute_batch(
            "PRAGMA cache_size = 4; \
             CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL); \
             BEGIN; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
             INSERT INTO t (id, body) SELECT i, printf('%.200c', 'a') FROM n; \
             UPDATE t SET body = printf('%.200c', 'b'); \
             UPDATE t SET body = printf('%.150c', 'c') WHERE id % 2 = 0; \
             COMMIT;",
        )
        .expect("a transaction larger than the page cache, its pages written twice");
        let copy = dir.path().join("copy");
        std::fs::create_dir(&copy).expect("a folder for the copy");
        std::fs::copy(&path, copy.join("rewritten.db")).expect("copy the database");
        std::fs::copy(
            dir.path().join("rewritten.db-wal"),
            copy.join("rewritten.db-wal"),
        )
        .expect("copy the WAL");
        let recovered =
            rusqlite::Connection::open(copy.join("rewritten.db")).expect("open the copy");
        let (rows, bytes): (i64, i64) = recovered
            .query_row("SELECT COUNT(*), SUM(length(body)) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("read the copy");
        assert_eq!((rows, bytes), (3000, 1500 * 200 + 1500 * 150));
        let check: String = recovered
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity check");
        assert_eq!(check, "ok");
        drop(conn);
    }

    /// A new database at `path`, opened through the VFS, in WAL mode without automatic
    /// checkpoints.
    fn open_in_wal_mode(path: &std::path::Path) -> rusqlite::Connection {
        assert!(register(), "SQLite has its unix VFS");
        let conn = rusqlite::Connection::open_with_flags_and_vfs(
            path,
            rusqlite::OpenFlags::default(),
            NAME,
        )
        .expect("open through the VFS");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("WAL");
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("no automatic checkpoints");
        conn
    }

    /// Frames written through the VFS (header and page in one write) are what SQLite reads
    /// back when it recovers a database from its WAL alone, checking each frame's checksum.
    #[test]
    fn frames_written_whole_are_recovered_from_the_wal_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("joined.db");
        let conn = open_in_wal_mode(&path);
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .expect("a table");
        let before = super::frames_joined();
        for id in 0..200 {
            conn.execute(
                "INSERT INTO t (id, body) VALUES (?1, printf('%.500c', 'y'))",
                [id],
            )
            .expect("a commit");
        }
        assert!(
            super::frames_joined() >= before + 200,
            "each of the 200 commits wrote at least one frame in one write"
        );
        // A copy of the database file and its WAL, without the -shm: opened by SQLite's own
        // VFS, the copy is rebuilt from the WAL's frames, and a frame that does not check
        // out ends what is recovered.
        let copy = dir.path().join("copy");
        std::fs::create_dir(&copy).expect("a folder for the copy");
        std::fs::copy(&path, copy.join("joined.db")).expect("copy the database");
        std::fs::copy(dir.path().join("joined.db-wal"), copy.join("joined.db-wal"))
            .expect("copy the WAL");
        let recovered = rusqlite::Connection::open(copy.join("joined.db")).expect("open the copy");
        let (rows, bytes): (i64, i64) = recovered
            .query_row("SELECT COUNT(*), SUM(length(body)) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("read the copy");
        assert_eq!((rows, bytes), (200, 200 * 500), "every commit recovered");
        let check: String = recovered
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity check");
        assert_eq!(check, "ok");
        drop(conn);
    }
}
