//! The dynamic loader's cache (`/etc/ld.so.cache`, glibc's "glibc-ld.so.cache1.1" format):
//! where the libraries of a name are, as the loader itself would find them.

/// The format's magic and version, at the start of its header.
const MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
/// magic + version, nlibs, len_strings, flags + 3 padding, extension_offset, 3 unused.
const HEADER: usize = 20 + 4 + 4 + 4 + 4 + 12;
/// flags, key, value, osversion, hwcap.
const ENTRY: usize = 4 + 4 + 4 + 4 + 8;

/// The architecture bits of an entry for this machine's libraries (glibc's
/// `FLAG_X8664_LIB64`, `FLAG_AARCH64_LIB64`); other architectures take any entry.
const ARCH_FLAG: Option<u32> = if cfg!(target_arch = "x86_64") {
    Some(0x0300)
} else if cfg!(target_arch = "aarch64") {
    Some(0x0a00)
} else {
    None
};

/// One library of the cache: its name (`libcuda.so.1`) and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub path: String,
}

/// The entries of a cache file's bytes that are of this machine's architecture; an old or
/// unknown format gives none.
pub fn parse(data: &[u8]) -> Vec<Entry> {
    // A cache in the old-and-new layout has the new header after the old entries.
    let Some(start) = data.windows(MAGIC.len()).position(|w| w == MAGIC) else {
        return Vec::new();
    };
    let cache = &data[start..];
    let u32_at = |at: usize| -> Option<u32> {
        let b = cache.get(at..at + 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let string_at = |at: u32| -> Option<String> {
        let tail = cache.get(at as usize..)?;
        let end = tail.iter().position(|&b| b == 0)?;
        String::from_utf8(tail[..end].to_vec()).ok()
    };
    let Some(count) = u32_at(20) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in 0..count as usize {
        let at = HEADER + i * ENTRY;
        let (Some(flags), Some(key), Some(value)) = (u32_at(at), u32_at(at + 4), u32_at(at + 8))
        else {
            break;
        };
        if ARCH_FLAG.is_some_and(|a| flags & 0xff00 != a) {
            continue;
        }
        if let (Some(name), Some(path)) = (string_at(key), string_at(value)) {
            out.push(Entry { name, path });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_own_cache_names_libc() {
        let Ok(data) = std::fs::read("/etc/ld.so.cache") else {
            return;
        };
        let entries = parse(&data);
        let libc = entries
            .iter()
            .find(|e| e.name == "libc.so.6")
            .expect("libc.so.6 in /etc/ld.so.cache");
        assert!(std::path::Path::new(&libc.path).exists(), "{libc:?}");
        assert!(parse(b"ld.so-1.7.0 and nothing else").is_empty());
        // A truncated cache gives what it holds, no more.
        assert!(parse(&data[..data.len() / 2]).len() <= entries.len());
    }
}
