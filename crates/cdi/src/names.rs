//! CDI's names: a kind is `vendor.com/class`, a device `vendor.com/class=name`.

/// A fully qualified device name, split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qualified<'a> {
    /// `vendor.com/class`.
    pub kind: &'a str,
    pub name: &'a str,
}

/// True for what can only be meant as a CDI name (`--device` also takes host paths).
pub fn is_qualified(s: &str) -> bool {
    !s.starts_with('/') && s.contains('/') && s.contains('=')
}

/// Splits and checks `vendor.com/class=name`.
pub fn parse(s: &str) -> Result<Qualified<'_>, String> {
    let Some((kind, name)) = s.split_once('=') else {
        return Err("want VENDOR/CLASS=NAME".into());
    };
    check_kind(kind)?;
    check_device_name(name)?;
    Ok(Qualified { kind, name })
}

/// `vendor.com/class`: the vendor starts with a letter and holds letters, digits, `-`, `_`
/// and `.`; the class holds letters, digits, `-` and `_`; both end in a letter or digit.
pub fn check_kind(kind: &str) -> Result<(), String> {
    let Some((vendor, class)) = kind.split_once('/') else {
        return Err(format!("{kind:?} is not VENDOR/CLASS"));
    };
    word(vendor, "vendor", |c| c == '-' || c == '_' || c == '.', true)?;
    word(class, "class", |c| c == '-' || c == '_', true)
}

/// A device name starts and ends with a letter or digit, and holds letters, digits, `-`,
/// `_`, `.` and `:`.
pub fn check_device_name(name: &str) -> Result<(), String> {
    word(name, "device name", |c| "-_.:".contains(c), false)
}

fn word(
    s: &str,
    what: &str,
    inner: impl Fn(char) -> bool,
    letter_first: bool,
) -> Result<(), String> {
    let mut chars = s.chars();
    let (Some(first), Some(last)) = (chars.next(), s.chars().last()) else {
        return Err(format!("empty {what}"));
    };
    let first_ok = match letter_first {
        true => first.is_ascii_alphabetic(),
        false => first.is_ascii_alphanumeric(),
    };
    if !first_ok || !last.is_ascii_alphanumeric() {
        return Err(format!(
            "{what} {s:?} must start with a letter{} and end with a letter or digit",
            if letter_first { "" } else { " or digit" }
        ));
    }
    match s.chars().find(|&c| !c.is_ascii_alphanumeric() && !inner(c)) {
        Some(c) => Err(format!("{what} {s:?} holds {c:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_split_and_checked_as_cdi_writes_them() {
        let q = parse("nvidia.com/gpu=0").unwrap();
        assert_eq!((q.kind, q.name), ("nvidia.com/gpu", "0"));
        assert_eq!(parse("vendor.com/class=all").unwrap().name, "all");
        assert_eq!(
            parse("a-b_c.io/x_y=GPU-1:mig.2").unwrap().name,
            "GPU-1:mig.2"
        );
        for bad in [
            "nvidia.com/gpu",
            "nvidia.com=0",
            "/gpu=0",
            "nvidia.com/=0",
            "nvidia.com/gpu=",
            "1vendor/gpu=0",
            "vendor/gp.u=0",
            "vendor/gpu=-0",
            "vendor/gpu=a b",
        ] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
        assert!(is_qualified("nvidia.com/gpu=all"));
        assert!(!is_qualified("/dev/nvidia0"));
        assert!(!is_qualified("/dev/sda:/dev/xvda"));
    }
}
