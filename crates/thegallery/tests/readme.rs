//! The README's distributed quick start, run as a newcomer would paste it: the lines between its
//! markers, in bash, against the local servers. Two changes only, both forced by a test harness:
//! the binary is the one this test was built with (scripts/test has already run
//! `scripts/dev-services up`; a release build here would double the suite's time), and the ports
//! 8000–8003 become free ones so that the test never depends on fixed ports. The shell's
//! environment also turns the sign-in rate limit off (see [`Shell::start`]).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform::config::{Environment, ProcessEnv};

const BEGIN: &str = "<!-- distributed quick start: begin -->";
const END: &str = "<!-- distributed quick start: end -->";

/// The shell lines of the README's block, without the fence.
fn quick_start() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("the README marks its quick start")
        + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .expect("the block has an end marker")
        + start;
    let block = readme[start..end].trim();
    let body = block
        .strip_prefix("```sh")
        .and_then(|b| b.strip_suffix("```"))
        .expect("the block is one sh fence");
    body.trim().lines().map(str::to_owned).collect()
}

/// The lines as this test runs them (see the module comment).
fn as_run(lines: &[String], ports: [u16; 4]) -> String {
    let bin = env!("CARGO_BIN_EXE_thegallery");
    let mut script = String::from("set -u\n");
    for line in lines {
        if line.starts_with("scripts/dev-services up") || line.starts_with("cargo build --release")
        {
            continue;
        }
        let mut line = line.replace("target/release/thegallery", bin);
        for (fixed, free) in (8000..=8003).zip(ports) {
            line = line.replace(&fixed.to_string(), &free.to_string());
        }
        script.push_str(&line);
        script.push('\n');
    }
    script.push_str("wait\n");
    script
}

/// The shell and everything it started, in a process group of their own.
struct Shell {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Shell {
    fn start(script: &str, cwd: &std::path::Path) -> (Self, std::sync::mpsc::Receiver<()>) {
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", ProcessEnv.get("PATH").unwrap_or_default())
            .env("HOME", cwd)
            // The sign-in limit counts per client address in the shared Redis, and every test
            // here comes from 127.0.0.1: the other suites' sign-ins would spend this one's.
            .env("RATE_LIMIT_SIGNIN", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let (ready, seen) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let (output, ready) = (Arc::clone(&output), ready.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if line.contains("is ready at") {
                        let _ = ready.send(());
                    }
                    output.lock().unwrap().push(line);
                }
            });
        }
        (Self { child, output }, seen)
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_readmes_distributed_quick_start_gives_a_working_system_when_pasted() {
    let lines = quick_start();
    assert!(lines[0].starts_with("scripts/dev-services up"), "{lines:?}");
    assert!(lines[1].starts_with("cargo build --release"), "{lines:?}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("target")).unwrap();
    std::fs::copy(
        testkit::env_file(),
        dir.path().join("target/dev-services.env"),
    )
    .unwrap();
    let ports = e2e::free_ports::<4>();
    let (shell, ready) = Shell::start(&as_run(&lines, ports), dir.path());
    let waited = tokio::task::spawn_blocking(move || ready.recv_timeout(Duration::from_secs(180)))
        .await
        .unwrap();
    assert!(
        waited.is_ok(),
        "the four processes never became ready:\n{}",
        shell.output()
    );

    let system = e2e::System::external(&format!("http://127.0.0.1:{}", ports[0]), None);
    let (mut alice, nickname) = e2e::journeys::new_member(&system, "rd").await;
    let profile = alice.get("/api/member").await.expect(200);
    assert_eq!(profile.data()["nickname"], nickname.as_str());
    alice.get("/api/gallery/place/list").await.expect(200);
    assert!(
        dir.path().join("target/keys/jwt-private.pem").is_file(),
        "the block made the key pair it uses"
    );
}
