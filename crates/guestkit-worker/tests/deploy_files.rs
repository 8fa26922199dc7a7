//! The files in `deploy/`: the Prometheus alert rules, the example scrape
//! configuration and the Grafana dashboard are well formed, and every
//! PromQL expression in them names only series the worker exports, with
//! labels those series carry. With `promtool` on PATH the rules, the
//! configuration, the rules' unit tests and the dashboard's queries are
//! checked by Prometheus itself too.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use guestkit_worker::metrics::{ChecksumOutcome, Metrics};
use guestkit_worker::SqliteStore;
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(rel: &str) -> String {
    let path = deploy().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the worker exports: every sample name (`X_total` for a counter
/// `X`, `X_bucket`/`_sum`/`_count` for a histogram, `X` for a gauge) with
/// the labels its samples carry.
struct Exported {
    /// family name → kind, from the `# TYPE` lines.
    families: BTreeMap<String, String>,
    /// sample name → family name.
    samples: BTreeMap<String, String>,
    /// family name → label names seen on its samples.
    labels: BTreeMap<String, BTreeSet<String>>,
}

/// Renders a real worker's metrics (against a real store), after moving
/// every family once so that labelled families have samples.
fn exported() -> Exported {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("w.db")).expect("store");
    let metrics = Metrics::new();
    metrics.job_started();
    metrics.job_ended(
        "guestkit.inspect",
        "completed",
        Duration::from_millis(30),
        Some((Duration::from_millis(20), true)),
        4096,
    );
    metrics.checksum(ChecksumOutcome::Success);
    metrics.wrote(512);
    metrics.fetched("file");
    metrics.transport_error("file");
    let text = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let jobs = tokio::runtime::Handle::current();
            metrics.render(std::sync::Arc::new(store), &jobs).await
        });

    let mut families = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(name), Some(kind), None) = (words.next(), words.next(), words.next()) else {
            panic!("odd TYPE line {line:?}");
        };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            "gauge" => &[""],
            other => panic!("unexpected metric kind {other} of {name}"),
        };
        for suffix in suffixes {
            samples.insert(format!("{name}{suffix}"), name.to_string());
        }
        families.insert(name.to_string(), kind.to_string());
    }
    let mut labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        let family = samples
            .get(name)
            .unwrap_or_else(|| panic!("sample {name} of no TYPE line in\n{text}"));
        let set = labels.entry(family.clone()).or_default();
        if line[name_end..].starts_with('{') {
            let body = &line[name_end + 1..line.rfind('}').expect("closing brace")];
            for pair in split_matchers(body) {
                let (label, _) = pair.split_once('=').expect("label=value");
                if label != "le" {
                    set.insert(label.to_string());
                }
            }
        }
    }
    assert!(
        families.len() >= 13,
        "expected the worker's 13 metric families, got {families:?}"
    );
    Exported {
        families,
        samples,
        labels,
    }
}

/// Splits `a="x",b!~"y,z"` on the commas outside quotes.
fn split_matchers(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = body.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

/// A `guestkit_…` series selector in an expression.
#[derive(Debug)]
struct Selector {
    name: String,
    /// (label, operator, value without quotes)
    matchers: Vec<(String, String, String)>,
}

/// What an expression uses: its `guestkit_…` selectors and the label
/// lists of its `by`/`without`/`on`/`ignoring` clauses.
#[derive(Debug, Default)]
struct Uses {
    selectors: Vec<Selector>,
    grouping: Vec<String>,
}

/// Scans a PromQL expression (or a Grafana `label_values(…)` query):
/// string literals are skipped, identifiers starting `guestkit_` are
/// metric names, a `{…}` after one is its matcher list.
fn scan(expr: &str) -> Uses {
    let b = expr.as_bytes();
    let mut uses = Uses::default();
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let skip_ws = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == b'_') {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && ident(b[i]) {
            i += 1;
        }
        let word = &expr[start..i];
        let next = skip_ws(i);
        if word.starts_with("guestkit_") {
            let mut matchers = Vec::new();
            if b.get(next) == Some(&b'{') {
                let close = expr[next..]
                    .find('}')
                    .map(|k| next + k)
                    .unwrap_or_else(|| panic!("unclosed selector in {expr}"));
                for m in split_matchers(&expr[next + 1..close]) {
                    let op_at = m
                        .find(['=', '!'])
                        .unwrap_or_else(|| panic!("matcher {m:?} in {expr}"));
                    let label = m[..op_at].trim().to_string();
                    let rest = &m[op_at..];
                    let op_len = if rest.starts_with("=~")
                        || rest.starts_with("!~")
                        || rest.starts_with("!=")
                    {
                        2
                    } else {
                        1
                    };
                    let value = rest[op_len..].trim().trim_matches('"').to_string();
                    matchers.push((label, rest[..op_len].to_string(), value));
                }
                i = close + 1;
            }
            uses.selectors.push(Selector {
                name: word.to_string(),
                matchers,
            });
        } else if matches!(word, "by" | "without" | "on" | "ignoring") && b.get(next) == Some(&b'(')
        {
            let close = expr[next..]
                .find(')')
                .map(|k| next + k)
                .unwrap_or_else(|| panic!("unclosed label list in {expr}"));
            uses.grouping.extend(
                expr[next + 1..close]
                    .split(',')
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty()),
            );
            i = close + 1;
        }
    }
    uses
}

/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

/// Checks one expression against the export; returns the families used.
fn check_expr(where_: &str, expr: &str, ex: &Exported) -> BTreeSet<String> {
    let uses = scan(expr);
    let mut used = BTreeSet::new();
    let mut allowed: BTreeSet<String> = TARGET_LABELS.iter().map(|s| s.to_string()).collect();
    for sel in &uses.selectors {
        let family = ex.samples.get(&sel.name).unwrap_or_else(|| {
            panic!(
                "{where_}: {} is not a series the worker exports (exported: {:?})\n  expr: {expr}",
                sel.name,
                ex.samples.keys().collect::<Vec<_>>()
            )
        });
        used.insert(family.clone());
        let mut labels = ex.labels.get(family).cloned().unwrap_or_default();
        if sel.name.ends_with("_bucket") && ex.families[family] == "histogram" {
            labels.insert("le".into());
        }
        for (label, _, _) in &sel.matchers {
            assert!(
                labels.contains(label) || TARGET_LABELS.contains(&label.as_str()),
                "{where_}: {} has no label {label} (it has {labels:?})\n  expr: {expr}",
                sel.name
            );
        }
        allowed.extend(labels);
    }
    for label in &uses.grouping {
        assert!(
            allowed.contains(label),
            "{where_}: grouping label {label} is on none of the series used ({allowed:?})\n  expr: {expr}"
        );
    }
    used
}

fn str_at<'a>(v: &'a Yaml, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// `5m`, `1h30m`, `0s`: a Prometheus duration.
fn is_duration(s: &str) -> bool {
    let mut digits = false;
    let mut parts = 0;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits = true;
            continue;
        }
        if !digits || !"smhdwy".contains(c) {
            return false;
        }
        if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
        }
        digits = false;
        parts += 1;
    }
    parts > 0 && !digits
}

const EXPECTED_ALERTS: [&str; 8] = [
    "GuestkitWorkerDown",
    "GuestkitHighJobFailureRatio",
    "GuestkitJobsTimingOut",
    "GuestkitQueueBackingUp",
    "GuestkitChecksumFailures",
    "GuestkitTransportErrors",
    "GuestkitSlowInspections",
    "GuestkitWorkerMemoryHigh",
];

/// Every alert rule: well formed, and its expression on exported series.
#[test]
fn alert_rules_are_well_formed_and_use_exported_metrics() {
    let ex = exported();
    let doc: Yaml = serde_yaml_ng::from_str(&read("prometheus/guestkit-alerts.yml"))
        .expect("guestkit-alerts.yml is YAML");
    let groups = doc["groups"].as_sequence().expect("groups: a list");
    assert!(!groups.is_empty(), "no rule groups");
    let mut names = BTreeSet::new();
    for group in groups {
        let gname = str_at(group, &["name"]).expect("every group has a name");
        let rules = group["rules"]
            .as_sequence()
            .unwrap_or_else(|| panic!("group {gname}: rules: a list"));
        for rule in rules {
            let alert = str_at(rule, &["alert"])
                .unwrap_or_else(|| panic!("{gname}: a rule without alert: {rule:?}"));
            assert!(
                names.insert(alert.to_string()),
                "alert {alert} defined twice"
            );
            let expr = str_at(rule, &["expr"]).unwrap_or_else(|| panic!("{alert}: no expr"));
            let for_ = str_at(rule, &["for"]).unwrap_or_else(|| panic!("{alert}: no for"));
            assert!(is_duration(for_), "{alert}: for {for_:?} is not a duration");
            let severity = str_at(rule, &["labels", "severity"])
                .unwrap_or_else(|| panic!("{alert}: no labels.severity"));
            assert!(
                ["critical", "warning", "info"].contains(&severity),
                "{alert}: severity {severity}"
            );
            for key in ["summary", "description"] {
                let text = str_at(rule, &["annotations", key])
                    .unwrap_or_else(|| panic!("{alert}: no annotations.{key}"));
                assert!(!text.trim().is_empty(), "{alert}: empty annotations.{key}");
            }
            let used = check_expr(alert, expr, &ex);
            if alert == "GuestkitWorkerDown" {
                assert!(
                    expr.contains(r#"up{job="guestkit-worker"}"#),
                    "{alert} watches up of the guestkit-worker job: {expr}"
                );
            } else {
                assert!(!used.is_empty(), "{alert} uses no guestkit metric: {expr}");
            }
        }
    }
    for want in EXPECTED_ALERTS {
        assert!(
            names.contains(want),
            "alert {want} missing (have {names:?})"
        );
    }
}

/// The example configuration scrapes the job the rules expect and loads them.
#[test]
fn scrape_config_matches_the_rules() {
    let doc: Yaml = serde_yaml_ng::from_str(&read("prometheus/prometheus.yml"))
        .expect("prometheus.yml is YAML");
    let files: Vec<&str> = doc["rule_files"]
        .as_sequence()
        .expect("rule_files")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(files, ["guestkit-alerts.yml"]);
    let jobs = doc["scrape_configs"].as_sequence().expect("scrape_configs");
    let job = jobs
        .iter()
        .find(|j| str_at(j, &["job_name"]) == Some("guestkit-worker"))
        .expect("a scrape job named guestkit-worker");
    assert_eq!(
        str_at(job, &["metrics_path"]).unwrap_or("/metrics"),
        "/metrics"
    );
    let targets: Vec<&str> = job["static_configs"]
        .as_sequence()
        .expect("static_configs")
        .iter()
        .flat_map(|c| c["targets"].as_sequence().expect("targets"))
        .filter_map(Yaml::as_str)
        .collect();
    assert!(!targets.is_empty());
    for t in targets {
        assert!(
            t.ends_with(":9090"),
            "target {t} is not on the worker's :9090"
        );
    }
}

/// Every query of the dashboard, with where it is.
fn dashboard_queries(dash: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default();
        for t in panel["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_default();
            out.push((format!("panel {title:?}"), expr.to_string()));
        }
    }
    out
}

/// The dashboard: variables, panels with titles and queries, a layout
/// without overlaps, and queries on exported series filtered by
/// `$instance`; together the panels show every family the worker exports.
#[test]
fn dashboard_is_well_formed_and_uses_exported_metrics() {
    let ex = exported();
    let dash: Json = serde_json::from_str(&read("grafana/guestkit-worker.json"))
        .expect("guestkit-worker.json is JSON");
    assert!(dash["schemaVersion"].as_u64().expect("schemaVersion") >= 36);
    assert!(dash["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(dash["title"].as_str().is_some_and(|t| !t.is_empty()));

    let vars = dash["templating"]["list"]
        .as_array()
        .expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    let ds = var("DS_PROMETHEUS");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    let instance = var("instance");
    assert_eq!(instance["type"], "query");
    assert_eq!(instance["datasource"]["uid"], "${DS_PROMETHEUS}");
    let iq = instance["definition"]
        .as_str()
        .expect("instance definition");
    let iq_used = check_expr("variable instance", iq, &ex);
    assert!(
        !iq_used.is_empty(),
        "the instance variable reads no guestkit metric: {iq}"
    );
    if let Some(q) = instance["query"]["query"].as_str() {
        assert_eq!(q, iq);
    }

    let panels = dash["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    let mut ids = BTreeSet::new();
    let mut boxes: Vec<(String, [u64; 4])> = Vec::new();
    for panel in panels {
        let title = panel["title"]
            .as_str()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| panic!("a panel without a title: {panel}"));
        assert!(
            ids.insert(panel["id"].as_u64().expect("panel id")),
            "{title}: id reused"
        );
        assert_eq!(
            panel["datasource"]["uid"], "${DS_PROMETHEUS}",
            "{title}: datasource"
        );
        let g = &panel["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| {
            g[k].as_u64()
                .unwrap_or_else(|| panic!("{title}: gridPos.{k}"))
        });
        assert!(w > 0 && h > 0 && x + w <= 24, "{title}: gridPos {g}");
        for (other, [ox, oy, ow, oh]) in &boxes {
            let apart = x + w <= *ox || *ox + ow <= x || y + h <= *oy || *oy + oh <= y;
            assert!(apart, "{title} overlaps {other}");
        }
        boxes.push((title.to_string(), [x, y, w, h]));
        let targets = panel["targets"]
            .as_array()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| panic!("{title}: no targets"));
        let mut refs = BTreeSet::new();
        for t in targets {
            let expr = t["expr"]
                .as_str()
                .filter(|e| !e.trim().is_empty())
                .unwrap_or_else(|| panic!("{title}: a target without expr: {t}"));
            assert!(
                refs.insert(t["refId"].as_str().expect("refId")),
                "{title}: refId reused"
            );
            assert_eq!(
                t["datasource"]["uid"], "${DS_PROMETHEUS}",
                "{title}: target datasource"
            );
            for sel in scan(expr).selectors {
                assert!(
                    sel.matchers
                        .iter()
                        .any(|(l, op, v)| l == "instance" && op == "=~" && v == "$instance"),
                    "{title}: {} is not filtered by instance=~\"$instance\"\n  expr: {expr}",
                    sel.name
                );
            }
        }
    }

    let mut shown = BTreeSet::new();
    for (where_, expr) in dashboard_queries(&dash) {
        let used = check_expr(&where_, &expr, &ex);
        assert!(!used.is_empty(), "{where_} uses no guestkit metric: {expr}");
        shown.extend(used);
    }
    let missing: Vec<_> = ex.families.keys().filter(|f| !shown.contains(*f)).collect();
    assert!(missing.is_empty(), "no dashboard panel shows {missing:?}");
}

/// The scanner itself: names, matchers, label lists, strings skipped.
#[test]
fn promql_scanner() {
    let u = scan(
        r#"sum by (job, le) (rate(guestkit_a_bucket{x="guestkit_not_a_name",y=~"a,b"}[5m])) and on(instance) up{job="guestkit-worker"} / guestkit_b"#,
    );
    let names: Vec<_> = u.selectors.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["guestkit_a_bucket", "guestkit_b"]);
    assert_eq!(
        u.selectors[0].matchers,
        [
            ("x".into(), "=".into(), "guestkit_not_a_name".into()),
            ("y".into(), "=~".into(), "a,b".into())
        ]
    );
    assert_eq!(u.grouping, ["job", "le", "instance"]);
    assert!(is_duration("5m") && is_duration("1h30m") && is_duration("0s") && is_duration("500ms"));
    assert!(!is_duration("5") && !is_duration("m") && !is_duration("5 m"));
}

fn promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
}

fn run_promtool(tool: &Path, args: &[&str], dir: &Path) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Prometheus's own checks: rules, configuration, the rules' unit tests
/// (deploy/prometheus/guestkit-alerts.test.yml) and the dashboard's
/// queries (as recording rules, Grafana's variables filled in).
#[test]
fn promtool_accepts_the_files() {
    let Some(tool) = promtool() else {
        // Written past the test harness's capture so the skip shows in a
        // plain `cargo test` run.
        let _ = writeln!(
            std::io::stderr(),
            "SKIP: promtool not on PATH (Debian: apt-get install prometheus); deploy/ not checked by promtool"
        );
        return;
    };
    let dir = deploy().join("prometheus");
    run_promtool(&tool, &["check", "rules", "guestkit-alerts.yml"], &dir);
    run_promtool(&tool, &["check", "config", "prometheus.yml"], &dir);
    run_promtool(&tool, &["test", "rules", "guestkit-alerts.test.yml"], &dir);

    let dash: Json = serde_json::from_str(&read("grafana/guestkit-worker.json")).expect("JSON");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (_, expr)) in dashboard_queries(&dash).into_iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*");
        let quoted = serde_json::to_string(&expr).expect("quote");
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {quoted}\n"
        ));
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("dashboard.yml"), rules).expect("write");
    run_promtool(&tool, &["check", "rules", "dashboard.yml"], tmp.path());
}
