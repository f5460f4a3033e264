//! The export's reads on SQLite, through a connection of its own on a blocking thread.
//!
//! Why not the sqlx pool: sqlx runs a SQLite connection on a thread of its own and sends
//! every row to the runtime as a message, so a million-row export was two threads trading
//! a million hand-offs, about a core in all, and 97k rows/s where SQLite's own shell dumps
//! the same rows at 310k (BENCHMARKS.md, "Followers at 1,000,000"). Here one thread reads
//! each slice and writes it as CSV, and the runtime only forwards the bytes. The SQL is the
//! pool's (`store::export_slice`): the same keyset slices by openid and tags by one range.

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use super::model::ExportRow;
use crate::followers::Filter;
use crate::followers::query::{self, Arg};
use crate::platform::clock::Millis;
use crate::platform::db::Dialect;

/// The filter's arguments start after the four of the slice query.
const FIRST_FILTER_ARG: usize = 5;

/// What the export of one filter reads, ready to read slice after slice.
pub struct SliceReader {
    conn: Connection,
    slice_sql: String,
    args: Vec<Arg>,
    merchant_id: i64,
    account_id: i64,
}

impl SliceReader {
    pub fn open(
        path: &Path,
        merchant_id: i64,
        account_id: i64,
        filter: &Filter,
        now: Millis,
    ) -> rusqlite::Result<SliceReader> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "query_only", true)?;
        let where_ = query::compile(filter, Dialect::Sqlite, now, FIRST_FILTER_ARG);
        Ok(SliceReader {
            conn,
            slice_sql: super::store::export_slice_sql(&where_.sql),
            args: where_.args,
            merchant_id,
            account_id,
        })
    }

    /// The next `limit` matching followers after `after_openid`, in openid order, with their
    /// tags.
    pub fn slice(&self, after_openid: &str, limit: i64) -> rusqlite::Result<Vec<ExportRow>> {
        let mut stmt = self.conn.prepare_cached(&self.slice_sql)?;
        let fixed = [
            Value::Integer(self.merchant_id),
            Value::Integer(self.account_id),
            Value::Text(after_openid.to_string()),
            Value::Integer(limit),
        ];
        let filter_args = self.args.iter().map(value_of);
        for (n, value) in fixed.into_iter().chain(filter_args).enumerate() {
            // Numbered `$n` are named parameters to SQLite: find each one's slot by name.
            if let Some(slot) = stmt.parameter_index(&format!("${}", n + 1))? {
                stmt.raw_bind_parameter(slot, value)?;
            }
        }
        let mut rows = Vec::with_capacity(usize::try_from(limit).unwrap_or(0));
        let mut cursor = stmt.raw_query();
        while let Some(row) = cursor.next()? {
            rows.push(ExportRow {
                openid: row.get(0)?,
                subscribed: row.get(1)?,
                subscribed_at: row.get(2)?,
                first_seen_at: row.get(3)?,
                last_interaction_at: row.get(4)?,
                channel: row.get(5)?,
                remark: row.get(6)?,
                name: row.get(7)?,
                phone: row.get(8)?,
                gender: row.get(9)?,
                birthday: row.get(10)?,
                city: row.get(11)?,
                unionid: row.get(12)?,
                tag_ids: Vec::new(),
            });
        }
        drop(cursor);
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            let tags = self.tags_between(&first.openid, &last.openid)?;
            super::store::give_tags(&mut rows, tags);
        }
        Ok(rows)
    }

    fn tags_between(&self, from: &str, to: &str) -> rusqlite::Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(&super::store::TAGS_BETWEEN.replace('$', "?"))?;
        let pairs = stmt.query_map((self.merchant_id, self.account_id, from, to), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        pairs.collect()
    }
}

fn value_of(a: &Arg) -> Value {
    match a {
        Arg::Int(v) => Value::Integer(*v),
        Arg::Real(v) => Value::Real(*v),
        Arg::Text(v) => Value::Text(v.clone()),
        Arg::Bool(v) => Value::Integer(i64::from(*v)),
    }
}
