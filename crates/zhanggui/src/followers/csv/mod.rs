//! Followers as CSV: export any filter or saved segment (streamed in keyset slices, never the
//! whole set in memory) and import profile fields, remarks and tags with a dry run first.

pub mod model;
pub mod routes;
pub mod sqlite_export;
pub mod store;

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use model::{Change, Column, ExportContext, RowError, Wanted};

use crate::followers::{Filter, FollowerRecord};
use crate::platform::clock::Millis;
use crate::platform::db::Db;
use crate::platform::i18n::{Lang, Msg};
use crate::platform::jobs::{self, JobContext, JobError, NewJob};
use crate::platform::state::AppState;

/// Rows per read of the export: big enough to amortize a query, small enough to keep memory
/// flat (a slice is ~2 MB of CSV).
pub const EXPORT_SLICE: i64 = 5_000;
/// Rows per transaction of an import's apply.
const APPLY_CHUNK: usize = 200;
/// Rows of a dry run's report that are listed one by one (totals count all).
pub const REPORT_ROWS: usize = 500;

pub const IMPORT_JOB: &str = "followers.import";
pub const PUSH_REMARK_JOB: &str = "followers.push_remark";
/// h1's job (tags/): makes WeChat's tags of a follower equal ours.
pub const PUSH_TAGS_JOB: &str = "tags.push_follower";

/// The export as a streamed body: the header, then slices read one after the other while
/// the client takes them (a bounded channel holds back the reader when the client is slow).
/// On a SQLite file one blocking thread reads and writes the slices ([`sqlite_export`]);
/// otherwise the next slice is read from the pool while the current one is written out, so
/// the database and the CSV writing use a core each.
pub fn export_body(
    db: Db,
    merchant_id: i64,
    account_id: i64,
    filter: Filter,
    now: Millis,
    cx: ExportContext,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    match db.sqlite_file() {
        Some(path) => {
            tokio::task::spawn_blocking(move || {
                let open =
                    sqlite_export::SliceReader::open(&path, merchant_id, account_id, &filter, now);
                match open {
                    Ok(reader) => export_from_file(&tx, &reader, &cx),
                    Err(e) => cut_now(&tx, &e.to_string()),
                }
            });
        }
        None => {
            tokio::spawn(export_from_pool(
                tx,
                db,
                merchant_id,
                account_id,
                filter,
                now,
                cx,
            ));
        }
    }
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

type ChunkSender = tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>;

/// On a blocking thread: reads slice after slice and sends each as CSV.
fn export_from_file(tx: &ChunkSender, reader: &sqlite_export::SliceReader, cx: &ExportContext) {
    if tx
        .blocking_send(Ok(Bytes::from(model::header(cx.lang))))
        .is_err()
    {
        return;
    }
    let mut after = String::new();
    loop {
        let slice = match reader.slice(&after, EXPORT_SLICE) {
            Ok(s) => s,
            Err(e) => return cut_now(tx, &e.to_string()),
        };
        let out = csv_of(&slice, cx);
        if !out.is_empty() && tx.blocking_send(Ok(Bytes::from(out))).is_err() {
            return; // the client went away
        }
        match slice.last() {
            Some(last) if slice.len() as i64 == EXPORT_SLICE => after.clone_from(&last.openid),
            _ => return,
        }
    }
}

async fn export_from_pool(
    tx: ChunkSender,
    db: Db,
    merchant_id: i64,
    account_id: i64,
    filter: Filter,
    now: Millis,
    cx: ExportContext,
) {
    if tx
        .send(Ok(Bytes::from(model::header(cx.lang))))
        .await
        .is_err()
    {
        return;
    }
    let filter = std::sync::Arc::new(filter);
    let read = |after: String| {
        let (db, filter) = (db.clone(), filter.clone());
        tokio::spawn(async move {
            store::export_slice(
                &db,
                merchant_id,
                account_id,
                &filter,
                now,
                &after,
                EXPORT_SLICE,
            )
            .await
        })
    };
    let mut next = Some(read(String::new()));
    while let Some(reading) = next.take() {
        let slice = match reading.await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return cut(&tx, &e.to_string()).await,
            Err(e) => return cut(&tx, &e.to_string()).await,
        };
        if slice.len() as i64 == EXPORT_SLICE
            && let Some(last) = slice.last()
        {
            next = Some(read(last.openid.clone()));
        }
        let out = csv_of(&slice, &cx);
        if !out.is_empty() && tx.send(Ok(Bytes::from(out))).await.is_err() {
            if let Some(reading) = next {
                reading.abort();
            }
            return; // the client went away
        }
    }
}

fn csv_of(slice: &[model::ExportRow], cx: &ExportContext) -> String {
    let mut out = String::with_capacity(slice.len() * 200);
    for r in slice {
        model::push_export_row(&mut out, r, cx);
    }
    out
}

/// Headers are gone already: cut the body so that the download is visibly broken.
async fn cut(tx: &ChunkSender, cause: &str) {
    tracing::error!(error = %cause, "follower export failed mid-way");
    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
}

/// [`cut`] from a blocking thread.
fn cut_now(tx: &ChunkSender, cause: &str) {
    tracing::error!(error = %cause, "follower export failed mid-way");
    let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
}

pub async fn export_context(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    lang: Lang,
) -> Result<ExportContext, sqlx::Error> {
    Ok(ExportContext {
        tag_names: store::tag_names(db, merchant_id, account_id).await?,
        channel_names: store::channel_names(db, merchant_id, account_id).await?,
        tz: crate::merchants::timezone(db, merchant_id).await?,
        lang,
    })
}

// ---- import ----

/// What one row of an import does, or why it cannot.
#[derive(Clone, Debug)]
pub struct RowReport {
    /// The line in the file (the header is line 1).
    pub line: usize,
    pub openid: String,
    pub changes: Vec<Change>,
    pub errors: Vec<RowError>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub rows: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// The first rows with changes or errors.
    pub listed: Vec<RowReport>,
}

/// A parsed and checked row, ready to apply.
struct Planned {
    wanted: Wanted,
    record: FollowerRecord,
    tag_ids: Option<Vec<i64>>,
    changes: Vec<Change>,
}

/// Reads the file's header; a file without openid or anything to change is refused.
pub fn read_file(text: &str) -> Result<(model::Layout, Vec<Vec<String>>), Msg> {
    let mut rows = model::parse(text);
    if rows.is_empty() {
        return Err(Msg::new("csv.error.empty"));
    }
    let header = rows.remove(0);
    let layout = model::layout(&header)?;
    Ok((layout, rows))
}

/// Plans a chunk of rows against the database: each row either a plan or its errors.
async fn plan_chunk(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    layout: &model::Layout,
    rows: &[Vec<String>],
    tags_by_name: &HashMap<String, i64>,
    tag_names: &HashMap<i64, String>,
) -> Result<Vec<Result<Planned, Vec<RowError>>>, sqlx::Error> {
    let read: Vec<(Wanted, Vec<RowError>)> = rows
        .iter()
        .map(|r| model::read_row_with_errors(layout, r))
        .collect();
    let openids: Vec<String> = read
        .iter()
        .filter(|(_, errors)| !errors.iter().any(|e| e.column == Column::Openid))
        .map(|(w, _)| w.openid.clone())
        .collect();
    let mut records = store::records_of(db, merchant_id, account_id, &openids).await?;
    Ok(read
        .into_iter()
        .map(|(wanted, mut errors)| {
            let record = records.remove(&wanted.openid);
            if record.is_none() && !errors.iter().any(|e| e.column == Column::Openid) {
                errors.push(RowError {
                    column: Column::Openid,
                    msg: Msg::new("csv.error.unknown_openid"),
                });
            }
            let tag_ids = wanted.tag_names.as_ref().map(|names| {
                let mut ids = vec![];
                for n in names {
                    match tags_by_name.get(n) {
                        Some(id) => ids.push(*id),
                        None => errors.push(RowError {
                            column: Column::Tags,
                            msg: Msg::new("csv.error.unknown_tag").arg("tag", n),
                        }),
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                ids
            });
            errors.sort_by_key(|e| e.column);
            let Some(record) = record.filter(|_| errors.is_empty()) else {
                return Err(errors);
            };
            let current: Vec<String> = record
                .tag_ids
                .iter()
                .filter_map(|id| tag_names.get(id).cloned())
                .collect();
            let changes = model::changes(&wanted, &record, &current);
            Ok(Planned {
                wanted,
                record,
                tag_ids,
                changes,
            })
        })
        .collect())
}

/// The dry run: what every row would change, read against the database now.
pub async fn dry_run(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    text: &str,
) -> Result<Result<Report, Msg>, sqlx::Error> {
    let (layout, rows) = match read_file(text) {
        Ok(v) => v,
        Err(m) => return Ok(Err(m)),
    };
    let tag_names = store::tag_names(db, merchant_id, account_id).await?;
    let tags_by_name: HashMap<String, i64> =
        tag_names.iter().map(|(id, n)| (n.clone(), *id)).collect();
    let mut report = Report::default();
    for (c, chunk) in rows.chunks(APPLY_CHUNK).enumerate() {
        let planned = plan_chunk(
            db,
            merchant_id,
            account_id,
            &layout,
            chunk,
            &tags_by_name,
            &tag_names,
        )
        .await?;
        for (i, p) in planned.into_iter().enumerate() {
            let line = c * APPLY_CHUNK + i + 2;
            let openid = chunk[i].get(layout.openid).cloned().unwrap_or_default();
            report.rows += 1;
            let entry = match p {
                Ok(p) if p.changes.is_empty() => {
                    report.unchanged += 1;
                    None
                }
                Ok(p) => {
                    report.changed += 1;
                    Some(RowReport {
                        line,
                        openid,
                        changes: p.changes,
                        errors: vec![],
                    })
                }
                Err(errors) => {
                    report.failed += 1;
                    Some(RowReport {
                        line,
                        openid,
                        changes: vec![],
                        errors,
                    })
                }
            };
            if let Some(e) = entry
                && report.listed.len() < REPORT_ROWS
            {
                report.listed.push(e);
            }
        }
    }
    Ok(Ok(report))
}

/// Stores an upload for its dry run; the import's id, or why the file is refused.
pub async fn upload(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filename: &str,
    text: &str,
    now: Millis,
) -> Result<Result<i64, Msg>, sqlx::Error> {
    let rows = match read_file(text) {
        Ok((_, rows)) => rows.len() as i64,
        Err(m) => return Ok(Err(m)),
    };
    store::insert_import(db, merchant_id, account_id, filename, text, rows, now)
        .await
        .map(Ok)
}

/// Starts applying a checked import (a job); false when it is not waiting to be applied.
pub async fn start_apply(
    state: &AppState,
    merchant_id: i64,
    import_id: i64,
) -> Result<bool, sqlx::Error> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if !store::start_applying(&mut tx, merchant_id, import_id, now).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    let job = NewJob::new(IMPORT_JOB, serde_json::json!({ "import_id": import_id }))
        .merchant(merchant_id);
    jobs::enqueue(&mut tx, now, job).await?;
    tx.commit().await?;
    state.jobs.wake();
    Ok(true)
}

/// The apply job: re-plans the stored file chunk by chunk and writes every valid row's
/// changes, enqueueing WeChat pushes for remarks and tags, with progress after each chunk.
/// Rows already applied plan to no change, so a re-run after a crash is harmless.
pub async fn run_import(ctx: JobContext) -> Result<(), JobError> {
    let id = ctx.payload["import_id"]
        .as_i64()
        .ok_or_else(|| JobError::Permanent("payload has no import_id".into()))?;
    let merchant_id = ctx
        .merchant_id
        .ok_or_else(|| JobError::Permanent("import job without merchant".into()))?;
    let db = &ctx.db;
    let import = store::get_import(db, merchant_id, None, id)
        .await
        .map_err(JobError::retry)?
        .ok_or_else(|| JobError::Permanent(format!("import {id} does not exist")))?;
    if import.status != "applying" {
        return Ok(());
    }
    let account_id = import.account_id;
    let (layout, rows) =
        read_file(&import.body).map_err(|m| JobError::Permanent(format!("{m:?}")))?;
    let tag_names = store::tag_names(db, merchant_id, account_id)
        .await
        .map_err(JobError::retry)?;
    let tags_by_name: HashMap<String, i64> =
        tag_names.iter().map(|(id, n)| (n.clone(), *id)).collect();
    let mut done = 0i64;
    for chunk in rows.chunks(APPLY_CHUNK) {
        let planned = plan_chunk(
            db,
            merchant_id,
            account_id,
            &layout,
            chunk,
            &tags_by_name,
            &tag_names,
        )
        .await
        .map_err(JobError::retry)?;
        let now = ctx.clock.now_ms();
        let mut tx = db.begin().await.map_err(JobError::retry)?;
        for p in planned.into_iter().flatten() {
            apply_row(&mut tx, merchant_id, account_id, &p, now)
                .await
                .map_err(JobError::retry)?;
        }
        done += chunk.len() as i64;
        let status = if done as usize >= rows.len() {
            "applied"
        } else {
            "applying"
        };
        store::set_progress(&mut tx, id, done, status, now)
            .await
            .map_err(JobError::retry)?;
        tx.commit().await.map_err(JobError::retry)?;
    }
    if rows.is_empty() {
        let mut tx = db.begin().await.map_err(JobError::retry)?;
        store::set_progress(&mut tx, id, 0, "applied", ctx.clock.now_ms())
            .await
            .map_err(JobError::retry)?;
        tx.commit().await.map_err(JobError::retry)?;
    }
    Ok(())
}

async fn apply_row(
    tx: &mut crate::platform::db::Tx,
    merchant_id: i64,
    account_id: i64,
    p: &Planned,
    now: Millis,
) -> Result<(), sqlx::Error> {
    if p.changes.is_empty() {
        return Ok(());
    }
    let w = &p.wanted;
    let old = &p.record.profile;
    let pick = |wanted: &Option<Option<String>>, old: &Option<String>| -> Option<String> {
        match wanted {
            Some(v) => v.clone(),
            None => old.clone(),
        }
    };
    let remark = w.remark.clone().unwrap_or_else(|| old.remark.clone());
    let name = pick(&w.name, &old.name);
    let phone = pick(&w.phone, &old.phone);
    let gender = pick(&w.gender, &old.gender);
    let birthday = pick(&w.birthday, &old.birthday);
    let city = pick(&w.city, &old.city);
    let write = store::ProfileWrite {
        remark: &remark,
        name: name.as_deref(),
        phone: phone.as_deref(),
        gender: gender.as_deref(),
        birthday: birthday.as_deref(),
        city: city.as_deref(),
    };
    store::write_profile(tx, merchant_id, account_id, &w.openid, &write, now).await?;
    let payload = serde_json::json!({
        "merchant_id": merchant_id, "account_id": account_id, "openid": w.openid,
    });
    if p.changes.iter().any(|c| c.column == Column::Remark) {
        let job = NewJob::new(PUSH_REMARK_JOB, payload.clone()).merchant(merchant_id);
        jobs::enqueue(tx, now, job).await?;
    }
    if let Some(tag_ids) = &p.tag_ids
        && p.changes.iter().any(|c| c.column == Column::Tags)
    {
        store::set_tags(tx, merchant_id, account_id, &w.openid, tag_ids, now).await?;
        let job = NewJob::new(PUSH_TAGS_JOB, payload).merchant(merchant_id);
        jobs::enqueue(tx, now, job).await?;
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct FollowerRef {
    merchant_id: i64,
    account_id: i64,
    openid: String,
}

/// Sends a follower's current remark to WeChat (user/info/updateremark). Reads the remark
/// when it runs, so repeated or reordered jobs end with WeChat holding the latest.
pub async fn push_remark(state: AppState, ctx: JobContext) -> Result<(), JobError> {
    let f: FollowerRef = ctx.payload_as()?;
    let Some(record) =
        crate::followers::query::record(&ctx.db, f.merchant_id, f.account_id, &f.openid)
            .await
            .map_err(JobError::retry)?
    else {
        return Ok(());
    };
    let account = crate::accounts::get(&ctx.db, f.merchant_id, f.account_id)
        .await
        .map_err(JobError::retry)?
        .ok_or_else(|| JobError::Permanent("the account no longer exists".into()))?;
    let tokens = crate::accounts::tokens::cache_of(&state, &account);
    match wechat::api::users::update_remark(&tokens, &f.openid, &record.profile.remark).await {
        Ok(()) => Ok(()),
        // Refusals that no retry can change: a remark WeChat will not take, a follower gone,
        // an account without the right.
        Err(e)
            if e.errcode()
                .is_some_and(|c| matches!(c, 40003 | 40092 | 43004 | 48001)) =>
        {
            Err(JobError::Permanent(e.to_string()))
        }
        Err(e) => Err(JobError::retry(e)),
    }
}
