//! `guestkit.inspect.v1`: inspect a disk image.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check::Problems;
use crate::checksum::Checksum;
use crate::envelope::Extra;
use crate::image::ImageSpec;
use crate::output::OutputSpec;
use crate::path;

/// Data of a `guestkit.inspect.v1` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InspectPayload {
    /// The image to inspect.
    pub image: ImageSpec,
    /// Which report sections to produce (every section when absent).
    #[serde(default)]
    pub options: InspectOptions,
    /// Where to write the report, besides the job result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSpec>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `options` of an inspection: one flag per report section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InspectOptions {
    /// Installed packages.
    #[serde(default = "yes")]
    pub include_packages: bool,
    /// Services and the default target.
    #[serde(default = "yes")]
    pub include_services: bool,
    /// Users, groups and password states.
    #[serde(default = "yes")]
    pub include_users: bool,
    /// Network configuration.
    #[serde(default = "yes")]
    pub include_network: bool,
    /// Security settings (sshd, sudo, MAC, firewall, audit).
    #[serde(default = "yes")]
    pub include_security: bool,
    /// Volumes, LVM, md, fstab, crypttab, swap.
    #[serde(default = "yes")]
    pub include_storage: bool,
    /// Database servers.
    #[serde(default = "yes")]
    pub include_databases: bool,
    /// Installed kernels and the boot loader's default entry.
    #[serde(default = "yes")]
    pub include_kernels: bool,
    /// Timezone, locale, machine id, cloud-init, guest agents.
    #[serde(default = "yes")]
    pub include_system: bool,
    /// Walk the whole filesystem (setuid and world-writable files); slow.
    #[serde(default)]
    pub deep_scan: bool,
    /// Unknown members, kept: an `include_*` flag of a newer protocol lands
    /// here, see [`InspectOptions::unknown_include_flags`].
    #[serde(flatten)]
    pub extra: Extra,
}

fn yes() -> bool {
    true
}

/// The `include_*` flags this crate knows, with the report section each
/// turns on.
pub const SECTION_FLAGS: [(&str, &str); 9] = [
    ("include_packages", "packages"),
    ("include_services", "services"),
    ("include_users", "users"),
    ("include_network", "network"),
    ("include_security", "security"),
    ("include_storage", "storage"),
    ("include_databases", "databases"),
    ("include_kernels", "kernels"),
    ("include_system", "system"),
];

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            include_packages: true,
            include_services: true,
            include_users: true,
            include_network: true,
            include_security: true,
            include_storage: true,
            include_databases: true,
            include_kernels: true,
            include_system: true,
            deep_scan: false,
            extra: Extra::new(),
        }
    }
}

impl InspectOptions {
    /// Every section off (then turn on the ones wanted).
    pub fn none() -> Self {
        InspectOptions {
            include_packages: false,
            include_services: false,
            include_users: false,
            include_network: false,
            include_security: false,
            include_storage: false,
            include_databases: false,
            include_kernels: false,
            include_system: false,
            deep_scan: false,
            extra: Extra::new(),
        }
    }

    fn flags(&self) -> [bool; 9] {
        [
            self.include_packages,
            self.include_services,
            self.include_users,
            self.include_network,
            self.include_security,
            self.include_storage,
            self.include_databases,
            self.include_kernels,
            self.include_system,
        ]
    }

    /// Names of the report sections asked for (`packages`, `services`, …),
    /// in a fixed order.
    pub fn sections(&self) -> Vec<&'static str> {
        SECTION_FLAGS
            .iter()
            .zip(self.flags())
            .filter(|(_, on)| *on)
            .map(|((_, section), _)| *section)
            .collect()
    }

    /// `include_*` members this crate does not know (a worker reports them
    /// as ignored).
    pub fn unknown_include_flags(&self) -> Vec<&str> {
        self.extra
            .keys()
            .map(String::as_str)
            .filter(|k| k.starts_with("include_"))
            .collect()
    }
}

impl InspectPayload {
    /// Inspect the image at `path` with every section.
    pub fn new(path: impl Into<String>) -> Self {
        InspectPayload {
            image: ImageSpec::new(path),
            options: InspectOptions::default(),
            output: None,
            extra: Extra::new(),
        }
    }

    /// The same with the image's expected checksum.
    pub fn with_checksum(mut self, checksum: Checksum) -> Self {
        self.image.checksum = Some(checksum);
        self
    }

    /// The same with these options.
    pub fn with_options(mut self, options: InspectOptions) -> Self {
        self.options = options;
        self
    }

    /// The same with deep scan on or off.
    pub fn with_deep_scan(mut self, deep_scan: bool) -> Self {
        self.options.deep_scan = deep_scan;
        self
    }

    /// The same with an output.
    pub fn with_output(mut self, output: OutputSpec) -> Self {
        self.output = Some(output);
        self
    }

    /// Reports every problem of the payload data at `at`.
    pub(crate) fn check(data: &Value, at: &str, problems: &mut Problems) {
        let Some(data) = problems.object(data, at) else {
            return;
        };
        ImageSpec::check(data, at, problems);
        if let Some(value) = data.get("options") {
            let here = path::child(at, "options");
            if let Some(options) = problems.object(value, &here) {
                for (flag, _) in SECTION_FLAGS {
                    problems.field::<bool>(options, &here, flag);
                }
                problems.field::<bool>(options, &here, "deep_scan");
            }
        }
        OutputSpec::check(data, at, problems);
    }
}
