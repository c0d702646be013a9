//! berth against real registries (docker-registry: plain HTTP, TLS + basic auth, TLS +
//! token auth) and real tools (skopeo, umoci). scripts/test.d/50-images.sh sets them up
//! and runs these with --ignored; they are ignored in a plain `cargo test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use berth_image::store::{Durability, Store};
use common::{assert_same_tree, Berth};

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run scripts/test.d/50-images.sh"))
}

fn test_dir() -> PathBuf {
    PathBuf::from(env("BERTH_TEST_DIR"))
}

/// A berth that trusts the test registries' CA and knows the plain one is insecure.
fn berth() -> Berth {
    let b = Berth::new();
    let certs = env("BERTH_TEST_CERTS");
    let status = Command::new("cp")
        .arg("-r")
        .arg(&certs)
        .arg(b.config.join("certs.d"))
        .status()
        .unwrap();
    assert!(status.success());
    b.insecure(&env("BERTH_TEST_PLAIN"));
    b
}

fn creds() -> (String, String) {
    let c = env("BERTH_TEST_CREDS");
    let (u, p) = c.split_once(':').unwrap();
    (u.to_string(), p.to_string())
}

/// Mounts the image's rootfs through the library (as the engine will) and compares it
/// with umoci's unpacking of the same image; then removes it and checks nothing is left.
struct RootfsGuard<'a>(&'a Store);

impl Drop for RootfsGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.remove_rootfs("cmp");
    }
}

fn compare_with_umoci(b: &Berth, image: &str, umoci: &str) {
    let store = Store::open(&b.root).unwrap();
    let img = store.image(image).unwrap();
    let layers = img.layers().unwrap();
    let top = store.snapshot_path(&layers.last().unwrap().chain_id);
    let theirs = test_dir().join("umoci").join(umoci).join("rootfs");
    if layers.len() == 1 {
        assert_same_tree(&top, &theirs);
    }
    let rootfs = store
        .create_rootfs(&img, "cmp", Durability::Synced, &[])
        .unwrap();
    // Unmounted even when an assertion below fails.
    let guard = RootfsGuard(&store);
    assert_same_tree(&rootfs.path, &theirs);
    std::fs::write(rootfs.path.join("new-file"), b"x").unwrap();
    assert!(rootfs.upper.join("new-file").exists());
    drop(guard);
    assert!(!top.join("new-file").exists());
    b.assert_host_clean();
}

#[test]
#[ignore = "needs the registries of scripts/test.d/50-images.sh"]
fn pull_plain_and_compare_with_umoci() {
    let b = berth();
    let plain = env("BERTH_TEST_PLAIN");
    for (img, dir) in [("busybox:latest", "busybox"), ("debian:bookworm", "debian")] {
        let r = format!("{plain}/{img}");
        let id = b.ok(&["pull", "-q", &r]);
        assert!(id.trim().starts_with("sha256:"), "{id}");
        compare_with_umoci(&b, &r, dir);
    }
    // Seven layers, fetched four at a time while one unpacks; whiteouts and overwrites
    // resolve as umoci's unpack does.
    let r = format!("{plain}/debian:multi");
    b.ok(&["pull", "-q", "--parallel", "4", &r]);
    let store = Store::open(&b.root).unwrap();
    assert_eq!(store.image(&r).unwrap().layers().unwrap().len(), 7);
    compare_with_umoci(&b, &r, "multi");
    // A second pull of the same image fetches nothing.
    let o = b.run(&["pull", &format!("{plain}/busybox:latest")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("already present"));
    let spec: serde_json::Value =
        serde_json::from_str(&b.ok(&["inspect", &format!("{plain}/busybox")])).unwrap();
    let s = &spec[0]["ContainerSpec"];
    assert_eq!(s["args"], serde_json::json!(["/bin/sh"]));
    assert_eq!(s["exposed_ports"], serde_json::json!(["8080/tcp"]));
    assert_eq!(s["labels"]["org.berth.test"], "1");
    assert_eq!(s["user"]["home"], "/root");
}

#[test]
#[ignore = "needs the registries of scripts/test.d/50-images.sh"]
fn basic_auth_login_logout_and_wrong_password() {
    let b = berth();
    let host = env("BERTH_TEST_BASIC");
    let r = format!("{host}/busybox:latest");
    b.ok(&["images"]);
    let before = b.store_state();
    assert!(b.fail(&["pull", &r]).contains("authentication required"));
    assert!(b
        .fail(&["login", "-u", "tester", "-p", "wrong", &host])
        .contains("refused the username or password"));
    assert_eq!(b.store_state(), before);
    let (u, p) = creds();
    b.ok(&["login", "-u", &u, "-p", &p, &host]);
    b.ok(&["pull", &r]);
    compare_with_umoci(&b, &r, "busybox");
    assert!(b
        .fail(&["pull", &format!("{host}/busybox:nosuchtag")])
        .contains("manifest unknown"));
    b.ok(&["logout", &host]);
    assert!(b.fail(&["logout", &host]).contains("not logged in"));
    b.assert_host_clean();
}

#[test]
#[ignore = "needs the registries of scripts/test.d/50-images.sh"]
fn token_auth_and_credentials_from_other_tools() {
    let b = berth();
    let host = env("BERTH_TEST_TOKEN");
    let r = format!("{host}/busybox:latest");
    assert!(b.fail(&["pull", &r]).contains("authentication required"));
    // podman's auth.json through $REGISTRY_AUTH_FILE, then Docker's config.json.
    let (u, p) = creds();
    let auth = format!(
        r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
        b64(&format!("{u}:{p}"))
    );
    let file = b.dir.path().join("podman-auth.json");
    std::fs::write(&file, &auth).unwrap();
    let o = b
        .cmd(&["pull", "-q", &r])
        .env("REGISTRY_AUTH_FILE", &file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::create_dir_all(b.dir.path().join(".docker")).unwrap();
    std::fs::write(b.dir.path().join(".docker/config.json"), &auth).unwrap();
    b.ok(&["rmi", &r]);
    b.ok(&["pull", "-q", &r]);
    let bad = format!(
        r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
        b64(&format!("{u}:nope"))
    );
    std::fs::write(b.dir.path().join(".docker/config.json"), bad).unwrap();
    assert!(b
        .fail(&["pull", &r])
        .contains("refused the username or password"));
    b.assert_host_clean();
}

fn b64(s: &str) -> String {
    let out = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    out.stdin.as_ref().unwrap().write_all(s.as_bytes()).unwrap();
    String::from_utf8(out.wait_with_output().unwrap().stdout).unwrap()
}

#[test]
#[ignore = "needs the registries of scripts/test.d/50-images.sh"]
fn push_mounts_and_pulls_back() {
    let b = berth();
    let plain = env("BERTH_TEST_PLAIN");
    let src = format!("{plain}/debian:bookworm");
    b.ok(&["pull", "-q", &src]);
    let dest = format!("{plain}/pushed/debian:copy");
    let o = b.run(&["push", &src, &dest]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("mounted"), "no cross-repository mount: {log}");
    // Second push: every blob exists already.
    let o = b.run(&["push", &src, &dest]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists"));
    // A fresh store pulls it back; skopeo sees the same manifest digest.
    let b2 = berth();
    b2.ok(&["pull", "-q", &dest]);
    compare_with_umoci(&b2, &dest, "debian");
    // An imported (uncompressed, chunked) image pushes to a token registry too.
    let token = env("BERTH_TEST_TOKEN");
    let (u, p) = creds();
    b.ok(&["login", "-u", &u, "-p", &p, &token]);
    b.ok(&[
        "import",
        test_dir().join("debian.tar").to_str().unwrap(),
        "deb-import",
    ]);
    b.ok(&["push", "deb-import", &format!("{token}/imported/debian:1")]);
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--cert-dir",
            &format!("{}/{token}", env("BERTH_TEST_CERTS")),
            "--creds",
            &env("BERTH_TEST_CREDS"),
        ])
        .arg(format!("docker://{token}/imported/debian:1"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs the images of scripts/test.d/50-images.sh"]
fn import_save_load_interoperate_with_skopeo() {
    let b = berth();
    let dir = test_dir();
    b.ok(&[
        "import",
        "-c",
        "CMD [\"/bin/sh\"]",
        dir.join("busybox.tar").to_str().unwrap(),
        "busybox",
    ]);
    assert!(b.ok(&["images"]).contains("localhost/busybox"));
    compare_with_umoci(&b, "busybox", "busybox");
    let work = b.dir.path().join("archives");
    std::fs::create_dir_all(&work).unwrap();
    for format in ["docker-archive", "oci-archive"] {
        let file = work.join(format!("bb.{format}.tar"));
        b.ok(&[
            "save",
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
            "busybox",
        ]);
        // skopeo reads what berth wrote ...
        let oci = work.join(format!("from-{format}"));
        let src = format!("{format}:{}", file.display());
        let st = Command::new("skopeo")
            .args(["copy", "-q", &src, &format!("oci:{}:x", oci.display())])
            .status()
            .unwrap();
        assert!(st.success(), "skopeo could not read berth's {format}");
        // ... and berth loads it back, and what skopeo writes.
        let b2 = berth();
        let out = b2.ok(&["load", "-i", file.to_str().unwrap()]);
        assert!(out.contains("localhost/busybox:latest"), "{out}");
        compare_with_umoci(&b2, "localhost/busybox:latest", "busybox");
        let theirs = work.join(format!("skopeo.{format}.tar"));
        let st = Command::new("skopeo")
            .args([
                "copy",
                "-q",
                &format!("oci:{}/oci/busybox:latest", dir.display()),
                &format!("{format}:{}:localhost/sk/busybox:1", theirs.display()),
            ])
            .status()
            .unwrap();
        assert!(st.success());
        let b3 = berth();
        assert!(b3
            .ok(&["load", "-i", theirs.to_str().unwrap()])
            .contains("localhost/sk/busybox:1"));
        compare_with_umoci(&b3, "localhost/sk/busybox:1", "busybox");
    }
    // rmi removes names, then the unreferenced content.
    b.ok(&["tag", "busybox", "other:2"]);
    b.ok(&["rmi", "busybox"]);
    assert!(b.ok(&["images"]).contains("localhost/other"));
    b.ok(&["rmi", "other:2"]);
    let left: Vec<_> = std::fs::read_dir(b.root.join("image/blobs/sha256"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "blobs left after rmi");
    assert_eq!(
        std::fs::read_dir(b.root.join("image/snapshots"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
#[ignore = "needs the registries of scripts/test.d/50-images.sh"]
fn run_pulls_what_the_store_lacks_as_pull_says() {
    let b = berth();
    let r = format!("{}/busybox:latest", env("BERTH_TEST_PLAIN"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--cgroup-parent",
            "/berth-test/pull",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&r, "echo", "ran"]);
        b.run(&args)
    };
    // --pull never: the store has no such image.
    let o = run(&["--pull", "never"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("busybox"));
    // The default, missing: pulled first, as docker does.
    let o = run(&[]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(o.stdout, b"ran\n");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("busybox"),
        "{o:?}"
    );
    // Now it is there: nothing pulled.
    let o = run(&["-q"]);
    assert_eq!(
        (o.stdout.as_slice(), o.stderr.as_slice()),
        (&b"ran\n"[..], &b""[..])
    );
    assert!(run(&["--pull", "always", "-q"]).status.success());
    let o = run(&["--platform", "linux/arm64"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--platform"));
    for dir in common::engine::cgroup_dirs("/berth-test/pull") {
        let _ = std::fs::remove_dir(dir);
    }
}
