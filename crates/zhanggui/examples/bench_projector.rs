//! Times the replies projector (`zhanggui::replies::jobs::project_once`) and the hit counts'
//! projection (`zhanggui::replies::hits::tally_once`) over a database whose message log a
//! benchmark filled (BENCHMARKS.md, "Reply rules"): rewinds both (cursors to 0,
//! `reply_hits` emptied), then projects the whole log again, the replies in passes of
//! `--batch` messages (4,000: what one 250 ms pass sees at ~16k callbacks a second), the
//! hits with a flush every `--batch` messages, and prints the wall time per message of
//! each and the hit-count rows written. Run it on a copy of the database with no server
//! attached.
//!
//! ```text
//! bench_projector --db sqlite:///tmp/copy.db [--batch 4000]
//! ```

use std::time::Instant;

use anyhow::{Context, bail};
use zhanggui::platform::db::{ConnectOptions, Db};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut db_url = String::new();
    let mut batch: i64 = 4000;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .context("usage: bench_projector --db URL [--batch N]")?;
        match flag.as_str() {
            "--db" => db_url = value,
            "--batch" => batch = value.parse()?,
            _ => bail!("usage: bench_projector --db URL [--batch N]"),
        }
    }
    if db_url.is_empty() || batch <= 0 {
        bail!("usage: bench_projector --db URL [--batch N]");
    }
    let db = Db::connect(&db_url, ConnectOptions { max_connections: 2 }).await?;
    zhanggui::on_pool!(&db, |p| {
        sqlx::query(
            "UPDATE log_projections SET last_id = 0, flushing = NULL \
             WHERE name IN ('replies', 'reply_hits')",
        )
        .execute(p)
        .await?;
        sqlx::query("DELETE FROM reply_hits")
            .execute(p)
            .await
            .map(|_| ())
    })?;
    let logged: i64 = zhanggui::on_pool!(&db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM wx_messages"
    )
    .fetch_one(p)
    .await)?;
    // Settled: PostgreSQL's projector leaves the last second alone.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64
        + 10_000;
    let started = Instant::now();
    let mut passes = 0;
    loop {
        let p = zhanggui::replies::jobs::project_once(&db, None, now, batch).await?;
        passes += 1;
        if p.upto.is_none() || !p.more {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut tally = zhanggui::replies::hits::Tally::default();
    let mut at = now;
    loop {
        // A second later each time: every second step writes what the two read.
        at += zhanggui::replies::hits::FLUSH_AFTER_MS;
        let step = zhanggui::replies::hits::tally_once(&db, None, &mut tally, at, batch).await?;
        if !step.more {
            break;
        }
    }
    // What the last steps read (due by then, however many rows the tally holds).
    at += zhanggui::replies::hits::MAX_FLUSH_AFTER_MS;
    zhanggui::replies::hits::tally_once(&db, None, &mut tally, at, batch).await?;
    let hit_seconds = started.elapsed().as_secs_f64();
    let hit_rows: i64 = zhanggui::on_pool!(&db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM reply_hits"
    )
    .fetch_one(p)
    .await)?;
    println!("messages {logged}");
    println!("passes {passes}");
    println!("seconds {seconds:.3}");
    println!(
        "us_per_message {:.2}",
        seconds * 1e6 / (logged.max(1) as f64)
    );
    println!("hit_rows {hit_rows}");
    println!("hits_seconds {hit_seconds:.3}");
    println!(
        "hits_us_per_message {:.2}",
        hit_seconds * 1e6 / (logged.max(1) as f64)
    );
    db.close().await;
    Ok(())
}
