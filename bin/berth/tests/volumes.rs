//! Volumes, driven through the real `berth` binary as root: the `volume` commands, named
//! and anonymous volumes in `-v`, `--mount`, `--volumes-from`, copy-up from an image's
//! VOLUME, `rm -v`, the `-o` volumes of the local driver (tmpfs, bind), and bad input. Each
//! test has its own `--root` and ends by checking that nothing is left, volumes included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, output_within, Engine};
use common::mounts_under;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn volumes(e: &Engine) -> Vec<String> {
    e.ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect()
}

fn inspect_volume(e: &Engine, name: &str) -> Value {
    let v: Value = serde_json::from_str(&e.ok(&["volume", "inspect", name])).unwrap();
    v[0].clone()
}

fn mounted(path: &Path) -> bool {
    let p = path.display().to_string();
    mounts_under(path.parent().unwrap()).contains(&p)
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn volume_commands_as_dockers() {
    let e = Engine::new();
    let create = |args: &[&str]| {
        let mut a = vec!["volume", "create"];
        a.extend_from_slice(args);
        e.ok(&a)
    };
    assert_eq!(
        create(&["--label", "tier=db", "--label", "bare", "data1"]),
        "data1\n"
    );
    // An existing volume is returned as it is.
    assert_eq!(create(&["data1"]), "data1\n");
    let generated = create(&[]).trim().to_string();
    assert!(is_id(&generated), "{generated}");
    let opts = ["-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m"];
    assert_eq!(create(&[&opts[..], &["--name", "fast"]].concat()), "fast\n");
    let mut all = vec!["data1".to_string(), "fast".into(), generated.clone()];
    all.sort();
    assert_eq!(volumes(&e), all);
    let table = e.ok(&["volume", "ls"]);
    assert!(table.starts_with("DRIVER    VOLUME NAME\n"), "{table}");
    assert!(table.contains("local     data1\n"), "{table}");
    let q = |filters: &[&str]| {
        let mut a = vec!["volume", "list", "-q"];
        for f in filters {
            a.extend(["--filter", f]);
        }
        e.ok(&a)
    };
    assert_eq!(q(&["label=tier=db"]), "data1\n");
    assert_eq!(q(&["label=bare", "name=dat"]), "data1\n");
    assert_eq!(q(&["name=fas", "name=data"]), "data1\nfast\n");
    assert_eq!(q(&["driver=other"]), "");
    assert_eq!(q(&["dangling=true", "driver=local"]).lines().count(), 3);
    assert_eq!(q(&["dangling=false"]), "");
    assert_eq!(
        e.ok(&[
            "volume",
            "ls",
            "--filter",
            "name=data1",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{.Links}}"
        ]),
        "data1 local local bare=,tier=db 0\n"
    );
    let json = e.ok(&["volume", "ls", "--format", "json", "-f", "name=fast"]);
    let line: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        line["Mountpoint"],
        e.volume_data("fast").display().to_string()
    );
    let t = e.ok(&[
        "volume",
        "ls",
        "-f",
        "name=data1",
        "--format",
        "table {{.Name}}\t{{.Scope}}",
    ]);
    assert_eq!(t, "VOLUME NAME   SCOPE\ndata1         local\n");

    let v = inspect_volume(&e, "data1");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "CreatedAt",
            "Driver",
            "Labels",
            "Mountpoint",
            "Name",
            "Options",
            "Scope"
        ]
    );
    assert_eq!(v["Labels"], serde_json::json!({"bare": "", "tier": "db"}));
    assert_eq!(v["Options"], Value::Null);
    assert_eq!(
        (&v["Driver"], &v["Scope"]),
        (&"local".into(), &"local".into())
    );
    assert!(e.volume_data("data1").is_dir());
    assert_eq!(
        inspect_volume(&e, "fast")["Options"],
        serde_json::json!({"device": "tmpfs", "o": "size=1m", "type": "tmpfs"})
    );
    assert_eq!(
        e.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}}:{{json .Labels}}",
            "data1",
            "fast"
        ]),
        "data1:{\"bare\":\"\",\"tier\":\"db\"}\nfast:null\n"
    );
    // docker's inspect finds volumes (and networks) when no container or image has the name.
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.Name}} {{.Driver}}", "data1"]),
        "data1 local\n"
    );
    assert_eq!(
        e.ok(&["inspect", "--type", "network", "-f", "{{.Name}}", "bridge"]),
        "bridge\n"
    );

    for (args, what) in [
        (&["volume", "inspect", "nosuch"][..], "no such volume"),
        (&["inspect", "nosuch"], "no such object: nosuch"),
        (
            &["inspect", "--type", "volume", "busybox"],
            "no such volume",
        ),
        (&["volume", "rm", "nosuch"], "no such volume"),
        (&["volume", "create", "-d", "flocker", "v1"], "only local"),
        (&["volume", "create", "-o", "size=1g", "v1"], "\"size\""),
        (
            &["volume", "create", "-o", "type=tmpfs", "v1"],
            "needs device",
        ),
        (&["volume", "create", "-o", "type", "v1"], "KEY=VALUE"),
        (&["volume", "create", "a/b"], "invalid volume name"),
        (&["volume", "create", "x"], "invalid volume name"),
        (
            &["volume", "ls", "--filter", "dangling=maybe"],
            "true or false",
        ),
        (&["volume", "ls", "--filter", "colour=red"], "colour"),
        (&["volume", "prune", "-f", "--filter", "until=1h"], "until"),
    ] {
        let err = e.fail(1, args);
        assert!(err.contains(what), "{args:?}: {err}");
    }
    assert_eq!(volumes(&e), all, "a failed command changed the volumes");
    e.ok(&["volume", "rm", "-f", "nosuch"]);

    // An anonymous volume whose container is gone (without -v) is what prune takes first.
    e.ok(&["run", "--name", "anon", "-v", "/cache", "busybox", "true"]);
    e.ok(&["rm", "anon"]);
    let anon: Vec<String> = volumes(&e)
        .into_iter()
        .filter(|v| !all.contains(v))
        .collect();
    assert_eq!(anon.len(), 1);
    assert_eq!(
        inspect_volume(&e, &anon[0])["Labels"],
        serde_json::json!({"com.docker.volume.anonymous": ""})
    );
    std::fs::write(e.volume_data(&anon[0]).join("f"), "12345").unwrap();
    assert_eq!(
        e.ok(&["volume", "prune", "-f"]),
        format!(
            "Deleted Volumes:\n{}\n\nTotal reclaimed space: 5B\n",
            anon[0]
        )
    );
    // Without -a named volumes stay; a filter narrows -a.
    assert_eq!(
        e.ok(&["volume", "prune", "-f", "--filter", "label=tier"]),
        "Total reclaimed space: 0B\n"
    );
    let out = e.ok(&["volume", "prune", "-a", "-f", "--filter", "label!=tier"]);
    assert!(out.contains(&generated) && out.contains("fast\n") && !out.contains("data1"));
    // No answer, no pruning.
    assert!(e
        .ok(&["volume", "prune", "-a"])
        .starts_with("WARNING! This will remove all local volumes"));
    assert_eq!(volumes(&e), ["data1"]);
    e.ok(&["volume", "remove", "data1"]);
    e.assert_clean();
}

/// A shell loop appending numbered lines to a file in a named volume.
const APPENDER: &str = "n=$(wc -l < /data/log 2>/dev/null || echo 0); \
                        while :; do n=$((n+1)); echo $n >> /data/log; sleep 0.01; done";

fn lines(e: &Engine) -> Vec<String> {
    std::fs::read_to_string(e.volume_data("dbdata").join("log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Every line is its own number: nothing lost, nothing written twice.
fn assert_numbered(lines: &[String]) {
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l, &(i + 1).to_string(), "line {}", i + 1);
    }
}

#[test]
fn database_like_data_survives_kills_and_rm() {
    let e = Engine::new();
    let v = ["-v", "dbdata:/data"];
    let run = |name: &str| {
        e.ok(&[
            &["run", "-d", "--name", name][..],
            &v,
            &["busybox", "sh", "-c", APPENDER],
        ]
        .concat());
    };
    run("db");
    eventually("db writes", || lines(&e).len() >= 20);
    e.ok(&["kill", "db"]);
    eventually("db exited", || {
        e.inspect("db")["State"]["Status"] == "exited"
    });
    e.ok(&["rm", "db"]);
    let before = lines(&e);
    assert_numbered(&before);
    // The same volume, a new container: it goes on where the first one stopped.
    run("db2");
    eventually("db2 writes", || lines(&e).len() >= before.len() + 20);
    // A crash: the monitor and the container killed with SIGKILL. No count is left
    // behind: once the container is removed, the volume can be.
    let monitor = e.inspect("db2")["State"]["MonitorPid"].as_i64().unwrap();
    let init = e.inspect("db2")["State"]["Pid"].as_i64().unwrap();
    for pid in [monitor, init] {
        // SAFETY: kill(2) on pids this test's containers run as.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    eventually("db2 gone", || {
        e.inspect("db2")["State"]["Status"] == "exited"
    });
    assert!(e.fail(1, &["volume", "rm", "dbdata"]).contains("in use"));
    e.ok(&["rm", "db2"]);
    let after = lines(&e);
    assert!(after.len() >= before.len() + 20);
    assert_numbered(&after);
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "-v",
            "dbdata:/data",
            "busybox",
            "tail",
            "-n1",
            "/data/log"
        ]),
        format!("{}\n", after.len())
    );
    e.ok(&["volume", "rm", "dbdata"]);
    e.assert_clean();
}

#[test]
fn two_containers_share_a_volume_and_it_cannot_go_while_used() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "a",
        "-v",
        "shared:/s",
        "busybox",
        "sleep",
        "1000",
    ]);
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "shared:/other",
        "busybox",
        "sh",
        "-c",
        "echo hi > /other/m",
    ]);
    assert_eq!(e.ok(&["exec", "a", "cat", "/s/m"]), "hi\n");
    assert_eq!(
        e.ok(&["volume", "ls", "-q", "--filter", "dangling=false"]),
        "shared\n"
    );
    let err = e.fail(1, &["volume", "rm", "shared"]);
    assert!(err.contains("in use") && err.contains("(a)"), "{err}");
    // -f does not remove a volume in use either, as in docker.
    e.fail(1, &["volume", "rm", "-f", "shared"]);
    e.ok(&["stop", "-t", "0", "a"]);
    assert!(e.fail(1, &["volume", "rm", "shared"]).contains("in use"));
    // A named volume stays with rm -v.
    e.ok(&["rm", "-v", "a"]);
    assert_eq!(volumes(&e), ["shared"]);
    assert_eq!(
        std::fs::read_to_string(e.volume_data("shared").join("m")).unwrap(),
        "hi\n"
    );
    e.ok(&["volume", "rm", "shared"]);
    e.assert_clean();
}

/// An image whose config has `VOLUME ["/data"]` and whose /data holds a file, owned and
/// moded apart from root's defaults.
fn image_with_volume(e: &Engine) {
    let tar = e.b.dir.path().join("volimg.tar");
    std::fs::copy(e.busybox_tar(), &tar).unwrap();
    let extra = e.b.dir.path().join("extra");
    std::fs::create_dir_all(extra.join("data")).unwrap();
    std::fs::write(extra.join("data/seed"), "seed\n").unwrap();
    let st = Command::new("sh")
        .arg("-c")
        .arg(
            "chown -R 1234:5678 data && chmod 750 data && chmod 640 data/seed && \
             tar -rf \"$1\" ./data",
        )
        .arg("sh")
        .arg(&tar)
        .current_dir(&extra)
        .status()
        .unwrap();
    assert!(st.success());
    e.ok(&[
        "import",
        "-c",
        r#"VOLUME ["/data"]"#,
        "-c",
        r#"CMD ["sh"]"#,
        tar.to_str().unwrap(),
        "volimg",
    ]);
}

#[test]
fn image_volumes_are_copied_up_and_anonymous() {
    let e = Engine::new();
    image_with_volume(&e);
    let show = "cat /data/seed; stat -c '%u:%g %a' /data /data/seed";
    assert_eq!(
        e.ok(&["run", "--name", "c1", "volimg", "sh", "-c", show]),
        "seed\n1234:5678 750\n1234:5678 640\n"
    );
    let anon = volumes(&e);
    assert!(anon.len() == 1 && is_id(&anon[0]), "{anon:?}");
    assert_eq!(e.inspect("c1")["Mounts"][0]["name"], anon[0].as_str());
    // --rm takes its own anonymous volume along.
    e.ok(&["run", "--rm", "volimg", "touch", "/data/x"]);
    assert_eq!(volumes(&e), anon);
    e.ok(&["rm", "-v", "c1"]);
    assert!(volumes(&e).is_empty());

    // A named volume is filled once, when empty.
    let cat = ["cat", "/data/seed"];
    let with =
        |v: &str, cmd: &[&str]| e.ok(&[&["run", "--rm", "-v", v, "volimg"][..], cmd].concat());
    assert_eq!(with("named:/data", &cat), "seed\n");
    with("named:/data", &["sh", "-c", "echo changed > /data/seed"]);
    assert_eq!(with("named:/data", &cat), "changed\n");
    // nocopy, in both syntaxes; a bind or a tmpfs on the VOLUME's path leaves no volume.
    assert_eq!(with("nc:/data:nocopy", &["ls", "-A", "/data"]), "");
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "--mount",
            "src=nc2,dst=/data,volume-nocopy",
            "volimg",
            "ls",
            "-A",
            "/data"
        ]),
        ""
    );
    let host = e.b.dir.path().join("h");
    std::fs::create_dir(&host).unwrap();
    with(&format!("{}:/data", host.display()), &["true"]);
    e.ok(&["run", "--rm", "--tmpfs", "/data", "volimg", "true"]);
    assert_eq!(volumes(&e), ["named", "nc", "nc2"]);
    e.ok(&["volume", "rm", "named", "nc", "nc2"]);
    e.ok(&["rmi", "volimg"]);
    e.assert_clean();
}

#[test]
fn mount_flag_forms() {
    let e = Engine::new();
    let h = e.b.dir.path().join("h");
    std::fs::create_dir_all(h.join("sub")).unwrap();
    let hs = h.display().to_string();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(h.join("sub"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(h.join("sub/inner"), "").unwrap();
    let run = |m: &str, script: &str| {
        e.run(&["run", "--rm", "--mount", m, "busybox", "sh", "-c", script])
    };
    let out = |m: &str, script: &str| {
        let o = run(m, script);
        assert!(
            o.status.success(),
            "{m}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let bind = format!("type=bind,src={hs},dst=/h");
    assert_eq!(out(&bind, "ls /h/sub"), "inner\n");
    assert_eq!(
        out(&format!("{bind},bind-recursive=disabled"), "ls /h/sub"),
        ""
    );
    let propagation = out(
        &format!("{bind},bind-propagation=rshared"),
        "grep ' /h ' /proc/self/mountinfo",
    );
    assert!(propagation.contains(" shared:"), "{propagation}");
    assert!(!run(&format!("{bind},readonly"), "touch /h/x")
        .status
        .success());
    assert!(!run(&format!("{bind},ro=true"), "touch /h/sub/x")
        .status
        .success());
    out(
        &format!("{bind},readonly,bind-recursive=writable"),
        "touch /h/sub/y && ! touch /h/x 2>/dev/null",
    );
    Command::new("umount").arg(h.join("sub")).status().unwrap();

    out(
        "type=volume,source=mv,target=/v,volume-label=made=bymount",
        "echo 1 > /v/f",
    );
    assert_eq!(
        inspect_volume(&e, "mv")["Labels"],
        serde_json::json!({"made": "bymount"})
    );
    assert!(!run("src=mv,dst=/v,readonly", "cat /v/f && touch /v/g")
        .status
        .success());
    // An anonymous tmpfs volume, made and removed with its --rm container.
    let t = r#"type=volume,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=2m,mode=1777""#;
    assert_eq!(
        out(t, "stat -c %a /t; df -k /t | awk 'NR==2 {print $2}'"),
        "1777\n2048\n"
    );
    assert_eq!(
        out(
            "type=tmpfs,destination=/tm,tmpfs-size=1m,tmpfs-mode=1770",
            "stat -c %a /tm; df -k /tm | awk 'NR==2 {print $2}'"
        ),
        "1770\n1024\n"
    );
    assert_eq!(volumes(&e), ["mv"]);
    e.ok(&["volume", "rm", "mv"]);
    e.assert_clean();
}

#[test]
fn volumes_from_and_rm_v() {
    let e = Engine::new();
    let host = e.b.dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("hf"), "h\n").unwrap();
    let bind = format!("{}:/host", host.display());
    e.ok(&[
        "run",
        "-d",
        "--name",
        "src",
        "-v",
        "/anon",
        "-v",
        "named:/named",
        "-v",
        &bind,
        "busybox",
        "sleep",
        "1000",
    ]);
    e.ok(&[
        "exec",
        "src",
        "sh",
        "-c",
        "echo a > /anon/f; echo n > /named/f",
    ]);
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "src",
            "busybox",
            "sh",
            "-c",
            "cat /anon/f /named/f /host/hf && touch /named/rw"
        ]),
        "a\nn\nh\n"
    );
    let ro = e.run(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "touch",
        "/named/x",
    ]);
    assert!(!ro.status.success());
    // A flag's own mount wins over the inherited one at the same place.
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "src",
            "-v",
            "other:/named",
            "busybox",
            "ls",
            "/named",
        ]),
        ""
    );
    e.ok(&[
        "run",
        "--name",
        "user",
        "--volumes-from",
        "src",
        "busybox",
        "true",
    ]);
    let anon = inspect_volume_of(&e, "src", "/anon");
    // rm -v keeps an anonymous volume another container uses, and every named one.
    e.ok(&["rm", "-f", "-v", "src"]);
    assert_eq!(volumes(&e).len(), 3);
    e.ok(&["rm", "-v", "user"]);
    assert_eq!(volumes(&e), ["named", "other"]);
    assert!(!volumes(&e).contains(&anon));
    e.ok(&["volume", "rm", "named", "other"]);
    e.assert_clean();
}

/// The volume container `c` mounts at `destination`.
fn inspect_volume_of(e: &Engine, c: &str, destination: &str) -> String {
    let mounts = e.inspect(c)["Mounts"].as_array().unwrap().clone();
    let m = mounts
        .iter()
        .find(|m| m["destination"] == destination)
        .unwrap();
    m["name"].as_str().unwrap().to_string()
}

#[test]
fn local_driver_tmpfs_and_bind_volumes_mount_while_used() {
    let e = Engine::new();
    e.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "tv",
    ]);
    let data = e.volume_data("tv");
    assert!(!mounted(&data));
    for c in ["a", "b"] {
        e.ok(&[
            "run", "-d", "--name", c, "-v", "tv:/t", "busybox", "sleep", "1000",
        ]);
    }
    assert!(mounted(&data));
    e.ok(&["exec", "a", "sh", "-c", "echo x > /t/f"]);
    assert_eq!(e.ok(&["exec", "b", "cat", "/t/f"]), "x\n");
    assert_eq!(
        e.ok(&["exec", "b", "sh", "-c", "df -k /t | awk 'NR==2 {print $2}'"]),
        "1024\n"
    );
    // Mounted while one user runs; detached when the last one stops.
    e.ok(&["stop", "-t", "0", "a"]);
    assert!(mounted(&data));
    e.ok(&["stop", "-t", "0", "b"]);
    assert!(!mounted(&data));
    e.ok(&["start", "a"]);
    assert!(mounted(&data));
    assert!(!e.run(&["exec", "a", "cat", "/t/f"]).status.success());
    // A killed monitor leaves the mount; rm of the container and volume rm clean up.
    let monitor = e.inspect("a")["State"]["MonitorPid"].as_i64().unwrap();
    // SAFETY: kill(2) on the monitor this test started.
    unsafe { libc::kill(monitor as i32, libc::SIGKILL) };
    e.ok(&["rm", "-f", "a", "b"]);
    e.ok(&["volume", "rm", "tv"]);
    assert!(!mounted(&data));

    let hd = e.b.dir.path().join("hd");
    std::fs::create_dir(&hd).unwrap();
    std::fs::write(hd.join("file"), "on the host\n").unwrap();
    let device = format!("device={}", hd.display());
    e.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        "bv",
    ]);
    assert_eq!(
        e.ok(&["run", "--rm", "-v", "bv:/b", "busybox", "cat", "/b/file"]),
        "on the host\n"
    );
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "bv:/b",
        "busybox",
        "sh",
        "-c",
        "echo w > /b/new",
    ]);
    assert!(!mounted(&e.volume_data("bv")));
    // Removing the volume deletes nothing through the mount.
    e.ok(&["volume", "rm", "bv"]);
    assert_eq!(std::fs::read_to_string(hd.join("new")).unwrap(), "w\n");
    assert!(hd.join("file").exists());
    e.assert_clean();
}

#[test]
fn bad_volume_input_fails_in_one_line_and_leaves_nothing() {
    let e = Engine::new();
    let cases: &[(&[&str], &str)] = &[
        (&["-v", "a/b:/x"], "invalid volume name"),
        (&["-v", "v1:/x:rshared"], "rshared"),
        (&["-v", "v1:/x", "-v", "v2:/x/"], "given twice"),
        (&["--mount", "type=bind,dst=/x"], "source is required"),
        (&["--mount", "src=v1,dst=/x,color=red"], "unexpected key"),
        (&["--mount", "type=volume,src=v1"], "target is required"),
        (
            &["--mount", "type=bind,src=/tmp,dst=/x,volume-opt=a=b"],
            "cannot mix",
        ),
        (
            &["--mount", "src=v1,dst=/x,volume-driver=flocker"],
            "only local",
        ),
        (&["--mount", "src=v1,dst=/x,volume-opt=size=1g"], "size"),
        (&["--volumes-from", "nosuch"], "nosuch"),
        (&["--volumes-from", "a:rx"], "--volumes-from"),
    ];
    for (flags, what) in cases {
        let args = [&["run", "--rm"][..], flags, &["busybox", "true"]].concat();
        let err = e.fail(125, &args);
        assert!(err.contains(what), "{args:?}: {err}");
        e.assert_clean();
    }
    let err = e.fail(
        125,
        &["create", "--mount", "type=tmpfs,dst=/x,src=y", "busybox"],
    );
    assert!(err.contains("source is not allowed"), "{err}");
    // A run that fails keeps a named volume it made, as docker does, and no anonymous one.
    let o = e.run(&[
        "run",
        "-v",
        "kept:/k",
        "-v",
        "/anon",
        "busybox",
        "/no/such/program",
    ]);
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(volumes(&e), ["kept"]);
    e.ok(&["volume", "rm", "kept"]);
    e.assert_clean();
}

#[test]
fn volume_rm_and_a_run_that_mounts_the_volume_do_not_race() {
    let e = Engine::new();
    for i in 0..15 {
        let name = format!("racer{i}");
        e.ok(&["volume", "create", "racy"]);
        let spawn = |args: &[&str]| {
            let mut c = e.cmd(args);
            c.stdin(Stdio::null());
            output_within(c, Duration::from_secs(60), &format!("{args:?}"))
        };
        let (run, rm) = std::thread::scope(|s| {
            let run = s.spawn(|| {
                spawn(&[
                    "run", "-d", "--name", &name, "-v", "racy:/d", "busybox", "sleep", "100",
                ])
            });
            let rm = spawn(&["volume", "rm", "racy"]);
            (run.join().unwrap(), rm)
        });
        // Either order is fine; a container without its volume is not.
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        if !rm.status.success() {
            assert!(String::from_utf8_lossy(&rm.stderr).contains("in use"));
        }
        assert!(e.volume_data("racy").is_dir());
        e.ok(&["rm", "-f", &name]);
        e.ok(&["volume", "rm", "racy"]);
    }
    e.assert_clean();
}
