//! Paging shared by every list endpoint: `?page=&per_page=` in, `{items, total, page,
//! per_page}` out.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const MAX_PER_PAGE: i64 = 200;
pub const DEFAULT_PER_PAGE: i64 = 50;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Items per page, 1..=200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// Validated paging parameters.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

impl TryFrom<PageQuery> for Page {
    type Error = ApiError;

    fn try_from(q: PageQuery) -> Result<Self, ApiError> {
        let page = q.page.unwrap_or(1);
        let per_page = q.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=1_000_000).contains(&page) {
            return Err(ApiError::invalid_field(
                "page",
                "page must be between 1 and 1000000",
            ));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::invalid_field(
                "per_page",
                format!("per_page must be between 1 and {MAX_PER_PAGE}"),
            ));
        }
        Ok(Page { page, per_page })
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> Paginated<T> {
    pub fn new(items: Vec<T>, total: i64, page: Page) -> Self {
        Self {
            items,
            total,
            page: page.page,
            per_page: page.per_page,
        }
    }
}
