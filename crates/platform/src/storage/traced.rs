//! Object storage calls as client spans, when spans are exported: an S3 bucket's with the AWS API
//! conventions (`S3.PutObject`, `rpc.*`, `aws.s3.bucket`, `aws.s3.key`), a local directory's
//! named the same way with `file.path`. Listing streams pass through without a span.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result, UploadPart,
};
use tracing::Instrument as _;

use crate::telemetry::{CLIENT_SPANS, exporting};

/// Where the objects live, for the spans' attributes.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// A directory of this machine.
    Local,
    /// An S3-compatible bucket.
    S3 {
        /// Its name.
        bucket: String,
    },
}

/// A store whose calls are spans.
#[derive(Debug)]
pub(super) struct Traced {
    inner: Arc<dyn ObjectStore>,
    target: Target,
}

impl Traced {
    pub(super) fn new(inner: Arc<dyn ObjectStore>, target: Target) -> Self {
        Self { inner, target }
    }

    /// The span of one call (`method` in S3's API terms) on `key`.
    fn span(&self, method: &'static str, key: &Path) -> tracing::Span {
        let span = self.call(method);
        key_of(&span, &self.target, key);
        span
    }

    /// The span of a call on objects named later ([`key_of`]).
    fn call(&self, method: &'static str) -> tracing::Span {
        if !exporting() {
            return tracing::Span::none();
        }
        match &self.target {
            Target::S3 { bucket } => tracing::info_span!(
                target: CLIENT_SPANS,
                "storage",
                otel.name = %format_args!("S3.{method}"),
                otel.kind = "client",
                otel.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
                rpc.system = "aws-api",
                rpc.service = "S3",
                rpc.method = method,
                aws.s3.bucket = bucket.as_str(),
                aws.s3.key = tracing::field::Empty,
            ),
            Target::Local => tracing::info_span!(
                target: CLIENT_SPANS,
                "storage",
                otel.name = %format_args!("file.{method}"),
                otel.kind = "client",
                otel.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
                file.path = tracing::field::Empty,
            ),
        }
    }
}

/// Names the object `span` acts on.
fn key_of(span: &tracing::Span, target: &Target, key: &Path) {
    let field = match target {
        Target::S3 { .. } => "aws.s3.key",
        Target::Local => "file.path",
    };
    span.record(field, key.as_ref());
}

/// Marks `span` failed when `result` is an error (a missing object included: the caller decides
/// whether that is expected).
fn outcome<T>(span: &tracing::Span, result: &Result<T>) {
    if let Err(error) = result {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", error_type(error));
    }
}

/// Awaits `call` inside `span` and marks the span with its outcome.
async fn within<T>(span: tracing::Span, call: impl Future<Output = Result<T>>) -> Result<T> {
    let result = call.instrument(span.clone()).await;
    outcome(&span, &result);
    result
}

fn error_type(error: &object_store::Error) -> &'static str {
    match error {
        object_store::Error::NotFound { .. } => "not_found",
        object_store::Error::AlreadyExists { .. } => "already_exists",
        object_store::Error::Precondition { .. } => "precondition",
        object_store::Error::NotModified { .. } => "not_modified",
        _ => "storage",
    }
}

impl fmt::Display for Traced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[async_trait]
impl ObjectStore for Traced {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        within(
            self.span("PutObject", location),
            self.inner.put_opts(location, payload, opts),
        )
        .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let span = self.span("MultipartUpload", location);
        let upload = within(span.clone(), self.inner.put_multipart_opts(location, opts)).await?;
        Ok(Box::new(Upload {
            inner: upload,
            span,
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let method = if options.head {
            "HeadObject"
        } else {
            "GetObject"
        };
        within(
            self.span(method, location),
            self.inner.get_opts(location, options),
        )
        .await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        within(
            self.span("GetObject", location),
            self.inner.get_ranges(location, ranges),
        )
        .await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let span = self.call("DeleteObject");
        let target = self.target.clone();
        // The span lasts as long as the caller consumes the deletions (one, for `delete`).
        self.inner
            .delete_stream(locations)
            .inspect(move |result| {
                if let Ok(key) = result {
                    key_of(&span, &target, key);
                }
                outcome(&span, result);
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let span = self.call("ListObjectsV2");
        if let Some(prefix) = prefix {
            key_of(&span, &self.target, prefix);
        }
        within(span, self.inner.list_with_delimiter(prefix)).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        within(
            self.span("CopyObject", to),
            self.inner.copy_opts(from, to, options),
        )
        .await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        within(
            self.span("RenameObject", to),
            self.inner.rename_opts(from, to, options),
        )
        .await
    }
}

/// A multipart upload whose span lasts from its start to its completion or abort.
#[derive(Debug)]
struct Upload {
    inner: Box<dyn MultipartUpload>,
    span: tracing::Span,
}

#[async_trait]
impl MultipartUpload for Upload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        Box::pin(self.inner.put_part(data).instrument(self.span.clone()))
    }

    async fn complete(&mut self) -> Result<PutResult> {
        within(self.span.clone(), self.inner.complete()).await
    }

    async fn abort(&mut self) -> Result<()> {
        within(self.span.clone(), self.inner.abort()).await
    }
}
