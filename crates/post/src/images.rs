//! Images in object storage: streaming uploads checked by content, serving (local storage only),
//! deleting after commit, and the bundled default image.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart,
};

use crate::domain::{DEFAULT_IMAGE_KEY, ImageKey, ImageKind, Invalid, messages};
use crate::error::PostError;

/// Largest accepted image (docs/api.md, "Limits").
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// Largest total of images in one request.
pub const MAX_REQUEST_IMAGE_BYTES: u64 = 50 * 1024 * 1024;

/// The bundled frame image.
pub const DEFAULT_IMAGE: &[u8] = include_bytes!("../assets/Default.png");

/// Object storage plus what differs between its adapters.
#[derive(Clone)]
pub struct ImageStore {
    store: Arc<dyn ObjectStore>,
    local: bool,
}

impl std::fmt::Debug for ImageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageStore")
            .field("store", &self.store.to_string())
            .field("local", &self.local)
            .finish()
    }
}

/// Bytes of images read so far in one request.
#[derive(Debug, Default)]
pub struct UploadBudget {
    used: u64,
}

impl UploadBudget {
    fn take(&mut self, bytes: usize) -> Result<(), PostError> {
        self.used = self.used.saturating_add(bytes as u64);
        if self.used > MAX_REQUEST_IMAGE_BYTES {
            return Err(PostError::RequestTooLarge);
        }
        Ok(())
    }
}

/// A multipart read failure: 413 when the body limit was hit, else a malformed form.
pub fn multipart_error(error: &MultipartError) -> PostError {
    tracing::debug!(error = %error.body_text(), "unreadable multipart body");
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PostError::RequestTooLarge
    } else {
        PostError::Invalid(Invalid(messages::MULTIPART))
    }
}

impl ImageStore {
    /// Wraps a store; `local` stores are served by this service and cannot hold content types.
    pub fn new(store: Arc<dyn ObjectStore>, local: bool) -> Self {
        Self { store, local }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Whether `GET /api/post/image/{key}` serves from this store.
    pub fn is_local(&self) -> bool {
        self.local
    }

    fn attributes(&self, kind: ImageKind) -> Attributes {
        let mut attributes = Attributes::new();
        if !self.local {
            attributes.insert(Attribute::ContentType, kind.content_type().into());
            attributes.insert(Attribute::CacheControl, CACHE_CONTROL.into());
        }
        attributes
    }

    /// Stores the bundled default image unless it is there already.
    pub async fn ensure_default(&self) -> Result<(), object_store::Error> {
        let options = PutOptions {
            mode: PutMode::Create,
            attributes: self.attributes(ImageKind::Png),
            ..Default::default()
        };
        let payload = PutPayload::from_static(DEFAULT_IMAGE);
        match self
            .store
            .put_opts(&StorePath::from(DEFAULT_IMAGE_KEY), payload, options)
            .await
        {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Streams one file part into storage under a generated key.
    ///
    /// An empty part means "keep the image" and stores nothing. The type is checked on the first
    /// bytes, sizes while reading; on any failure nothing of this part remains stored.
    pub async fn upload(
        &self,
        field: &mut Field<'_>,
        budget: &mut UploadBudget,
    ) -> Result<Option<ImageKey>, PostError> {
        let mut head: Vec<Bytes> = Vec::new();
        let mut size = 0usize;
        while size < ImageKind::SNIFF_LEN {
            let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? else {
                break;
            };
            size += chunk.len();
            check_image_size(size)?;
            budget.take(chunk.len())?;
            head.push(chunk);
        }
        if size == 0 {
            return Ok(None);
        }
        let first: Vec<u8> = head
            .iter()
            .flat_map(|c| c.iter().copied())
            .take(16)
            .collect();
        let kind = ImageKind::sniff(&first).ok_or(PostError::ImageType)?;
        let key = ImageKey::generate(kind);
        let options = PutMultipartOptions {
            attributes: self.attributes(kind),
            ..Default::default()
        };
        let path = StorePath::from(key.as_str());
        let upload = self.store.put_multipart_opts(&path, options).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size());
        for chunk in head {
            writer.put(chunk);
        }
        match copy_rest(field, &mut writer, size, budget).await {
            Ok(()) => {
                writer.finish().await?;
                Ok(Some(key))
            }
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, key = key.as_str(), "cannot abort upload");
                }
                Err(error)
            }
        }
    }

    fn part_size(&self) -> usize {
        // S3 parts must be at least 5 MiB; a local file takes smaller writes and less memory.
        if self.local {
            1024 * 1024
        } else {
            5 * 1024 * 1024
        }
    }

    /// Deletes one image; a missing object counts as deleted, the default image is kept.
    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        if key == DEFAULT_IMAGE_KEY {
            return Ok(());
        }
        match self.store.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Deletes images that are no longer referenced; returns the keys that could not be deleted.
    /// Failures are logged, not returned as errors: the change they follow is already committed.
    pub async fn delete_all(&self, keys: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut failed = Vec::new();
        for key in keys {
            if let Err(error) = self.delete(&key).await {
                tracing::warn!(error = %platform::http::ErrorChain(&error), key, "cannot delete image");
                failed.push(key);
            }
        }
        failed
    }

    /// Answers `GET /api/post/image/{key}`.
    pub async fn serve(&self, raw_key: &str) -> Result<Response, PostError> {
        let key = ImageKey::parse(raw_key).ok_or(PostError::ImageNotFound)?;
        if !self.local {
            return Err(PostError::ImageNotFound);
        }
        let found = match self.store.get(&StorePath::from(key.as_str())).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Err(PostError::ImageNotFound),
            Err(e) => return Err(e.into()),
        };
        let length = found.meta.size;
        let body = Body::from_stream(found.into_stream().map_err(std::io::Error::other));
        let mut response = body.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(key.kind().content_type()),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        Ok(response)
    }
}

/// Keys are never reused for other content, so an image may be cached for good.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

fn check_image_size(size: usize) -> Result<(), PostError> {
    if size as u64 > MAX_IMAGE_BYTES {
        return Err(PostError::ImageTooLarge);
    }
    Ok(())
}

async fn copy_rest(
    field: &mut Field<'_>,
    writer: &mut WriteMultipart,
    mut size: usize,
    budget: &mut UploadBudget,
) -> Result<(), PostError> {
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        size += chunk.len();
        check_image_size(size)?;
        budget.take(chunk.len())?;
        writer.wait_for_capacity(2).await?;
        writer.put(chunk);
    }
    Ok(())
}
