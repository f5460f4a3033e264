//! Times the replies projector (`zhanggui::replies::jobs::project_once`) over a database whose
//! message log a benchmark filled (BENCHMARKS.md, "Reply rules"): rewinds the projection
//! (its cursor to 0, `reply_hits` emptied), then projects the whole log again in passes of
//! `--batch` messages (4,000: what one 250 ms pass sees at ~16k callbacks a second) and prints
//! the wall time per message and the hit-count rows written. Run it on a copy of the
//! database with no server attached.
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
        sqlx::query("UPDATE log_projections SET last_id = 0 WHERE name = 'replies'")
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
    db.close().await;
    Ok(())
}
