//! The partition-table model shared by the MBR and GPT readers.

use serde::Serialize;

/// Partitioning scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Mbr,
    Gpt,
}

/// Role of a partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionKind {
    /// MBR primary partition (1-4).
    Primary,
    /// MBR extended partition: a container of logical partitions.
    Extended,
    /// MBR logical partition (5 and up), inside the extended partition.
    Logical,
    /// GPT entry.
    Gpt,
}

/// One partition, in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// Linux numbering: MBR primaries 1-4, logicals from 5; GPT entry index + 1.
    pub number: u32,
    pub start: u64,
    pub size: u64,
    /// MBR type byte as `0x83`, or the GPT type GUID in upper case.
    pub type_id: String,
    /// A readable name of the type, when known.
    pub type_name: Option<&'static str>,
    /// GPT partition name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// GPT unique partition GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    pub bootable: bool,
    pub kind: PartitionKind,
}

/// A partition table read from a device.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionTable {
    pub scheme: Scheme,
    /// MBR disk signature as 8 hex digits, or the GPT disk GUID.
    pub disk_id: String,
    pub sector_size: u64,
    pub partitions: Vec<Partition>,
    /// Problems that did not stop the read (a backup GPT header used, an entry
    /// past the end of the disk skipped, …).
    pub warnings: Vec<String>,
}
