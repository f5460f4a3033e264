//! The reply rules' matching cost (issue 6's benchmark, `bench/replies.sh`): an account with
//! 10,000 keywords in mixed modes against one with 10 rules, in the same process and on the
//! same messages: the median and p99 time to decide which rule answers a text, the time to
//! compile each index, and the resident memory the 10,000-keyword index adds.
//!
//! ```text
//! cargo run --release -p zhanggui --example reply_match [-- --keywords 10000 --messages 20000]
//! ```
//!
//! Keywords are generated from common Chinese characters (deterministic): 60% exact, 35%
//! contains, 5% regular expressions, four keywords per rule (`--per-rule N`; 1 is the shape
//! of the callback benchmark's `RULES=10000`, 10,000 rules of one keyword), priorities spread
//! over -2..=2.
//! Messages: a third are exactly a keyword, a third a sentence containing one, a third
//! sentences matching nothing (the most common case in practice).

use std::hint::black_box;
use std::time::{Duration, Instant};

use zhanggui::replies::index::{Answer, Choice, CompiledRule, Index, PlainReplies};
use zhanggui::replies::model::{Keyword, MatchMode, ReplyMode, RuleKind, Schedule, Settings};

const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府研质";

/// A tiny deterministic generator (no dependency for a benchmark's inputs).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn word(rng: &mut Lcg, chars: &[char], len: usize) -> String {
    (0..len).map(|_| chars[rng.below(chars.len())]).collect()
}

/// Percent of keywords that are regular expressions (`--regex-percent`, default 5).
fn regex_share() -> usize {
    arg("--regex-percent", 5).min(60)
}

fn text_answer(i: usize) -> Answer {
    Answer::reply(wechat::ReplyBody::Text {
        content: format!("第 {i} 条规则的回复：营业时间 9:00–21:00。").into(),
    })
}

/// `keywords` keywords in rules of `--per-rule` (4), and the words a message can carry.
fn rules(
    keywords: usize,
    rng: &mut Lcg,
    chars: &[char],
) -> (Vec<CompiledRule>, Vec<String>, Vec<String>) {
    let mut out = vec![];
    let mut exact = vec![];
    let mut contains = vec![];
    let mut made = 0;
    let mut id = 0;
    let per_rule = arg("--per-rule", 4).clamp(1, 50);
    while made < keywords {
        id += 1;
        let mut kws = vec![];
        for _ in 0..per_rule.min(keywords - made) {
            let roll = rng.below(100);
            let (text, mode) = if roll < 60 - regex_share() {
                let w = {
                    let len = 2 + rng.below(3);
                    word(rng, chars, len)
                };
                exact.push(w.clone());
                (w, MatchMode::Exact)
            } else if roll < 100 - regex_share() {
                let w = {
                    let len = 3 + rng.below(2);
                    word(rng, chars, len)
                };
                contains.push(w.clone());
                (w, MatchMode::Contains)
            } else {
                (
                    format!("^(?:查询|查)订单{id}[A-Z]?\\d{{4,}}$"),
                    MatchMode::Regex,
                )
            };
            kws.push(Keyword { text, mode });
            made += 1;
        }
        out.push(CompiledRule {
            id,
            name: format!("规则 {id}"),
            kind: RuleKind::Keyword,
            priority: rng.below(5) as i64 - 2,
            reply_mode: ReplyMode::All,
            schedule: Schedule::default(),
            keywords: kws,
            triggers: vec![],
            answers: vec![text_answer(id as usize)],
        });
    }
    (out, exact, contains)
}

fn messages(
    n: usize,
    rng: &mut Lcg,
    chars: &[char],
    exact: &[String],
    contains: &[String],
) -> Vec<String> {
    (0..n)
        .map(|i| match i % 3 {
            0 => exact[rng.below(exact.len())].clone(),
            1 => format!(
                "{}{}{}",
                {
                    let len = 3 + rng.below(8);
                    word(rng, chars, len)
                },
                contains[rng.below(contains.len())],
                {
                    let len = rng.below(10);
                    word(rng, chars, len)
                }
            ),
            _ => {
                let len = 4 + rng.below(20);
                word(rng, chars, len)
            }
        })
        .collect()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Timing {
    median: Duration,
    p99: Duration,
    answered: usize,
}

fn time_decisions(index: &Index, messages: &[String]) -> Timing {
    let plain = PlainReplies::default();
    let now = 1_764_561_600_000;
    // Warm the caches the way a running server's are.
    for m in messages.iter().take(1000) {
        black_box(index.decide_text(m, &plain, now));
    }
    let mut times = Vec::with_capacity(messages.len());
    let mut answered = 0;
    for m in messages {
        let started = Instant::now();
        let choice = black_box(index.decide_text(black_box(m), &plain, now));
        times.push(started.elapsed());
        if matches!(choice, Choice::Rule { .. }) {
            answered += 1;
        }
    }
    times.sort_unstable();
    Timing {
        median: times[times.len() / 2],
        p99: times[times.len() * 99 / 100],
        answered,
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let keywords = arg("--keywords", 10_000);
    let n_messages = arg("--messages", 30_000);
    let chars: Vec<char> = CHARS.chars().collect();
    let mut rng = Lcg(20261201);

    let (small_rules, small_exact, small_contains) = rules(40, &mut rng, &chars);
    let small_rules: Vec<CompiledRule> = small_rules.into_iter().take(10).collect();
    let small_keywords: usize = small_rules.iter().map(|r| r.keywords.len()).sum();
    let (big_rules, exact, contains) = rules(keywords, &mut rng, &chars);
    let msgs = messages(n_messages, &mut rng, &chars, &exact, &contains);
    let small_msgs = messages(n_messages, &mut rng, &chars, &small_exact, &small_contains);
    let tz = chrono_tz::Asia::Shanghai;

    let started = Instant::now();
    let small = Index::compile(small_rules, Settings::default(), tz);
    let small_compile = started.elapsed();

    let before = rss_kib();
    let started = Instant::now();
    let big = Index::compile(big_rules, Settings::default(), tz);
    let big_compile = started.elapsed();
    let after = rss_kib();

    // Both indexes decide the same messages (the big one's), and the small one its own hits.
    let t_small = time_decisions(&small, &msgs);
    let t_small_hits = time_decisions(&small, &small_msgs);
    let t_big = time_decisions(&big, &msgs);

    println!("rules\tkeywords\tcompile_ms\tmedian_us\tp99_us\tanswered");
    println!(
        "{}\t{}\t{:.2}\t{:.2}\t{:.2}\t{}/{}",
        small.rule_count(),
        small_keywords,
        small_compile.as_secs_f64() * 1e3,
        t_small.median.as_secs_f64() * 1e6,
        t_small.p99.as_secs_f64() * 1e6,
        t_small.answered,
        msgs.len()
    );
    println!(
        "{}\t{}\t{:.2}\t{:.2}\t{:.2}\t{}/{} (its own keywords)",
        small.rule_count(),
        small_keywords,
        small_compile.as_secs_f64() * 1e3,
        t_small_hits.median.as_secs_f64() * 1e6,
        t_small_hits.p99.as_secs_f64() * 1e6,
        t_small_hits.answered,
        small_msgs.len()
    );
    println!(
        "{}\t{}\t{:.2}\t{:.2}\t{:.2}\t{}/{}",
        big.rule_count(),
        keywords,
        big_compile.as_secs_f64() * 1e3,
        t_big.median.as_secs_f64() * 1e6,
        t_big.p99.as_secs_f64() * 1e6,
        t_big.answered,
        msgs.len()
    );
    println!(
        "resident memory added by the {keywords}-keyword index: {:.1} MiB",
        after.saturating_sub(before) as f64 / 1024.0
    );
    black_box((&small, &big));
}
