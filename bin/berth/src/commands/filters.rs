//! `--filter KEY=VALUE` as docker reads it: filters of one key pass when any of their values
//! matches, filters of different keys must all pass.

use anyhow::bail;

/// The filters, grouped by key.
pub struct Filters(Vec<(String, Vec<String>)>);

impl Filters {
    /// Reads the filters; a key not in `keys` is refused.
    pub fn parse(list: &[String], keys: &[&str]) -> anyhow::Result<Filters> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for f in list {
            let Some((k, v)) = f.split_once('=') else {
                bail!("--filter {f:?}: want KEY=VALUE");
            };
            if !keys.contains(&k) {
                bail!("--filter {f:?}: unknown filter {k:?} ({})", keys.join(", "));
            }
            match groups.iter_mut().find(|(key, _)| key == k) {
                Some((_, vs)) => vs.push(v.to_string()),
                None => groups.push((k.to_string(), vec![v.to_string()])),
            }
        }
        Ok(Filters(groups))
    }

    /// Every filter as (key, value).
    pub fn each(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())))
    }

    /// Whether an item passes, `matches(key, value)` telling whether it passes one filter.
    pub fn keep(&self, matches: impl Fn(&str, &str) -> bool) -> bool {
        self.0
            .iter()
            .all(|(k, vs)| vs.iter().any(|v| matches(k, v)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn keys_group_and_labels_match() {
        let list = ["a=1", "a=2", "b=x"].map(String::from);
        let f = Filters::parse(&list, &["a", "b"]).unwrap();
        assert!(f.keep(|k, v| (k, v) == ("a", "2") || k == "b"));
        assert!(!f.keep(|k, _| k == "a"));
        assert_eq!(f.each().count(), 3);
        assert!(Filters::parse(&["c=1".into()], &["a"]).is_err());
        assert!(Filters::parse(&["a".into()], &["a"]).is_err());
        let labels: BTreeMap<String, String> = [("tier".into(), "db".into())].into();
        assert!(label_matches(&labels, "tier"));
        assert!(label_matches(&labels, "tier=db"));
        assert!(!label_matches(&labels, "tier=web"));
        assert!(!label_matches(&labels, "other"));
    }
}
