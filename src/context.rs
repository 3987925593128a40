//! Who is making a request and under which request id: what audit entries record.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::observability::RequestId;

/// The authenticated caller and the request id.
pub struct Ctx {
    pub principal: Principal,
    pub request_id: Option<String>,
}

impl Ctx {
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        self.principal.require(permission)
    }

    /// The partner a partner token is confined to; `None` for internal roles.
    pub fn partner_scope(&self) -> Option<uuid::Uuid> {
        self.principal.partner_id
    }

    /// Scope of idempotency keys: keys of different callers never collide.
    pub fn idempotency_scope(&self) -> String {
        format!(
            "{}:{}",
            self.principal.role.as_str(),
            self.principal.subject
        )
    }
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let principal = match Principal::from_request(req, payload).into_inner() {
            Ok(p) => p,
            Err(e) => return ready(Err(e)),
        };
        let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
        ready(Ok(Ctx {
            principal,
            request_id,
        }))
    }
}
