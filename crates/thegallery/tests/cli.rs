//! The binary as operators use it: help, configuration checks, migrations, and processes that
//! start, answer their probes and stop cleanly on SIGTERM.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    reason = "Test helpers fail loudly; clippy's test exemption does not reach helper functions."
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn thegallery(args: &[&str], env: &HashMap<String, String>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_thegallery"));
    command.args(args).env_clear().envs(env);
    command
}

fn run(args: &[&str], env: &HashMap<String, String>) -> Output {
    thegallery(args, env).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Starts a long-running process and waits for the line in its output that says where it listens.
fn start(args: &[&str], env: &HashMap<String, String>) -> (Child, String) {
    let mut child = thegallery(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                && let Some(addr) = json["fields"]["addr"].as_str()
            {
                let _ = tx.send(addr.to_owned());
            }
            eprintln!("child: {line}");
        }
    });
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(rest) = line.split("http://").nth(1) {
                let _ = tx2.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the process reported where it listens");
    (child, addr)
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("the process did not stop within 10 s of SIGTERM");
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[test]
fn help_lists_every_subcommand() {
    let out = text(&run(&["--help"], &HashMap::new()).stdout);
    for sub in [
        "standalone",
        "gateway",
        "member",
        "gallery",
        "post",
        "migrate",
        "config",
    ] {
        assert!(out.contains(sub), "{sub} missing from:\n{out}");
    }
}

#[test]
fn a_service_help_names_the_environment_variables_it_reads() {
    let out = text(&run(&["member", "--help"], &HashMap::new()).stdout);
    for var in [
        "MYSQL_SERVER",
        "MYSQL_PASSWORD",
        "REDIS_HOST",
        "KAFKA_SERVER",
        "PORT",
    ] {
        assert!(out.contains(var), "{var} missing from:\n{out}");
    }
}

#[test]
fn config_check_with_missing_variables_lists_them_all_and_exits_2() {
    let out = run(&["config", "check", "member"], &HashMap::new());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for var in [
        "MYSQL_SERVER",
        "MYSQL_USER",
        "MYSQL_PASSWORD",
        "REDIS_HOST",
        "KAFKA_SERVER",
    ] {
        assert!(err.contains(var), "{var} missing from:\n{err}");
    }
}

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let env = env_of(&[
        ("MYSQL_SERVER", "db:3306"),
        ("MYSQL_USER", "member"),
        ("MYSQL_PASSWORD", "correct-horse-battery"),
        ("REDIS_HOST", "redis"),
        ("REDIS_PASSWORD", "redis-staple-secret"),
        ("KAFKA_SERVER", "kafka:9092"),
    ]);
    let key = platform::auth::SigningKey::generate().unwrap();
    let mut env = env;
    env.insert("JWT_PRIVATE_KEY".into(), key.to_pem().unwrap());
    let out = run(&["config", "check", "member"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout) + &text(&out.stderr);
    assert!(printed.contains("db"), "{printed}");
    assert!(!printed.contains("correct-horse-battery"), "{printed}");
    assert!(!printed.contains("redis-staple-secret"), "{printed}");
}

#[test]
fn a_service_with_bad_configuration_exits_2_before_starting() {
    let out = run(&["gallery"], &env_of(&[("PORT", "x")]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("PORT"));
}

#[test]
fn migrate_applies_a_services_migrations_to_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gallery.db");
    let url = format!("sqlite://{}", db.display());
    let env = env_of(&[("DATABASE_URL", &url), ("KAFKA_SERVER", "127.0.0.1:1")]);
    let out = run(&["migrate", "gallery"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(db.exists());
    assert!(run(&["migrate", "gallery"], &env).status.success());
}

#[tokio::test]
async fn standalone_answers_livez_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = env_of(&[("PORT", "0"), ("DATA_DIR", data.to_str().unwrap())]);
    let (child, addr) = start(&[], &env);
    assert_eq!(get(&format!("http://{addr}/livez")).await.0, 200);
    assert_eq!(
        get(&format!("http://{addr}/api/post/health")).await,
        (200, "게시물 서버 OK !!!".to_owned())
    );
    assert!(data.join("member.db").exists());
    assert!(terminate(child).success());
}

#[tokio::test]
async fn a_distributed_member_process_is_ready_with_real_servers_and_stops_on_sigterm() {
    let database = testkit::MySqlDatabase::create().await;
    let mut env = database.env.clone();
    env.insert("PORT".into(), "0".into());
    env.insert("BIND_ADDR".into(), "127.0.0.1".into());
    env.insert("LOG_FORMAT".into(), "json".into());
    let key = platform::auth::SigningKey::generate().unwrap();
    env.insert("JWT_PRIVATE_KEY".into(), key.to_pem().unwrap());
    let (child, addr) = start(&["member"], &env);
    let (status, body) = get(&format!("http://{addr}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    for dependency in ["database", "redis", "kafka"] {
        assert!(body.contains(&format!(r#""{dependency}":"ok""#)), "{body}");
    }
    assert_eq!(
        get(&format!("http://{addr}/api/member/health")).await,
        (200, "member 서버 ok".to_owned())
    );
    assert!(terminate(child).success());
    database.drop_now().await;
}

#[test]
fn keys_generate_writes_a_private_key_only_its_owner_can_read_and_a_public_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["keys", "generate", "--dir", dir.path().to_str().unwrap()],
        &HashMap::new(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let private = dir.path().join("jwt-private.pem");
    let mode = std::fs::metadata(&private).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let key =
        platform::auth::SigningKey::from_pem(&std::fs::read_to_string(&private).unwrap()).unwrap();
    let public = std::fs::read_to_string(dir.path().join("jwt-public.pem")).unwrap();
    assert!(platform::auth::VerifyingKeys::from_pem_bundle(&public).is_ok());
    assert!(text(&out.stdout).contains(key.kid()));
}

#[test]
fn keys_generate_never_overwrites_an_existing_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["keys", "generate", "--dir", dir.path().to_str().unwrap()];
    assert!(run(&args, &HashMap::new()).status.success());
    assert!(!run(&args, &HashMap::new()).status.success());
}
