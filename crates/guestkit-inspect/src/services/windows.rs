//! Windows services and drivers, from the SYSTEM hive's
//! `ControlSetNNN\Services` key: one subkey per service or driver, with
//! its `Type`, `Start`, `ImagePath`, `DisplayName` and `ObjectName`
//! (the account it runs as).

use guestkit_regf::{Hive, Key, RegValue};

/// Most service subkeys read.
const MAX_SERVICES: usize = 100_000;

/// One subkey of `Services`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WindowsService {
    /// The subkey name (`Dhcp`, `Tcpip`).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Often an `@%SystemRoot%\...dll,-100` resource reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// As stored (`%SystemRoot%\System32\svchost.exe -k ...`, not expanded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_path: Option<String>,
    /// `Type` (`SERVICE_KERNEL_DRIVER` 1, `SERVICE_FILE_SYSTEM_DRIVER` 2,
    /// `SERVICE_WIN32_OWN_PROCESS` 0x10, `SERVICE_WIN32_SHARE_PROCESS`
    /// 0x20, `SERVICE_INTERACTIVE_PROCESS` 0x100, user services 0x50/0x60…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type: Option<u32>,
    /// The `Type` bits by name (`kernel-driver`, `own-process`…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub type_names: Vec<String>,
    /// `Start`: 0 boot, 1 system, 2 automatic, 3 manual, 4 disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<u32>,
    /// `boot`, `system`, `automatic`, `automatic-delayed`
    /// (`DelayedAutostart`=1), `manual`, `disabled`, `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_mode: Option<String>,
    /// `ObjectName`: the account of a service (`LocalSystem`,
    /// `NT AUTHORITY\LocalService`), the driver object of a driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    /// Load-order `Group`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Whether the subkey has a `Type` value: subkeys without one hold only
    /// parameters (event-log sources and such) and are not services.
    pub is_service: bool,
}

/// The names of the `Type` bits.
pub fn type_names(t: u32) -> Vec<String> {
    const BITS: [(u32, &str); 8] = [
        (0x1, "kernel-driver"),
        (0x2, "file-system-driver"),
        (0x4, "adapter"),
        (0x8, "recognizer-driver"),
        (0x10, "own-process"),
        (0x20, "share-process"),
        (0x40, "user-service"),
        (0x100, "interactive-process"),
    ];
    let mut out: Vec<String> = BITS
        .iter()
        .filter(|(bit, _)| t & bit != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    if t & 0x80 != 0 {
        out.push("user-service-instance".into());
    }
    out
}

/// The name of a `Start` value.
pub fn start_mode(start: u32, delayed: bool) -> &'static str {
    match start {
        0 => "boot",
        1 => "system",
        2 if delayed => "automatic-delayed",
        2 => "automatic",
        3 => "manual",
        4 => "disabled",
        _ => "unknown",
    }
}

fn value(key: &Key, name: &str, warnings: &mut Vec<String>) -> Option<RegValue> {
    match key
        .value(name)
        .and_then(|v| v.map(|v| v.data()).transpose())
    {
        Ok(v) => v,
        Err(e) => {
            warnings.push(format!("Services\\{}\\{name}: {e}", key.name()));
            None
        }
    }
}

fn string(key: &Key, name: &str, warnings: &mut Vec<String>) -> Option<String> {
    value(key, name, warnings)
        .and_then(|v| v.as_string().map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
}

fn number(key: &Key, name: &str, warnings: &mut Vec<String>) -> Option<u32> {
    value(key, name, warnings).and_then(|v| v.as_u32())
}

/// Every subkey of `<control_set>\Services` (e.g. `ControlSet001`), as a
/// service entry, in stored order; a subkey that cannot be read, or a
/// missing `Services` key, gives a warning.
pub fn windows_services(hive: &Hive<'_>, control_set: &str) -> (Vec<WindowsService>, Vec<String>) {
    let mut warnings = Vec::new();
    let path = format!("{control_set}\\Services");
    let services = match hive.open(&path) {
        Ok(Some(k)) => k,
        Ok(None) => {
            warnings.push(format!("{path}: no such key"));
            return (Vec::new(), warnings);
        }
        Err(e) => {
            warnings.push(format!("{path}: {e}"));
            return (Vec::new(), warnings);
        }
    };
    let mut out = Vec::new();
    for sub in services.subkeys() {
        if out.len() >= MAX_SERVICES {
            warnings.push(format!(
                "{path}: more than {MAX_SERVICES} subkeys, the rest not read"
            ));
            break;
        }
        let key = match sub {
            Ok(k) => k,
            Err(e) => {
                warnings.push(format!("{path}: {e}"));
                continue;
            }
        };
        let w = &mut warnings;
        let service_type = number(&key, "Type", w);
        let start = number(&key, "Start", w);
        let delayed = number(&key, "DelayedAutostart", w) == Some(1);
        out.push(WindowsService {
            name: key.name(),
            display_name: string(&key, "DisplayName", w),
            description: string(&key, "Description", w),
            image_path: string(&key, "ImagePath", w),
            service_type,
            type_names: service_type.map(type_names).unwrap_or_default(),
            start,
            start_mode: start.map(|s| start_mode(s, delayed).to_string()),
            object_name: string(&key, "ObjectName", w),
            group: string(&key, "Group", w),
            is_service: service_type.is_some(),
        });
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(type_names(0x20), vec!["share-process"]);
        assert_eq!(
            type_names(0x110),
            vec!["own-process", "interactive-process"]
        );
        assert_eq!(
            type_names(0xe0),
            vec!["share-process", "user-service", "user-service-instance"]
        );
        assert_eq!(start_mode(2, true), "automatic-delayed");
        assert_eq!(start_mode(4, true), "disabled");
        assert_eq!(start_mode(9, false), "unknown");
    }
}
