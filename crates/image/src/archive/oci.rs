//! Names in an OCI layout's `index.json`.

use crate::reference::Reference;

/// The annotation OCI layouts name manifests with.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation for the full image name.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// The image name a descriptor's annotations give: containerd's full name, else ref.name
/// when it is a full reference (skopeo and podman write one), else ref.name as a tag of
/// `localhost/<fallback>`.
pub fn name_from_annotations(
    annotations: Option<&std::collections::HashMap<String, String>>,
    fallback: &str,
) -> Option<Reference> {
    let a = annotations?;
    if let Some(n) = a
        .get(CONTAINERD_NAME)
        .and_then(|n| Reference::parse(n).ok())
    {
        return Some(n);
    }
    let r = a.get(REF_NAME)?;
    if r.contains('/') {
        return Reference::parse_local(r).ok();
    }
    Reference::parse_local(&format!("{fallback}:{r}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let m = |k: &str, v: &str| Some([(k.to_string(), v.to_string())].into_iter().collect());
        let n = |a: Option<std::collections::HashMap<String, String>>| {
            name_from_annotations(a.as_ref(), "img").map(|r| r.to_string())
        };
        assert_eq!(
            n(m(REF_NAME, "localhost/bb:1")).as_deref(),
            Some("localhost/bb:1")
        );
        assert_eq!(
            n(m(REF_NAME, "latest")).as_deref(),
            Some("localhost/img:latest")
        );
        assert_eq!(
            n(m(CONTAINERD_NAME, "docker.io/library/x:2")).as_deref(),
            Some("docker.io/library/x:2")
        );
        assert_eq!(n(None), None);
    }
}
