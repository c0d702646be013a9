//! Credentials (from `berth login`, podman's auth.json and Docker's config.json) and
//! parsing of `WWW-Authenticate` challenges.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::RegistryError;

/// A username and password (or token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or personal access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.username)
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl Credentials {
    /// The `Authorization: Basic` header value.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            B64.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// The file `berth login` writes: `$REGISTRY_AUTH_FILE`, else `auth.json` in the config dir.
pub fn login_file(config_dir: &Path) -> PathBuf {
    match std::env::var_os("REGISTRY_AUTH_FILE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => config_dir.join("auth.json"),
    }
}

/// Files searched for credentials, in order.
pub fn auth_files(config_dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![login_file(config_dir)];
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
        v.push(PathBuf::from(x).join("containers/auth.json"));
    }
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => v.push(PathBuf::from(d).join("config.json")),
        None => {
            if let Some(h) = std::env::var_os("HOME") {
                v.push(PathBuf::from(h).join(".docker/config.json"));
            }
        }
    }
    v
}

/// Keys a registry may appear under in an auth file.
fn keys_for(host: &str) -> Vec<String> {
    let mut k = vec![
        host.to_string(),
        format!("https://{host}"),
        format!("http://{host}"),
    ];
    if host == crate::reference::DEFAULT_REGISTRY {
        k.extend([
            "https://index.docker.io/v1/".to_string(),
            "index.docker.io".to_string(),
            "registry-1.docker.io".to_string(),
        ]);
    }
    k
}

/// Looks up credentials for `host` in the auth files; the first file with an entry wins.
pub fn find_credentials(
    config_dir: &Path,
    host: &str,
) -> Result<Option<Credentials>, RegistryError> {
    for file in auth_files(config_dir) {
        let Some(doc) = read_auth_file(&file)? else {
            continue;
        };
        let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else {
            continue;
        };
        for key in keys_for(host) {
            if let Some(entry) = auths.get(&key) {
                return decode_entry(entry)
                    .map(Some)
                    .ok_or_else(|| RegistryError::Config {
                        path: file.clone(),
                        why: format!("entry {key:?} has no usable \"auth\" or username/password"),
                    });
            }
        }
    }
    Ok(None)
}

fn read_auth_file(file: &Path) -> Result<Option<serde_json::Value>, RegistryError> {
    match std::fs::read(file) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| RegistryError::Config {
                path: file.to_path_buf(),
                why: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RegistryError::Config {
            path: file.to_path_buf(),
            why: e.to_string(),
        }),
    }
}

fn decode_entry(entry: &serde_json::Value) -> Option<Credentials> {
    if let Some(auth) = entry
        .get("auth")
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty())
    {
        let raw = String::from_utf8(B64.decode(auth).ok()?).ok()?;
        let (u, p) = raw.split_once(':')?;
        return Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        });
    }
    let u = entry.get("username")?.as_str()?;
    let p = entry.get("password")?.as_str()?;
    Some(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    })
}

/// Stores (or with `None`, removes) credentials for `host` in the login file, keeping
/// the rest of the file. Returns whether anything was removed when logging out.
pub fn save_credentials(
    config_dir: &Path,
    host: &str,
    creds: Option<&Credentials>,
) -> Result<bool, RegistryError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let file = login_file(config_dir);
    let cfg_err = |why: String| RegistryError::Config {
        path: file.clone(),
        why,
    };
    let mut doc = read_auth_file(&file)?.unwrap_or_else(|| serde_json::json!({}));
    let root = doc
        .as_object_mut()
        .ok_or_else(|| cfg_err("not a JSON object".into()))?;
    let auths = root.entry("auths").or_insert_with(|| serde_json::json!({}));
    let auths = auths
        .as_object_mut()
        .ok_or_else(|| cfg_err("\"auths\" is not an object".into()))?;
    let mut removed = false;
    for k in keys_for(host) {
        removed |= auths.remove(&k).is_some();
    }
    if let Some(c) = creds {
        let auth = B64.encode(format!("{}:{}", c.username, c.password));
        auths.insert(host.to_string(), serde_json::json!({ "auth": auth }));
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| cfg_err(e.to_string()))?;
    }
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    let body = serde_json::to_vec_pretty(&doc).map_err(|e| cfg_err(e.to_string()))?;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &file)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        cfg_err(e.to_string())
    })?;
    Ok(removed)
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer` or `basic` (lowercased).
    pub scheme: String,
    /// Parameters (realm, service, scope, error ...), keys lowercased.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// Parses `Scheme k="v", k2=v2`. Quoted values may contain commas and `\"`.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = BTreeMap::new();
        let mut chars = rest.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
                chars.next();
            }
            let key: String = chars
                .by_ref()
                .take_while(|c| *c != '=')
                .collect::<String>()
                .trim()
                .to_lowercase();
            if key.is_empty() {
                break;
            }
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                value = chars
                    .by_ref()
                    .take_while(|c| *c != ',')
                    .collect::<String>()
                    .trim()
                    .to_string();
            }
            params.insert(key, value);
        }
        Some(Challenge {
            scheme: scheme.to_lowercase(),
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge() {
        let c = Challenge::parse(
            r#"Bearer realm="https://a/token",service="reg, x",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://a/token");
        assert_eq!(c.params["service"], "reg, x");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let b = Challenge::parse("Basic realm=berth").unwrap();
        assert_eq!(
            (b.scheme.as_str(), b.params["realm"].as_str()),
            ("basic", "berth")
        );
    }

    #[test]
    fn saves_and_finds_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        save_credentials(dir.path(), "r.io:5000", Some(&c)).unwrap();
        assert_eq!(find_credentials(dir.path(), "r.io:5000").unwrap(), Some(c));
        let text = std::fs::read_to_string(dir.path().join("auth.json")).unwrap();
        assert!(text.contains("dTpwOnc="), "{text}");
        assert!(save_credentials(dir.path(), "r.io:5000", None).unwrap());
        assert_eq!(find_credentials(dir.path(), "r.io:5000").unwrap(), None);
    }
}
