//! The replies projection ('replies' in log_projections): reads the routed rows of the
//! message log and, per pass in one transaction that ends by moving the cursor by
//! compare-and-set, keeps the texts no rule matched, marks followers who asked for a person,
//! and enqueues a rule's further replies. Hits per rule, keyword and day are counted by a
//! projection of their own (`super::hits`). So the callback's only write stays the log row,
//! and all of this can be rebuilt from the log.
//!
//! Further replies (a rule that answers with several) go out as customer-service messages,
//! in order, one job per follower and message: a job sends one and enqueues the next. A
//! crash right after a send may send that one message twice; nothing is ever lost.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use wechat::api::custom::{self, CustomMessage};

use super::index::Answer;
use super::model::RouteView;
use super::store::{self, Handoff, Pass, Routed, Unmatched};
use crate::messages::LogTap;
use crate::messages::store as log;
use crate::platform::clock::{self, Zone};
use crate::platform::db::Db;
use crate::platform::jobs::{self, JobContext, JobError, NewJob};
use crate::platform::state::AppState;

/// A rule's further replies wait for the next pass, so at most this long after the first.
/// Measured against a pass a second: with traffic spread over 10,000 rules the larger
/// passes held SQLite's write lock longer and cost the callback more than the fewer hit
/// rows saved (BENCHMARKS.md, "Reply rules", third round).
const EVERY: Duration = Duration::from_millis(250);
pub const BATCH: i64 = 16_384;
/// Sends one further reply of a rule and enqueues the next.
pub const FOLLOW_UP_KIND: &str = "replies.follow_up";

/// Runs until the task is aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            let now = state.clock.now_ms();
            let step = project_once(&state.db, state.log.tap(), now, BATCH);
            match state.log.in_turn(store::PROJECTION, step).await {
                Ok(p) => {
                    if p.jobs > 0 {
                        state.jobs.wake();
                    }
                    if !p.more {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "replies projection failed; will retry");
                    break;
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Projected {
    pub upto: Option<i64>,
    pub more: bool,
    pub jobs: usize,
}

/// Projects the next `batch` settled log rows (from `tap` when it holds them).
pub async fn project_once(
    db: &Db,
    tap: Option<&LogTap>,
    now: i64,
    batch: i64,
) -> Result<Projected, sqlx::Error> {
    let cursor = log::cursor(db, store::PROJECTION).await?;
    let settled = log::settled(db).await?;
    let Some(range) = log::next_range(db, cursor, batch, settled).await? else {
        return Ok(Projected::default());
    };
    let read = store::RoutedRange::load(db, tap, store::PROJECTION, range).await?;
    let rows = read.rows();
    let mut builder = PassBuilder::default();
    for slice in rows.chunks(log::ROWS_BETWEEN_YIELDS) {
        builder.add(slice);
        tokio::task::yield_now().await;
    }
    let pass = builder.finish();
    let jobs = pass.follow_ups.len();
    let moved = store::apply_pass(db, cursor, range.upto, &pass, now).await?;
    Ok(Projected {
        upto: moved.then_some(range.upto),
        more: moved && range.full,
        jobs: if moved { jobs } else { 0 },
    })
}

/// What a pass writes, put together a slice of rows at a time (their hits are counted by
/// `super::hits`).
#[derive(Default)]
struct PassBuilder {
    pass: Pass,
    unmatched: UnmatchedTexts,
}

impl PassBuilder {
    fn add(&mut self, rows: &[Routed<'_>]) {
        let pass = &mut self.pass;
        for row in rows {
            match RouteView::of(row.route) {
                Some(RouteView::Rule { rule_id, more, .. }) if more > 0 => {
                    pass.follow_ups.push(follow_up(row, rule_id, 1, more));
                }
                Some(RouteView::Unmatched { default }) => {
                    if let Some((rule_id, more)) = default
                        && more > 0
                    {
                        pass.follow_ups.push(follow_up(row, rule_id, 1, more));
                    }
                    if let Some(text) = row.words() {
                        count_unmatched(&mut self.unmatched, row, text);
                    }
                }
                Some(RouteView::Handoff) => pass.handoffs.push(Handoff {
                    merchant_id: row.merchant_id,
                    account_id: row.account_id,
                    openid: row.openid.to_string(),
                    requested_at: row.sent_at,
                }),
                Some(RouteView::Rule { .. }) | None => {}
            }
        }
    }

    fn finish(mut self) -> Pass {
        self.pass.unmatched = self.unmatched.into_values().collect();
        self.pass
    }
}

/// Unmatched texts of a pass by (account, hour, text).
type UnmatchedTexts = BTreeMap<(i64, i64, String), Unmatched>;

fn count_unmatched(texts: &mut UnmatchedTexts, row: &Routed<'_>, text: String) {
    let hour = row.sent_at.div_euclid(store::HOUR_MS);
    let counted = texts
        .entry((row.account_id, hour, text))
        .or_insert_with_key(|(account_id, hour, text)| Unmatched {
            merchant_id: row.merchant_id,
            account_id: *account_id,
            hour: *hour,
            text: text.clone(),
            messages: 0,
            last_at: row.sent_at,
        });
    counted.messages += 1;
    counted.last_at = counted.last_at.max(row.sent_at);
}

/// The time zone of each account of these rows (an account's day is its merchant's).
pub(super) async fn zones_of(
    db: &Db,
    rows: &[Routed<'_>],
) -> Result<HashMap<i64, Zone>, sqlx::Error> {
    let mut accounts: Vec<i64> = rows.iter().map(|r| r.account_id).collect();
    accounts.sort_unstable();
    accounts.dedup();
    Ok(crate::channels::store::account_zones(db, &accounts)
        .await?
        .into_iter()
        .map(|(account, _, tz)| {
            let tz = clock::parse_timezone(&tz).unwrap_or(chrono_tz::Asia::Shanghai);
            (account, Zone::new(tz))
        })
        .collect())
}

fn follow_up(row: &Routed<'_>, rule_id: i64, index: usize, last: usize) -> NewJob {
    NewJob::new(
        FOLLOW_UP_KIND,
        serde_json::json!({
            "merchant_id": row.merchant_id,
            "account_id": row.account_id,
            "openid": row.openid,
            "rule_id": rule_id,
            "index": index,
            "last": last,
        }),
    )
    .merchant(row.merchant_id)
}

/// The job: send the rule's reply at `index` as a customer-service message, then enqueue
/// the one after it, up to `last`.
pub async fn send_follow_up(state: AppState, ctx: JobContext) -> Result<(), JobError> {
    let p = &ctx.payload;
    let field = |name: &str| {
        p[name]
            .as_i64()
            .ok_or_else(|| JobError::Permanent(format!("payload has no {name}")))
    };
    let (merchant_id, account_id, rule_id) = (
        field("merchant_id")?,
        field("account_id")?,
        field("rule_id")?,
    );
    let (index, last) = (field("index")? as usize, field("last")? as usize);
    let openid = p["openid"]
        .as_str()
        .ok_or_else(|| JobError::Permanent("payload has no openid".into()))?
        .to_string();
    let Some(rule) = store::get(&ctx.db, merchant_id, rule_id)
        .await
        .map_err(JobError::retry)?
    else {
        return Ok(()); // deleted since: nothing more to say
    };
    let answers = super::rule_answers(&ctx.db, &rule, &state.config.public_url)
        .await
        .map_err(JobError::retry)?;
    let message = answers.get(index).and_then(|a| match a {
        Answer::Reply(reply) => CustomMessage::from_reply(reply.body()),
        Answer::Module(_) | Answer::Flow(_) => None,
    });
    if let Some(message) = message {
        let account = crate::accounts::get(&ctx.db, merchant_id, account_id)
            .await
            .map_err(JobError::retry)?
            .ok_or_else(|| JobError::Permanent("the account no longer exists".into()))?;
        let tokens = crate::accounts::tokens::cache_of(&state, &account);
        match custom::send(&tokens, &openid, &message, None).await {
            Ok(()) => {}
            Err(e) if e.errcode().is_some_and(custom::is_final_refusal) => {
                // The 48-hour window closed or the follower left: the rest cannot go either.
                tracing::info!(rule_id, error = %e, "further reply refused by WeChat");
                return Ok(());
            }
            Err(e) => return Err(JobError::retry(e)),
        }
    }
    if index < last && index + 1 < answers.len() {
        let mut tx = ctx.db.begin().await.map_err(JobError::retry)?;
        let mut next = ctx.payload.clone();
        next["index"] = serde_json::json!(index + 1);
        jobs::enqueue(
            &mut tx,
            ctx.clock.now_ms(),
            NewJob::new(FOLLOW_UP_KIND, next).merchant(merchant_id),
        )
        .await
        .map_err(JobError::retry)?;
        tx.commit().await.map_err(JobError::retry)?;
        state.jobs.wake();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replies::model::MAX_UNMATCHED_CHARS;
    use crate::replies::model::unmatched_text;
    use wechat::Message;

    fn row(id: i64, route: &str, body: &str) -> store::RoutedRow {
        store::RoutedRow {
            id,
            merchant_id: 1,
            account_id: 2,
            openid: "o1".into(),
            sent_at: 1_764_547_200_000, // 2025-12-01 08:00 in Shanghai
            body: body.into(),
            route: route.into(),
        }
    }

    const TEXT: &str = "<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ 营业时间 ]]></Content><MsgId>1</MsgId></xml>";

    #[test]
    fn a_pass_keeps_unmatched_marks_handoffs_and_sends_the_rest() {
        let rows = [
            row(1, "rule:7:0:价格", TEXT),
            row(2, "rule:7:0:价格", TEXT),
            row(3, "rule:8:2:", TEXT),
            row(4, "unmatched", TEXT),
            row(5, "handoff", TEXT),
            row(6, "unmatched", TEXT),
            store::RoutedRow {
                sent_at: row(7, "", "").sent_at + store::HOUR_MS + 5,
                ..row(7, "unmatched:9:0", TEXT)
            },
        ];
        let rows: Vec<Routed<'_>> = rows.iter().map(store::RoutedRow::view).collect();
        let mut builder = PassBuilder::default();
        builder.add(&rows[..3]);
        builder.add(&rows[3..]);
        let pass = builder.finish();
        let unmatched: Vec<(&str, i64, i64)> = pass
            .unmatched
            .iter()
            .map(|u| (u.text.as_str(), u.messages, u.last_at - rows[0].sent_at))
            .collect();
        assert_eq!(
            unmatched,
            [("营业时间", 2, 0), ("营业时间", 1, store::HOUR_MS + 5)],
            "one count per account, hour and text"
        );
        assert_eq!(pass.handoffs.len(), 1);
        assert_eq!(pass.follow_ups.len(), 1);
        assert_eq!(pass.follow_ups[0].payload["last"], 2);
    }

    #[test]
    fn words_from_the_tap_are_counted_without_the_body_and_agree_with_a_parse() {
        let tapped = row(1, "unmatched", "");
        let from_tap = Routed {
            text: Some("营业时间"),
            ..tapped.view()
        };
        let read_back = row(2, "unmatched", TEXT);
        let mut builder = PassBuilder::default();
        builder.add(&[from_tap, read_back.view()]);
        let pass = builder.finish();
        assert_eq!(pass.unmatched.len(), 1, "{:?}", pass.unmatched);
        assert_eq!(
            (pass.unmatched[0].text.as_str(), pass.unmatched[0].messages),
            ("营业时间", 2)
        );
        let parsed = Message::parse(TEXT).expect("text");
        assert_eq!(unmatched_text(&parsed).as_deref(), Some("营业时间"));
        let long = TEXT.replace(" 营业时间 ", &"营".repeat(300));
        let parsed = Message::parse(&long).expect("long text");
        assert_eq!(
            unmatched_text(&parsed),
            Some("营".repeat(MAX_UNMATCHED_CHARS))
        );
        let spaces = TEXT.replace(" 营业时间 ", "   ");
        let parsed = Message::parse(&spaces).expect("blank text");
        assert_eq!(unmatched_text(&parsed), None);
    }
}
