//! Filters as docker reads them (`--filter KEY=VALUE`, the API's `filters`): filters of one
//! key pass when any of their values matches, filters of different keys must all pass; but
//! every `label` (and `label!`) filter must pass, as docker has it (compose lists a
//! project's containers with several).

use berth_image::store::{Image, Store};

/// The filters, grouped by key.
#[derive(Debug, Default)]
pub struct Filters(Vec<(String, Vec<String>)>);

impl Filters {
    /// Groups `(key, value)` pairs by key.
    pub fn group<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Filters {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            match groups.iter_mut().find(|(key, _)| *key == k) {
                Some((_, vs)) => vs.push(v),
                None => groups.push((k, vec![v])),
            }
        }
        Filters(groups)
    }

    /// Every filter as (key, value).
    pub fn each(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())))
    }

    /// Whether an item passes, `matches(key, value)` telling whether it passes one filter.
    pub fn keep(&self, matches: impl Fn(&str, &str) -> bool) -> bool {
        self.0.iter().all(|(k, vs)| match k.as_str() {
            "label" | "label!" => vs.iter().all(|v| matches(k, v)),
            _ => vs.iter().any(|v| matches(k, v)),
        })
    }
}

/// docker's `label` filter on a set of labels: `KEY` (the label is there) or `KEY=VALUE`.
pub fn label_matches<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    filter: &str,
) -> bool {
    let (key, value) = match filter.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (filter, None),
    };
    labels
        .into_iter()
        .any(|(k, v)| k == key && value.is_none_or(|want| v == want))
}

/// Whether image `img`, listed as `name:tag`, passes filter `key=value`.
pub fn image_passes(
    store: &Store,
    img: &Image,
    name: &str,
    tag: &str,
    key: &str,
    value: &str,
) -> bool {
    let created = |i: &Image| i.config.created().clone().unwrap_or_default();
    match key {
        // berth removes an image once it has no name: nothing dangles.
        "dangling" => value == "false",
        "reference" => {
            let short = name.strip_prefix("docker.io/library/").unwrap_or(name);
            [name, short]
                .iter()
                .any(|n| wildcard(value, n) || wildcard(value, &format!("{n}:{tag}")))
        }
        "label" => {
            let labels = img
                .config
                .config()
                .as_ref()
                .and_then(|c| c.labels().clone())
                .unwrap_or_default();
            label_matches(&labels, value)
        }
        "before" | "since" => store.image(value).is_ok_and(|other| {
            let (mine, theirs) = (created(img), created(&other));
            match key {
                "before" => mine < theirs,
                _ => mine > theirs,
            }
        }),
        _ => false,
    }
}

/// Go's `path.Match` on a name: `*` matches any run of characters but `/`, `?` one of them.
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer match with one star to backtrack to.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == n[j] || (p[i] == '?' && n[j] != '/')) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star.filter(|_| n[mark] != '/') {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn keys_group_and_labels_match() {
        let f = Filters::group([("a", "1"), ("a", "2"), ("b", "x")]);
        assert!(f.keep(|k, v| (k, v) == ("a", "2") || k == "b"));
        assert!(!f.keep(|k, _| k == "a"));
        assert_eq!(f.each().count(), 3);
        let both = Filters::group([("label", "a"), ("label", "b")]);
        assert!(both.keep(|_, _| true));
        assert!(!both.keep(|_, v| v == "a"));
        let labels: BTreeMap<String, String> = [("tier".into(), "db".into())].into();
        assert!(label_matches(&labels, "tier"));
        assert!(label_matches(&labels, "tier=db"));
        assert!(!label_matches(&labels, "tier=web"));
        assert!(!label_matches(&labels, "other"));
    }

    #[test]
    fn patterns_match_as_gos_path_match() {
        assert!(wildcard("busybox", "busybox"));
        assert!(wildcard("busy*", "busybox"));
        assert!(wildcard("*box:lat?st", "busybox:latest"));
        assert!(wildcard("localhost/*", "localhost/app"));
        assert!(!wildcard("*", "localhost/app"));
        assert!(!wildcard("busy", "busybox"));
        assert!(wildcard("*/*:1", "localhost/x:1"));
    }
}
