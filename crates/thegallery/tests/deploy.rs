//! The k3s manifests against the binary: each pod is given a configuration its process accepts,
//! nothing that process does not read, and the names, ports and probes the cluster relies on.
//!
//! The manifests are rendered by `scripts/check-deploy render` (kustomize over the committed
//! secret samples plus a throwaway key pair), then each Deployment's environment is rebuilt the
//! way the kubelet would: ConfigMaps and Secrets through `env`/`envFrom`, Secret and ConfigMap
//! volumes as files under a temporary root that stands in for the container's filesystem.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use serde_yaml_ng::Value;

/// The four distributed processes and the Services that the original deployment named.
const SERVICES: [(&str, &str, u64); 4] = [
    ("gateway", "gateway-svc", 8000),
    ("member", "member-svc", 8001),
    ("gallery", "gallery-svc", 8002),
    ("post", "post-svc", 8003),
];

/// Every rendered manifest set by name: `base` and one per overlay.
fn rendered(name: &str) -> Manifests {
    static RENDERED: OnceLock<BTreeMap<String, Vec<Value>>> = OnceLock::new();
    let all = RENDERED.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = tempfile::tempdir().unwrap();
        let status = Command::new(root.join("scripts/check-deploy"))
            .arg("render")
            .arg(out.path())
            .status()
            .expect("scripts/check-deploy runs");
        assert!(status.success(), "scripts/check-deploy render failed");
        std::fs::read_dir(out.path())
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                let documents = serde_yaml_ng::Deserializer::from_str(&text)
                    .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
                    .collect();
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                (name, documents)
            })
            .collect()
    });
    Manifests(
        all.get(name)
            .unwrap_or_else(|| panic!("no rendered overlay named {name}")),
    )
}

/// The overlay most tests read: what `scripts/cluster` deploys.
fn k3s() -> Manifests {
    rendered("k3s")
}

/// The objects of one rendered overlay.
#[derive(Clone, Copy)]
struct Manifests(&'static [Value]);

impl Manifests {
    fn objects(self, kind: &str) -> impl Iterator<Item = &'static Value> {
        self.0
            .iter()
            .filter(move |o| o["kind"].as_str() == Some(kind))
    }

    fn object(self, kind: &str, name: &str) -> &'static Value {
        self.objects(kind)
            .find(|o| o["metadata"]["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no {kind} named {name} in the rendered manifests"))
    }
}

fn objects(kind: &str) -> impl Iterator<Item = &'static Value> {
    k3s().objects(kind)
}

fn object(kind: &str, name: &str) -> &'static Value {
    k3s().object(kind, name)
}

fn deployment(service: &str) -> &'static Value {
    object("Deployment", service)
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// The string pairs of a ConfigMap or Secret (a Secret's values base64-decoded).
fn data_of(manifests: Manifests, kind: &str, name: &str) -> BTreeMap<String, String> {
    let object = manifests.object(kind, name);
    let Some(map) = object["data"].as_mapping() else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(k, v)| {
            let value = if kind == "Secret" {
                // Long values are rendered as block scalars, wrapped over several lines.
                let encoded: String = text(v).split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap();
                String::from_utf8(bytes).unwrap()
            } else {
                text(v)
            };
            (text(k), value)
        })
        .collect()
}

/// What one pod's container gets: its environment, and its mounted files under `root`.
struct Pod {
    env: BTreeMap<String, String>,
    root: tempfile::TempDir,
}

impl Pod {
    fn of(deployment: &Value) -> Self {
        Self::in_overlay(k3s(), deployment)
    }

    fn in_overlay(manifests: Manifests, deployment: &Value) -> Self {
        let container = container(deployment);
        let root = tempfile::tempdir().unwrap();
        let mounts = mount_volumes(manifests, deployment, root.path());
        let mut env = BTreeMap::new();
        for source in container["envFrom"].as_sequence().into_iter().flatten() {
            for (kind, key) in [("ConfigMap", "configMapRef"), ("Secret", "secretRef")] {
                if let Some(name) = source[key]["name"].as_str() {
                    env.extend(data_of(manifests, kind, name));
                }
            }
        }
        for var in container["env"].as_sequence().into_iter().flatten() {
            env.insert(text(&var["name"]), env_value(manifests, var));
        }
        for value in env.values_mut() {
            if let Some(local) = mounts.iter().find_map(|m| relocate(value, m, root.path())) {
                *value = local;
            }
        }
        Self { env, root }
    }
}

fn env_value(manifests: Manifests, var: &Value) -> String {
    let from = &var["valueFrom"];
    for (kind, key) in [("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")] {
        if let Some(name) = from[key]["name"].as_str() {
            return data_of(manifests, kind, name)[&text(&from[key]["key"])].clone();
        }
    }
    text(&var["value"])
}

/// A path inside the container moved under the stand-in root, if it lies under `mount`.
fn relocate(value: &str, mount: &str, root: &Path) -> Option<String> {
    let rest = value.strip_prefix(mount)?;
    (rest.is_empty() || rest.starts_with('/')).then(|| format!("{}{value}", root.display()))
}

/// Writes every Secret and ConfigMap volume's files under `root` at their mount paths, creates
/// the other mounts as directories, and returns all mount paths.
fn mount_volumes(manifests: Manifests, deployment: &Value, root: &Path) -> Vec<String> {
    let spec = &deployment["spec"]["template"]["spec"];
    let volumes: BTreeMap<String, &Value> = spec["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|v| (text(&v["name"]), v))
        .collect();
    let mut paths = Vec::new();
    for mount in container(deployment)["volumeMounts"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let path = text(&mount["mountPath"]);
        let dir = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        let volume = volumes[&text(&mount["name"])];
        for (kind, key, name_key) in [
            ("Secret", "secret", "secretName"),
            ("ConfigMap", "configMap", "name"),
        ] {
            if let Some(name) = volume[key][name_key].as_str() {
                write_files(&dir, &data_of(manifests, kind, name), &volume[key]["items"]);
            }
        }
        paths.push(path);
    }
    paths
}

fn write_files(dir: &Path, data: &BTreeMap<String, String>, items: &Value) {
    match items.as_sequence() {
        Some(items) => {
            for item in items {
                let content = &data[&text(&item["key"])];
                std::fs::write(dir.join(text(&item["path"])), content).unwrap();
            }
        }
        None => {
            for (key, content) in data {
                std::fs::write(dir.join(key), content).unwrap();
            }
        }
    }
}

/// The variables the process `service` reads with `pod`'s environment, as the binary lists them
/// (`thegallery config vars <service>`: logging, then the service's configuration).
fn variables_read(service: &str, pod: &Pod) -> BTreeSet<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_thegallery"))
        .args(["config", "vars", service])
        .env_clear()
        .envs(&pod.env)
        .current_dir(pod.root.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let problems = &listed["problems"];
    assert!(
        problems.as_array().is_some_and(Vec::is_empty),
        "{service} rejects its pod's environment: {problems}"
    );
    listed["reads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Runs `thegallery config check <service>` with exactly the environment `pod` gets.
fn assert_accepted(service: &str, pod: &Pod, origin: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_thegallery"))
        .args(["config", "check", service])
        .env_clear()
        .envs(&pod.env)
        .current_dir(pod.root.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "`thegallery config check {service}` rejects the environment of {origin}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_all_read(service: &str, pod: &Pod, origin: &str) {
    let read = variables_read(service, pod);
    let unread: Vec<&String> = pod.env.keys().filter(|k| !read.contains(*k)).collect();
    assert!(
        unread.is_empty(),
        "{origin} is given variables that `thegallery {service}` never reads: {unread:?}"
    );
}

#[test]
fn every_process_accepts_the_environment_its_pod_is_given() {
    for (service, _, _) in SERVICES {
        let deployment = deployment(service);
        assert_eq!(
            container(deployment)["args"][0].as_str(),
            Some(service),
            "the {service} Deployment runs `thegallery {service}`"
        );
        assert_accepted(service, &Pod::of(deployment), &format!("the {service} pod"));
    }
}

#[test]
fn every_variable_a_pod_is_given_is_one_its_process_reads() {
    for (service, _, _) in SERVICES {
        let pod = Pod::of(deployment(service));
        assert_all_read(service, &pod, &format!("the {service} pod"));
    }
}

#[test]
fn the_traced_overlay_turns_export_on_in_every_process_with_variables_it_accepts() {
    let traced = rendered("k3s-traced");
    for (service, _, _) in SERVICES {
        let pod = Pod::in_overlay(traced, traced.object("Deployment", service));
        let origin = format!("the {service} pod of overlays/k3s-traced");
        assert_eq!(
            pod.env
                .get("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(String::as_str),
            Some("http://jaeger-svc:4318"),
            "{origin} exports to the collector"
        );
        assert_accepted(service, &pod, &origin);
        assert_all_read(service, &pod, &origin);
    }
}

#[test]
fn the_traced_overlay_serves_the_trace_backend_under_jaeger_on_the_ingress() {
    let traced = rendered("k3s-traced");
    let ingress = traced.object("Ingress", "thegallery");
    let paths = ingress["spec"]["rules"][0]["http"]["paths"]
        .as_sequence()
        .unwrap();
    let jaeger = paths
        .iter()
        .find(|p| p["path"].as_str() == Some("/jaeger"))
        .expect("a /jaeger path on the Ingress");
    assert_eq!(text(&jaeger["backend"]["service"]["name"]), "jaeger-svc");
    let service = traced.object("Service", "jaeger-svc");
    assert_eq!(text(&service["metadata"]["namespace"]), "thegallery");
}

#[test]
fn every_compose_service_accepts_the_environment_it_is_given() {
    let compose = Compose::load();
    for (service, _, _) in SERVICES {
        let container = compose.container(service);
        assert_accepted(service, &container, &format!("compose service {service}"));
    }
}

#[test]
fn every_variable_a_compose_service_is_given_is_one_its_process_reads() {
    let compose = Compose::load();
    for (service, _, _) in SERVICES {
        let container = compose.container(service);
        assert_all_read(service, &container, &format!("compose service {service}"));
    }
}

#[test]
fn every_process_is_reached_under_the_service_name_and_port_of_the_original() {
    for (service, service_name, port) in SERVICES {
        let svc = object("Service", service_name);
        assert_eq!(svc["spec"]["ports"][0]["port"].as_u64(), Some(port));
        let selector = &svc["spec"]["selector"];
        let labels = &deployment(service)["spec"]["template"]["metadata"]["labels"];
        for (key, value) in selector.as_mapping().unwrap() {
            assert_eq!(
                &labels[key], value,
                "{service_name} selects the {service} pods"
            );
        }
        let container_port = &container(deployment(service))["ports"][0]["containerPort"];
        assert_eq!(container_port.as_u64(), Some(port));
        let pod = Pod::of(deployment(service));
        assert_eq!(
            pod.env.get("PORT").map(String::as_str),
            Some(&*port.to_string())
        );
    }
}

#[test]
fn every_process_is_probed_on_livez_and_readyz() {
    for (service, _, _) in SERVICES {
        let container = container(deployment(service));
        for (probe, path) in [
            ("startupProbe", "/livez"),
            ("livenessProbe", "/livez"),
            ("readinessProbe", "/readyz"),
        ] {
            assert_eq!(
                container[probe]["httpGet"]["path"].as_str(),
                Some(path),
                "{service}'s {probe}"
            );
        }
    }
}

#[test]
fn no_pod_gets_a_secret_as_an_environment_variable() {
    for deployment in objects("Deployment").chain(objects("StatefulSet")) {
        let container = container(deployment);
        let name = text(&deployment["metadata"]["name"]);
        for source in container["envFrom"].as_sequence().into_iter().flatten() {
            assert!(
                source["secretRef"].is_null(),
                "{name} takes a Secret as env"
            );
        }
        for var in container["env"].as_sequence().into_iter().flatten() {
            assert!(
                var["valueFrom"]["secretKeyRef"].is_null(),
                "{name} takes a Secret as env"
            );
        }
    }
}

#[test]
fn the_mounted_key_files_are_the_ones_the_pods_are_pointed_at() {
    let member = Pod::of(deployment("member"));
    let key = PathBuf::from(&member.env["JWT_PRIVATE_KEY_FILE"]);
    assert!(
        std::fs::read_to_string(key)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    for service in ["gateway", "gallery", "post"] {
        let pod = Pod::of(deployment(service));
        let keys = PathBuf::from(&pod.env["JWT_PUBLIC_KEYS_FILE"]);
        assert!(
            std::fs::read_to_string(keys)
                .unwrap()
                .contains("PUBLIC KEY")
        );
        let private = pod.root.path().join("run/secrets/jwt/jwt-private.pem");
        assert!(!private.exists(), "only member holds the signing key");
    }
}

/// deploy/docker/compose.yaml, interpolated with compose.env.sample (its empty secrets filled
/// with stand-ins), and a key pair where `./secrets` is bind-mounted from.
struct Compose {
    file: Value,
    variables: BTreeMap<String, String>,
    secrets: tempfile::TempDir,
}

impl Compose {
    fn load() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/docker");
        let mut file: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(dir.join("compose.yaml")).unwrap())
                .unwrap();
        file.apply_merge().unwrap();
        let sample = std::fs::read_to_string(dir.join("compose.env.sample")).unwrap();
        let variables = sample
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                let value = if v.is_empty() { "stand-in" } else { v };
                (k.to_owned(), value.to_owned())
            })
            .collect();
        let secrets = tempfile::tempdir().unwrap();
        let status = Command::new(env!("CARGO_BIN_EXE_thegallery"))
            .args(["keys", "generate", "--dir"])
            .arg(secrets.path().join("secrets"))
            .output()
            .unwrap()
            .status;
        assert!(status.success(), "thegallery keys generate");
        Self {
            file,
            variables,
            secrets,
        }
    }

    /// What the container of compose service `name` gets.
    fn container(&self, name: &str) -> Pod {
        let service = &self.file["services"][name];
        assert_eq!(service["command"][0].as_str(), Some(name));
        let root = tempfile::tempdir().unwrap();
        let mut mounts = Vec::new();
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let spec = text(volume);
            let mut parts = spec.split(':');
            let (source, target) = (parts.next().unwrap(), parts.next().unwrap());
            let local = match source.strip_prefix("./") {
                Some(relative) => self.secrets.path().join(relative),
                None => root.path().join(source),
            };
            std::fs::create_dir_all(local.parent().unwrap()).unwrap();
            mounts.push((target.to_owned(), local));
        }
        let env = service["environment"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let value = self.interpolate(&text(v));
                let value = mounts
                    .iter()
                    .find(|(target, _)| value == *target)
                    .map_or(value.clone(), |(_, local)| local.display().to_string());
                (text(k), value)
            })
            .collect();
        Pod { env, root }
    }

    /// Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` with the sample's values.
    fn interpolate(&self, raw: &str) -> String {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let expression = &rest[start + 2..end];
            let (name, fallback) = match expression.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (expression.split(":?").next().unwrap(), None),
            };
            let value = self.variables.get(name).map(String::as_str).or(fallback);
            out.push_str(value.unwrap_or_else(|| panic!("compose needs {name}")));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// Every allowed ingress edge, as `source -> target:port`.
fn allowed_edges() -> BTreeSet<String> {
    let name = |selector: &Value| text(&selector["matchLabels"]["app.kubernetes.io/name"]);
    let mut edges = BTreeSet::new();
    for policy in objects("NetworkPolicy") {
        let target = name(&policy["spec"]["podSelector"]);
        for rule in policy["spec"]["ingress"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            for from in rule["from"].as_sequence().unwrap() {
                let namespace = &from["namespaceSelector"]["matchLabels"];
                let source = match namespace["kubernetes.io/metadata.name"].as_str() {
                    Some(ns) => format!("{ns}/{}", name(&from["podSelector"])),
                    None => name(&from["podSelector"]),
                };
                for port in rule["ports"].as_sequence().unwrap() {
                    let port = port["port"].as_u64().unwrap();
                    edges.insert(format!("{source} -> {target}:{port}"));
                }
            }
        }
    }
    edges
}

#[test]
fn network_policies_deny_all_ingress_then_allow_only_the_edges_of_the_design() {
    let deny = object("NetworkPolicy", "default-deny-ingress");
    assert_eq!(
        deny["spec"]["podSelector"],
        Value::Mapping(Default::default())
    );
    assert!(deny["spec"]["ingress"].is_null());
    let expected: BTreeSet<String> = [
        "kube-system/traefik -> gateway:8000",
        "kube-system/traefik -> frontend:80",
        "kube-system/traefik -> frontend:8080",
        "gateway -> member:8001",
        "gateway -> gallery:8002",
        "gateway -> post:8003",
        "member -> mariadb:3306",
        "gallery -> mariadb:3306",
        "post -> mariadb:3306",
        "gateway -> redis:6379",
        "member -> redis:6379",
        "gallery -> redis:6379",
        "post -> redis:6379",
        "member -> kafka:9092",
        "gallery -> kafka:9092",
        "post -> kafka:9092",
        "kafka -> kafka:9092",
        "kafka -> kafka:9093",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(allowed_edges(), expected);
}

#[test]
fn every_key_a_volume_mounts_exists_in_its_secret_or_config_map() {
    for workload in objects("Deployment").chain(objects("StatefulSet")) {
        let spec = &workload["spec"]["template"]["spec"];
        for volume in spec["volumes"].as_sequence().into_iter().flatten() {
            for (kind, key, name_key) in [
                ("Secret", "secret", "secretName"),
                ("ConfigMap", "configMap", "name"),
            ] {
                let Some(name) = volume[key][name_key].as_str() else {
                    continue;
                };
                let data = data_of(k3s(), kind, name);
                for item in volume[key]["items"].as_sequence().into_iter().flatten() {
                    let wanted = text(&item["key"]);
                    assert!(
                        data.contains_key(&wanted),
                        "{} mounts {wanted} of {kind} {name}, which has no such key",
                        text(&workload["metadata"]["name"])
                    );
                }
            }
        }
    }
}

/// Runs deploy/k8s/base/mariadb/init-databases.sh as the MariaDB image would (sourced, with a
/// `docker_process_sql` that runs SQL as root) against the dev server, with every database and
/// user name prefixed so the test touches nothing else.
fn run_init_script(prefix: &str, passwords: [&str; 3]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/k8s/base/mariadb/init-databases.sh");
    let harness = format!(
        r#"docker_process_sql() {{
               sed -e "s/\`\(member\|gallery\|post\)\`/\`{prefix}\1\`/g" \
                   -e "s/'\(member\|gallery\|post\)'@/'{prefix}\1'@/g" \
               | mariadb --socket="$ROOT_SOCKET" -uroot
           }}
           source "$1""#
    );
    let status = Command::new("bash")
        .args(["-c", &harness, "init"])
        .arg(script)
        .env("ROOT_SOCKET", testkit::dev("MYSQL_ROOT_SOCKET"))
        .env("MEMBER_DB_PASSWORD", passwords[0])
        .env("GALLERY_DB_PASSWORD", passwords[1])
        .env("POST_DB_PASSWORD", passwords[2])
        .status()
        .unwrap();
    assert!(status.success(), "init-databases.sh failed");
}

/// The databases `user` sees when it signs in with `password`, or `None` when it cannot.
fn databases_seen_by(user: &str, password: &str) -> Option<Vec<String>> {
    let (host, port) = testkit::dev("MYSQL_SERVER")
        .split_once(':')
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .unwrap();
    let output = Command::new("mariadb")
        .args(["--protocol=tcp", "-h", &host, "-P", &port, "-u", user])
        .args(["--batch", "--skip-column-names", "-e", "SHOW DATABASES"])
        .env("MYSQL_PWD", password)
        .output()
        .unwrap();
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|db| *db != "information_schema")
            .map(str::to_owned)
            .collect()
    })
}

fn drop_init_results(prefix: &str) {
    let sql: String = ["member", "gallery", "post"]
        .iter()
        .map(|s| {
            format!("DROP DATABASE IF EXISTS `{prefix}{s}`; DROP USER IF EXISTS '{prefix}{s}'@'%';")
        })
        .collect();
    let status = Command::new("mariadb")
        .args([
            "--socket",
            &testkit::dev("MYSQL_ROOT_SOCKET"),
            "-uroot",
            "-e",
            &sql,
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_mariadb_init_step_gives_each_service_its_own_database_and_user() {
    let prefix = format!("test_{}_", testkit::unique());
    let member_password = r#"it's a \ "quoted" pa$$word"#;
    run_init_script(&prefix, [member_password, "gallery-pw", "post-pw"]);
    let seen = databases_seen_by(&format!("{prefix}member"), member_password);
    let post = databases_seen_by(&format!("{prefix}post"), "post-pw");
    let wrong = databases_seen_by(&format!("{prefix}gallery"), "post-pw");
    drop_init_results(&prefix);
    assert_eq!(seen, Some(vec![format!("{prefix}member")]));
    assert_eq!(post, Some(vec![format!("{prefix}post")]));
    assert_eq!(wrong, None, "a user signs in only with its own password");
}

#[test]
fn running_the_mariadb_init_step_again_applies_rotated_passwords() {
    let prefix = format!("test_{}_", testkit::unique());
    run_init_script(&prefix, ["old-m", "old-g", "old-p"]);
    run_init_script(&prefix, ["new-m", "old-g", "old-p"]);
    let with_new = databases_seen_by(&format!("{prefix}member"), "new-m");
    let with_old = databases_seen_by(&format!("{prefix}member"), "old-m");
    drop_init_results(&prefix);
    assert_eq!(with_new, Some(vec![format!("{prefix}member")]));
    assert_eq!(with_old, None);
}
