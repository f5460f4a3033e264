//! The SQL of exports and imports. Every statement filters on the merchant and the account.

use std::collections::HashMap;

use super::model::ExportRow;
use crate::followers::query::{self, RECORD_COLUMNS, RecordRow};
use crate::followers::{Filter, FollowerRecord};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::{bind_args, on_pool, on_tx};

/// The next slice of matching followers after `after_openid`, by openid, with their tags.
/// Walking by the primary key keeps every slice an index range, however deep, and a
/// follower changed during the export is written once (openids never change).
#[allow(clippy::too_many_arguments)]
pub async fn export_slice(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filter: &Filter,
    now: Millis,
    after_openid: &str,
    limit: i64,
) -> Result<Vec<ExportRow>, sqlx::Error> {
    let where_ = query::compile(filter, db.dialect(), now, 5);
    let sql = export_slice_sql(&where_.sql);
    let mut rows = on_pool!(db, |p| bind_args!(
        sqlx::query_as::<_, ExportRow>(&sql)
            .bind(merchant_id)
            .bind(account_id)
            .bind(after_openid)
            .bind(limit),
        &where_.args
    )
    .fetch_all(p)
    .await)?;
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        let tags = tags_between(db, merchant_id, account_id, &first.openid, &last.openid).await?;
        give_tags(&mut rows, tags);
    }
    Ok(rows)
}

/// The slice query for a filter compiled with its arguments from `$5`: the file's columns
/// (the order `ExportRow` is read in), after an openid, in openid order.
pub fn export_slice_sql(filter_sql: &str) -> String {
    format!(
        "SELECT f.openid, f.subscribed, f.subscribed_at, f.first_seen_at, \
         f.last_interaction_at, f.channel, f.remark, f.name, f.phone, f.gender, f.birthday, \
         f.city, f.unionid FROM followers f WHERE f.merchant_id = $1 AND f.account_id = $2 \
         AND f.openid > $3 AND {filter_sql} ORDER BY f.openid LIMIT $4"
    )
}

/// The tags of the followers in an openid range: merchant, account, from, to.
pub const TAGS_BETWEEN: &str = "SELECT openid, tag_id FROM follower_tags WHERE account_id = $2 \
     AND openid >= $3 AND openid <= $4 AND merchant_id = $1 ORDER BY openid, tag_id";

/// The (openid, tag id) pairs of the followers whose openids lie in `[from, to]`, in openid
/// order: one range read of the primary key, cheaper than a lookup per follower.
async fn tags_between(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    from: &str,
    to: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, i64)>(TAGS_BETWEEN)
        .bind(merchant_id)
        .bind(account_id)
        .bind(from)
        .bind(to)
        .fetch_all(p)
        .await)
}

/// Hands each row its tags: both lists are in openid order, so one walk along both does
/// it (a million-row export has about a million tag pairs; no map of them is built).
pub(super) fn give_tags(rows: &mut [ExportRow], tags: Vec<(String, i64)>) {
    let mut tags = tags.into_iter().peekable();
    for r in rows.iter_mut() {
        while tags
            .next_if(|(o, _)| o.as_str() < r.openid.as_str())
            .is_some()
        {}
        while let Some((_, tag_id)) = tags.next_if(|(o, _)| *o == r.openid) {
            r.tag_ids.push(tag_id);
        }
    }
}

/// The account's tags by id.
pub async fn tag_names(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<HashMap<i64, String>, sqlx::Error> {
    Ok(
        crate::segments::store::tag_choices(db, merchant_id, account_id)
            .await?
            .into_iter()
            .collect(),
    )
}

pub async fn channel_names(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<HashMap<String, String>, sqlx::Error> {
    Ok(
        crate::segments::store::channel_choices(db, merchant_id, account_id)
            .await?
            .into_iter()
            .collect(),
    )
}

/// The records of these openids (those that exist), with their tags.
pub async fn records_of(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openids: &[String],
) -> Result<HashMap<String, FollowerRecord>, sqlx::Error> {
    let mut out = HashMap::new();
    for chunk in openids.chunks(500) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let list = list.join(", ");
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM followers f WHERE f.merchant_id = $1 \
             AND f.account_id = $2 AND f.openid IN ({list})"
        );
        let args: Vec<query::Arg> = chunk.iter().map(|o| query::Arg::Text(o.clone())).collect();
        let rows = on_pool!(db, |p| bind_args!(
            sqlx::query_as::<_, RecordRow>(&sql)
                .bind(merchant_id)
                .bind(account_id),
            &args
        )
        .fetch_all(p)
        .await)?;
        let tag_sql = format!(
            "SELECT openid, tag_id FROM follower_tags WHERE merchant_id = $1 AND account_id = $2 \
             AND openid IN ({list})"
        );
        let pairs = on_pool!(db, |p| bind_args!(
            sqlx::query_as::<_, (String, i64)>(&tag_sql)
                .bind(merchant_id)
                .bind(account_id),
            &args
        )
        .fetch_all(p)
        .await)?;
        for row in rows {
            let r = FollowerRecord::from(row);
            out.insert(r.follower.openid.clone(), r);
        }
        for (openid, tag_id) in pairs {
            if let Some(r) = out.get_mut(&openid) {
                r.tag_ids.push(tag_id);
            }
        }
    }
    for r in out.values_mut() {
        r.tag_ids.sort_unstable();
    }
    Ok(out)
}

/// The profile fields an import writes.
pub struct ProfileWrite<'a> {
    pub remark: &'a str,
    pub name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub gender: Option<&'a str>,
    pub birthday: Option<&'a str>,
    pub city: Option<&'a str>,
}

pub async fn write_profile(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    p: &ProfileWrite<'_>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let sql = "UPDATE followers SET remark = $4, name = $5, phone = $6, gender = $7, \
               birthday = $8, city = $9, profile_updated_at = $10 \
               WHERE merchant_id = $1 AND account_id = $2 AND openid = $3";
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(openid)
        .bind(p.remark)
        .bind(p.name)
        .bind(p.phone)
        .bind(p.gender)
        .bind(p.birthday)
        .bind(p.city)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Makes the follower's tags exactly `tag_ids` (ids of the account's tags).
pub async fn set_tags(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    tag_ids: &[i64],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let sql =
        "DELETE FROM follower_tags WHERE merchant_id = $1 AND account_id = $2 AND openid = $3";
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(openid)
        .execute(c)
        .await
        .map(|_| ()))?;
    let sql = "INSERT INTO follower_tags (merchant_id, account_id, openid, tag_id, tagged_at) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
    for tag_id in tag_ids {
        on_tx!(tx, |c| sqlx::query(sql)
            .bind(merchant_id)
            .bind(account_id)
            .bind(openid)
            .bind(tag_id)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

// ---- imports ----

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ImportRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub filename: String,
    pub body: String,
    pub status: String,
    pub rows_total: i64,
    pub rows_applied: i64,
    pub detail: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const IMPORT_COLUMNS: &str = "id, merchant_id, account_id, filename, body, status, rows_total, \
    rows_applied, detail, created_at, updated_at";

pub async fn insert_import(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filename: &str,
    body: &str,
    rows_total: i64,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    let sql = "INSERT INTO follower_imports (merchant_id, account_id, filename, body, status, \
               rows_total, created_at, updated_at) VALUES ($1, $2, $3, $4, 'checked', $5, $6, $6) \
               RETURNING id";
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(filename)
        .bind(body)
        .bind(rows_total)
        .bind(now)
        .fetch_one(p)
        .await)
}

pub async fn get_import(
    db: &Db,
    merchant_id: i64,
    account_id: Option<i64>,
    id: i64,
) -> Result<Option<ImportRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {IMPORT_COLUMNS} FROM follower_imports WHERE merchant_id = $1 AND id = $2 \
         AND ($3 IS NULL OR account_id = $3)"
    );
    on_pool!(db, |p| sqlx::query_as::<_, ImportRow>(&sql)
        .bind(merchant_id)
        .bind(id)
        .bind(account_id)
        .fetch_optional(p)
        .await)
}

/// Moves an import from 'checked' to 'applying'; false when it was not 'checked' (applied
/// already, or being applied).
pub async fn start_applying(
    tx: &mut Tx,
    merchant_id: i64,
    id: i64,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let sql = "UPDATE follower_imports SET status = 'applying', updated_at = $3 \
               WHERE merchant_id = $1 AND id = $2 AND status = 'checked'";
    let n = on_tx!(tx, |c| sqlx::query(sql)
        .bind(merchant_id)
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn set_progress(
    tx: &mut Tx,
    id: i64,
    rows_applied: i64,
    status: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let sql = "UPDATE follower_imports SET rows_applied = $2, status = $3, updated_at = $4 \
               WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(id)
        .bind(rows_applied)
        .bind(status)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_to_their_rows_in_one_walk() {
        let row = |openid: &str| ExportRow {
            openid: openid.into(),
            ..ExportRow::default()
        };
        let mut rows = vec![row("a"), row("c"), row("d")];
        let pair = |o: &str, t| (o.to_string(), t);
        // "b" is a tag of a follower the filter left out.
        give_tags(
            &mut rows,
            vec![pair("a", 1), pair("a", 2), pair("b", 9), pair("d", 3)],
        );
        let tags: Vec<&[i64]> = rows.iter().map(|r| r.tag_ids.as_slice()).collect();
        assert_eq!(tags, vec![&[1, 2][..], &[][..], &[3][..]]);
    }
}
