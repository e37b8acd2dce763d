//! Standalone mode as a person runs it: state survives a restart (sessions included), and a
//! frontend build in `STATIC_DIR` is served beside the API.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{Service, System, journeys};
use serde_json::json;

#[tokio::test]
async fn a_crash_and_restart_keeps_members_sessions_galleries_and_frames() {
    let mut system = System::standalone(env!("CARGO_BIN_EXE_thegallery").as_ref()).await;
    let (mut alice, nickname) = journeys::new_member(&system, "rs").await;
    let created = alice
        .post(
            "/api/gallery",
            &json!({"placeId": 2, "name": "남는 전시", "content": null}),
        )
        .await
        .expect(200);
    let gallery = created.data()["galleryId"].as_i64().unwrap();
    journeys::eventually("the frames appear", || {
        let mut visitor = system.visitor();
        async move {
            let list = visitor.get(&format!("/api/post/list/{gallery}")).await;
            (list.data().as_array().map(Vec::len) == Some(10)).then_some(())
        }
    })
    .await;

    system.crash_and_restart(Service::Gateway).await;

    let profile = alice.get("/api/member").await.expect(200);
    assert_eq!(
        profile.data()["nickname"],
        nickname.as_str(),
        "the session survived"
    );
    let mut visitor = system.visitor();
    let shown = visitor
        .get(&format!("/api/gallery/{gallery}"))
        .await
        .expect(200);
    assert_eq!(shown.data()["name"], "남는 전시");
    let frames = visitor
        .get(&format!("/api/post/list/{gallery}"))
        .await
        .expect(200);
    assert_eq!(frames.data().as_array().unwrap().len(), 10);
    system.stop().await;
}

struct Frontend {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Frontend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_with_frontend() -> Frontend {
    start(true)
}

/// Runs the binary on a free port, with a small frontend build in `STATIC_DIR` or without one.
fn start(frontend: bool) -> Frontend {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("assets")).unwrap();
    std::fs::write(site.join("index.html"), "<html>the gallery</html>").unwrap();
    std::fs::write(site.join("assets/app.js"), "console.log('hi')").unwrap();
    let mut env: HashMap<&str, String> = HashMap::from([
        ("PORT", "0".to_owned()),
        ("DATA_DIR", dir.path().join("data").display().to_string()),
    ]);
    if frontend {
        env.insert("STATIC_DIR", site.display().to_string());
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_thegallery"))
        .env_clear()
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let line = stdout
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("http://"))
        .expect("the process says where it listens");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    Frontend {
        child,
        base,
        _dir: dir,
    }
}

async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

#[tokio::test]
async fn static_dir_serves_the_frontend_its_files_and_index_html_for_client_routes() {
    let site = start_with_frontend();
    let (status, kind, body) = get(&format!("{}/", site.base)).await;
    assert_eq!((status, body.as_str()), (200, "<html>the gallery</html>"));
    assert!(kind.starts_with("text/html"), "{kind}");
    let (status, kind, _) = get(&format!("{}/assets/app.js", site.base)).await;
    assert_eq!(status, 200);
    assert!(kind.contains("javascript"), "{kind}");
    let (status, _, body) = get(&format!("{}/gallery/12/edit", site.base)).await;
    assert_eq!((status, body.as_str()), (200, "<html>the gallery</html>"));
}

#[tokio::test]
async fn with_a_frontend_the_api_and_its_errors_are_unchanged() {
    let site = start_with_frontend();
    let (status, _, body) = get(&format!("{}/api/post/health", site.base)).await;
    assert_eq!((status, body.as_str()), (200, "게시물 서버 OK !!!"));
    let (status, kind, body) = get(&format!("{}/api/nowhere", site.base)).await;
    assert_eq!(status, 404);
    assert!(kind.starts_with("application/json"), "{kind}: {body}");
    let (status, _, _) = get(&format!("{}/livez", site.base)).await;
    assert_eq!(status, 200);
}

/// Sends `request` as raw bytes and reads until the server closes the connection.
async fn raw(base: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection stayed open");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn standalone_refuses_two_host_headers_and_an_oversized_head_like_the_services() {
    let site = start_with_frontend();
    let two_hosts = raw(
        &site.base,
        "GET /api/gallery/search?type=all&query= HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
    )
    .await;
    assert!(two_hosts.starts_with("HTTP/1.1 400"), "{two_hosts}");
    assert!(
        two_hosts.contains(r#""errorCode":"GATE001""#),
        "{two_hosts}"
    );
    let big = format!(
        "GET /api/gallery/search?type=all&query= HTTP/1.1\r\nhost: a\r\nx-big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let oversized = raw(&site.base, &big).await;
    assert!(oversized.starts_with("HTTP/1.1 431"), "{oversized}");
}

#[tokio::test]
async fn place_image_urls_name_the_host_and_port_the_browser_used() {
    let site = start_with_frontend();
    let answer = raw(
        &site.base,
        "GET /api/gallery/place/list HTTP/1.1\r\nhost: 10.1.2.3:4321\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(
            r#""twoDimensionImageUri":"http://10.1.2.3:4321/api/gallery/place/image/1-2d.png""#
        ),
        "{answer}"
    );
}

#[tokio::test]
async fn without_a_frontend_the_root_is_a_page_with_each_services_health_and_the_api_links() {
    let site = start(false);
    let (status, kind, body) = get(&format!("{}/", site.base)).await;
    assert_eq!(status, 200, "{body}");
    assert!(kind.starts_with("text/html"), "{kind}");
    for part in [
        "<td>member</td><td>database</td><td>ok</td>",
        "<td>post</td>",
        "/api/gallery/openapi.json",
    ] {
        assert!(body.contains(part), "{part} missing from {body}");
    }
    for linked in [
        "/api/gallery/openapi.json",
        "/api/member/docs/",
        "/api/post/docs/",
    ] {
        let (status, _, _) = get(&format!("{}{linked}", site.base)).await;
        assert_eq!(status, 200, "the page links to {linked}, which is there");
    }
}
