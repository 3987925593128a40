//! The route table derived from the document, which tells a wrong method (405) from an
//! unknown path (404).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use utoipa::openapi::{OpenApi as Spec, PathItem};

fn methods(item: &PathItem) -> Vec<Method> {
    [
        (item.get.is_some(), Method::GET),
        (item.post.is_some(), Method::POST),
        (item.put.is_some(), Method::PUT),
        (item.patch.is_some(), Method::PATCH),
        (item.delete.is_some(), Method::DELETE),
        (item.head.is_some(), Method::HEAD),
        (item.options.is_some(), Method::OPTIONS),
    ]
    .into_iter()
    .filter_map(|(present, method)| present.then_some(method))
    .collect()
}

/// The documented paths (templates split in segments) and their methods.
pub struct RouteTable(Vec<(Vec<String>, Vec<Method>)>);

impl RouteTable {
    pub fn from_spec(spec: &Spec) -> RouteTable {
        RouteTable(
            spec.paths
                .paths
                .iter()
                .map(|(path, item)| (path.split('/').map(str::to_string).collect(), methods(item)))
                .collect(),
        )
    }

    /// The methods a path allows, if some documented path matches it: those of the path
    /// itself when it is documented literally (an action beside an `{id}`), else those of
    /// every template it fits.
    pub fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        if let Some(methods) = self.literal(path) {
            return Some(methods);
        }
        let segments: Vec<&str> = path.split('/').collect();
        let mut found: Option<Vec<Method>> = None;
        for (template, methods) in &self.0 {
            let matches = template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s);
            if matches {
                found
                    .get_or_insert_with(Vec::new)
                    .extend(methods.iter().cloned());
            }
        }
        found
    }
}

impl RouteTable {
    /// The methods of the documented path that is `path` itself, with no parameter standing
    /// for a segment: `/v1/collections/assignment-rules/apply` is that action's path, not an
    /// `{id}` that fails to parse.
    pub fn literal(&self, path: &str) -> Option<Vec<Method>> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template
                    .iter()
                    .map(String::as_str)
                    .eq(segments.iter().copied())
            })
            .map(|(_, methods)| methods.clone())
    }
}

/// 405 with `Allow`: the path exists, the method is not one of its own.
pub fn method_not_allowed(req: &HttpRequest, methods: &[Method]) -> HttpResponse {
    use actix_web::ResponseError;
    let allow = methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = crate::error::ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}; allowed: {allow}.",
        req.method(),
        req.path()
    ))
    .error_response();
    response.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_str(&allow).expect("method names are ASCII"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_by_segment() {
        let spec = crate::openapi_spec();
        let table = RouteTable::from_spec(&spec);
        let allowed = table
            .allowed("/v1/accounts/0193b1f4-6c1e-7c52-9d1a-3f2b8e0c4a11")
            .unwrap();
        assert!(allowed.contains(&Method::GET) && allowed.contains(&Method::PATCH));
        assert!(!allowed.contains(&Method::DELETE));
        assert_eq!(
            table.allowed("/v1/collections/assignment-rules/apply"),
            Some(vec![Method::POST])
        );
        assert!(table.allowed("/v1/nothing").is_none());
        assert!(table.allowed("/v1/accounts//contacts").is_none());
    }
}
