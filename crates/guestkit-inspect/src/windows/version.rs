//! Windows versions: libosinfo short ids from the version, build and
//! installation type, as libguestfs derives them.

/// osinfo id (`win7`, `win10`, `win11`, `win2k22` …) of a Windows release.
pub fn osinfo(major: u32, minor: u32, build: Option<u32>, server: bool) -> Option<String> {
    let build = build.unwrap_or(0);
    let id = match (major, minor, server) {
        (5, 0, _) => "win2k",
        (5, 1, _) => "winxp",
        (5, 2, _) => "win2k3",
        (6, 0, false) => "winvista",
        (6, 0, true) => "win2k8",
        (6, 1, false) => "win7",
        (6, 1, true) => "win2k8r2",
        (6, 2, false) => "win8",
        (6, 2, true) => "win2k12",
        (6, 3, false) => "win8.1",
        (6, 3, true) => "win2k12r2",
        (10, 0, false) if build >= 22000 => "win11",
        (10, 0, false) => "win10",
        (10, 0, true) if build >= 26100 => "win2k25",
        (10, 0, true) if build >= 20348 => "win2k22",
        (10, 0, true) if build >= 17763 => "win2k19",
        (10, 0, true) => "win2k16",
        _ => return None,
    };
    Some(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(osinfo(10, 0, Some(20348), true).as_deref(), Some("win2k22"));
        assert_eq!(osinfo(10, 0, Some(22631), false).as_deref(), Some("win11"));
        assert_eq!(osinfo(10, 0, Some(19045), false).as_deref(), Some("win10"));
        assert_eq!(osinfo(6, 1, Some(7601), false).as_deref(), Some("win7"));
        assert_eq!(osinfo(5, 1, None, false).as_deref(), Some("winxp"));
        assert_eq!(osinfo(4, 0, None, false), None);
    }
}
