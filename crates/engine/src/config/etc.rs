//! `/etc/hostname`, `/etc/hosts` and (with the host's network) `/etc/resolv.conf`: written
//! into the container's directory and bind-mounted over the image's, as docker does.

use crate::options::Network;
use crate::Error;
use std::path::Path;

/// The files' names (in the container's directory and in its /etc) and contents.
#[derive(Debug)]
pub struct EtcFiles(Vec<(&'static str, String)>);

impl EtcFiles {
    /// The container's own names, or with the host's network, the host's files.
    pub fn new(hostname: &str, network: Network) -> EtcFiles {
        let mut out = vec![("hostname", format!("{hostname}\n"))];
        match network {
            Network::None => out.push((
                "hosts",
                format!(
                    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
                     127.0.1.1\t{hostname}\n"
                ),
            )),
            Network::Host => {
                for name in ["hosts", "resolv.conf"] {
                    if let Ok(text) = std::fs::read_to_string(Path::new("/etc").join(name)) {
                        out.push((name, text));
                    }
                }
            }
        }
        EtcFiles(out)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(n, _)| *n)
    }

    /// Writes the files into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        for (name, text) in &self.0 {
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
        assert_eq!(f.0[0].1, "c0ffee\n");
        assert!(f.0[1].1.contains("127.0.0.1\tlocalhost\n") && f.0[1].1.contains("\tc0ffee\n"));
        let tmp = tempfile::tempdir().unwrap();
        f.write(tmp.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("hostname")).unwrap(),
            "c0ffee\n"
        );
    }
}
