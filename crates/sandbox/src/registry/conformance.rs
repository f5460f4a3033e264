//! What every [`Registry`] must do, as one function both implementations are tested with:
//! the in-memory registry (the sandbox crate's tests) and the product's `sandbox_docs` table
//! on SQLite and PostgreSQL. It panics on the first broken promise, naming it.
//!
//! Run it on a registry that knows `app` and holds no documents of the kinds used here
//! (`conformance…`); it leaves the bulk insert's documents behind.

use serde_json::{Value, json};

use super::{Doc, Docs, Expect, GLOBAL, Registry, SandboxApp, SharedRegistry, StoreError};

const KIND: &str = "conformance";
const OTHER_KIND: &str = "conformance.other";
/// Bulk inserts get a kind of their own, left filled at the end.
const MANY_KIND: &str = "conformance.many";
const OTHER_APP: &str = "wxconformance0other";

fn ok<T>(what: &str, r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Checks every method of `registry`. `app` must be registered with it.
pub async fn run(registry: SharedRegistry, app: &SandboxApp) {
    apps(registry.as_ref(), app).await;
    compare_and_swap(registry.as_ref(), &app.app_id).await;
    values_round_trip(registry.as_ref(), &app.app_id).await;
    byte_order_listing(registry.as_ref(), &app.app_id).await;
    scopes(registry.as_ref(), &app.app_id).await;
    newest(registry.as_ref(), &app.app_id).await;
    insert_many(registry.as_ref(), &app.app_id).await;
    concurrent_updates(registry, &app.app_id).await;
}

async fn apps(r: &dyn Registry, app: &SandboxApp) {
    let found = ok("app", r.app(&app.app_id).await)
        .unwrap_or_else(|| panic!("app {} is registered", app.app_id));
    let fields = |a: &SandboxApp| {
        (
            a.app_id.clone(),
            a.app_secret.clone(),
            a.token.clone(),
            a.encoding_aes_key.clone(),
            a.security_mode.clone(),
            a.callback_url.clone(),
            a.kind.clone(),
            a.verified,
        )
    };
    assert_eq!(fields(&found), fields(app), "app: what was registered");
    assert!(
        ok("app", r.app("wxnosuchapp0000000").await).is_none(),
        "an unknown app is None"
    );
}

fn version(doc: Option<Doc>, what: &str) -> i64 {
    doc.unwrap_or_else(|| panic!("{what}: the document exists"))
        .version
}

async fn compare_and_swap(r: &dyn Registry, app: &str) {
    let key = "cas";
    assert_eq!(
        ok("get", r.get(app, KIND, key).await),
        None,
        "absent at first"
    );
    assert!(
        !ok("delete", r.delete(app, KIND, key).await),
        "deleting nothing"
    );
    assert!(
        !ok(
            "put",
            r.put(app, KIND, key, &json!(0), Expect::Version(1)).await
        ),
        "Version on an absent key fails"
    );
    assert_eq!(
        ok("get", r.get(app, KIND, key).await),
        None,
        "and creates nothing"
    );

    assert!(ok(
        "put",
        r.put(app, KIND, key, &json!(1), Expect::Absent).await
    ));
    let doc = ok("get", r.get(app, KIND, key).await);
    assert_eq!(
        doc,
        Some(Doc {
            value: json!(1),
            version: 1
        }),
        "a new document is at version 1"
    );
    assert!(
        !ok(
            "put",
            r.put(app, KIND, key, &json!(2), Expect::Absent).await
        ),
        "Absent on a taken key fails"
    );
    assert!(
        ok(
            "put",
            r.put(app, KIND, key, &json!(2), Expect::Version(1)).await
        ),
        "Version with the current version succeeds"
    );
    assert!(
        !ok(
            "put",
            r.put(app, KIND, key, &json!(3), Expect::Version(1)).await
        ),
        "a stale version fails"
    );
    assert!(
        !ok(
            "put",
            r.put(app, KIND, key, &json!(3), Expect::Version(7)).await
        ),
        "a version from the future fails"
    );
    let doc = ok("get", r.get(app, KIND, key).await);
    assert_eq!(
        doc,
        Some(Doc {
            value: json!(2),
            version: 2
        }),
        "failed writes change nothing"
    );
    assert!(ok(
        "put",
        r.put(app, KIND, key, &json!(4), Expect::Any).await
    ));
    assert_eq!(
        version(ok("get", r.get(app, KIND, key).await), "Any"),
        3,
        "Any on an existing document moves its version too"
    );
    assert!(ok(
        "put",
        r.put(app, KIND, "any-new", &json!(5), Expect::Any).await
    ));
    assert_eq!(
        version(ok("get", r.get(app, KIND, "any-new").await), "Any"),
        1
    );

    assert!(ok("delete", r.delete(app, KIND, key).await));
    assert_eq!(ok("get", r.get(app, KIND, key).await), None, "deleted");
    assert!(
        !ok("delete", r.delete(app, KIND, key).await),
        "deleted once"
    );
    assert!(
        ok(
            "put",
            r.put(app, KIND, key, &json!(6), Expect::Absent).await
        ),
        "a deleted key is absent again"
    );
    assert_eq!(
        version(ok("get", r.get(app, KIND, key).await), "recreated"),
        1
    );
    for k in [key, "any-new"] {
        assert!(ok("delete", r.delete(app, KIND, k).await));
    }
    assert_eq!(ok("count", r.count(app, KIND).await), 0);
}

async fn values_round_trip(r: &dyn Registry, app: &str) {
    let value = json!({
        "text": "中文 \"quoted\" \\ back\nslash 🙂",
        "big": 9_007_199_254_740_993_i64,
        "negative": -42,
        "float": 1.5,
        "list": [1, null, true, "x", []],
        "nested": {"empty": {}, "deep": {"deeper": [{"a": 1}]}},
    });
    for (key, v) in [
        ("object", value.clone()),
        ("string", json!("just a string")),
        ("number", json!(7)),
        ("null", Value::Null),
        ("array", json!([value])),
    ] {
        assert!(ok("put", r.put(app, KIND, key, &v, Expect::Absent).await));
        let got = ok("get", r.get(app, KIND, key).await).map(|d| d.value);
        assert_eq!(got, Some(v), "{key} comes back as it was written");
        assert!(ok("delete", r.delete(app, KIND, key).await));
    }
}

/// Keys that sort differently by bytes than by any human collation.
/// The empty key too: a listing from the start includes it, one after it does not.
const KEYS: [&str; 15] = [
    "b", "B", "a", "aa", "a b", "a-", "a_", "10", "9", "Z", "é", "中", "~", "oX9_-z", "",
];

fn byte_sorted() -> Vec<String> {
    let mut keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    keys.sort();
    keys
}

fn keys_of(docs: &[(String, Doc)]) -> Vec<String> {
    docs.iter().map(|(k, _)| k.clone()).collect()
}

async fn byte_order_listing(r: &dyn Registry, app: &str) {
    assert!(ok("list", r.list(app, KIND, None, 100).await).is_empty());
    for (i, key) in KEYS.iter().enumerate() {
        assert!(ok(
            "put",
            r.put(app, KIND, key, &json!(i), Expect::Absent).await
        ));
    }
    let sorted = byte_sorted();
    let all = ok("list", r.list(app, KIND, None, 100).await);
    assert_eq!(keys_of(&all), sorted, "keys list in byte order");
    for (key, doc) in &all {
        let i = KEYS.iter().position(|k| k == key).unwrap_or(usize::MAX);
        assert_eq!(doc.value, json!(i), "{key}'s value");
        assert_eq!(doc.version, 1);
    }
    // After a key: strictly after it, whether or not it exists.
    let after_a = ok("list", r.list(app, KIND, Some("a"), 100).await);
    let expected: Vec<String> = sorted
        .iter()
        .filter(|k| k.as_str() > "a")
        .cloned()
        .collect();
    assert_eq!(keys_of(&after_a), expected, "after \"a\"");
    let after_missing = ok("list", r.list(app, KIND, Some("ab"), 100).await);
    let expected: Vec<String> = sorted
        .iter()
        .filter(|k| k.as_str() > "ab")
        .cloned()
        .collect();
    assert_eq!(keys_of(&after_missing), expected, "after a missing key");
    let after_last = ok("list", r.list(app, KIND, Some("中"), 100).await);
    assert!(after_last.is_empty(), "nothing after the last key");
    // Pages of 3 walk the whole kind once, in order.
    let mut walked = vec![];
    let mut after: Option<String> = None;
    loop {
        let page = ok("list", r.list(app, KIND, after.as_deref(), 3).await);
        assert!(page.len() <= 3, "limit");
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(k, _)| k.clone());
        walked.extend(keys_of(&page));
    }
    assert_eq!(walked, sorted, "paging");
    assert!(
        ok("list", r.list(app, KIND, None, 0).await).is_empty(),
        "limit 0"
    );
    assert_eq!(ok("count", r.count(app, KIND).await), KEYS.len() as u64);
    for key in KEYS {
        assert!(ok("delete", r.delete(app, KIND, key).await));
    }
    assert_eq!(ok("count", r.count(app, KIND).await), 0);
}

/// The same key in another kind, another app or the global scope is another document.
async fn scopes(r: &dyn Registry, app: &str) {
    let scopes = [
        (app, KIND),
        (app, OTHER_KIND),
        (OTHER_APP, KIND),
        (GLOBAL, KIND),
    ];
    for (i, (a, k)) in scopes.iter().enumerate() {
        assert!(ok(
            "put",
            r.put(a, k, "same", &json!(i), Expect::Absent).await
        ));
    }
    for (i, (a, k)) in scopes.iter().enumerate() {
        let got = ok("get", r.get(a, k, "same").await).map(|d| d.value);
        assert_eq!(got, Some(json!(i)), "{a}/{k}");
        assert_eq!(ok("count", r.count(a, k).await), 1, "{a}/{k}");
        let listed = ok("list", r.list(a, k, None, 10).await);
        assert_eq!(keys_of(&listed), ["same"], "{a}/{k}");
        let newest = ok("newest", r.newest(a, k, 10).await);
        assert_eq!(keys_of(&newest), ["same"], "{a}/{k}");
    }
    assert!(ok("delete", r.delete(app, KIND, "same").await));
    for (i, (a, k)) in scopes.iter().enumerate().skip(1) {
        let got = ok("get", r.get(a, k, "same").await).map(|d| d.value);
        assert_eq!(
            got,
            Some(json!(i)),
            "{a}/{k} outlives another scope's delete"
        );
        assert!(ok("delete", r.delete(a, k, "same").await));
    }
}

async fn newest(r: &dyn Registry, app: &str) {
    assert!(ok("newest", r.newest(app, KIND, 10).await).is_empty());
    // Created in this order; keys sort the other way, so creation order is what counts.
    for key in ["n5", "n4", "n3", "n2", "n1"] {
        assert!(ok(
            "put",
            r.put(app, KIND, key, &json!(key), Expect::Absent).await
        ));
    }
    let got = ok("newest", r.newest(app, KIND, 10).await);
    assert_eq!(
        keys_of(&got),
        ["n1", "n2", "n3", "n4", "n5"],
        "newest first"
    );
    let got = ok("newest", r.newest(app, KIND, 2).await);
    assert_eq!(keys_of(&got), ["n1", "n2"], "limit");
    // Updates do not make a document newer; deleting and creating it again does.
    assert!(ok(
        "put",
        r.put(app, KIND, "n5", &json!(1), Expect::Version(1)).await
    ));
    assert!(ok(
        "put",
        r.put(app, KIND, "n4", &json!(1), Expect::Any).await
    ));
    let got = ok("newest", r.newest(app, KIND, 10).await);
    assert_eq!(
        keys_of(&got),
        ["n1", "n2", "n3", "n4", "n5"],
        "after updates"
    );
    assert_eq!(got[4].1.version, 2, "with their new versions");
    assert!(ok("delete", r.delete(app, KIND, "n3").await));
    assert!(ok(
        "put",
        r.put(app, KIND, "n3", &json!(0), Expect::Absent).await
    ));
    let got = ok("newest", r.newest(app, KIND, 10).await);
    assert_eq!(keys_of(&got), ["n3", "n1", "n2", "n4", "n5"], "recreated");
    // A batch is created in its order.
    let batch: Vec<(String, Value)> = ["m2", "m1"]
        .iter()
        .map(|k| (k.to_string(), json!(k)))
        .collect();
    assert_eq!(ok("insert_many", r.insert_many(app, KIND, &batch).await), 2);
    let got = ok("newest", r.newest(app, KIND, 3).await);
    assert_eq!(keys_of(&got), ["m1", "m2", "n3"], "a batch, newest last");
    for key in ["n1", "n2", "n3", "n4", "n5", "m1", "m2"] {
        assert!(ok("delete", r.delete(app, KIND, key).await));
    }
}

async fn insert_many(r: &dyn Registry, app: &str) {
    assert_eq!(
        ok("insert_many", r.insert_many(app, MANY_KIND, &[]).await),
        0,
        "nothing to insert"
    );
    assert!(ok(
        "put",
        r.put(app, MANY_KIND, "k0003", &json!("old"), Expect::Absent)
            .await
    ));
    assert!(ok(
        "put",
        r.put(app, MANY_KIND, "k0003", &json!("older"), Expect::Any)
            .await
    ));
    // More than one statement's worth, with an existing key and a key given twice.
    let n = 1_203;
    let mut docs: Vec<(String, Value)> = (0..n)
        .map(|i| (format!("k{i:04}"), json!({"i": i})))
        .collect();
    docs.push(("k0007".into(), json!("again")));
    let added = ok("insert_many", r.insert_many(app, MANY_KIND, &docs).await);
    assert_eq!(added, n - 1, "new keys only, each once");
    assert_eq!(ok("count", r.count(app, MANY_KIND).await), n);
    let kept = ok("get", r.get(app, MANY_KIND, "k0003").await);
    assert_eq!(
        kept,
        Some(Doc {
            value: json!("older"),
            version: 2
        }),
        "an existing key is left as it was"
    );
    let first = ok("get", r.get(app, MANY_KIND, "k0007").await);
    assert_eq!(
        first,
        Some(Doc {
            value: json!({"i": 7}),
            version: 1
        }),
        "the first of a key given twice"
    );
    let last = ok("get", r.get(app, MANY_KIND, "k1202").await).map(|d| d.value);
    assert_eq!(last, Some(json!({"i": 1202})));
    // Again: nothing new.
    assert_eq!(
        ok("insert_many", r.insert_many(app, MANY_KIND, &docs).await),
        0
    );
    // All of them page in order.
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let page = ok("list", r.list(app, MANY_KIND, after.as_deref(), 500).await);
        let Some((last, _)) = page.last() else {
            break;
        };
        for (j, (k, _)) in page.iter().enumerate() {
            assert_eq!(k, &format!("k{:04}", seen + j), "in order");
        }
        seen += page.len();
        after = Some(last.clone());
    }
    assert_eq!(seen as u64, n);
}

/// Read-modify-write through [`Docs::update`] from several tasks at once: compare-and-swap
/// keeps every increment. (A writer loses a round only to another writer's success, so with
/// 3 × 3 others' writes no one can exhaust `update`'s 16 attempts.)
async fn concurrent_updates(registry: SharedRegistry, app: &str) {
    let docs = Docs::new(registry);
    let writers = 4;
    let rounds = 3;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers {
        let docs = docs.clone();
        let app = app.to_string();
        tasks.spawn(async move {
            for _ in 0..rounds {
                let done = docs
                    .update(&app, KIND, "counter", |n: Option<i64>| {
                        let next = n.unwrap_or(0) + 1;
                        Ok::<_, ()>((next, ()))
                    })
                    .await;
                assert!(matches!(done, Ok(Ok(()))), "an update went through");
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            panic!("a writer failed: {e}");
        }
    }
    let n: Option<i64> = ok("get", docs.get(app, KIND, "counter").await);
    assert_eq!(n, Some(writers * rounds), "no increment lost");
    assert!(ok("delete", docs.delete(app, KIND, "counter").await));
}
