//! Property tests: config.json parsing and validation take any input without panicking, and
//! every rejection is one clear line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use berth_container::spec;
use proptest::prelude::*;
use serde_json::Value;

/// Arbitrary JSON, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "/",
            "../..",
            "/proc",
            "rbind",
            "ro",
            "tmpfs",
            "CAP_SYS_ADMIN",
            "RLIMIT_NOFILE",
            "user",
            "pid"
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The default config, with one field (found by a path of object keys and array indexes)
/// replaced by arbitrary JSON.
fn mutated() -> impl Strategy<Value = Value> {
    let base = spec::default_spec(false, 0, 0).unwrap();
    (
        prop::collection::vec(any::<prop::sample::Index>(), 1..5),
        json(),
    )
        .prop_map(move |(path, new)| {
            // Walk down read-only to a JSON pointer, then replace what it names.
            let mut pointer = String::new();
            let mut cur = &base;
            for ix in path {
                let (key, next) = match cur {
                    Value::Object(m) if !m.is_empty() => {
                        let (k, v) = m.iter().nth(ix.index(m.len())).unwrap();
                        (k.replace('~', "~0").replace('/', "~1"), v)
                    }
                    Value::Array(a) if !a.is_empty() => {
                        let i = ix.index(a.len());
                        (i.to_string(), &a[i])
                    }
                    _ => break,
                };
                pointer.push('/');
                pointer.push_str(&key);
                cur = next;
            }
            let mut v = base.clone();
            if let Some(slot) = v.pointer_mut(&pointer) {
                *slot = new;
            }
            v
        })
}

fn check(bytes: &[u8]) {
    match spec::parse(bytes) {
        Err((field, message)) => {
            assert!(!field.is_empty() && !message.is_empty());
            assert!(!message.contains('\n'), "{message}");
        }
        Ok(s) => {
            if let Err(e) = spec::validate(&s) {
                let m = e.to_string();
                assert!(m.starts_with("config.json: ") && !m.contains('\n'), "{m}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in json()) {
        check(v.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&b);
    }

    #[test]
    fn mutated_default_configs_never_panic(v in mutated()) {
        check(v.to_string().as_bytes());
    }
}
