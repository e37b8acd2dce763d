//! An HTTP client that behaves like the browser frontend: it keeps `gallery_cookie` itself.

use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::{Method, header};

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// How many requests every [`Visitor`] of this process has sent so far (for benchmarks).
pub fn requests_sent() -> u64 {
    REQUESTS.load(Ordering::Relaxed)
}

/// How many of them failed: no answer at all, or a 5xx (for rollouts and kills, where a 4xx is
/// a journey's own concern but a 5xx or a dropped connection is the system's).
pub fn failed_requests() -> u64 {
    FAILED.load(Ordering::Relaxed)
}
use serde_json::Value;

/// A browser: anonymous until it signs in.
#[derive(Debug, Clone)]
pub struct Visitor {
    http: reqwest::Client,
    base: String,
    /// The `gallery_cookie` value, once signed in.
    pub cookie: Option<String>,
}

pub use testkit::Answer;

impl Visitor {
    /// A new anonymous visitor of the gateway at `base` (`http://host:port`).
    pub fn new(base: &str) -> Self {
        Self::resolving(base, None)
    }

    /// As [`Visitor::new`], with `base`'s host name resolved to the given address (an ingress
    /// that routes by host name, without touching the machine's resolver).
    pub fn resolving(base: &str, resolve: Option<&(String, std::net::SocketAddr)>) -> Self {
        let mut http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
        if let Some((host, addr)) = resolve {
            http = http.resolve(host, *addr);
        }
        Self {
            http: http.build().unwrap(),
            base: base.trim_end_matches('/').to_owned(),
            cookie: None,
        }
    }

    /// Sends a request with an optional JSON body, keeping any cookie the server sets.
    pub async fn send(&mut self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.finish(request).await
    }

    /// A request without a body and with extra headers (a proxy's, say).
    pub async fn send_with(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.finish(request).await
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    /// `POST path` with JSON.
    pub async fn post(&mut self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    /// `PATCH path` with JSON.
    pub async fn patch(&mut self, path: &str, body: &Value) -> Answer {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&mut self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    /// `PATCH path` with a multipart form, as the frontend edits frames.
    pub async fn patch_multipart(&mut self, path: &str, form: reqwest::multipart::Form) -> Answer {
        let request = self.http.patch(self.url(path)).multipart(form);
        self.finish(request).await
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn finish(&mut self, mut request: reqwest::RequestBuilder) -> Answer {
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, format!("gallery_cookie={cookie}"));
        }
        REQUESTS.fetch_add(1, Ordering::Relaxed);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                FAILED.fetch_add(1, Ordering::Relaxed);
                panic!("the gateway answers: {e}");
            }
        };
        let status = response.status();
        if status.is_server_error() {
            FAILED.fetch_add(1, Ordering::Relaxed);
        }
        let headers = response.headers().clone();
        for set in headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap_or_default();
            if let Some(rest) = set.strip_prefix("gallery_cookie=") {
                let value = rest.split(';').next().unwrap_or_default();
                self.cookie = (!value.is_empty()).then(|| value.to_owned());
            }
        }
        let bytes = response.bytes().await.unwrap_or_default().to_vec();
        Answer::new(status, headers, bytes)
    }
}
