//! The command line as docker users script it: management groups, global flags, help for
//! every verb, and values docker accepts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::Engine;

#[test]
fn management_groups_alias_the_verbs() {
    let e = Engine::new();
    e.ok(&[
        "container",
        "run",
        "-d",
        "--name",
        "grouped",
        "busybox",
        "sleep",
        "1000",
    ]);
    for ls in ["ls", "ps", "list"] {
        assert!(
            e.ok(&["container", ls]).contains("grouped"),
            "container {ls}"
        );
    }
    assert_eq!(
        e.ok(&["container", "exec", "grouped", "echo", "hi"]),
        "hi\n"
    );
    let c: serde_json::Value =
        serde_json::from_str(&e.ok(&["container", "inspect", "grouped"])).unwrap();
    assert_eq!(c[0]["Name"], "grouped");
    // container inspect looks at containers only; image inspect at images only.
    assert!(e
        .fail(1, &["container", "inspect", "busybox"])
        .contains("busybox"));
    let i: serde_json::Value =
        serde_json::from_str(&e.ok(&["image", "inspect", "busybox"])).unwrap();
    assert!(i[0]["Id"].as_str().unwrap().starts_with("sha256:"));
    assert!(e.ok(&["image", "ls"]).contains("busybox"));
    e.ok(&["image", "tag", "busybox", "localhost/other:1"]);
    e.ok(&["image", "rm", "localhost/other:1"]);
    assert!(!e.ok(&["image", "list"]).contains("localhost/other"));
    assert_eq!(e.ok(&["container", "port", "grouped"]), "");
    e.ok(&["container", "stop", "-t", "1", "grouped"]);
    e.ok(&["container", "rm", "grouped"]);
    e.assert_clean();
}

#[test]
fn stop_and_restart_with_a_signal_and_docker_28s_timeout_flag() {
    let e = Engine::new();
    let script = "trap 'echo got INT; exit 3' INT; echo up; while :; do sleep 0.1; done";
    e.ok(&["run", "-d", "--name", "t", "busybox", "sh", "-c", script]);
    common::engine::eventually("up", || e.ok(&["logs", "t"]) == "up\n");
    assert!(e
        .fail(1, &["stop", "-s", "NOPE", "t"])
        .contains("unknown signal"));
    e.ok(&["restart", "--signal", "SIGINT", "--timeout", "5", "t"]);
    e.ok(&["stop", "-s", "INT", "--timeout", "5", "t"]);
    assert_eq!(e.ok(&["logs", "t"]), "up\ngot INT\nup\ngot INT\n");
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.ExitCode}}", "t"]), "3\n");
    e.ok(&["rm", "t"]);
    e.assert_clean();
}

#[test]
fn help_for_every_verb_and_global_flags() {
    let e = Engine::new();
    assert!(e.ok(&["-v"]).starts_with("berth "));
    assert_eq!(e.ok(&["-v"]), e.ok(&["--version"]));
    let top = e.ok(&["--help"]);
    let verbs: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| *v != "help")
        .collect();
    assert!(verbs.len() > 20, "{verbs:?}");
    for v in &verbs {
        let help = e.ok(&[v, "--help"]);
        assert!(help.contains("Usage: berth"), "{v}: {help}");
    }
    for group in ["container", "image", "volume"] {
        let help = e.ok(&[group, "--help"]);
        for sub in help
            .lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|v| *v != "help")
        {
            assert!(e
                .ok(&[group, sub, "--help"])
                .contains(&format!("Usage: berth {group} {sub}")));
        }
    }
    for level in ["debug", "info", "warn", "error"] {
        e.ok(&["--log-level", level, "ps"]);
    }
    e.ok(&["-D", "ps"]);
    assert!(e
        .fail(125, &["--log-level", "loud", "ps"])
        .contains("--log-level"));
}

#[test]
fn the_primary_group_is_a_supplementary_group() {
    let e = Engine::new();
    assert_eq!(
        e.ok(&["run", "--rm", "busybox", "id"]),
        "uid=0(root) gid=0(root) groups=0(root)\n"
    );
    assert_eq!(
        e.ok(&["run", "--rm", "-u", "1234:99", "busybox", "id", "-G"]),
        "99\n"
    );
    e.assert_clean();
}

#[test]
fn listings_filter_and_format_as_docker() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]);
    assert_eq!(
        e.run(&["run", "--name", "three", "busybox", "sh", "-c", "exit 3"])
            .status
            .code(),
        Some(3)
    );
    e.ok(&["create", "--name", "made", "busybox", "true"]);
    let names = |args: &[&str]| {
        let mut all = vec!["ps", "-a", "--format", "{{.Names}}"];
        all.extend_from_slice(args);
        let mut v: Vec<String> = e.ok(&all).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(names(&[]), ["made", "three", "up"]);
    assert_eq!(names(&["--filter", "status=running"]), ["up"]);
    assert_eq!(
        names(&["--filter", "status=exited", "--filter", "status=created"]),
        ["made", "three"]
    );
    assert_eq!(names(&["--filter", "exited=3"]), ["three"]);
    assert_eq!(names(&["--filter", "name=thr"]), ["three"]);
    assert_eq!(
        names(&["--filter", "ancestor=busybox", "--filter", "name=up"]),
        ["up"]
    );
    assert_eq!(names(&["-n", "1"]), ["made"]);
    assert_eq!(e.ok(&["ps", "-l", "--format", "{{.Names}}"]), "made\n");
    let table = e.ok(&["ps", "--format", "table {{.Names}}\\t{{.State}}"]);
    assert_eq!(table, "NAMES     STATE\nup        running\n");
    let line: serde_json::Value =
        serde_json::from_str(&e.ok(&["ps", "--format", "{{json .}}"])).unwrap();
    assert_eq!(
        (line["Names"].as_str(), line["Command"].as_str()),
        (Some("up"), Some("\"sleep 1000\""))
    );
    assert_eq!(e.ok(&["ps", "-q", "--no-trunc"]).trim().len(), 64);
    assert!(e
        .fail(1, &["ps", "--filter", "colour=red"])
        .contains("colour"));
    assert!(e
        .fail(1, &["ps", "--format", "{{.Names"])
        .contains("--format"));
    // inspect -f
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.Status}} {{.Name}}", "up"]),
        "running up\n"
    );
    assert_eq!(
        e.ok(&["inspect", "--format", "{{json .Config.Cmd}}", "three"]),
        "[\"sh\",\"-c\",\"exit 3\"]\n"
    );
    // images
    e.ok(&["tag", "busybox", "localhost/tools:1"]);
    let repos = |args: &[&str]| {
        let mut all = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        all.extend_from_slice(args);
        let mut v: Vec<String> = e.ok(&all).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(repos(&[]).len(), 2);
    assert_eq!(repos(&["localhost/tools"]), ["localhost/tools:1"]);
    assert_eq!(
        repos(&["--filter", "reference=*/too*"]),
        ["localhost/tools:1"]
    );
    assert!(repos(&["--filter", "dangling=true"]).is_empty());
    assert_eq!(repos(&["-a", "--filter", "dangling=false"]).len(), 2);
    let header = e.ok(&["images"]);
    assert!(header.starts_with("REPOSITORY"), "{header}");
    assert!(
        header.lines().next().unwrap().contains("IMAGE ID"),
        "{header}"
    );
    let ids = e.ok(&["images", "-q", "--no-trunc"]);
    assert_eq!(ids.lines().count(), 1, "{ids}");
    assert!(ids.starts_with("sha256:"));
    // history
    let h = e.ok(&["history", "busybox"]);
    let head: Vec<&str> = h
        .lines()
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(head, ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]);
    let raw = e.ok(&["history", "-H=false", "--format", "{{.Size}}", "busybox"]);
    assert!(raw.trim().parse::<u64>().unwrap() > 100_000, "{raw}");
    e.ok(&["rm", "-f", "up", "three", "made"]);
    e.assert_clean();
}

#[test]
fn privileged_gets_the_hosts_devices() {
    let e = Engine::new();
    let script = "for d in /dev/loop0 /dev/kmsg /dev/net/tun; do \
                  [ -e $d ] && stat -c '%n %t:%T %a' $d; done; true";
    let host = std::process::Command::new("sh")
        .args(["-c", script])
        .output()
        .unwrap();
    let host = String::from_utf8(host.stdout).unwrap();
    assert!(
        !host.is_empty(),
        "the host has none of the devices looked for"
    );
    assert_eq!(
        e.ok(&["run", "--rm", "--privileged", "busybox", "sh", "-c", script]),
        host
    );
    // Without --privileged, none of them.
    assert_eq!(e.ok(&["run", "--rm", "busybox", "sh", "-c", script]), "");
    e.assert_clean();
}

#[test]
fn pause_unpause_restart_rename() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "while true; do date +%s%N > /tmp/now; sleep 0.05; done",
    ]);
    e.ok(&["pause", "ticker"]);
    assert_eq!(
        e.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "ticker"
        ]),
        "paused true\n"
    );
    assert!(e.ok(&["ps"]).contains("(Paused)"));
    assert_eq!(e.ok(&["ps", "--format", "{{.State}}"]), "paused\n");
    // Frozen: its clock does not move.
    let rootfs = e.ok(&["inspect", "-f", "{{.Rootfs}}", "ticker"]);
    let now = std::path::Path::new(rootfs.trim()).join("tmp/now");
    let before = std::fs::read_to_string(&now).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(std::fs::read_to_string(&now).unwrap(), before);
    assert!(e.fail(1, &["pause", "nosuch"]).contains("nosuch"));
    e.ok(&["unpause", "ticker"]);
    common::engine::eventually("ticking again", || {
        std::fs::read_to_string(&now).unwrap() != before
    });
    let pid = e.ok(&["inspect", "-f", "{{.State.Pid}}", "ticker"]);
    e.ok(&["restart", "-t", "0", "ticker"]);
    let again = e.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.Pid}}",
        "ticker",
    ]);
    assert!(
        again.starts_with("running ") && !again.ends_with(&pid),
        "{again} vs {pid}"
    );
    e.ok(&["rename", "ticker", "clock"]);
    assert_eq!(e.ok(&["ps", "--format", "{{.Names}}"]), "clock\n");
    assert!(e.fail(1, &["inspect", "ticker"]).contains("ticker"));
    e.ok(&["run", "-d", "--name", "other", "busybox", "sleep", "1000"]);
    assert!(e.fail(1, &["rename", "clock", "other"]).contains("in use"));
    assert!(e
        .fail(1, &["rename", "clock", "bad name"])
        .contains("bad name"));
    // The old name is free again.
    e.ok(&["container", "rename", "other", "ticker"]);
    assert!(e.fail(1, &["unpause", "clock"]).contains("paused"));
    e.ok(&["rm", "-f", "clock", "ticker"]);
    e.assert_clean();
}

#[test]
fn events_tell_what_happened_and_follow() {
    let e = Engine::new();
    let since = "10m";
    e.ok(&["run", "--name", "ev", "busybox", "true"]);
    e.ok(&["tag", "busybox", "localhost/evimg:1"]);
    e.ok(&["rm", "ev"]);
    let fmt = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}";
    let out = e.ok(&["events", "--since", since, "--until", "0s", "--format", fmt]);
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with("image import"))
        .collect();
    assert_eq!(
        lines,
        [
            "container create ev",
            "container start ev",
            "container die ev",
            "image tag localhost/evimg:1",
            "container destroy ev"
        ]
    );
    let only = e.ok(&[
        "events",
        "--since",
        since,
        "--until",
        "0s",
        "--filter",
        "event=die",
        "--format",
        "{{json .}}",
    ]);
    let v: serde_json::Value = serde_json::from_str(only.trim()).unwrap();
    assert_eq!(
        (
            v["Action"].as_str(),
            v["Actor"]["Attributes"]["exitCode"].as_str()
        ),
        (Some("die"), Some("0"))
    );
    assert!(e
        .ok(&[
            "events",
            "--since",
            since,
            "--until",
            "0s",
            "--filter",
            "type=image"
        ])
        .contains(" image tag "));
    // Following: only new events, as they happen.
    let mut follow = e.cmd(&[
        "events",
        "--filter",
        "event=start",
        "--format",
        "{{.Actor.Attributes.name}}",
    ]);
    let child = follow.stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    e.ok(&["run", "--rm", "--name", "later", "busybox", "true"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: SIGTERM to the child started above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "later\n");
    assert!(e
        .fail(1, &["events", "--filter", "colour=red"])
        .contains("colour"));
    e.assert_clean();
}

#[test]
fn info_version_df_and_prunes() {
    let e = Engine::new();
    assert_eq!(
        e.ok(&[
            "info",
            "--format",
            "{{.Images}} {{.Containers}} {{.Driver}}"
        ]),
        "1 0 overlay\n"
    );
    assert!(e.ok(&["info"]).contains("Storage Driver: overlay"));
    assert_eq!(
        e.ok(&["version", "--format", "{{.Client.Version}}"]),
        e.ok(&["version", "--format", "{{.Server.Version}}"])
    );
    e.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]);
    e.ok(&[
        "create", "--name", "made", "--label", "keep=yes", "busybox", "true",
    ]);
    e.ok(&[
        "run",
        "--name",
        "done",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo x > /anon/f",
    ]);
    let df = e.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}:{{.TotalCount}}:{{.Active}}",
    ]);
    assert_eq!(
        df,
        "Images:1:1\nContainers:3:1\nLocal Volumes:1:1\nBuild Cache:0:0\n"
    );
    // Without -f the question is asked; an empty answer is no.
    e.ok(&["container", "prune"]);
    assert_eq!(e.ok(&["ps", "-a", "-q"]).lines().count(), 3);
    let pruned = e.ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
    assert!(pruned.starts_with("Deleted Containers:\n"), "{pruned}");
    let mut names: Vec<String> = e
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    assert_eq!(names, ["made", "up"]);
    // image prune -a: an image no container uses goes; one in use stays.
    e.ok(&["tag", "busybox", "localhost/spare:1"]);
    e.ok(&["image", "prune", "-f"]);
    assert_eq!(e.ok(&["images", "-q"]).lines().count(), 1);
    e.ok(&["rm", "made"]);
    e.ok(&["system", "prune", "-f", "--volumes"]);
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Names}}"]), "up\n");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
    e.ok(&["rm", "-f", "up"]);
    let out = e.ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: "), "{out}");
    assert_eq!(e.ok(&["images", "-q"]), "");
    e.assert_clean();
}

#[test]
fn stats_sample_and_stream() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "while true; do :; done",
    ]);
    e.ok(&["create", "--name", "idle", "busybox", "true"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let line = e.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}",
    ]);
    let f: Vec<&str> = line.trim().split('|').collect();
    assert_eq!(f[0], "busy", "{line}");
    let cpu: f64 = f[1].trim_end_matches('%').parse().unwrap();
    assert!(cpu > 10.0, "{line}");
    assert!(f[2].ends_with(" / 64MiB"), "{line}");
    assert_eq!(f[3], "1");
    let table = e.ok(&["stats", "--no-stream", "-a"]);
    assert!(table.starts_with("CONTAINER ID"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("idle") && l.contains("0.00%")),
        "{table}"
    );
    // A stream: a new table each second until stopped.
    let child = e
        .cmd(&["stats", "busy"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // SAFETY: SIGTERM to the child started above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    assert!(out.matches("CONTAINER ID").count() >= 2, "{out}");
    assert!(e
        .fail(1, &["stats", "--no-stream", "nosuch"])
        .contains("nosuch"));
    e.ok(&["rm", "-f", "busy", "idle"]);
    e.assert_clean();
}
