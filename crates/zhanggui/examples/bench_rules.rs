//! Seeds an account with N keyword reply rules for the callback benchmark's `RULES` knob
//! (`bench/callback.sh`, BENCHMARKS.md "Reply rules"), and writes, for every rule, a text
//! that hits it and the reply that text must get, for `bench_requests --texts`.
//!
//! ```text
//! bench_rules --db URL --account ID --rules 10000 --out texts.tsv [--max-bytes 48] [--seed 1]
//! ```
//!
//! One keyword per rule, modes mixed as in `examples/reply_match.rs`: 60% exact (2–4
//! common Chinese characters), 35% contains (3–4 characters; the hit is a sentence holding
//! it), 5% regular expressions (`^(?:查询|查)订单<n>[A-Z]?\d{4,}$`; the hit is e.g.
//! `查询订单17K20931`), spread evenly over the rules (rule `i` has mode `(7 i) mod 20`:
//! 0 regex, 1–7 contains, the rest exact), so 10 rules are 1 regex, 4 contains, 5 exact.
//! Every rule answers one short text naming it (`第 i 条规则的回复：…`), priority 0, always on.
//!
//! Every hit text is checked to be matched by its own rule and by no other (nor by a
//! hand-off word), first on an index compiled here (keywords that collide are drawn again),
//! then, after the rules are stored, on the index the server compiles from the database
//! (`zhanggui::replies::compile`), so the benchmark's check that each request gets its rule's
//! text is exact. Rules are stored with `zhanggui::replies::create`, one at a time, as the
//! console and the API do.
//!
//! Output file: one line per rule, `hit text<TAB>expected reply<TAB>mode`, in rule order.
//! Prints `key value` lines: `rules`, `exact`, `contains`, `regex`, `redrawn`,
//! `seconds` (storing), `max_text_bytes`.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::time::Instant;

use anyhow::{Context, bail};
use zhanggui::platform::db::{ConnectOptions, Db};
use zhanggui::replies::index::{CompiledRule, Index, PlainReplies};
use zhanggui::replies::model::{Keyword, MatchMode, ReplyItem, ReplyMode, RuleInput, RuleKind};

const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府研质";

const USAGE: &str = "usage: bench_rules --db URL --account ID --rules N --out FILE \
    [--max-bytes 48] [--seed 1]";

struct Args {
    db: String,
    account: i64,
    rules: usize,
    out: String,
    max_bytes: usize,
    seed: u64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        db: String::new(),
        account: 0,
        rules: 0,
        out: String::new(),
        max_bytes: 48,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().context(USAGE)?;
        match flag.as_str() {
            "--db" => args.db = value,
            "--account" => args.account = value.parse().context(USAGE)?,
            "--rules" => args.rules = value.parse().context(USAGE)?,
            "--out" => args.out = value,
            "--max-bytes" => args.max_bytes = value.parse().context(USAGE)?,
            "--seed" => args.seed = value.parse().context(USAGE)?,
            _ => bail!(USAGE),
        }
    }
    if args.db.is_empty() || args.account <= 0 || args.rules == 0 || args.out.is_empty() {
        bail!(USAGE);
    }
    // The longest hit text drawn below is 14 characters of 3 bytes.
    if args.max_bytes < 42 {
        bail!("--max-bytes must be at least 42");
    }
    Ok(args)
}

/// splitmix64: deterministic for a seed, no dependency for a benchmark's inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn word(&mut self, chars: &[char], len: usize) -> String {
        (0..len).map(|_| chars[self.below(chars.len())]).collect()
    }
}

fn mode_of(i: usize) -> MatchMode {
    match (i * 7) % 20 {
        0 => MatchMode::Regex,
        1..=7 => MatchMode::Contains,
        _ => MatchMode::Exact,
    }
}

/// The keyword of rule `i` and a text that hits it.
struct Draw {
    keyword: String,
    hit: String,
}

fn draw(i: usize, mode: MatchMode, rng: &mut Rng, chars: &[char]) -> Draw {
    match mode {
        MatchMode::Exact => {
            let len = 2 + rng.below(3);
            let w = rng.word(chars, len);
            Draw {
                keyword: w.clone(),
                hit: w,
            }
        }
        MatchMode::Contains => {
            let w = {
                let len = 3 + rng.below(2);
                rng.word(chars, len)
            };
            let before = {
                let len = 2 + rng.below(5);
                rng.word(chars, len)
            };
            let after = {
                let len = rng.below(5);
                rng.word(chars, len)
            };
            Draw {
                keyword: w.clone(),
                hit: format!("{before}{w}{after}"),
            }
        }
        MatchMode::Regex => {
            // The letter is always there in the hit, so `订单1` + digits cannot match the
            // hit of rule 12 (`订单12K…`).
            let prefix = if rng.below(2) == 0 { "查询" } else { "查" };
            let letter = char::from(b'A' + rng.below(26) as u8);
            let digits = 4 + rng.below(3);
            let number: String = (0..digits)
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect();
            Draw {
                keyword: format!("^(?:查询|查)订单{i}[A-Z]?\\d{{4,}}$"),
                hit: format!("{prefix}订单{i}{letter}{number}"),
            }
        }
    }
}

fn reply_text(i: usize) -> String {
    format!("第 {i} 条规则的回复：营业时间 9:00–21:00。")
}

fn input(i: usize, keyword: &str, mode: MatchMode) -> RuleInput {
    RuleInput {
        name: format!("压测规则 {i}"),
        kind: RuleKind::Keyword,
        keywords: vec![Keyword {
            text: keyword.to_string(),
            mode,
        }],
        triggers: vec![],
        priority: 0,
        reply_mode: ReplyMode::All,
        enabled: true,
        schedule: Default::default(),
        replies: vec![ReplyItem::Text {
            text: reply_text(i),
        }],
    }
}

/// The rules whose hit text is not matched by exactly that rule (and open, and no hand-off
/// word). `ids[i]` is rule `i`'s id in `index`.
fn misses(index: &Index, draws: &[Draw], ids: &[i64], now: i64) -> Vec<usize> {
    let plain = PlainReplies::default();
    let mut bad = vec![];
    for (i, d) in draws.iter().enumerate() {
        let candidates = index.explain(&d.hit, now);
        let decided = match index.decide_text(&d.hit, &plain, now) {
            zhanggui::replies::index::Choice::Rule { rule, .. } => Some(rule.id),
            _ => None,
        };
        let only_it =
            candidates.len() == 1 && candidates[0].rule_id == ids[i] && candidates[0].open;
        if !only_it || decided != Some(ids[i]) || index.is_handoff(&d.hit) {
            bad.push(i);
        }
    }
    bad
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let chars: Vec<char> = CHARS.chars().collect();
    let mut rng = Rng(args.seed ^ (args.rules as u64).rotate_left(32));

    let db = Db::connect(&args.db, ConnectOptions { max_connections: 2 }).await?;
    db.migrate().await?;
    let merchant: Option<i64> = zhanggui::on_pool!(&db, |p| sqlx::query_scalar(
        "SELECT merchant_id FROM accounts WHERE id = $1"
    )
    .bind(args.account)
    .fetch_optional(p)
    .await)?;
    let merchant = merchant.context("no such account")?;
    let settings = zhanggui::replies::store::settings(&db, args.account).await?;

    // Draw, then draw again the keywords whose hit text another rule matches too.
    let modes: Vec<MatchMode> = (0..args.rules).map(mode_of).collect();
    let mut draws: Vec<Draw> = (0..args.rules)
        .map(|i| draw(i, modes[i], &mut rng, &chars))
        .collect();
    let provisional: Vec<i64> = (1..=args.rules as i64).collect();
    let mut redrawn = 0;
    for round in 0.. {
        let mut seen = HashSet::new();
        let compiled: Vec<CompiledRule> = draws
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let r = input(i, &d.keyword, modes[i]);
                seen.insert(d.keyword.clone());
                CompiledRule {
                    id: provisional[i],
                    name: r.name,
                    kind: r.kind,
                    priority: r.priority,
                    reply_mode: r.reply_mode,
                    schedule: r.schedule,
                    keywords: r.keywords,
                    triggers: r.triggers,
                    answers: vec![],
                }
            })
            .collect();
        let index = Index::compile(compiled, settings.clone(), chrono_tz::Asia::Shanghai);
        let bad = misses(&index, &draws, &provisional, now);
        if bad.is_empty() {
            break;
        }
        if round == 50 {
            bail!("{} hit texts still collide after 50 rounds", bad.len());
        }
        for i in bad {
            redrawn += 1;
            loop {
                let d = draw(i, modes[i], &mut rng, &chars);
                // A pattern is its rule's own (only its hit is drawn again).
                if modes[i] == MatchMode::Regex || !seen.contains(&d.keyword) {
                    seen.insert(d.keyword.clone());
                    draws[i] = d;
                    break;
                }
            }
        }
    }
    let max_text_bytes = draws.iter().map(|d| d.hit.len()).max().unwrap_or(0);
    if max_text_bytes > args.max_bytes {
        bail!("a hit text is {max_text_bytes} bytes, over --max-bytes");
    }

    // Store them as the console does, oldest first.
    let started = Instant::now();
    let mut ids = Vec::with_capacity(args.rules);
    for (i, d) in draws.iter().enumerate() {
        let row = zhanggui::replies::create(
            &db,
            merchant,
            args.account,
            &input(i, &d.keyword, modes[i]),
            &[],
            now,
        )
        .await
        .map_err(|e| anyhow::anyhow!("rule {i}: {e:?}"))?;
        ids.push(row.id);
    }
    let seconds = started.elapsed().as_secs_f64();

    // The index the server will compile from the database decides every hit as intended.
    let index = zhanggui::replies::compile(&db, merchant, args.account, "http://127.0.0.1").await?;
    if index.rule_count() != args.rules {
        bail!(
            "the account's index has {} rules, not {}",
            index.rule_count(),
            args.rules
        );
    }
    let bad = misses(&index, &draws, &ids, now);
    if let Some(&i) = bad.first() {
        bail!(
            "{} hit texts are not decided by their rule in the stored index (first: rule {i}, {:?})",
            bad.len(),
            draws[i].hit
        );
    }

    let file = std::fs::File::create(&args.out).with_context(|| args.out.clone())?;
    let mut out = BufWriter::new(file);
    for (i, d) in draws.iter().enumerate() {
        writeln!(out, "{}\t{}\t{}", d.hit, reply_text(i), modes[i].as_str())?;
    }
    out.flush()?;

    let count = |m: MatchMode| modes.iter().filter(|x| **x == m).count();
    println!("rules {}", args.rules);
    println!("exact {}", count(MatchMode::Exact));
    println!("contains {}", count(MatchMode::Contains));
    println!("regex {}", count(MatchMode::Regex));
    println!("redrawn {redrawn}");
    println!("seconds {seconds:.2}");
    println!("max_text_bytes {max_text_bytes}");
    db.close().await;
    Ok(())
}
