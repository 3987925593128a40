//! Cursor pagination, shared by every list: `limit` (default 50, at most 200) and an opaque
//! `cursor` naming the last row of the previous page; rows come in a stable order.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, FieldError};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_query",
        detail: format!("The query parameter {field} is invalid: {message}."),
        errors: vec![FieldError::new(field, "invalid", message)],
    }
}

impl PageParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(invalid("limit", "must be between 1 and 200")),
        }
    }

    /// The key carried by the cursor, parsed as the list's ordering key.
    pub fn after<K: std::str::FromStr>(&self) -> Result<Option<K>, ApiError> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse().ok())
            .map(Some)
            .ok_or_else(|| invalid("cursor", "is not a cursor returned by this list"))
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Whether another page follows.
    pub has_more: bool,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in list order.
    pub fn from_rows<R, K: ToString>(
        mut rows: Vec<R>,
        limit: i64,
        key: impl Fn(&R) -> K,
        view: impl FnMut(R) -> T,
    ) -> Page<T> {
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if has_more {
            rows.last()
                .map(|r| URL_SAFE_NO_PAD.encode(key(r).to_string()))
        } else {
            None
        };
        Page {
            data: rows.into_iter().map(view).collect(),
            has_more,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_points_at_its_last_row() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |r| *r, |r| r * 10);
        assert_eq!(page.data, vec![10, 20]);
        assert!(page.has_more);
        let params = PageParams {
            limit: Some(2),
            cursor: page.next_cursor,
        };
        assert_eq!(params.after::<i64>().unwrap(), Some(2));
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let page = Page::from_rows(vec![1, 2], 2, |r| *r, |r| r);
        assert!(!page.has_more);
        assert!(page.next_cursor.is_none());
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        assert_eq!(PageParams::default().limit().unwrap(), 50);
        assert!(PageParams {
            limit: Some(201),
            cursor: None
        }
        .limit()
        .is_err());
        assert!(PageParams {
            limit: Some(0),
            cursor: None
        }
        .limit()
        .is_err());
        let bad = PageParams {
            limit: None,
            cursor: Some("!!".into()),
        };
        assert!(bad.after::<uuid::Uuid>().is_err());
    }
}
