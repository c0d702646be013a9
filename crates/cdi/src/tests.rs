use super::*;
use serde_json::json;
use std::path::Path;

const YAML: &str = r#"
cdiVersion: 0.6.0
kind: example.com/fpga
containerEdits:
  env: [FPGA_RUNTIME=1]
  mounts:
    - hostPath: /opt/fpga/lib
      containerPath: /usr/lib/fpga
      options: [ro, nosuid, nodev, bind]
devices:
  - name: card0
    containerEdits:
      deviceNodes:
        - path: /dev/fpga0
          type: c
          major: 240
          minor: 0
          fileMode: 0o660
          permissions: rw
      env: [FPGA=card0]
      additionalGids: [44]
  - name: card1
    containerEdits:
      deviceNodes:
        - {path: /dev/fpga1, type: c, major: 240, minor: 1}
      hooks:
        - {hookName: createContainer, path: /usr/bin/fpga-hook, args: [fpga-hook, setup]}
"#;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

fn config() -> serde_json::Value {
    json!({"process": {"env": ["PATH=/bin", "FPGA=none"], "user": {"uid": 0, "gid": 0}},
           "linux": {"devices": [], "resources": {"devices": [{"allow": false, "access": "rwm"}]}},
           "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]})
}

#[test]
fn a_yaml_spec_edits_the_config_as_the_cdi_library_does() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "fpga.yaml", YAML);
    let r = Registry::load(&[d.path().to_path_buf()]);
    let mut c = config();
    inject(&mut c, &r, &["example.com/fpga=card0"]).unwrap();
    assert_eq!(
        c["process"]["env"],
        json!(["PATH=/bin", "FPGA_RUNTIME=1", "FPGA=card0"])
    );
    assert_eq!(
        c["linux"]["devices"],
        json!([{"path": "/dev/fpga0", "type": "c", "major": 240, "minor": 0, "fileMode": 0o660}])
    );
    assert_eq!(
        c["linux"]["resources"]["devices"][1],
        json!({"allow": true, "type": "c", "major": 240, "minor": 0, "access": "rw"})
    );
    assert_eq!(
        c["mounts"][1],
        json!({"destination": "/usr/lib/fpga", "source": "/opt/fpga/lib", "type": "bind",
               "options": ["ro", "nosuid", "nodev", "bind"]})
    );
    assert_eq!(c["process"]["user"]["additionalGids"], json!([44]));
    assert!(c["hooks"].is_null());
}

#[test]
fn all_names_every_device_of_the_kind_and_spec_edits_go_in_once() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "fpga.yaml", YAML);
    let r = Registry::load(&[d.path().to_path_buf()]);
    let mut c = config();
    inject(
        &mut c,
        &r,
        &["example.com/fpga=all", "example.com/fpga=card1"],
    )
    .unwrap();
    let paths: Vec<&str> = c["linux"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/dev/fpga0", "/dev/fpga1"]);
    assert_eq!(c["mounts"].as_array().unwrap().len(), 2);
    assert_eq!(
        c["hooks"]["createContainer"],
        json!([{"path": "/usr/bin/fpga-hook", "args": ["fpga-hook", "setup"]}])
    );
    // The default permissions are all of rwm.
    assert_eq!(c["linux"]["resources"]["devices"][2]["access"], "rwm");
}

#[test]
fn a_later_directory_overrides_and_one_directory_may_not_define_a_device_twice() {
    let d = tempfile::tempdir().unwrap();
    let (etc, run) = (d.path().join("etc"), d.path().join("run"));
    let spec = |minor: u32| {
        format!(
            r#"{{"cdiVersion": "0.5.0", "kind": "example.com/x", "devices": [{{"name": "a",
            "containerEdits": {{"deviceNodes": [{{"path": "/dev/x", "type": "c", "major": 1, "minor": {minor}}}]}}}}]}}"#
        )
    };
    write(&etc, "x.json", &spec(1));
    write(&run, "x.json", &spec(2));
    let r = Registry::load(&[etc.clone(), run.clone()]);
    let mut c = config();
    inject(&mut c, &r, &["example.com/x=a"]).unwrap();
    assert_eq!(c["linux"]["devices"][0]["minor"], 2);

    write(&run, "y.json", &spec(3));
    let r = Registry::load(&[etc, run.clone()]);
    let e = inject(&mut config(), &r, &["example.com/x=a"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "CDI device example.com/x=a is defined in both {} and {}",
            run.join("x.json").display(),
            run.join("y.json").display()
        )
    );
}

#[test]
fn bad_specs_name_their_file_and_field() {
    let d = tempfile::tempdir().unwrap();
    let cases = [
        ("version.json", r#"{"cdiVersion": "1.0.0", "kind": "a.com/b", "devices": []}"#, "cdiVersion: \"1.0.0\" is not a version"),
        ("kind.json", r#"{"cdiVersion": "0.6.0", "kind": "b", "devices": []}"#, "kind: \"b\" is not VENDOR/CLASS"),
        ("field.yaml", "cdiVersion: 0.6.0\nkind: a.com/b\ndevices:\n  - name: x\n    containerEdits:\n      deviceNodes:\n        - path: /dev/x\n          mjor: 1\n", "devices[0].containerEdits.deviceNodes[0]: unknown field `mjor`"),
        ("path.yaml", "cdiVersion: 0.6.0\nkind: a.com/b\ndevices:\n  - name: x\n    containerEdits:\n      deviceNodes: [{path: dev/x}]\n", "devices[0].containerEdits.deviceNodes[0].path: \"dev/x\" is not absolute"),
        ("hook.json", r#"{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {"hooks": [{"hookName": "later", "path": "/bin/h"}]}}]}"#, "devices[0].containerEdits.hooks[0].hookName: \"later\" is none of"),
        ("env.json", r#"{"cdiVersion": "0.6.0", "kind": "a.com/b", "containerEdits": {"env": ["NOVALUE"]}, "devices": []}"#, "containerEdits.env[0]: \"NOVALUE\" is not NAME=VALUE"),
        ("twice.json", r#"{"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": [{"name": "x", "containerEdits": {}}, {"name": "x", "containerEdits": {}}]}"#, "devices[1].name: \"x\" twice"),
        ("syntax.json", r#"{"cdiVersion": "0.6.0","#, "(document)"),
    ];
    for (file, text, want) in cases {
        write(d.path(), file, text);
        let e = Spec::load(&d.path().join(file)).unwrap_err().to_string();
        let prefix = format!("{}: ", d.path().join(file).display());
        assert!(e.starts_with(&prefix), "{file}: {e}");
        assert!(e.contains(want), "{file}: {e}");
    }
    // A device that is not found names the files that did not load.
    let r = Registry::load(&[d.path().to_path_buf()]);
    let e = inject(&mut config(), &r, &["a.com/b=x"])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("unknown CDI device a.com/b=x (no spec in "),
        "{e}"
    );
    assert!(e.contains("not loaded: ") && e.contains("hook.json"), "{e}");
}

#[test]
fn missing_node_details_come_from_the_host() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "null.yaml",
        "cdiVersion: 0.6.0\nkind: a.com/b\ndevices:\n  - name: null\n    containerEdits:\n      deviceNodes: [{path: /dev/stand-in, hostPath: /dev/null}]\n  - name: gone\n    containerEdits:\n      deviceNodes: [{path: /dev/nothing-here}]\n",
    );
    let r = Registry::load(&[d.path().to_path_buf()]);
    let mut c = config();
    inject(&mut c, &r, &["a.com/b=null"]).unwrap();
    assert_eq!(
        c["linux"]["devices"][0],
        json!({"path": "/dev/stand-in", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666})
    );
    let e = inject(&mut config(), &r, &["a.com/b=gone"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("device node /dev/nothing-here: No such file"),
        "{e}"
    );
}

#[test]
fn in_a_user_namespace_nodes_are_bound_from_the_host() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "null.yaml",
        "cdiVersion: 0.6.0\nkind: a.com/b\ndevices:\n  - name: n\n    containerEdits:\n      deviceNodes: [{path: /dev/stand-in, hostPath: /dev/null}]\n",
    );
    let r = Registry::load(&[d.path().to_path_buf()]);
    let mut c = config();
    c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "user"}]);
    inject(&mut c, &r, &["a.com/b=n"]).unwrap();
    assert_eq!(c["linux"]["devices"], json!([]));
    assert_eq!(
        c["mounts"][1],
        json!({"destination": "/dev/stand-in", "source": "/dev/null", "type": "bind",
               "options": ["bind", "nosuid", "noexec"]})
    );
}

#[test]
fn annotations_ask_for_devices_in_key_order() {
    let a = json!({"cdi.k8s.io/b": "x.com/y=1, x.com/y=2", "cdi.k8s.io/a": "x.com/y=0",
                   "other": "x.com/y=9"});
    assert_eq!(
        annotated_devices(&a),
        ["x.com/y=0", "x.com/y=1", "x.com/y=2"]
    );
    assert!(annotated_devices(&json!(null)).is_empty());
}

/// The fake driver of tests/nvidia/fake-driver.sh, under a new directory.
fn fake_driver() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/nvidia/fake-driver.sh"
    );
    let st = std::process::Command::new(script)
        .arg(d.path())
        .status()
        .unwrap();
    assert!(st.success(), "{script} (needs root)");
    d
}

#[test]
fn nvidia_discovery_finds_the_fake_drivers_gpus_nodes_and_files() {
    let d = fake_driver();
    let driver = nvidia::Driver::discover(d.path()).unwrap();
    assert_eq!(driver.version, "550.54.14");
    let gpus: Vec<(u32, &str)> = driver
        .gpus
        .iter()
        .map(|g| (g.minor, g.uuid.as_str()))
        .collect();
    assert_eq!(
        gpus,
        [
            (0, "GPU-11111111-1111-1111-1111-111111111111"),
            (1, "GPU-22222222-2222-2222-2222-222222222222")
        ]
    );
    let spec = driver.spec().unwrap();
    spec.check().unwrap();
    let names: Vec<&str> = spec.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "0",
            "GPU-11111111-1111-1111-1111-111111111111",
            "1",
            "GPU-22222222-2222-2222-2222-222222222222",
            "all"
        ]
    );
    let root = d.path().display().to_string();
    assert_eq!(
        spec.devices[2].container_edits.device_nodes[0],
        spec::DeviceNode {
            path: "/dev/nvidia1".into(),
            host_path: Some(format!("{root}/dev/nvidia1")),
            ..Default::default()
        }
    );
    let common = &spec.container_edits;
    let nodes: Vec<&str> = common
        .device_nodes
        .iter()
        .map(|n| n.path.as_str())
        .collect();
    assert_eq!(nodes, ["/dev/nvidiactl", "/dev/nvidia-uvm"]);
    let mut mounts: Vec<(String, String)> = common
        .mounts
        .iter()
        .map(|m| (m.container_path.clone(), m.host_path.replace(&root, "ROOT")))
        .collect();
    mounts.sort();
    let lib = |c: &str, h: &str| {
        (
            format!("/usr/lib/nvidia/{c}"),
            format!("ROOT/usr/lib/nvidia/{h}"),
        )
    };
    let mut want = vec![
        lib("libcuda.so.1", "libcuda.so.550.54.14"),
        lib("libcuda.so.550.54.14", "libcuda.so.550.54.14"),
        lib("libnvidia-ml.so.1", "libnvidia-ml.so.550.54.14"),
        lib("libnvidia-ml.so.550.54.14", "libnvidia-ml.so.550.54.14"),
        lib(
            "libnvidia-ptxjitcompiler.so.1",
            "libnvidia-ptxjitcompiler.so.550.54.14",
        ),
        lib(
            "libnvidia-ptxjitcompiler.so.550.54.14",
            "libnvidia-ptxjitcompiler.so.550.54.14",
        ),
        (
            "/run/nvidia-persistenced/socket".into(),
            "ROOT/run/nvidia-persistenced/socket".into(),
        ),
        (
            "/usr/bin/nvidia-smi".into(),
            "ROOT/usr/bin/nvidia-smi".into(),
        ),
    ];
    want.sort();
    assert_eq!(mounts, want);
}

#[test]
fn gpus_values_are_read_as_docker_reads_them() {
    let d = fake_driver();
    let driver = nvidia::Driver::discover(d.path()).unwrap();
    let req = |v: &str| nvidia::requested(v, &driver);
    let uuid = "GPU-22222222-2222-2222-2222-222222222222";
    assert_eq!(req("all").unwrap(), ["nvidia.com/gpu=all"]);
    assert_eq!(req("1").unwrap(), ["nvidia.com/gpu=0"]);
    assert_eq!(
        req("count=2,capabilities=compute,utility").unwrap(),
        ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]
    );
    assert_eq!(
        req("\"device=1,0\"").unwrap(),
        ["nvidia.com/gpu=1", "nvidia.com/gpu=0"]
    );
    assert_eq!(
        req(&format!("device={uuid},driver=nvidia")).unwrap(),
        [format!("nvidia.com/gpu={uuid}")]
    );
    assert!(req("3")
        .unwrap_err()
        .contains("3 GPUs asked for, this host has 2"));
    assert!(req("device=2").unwrap_err().contains("no GPU \"2\""));
    assert!(req("driver=amd").unwrap_err().contains("not understood"));
    assert!(req("many").unwrap_err().contains("not all or a count"));
    // No driver at all.
    let empty = tempfile::tempdir().unwrap();
    let e = nvidia::Driver::discover(empty.path())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("no NVIDIA driver: "), "{e}");
}
