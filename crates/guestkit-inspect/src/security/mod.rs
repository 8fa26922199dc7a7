//! Security posture: mandatory access control, firewalls, audit, and a
//! bounded scan for setuid/setgid and world-writable files.

pub mod audit;
pub mod filescan;
pub mod firewall;
pub mod mac;
