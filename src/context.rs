//! Who is making a request and under which request id: what audit entries record.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use time::{Date, OffsetDateTime};

use crate::auth::{Permission, Principal};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::ledger::model::Stamp;
use crate::observability::RequestId;

/// The authenticated caller, the request id, and the instant the request is served at (from
/// the service's clock: every date and timestamp the request records derives from it).
pub struct Ctx {
    pub principal: Principal,
    pub request_id: Option<String>,
    pub now: OffsetDateTime,
}

impl Ctx {
    /// Today, as the service's clock had it when the request arrived.
    pub fn today(&self) -> Date {
        self.now.date()
    }

    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        self.principal.require(permission)
    }

    /// The partner a partner token is confined to; `None` for internal roles.
    pub fn partner_scope(&self) -> Option<uuid::Uuid> {
        self.principal.partner_id
    }

    /// The stamp of this request's changes, at the request's instant.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            now: self.now,
            actor: self.principal.subject.clone(),
            request_id: self.request_id.clone(),
        }
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
        let now = match req.app_data::<Clock>() {
            Some(clock) => clock.now(),
            None => return ready(Err(ApiError::internal("the application has no clock"))),
        };
        ready(Ok(Ctx {
            principal,
            request_id,
            now,
        }))
    }
}
