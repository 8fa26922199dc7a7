//! What an inspection covers: the optional sections (the job options
//! `include_packages`, `include_storage` … map onto them) and the deep scan.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The report's optional sections (the OS identification is always done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    Packages,
    Services,
    Users,
    Network,
    Security,
    Kernels,
    Storage,
    Databases,
    System,
}

impl Section {
    /// Every optional section.
    pub const ALL: [Section; 9] = [
        Section::Packages,
        Section::Services,
        Section::Users,
        Section::Network,
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
            Section::Network => "network",
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

impl InspectOptions {
    /// The options of a `guestkit.inspect.v1` job: `include_<section>`
    /// flags (a section not mentioned keeps its default, on) and
    /// `deep_scan`. Unknown `include_` names are returned so the caller can
    /// report them.
    pub fn from_job_flags<'a>(
        flags: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> (Self, Vec<String>) {
        let mut options = InspectOptions::default();
        let mut unknown = Vec::new();
        for (name, on) in flags {
            if name == "deep_scan" {
                options.deep_scan = on;
                continue;
            }
            let section = name.strip_prefix("include_").and_then(Section::from_name);
            match section {
                Some(s) if on => {
                    if !options.sections.contains(&s) {
                        options.sections.push(s);
                    }
                }
                Some(s) => options.sections.retain(|x| *x != s),
                None => unknown.push(name.to_string()),
            }
        }
        (options, unknown)
    }
}

/// A flag another thread raises to stop an inspection early (a job's
/// timeout, a cancel request). The engine looks at it between sections:
/// once raised, no further section starts.
#[derive(Debug, Clone, Default)]
pub struct Cancellation(Option<Arc<AtomicBool>>);

impl Cancellation {
    /// A flag that can be raised.
    pub fn new() -> Self {
        Cancellation(Some(Arc::new(AtomicBool::new(false))))
    }

    /// Raises the flag (for every clone).
    pub fn cancel(&self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// Whether the flag was raised.
    pub fn is_cancelled(&self) -> bool {
        self.0.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
    }
}

/// What to inspect.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    pub sections: Vec<Section>,
    /// Walk the whole tree for checks that need it (SUID/SGID files,
    /// world-writable paths); bounded by the limits even when on.
    pub deep_scan: bool,
    /// Raised to stop between sections.
    pub cancel: Cancellation,
}

impl InspectOptions {
    /// Whether `section` is asked for (and the inspection not cancelled).
    pub fn wants(&self, section: Section) -> bool {
        self.sections.contains(&section) && !self.cancel.is_cancelled()
    }
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            sections: Section::ALL.to_vec(),
            deep_scan: false,
            cancel: Cancellation::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_flags_map_onto_sections() {
        let (o, unknown) = InspectOptions::from_job_flags([
            ("include_packages", false),
            ("include_security", true),
            ("include_network", false),
            ("deep_scan", true),
            ("include_nonsense", true),
        ]);
        assert!(!o.wants(Section::Packages));
        assert!(o.wants(Section::Security) && o.wants(Section::Storage));
        assert!(!o.wants(Section::Network));
        assert!(o.deep_scan);
        assert_eq!(unknown, ["include_nonsense"]);
    }

    #[test]
    fn a_cancelled_inspection_wants_no_more_sections() {
        let o = InspectOptions {
            cancel: Cancellation::new(),
            ..InspectOptions::default()
        };
        assert!(o.wants(Section::Packages));
        o.clone().cancel.cancel();
        assert!(!o.wants(Section::Packages));
    }
}
