//! Helpers for tests that drive the real `berth` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod engine;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private berth: its own --root and --config, no credentials from the host.
pub struct Berth {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub config: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Berth {
    pub fn new() -> Berth {
        let dir = tempfile::Builder::new()
            .prefix("berth-test")
            .tempdir()
            .unwrap();
        let root = dir.path().join("root");
        let config = dir.path().join("config");
        fs::create_dir_all(&config).unwrap();
        Berth {
            root,
            config,
            env: Vec::new(),
            dir,
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        c.arg("--root")
            .arg(&self.root)
            .arg("--config")
            .arg(&self.config)
            .args(args);
        c.env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("DOCKER_CONFIG");
        c.env("HOME", self.dir.path());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "berth {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs and requires failure with exactly one line on stderr; returns that line.
    pub fn fail(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(
            o.status.code(),
            Some(1),
            "berth {args:?} should fail: {err}"
        );
        let last = err.trim_end().lines().last().unwrap_or("").to_string();
        assert!(
            last.starts_with("berth: "),
            "berth {args:?}: unexpected stderr {err:?}"
        );
        last
    }

    /// Marks a registry as reachable over plain HTTP.
    pub fn insecure(&self, host: &str) {
        let p = self.config.join("registries.toml");
        let mut text = fs::read_to_string(&p).unwrap_or_default();
        text.push_str(&format!(
            "[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
        ));
        fs::write(p, text).unwrap();
    }

    /// Every path in the store with its size: "the store as it was" means this is equal.
    pub fn store_state(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        let base = self.root.join("image");
        walk(&base, &mut |p, m| {
            out.insert(
                p.strip_prefix(&base).unwrap().display().to_string(),
                if m.is_dir() { 0 } else { m.len() },
            );
        });
        out
    }

    /// After any command: no overlay mounted under the test dir, the store's locks free.
    pub fn assert_host_clean(&self) {
        assert!(
            mounts_under(self.dir.path()).is_empty(),
            "mounts left: {:?}",
            mounts_under(self.dir.path())
        );
        for lock in ["content.lock", "index.lock"] {
            let p = self.root.join("image").join(lock);
            if let Ok(f) = fs::File::open(&p) {
                // SAFETY: valid fd of an open file.
                let r = unsafe {
                    libc::flock(
                        std::os::fd::AsRawFd::as_raw_fd(&f),
                        libc::LOCK_EX | libc::LOCK_NB,
                    )
                };
                assert_eq!(r, 0, "{lock} still held");
            }
        }
        let tmp = self.root.join("image/tmp");
        if tmp.exists() {
            assert_eq!(
                fs::read_dir(&tmp).unwrap().count(),
                0,
                "temporary files left in {}",
                tmp.display()
            );
        }
    }
}

pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&prefix))
        .collect()
}

fn walk(p: &Path, f: &mut dyn FnMut(&Path, &fs::Metadata)) {
    let Ok(m) = fs::symlink_metadata(p) else {
        return;
    };
    f(p, &m);
    if m.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, f);
        }
    }
}

fn xattrs(p: &Path) -> Vec<String> {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: NUL-terminated path and a writable buffer of the given size.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in buf[..n as usize]
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
    {
        let key = String::from_utf8_lossy(name).into_owned();
        if !(key.starts_with("user.") || key == "security.capability") {
            continue;
        }
        let k = CString::new(name).unwrap();
        let mut v = vec![0u8; 4096];
        // SAFETY: as above.
        let len =
            unsafe { libc::lgetxattr(c.as_ptr(), k.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(len.max(0) as usize);
        out.push(format!("{key}={}", String::from_utf8_lossy(&v)));
    }
    out.sort();
    out
}

/// A description of every entry of a tree: type, mode, owner, size, link target, device,
/// xattrs, mtime (not for directories) and hard-link group.
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, String> = BTreeMap::new();
    walk(root, &mut |p, m| {
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            'd'
        } else if ft.is_symlink() {
            'l'
        } else if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else if ft.is_fifo() {
            'p'
        } else {
            'f'
        };
        let mut d = format!("{kind} {:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
        match kind {
            'f' => d.push_str(&format!(" size={} mtime={}", m.len(), m.mtime())),
            'l' => d.push_str(&format!(" -> {}", fs::read_link(p).unwrap().display())),
            'c' | 'b' => d.push_str(&format!(" rdev={}", m.rdev())),
            _ => {}
        }
        if kind == 'f' && m.nlink() > 1 {
            let first = inodes.entry(m.ino()).or_insert_with(|| rel.clone()).clone();
            d.push_str(&format!(" link={first}"));
        }
        let x = xattrs(p);
        if !x.is_empty() {
            d.push_str(&format!(" xattrs={x:?}"));
        }
        out.insert(rel, d);
    });
    out
}

/// Asserts two trees are equal, listing the first differences.
pub fn assert_same_tree(ours: &Path, theirs: &Path) {
    let a = tree(ours);
    let b = tree(theirs);
    let mut diffs = Vec::new();
    for k in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if a.get(k) != b.get(k) {
            diffs.push(format!("{k}: berth {:?} vs umoci {:?}", a.get(k), b.get(k)));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences, first: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(15)]
    );
    assert!(a.len() > 5, "tree {} is nearly empty", ours.display());
}

/// A docker-archive (what `docker save` writes) of one image named `name`, whose layers are
/// the given plain tars, bottom first.
pub fn docker_archive(name: &str, layers: &[Vec<u8>]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| berth_image::Digest::of(l).to_string())
        .collect();
    let config = serde_json::json!({
        "architecture": berth_image::registry::Platform::host().architecture,
        "os": "linux",
        "config": { "Cmd": ["/bin/sh"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let config = serde_json::to_vec(&config).unwrap();
    let names: Vec<String> = (0..layers.len()).map(|i| format!("{i}.tar")).collect();
    let manifest =
        serde_json::json!([{ "Config": "config.json", "RepoTags": [name], "Layers": names }]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, path, data).unwrap();
    };
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    add("config.json", &config);
    for (n, l) in names.iter().zip(layers) {
        add(n, l);
    }
    b.into_inner().unwrap()
}
