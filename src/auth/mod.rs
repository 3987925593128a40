//! Bearer-token authentication (JWT): verifying and minting tokens, and the request's
//! [`Principal`]. The roles and what each may do are in [`roles`].

use std::collections::HashMap;
use std::future::{ready, Ready};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::JwtSettings;
use crate::error::ApiError;

pub mod roles;

pub use roles::{permission_table_markdown, Permission, Role};

/// Claims of an access token this service mints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<Uuid>,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
}

/// What verification reads from a token beyond the registered claims jsonwebtoken checks
/// (`exp`, `nbf`, `iss`, `aud` as a string or a list).
#[derive(Deserialize)]
struct TokenClaims {
    sub: String,
    role: String,
    #[serde(default)]
    partner_id: Option<Uuid>,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
    /// Set for partner tokens: the only partner whose accounts they see.
    pub partner_id: Option<Uuid>,
}

impl Principal {
    pub fn can(&self, permission: Permission) -> bool {
        permission.roles().contains(&self.role)
    }

    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "role {} lacks the permission {}",
                self.role.as_str(),
                permission.name()
            )))
        }
    }
}

struct VerificationKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verification keys by `kid`, with the pinned algorithm of each.
pub struct KeySet {
    keys: HashMap<String, VerificationKey>,
    issuer: String,
    audience: String,
}

fn algorithm(name: &str) -> Result<Algorithm, String> {
    match name {
        "HS256" => Ok(Algorithm::HS256),
        "RS256" => Ok(Algorithm::RS256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => Err(format!("unsupported algorithm {other}")),
    }
}

impl KeySet {
    pub fn from_settings(settings: &JwtSettings) -> Result<KeySet, String> {
        let mut keys = HashMap::new();
        if let Some((kid, secret)) = &settings.hs256_secret {
            keys.insert(
                kid.clone(),
                VerificationKey {
                    algorithm: Algorithm::HS256,
                    key: DecodingKey::from_secret(secret),
                },
            );
        }
        for (kid, alg, pem) in &settings.public_keys {
            let algorithm = algorithm(alg)?;
            let key = match algorithm {
                Algorithm::RS256 => DecodingKey::from_rsa_pem(pem.as_bytes()),
                _ => DecodingKey::from_ed_pem(pem.as_bytes()),
            }
            .map_err(|e| format!("public key {kid}: {e}"))?;
            if keys
                .insert(kid.clone(), VerificationKey { algorithm, key })
                .is_some()
            {
                return Err(format!("key id {kid} is configured twice"));
            }
        }
        if keys.is_empty() {
            return Err("no JWT verification key is configured".into());
        }
        Ok(KeySet {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        })
    }

    /// Verifies a bearer token: known `kid` (may be left out only when one key is configured),
    /// the algorithm pinned to that key, signature, and `exp`, `iss`, `aud`.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let invalid = |reason: &str| {
            ApiError::Unauthorized("invalid_token", format!("The token is invalid: {reason}."))
        };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("malformed header or unsupported algorithm"))?;
        let entry = match &header.kid {
            Some(kid) => self
                .keys
                .get(kid)
                .ok_or_else(|| invalid("unknown key id"))?,
            None if self.keys.len() == 1 => self.keys.values().next().expect("one key"),
            None => return Err(invalid("the header has no key id")),
        };
        if header.alg != entry.algorithm {
            return Err(invalid("algorithm does not match the key"));
        }
        let mut validation = Validation::new(entry.algorithm);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = 30;
        validation.validate_nbf = true;
        let data =
            jsonwebtoken::decode::<TokenClaims>(token, &entry.key, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => {
                        ApiError::Unauthorized("token_expired", "The token has expired.".into())
                    }
                    ErrorKind::InvalidAudience => invalid("wrong audience"),
                    ErrorKind::InvalidIssuer => invalid("wrong issuer"),
                    ErrorKind::InvalidSignature => invalid("bad signature"),
                    ErrorKind::MissingRequiredClaim(claim) => {
                        invalid(&format!("missing claim {claim}"))
                    }
                    _ => invalid("cannot be decoded"),
                }
            })?;
        let claims = data.claims;
        let role: Role = claims.role.parse().map_err(|_| invalid("unknown role"))?;
        if role == Role::Partner && claims.partner_id.is_none() {
            return Err(invalid("a partner token needs a partner_id claim"));
        }
        Ok(Principal {
            subject: claims.sub,
            role,
            partner_id: if role == Role::Partner {
                claims.partner_id
            } else {
                None
            },
        })
    }
}

/// Mints a token with the configured signing key (HS256 secret, else `JWT_SIGNING_KEY`).
pub fn mint(
    settings: &JwtSettings,
    sub: &str,
    role: Role,
    partner_id: Option<Uuid>,
    ttl_seconds: u64,
) -> Result<String, String> {
    let (kid, alg, key) = if let Some((kid, secret)) = &settings.hs256_secret {
        (
            kid.clone(),
            Algorithm::HS256,
            EncodingKey::from_secret(secret),
        )
    } else if let Some((kid, alg, pem)) = &settings.signing_key {
        let alg = algorithm(alg)?;
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
            _ => EncodingKey::from_ed_pem(pem.as_bytes()),
        }
        .map_err(|e| format!("signing key: {e}"))?;
        (kid.clone(), alg, key)
    } else {
        return Err("no signing key: set JWT_HS256_SECRET or JWT_SIGNING_KEY".into());
    };
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: sub.to_string(),
        role: role.as_str().to_string(),
        partner_id,
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        exp: now + ttl_seconds,
        iat: now,
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid);
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| e.to_string())
}

fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let keys = req
        .app_data::<web::Data<KeySet>>()
        .ok_or_else(|| ApiError::internal("the application has no signing keys"))?;
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized(
            "missing_token",
            "An Authorization: Bearer token is required.".into(),
        )
    })?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "missing_token",
                "The Authorization header must be `Bearer <token>`.".into(),
            )
        })?;
    keys.verify(token)
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}
