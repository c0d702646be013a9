//! `resolv.conf`: the host's, read; a container's, written. A name server on the host's
//! loopback (systemd-resolved's 127.0.0.53, a local dnsmasq) means nothing inside a
//! container's namespace: such servers are left out, and reached through berth's DNS
//! server on the network's gateway instead.

use std::net::IpAddr;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolv {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl Resolv {
    /// Reads resolv.conf text; lines it does not know are skipped.
    pub fn parse(text: &str) -> Resolv {
        let mut r = Resolv::default();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    // A scoped IPv6 address (fe80::1%eth0) keeps its scope out.
                    if let Some(ip) = words
                        .next()
                        .and_then(|w| w.split('%').next())
                        .and_then(|w| w.parse().ok())
                    {
                        r.nameservers.push(ip);
                    }
                }
                // The last search (or domain) line wins, as in glibc.
                Some("search") | Some("domain") => r.search = words.map(String::from).collect(),
                Some("options") => r.options.extend(words.map(String::from)),
                _ => {}
            }
        }
        r
    }

    /// The name servers a container can reach itself: those off the host's loopback.
    pub fn reachable(&self) -> Vec<IpAddr> {
        self.nameservers
            .iter()
            .copied()
            .filter(|ip| !ip.is_loopback())
            .collect()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for ns in &self.nameservers {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.search.is_empty() {
            out.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_what_glibc_reads() {
        let r = Resolv::parse(
            "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2 # lan\n\
             nameserver fe80::1%eth0\ndomain a.example\nsearch b.example c.example\n\
             options edns0 trust-ad\noptions ndots:2\nbogus line\n",
        );
        assert_eq!(r.nameservers.len(), 3);
        assert_eq!(
            r.reachable(),
            [
                "10.0.0.2".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
        assert_eq!(r.search, ["b.example", "c.example"]);
        assert_eq!(r.options, ["edns0", "trust-ad", "ndots:2"]);
        assert_eq!(
            Resolv {
                nameservers: vec!["10.0.0.2".parse().unwrap()],
                ..r
            }
            .render(),
            "nameserver 10.0.0.2\nsearch b.example c.example\noptions edns0 trust-ad ndots:2\n"
        );
    }

    proptest! {
        #[test]
        fn any_text_parses(s in "\\PC{0,200}") {
            let r = Resolv::parse(&s);
            prop_assert_eq!(Resolv::parse(&r.render()), r);
        }
    }
}
