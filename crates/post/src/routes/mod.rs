//! HTTP routes of the post service, one file per resource.

pub mod comments;
pub mod images;
pub mod music;
pub mod openapi;
pub mod posts;

use serde::Deserialize;

/// `page` / `size` of listings (A.1 Q11): page 0 and size 100 by default, size at most 100.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Zero-based page.
    pub page: Option<u64>,
    /// Page size, 1–100.
    pub size: Option<u64>,
}

impl PageQuery {
    /// The page and a size clamped to 1..=100.
    pub fn resolve(self) -> (u64, u64) {
        (
            self.page.unwrap_or(0),
            self.size.unwrap_or(100).clamp(1, 100),
        )
    }
}
