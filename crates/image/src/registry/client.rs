//! One registry: picks HTTPS or (if allowed) HTTP, answers auth challenges (basic or
//! bearer tokens, cached per scope until they expire) and sends distribution API requests.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;

use super::auth::{Challenge, Credentials};
use super::{RegistryConfig, RegistryError};
use crate::media;

/// Largest manifest or token response accepted (the distribution spec's limit is 4 MiB).
const MAX_DOCUMENT: u64 = 4 << 20;

/// A connection to one registry.
pub struct Client {
    registry: String,
    base: String,
    http: Http,
    creds: Option<Credentials>,
    auth: Mutex<AuthState>,
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    tokens: HashMap<String, (String, Instant)>,
}

/// Per-read timeout: a registry that stops sending for this long is given up on.
fn timeout() -> Duration {
    let secs = std::env::var("BERTH_HTTP_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

impl Client {
    /// Connects to `registry` (host[:port]): checks `/v2/` over HTTPS, or plain HTTP when
    /// the registry is configured insecure and HTTPS fails.
    pub fn new(
        registry: &str,
        cfg: &RegistryConfig,
        creds: Option<Credentials>,
    ) -> Result<Client, RegistryError> {
        let insecure = cfg.insecure(registry);
        let mut b = Http::builder()
            .timeout(timeout())
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(insecure);
        for f in cfg.ca_files(registry) {
            let pem = std::fs::read(&f).map_err(|e| RegistryError::Config {
                path: f.clone(),
                why: e.to_string(),
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| RegistryError::Config {
                path: f.clone(),
                why: e.to_string(),
            })?;
            b = b.add_root_certificate(cert);
        }
        let http = b.build().map_err(|e| RegistryError::Http {
            url: registry.to_string(),
            source: e,
        })?;
        let host = if registry == crate::reference::DEFAULT_REGISTRY {
            "registry-1.docker.io"
        } else {
            registry
        };
        let mut c = Client {
            registry: registry.to_string(),
            base: format!("https://{host}"),
            http,
            creds,
            auth: Mutex::default(),
        };
        match c.ping() {
            Err(RegistryError::Http { .. }) if insecure => {
                c.base = format!("http://{host}");
                c.ping()?;
            }
            r => r?,
        }
        Ok(c)
    }

    /// The registry host this client talks to.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `GET /v2/`: learns the auth challenge.
    fn ping(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .map_err(|e| RegistryError::Http {
                url: url.clone(),
                source: e,
            })?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            self.learn_challenge(&resp);
            return Ok(());
        }
        check_status(resp, &url).map(drop)
    }

    /// Checks the credentials (for `berth login`): fetches a token or calls `/v2/` with them.
    pub fn verify_login(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        let resp = self.send("", |h| h.get(&url))?;
        check_status(resp, &url).map(drop)
    }

    fn learn_challenge(&self, resp: &Response) {
        let ch = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(Challenge::parse);
        if let Ok(mut st) = self.auth.lock() {
            if ch.is_some() {
                st.challenge = ch;
            }
        }
    }

    fn auth_header(&self, scope: &str) -> Result<Option<String>, RegistryError> {
        let challenge = match self.auth.lock() {
            Ok(st) => {
                if let Some((tok, exp)) = st.tokens.get(scope) {
                    if Instant::now() < *exp {
                        return Ok(Some(format!("Bearer {tok}")));
                    }
                }
                st.challenge.clone()
            }
            Err(_) => None,
        };
        match challenge {
            Some(c) if c.scheme == "bearer" => {
                let (tok, ttl) = self.fetch_token(&c, scope)?;
                if let Ok(mut st) = self.auth.lock() {
                    // Renew a little early so a token does not expire in flight.
                    st.tokens.insert(
                        scope.to_string(),
                        (
                            tok.clone(),
                            Instant::now() + ttl.saturating_sub(Duration::from_secs(10)),
                        ),
                    );
                }
                Ok(Some(format!("Bearer {tok}")))
            }
            Some(c) if c.scheme == "basic" => {
                Ok(self.creds.as_ref().map(Credentials::basic_header))
            }
            _ => Ok(None),
        }
    }

    fn fetch_token(&self, c: &Challenge, scope: &str) -> Result<(String, Duration), RegistryError> {
        let realm = c
            .params
            .get("realm")
            .ok_or_else(|| RegistryError::Protocol {
                what: self.registry.clone(),
                why: "bearer challenge without realm".into(),
            })?;
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = c.params.get("service") {
            query.push(("service", s));
        }
        // Several scopes (push plus a mount source) travel as repeated parameters.
        query.extend(
            scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(|s| ("scope", s)),
        );
        let mut rb = self.http.get(realm).query(&query);
        if let Some(cr) = &self.creds {
            rb = rb.header(AUTHORIZATION, cr.basic_header());
        }
        let resp = rb.send().map_err(|e| RegistryError::Http {
            url: realm.clone(),
            source: e,
        })?;
        if matches!(
            resp.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return Err(self.unauthorized());
        }
        let body = read_document(check_status(resp, realm)?, realm)?;
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let t: Token = serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
            what: realm.clone(),
            why: format!("bad token response: {e}"),
        })?;
        let tok = t
            .token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Protocol {
                what: realm.clone(),
                why: "token response without a token".into(),
            })?;
        // The spec's default lifetime is 60 s.
        Ok((tok, Duration::from_secs(t.expires_in.unwrap_or(60).max(60))))
    }

    fn unauthorized(&self) -> RegistryError {
        match self.creds {
            Some(_) => RegistryError::BadCredentials {
                registry: self.registry.clone(),
            },
            None => RegistryError::AuthRequired {
                registry: self.registry.clone(),
            },
        }
    }

    /// Sends a request built by `build`, authenticated for `scope`; on a 401 it learns
    /// the new challenge, drops the cached token and tries once more.
    pub(crate) fn send(
        &self,
        scope: &str,
        build: impl Fn(&Http) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let mut retried = false;
        loop {
            let mut rb = build(&self.http);
            if let Some(h) = self.auth_header(scope)? {
                rb = rb.header(AUTHORIZATION, h);
            }
            let req = rb.build().map_err(|e| RegistryError::Http {
                url: self.base.clone(),
                source: e,
            })?;
            let url = req.url().to_string();
            let resp = self
                .http
                .execute(req)
                .map_err(|e| RegistryError::Http { url, source: e })?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            if retried {
                return Err(self.unauthorized());
            }
            retried = true;
            self.learn_challenge(&resp);
            if let Ok(mut st) = self.auth.lock() {
                st.tokens.remove(scope);
            }
        }
    }

    /// `base/v2/<path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v2/{path}", self.base)
    }

    /// Fetches a manifest (or index) by tag or digest: its bytes and media type.
    pub fn manifest(
        &self,
        repo: &str,
        reference: &str,
        full_ref: &str,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let url = self.url(&format!("{repo}/manifests/{reference}"));
        let resp = self.send(&pull_scope(repo), |h| {
            h.get(&url)
                .header(reqwest::header::ACCEPT, media::MANIFEST_ACCEPT)
        })?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::ManifestUnknown {
                reference: full_ref.to_string(),
            });
        }
        let resp = check_status(resp, &url)?;
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
        let body = read_document(resp, &url)?;
        let media_type = match ct {
            Some(ct) if ct != "application/json" && !ct.is_empty() => ct,
            _ => embedded_media_type(&body).unwrap_or_else(|| media::OCI_MANIFEST.to_string()),
        };
        Ok((body, media_type))
    }

    /// Starts a blob download, from byte `offset` on.
    pub(crate) fn get_blob(
        &self,
        repo: &str,
        digest: &str,
        offset: u64,
    ) -> Result<Response, RegistryError> {
        let url = self.url(&format!("{repo}/blobs/{digest}"));
        let resp = self.send(&pull_scope(repo), |h| {
            let rb = h.get(&url);
            if offset > 0 {
                rb.header(reqwest::header::RANGE, format!("bytes={offset}-"))
            } else {
                rb
            }
        })?;
        check_status(resp, &url)
    }

    /// Reads a small blob (a config) whole.
    pub fn blob_bytes(&self, repo: &str, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let url = self.url(&format!("{repo}/blobs/{digest}"));
        read_document(self.get_blob(repo, digest, 0)?, &url)
    }
}

/// The token scope for pulling from `repo`.
pub(crate) fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

/// Passes 2xx responses; turns others into an error carrying the registry's message.
pub(crate) fn check_status(resp: Response, url: &str) -> Result<Response, RegistryError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let _ = resp.take(64 << 10).read_to_end(&mut body);
    Err(RegistryError::Status {
        url: url.to_string(),
        status,
        detail: error_detail(&body),
    })
}

/// `": CODE: message"` from a distribution error body, or "".
fn error_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<E>,
    }
    #[derive(serde::Deserialize)]
    struct E {
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(e) => e
            .errors
            .first()
            .map(|e| {
                format!(
                    ": {}: {}",
                    e.code.as_deref().unwrap_or("ERROR"),
                    e.message.as_deref().unwrap_or("")
                )
            })
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn read_document(resp: Response, url: &str) -> Result<Vec<u8>, RegistryError> {
    let mut body = Vec::new();
    resp.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut body)
        .map_err(|e| RegistryError::Protocol {
            what: url.to_string(),
            why: format!("reading response: {e}"),
        })?;
    if body.len() as u64 > MAX_DOCUMENT {
        return Err(RegistryError::Protocol {
            what: url.to_string(),
            why: "document larger than 4 MiB".into(),
        });
    }
    Ok(body)
}

fn embedded_media_type(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct M {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    let m: M = serde_json::from_slice(body).ok()?;
    m.media_type
        .or_else(|| m.manifests.map(|_| media::OCI_INDEX.to_string()))
}
