//! What the systemd tests of berth-runtime (tests/systemd.rs) and of berth
//! (bin/berth/tests/systemd.rs) share: whether systemd runs here, and a unit's properties.

use std::path::Path;
use std::process::Command;

/// Whether systemd is PID 1 here; where it is not, the test says it is skipped and returns,
/// unless BERTH_TEST_SYSTEMD=1 demands systemd (stage 42-systemd-vm sets it).
pub fn systemd_here() -> bool {
    let booted = Path::new("/run/systemd/system").is_dir();
    if std::env::var("BERTH_TEST_SYSTEMD").as_deref() == Ok("1") {
        assert!(booted, "BERTH_TEST_SYSTEMD=1 but systemd is not PID 1");
    }
    if !booted {
        eprintln!("skipped: systemd is not PID 1 here (stage 42-systemd-vm runs this)");
    }
    booted
}

/// `systemctl show UNIT -p NAME --value`.
pub fn show(unit: &str, property: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", unit, "-p", property, "--value"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
