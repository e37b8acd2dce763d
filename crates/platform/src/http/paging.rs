//! Paging of list routes: `page` and `size` bounded so that the row offset always fits the
//! databases' signed 64-bit integers, with the same rules on every list (docs/api.md, "Paging").

/// Items on a page when the client does not say.
pub const DEFAULT_SIZE: u64 = 100;
/// The largest `size` a list answers.
pub const MAX_SIZE: u64 = 100;
/// The largest `page`: with [`MAX_SIZE`] the offset stays far below `i64::MAX`.
pub const MAX_PAGE: u64 = 10_000_000;
/// Message of a refused `page` or `size`, shown to people as is.
pub const PAGING_MESSAGE: &str =
    "page는 0 이상 10000000 이하, size는 1 이상 100 이하로 입력해주세요";

/// A page of a list: `page` in `0..=MAX_PAGE`, `size` in `1..=MAX_SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    page: u64,
    size: u64,
}

/// A `page` or `size` outside its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{PAGING_MESSAGE}")]
pub struct PagingError;

impl Page {
    /// Checks the bounds; the defaults are page 0 and size [`DEFAULT_SIZE`].
    pub fn parse(page: Option<u64>, size: Option<u64>) -> Result<Self, PagingError> {
        let page = page.unwrap_or(0);
        let size = size.unwrap_or(DEFAULT_SIZE);
        if page > MAX_PAGE || !(1..=MAX_SIZE).contains(&size) {
            return Err(PagingError);
        }
        Ok(Self { page, size })
    }

    /// Zero-based page number.
    pub fn page(self) -> u64 {
        self.page
    }

    /// Items per page.
    pub fn size(self) -> u64 {
        self.size
    }

    /// Rows to skip; at most `MAX_PAGE × MAX_SIZE`, so it fits an `i64`.
    pub fn offset(self) -> u64 {
        self.page * self.size
    }
}

/// The `page` and `size` query parameters of a list route.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Zero-based page, default 0.
    #[param(minimum = 0, maximum = 10_000_000)]
    pub page: Option<u64>,
    /// Items per page, default 100.
    #[param(minimum = 1, maximum = 100)]
    pub size: Option<u64>,
}

impl PageQuery {
    /// The page these parameters ask for.
    pub fn parse(self) -> Result<Page, PagingError> {
        Page::parse(self.page, self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_first_page_of_one_hundred() {
        assert_eq!(
            Page::parse(None, None).map(|p| (p.page(), p.size())),
            Ok((0, 100))
        );
    }

    #[test]
    fn a_size_of_zero_or_above_one_hundred_is_refused() {
        assert_eq!(Page::parse(None, Some(0)), Err(PagingError));
        assert_eq!(Page::parse(None, Some(101)), Err(PagingError));
    }

    #[test]
    fn a_page_whose_offset_would_overflow_a_signed_integer_is_refused() {
        assert_eq!(Page::parse(Some(1 << 63), Some(1)), Err(PagingError));
        assert_eq!(
            Page::parse(Some(92_233_720_368_547_759), None),
            Err(PagingError)
        );
    }

    #[test]
    fn the_largest_offset_fits_a_signed_integer() {
        let last = Page::parse(Some(MAX_PAGE), Some(MAX_SIZE)).map(Page::offset);
        assert!(last.is_ok_and(|offset| i64::try_from(offset).is_ok()));
    }
}
