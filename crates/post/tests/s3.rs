//! The S3 adapter against moto's S3-compatible server (installed from PyPI by scripts/moto-server).

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use common::{Form, Harness, PostPart, png};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;
use platform::SecretString;
use platform::config::StorageConfig;
use post::Settings;

/// A moto server for one test; killed when dropped.
struct Moto {
    _child: tokio::process::Child,
    endpoint: String,
}

impl Moto {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto-server");
        let child = tokio::process::Command::new(script)
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        // First use installs moto; allow for that, then fail loudly.
        for _ in 0..1800 {
            if client
                .put(format!("{endpoint}/images"))
                .send()
                .await
                .is_ok()
            {
                return Self {
                    _child: child,
                    endpoint,
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto did not start on {endpoint}");
    }

    fn storage(&self) -> StorageConfig {
        StorageConfig::S3 {
            bucket: "images".into(),
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".into(),
            access_key: SecretString::from("test"),
            secret_key: SecretString::from("test"),
        }
    }
}

async fn harness(moto: &Moto) -> Harness {
    let settings = Settings {
        image_base_url: "https://cdn.example/images/".into(),
        ..Settings::default()
    };
    let h = Harness::mysql_s3(moto.storage(), settings).await;
    h.gallery(1, 7, 2).await;
    h
}

async fn objects(h: &Harness) -> BTreeSet<String> {
    h.state
        .images
        .store()
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_default_image_is_placed_in_the_bucket_at_start() {
    let moto = Moto::start().await;
    let h = harness(&moto).await;
    assert_eq!(
        objects(&h).await,
        BTreeSet::from(["Default.png".to_owned()])
    );
}

#[tokio::test]
async fn an_upload_lands_in_the_bucket_with_its_content_type_and_replaces_the_old_object() {
    let moto = Moto::start().await;
    let h = harness(&moto).await;
    let id = h.post_ids(1).await[0];
    let mut part = PostPart::new(id, 1);
    part.image = Some(png(6 * 1024 * 1024));
    assert_eq!(
        h.patch_posts(1, 7, Form::default().post(0, &part)).await.0,
        StatusCode::OK
    );
    let first: Vec<String> = objects(&h)
        .await
        .into_iter()
        .filter(|k| k != "Default.png")
        .collect();
    assert_eq!(first.len(), 1);
    let stored = h
        .state
        .images
        .store()
        .get(&StorePath::from(first[0].as_str()))
        .await
        .unwrap();
    assert_eq!(
        stored
            .attributes
            .get(&object_store::Attribute::ContentType)
            .map(|v| v.as_ref()),
        Some("image/png")
    );
    assert_eq!(stored.bytes().await.unwrap().len(), 6 * 1024 * 1024);

    part.image = Some(png(100));
    h.patch_posts(1, 7, Form::default().post(0, &part)).await;
    let after = objects(&h).await;
    assert_eq!(after.len(), 2);
    assert!(after.contains("Default.png") && !after.contains(&first[0]));
    let (_, body) = h.get("/api/post/list/1").await;
    let url = body["data"][0]["imageURL"].as_str().unwrap();
    assert!(url.starts_with("https://cdn.example/images/") && after.contains(&url[27..]));
}

#[tokio::test]
async fn a_failed_edit_leaves_no_object_in_the_bucket() {
    let moto = Moto::start().await;
    let h = harness(&moto).await;
    let ids = h.post_ids(1).await;
    let mut good = PostPart::new(ids[0], 1);
    good.image = Some(png(1000));
    let mut bad = PostPart::new(ids[1], 2);
    bad.image = Some(b"not an image at all".to_vec());
    let (status, _) = h
        .patch_posts(1, 7, Form::default().post(0, &good).post(1, &bad))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        objects(&h).await,
        BTreeSet::from(["Default.png".to_owned()])
    );
}

#[tokio::test]
async fn the_service_does_not_serve_bucket_images_itself() {
    let moto = Moto::start().await;
    let h = harness(&moto).await;
    let (status, body) = h.get("/api/post/image/Default.png").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errorCode"], "GP007");
}
