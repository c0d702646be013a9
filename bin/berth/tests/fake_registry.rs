//! Broken and hostile registries, served by a tiny HTTP server inside the test: every
//! failure must be one clear line, exit status 1, and leave the store and host as before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_image::Digest;
use common::Berth;

/// How a response body misbehaves.
#[derive(Clone)]
enum Body {
    Full(Vec<u8>),
    /// Announces the full length, sends this many bytes, closes.
    DropAfter(Vec<u8>, usize),
    /// Sends this many bytes, then nothing for a long time.
    Stall(Vec<u8>, usize),
    /// Bytes forever, no length.
    Endless,
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

fn resp(status: u16, ct: &str, body: Vec<u8>) -> Resp {
    Resp {
        status,
        headers: vec![("Content-Type".into(), ct.into())],
        body: Body::Full(body),
    }
}

type Handler = dyn Fn(&str, &str, Option<u64>) -> Resp + Send + Sync;

/// Serves `handler` on 127.0.0.1; returns host:port and the log of "METHOD path [range]".
fn serve(handler: Arc<Handler>) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (h, log) = (handler.clone(), log2.clone());
            std::thread::spawn(move || handle(s, &*h, &log));
        }
    });
    (addr, log)
}

fn handle(mut s: TcpStream, h: &Handler, log: &Mutex<Vec<String>>) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return;
    };
    let mut range = None;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("range: bytes=") {
            range = v.trim().trim_end_matches('-').parse().ok();
        }
    }
    log.lock()
        .unwrap()
        .push(format!("{method} {path} {range:?}"));
    let rsp = h(method, path, range);
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", rsp.status);
    for (k, v) in &rsp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let _ = match rsp.body {
        Body::Full(b) => {
            let (status_line, b) = match range {
                Some(off) if rsp.status == 200 && off as usize <= b.len() => {
                    (Some(off), b[off as usize..].to_vec())
                }
                _ => (None, b),
            };
            if status_line.is_some() {
                head = head.replacen("HTTP/1.1 200 X", "HTTP/1.1 206 X", 1);
            }
            s.write_all(format!("{head}Content-Length: {}\r\n\r\n", b.len()).as_bytes())
                .and_then(|_| s.write_all(&b))
        }
        Body::DropAfter(b, n) => s
            .write_all(format!("{head}Content-Length: {}\r\n\r\n", b.len()).as_bytes())
            .and_then(|_| s.write_all(&b[..n])),
        Body::Stall(b, n) => {
            let r = s
                .write_all(format!("{head}Content-Length: {}\r\n\r\n", b.len()).as_bytes())
                .and_then(|_| s.write_all(&b[..n]));
            std::thread::sleep(Duration::from_secs(60));
            r
        }
        Body::Endless => {
            let _ = s.write_all(format!("{head}\r\n").as_bytes());
            let chunk = vec![0u8; 65536];
            while s.write_all(&chunk).is_ok() {}
            Ok(())
        }
    };
}

/// A one-layer image: (manifest, config, layer) bytes and the layer digest.
struct Img {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer: Vec<u8>,
}

impl Img {
    fn new(layer: Vec<u8>, arch: &str) -> Img {
        let diff = Digest::of(&layer);
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","config":{{"Cmd":["/bin/sh"]}},"rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#
        )
        .into_bytes();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{diff}","size":{}}}]}}"#,
            Digest::of(&config),
            config.len(),
            layer.len()
        )
        .into_bytes();
        Img {
            manifest,
            config,
            layer,
        }
    }

    /// Serves this image as repo `t`, tag `v1`; `blob` decides how the layer is sent.
    fn serve(
        self,
        blob: impl Fn(&[u8], Option<u64>) -> Resp + Send + Sync + 'static,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let layer_path = format!("/v2/t/blobs/{}", Digest::of(&self.layer));
        let config_path = format!("/v2/t/blobs/{}", Digest::of(&self.config));
        serve(Arc::new(
            move |_m: &str, p: &str, range: Option<u64>| match p {
                "/v2/" => resp(200, "application/json", b"{}".to_vec()),
                "/v2/t/manifests/v1" => resp(
                    200,
                    "application/vnd.oci.image.manifest.v1+json",
                    self.manifest.clone(),
                ),
                p if p == config_path => resp(200, "application/octet-stream", self.config.clone()),
                p if p == layer_path => blob(&self.layer, range),
                _ => resp(
                    404,
                    "application/json",
                    br#"{"errors":[{"code":"NOT_FOUND","message":"nothing here"}]}"#.to_vec(),
                ),
            },
        ))
    }
}

/// A tar entry: name, type, link target, data.
type TarEntry<'a> = (&'a str, tar::EntryType, &'a str, &'a [u8]);

fn tar_of(entries: &[TarEntry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn good_layer() -> Vec<u8> {
    let big = vec![b'x'; 300_000];
    tar_of(&[
        ("bin/", tar::EntryType::Directory, "", b""),
        ("bin/tool", tar::EntryType::Regular, "", &big),
        ("etc/motd", tar::EntryType::Regular, "", b"hi\n"),
    ])
}

/// Runs a pull that must fail; checks message, store and host; returns the message.
fn pull_fails(b: &Berth, host: &str, expect: &str) -> String {
    b.insecure(host);
    b.ok(&["images", "-q"]); // creates the store, so "before" has its skeleton
    let before = b.store_state();
    let msg = b.fail(&["pull", &format!("{host}/t:v1")]);
    assert!(msg.contains(expect), "expected {expect:?} in {msg:?}");
    assert_eq!(
        b.store_state(),
        before,
        "store changed by a failed pull ({msg})"
    );
    b.assert_host_clean();
    msg
}

#[test]
fn good_image_pulls() {
    let (host, _) = Img::new(good_layer(), "amd64")
        .serve(|l, _| resp(200, "application/octet-stream", l.to_vec()));
    let b = Berth::new();
    b.insecure(&host);
    b.ok(&["pull", &format!("{host}/t:v1")]);
    assert!(b.ok(&["images"]).contains(&format!("{host}/t")));
    b.assert_host_clean();
}

#[test]
fn unauthorized_without_credentials() {
    let (host, _) = serve(Arc::new(|_: &str, _: &str, _| Resp {
        status: 401,
        headers: vec![("WWW-Authenticate".into(), "Basic realm=\"fake\"".into())],
        body: Body::Full(Vec::new()),
    }));
    pull_fails(&Berth::new(), &host, "authentication required");
}

#[test]
fn unknown_tag() {
    let (host, _) = serve(Arc::new(|_: &str, p: &str, _| match p {
        "/v2/" => resp(200, "application/json", b"{}".to_vec()),
        _ => resp(
            404,
            "application/json",
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.to_vec(),
        ),
    }));
    pull_fails(&Berth::new(), &host, "manifest unknown");
}

#[test]
fn server_error_on_blob() {
    let (host, _) =
        Img::new(good_layer(), "amd64").serve(|_, _| resp(500, "text/plain", b"boom".to_vec()));
    pull_fails(&Berth::new(), &host, "HTTP 500");
}

#[test]
fn connection_dropped_every_time() {
    let (host, _) = Img::new(good_layer(), "amd64").serve(|l, _| Resp {
        status: 200,
        headers: vec![],
        body: Body::DropAfter(l.to_vec(), l.len() / 2),
    });
    pull_fails(&Berth::new(), &host, "retries");
}

#[test]
fn dropped_connection_resumes_with_range() {
    let first = Arc::new(Mutex::new(true));
    let (host, log) = Img::new(good_layer(), "amd64").serve(move |l, _| {
        let mut f = first.lock().unwrap();
        if std::mem::replace(&mut *f, false) {
            Resp {
                status: 200,
                headers: vec![],
                body: Body::DropAfter(l.to_vec(), 100_000),
            }
        } else {
            resp(200, "application/octet-stream", l.to_vec())
        }
    });
    let b = Berth::new();
    b.insecure(&host);
    b.ok(&["pull", &format!("{host}/t:v1")]);
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.ends_with("Some(100000)")),
        "no Range request: {:?}",
        log.lock().unwrap()
    );
    b.assert_host_clean();
}

#[test]
fn digest_mismatch() {
    let (host, _) = Img::new(good_layer(), "amd64").serve(|l, _| {
        let mut bad = l.to_vec();
        bad[600] ^= 1;
        resp(200, "application/octet-stream", bad)
    });
    pull_fails(&Berth::new(), &host, "digest mismatch");
}

#[test]
fn never_ending_blob() {
    let (host, _) = Img::new(good_layer(), "amd64").serve(|_, _| Resp {
        status: 200,
        headers: vec![],
        body: Body::Endless,
    });
    pull_fails(&Berth::new(), &host, "more data than");
}

#[test]
fn truncated_blob() {
    let (host, _) = Img::new(good_layer(), "amd64")
        .serve(|l, _| resp(200, "application/octet-stream", l[..l.len() / 3].to_vec()));
    pull_fails(&Berth::new(), &host, "retries");
}

#[test]
fn stalled_blob_times_out() {
    let (host, _) = Img::new(good_layer(), "amd64").serve(|l, _| Resp {
        status: 200,
        headers: vec![],
        body: Body::Stall(l.to_vec(), 1000),
    });
    let mut b = Berth::new();
    b.env.push(("BERTH_HTTP_TIMEOUT".into(), "1".into()));
    let t = std::time::Instant::now();
    pull_fails(&b, &host, "timed out");
    assert!(t.elapsed() < Duration::from_secs(30));
}

#[test]
fn only_another_platform() {
    let img = Img::new(good_layer(), "arm64");
    let md = Digest::of(&img.manifest);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#,
        img.manifest.len()
    );
    let (host, _) = serve(Arc::new(move |_: &str, p: &str, _| match p {
        "/v2/" => resp(200, "application/json", b"{}".to_vec()),
        "/v2/t/manifests/v1" => resp(
            200,
            "application/vnd.oci.image.index.v1+json",
            index.clone().into_bytes(),
        ),
        _ => resp(404, "application/json", Vec::new()),
    }));
    let msg = pull_fails(&Berth::new(), &host, "no manifest for platform linux/amd64");
    assert!(msg.contains("available: linux/arm64"), "{msg}");
    // A single-platform manifest for arm64 is refused the same way.
    let (host, _) = Img::new(good_layer(), "arm64")
        .serve(|l, _| resp(200, "application/octet-stream", l.to_vec()));
    pull_fails(&Berth::new(), &host, "no manifest for platform linux/amd64");
}

#[test]
fn hostile_layers_are_refused() {
    use tar::EntryType::{Directory as D, Link as H, Regular as F, Symlink as S};
    let marker = format!("berth-escape-{}", std::process::id());
    let deep = format!("../../../../../../../../tmp/{marker}");
    let abs = format!("/tmp/{marker}");
    let (l_marker, d_marker) = (format!("l/{marker}"), format!("d/{marker}"));
    let cases: Vec<Vec<TarEntry>> = vec![
        vec![(&deep, F, "", b"x")],
        vec![(&abs, F, "", b"x")],
        vec![("l", S, "/tmp", b""), (&l_marker, F, "", b"x")],
        vec![
            ("l", S, "../../../../../../../tmp", b""),
            (&l_marker, F, "", b"x"),
        ],
        vec![("h", H, "../../../../../../etc/passwd", b"")],
        vec![
            ("d/", D, "", b""),
            ("d", S, "/tmp", b""),
            (&d_marker, F, "", b"x"),
        ],
    ];
    for entries in cases {
        let (host, _) = Img::new(tar_of(&entries), "amd64")
            .serve(|l, _| resp(200, "application/octet-stream", l.to_vec()));
        pull_fails(&Berth::new(), &host, "escapes the snapshot");
        assert!(
            !std::path::Path::new("/tmp").join(&marker).exists(),
            "{entries:?} escaped"
        );
    }
    let (host, _) = Img::new(tar_of(&[("../x", F, "", b"x")]), "amd64")
        .serve(|l, _| resp(200, "application/octet-stream", l.to_vec()));
    pull_fails(&Berth::new(), &host, "escapes the snapshot");
}

/// `berth pull` stalled in the middle of its layer, with its staging area made.
fn pull_in_progress(b: &Berth) -> std::process::Child {
    let (host, log) = Img::new(good_layer(), "amd64").serve(|l, _| Resp {
        status: 200,
        headers: vec![],
        body: Body::Stall(l.to_vec(), l.len() / 2),
    });
    b.insecure(&host);
    b.ok(&["images", "-q"]);
    let child = b
        .cmd(&["pull", &format!("{host}/t:v1")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let layer = format!("GET /v2/t/blobs/{}", Digest::of(&good_layer()));
    let tmp = b.root.join("image/tmp");
    let t = std::time::Instant::now();
    while !log.lock().unwrap().iter().any(|l| l.starts_with(&layer))
        || std::fs::read_dir(&tmp).unwrap().count() == 0
    {
        assert!(t.elapsed() < Duration::from_secs(30), "pull never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Half the layer arrives at once; then it waits for the rest.
    std::thread::sleep(Duration::from_millis(300));
    child
}

#[test]
fn pull_killed_leaves_staging_that_the_next_store_write_removes() {
    let b = Berth::new();
    let mut child = pull_in_progress(&b);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_ne!(
        std::fs::read_dir(b.root.join("image/tmp")).unwrap().count(),
        0
    );
    let (host, _) = Img::new(good_layer(), "amd64")
        .serve(|l, _| resp(200, "application/octet-stream", l.to_vec()));
    b.insecure(&host);
    b.ok(&["pull", &format!("{host}/t:v1")]);
    b.assert_host_clean();
}

#[test]
fn pull_terminated_removes_its_staging_on_the_way_out() {
    let b = Berth::new();
    let child = pull_in_progress(&b);
    // SAFETY: signals a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(b.ok(&["images", "-q"]), "");
    b.assert_host_clean();
}
