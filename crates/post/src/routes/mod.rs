//! HTTP routes of the post service, one file per resource.

pub mod comments;
pub mod images;
pub mod music;
pub mod openapi;
pub mod posts;
