//! docker-archive's `manifest.json`.

use serde::{Deserialize, Serialize};

use crate::reference::{Reference, DEFAULT_REGISTRY};

/// One image in `manifest.json`.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    /// Path of the config file in the archive.
    pub config: String,
    /// Names, as docker prints them (`busybox:latest`, `localhost/x:1`).
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layer tars, bottom first.
    pub layers: Vec<String>,
}

/// The name docker writes: Docker Hub names lose `docker.io/` and `library/`.
pub fn familiar(r: &Reference) -> String {
    let mut s = r.to_string();
    if r.registry() == DEFAULT_REGISTRY {
        s = s.trim_start_matches("docker.io/").to_string();
        if let Some(rest) = s.strip_prefix("library/") {
            if !rest.contains('/') {
                s = rest.to_string();
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_names() {
        assert_eq!(
            familiar(&Reference::parse("busybox").unwrap()),
            "busybox:latest"
        );
        assert_eq!(familiar(&Reference::parse("u/app:1").unwrap()), "u/app:1");
        assert_eq!(
            familiar(&Reference::parse_local("bb").unwrap()),
            "localhost/bb:latest"
        );
    }
}
