//! What an inspection covers: the optional sections (the job options
//! `include_packages`, `include_storage` … map onto them) and the deep scan.

/// The report's optional sections (the OS identification is always done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    Packages,
    Services,
    Users,
    Security,
    Kernels,
    Storage,
    Databases,
    System,
}

impl Section {
    /// Every optional section.
    pub const ALL: [Section; 8] = [
        Section::Packages,
        Section::Services,
        Section::Users,
        Section::Security,
        Section::Kernels,
        Section::Storage,
        Section::Databases,
        Section::System,
    ];

    /// The section's name on the command line and in job options
    /// (`include_<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Section::Packages => "packages",
            Section::Services => "services",
            Section::Users => "users",
            Section::Security => "security",
            Section::Kernels => "kernels",
            Section::Storage => "storage",
            Section::Databases => "databases",
            Section::System => "system",
        }
    }

    /// The section called `name`.
    pub fn from_name(name: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// What to inspect.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    pub sections: Vec<Section>,
    /// Walk the whole tree for checks that need it (SUID/SGID files,
    /// world-writable paths); bounded by the limits even when on.
    pub deep_scan: bool,
}

impl InspectOptions {
    /// Whether `section` is asked for.
    pub fn wants(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            sections: Section::ALL.to_vec(),
            deep_scan: false,
        }
    }
}
