//! Finding the addresses of an upstream: each configured `host:port` resolved to all its
//! addresses (a Kubernetes headless Service answers one per ready pod), the last good answer kept
//! when a lookup fails or finds nothing.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::uri::Authority;
use platform::config::HostPort;

/// A lookup slower than this counts as failed (the previous addresses stay).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Name resolution, replaceable in tests.
#[async_trait::async_trait]
pub trait Resolve: Send + Sync + fmt::Debug + 'static {
    /// Every address `host` has now, with `port`.
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system's resolver (`getaddrinfo`, on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait::async_trait]
impl Resolve for SystemResolver {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// One configured `host:port`.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    host: String,
    port: u16,
    authority: Authority,
    /// Set when the host is an IP address: nothing to resolve.
    literal: Option<SocketAddr>,
}

impl Entry {
    pub(crate) fn new(host_port: &HostPort) -> anyhow::Result<Self> {
        let authority = host_port
            .to_string()
            .parse()
            .map_err(|e| anyhow::anyhow!("upstream {host_port} is not a valid authority: {e}"))?;
        let literal = host_port
            .host
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, host_port.port));
        Ok(Self {
            host: host_port.host.clone(),
            port: host_port.port,
            authority,
            literal,
        })
    }

    pub(crate) fn is_name(&self) -> bool {
        self.literal.is_none()
    }
}

/// The entries of one service and what each resolved to last.
#[derive(Debug)]
pub(crate) struct Resolution {
    entries: Vec<Entry>,
    last: Vec<Vec<SocketAddr>>,
    resolver: Arc<dyn Resolve>,
}

impl Resolution {
    pub(crate) fn new(entries: Vec<Entry>, resolver: Arc<dyn Resolve>) -> Self {
        let last = entries
            .iter()
            .map(|e| e.literal.into_iter().collect())
            .collect();
        Self {
            entries,
            last,
            resolver,
        }
    }

    pub(crate) fn has_names(&self) -> bool {
        self.entries.iter().any(Entry::is_name)
    }

    /// What is known without a lookup: the literal addresses (and earlier answers).
    pub(crate) fn known(&self) -> Vec<(SocketAddr, Authority)> {
        let pairs = self.entries.iter().zip(&self.last);
        let mut found: Vec<(SocketAddr, Authority)> = Vec::new();
        for (entry, addrs) in pairs {
            for addr in addrs {
                if !found.iter().any(|(a, _)| a == addr) {
                    found.push((*addr, entry.authority.clone()));
                }
            }
        }
        found
    }

    /// Looks every name up again (concurrently) and returns all addresses, each once.
    pub(crate) async fn refresh(&mut self) -> Vec<(SocketAddr, Authority)> {
        let resolver = &self.resolver;
        let lookups = self.entries.iter().map(|entry| async move {
            if !entry.is_name() {
                return None;
            }
            let lookup = resolver.lookup(&entry.host, entry.port);
            match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                Ok(Ok(addrs)) if !addrs.is_empty() => Some(addrs),
                Ok(Ok(_)) => {
                    tracing::warn!(host = %entry.host, "upstream name has no address; keeping the previous ones");
                    None
                }
                Ok(Err(e)) => {
                    tracing::warn!(host = %entry.host, error = %e, "upstream name not resolved; keeping the previous addresses");
                    None
                }
                Err(_) => {
                    tracing::warn!(host = %entry.host, "upstream name lookup timed out; keeping the previous addresses");
                    None
                }
            }
        });
        let answers = futures::future::join_all(lookups).await;
        for (last, answer) in self.last.iter_mut().zip(answers) {
            if let Some(addrs) = answer {
                *last = addrs;
            }
        }
        self.known()
    }
}
