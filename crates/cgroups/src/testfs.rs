//! A fake cgroupfs in a temporary directory for unit tests: mount points are plain
//! directories, cgroup files are plain files that keep a log of every write.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::layout::Layout;
use crate::manager::Manager;
use crate::path::{CgroupsPath, OwnCgroups};

pub struct FakeFs {
    dir: TempDir,
}

impl FakeFs {
    pub fn new() -> FakeFs {
        FakeFs {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A layout with v1 hierarchies named like `"cpu,cpuacct"` under the root, plus a
    /// cgroup2 mount at `unified/` when `hybrid`; parsed from mountinfo text.
    pub fn v1(&self, hierarchies: &[&str], hybrid: bool) -> Layout {
        let mut text = String::new();
        for (i, h) in hierarchies.iter().enumerate() {
            let mp = self.root().join(h);
            std::fs::create_dir_all(&mp).unwrap();
            text += &format!("{i} 1 0:{i} / {} rw - cgroup cgroup rw,{h}\n", mp.display());
        }
        if hybrid {
            let mp = self.root().join("unified");
            std::fs::create_dir_all(&mp).unwrap();
            text += &format!("99 1 0:99 / {} rw - cgroup2 cgroup2 rw\n", mp.display());
        }
        Layout::from_mountinfo(&text).unwrap()
    }

    pub fn v2(&self) -> Layout {
        let text = format!(
            "1 0 0:1 / {} rw - cgroup2 cgroup2 rw\n",
            self.root().display()
        );
        Layout::from_mountinfo(&text).unwrap()
    }

    /// The manager for absolute path `path` on `layout`.
    pub fn manager(&self, layout: &Layout, path: &str) -> Manager {
        let p = CgroupsPath::from_spec(Some(Path::new(path)), "x").unwrap();
        Manager::new(layout, &p, &OwnCgroups::default()).unwrap()
    }

    /// Creates `dir` (relative to the root) with `files` holding their initial contents.
    pub fn files(&self, dir: &str, files: &[(&str, &str)]) -> PathBuf {
        let d = self.root().join(dir);
        std::fs::create_dir_all(&d).unwrap();
        for (name, content) in files {
            std::fs::write(d.join(name), content).unwrap();
        }
        d
    }

    /// What was written to `file` (relative to the root), one write per line.
    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.root().join(file)).unwrap()
    }
}
