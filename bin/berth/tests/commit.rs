//! `berth diff` and `berth commit` through the real binary as root: a container's added,
//! changed and deleted paths; the committed image runs with them (whiteouts honoured), its
//! config carries `-c` and its history the entry; a running container is frozen and thawed;
//! bad input leaves nothing; and `berth save` of the result loads in podman.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, output_within, Engine};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What the containers of these tests change in the busybox image.
const CHANGES: &str = "echo new > /added && mkdir -p /dir/sub && echo deep > /dir/sub/f && \
    echo more >> /etc/passwd && rm /etc/group && rm -r /root && \
    ln -s /added /link && mkdir /tmp/made";

#[test]
fn diff_lists_added_changed_and_deleted_paths() {
    let e = Engine::new();
    e.ok(&["run", "--name", "c", "busybox", "sh", "-c", CHANGES]);
    let diff = e.ok(&["diff", "c"]);
    assert_eq!(
        diff,
        "A /added\nA /dir\nA /dir/sub\nA /dir/sub/f\nC /etc\nD /etc/group\nC /etc/passwd\n\
         A /link\nD /root\nC /tmp\nA /tmp/made\n"
    );
    // A container that changed nothing: the runtime's mount points are not changes.
    e.ok(&["run", "--name", "quiet", "busybox", "true"]);
    assert_eq!(e.ok(&["container", "diff", "quiet"]), "");
    assert_eq!(
        e.fail(1, &["diff", "nosuch"]),
        "berth: no such container: nosuch"
    );
    e.ok(&["rm", "c", "quiet"]);
    e.assert_clean();
}

fn image_json(e: &Engine, name: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&e.ok(&["inspect", "--type", "image", name])).unwrap();
    v[0].clone()
}

#[test]
fn a_committed_image_runs_with_the_changes() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "--name",
        "c",
        "-e",
        "FROM_RUN=1",
        "busybox",
        "sh",
        "-c",
        CHANGES,
    ]);
    let id = e.ok(&[
        "commit",
        "-a",
        "Jane <jane@example.com>",
        "-m",
        "my changes",
        "-c",
        "ENV GREETING=hello",
        "-c",
        r#"CMD ["sh", "-c", "echo $GREETING $FROM_RUN; cat /added /dir/sub/f; ls /etc; test -e /root || echo no root"]"#,
        "-c",
        "EXPOSE 8080/udp",
        "-c",
        r#"LABEL org.example="a b""#,
        "-c",
        "WORKDIR /tmp",
        "-c",
        "VOLUME /data",
        "-c",
        "STOPSIGNAL SIGINT",
        "-c",
        "ONBUILD RUN make",
        "c",
        "committed:v1",
    ]);
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
    let out = e.ok(&["run", "--rm", "committed:v1"]);
    assert_eq!(
        out,
        // /etc/resolv.conf: the mount point of the default bridge network's file.
        "hello 1\nnew\ndeep\nhostname\nhosts\npasswd\nresolv.conf\nno root\n"
    );
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "committed:v1",
            "sh",
            "-c",
            "pwd; tail -1 /etc/passwd; readlink /link"
        ]),
        "/tmp\nmore\n/added\n"
    );
    let img = image_json(&e, "committed:v1");
    let config = &img["Config"];
    assert_eq!(config["ExposedPorts"], serde_json::json!({"8080/udp": {}}));
    assert_eq!(config["Labels"]["org.example"], "a b");
    assert_eq!(config["WorkingDir"], "/tmp");
    assert_eq!(config["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(config["StopSignal"], "SIGINT");
    assert_eq!(config["OnBuild"], serde_json::json!(["RUN make"]));
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"GREETING=hello") && env.contains(&"FROM_RUN=1"),
        "{env:?}"
    );
    let history = img["History"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["author"], "Jane <jane@example.com>");
    assert_eq!(last["comment"], "my changes");
    assert!(last["created_by"]
        .as_str()
        .unwrap()
        .starts_with("sh -c echo new"));
    assert_eq!(img["Author"], "Jane <jane@example.com>");
    let history = e.ok(&["history", "committed:v1"]);
    assert!(
        history.lines().nth(1).unwrap().contains("my changes"),
        "{history}"
    );
    // Committed again on top: the layers stack, the deletions stay deleted.
    e.ok(&[
        "run",
        "--name",
        "c2",
        "committed:v1",
        "sh",
        "-c",
        "echo again > /again",
    ]);
    e.ok(&["commit", "c2", "committed:v2"]);
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "committed:v2",
            "sh",
            "-c",
            "cat /again /added; ls /etc"
        ]),
        "again\nnew\nhostname\nhosts\npasswd\nresolv.conf\n"
    );
    // Without a name the image is named after its ID, which finds it.
    e.ok(&["run", "--name", "same", "busybox", "true"]);
    let unnamed = e.ok(&["commit", "same"]);
    let short = &unnamed.trim()["sha256:".len()..][..12];
    assert_eq!(e.ok(&["run", "--rm", short, "echo", "ok"]), "ok\n");
    // Nothing changed: no layer, only history (docker's empty_layer).
    let layers = |name: &str| {
        image_json(&e, name)["RootFS"]["diff_ids"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(layers(short), layers("busybox"));
    e.ok(&["rm", "-v", "c", "c2", "same"]);
    e.ok(&["rmi", "committed:v1", "committed:v2", short]);
    e.assert_clean();
}

#[test]
fn a_running_container_is_frozen_for_the_commit_and_thawed() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "c",
        "busybox",
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i > /next; mv /next /count; done",
    ]);
    eventually("counting", || {
        e.run(&["exec", "c", "test", "-s", "/count"])
            .status
            .success()
    });
    e.ok(&["commit", "c", "snap:paused"]);
    e.ok(&["commit", "--pause=false", "c", "snap:live"]);
    e.ok(&["commit", "-p", "c", "snap:p"]);
    // Thawed: it still counts (each count is renamed into place, so /count is never empty).
    let count = || {
        e.ok(&["exec", "c", "cat", "/count"])
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let before = count();
    eventually("still counting", || count() > before);
    let n = e.ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "cat",
        "snap:paused",
        "/count",
    ]);
    assert!(n.trim().parse::<u64>().unwrap() > 0);
    // One paused by hand stays paused.
    e.ok(&["pause", "c"]);
    e.ok(&["commit", "c", "snap:held"]);
    assert!(e.ok(&["ps"]).contains("(Paused)"));
    e.ok(&["unpause", "c"]);
    e.ok(&["rm", "-f", "c"]);
    e.ok(&["rmi", "snap:paused", "snap:live", "snap:p", "snap:held"]);
    e.assert_clean();
}

#[test]
fn bad_commits_fail_in_one_line_and_make_nothing() {
    let e = Engine::new();
    e.ok(&["run", "--name", "c", "busybox", "sh", "-c", "echo x > /x"]);
    let images = e.ok(&["images", "-q"]);
    let blobs = || {
        fs::read_dir(e.b.root.join("image/blobs/sha256"))
            .unwrap()
            .count()
    };
    let before = blobs();
    for (args, said) in [
        (vec!["commit", "nosuch"], "no such container: nosuch"),
        (
            vec!["commit", "-c", "RUN make", "c"],
            "RUN is not a valid change command",
        ),
        (
            vec!["commit", "-c", "ENV", "c"],
            "ENV requires at least one argument",
        ),
        (vec!["commit", "-c", "EXPOSE 99999", "c"], "invalid port"),
        (vec!["commit", "-c", "ENV A=1 B", "c"], "KEY=VALUE"),
        (vec!["commit", "c", "Bad:Name"], "invalid reference format"),
    ] {
        let err = e.fail(1, &args);
        assert!(err.contains(said), "{args:?}: {err}");
    }
    assert_eq!(e.ok(&["images", "-q"]), images);
    assert_eq!(blobs(), before);
    e.ok(&["rm", "c"]);
    e.assert_clean();
}

/// A podman of the test's own: vfs storage and run directories in `dir`, no mounts left.
fn podman(dir: &Path, args: &[&str]) -> std::process::Output {
    let conf = dir.join("storage.conf");
    if !conf.exists() {
        fs::write(
            &conf,
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/root\"\nrunroot = \"{0}/run\"\n",
                dir.display()
            ),
        )
        .unwrap();
        let engine = format!(
            "[engine]\nevents_logger = \"file\"\nlock_type = \"file\"\n\n[network]\nnetwork_backend = \"cni\"\nnetwork_config_dir = \"{}/cni\"\n",
            dir.display()
        );
        fs::write(dir.join("containers.conf"), engine).unwrap();
    }
    let mut c = Command::new("podman");
    c.args(["--cgroup-manager", "cgroupfs", "--tmpdir"])
        .arg(dir.join("tmp"))
        .args(args)
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .env("CONTAINERS_CONF", dir.join("containers.conf"))
        .env("CONTAINERS_REGISTRIES_CONF", dir.join("registries.conf"));
    output_within(c, Duration::from_secs(120), &format!("podman {args:?}"))
}

#[test]
fn a_committed_image_saved_by_berth_loads_in_podman() {
    if Command::new("podman").arg("--version").output().is_err() {
        eprintln!("podman is not installed: skipped");
        return;
    }
    let e = Engine::new();
    e.ok(&["run", "--name", "c", "busybox", "sh", "-c", CHANGES]);
    e.ok(&["commit", "c", "forpodman:latest"]);
    let dir = e.b.dir.path().join("podman");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("registries.conf"),
        "unqualified-search-registries = []\n",
    )
    .unwrap();
    for format in ["docker-archive", "oci-archive"] {
        let archive = dir.join(format!("{format}.tar"));
        e.ok(&[
            "save",
            "--format",
            format,
            "-o",
            archive.to_str().unwrap(),
            "forpodman:latest",
        ]);
        let o = podman(&dir, &["load", "-q", "-i", archive.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // The layer content as podman stacks it: the container's files, and the deletions.
        let o = podman(
            &dir,
            &[
                "create",
                "--name",
                "x",
                "--network",
                "none",
                "localhost/forpodman:latest",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = podman(&dir, &["export", "x"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut names = Vec::new();
        let mut files = std::collections::BTreeMap::new();
        let mut a = tar::Archive::new(&o.stdout[..]);
        for entry in a.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = String::from_utf8_lossy(&entry.path_bytes())
                .trim_start_matches("./")
                .to_string();
            let mut data = Vec::new();
            if entry.header().entry_type().is_file() {
                std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            }
            names.push(name.clone());
            files.insert(name, String::from_utf8_lossy(&data).into_owned());
        }
        assert_eq!(files["added"], "new\n");
        assert_eq!(files["dir/sub/f"], "deep\n");
        assert!(files["etc/passwd"].ends_with("more\n"));
        assert!(
            !names
                .iter()
                .any(|n| n == "etc/group" || n.starts_with("root")),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains(".wh.")), "{names:?}");
        podman(&dir, &["rm", "x"]);
        podman(&dir, &["rmi", "-a", "-f"]);
    }
    e.ok(&["rm", "c"]);
    e.ok(&["rmi", "forpodman:latest"]);
    e.assert_clean();
}
