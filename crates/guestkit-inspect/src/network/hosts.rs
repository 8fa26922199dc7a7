//! `/etc/hosts`: an address and its names per line, `#` comments.

use super::addr::is_ip;
use super::ini::clip;
use super::model::HostsEntry;

/// The hosts file.
pub const HOSTS_PATH: &str = "/etc/hosts";

/// Parses hosts text into entries with their lines; a line whose first
/// word is not an address, or that has no name, gives a warning.
pub fn parse(text: &str) -> (Vec<HostsEntry>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i.saturating_add(1);
        let content = line.split_once('#').map_or(line, |(c, _)| c);
        let mut words = content.split_whitespace();
        let Some(address) = words.next() else {
            continue;
        };
        let names: Vec<String> = words.map(str::to_string).collect();
        if !is_ip(address) {
            warnings.push(format!(
                "line {line_no}: {} is not an IP address",
                clip(address)
            ));
            continue;
        }
        if names.is_empty() {
            warnings.push(format!("line {line_no}: address {address} without a name"));
            continue;
        }
        out.push(HostsEntry {
            address: address.to_string(),
            names,
            line: line_no,
        });
    }
    (out, warnings)
}

/// The FQDN `hostname -f` would give offline (glibc's files lookup): the
/// first name of the first line, in file order, listing `hostname` as
/// its canonical name or an alias, when that name has a dot; with the
/// line number.
pub fn fqdn_of(entries: &[HostsEntry], hostname: &str) -> Option<(String, usize)> {
    let short = hostname.split('.').next().unwrap_or(hostname);
    entries
        .iter()
        .find(|e| e.names.iter().any(|n| n == hostname || n == short))
        .and_then(|e| {
            let canon = e.names.first()?;
            canon.contains('.').then(|| (canon.clone(), e.line))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_fqdn() {
        let (e, w) = parse(
            "127.0.0.1\tlocalhost\n127.0.1.1 web01.example.net web01 # debian style\n\n192.0.2.10 web01.example.org web01\nnot-an-ip host\n::1 localhost ip6-localhost\n10.0.0.1\n",
        );
        assert_eq!(e.len(), 4);
        assert_eq!(e[1].names, ["web01.example.net", "web01"]);
        assert_eq!(e[1].line, 2);
        assert_eq!(
            w,
            [
                "line 5: not-an-ip is not an IP address",
                "line 7: address 10.0.0.1 without a name"
            ]
        );
        // File order decides, as glibc's lookup does.
        assert_eq!(
            fqdn_of(&e, "web01"),
            Some(("web01.example.net".to_string(), 2))
        );
        assert_eq!(
            fqdn_of(&e[2..], "web01"),
            Some(("web01.example.org".to_string(), 4))
        );
        assert_eq!(fqdn_of(&e, "other"), None);
    }
}
