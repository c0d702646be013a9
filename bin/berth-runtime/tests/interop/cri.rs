//! containerd's CRI plugin set up as docs/KUBERNETES.md says, from both of its starting points
//! (Debian's shipped /etc/containerd/config.toml and `containerd config default`): the doc's
//! marked blocks are applied as written, its commands run and compared with the outputs it
//! shows, then a pod sandbox and a container are started as the kubelet would (gRPC, here
//! through `curl --http2-prior-knowledge`) and checked to run on berth-runtime.

use crate::common::{run_with_timeout, text};
use crate::proto::{bytes, decode, get_bytes, get_int, int, Value};
use crate::{env, runtime, sh, sh_ok, wait_for, IMAGE};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The handler name docs/KUBERNETES.md registers and its RuntimeClass selects.
const HANDLER: &str = "berth";
/// CRI's namespace in containerd; the runc shim keeps runtime state under this root.
const STATE_ROOT: &str = "/run/containerd/runc/k8s.io";
/// Where the doc installs berth-runtime; the tests use the build under test instead.
const DOC_RUNTIME: &str = "/usr/local/bin/berth-runtime";
/// The node's config file the doc edits; the tests edit their own copy.
const NODE_CONFIG: &str = "/etc/containerd/config.toml";
const CONTAINERD_SH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/interop/containerd.sh"
);

fn doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/KUBERNETES.md"
    ))
    .unwrap()
}

/// The fenced block after `<!-- interop: MARKER -->` in the doc, without its indentation.
fn block(marker: &str) -> String {
    let doc = doc();
    let tag = format!("<!-- interop: {marker} -->");
    let mut lines = doc.lines().skip_while(|l| l.trim() != tag).skip(1);
    let fence = lines
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("docs/KUBERNETES.md has no block {tag}"));
    assert!(
        fence.trim().starts_with("```"),
        "{tag} is not before a block"
    );
    let indent = fence.len() - fence.trim_start().len();
    let body: Vec<&str> = lines
        .take_while(|l| l.trim() != "```")
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect();
    body.join("\n") + "\n"
}

/// Debian's /etc/containerd/config.toml as the package ships it: the host's copy, checked
/// against the checksum dpkg recorded for the conffile.
fn debian_config() -> String {
    let conffiles = sh_ok("dpkg-query", &["-W", "-f=${Conffiles}", "containerd"]);
    let shipped = conffiles
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(NODE_CONFIG)?
                .split_whitespace()
                .next()
        })
        .unwrap_or_else(|| panic!("the containerd package ships no {NODE_CONFIG}"))
        .to_string();
    let sum = sh_ok("md5sum", &[NODE_CONFIG]);
    assert_eq!(
        sum.split_whitespace().next(),
        Some(shipped.as_str()),
        "{NODE_CONFIG} was edited on this host; the test needs it as Debian ships it"
    );
    std::fs::read_to_string(NODE_CONFIG).unwrap()
}

/// The doc's TOML block `marker`, naming the berth-runtime under test.
fn toml_block(marker: &str) -> String {
    block(marker).replace(DOC_RUNTIME, &runtime())
}

/// Whether this process may lower oom_score_adj (CAP_SYS_RESOURCE, bit 24).
fn has_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap();
    u64::from_str_radix(eff.trim(), 16).unwrap() & (1 << 24) != 0
}

/// A containerd of one test's own (tests/interop/containerd.sh), started from DIR/node.toml:
/// the node's config file that the doc's commands edit, moved under DIR by the script.
struct Containerd {
    dir: String,
    /// The pods' slice, where the handler has the systemd cgroup driver (the kubelet's
    /// `cgroupDriver: systemd` names one per pod).
    slice: Option<&'static str>,
}

impl Containerd {
    /// A node whose config file is `parts`, one after the other.
    fn new(name: &str, parts: &[&str]) -> Containerd {
        let dir = format!("{}/{name}", env("BERTH_INTEROP_DIR"));
        std::fs::create_dir_all(&dir).unwrap();
        let c = Containerd { dir, slice: None };
        std::fs::write(c.node_config(), parts.join("\n")).unwrap();
        c
    }

    fn node_config(&self) -> String {
        format!("{}/node.toml", self.dir)
    }

    fn sock(&self) -> String {
        format!("{}/containerd.sock", self.dir)
    }

    /// Starts containerd; `without_sys_resource` drops CAP_SYS_RESOURCE from it and all it
    /// starts, as on a node whose root lacks it.
    fn start(&self, without_sys_resource: bool) {
        let node = self.node_config();
        let start = [CONTAINERD_SH, "start", &self.dir, &node];
        if without_sys_resource {
            let drop = [
                "--inh-caps",
                "-sys_resource",
                "--bounding-set",
                "-sys_resource",
            ];
            sh_ok("setpriv", &[&drop[..], &start].concat());
        } else {
            sh_ok(CONTAINERD_SH, &start[1..]);
        }
    }

    /// Kills what runs in it and stops it.
    fn stop(&self) {
        sh_ok(CONTAINERD_SH, &["stop", &self.dir]);
    }

    fn ctr(&self, args: &[&str]) -> String {
        let sock = self.sock();
        sh_ok("ctr", &[&["--address", sock.as_str()], args].concat())
    }

    /// The test images in CRI's namespace, the pause image under the name the CRI plugin
    /// runs sandboxes from (it cannot pull here).
    fn load_images(&self) {
        let images = format!("{}/images", env("BERTH_INTEROP_DIR"));
        for name in ["busybox", "pause"] {
            let tar = format!("{images}/{name}.docker.tar");
            self.ctr(&["-n", "k8s.io", "images", "import", &tar]);
        }
        let sandbox = self.info()["config"]["sandboxImage"]
            .as_str()
            .unwrap()
            .to_string();
        self.ctr(&[
            "-n",
            "k8s.io",
            "images",
            "tag",
            "localhost/pause:latest",
            &sandbox,
        ]);
    }

    /// One unary CRI call; returns the reply message, or the gRPC error text.
    fn call(&self, method: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
        let headers = format!("{}/cri-headers", self.dir);
        let url = format!("http://localhost/runtime.v1.RuntimeService/{method}");
        let mut child = Command::new("curl")
            .args(["-sS", "--http2-prior-knowledge", "--max-time", "60"])
            .args(["--unix-socket", &self.sock()])
            .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
            .args(["--data-binary", "@-", "-D", &headers, &url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut frame = vec![0u8];
        frame.extend((msg.len() as u32).to_be_bytes());
        frame.extend(msg);
        child.stdin.take().unwrap().write_all(&frame).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "curl {method}: {}", text(&out.stderr));
        let head = std::fs::read_to_string(&headers).unwrap();
        let field = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        match field("grpc-status:").as_str() {
            "0" => Ok(out.stdout.get(5..).unwrap_or_default().to_vec()),
            s => Err(format!(
                "{method}: grpc-status {s}: {}",
                field("grpc-message:")
            )),
        }
    }

    fn must(&self, method: &str, msg: &[u8]) -> Vec<u8> {
        self.call(method, msg).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `info` part of `crictl info`: the verbose Status reply's map, as one object with
    /// sorted keys, a value that starts with `{` parsed as JSON and any other taken as a
    /// string without its double quotes (cri-tools' rules).
    fn info(&self) -> serde_json::Value {
        let reply = self.must("Status", &int(1, 1));
        let mut info = serde_json::Map::new();
        for (field, entry) in decode(&reply) {
            if let (2, Value::Bytes(entry)) = (field, entry) {
                let key = String::from_utf8(get_bytes(&entry, 1)).unwrap();
                let value = String::from_utf8(get_bytes(&entry, 2)).unwrap();
                let value = if value.starts_with('{') {
                    serde_json::from_str(&value).unwrap()
                } else {
                    serde_json::Value::String(value.trim_matches('"').to_string())
                };
                info.insert(key, value);
            }
        }
        serde_json::Value::Object(info)
    }

    /// Runs the doc's shell block `marker` as a user would on this node, and returns what it
    /// printed. ctr and crictl find the node's socket through their environment. Where
    /// crictl is not installed (Debian 12 does not package it), a stand-in prints what
    /// `crictl info` prints, from the same CRI call.
    fn doc_command(&self, marker: &str) -> String {
        let script = block(marker)
            .replace(NODE_CONFIG, &self.node_config())
            .replace(DOC_RUNTIME, &runtime());
        let bin = format!("{}/bin", self.dir);
        std::fs::create_dir_all(&bin).unwrap();
        let have_crictl = sh("sh", &["-c", "command -v crictl"]).status.success();
        if script.contains("crictl") && !have_crictl {
            let json = format!("{}/crictl-info.json", self.dir);
            let info = serde_json::to_string_pretty(&self.info()).unwrap();
            std::fs::write(&json, info + "\n").unwrap();
            let stand_in = format!("{bin}/crictl");
            std::fs::write(
                &stand_in,
                format!("#!/bin/sh\n[ \"$*\" = info ] || exit 2\nexec cat {json}\n"),
            )
            .unwrap();
            std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let rt_dir = std::path::Path::new(&runtime())
            .parent()
            .unwrap()
            .to_owned();
        let path = format!(
            "{bin}:{}:{}",
            rt_dir.display(),
            std::env::var("PATH").unwrap()
        );
        let mut c = Command::new("bash");
        c.args(["-euo", "pipefail", "-c", &script])
            .env("PATH", path)
            .env("CONTAINERD_ADDRESS", self.sock())
            .env(
                "CONTAINER_RUNTIME_ENDPOINT",
                format!("unix://{}", self.sock()),
            )
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        let out = run_with_timeout(c, Duration::from_secs(60));
        assert!(
            out.status.success(),
            "the doc's {marker} block failed ({}):\n{script}{}{}",
            out.status,
            text(&out.stderr),
            text(&out.stdout)
        );
        text(&out.stdout).replace(&runtime(), DOC_RUNTIME)
    }

    /// Runs the doc's block `marker` and compares with the doc's `MARKER output` block
    /// (column padding aside).
    fn check_doc_output(&self, marker: &str) {
        let squeeze = |s: &str| {
            s.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string()
        };
        let got = self.doc_command(marker);
        assert_eq!(
            squeeze(&got),
            squeeze(&block(&format!("{marker} output"))),
            "the doc's {marker} block printed:\n{got}"
        );
    }

    /// `state` of a container in the shim's runtime root, through berth-runtime itself.
    fn berth_status(id: &str) -> String {
        let out = sh_ok(&runtime(), &["--root", STATE_ROOT, "state", id]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["status"].as_str().unwrap_or_default().to_string()
    }

    /// A host-network pod, as the kubelet asks for it (no CNI here, and no hostname): a pid
    /// namespace per container, the ipc namespace shared in the pod; in its slice, if any.
    fn pod_config(&self) -> Vec<u8> {
        let ns = [int(1, 2), int(2, 1), int(3, 0)].concat();
        let parent = self.slice.map(|s| bytes(1, s)).unwrap_or_default();
        let linux = [parent, bytes(2, bytes(1, ns))].concat();
        let meta = [
            bytes(1, "berth-pod"),
            bytes(2, "berth-pod-uid"),
            bytes(3, "default"),
        ]
        .concat();
        let logs = format!("{}/pod-logs", self.dir);
        [bytes(1, meta), bytes(3, &logs), bytes(8, linux)].concat()
    }

    fn run_pod(&self) -> Result<String, String> {
        let pod = self.call(
            "RunPodSandbox",
            &[bytes(1, self.pod_config()), bytes(2, HANDLER)].concat(),
        )?;
        Ok(String::from_utf8(get_bytes(&pod, 1)).unwrap())
    }

    /// The kubelet's calls for one pod with one container, each checked on berth-runtime's
    /// side; the doc's listing of the runtime's state shows both.
    fn pod_and_container(&self) {
        let pod = self.run_pod().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Self::berth_status(&pod), "running");

        let pod_config = self.pod_config();
        let config = [
            bytes(1, bytes(1, "app")),
            bytes(2, bytes(1, IMAGE)),
            bytes(3, "sh"),
            bytes(4, "-c"),
            bytes(4, "echo hello from cri; exec sleep 1000"),
            bytes(11, "app.log"),
            // linux.resources.memory_limit_in_bytes: 64 MiB.
            bytes(15, bytes(1, int(4, 64 << 20))),
        ]
        .concat();
        let ctr = self.must(
            "CreateContainer",
            &[bytes(1, &pod), bytes(2, config), bytes(3, &pod_config)].concat(),
        );
        let ctr = String::from_utf8(get_bytes(&ctr, 1)).unwrap();
        self.must("StartContainer", &bytes(1, &ctr));
        assert_eq!(Self::berth_status(&ctr), "running");
        if let Some(slice) = self.slice {
            self.check_scopes(slice, &pod, &ctr);
        }
        let status = self.must("ContainerStatus", &bytes(1, &ctr));
        assert_eq!(get_int(&get_bytes(&status, 1), 3), 1, "CONTAINER_RUNNING");
        wait_for("the container's log", 10, || {
            std::fs::read_to_string(format!("{}/pod-logs/app.log", self.dir))
                .ok()
                .filter(|l| l.contains("hello from cri"))
        });
        let list = self.doc_command("state-list");
        assert!(
            list.contains(&pod) && list.contains(&ctr),
            "the doc's listing misses the pod or its container:\n{list}"
        );

        let cmd = ["sh", "-c", "echo in exec; exit 3"]
            .map(|a| bytes(2, a))
            .concat();
        let exec = self.must("ExecSync", &[bytes(1, &ctr), cmd, int(3, 20)].concat());
        assert_eq!(get_bytes(&exec, 1), b"in exec\n");
        assert_eq!(get_int(&exec, 3), 3);

        self.must("StopContainer", &[bytes(1, &ctr), int(2, 5)].concat());
        let status = self.must("ContainerStatus", &bytes(1, &ctr));
        assert_eq!(get_int(&get_bytes(&status, 1), 3), 2, "CONTAINER_EXITED");
        self.must("RemoveContainer", &bytes(1, &ctr));
        self.must("StopPodSandbox", &bytes(1, &pod));
        self.must("RemovePodSandbox", &bytes(1, &pod));
        let gone = sh(&runtime(), &["--root", STATE_ROOT, "state", &pod]);
        assert!(!gone.status.success(), "the sandbox's state is left");
    }
}

impl Containerd {
    /// The pod's sandbox and container each in a scope of systemd's, in the pod's slice,
    /// the container's limit in its scope's file and in the unit.
    fn check_scopes(&self, slice: &str, pod: &str, ctr: &str) {
        let mut dir = std::path::PathBuf::from("/sys/fs/cgroup");
        let base = slice.trim_end_matches(".slice");
        for (i, _) in base.match_indices('-').chain([(base.len(), "")]) {
            dir.push(format!("{}.slice", &base[..i]));
        }
        for (id, memory) in [(pod, None), (ctr, Some("67108864"))] {
            let unit = format!("cri-containerd-{id}.scope");
            let show = |p: &str| sh_ok("systemctl", &["show", &unit, "-p", p, "--value"]);
            assert_eq!(show("ActiveState").trim(), "active", "{unit}");
            assert_eq!(show("Slice").trim(), slice, "{unit}");
            if let Some(m) = memory {
                assert_eq!(show("MemoryMax").trim(), m, "{unit}");
                let file = dir.join(&unit).join("memory.max");
                let got = std::fs::read_to_string(&file).unwrap();
                assert_eq!(got.trim(), m, "{}", file.display());
            }
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = sh(CONTAINERD_SH, &["stop", &self.dir]);
    }
}

#[test]
#[ignore = "run by scripts/test.d/60-interop.sh"]
fn kubernetes_doc_on_debians_containerd_config() {
    assert!(
        doc().contains(&format!("handler: {HANDLER}")),
        "the RuntimeClass must select {HANDLER}"
    );
    let debian = debian_config();
    let runc = toml_block("containerd-runc");
    let berth = toml_block("containerd-cri");

    // The berth table alone: containerd refuses its CRI plugin, as the doc warns and shows.
    let broken = Containerd::new("cri-debian-berth-only", &[&debian, &berth]);
    broken.start(false);
    broken.check_doc_output("check-cri-error");
    broken.stop();

    // The doc's change for Debian's file, on a node whose root lacks CAP_SYS_RESOURCE.
    let c = Containerd::new("cri-debian", &[&debian, &runc, &berth]);
    c.start(true);
    c.check_doc_output("check-cri");
    c.check_doc_output("check-handler");
    c.load_images();
    let err = c
        .run_pod()
        .expect_err("a pod sandbox without CAP_SYS_RESOURCE");
    let message = block("oom-error");
    assert!(
        err.contains(message.trim()),
        "the doc quotes {message:?}, the sandbox failed with {err}"
    );
    // The doc's fix, and the pod runs.
    c.stop();
    c.doc_command("oom-fix");
    c.start(true);
    c.check_doc_output("check-cri");
    c.pod_and_container();
}

#[test]
#[ignore = "run by scripts/test.d/60-interop.sh"]
fn kubernetes_doc_on_containerd_config_default() {
    let default = sh_ok("containerd", &["config", "default"]);
    let c = Containerd::new("cri-default", &[&default, &toml_block("containerd-cri")]);
    if !has_cap_sys_resource() {
        c.doc_command("oom-fix");
    }
    c.start(false);
    c.check_doc_output("check-cri");
    c.check_doc_output("check-handler");
    c.load_images();
    c.pod_and_container();

    // ctr with berth-runtime, as the doc runs it, in ctr's default namespace.
    let tar = format!("{}/images/busybox.docker.tar", env("BERTH_INTEROP_DIR"));
    c.ctr(&["images", "import", &tar]);
    c.ctr(&["images", "tag", IMAGE, "docker.io/library/busybox:latest"]);
    c.doc_command("ctr-run");
}

/// A kubeadm-style node: the systemd cgroup driver (`SystemdCgroup = true`, the kubelet's
/// `cgroupDriver: systemd`), as docs/KUBERNETES.md sets it up. Needs systemd as PID 1: run
/// by scripts/test.d/42-systemd-vm.sh in the VM that boots it (tests/interop/run.sh skips it
/// elsewhere).
#[test]
#[ignore = "run by scripts/test.d/42-systemd-vm.sh"]
fn kubernetes_doc_with_the_systemd_cgroup_driver() {
    assert!(
        std::path::Path::new("/run/systemd/system").is_dir(),
        "needs systemd as PID 1"
    );
    let default = sh_ok("containerd", &["config", "default"]);
    let mut c = Containerd::new(
        "cri-systemd",
        &[&default, &toml_block("containerd-cri-systemd")],
    );
    c.slice = Some("kubepods-besteffort-podberth.slice");
    c.start(false);
    c.check_doc_output("check-cri");
    c.load_images();
    c.pod_and_container();
    let _ = sh("systemctl", &["stop", "kubepods.slice"]);
}
