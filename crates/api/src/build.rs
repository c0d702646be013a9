//! `POST /build`: the request's body is the context tar, built by `berth build -` (that
//! very command, a child of the service, fed the body on its stdin); its output goes back
//! as docker's JSON stream (`{"stream": ...}` lines, the image id in `aux`, a failure in
//! `error`).

use crate::body::{ChannelBody, Reply};
use crate::error::ApiError;
use crate::query::Query;
use crate::{body, Service};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// A JSON object of strings in a query parameter (`buildargs`, `labels`) as `KEY=VALUE`s.
fn pairs(q: &Query, key: &str) -> Result<Vec<String>, ApiError> {
    let Some(raw) = q.get(key).filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    let map: BTreeMap<String, Option<String>> =
        serde_json::from_str(raw).map_err(|e| ApiError::bad_request(format!("{key}: {e}")))?;
    Ok(map
        .into_iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k,
        })
        .collect())
}

/// The `berth build` flags a build request asks for.
fn build_args(q: &Query) -> Result<Vec<String>, ApiError> {
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::not_supported(
            "building from a remote context (remote=)",
        ));
    }
    if q.get("version") == Some("2") {
        return Err(ApiError::not_supported("BuildKit sessions (version=2)"));
    }
    let mut args = vec!["build".to_string()];
    for t in q.all("t").into_iter().filter(|t| !t.is_empty()) {
        args.extend(["-t".into(), t]);
    }
    if let Some(f) = q.get("dockerfile").filter(|f| !f.is_empty()) {
        args.extend(["-f".into(), f.to_string()]);
    }
    for a in pairs(q, "buildargs")? {
        args.extend(["--build-arg".into(), a]);
    }
    for l in pairs(q, "labels")? {
        args.extend(["--label".into(), l]);
    }
    for (param, flag) in [("target", "--target"), ("platform", "--platform")] {
        if let Some(v) = q.get(param).filter(|v| !v.is_empty()) {
            args.extend([flag.into(), v.to_string()]);
        }
    }
    match q.get("networkmode") {
        None | Some("" | "default") => {}
        Some(n) => args.extend(["--network".into(), n.to_string()]),
    }
    if q.flag("nocache") {
        args.push("--no-cache".into());
    }
    if q.flag("pull") {
        args.push("--pull=always".into());
    }
    Ok(args)
}

impl Service {
    pub(crate) async fn build(self: Arc<Self>, q: Query, b: Incoming) -> Result<Reply, ApiError> {
        let args = build_args(&q)?;
        let quiet = q.flag("q");
        let iid = tempfile::NamedTempFile::new()
            .map_err(|e| ApiError::internal(format!("build: {e}")))?
            .into_temp_path();
        let mut cmd = tokio::process::Command::new(&self.setup.cli.program);
        cmd.args(&self.setup.cli.args)
            .args(&args)
            .arg("--iidfile")
            .arg(&*iid)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| ApiError::internal(format!("build: {e}")))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ApiError::internal("build: no pipes to berth build"));
        };
        // The context goes in while the output comes out.
        tokio::spawn(async move {
            let mut b = b;
            while let Some(Ok(frame)) = b.frame().await {
                if let Ok(data) = frame.into_data() {
                    if stdin.write_all(&data).await.is_err() {
                        return;
                    }
                }
            }
        });
        let (tx, reply_body) = ChannelBody::channel(64);
        tokio::spawn(async move {
            let (lines_tx, mut lines) = mpsc::channel::<String>(64);
            for out in [
                Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                Box::new(stderr),
            ] {
                let lines_tx = lines_tx.clone();
                tokio::spawn(async move {
                    let mut r = BufReader::new(out).lines();
                    while let Ok(Some(l)) = r.next_line().await {
                        if lines_tx.send(l).await.is_err() {
                            return;
                        }
                    }
                });
            }
            drop(lines_tx);
            let mut last = String::new();
            while let Some(l) = lines.recv().await {
                if !quiet {
                    let _ = tx
                        .send(Bytes::from(format!(
                            "{}\r\n",
                            json!({"stream": format!("{l}\n")})
                        )))
                        .await;
                }
                last = l;
            }
            let ok = child.wait().await.is_ok_and(|s| s.success());
            let id = std::fs::read_to_string(&iid).unwrap_or_default();
            let end = match ok && !id.trim().is_empty() {
                true => json!({"aux": {"ID": id.trim()}}),
                false => {
                    let message = match last.is_empty() {
                        true => "berth build failed".to_string(),
                        false => last,
                    };
                    json!({"errorDetail": {"message": message}, "error": message})
                }
            };
            let _ = tx.send(Bytes::from(format!("{end}\r\n"))).await;
            drop(iid);
        });
        Ok(body::stream("application/json", reply_body))
    }
}
