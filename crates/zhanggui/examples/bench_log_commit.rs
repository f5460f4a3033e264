//! The message log's commit in isolation (`bench/log_commit.sh`): the committer's own SQLite
//! connection (`messages::sqlite_log`) writing batches of rows shaped like the callback
//! benchmark's, while another connection checkpoints the WAL every 100 ms as the product does,
//! on a database migrated as shipped and, side by side in the same run, on one whose log table
//! still has AUTOINCREMENT (the schema before migration 0021).
//!
//! ```text
//! bench_log_commit DIR [ROWS [ROUNDS [BATCH]]]
//! ```
//! prints, per round and schema, the CPU time a row costs the committing thread and the whole
//! process (checkpoints included), from the kernel's run-time accounting (schedstat).
//! `PAGE_SIZE=8192` (environment) creates both databases with that page size.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use zhanggui::messages::LogRow;
use zhanggui::messages::sqlite_log::SqliteLog;
use zhanggui::platform::db::{ConnectOptions, Db};

/// The log table as migrations 0002 and 0015 made it, before 0021.
const WITH_AUTOINCREMENT: &str = "DROP TABLE wx_messages;
    CREATE TABLE wx_messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
        merchant_id INTEGER NOT NULL, account_id INTEGER NOT NULL, dedup_key TEXT NOT NULL,
        openid TEXT NOT NULL, kind TEXT NOT NULL, sent_at INTEGER NOT NULL,
        received_at INTEGER NOT NULL, body TEXT NOT NULL, reply TEXT NOT NULL,
        route TEXT NOT NULL DEFAULT '');
    CREATE UNIQUE INDEX wx_messages_dedup ON wx_messages (account_id, dedup_key);";

/// A database in use has a counter for every AUTOINCREMENT table that has had a row.
const EVERY_COUNTER: &str = "INSERT INTO sqlite_sequence (name, seq)
    SELECT name, 1 FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'
    AND name NOT IN (SELECT name FROM sqlite_sequence)";

#[derive(Clone, Copy, Debug)]
enum Schema {
    Shipped,
    Autoincrement,
}

struct Args {
    dir: String,
    rows: usize,
    rounds: usize,
    batch: usize,
}

fn args() -> anyhow::Result<Args> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: usize| -> anyhow::Result<usize> {
        a.get(i)
            .map_or(Ok(default), |v| v.parse().context("a number"))
    };
    Ok(Args {
        dir: a
            .first()
            .cloned()
            .context("usage: bench_log_commit DIR [ROWS [ROUNDS [BATCH]]]")?,
        rows: num(1, 300_000)?,
        rounds: num(2, 3)?,
        batch: num(3, 27)?,
    })
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = rows(args.rows);
    println!(
        "schema\tround\trows\tbatch\tcommitter_us_per_row\tprocess_us_per_row\twall_us_per_row"
    );
    for round in 1..=args.rounds {
        let order = if round % 2 == 1 {
            [Schema::Shipped, Schema::Autoincrement]
        } else {
            [Schema::Autoincrement, Schema::Shipped]
        };
        for schema in order {
            let path = Path::new(&args.dir).join(format!("log-commit-{schema:?}.db"));
            runtime.block_on(prepare(&path, schema))?;
            let (committer, process, wall) = commit_all(&runtime, &path, &rows, args.batch)?;
            let per_row = |d: Duration| d.as_secs_f64() * 1e6 / rows.len() as f64;
            println!(
                "{}\t{round}\t{}\t{}\t{:.2}\t{:.2}\t{:.2}",
                match schema {
                    Schema::Shipped => "shipped",
                    Schema::Autoincrement => "autoincrement",
                },
                rows.len(),
                args.batch,
                per_row(committer),
                per_row(process),
                per_row(wall)
            );
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
    Ok(())
}

/// A fresh database migrated as shipped, its log table put back as it was when asked.
async fn prepare(path: &Path, schema: Schema) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    if let Some(bytes) = std::env::var("PAGE_SIZE").ok().filter(|v| !v.is_empty()) {
        // The page size is fixed when the file gets its first table.
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(&format!(
            "PRAGMA page_size = {}; CREATE TABLE first (x); DROP TABLE first;",
            bytes.parse::<u32>()?
        ))?;
    }
    let db = Db::connect(
        &format!("sqlite://{}", path.display()),
        ConnectOptions::default(),
    )
    .await?;
    db.migrate().await?;
    let Db::Sqlite(pool) = &db else {
        anyhow::bail!("a SQLite file");
    };
    if let Schema::Autoincrement = schema {
        sqlx::raw_sql(WITH_AUTOINCREMENT).execute(pool).await?;
    }
    sqlx::query(EVERY_COUNTER).execute(pool).await?;
    pool.close().await;
    Ok(())
}

/// Commits `rows` in batches through the committer's connection while a second connection
/// checkpoints every 100 ms; the CPU time of this thread, of the process, and the wall time.
fn commit_all(
    runtime: &tokio::runtime::Runtime,
    path: &Path,
    rows: &[LogRow],
    batch: usize,
) -> anyhow::Result<(Duration, Duration, Duration)> {
    let db = runtime.block_on(Db::connect(
        &format!("sqlite://{}", path.display()),
        ConnectOptions::default(),
    ))?;
    let mut log = SqliteLog::for_db(&db).context("a SQLite file")?;
    let stop = Arc::new(AtomicBool::new(false));
    let checkpoints = {
        let stop = stop.clone();
        let path = path.to_path_buf();
        std::thread::spawn(move || -> anyhow::Result<()> {
            let conn = rusqlite::Connection::open(path)?;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            }
            Ok(())
        })
    };
    let (thread0, process0, started) = (thread_cpu()?, process_cpu()?, Instant::now());
    for chunk in rows.chunks(batch) {
        log.commit(chunk)
            .map_err(|e| anyhow::anyhow!("commit: {e}"))?;
    }
    // Before the checkpoint thread ends: a thread gone is no longer counted.
    let (thread1, process1, wall) = (thread_cpu()?, process_cpu()?, started.elapsed());
    stop.store(true, Ordering::Relaxed);
    checkpoints
        .join()
        .map_err(|_| anyhow::anyhow!("checkpoint thread"))??;
    runtime.block_on(async {
        if let Db::Sqlite(pool) = &db {
            pool.close().await;
        }
    });
    Ok((thread1 - thread0, process1 - process0, wall))
}

/// Text messages as the callback benchmark sends them, answered by a rule.
fn rows(count: usize) -> Vec<LogRow> {
    let now = 1_764_000_000_i64;
    (0..count)
        .map(|i| {
            let msg_id = 1_000_000_000_000_000_000_u64 + i as u64;
            let openid = format!("oBenchFollower{:014}", i % 1000);
            LogRow {
                merchant_id: 1,
                account_id: 1,
                dedup_key: format!("m|{msg_id}|{openid}|{now}"),
                body: format!(
                    "<xml><ToUserName><![CDATA[gh_bench000001]]></ToUserName>\
                     <FromUserName><![CDATA[{openid}]]></FromUserName>\
                     <CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                     <Content><![CDATA[keyword 3 of ten, padded to forty-eight bytes  ]]>\
                     </Content><MsgId>{msg_id}</MsgId></xml>"
                ),
                reply: format!(
                    "<xml><ToUserName><![CDATA[{openid}]]></ToUserName>\
                     <FromUserName><![CDATA[gh_bench000001]]></FromUserName>\
                     <CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                     <Content><![CDATA[The reply of rule 3]]></Content></xml>"
                ),
                openid,
                kind: "text".to_string(),
                sent_at: now * 1000,
                received_at: now * 1000 + 5,
                route: "r|3|0|keyword 3".to_string(),
                unmatched_text: None,
            }
        })
        .collect()
}

/// Time this thread has run, in nanoseconds, as the scheduler counts it.
fn thread_cpu() -> anyhow::Result<Duration> {
    schedstat("/proc/thread-self/schedstat")
}

/// Time every thread of this process has run.
fn process_cpu() -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task")? {
        let path = task?.path().join("schedstat");
        // A thread that ended meanwhile has no file any more.
        total += schedstat(&path.to_string_lossy()).unwrap_or_default();
    }
    Ok(total)
}

fn schedstat(path: &str) -> anyhow::Result<Duration> {
    let text = std::fs::read_to_string(path)?;
    let ns: u64 = text
        .split_whitespace()
        .next()
        .context("schedstat")?
        .parse()?;
    Ok(Duration::from_nanos(ns))
}
