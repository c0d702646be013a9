//! `--filter KEY=VALUE` flags, read into the engine's [`Filters`].

use anyhow::bail;
pub use berth_engine::filters::label_matches;
use berth_engine::filters::Filters;

/// Reads the flags; a key not in `keys` is refused.
pub fn parse(list: &[String], keys: &[&str]) -> anyhow::Result<Filters> {
    let mut pairs = Vec::new();
    for f in list {
        let Some((k, v)) = f.split_once('=') else {
            bail!("--filter {f:?}: want KEY=VALUE");
        };
        if !keys.contains(&k) {
            bail!("--filter {f:?}: unknown filter {k:?} ({})", keys.join(", "));
        }
        pairs.push((k, v));
    }
    Ok(Filters::group(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_missing_values_are_refused() {
        let f = parse(&["a=1".into(), "b=x".into()], &["a", "b"]).unwrap();
        assert_eq!(f.each().count(), 2);
        assert!(parse(&["c=1".into()], &["a"]).is_err());
        assert!(parse(&["a".into()], &["a"]).is_err());
    }
}
