//! Database servers installed in the guest — PostgreSQL, MySQL/MariaDB,
//! MongoDB, Redis: version (from the package database), configuration
//! files, data directories and, for PostgreSQL, its clusters.

use serde::Serialize;

use crate::files::GuestFiles;
use crate::report::PackageList;

const SECTION: &str = "databases";

/// One database server.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DatabaseServer {
    /// `postgresql`, `mysql`, `mariadb`, `mongodb`, `redis`.
    pub kind: String,
    /// Server package and its version, when the package database lists it.
    pub package: Option<String>,
    pub version: Option<String>,
    pub config_files: Vec<String>,
    /// Data directories and what they hold.
    pub data_directories: Vec<DataDirectory>,
    /// Listening port configured (default when not set).
    pub port: Option<u16>,
}

/// A data directory of a server.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DataDirectory {
    pub path: String,
    /// PostgreSQL cluster name (Debian's `VERSION/NAME` layout).
    pub cluster: Option<String>,
    /// Format version the directory records (`PG_VERSION`,
    /// `mysql_upgrade_info`).
    pub version: Option<String>,
    pub exists: bool,
}

fn package<'a>(packages: Option<&'a PackageList>, names: &[&str]) -> Option<(&'a str, &'a str)> {
    let list = packages?;
    list.packages.iter().find_map(|p| {
        names
            .iter()
            .any(|n| match n.strip_suffix('*') {
                Some(prefix) => p.name.starts_with(prefix),
                None => p.name == *n,
            })
            .then_some((p.name.as_str(), p.version.as_str()))
    })
}

/// `key = value` / `key value` settings of an ini-ish or redis-style file,
/// comments (`#`, `;`) dropped.
fn setting<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let l = l.split(['#', ';']).next()?.trim();
        let rest = l.strip_prefix(key)?;
        if !key.ends_with(':') && !rest.starts_with([' ', '\t', '=']) {
            return None; // a longer key (`portal` is not `port`)
        }
        let v = rest.trim_start();
        let v = v.strip_prefix('=').unwrap_or(v).trim();
        (!v.is_empty()).then(|| v.trim_matches(['\'', '"']))
    })
}

fn first_line(files: &GuestFiles, path: &str) -> Option<String> {
    files
        .read_text(SECTION, path)
        .and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
        .filter(|l| !l.is_empty())
}

fn data_dir(
    files: &GuestFiles,
    path: &str,
    cluster: Option<String>,
    version_file: &str,
) -> DataDirectory {
    DataDirectory {
        path: path.to_string(),
        cluster,
        version: first_line(files, &format!("{path}/{version_file}")),
        exists: files.is_dir(path),
    }
}

fn postgresql(files: &GuestFiles, packages: Option<&PackageList>) -> Option<DatabaseServer> {
    let pkg = package(
        packages,
        &[
            "postgresql-server",
            "postgresql-1*",
            "postgresql-9*",
            "postgresql*-server",
        ],
    );
    let mut s = DatabaseServer {
        kind: "postgresql".into(),
        package: pkg.map(|p| p.0.to_string()),
        version: pkg.map(|p| p.1.to_string()),
        ..DatabaseServer::default()
    };
    // Debian: /etc/postgresql/VERSION/CLUSTER/postgresql.conf.
    for version in files.list_dir(SECTION, "/etc/postgresql") {
        for cluster in files.list_dir(SECTION, &format!("/etc/postgresql/{version}")) {
            let conf = format!("/etc/postgresql/{version}/{cluster}/postgresql.conf");
            let Some(text) = files.read_text(SECTION, &conf) else {
                continue;
            };
            let dir = setting(&text, "data_directory")
                .map(str::to_string)
                .unwrap_or_else(|| format!("/var/lib/postgresql/{version}/{cluster}"));
            s.port = s
                .port
                .or_else(|| setting(&text, "port").and_then(|p| p.parse().ok()));
            s.config_files.push(conf);
            s.data_directories.push(data_dir(
                files,
                &dir,
                Some(format!("{version}/{cluster}")),
                "PG_VERSION",
            ));
        }
    }
    // RHEL and others: /var/lib/pgsql/data, /var/lib/pgsql/VERSION/data.
    let mut candidates = vec!["/var/lib/pgsql/data".to_string()];
    for v in files.list_dir(SECTION, "/var/lib/pgsql") {
        candidates.push(format!("/var/lib/pgsql/{v}/data"));
    }
    for dir in candidates {
        if files.is_file(&format!("{dir}/PG_VERSION"))
            && !s.data_directories.iter().any(|d| d.path == dir)
        {
            let conf = format!("{dir}/postgresql.conf");
            if let Some(text) = files.read_text(SECTION, &conf) {
                s.port = s
                    .port
                    .or_else(|| setting(&text, "port").and_then(|p| p.parse().ok()));
                s.config_files.push(conf);
            }
            s.data_directories
                .push(data_dir(files, &dir, None, "PG_VERSION"));
        }
    }
    if s.package.is_none() && s.data_directories.is_empty() {
        return None;
    }
    s.port = s.port.or(Some(5432));
    Some(s)
}

fn mysql(files: &GuestFiles, packages: Option<&PackageList>) -> Option<DatabaseServer> {
    let mariadb = package(packages, &["mariadb-server*", "MariaDB-server"]);
    let mysql = package(
        packages,
        &[
            "mysql-server*",
            "mysql-community-server",
            "percona-server-server*",
        ],
    );
    let pkg = mariadb.or(mysql);
    let mut s = DatabaseServer {
        kind: if mariadb.is_some() {
            "mariadb"
        } else {
            "mysql"
        }
        .into(),
        package: pkg.map(|p| p.0.to_string()),
        version: pkg.map(|p| p.1.to_string()),
        ..DatabaseServer::default()
    };
    let mut datadir = None;
    let mut confs: Vec<String> = ["/etc/my.cnf", "/etc/mysql/my.cnf", "/etc/mysql/mariadb.cnf"]
        .into_iter()
        .map(str::to_string)
        .collect();
    for dir in [
        "/etc/my.cnf.d",
        "/etc/mysql/conf.d",
        "/etc/mysql/mariadb.conf.d",
        "/etc/mysql/mysql.conf.d",
    ] {
        confs.extend(
            files
                .list_dir(SECTION, dir)
                .into_iter()
                .filter(|n| n.ends_with(".cnf"))
                .map(|n| format!("{dir}/{n}")),
        );
    }
    for conf in confs {
        let Some(text) = files.read_text(SECTION, &conf) else {
            continue;
        };
        datadir = datadir.or_else(|| setting(&text, "datadir").map(str::to_string));
        s.port = s
            .port
            .or_else(|| setting(&text, "port").and_then(|p| p.parse().ok()));
        s.config_files.push(conf);
    }
    let dir = datadir.unwrap_or_else(|| "/var/lib/mysql".into());
    let d = data_dir(files, &dir, None, "mysql_upgrade_info");
    if s.package.is_none() && !files.is_dir(&format!("{dir}/mysql")) {
        return None;
    }
    if d.version.as_deref().is_some_and(|v| v.contains("MariaDB")) {
        s.kind = "mariadb".into();
    }
    s.data_directories.push(d);
    s.port = s.port.or(Some(3306));
    Some(s)
}

fn mongodb(files: &GuestFiles, packages: Option<&PackageList>) -> Option<DatabaseServer> {
    let pkg = package(
        packages,
        &["mongodb-org-server", "mongodb-server", "mongodb"],
    );
    let conf = "/etc/mongod.conf";
    let text = files.read_text(SECTION, conf);
    if pkg.is_none() && text.is_none() {
        return None;
    }
    let mut s = DatabaseServer {
        kind: "mongodb".into(),
        package: pkg.map(|p| p.0.to_string()),
        version: pkg.map(|p| p.1.to_string()),
        ..DatabaseServer::default()
    };
    let mut dir = "/var/lib/mongodb".to_string();
    if let Some(text) = &text {
        s.config_files.push(conf.into());
        if let Some(p) = setting(text, "dbPath:") {
            dir = p.to_string();
        }
        s.port = setting(text, "port:").and_then(|p| p.parse().ok());
    }
    s.data_directories
        .push(data_dir(files, &dir, None, "storage.bson"));
    if let Some(d) = s.data_directories.first_mut() {
        d.version = None;
    }
    s.port = s.port.or(Some(27017));
    Some(s)
}

fn redis(files: &GuestFiles, packages: Option<&PackageList>) -> Option<DatabaseServer> {
    let pkg = package(
        packages,
        &["redis-server", "redis", "redis7", "valkey-server", "valkey"],
    );
    let conf = [
        "/etc/redis/redis.conf",
        "/etc/redis.conf",
        "/etc/valkey/valkey.conf",
    ]
    .into_iter()
    .find(|c| files.is_file(c));
    if pkg.is_none() && conf.is_none() {
        return None;
    }
    let mut s = DatabaseServer {
        kind: "redis".into(),
        package: pkg.map(|p| p.0.to_string()),
        version: pkg.map(|p| p.1.to_string()),
        ..DatabaseServer::default()
    };
    let mut dir = "/var/lib/redis".to_string();
    if let Some(conf) = conf {
        if let Some(text) = files.read_text(SECTION, conf) {
            if let Some(d) = setting(&text, "dir") {
                dir = d.to_string();
            }
            s.port = setting(&text, "port").and_then(|p| p.parse().ok());
        }
        s.config_files.push(conf.to_string());
    }
    s.data_directories.push(DataDirectory {
        exists: files.is_dir(&dir),
        path: dir,
        ..DataDirectory::default()
    });
    s.port = s.port.or(Some(6379));
    Some(s)
}

/// Database servers of the guest.
pub fn inspect(files: &GuestFiles, packages: Option<&PackageList>) -> Vec<DatabaseServer> {
    [postgresql, mysql, mongodb, redis]
        .into_iter()
        .filter_map(|f| f(files, packages))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings() {
        let t = "# dir /nope\nportal 1\ndir /var/lib/redis\nport 6380\ndata_directory = '/srv/pg' # x\n";
        assert_eq!(setting(t, "dir"), Some("/var/lib/redis"));
        assert_eq!(setting(t, "port"), Some("6380"));
        assert_eq!(setting(t, "data_directory"), Some("/srv/pg"));
        assert_eq!(
            setting("datadir=/data/mysql\n", "datadir"),
            Some("/data/mysql")
        );
    }
}
