//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`: written into the container's
//! directory and bind-mounted over the image's, as docker does.

use crate::options::Network;
use crate::Error;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The files' names (in the container's directory and in its /etc) and contents, or
/// another container's directory whose files it shares.
#[derive(Debug)]
pub struct EtcFiles {
    files: Vec<(&'static str, String)>,
    shared: Option<PathBuf>,
}

/// `/etc/hosts`: localhost, the container's own addresses (or 127.0.1.1 without any) under
/// its host name, then `--add-host` lines.
pub fn hosts_text(hostname: &str, addrs: &[IpAddr], extra: &[(String, IpAddr)]) -> String {
    let mut t = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if addrs.is_empty() {
        t.push_str(&format!("127.0.1.1\t{hostname}\n"));
    }
    for a in addrs {
        t.push_str(&format!("{a}\t{hostname}\n"));
    }
    for (name, ip) in extra {
        t.push_str(&format!("{ip}\t{name}\n"));
    }
    t
}

impl EtcFiles {
    /// The container's own names, or with the host's network, the host's files. On a
    /// bridge network, `hosts` and `resolv.conf` get their addresses at each start.
    pub fn new(hostname: &str, network: Network) -> EtcFiles {
        let mut files = vec![("hostname", format!("{hostname}\n"))];
        match network {
            Network::None | Network::Container => {
                files.push(("hosts", hosts_text(hostname, &[], &[])))
            }
            Network::Bridge | Network::Pasta | Network::Slirp4netns => {
                files.push(("hosts", hosts_text(hostname, &[], &[])));
                files.push(("resolv.conf", String::new()));
            }
            Network::Host => {
                for name in ["hosts", "resolv.conf"] {
                    if let Ok(text) = std::fs::read_to_string(Path::new("/etc").join(name)) {
                        files.push((name, text));
                    }
                }
            }
        }
        EtcFiles {
            files,
            shared: None,
        }
    }

    /// Another container's files, in its directory `dir` (`--network container:NAME`).
    pub fn shared(dir: &Path) -> EtcFiles {
        let files = ["hostname", "hosts", "resolv.conf"]
            .into_iter()
            .filter(|n| dir.join(n).exists())
            .map(|n| (n, String::new()))
            .collect();
        EtcFiles {
            files,
            shared: Some(dir.to_path_buf()),
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.files.iter().map(|(n, _)| *n)
    }

    /// Where file `name` is mounted from, for a container whose directory is `dir`.
    pub fn source(&self, dir: &Path, name: &str) -> PathBuf {
        self.shared.as_deref().unwrap_or(dir).join(name)
    }

    /// Writes the files into `dir` (shared files are the other container's to write).
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        if self.shared.is_some() {
            return Ok(());
        }
        for (name, text) in &self.files {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(Error::path(&p))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_network_gets_localhost_and_its_name() {
        let f = EtcFiles::new("c0ffee", Network::None);
        assert_eq!(f.names().collect::<Vec<_>>(), ["hostname", "hosts"]);
        assert_eq!(f.files[0].1, "c0ffee\n");
        assert!(
            f.files[1].1.contains("127.0.0.1\tlocalhost\n") && f.files[1].1.contains("\tc0ffee\n")
        );
        let tmp = tempfile::tempdir().unwrap();
        f.write(tmp.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("hostname")).unwrap(),
            "c0ffee\n"
        );
    }
}
