//! The sandbox's documents in our database (`sandbox_docs`), so that every instance, the CLI
//! and a restarted server see the same emulated WeChat.

use crate::platform::clock::Millis;
use crate::platform::db::Db;
use crate::{on_pool, on_tx};

/// Bulk inserts go in chunks that stay under every backend's parameter limit.
const CHUNK: usize = 500;

pub async fn get(
    db: &Db,
    app_id: &str,
    kind: &str,
    key: &str,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, i64)>(
        "SELECT value, version FROM sandbox_docs WHERE app_id = $1 AND kind = $2 AND doc_key = $3"
    )
    .bind(app_id)
    .bind(kind)
    .bind(key)
    .fetch_optional(p)
    .await)
}

/// Inserts a document that must not exist yet; `false` when the key was taken.
pub async fn insert(
    db: &Db,
    app_id: &str,
    kind: &str,
    key: &str,
    value: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "INSERT INTO sandbox_docs (app_id, kind, doc_key, value, version, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (app_id, kind, doc_key) DO NOTHING"
    )
    .bind(app_id)
    .bind(kind)
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Writes a document whatever its version.
pub async fn upsert(
    db: &Db,
    app_id: &str,
    kind: &str,
    key: &str,
    value: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "INSERT INTO sandbox_docs (app_id, kind, doc_key, value, version, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (app_id, kind, doc_key) DO UPDATE \
         SET value = excluded.value, version = sandbox_docs.version + 1, \
         updated_at = excluded.updated_at"
    )
    .bind(app_id)
    .bind(kind)
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Writes a document only if it is still at `version`; `false` when someone wrote first.
pub async fn replace(
    db: &Db,
    app_id: &str,
    kind: &str,
    key: &str,
    value: &str,
    version: i64,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "UPDATE sandbox_docs SET value = $4, version = version + 1, updated_at = $6 \
         WHERE app_id = $1 AND kind = $2 AND doc_key = $3 AND version = $5"
    )
    .bind(app_id)
    .bind(kind)
    .bind(key)
    .bind(value)
    .bind(version)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Inserts new documents in one transaction, keeping existing keys; returns how many were new.
pub async fn insert_many(
    db: &Db,
    app_id: &str,
    kind: &str,
    docs: &[(String, String)],
    now: Millis,
) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut added = 0;
    for chunk in docs.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO sandbox_docs (app_id, kind, doc_key, value, version, updated_at) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("($1, $2, ${}, ${}, 1, $3)", 4 + 2 * i, 5 + 2 * i));
        }
        sql.push_str(" ON CONFLICT (app_id, kind, doc_key) DO NOTHING");
        added += on_tx!(&mut tx, |c| {
            let mut q = sqlx::query(&sql).bind(app_id).bind(kind).bind(now);
            for (key, value) in chunk {
                q = q.bind(key).bind(value);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    tx.commit().await?;
    Ok(added)
}

pub async fn delete(db: &Db, app_id: &str, kind: &str, key: &str) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "DELETE FROM sandbox_docs WHERE app_id = $1 AND kind = $2 AND doc_key = $3"
    )
    .bind(app_id)
    .bind(kind)
    .bind(key)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Documents of a kind after `after`, in key order.
pub async fn list(
    db: &Db,
    app_id: &str,
    kind: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    // From the start means with the empty key, which `> ''` would leave out.
    let sql = match after {
        Some(_) => {
            "SELECT doc_key, value, version FROM sandbox_docs \
             WHERE app_id = $1 AND kind = $2 AND doc_key > $3 ORDER BY doc_key LIMIT $4"
        }
        None => {
            "SELECT doc_key, value, version FROM sandbox_docs \
             WHERE app_id = $1 AND kind = $2 AND doc_key >= $3 ORDER BY doc_key LIMIT $4"
        }
    };
    on_pool!(db, |p| sqlx::query_as::<_, (String, String, i64)>(sql)
        .bind(app_id)
        .bind(kind)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(p)
        .await)
}

/// The most recently created documents of a kind, newest first.
pub async fn newest(
    db: &Db,
    app_id: &str,
    kind: &str,
    limit: i64,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, String, i64)>(
        "SELECT doc_key, value, version FROM sandbox_docs \
         WHERE app_id = $1 AND kind = $2 ORDER BY id DESC LIMIT $3"
    )
    .bind(app_id)
    .bind(kind)
    .bind(limit)
    .fetch_all(p)
    .await)
}

pub async fn count(db: &Db, app_id: &str, kind: &str) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM sandbox_docs WHERE app_id = $1 AND kind = $2"
    )
    .bind(app_id)
    .bind(kind)
    .fetch_one(p)
    .await)
}
