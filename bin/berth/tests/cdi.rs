//! CDI devices (`--device VENDOR/CLASS=NAME`) from specs of the test's own making: stand-in
//! device nodes made with mknod in the test's directory, a stand-in driver library, and the
//! checks inside the container that exactly those nodes are there, with their modes, that
//! the device cgroup refuses any other, and that the spec's environment and mounts are in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::Engine;
use std::path::{Path, PathBuf};

/// Two stand-in "GPUs": nodes with the numbers of /dev/net/tun (10:200) and /dev/fuse
/// (10:229), devices a container may open with no capability when its cgroup allows them.
/// Returns the spec directory.
fn stand_ins(dir: &Path) -> PathBuf {
    let (dev, lib, specs) = (dir.join("dev"), dir.join("driver"), dir.join("cdi"));
    for d in [&dev, &lib, &specs] {
        std::fs::create_dir_all(d).unwrap();
    }
    for (name, minor, mode) in [("gpu0", "200", "0620"), ("gpu1", "229", "0666")] {
        let st = std::process::Command::new("mknod")
            .args(["-m", mode])
            .arg(dev.join(name))
            .args(["c", "10", minor])
            .status()
            .unwrap();
        assert!(st.success());
    }
    std::fs::write(lib.join("libstandin.so.1"), "not really a library\n").unwrap();
    let spec = format!(
        "cdiVersion: 0.6.0\n\
         kind: example.com/gpu\n\
         containerEdits:\n  \
           env: [STANDIN_DRIVER=1]\n  \
           mounts:\n    \
             - {{hostPath: {lib}, containerPath: /usr/lib/standin, options: [ro, nosuid, nodev, bind]}}\n\
         devices:\n  \
           - name: gpu0\n    \
             containerEdits:\n      \
               deviceNodes: [{{path: /dev/standin0, hostPath: {dev}/gpu0, permissions: rw}}]\n      \
               env: [STANDIN_VISIBLE=0]\n  \
           - name: gpu1\n    \
             containerEdits:\n      \
               deviceNodes: [{{path: /dev/standin1, hostPath: {dev}/gpu1}}]\n",
        lib = lib.display(),
        dev = dev.display()
    );
    std::fs::write(specs.join("standin.yaml"), spec).unwrap();
    specs
}

/// `berth --cdi-spec-dir SPECS run --rm FLAGS busybox sh -c SCRIPT`.
fn run(e: &Engine, specs: &Path, flags: &[&str], script: &str) -> std::process::Output {
    let specs = specs.display().to_string();
    let mut args = vec![
        "--cdi-spec-dir",
        specs.as_str(),
        "run",
        "--rm",
        "--network",
        "none",
    ];
    args.extend_from_slice(&["--cgroup-parent", e.cgroup_parent.as_str()]);
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    e.run(&args)
}

#[test]
fn cdi_devices_bring_their_nodes_env_and_mounts_and_nothing_else() {
    let e = Engine::new();
    let specs = stand_ins(e.b.dir.path());
    let script = "ls -ln /dev | grep standin | awk '{print $1, $5, $6, $NF}'; \
                  echo \"$STANDIN_DRIVER $STANDIN_VISIBLE\"; cat /usr/lib/standin/libstandin.so.1; \
                  touch /usr/lib/standin/x 2>/dev/null || echo read-only; \
                  (exec 3<>/dev/standin0) && echo opened; \
                  if mknod /dev/other c 10 229 2>/dev/null; \
                  then (exec 3<>/dev/other) 2>/dev/null && echo opened-other || echo refused; \
                  else echo refused; fi";
    let o = run(&e, &specs, &["--device", "example.com/gpu=gpu0"], script);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "crw--w---- 10, 200 standin0\n\
         1 0\n\
         not really a library\n\
         read-only\n\
         opened\n\
         refused\n"
    );

    // `=all`: every device of the kind, each with its own edits.
    let o = run(
        &e,
        &specs,
        &["--device", "example.com/gpu=all"],
        "ls /dev | grep standin; (exec 3<>/dev/standin1) && echo opened",
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "standin0\nstandin1\nopened\n",
        "{o:?}"
    );
    e.assert_clean();
}

#[test]
fn unknown_cdi_devices_and_bad_specs_fail_in_one_line_and_leave_nothing() {
    let e = Engine::new();
    let specs = stand_ins(e.b.dir.path());
    let one_line = |o: &std::process::Output, want: &str| {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{o:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "wanted {want:?} in {err}");
    };
    let o = run(&e, &specs, &["--device", "example.com/gpu=gpu9"], "true");
    one_line(
        &o,
        "unknown CDI device example.com/gpu=gpu9 (known: example.com/gpu=gpu0, example.com/gpu=gpu1)",
    );
    let o = run(&e, &specs, &["--device", "example.com/gpu="], "true");
    one_line(&o, "--device");
    let o = run(&e, &specs, &["--device", "other.com/gpu=0"], "true");
    one_line(&o, "no spec in");
    std::fs::write(
        specs.join("broken.json"),
        r#"{"cdiVersion": "0.6.0", "kind": "other.com/gpu", "devices": [{"name": "0", "containerEdits": {"deviceNodes": [{"path": "dev/x"}]}}]}"#,
    )
    .unwrap();
    let o = run(&e, &specs, &["--device", "other.com/gpu=0"], "true");
    one_line(
        &o,
        &format!(
            "{}: devices[0].containerEdits.deviceNodes[0].path: \"dev/x\" is not absolute",
            specs.join("broken.json").display()
        ),
    );
    // A node the spec names that the host lacks.
    std::fs::remove_file(e.b.dir.path().join("dev/gpu1")).unwrap();
    let o = run(&e, &specs, &["--device", "example.com/gpu=gpu1"], "true");
    one_line(&o, "device node");
    e.assert_clean();
}

/// `berth ARGS` with the fake NVIDIA driver of tests/nvidia/fake-driver.sh as the host's.
fn with_driver(e: &Engine, driver: &Path, args: &[&str]) -> std::process::Output {
    let mut c = e.cmd(args);
    c.env("NVIDIA_DRIVER_ROOT", driver);
    c.output().unwrap()
}

#[test]
fn gpus_finds_the_driver_itself_and_cdi_generate_writes_the_same_devices() {
    let e = Engine::new();
    let driver = e.b.dir.path().join("driver-root");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/nvidia/fake-driver.sh"
    );
    let st = std::process::Command::new(script)
        .arg(&driver)
        .status()
        .unwrap();
    assert!(st.success());
    let gpus = |value: &str, script: &str| {
        let args = ["run", "--rm", "--network", "none", "--gpus", value];
        with_driver(
            &e,
            &driver,
            &[&args[..], &["busybox", "sh", "-c", script]].concat(),
        )
    };
    let o = gpus(
        "all",
        "nvidia-smi; ls /usr/lib/nvidia; (exec 3<>/dev/nvidia1) && echo opened",
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "NVIDIA-SMI stand-in\nnvidia-uvm\nnvidia0\nnvidia1\nnvidiactl\n\
         libcuda.so.1\nlibcuda.so.550.54.14\nlibnvidia-ml.so.1\nlibnvidia-ml.so.550.54.14\n\
         libnvidia-ptxjitcompiler.so.1\nlibnvidia-ptxjitcompiler.so.550.54.14\nopened\n"
    );
    // One GPU by its UUID: only its node, and the other's numbers are refused.
    let o = gpus(
        "device=GPU-22222222-2222-2222-2222-222222222222",
        "ls /dev | grep nvidia; if mknod /dev/other c 10 200 2>/dev/null; \
         then (exec 3<>/dev/other) 2>/dev/null && echo opened-other || echo refused; \
         else echo refused; fi",
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "nvidia-uvm\nnvidia1\nnvidiactl\nrefused\n",
        "{o:?}"
    );

    // The generated spec, read back as any CDI spec: the same device by name.
    let specs = e.b.dir.path().join("generated");
    std::fs::create_dir_all(&specs).unwrap();
    let file = specs.join("nvidia.json");
    let o = with_driver(
        &e,
        &driver,
        &["cdi", "generate", "-o", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{o:?}");
    let o = e.run(&["--cdi-spec-dir", specs.to_str().unwrap(), "cdi", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "nvidia.com/gpu=0\nnvidia.com/gpu=1\n\
         nvidia.com/gpu=GPU-11111111-1111-1111-1111-111111111111\n\
         nvidia.com/gpu=GPU-22222222-2222-2222-2222-222222222222\nnvidia.com/gpu=all\n"
    );
    let o = run(
        &e,
        &specs,
        &["--device", "nvidia.com/gpu=1"],
        "ls /dev | grep nvidia",
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "nvidia-uvm\nnvidia1\nnvidiactl\n",
        "{o:?}"
    );

    // No driver, or a GPU the host lacks: one line, exit 125, nothing left.
    for (root, gpus, want) in [
        (e.b.dir.path().join("nothing"), "all", "--gpus"),
        (driver.clone(), "3", "3 GPUs asked for, this host has 2"),
    ] {
        let o = with_driver(
            &e,
            &root,
            &["run", "--rm", "--gpus", gpus, "busybox", "true"],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{o:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{err}");
    }
    e.assert_clean();
}
