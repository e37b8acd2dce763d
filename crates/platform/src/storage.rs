//! Object storage for images: a local directory or an S3-compatible bucket behind one trait object.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use secrecy::ExposeSecret;

use crate::config::StorageConfig;

mod traced;

/// Why the object store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The local directory could not be created.
    #[error("cannot create the image directory {path}")]
    CreateDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The store rejected its configuration.
    #[error("cannot open object storage {target}")]
    Open {
        /// Which store.
        target: String,
        /// The cause.
        source: object_store::Error,
    },
}

/// Opens the configured store; its calls are client spans of the request or job making them.
pub fn open(config: &StorageConfig) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let target = match config {
        StorageConfig::Local { .. } => traced::Target::Local,
        StorageConfig::S3 { bucket, .. } => traced::Target::S3 {
            bucket: bucket.clone(),
        },
    };
    Ok(Arc::new(traced::Traced::new(open_plain(config)?, target)))
}

fn open_plain(config: &StorageConfig) -> Result<Arc<dyn ObjectStore>, StorageError> {
    match config {
        StorageConfig::Local { root } => {
            std::fs::create_dir_all(root).map_err(|source| StorageError::CreateDir {
                path: root.display().to_string(),
                source,
            })?;
            let store =
                LocalFileSystem::new_with_prefix(root).map_err(|source| StorageError::Open {
                    target: root.display().to_string(),
                    source,
                })?;
            Ok(Arc::new(store))
        }
        StorageConfig::S3 {
            bucket,
            endpoint,
            region,
            access_key,
            secret_key,
        } => {
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(region)
                .with_access_key_id(access_key.expose_secret())
                .with_secret_access_key(secret_key.expose_secret());
            if let Some(endpoint) = endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_virtual_hosted_style_request(false);
            }
            let store = builder.build().map_err(|source| StorageError::Open {
                target: format!("s3://{bucket}"),
                source,
            })?;
            Ok(Arc::new(store))
        }
    }
}
