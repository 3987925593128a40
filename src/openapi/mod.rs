//! The OpenAPI document: its frame (info, security, shared error responses) and the rules
//! every operation shares; the problem codes of each operation (`problems`), the body rules
//! (`bodies`), and the route table derived from it (`routes`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Spec;
use utoipa::{Modify, OpenApi};

mod bodies;
mod problems;
pub mod responses;
mod routes;

pub use bodies::{add_body_rules, filename_pattern, TEXT_PATTERN};
use problems::describe_problems;
pub use problems::problem_codes;
pub use routes::{method_not_allowed, RouteTable};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Spec) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT with `sub`, `role`, `exp`, `iss`, `aud` (and `partner_id` for partner tokens), \
                         signed with a configured key named by `kid`.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Receivables",
        description = "Accounts receivable for equipment sold, leased and serviced on contracts: accounts, \
                       billing, invoices, cash application, disputes and collections.\n\n\
                       Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`. \
                       Money is a decimal string beside its currency. Lists are cursor-paginated. \
                       Creating POSTs honour `Idempotency-Key`; updates need `If-Match` or `version`."
    ),
    modifiers(&BearerAuth),
    components(responses(
        responses::BadRequest,
        responses::Unauthorized,
        responses::Forbidden,
        responses::NotFound,
        responses::Conflict,
        responses::PreconditionFailed,
        responses::PreconditionRequired,
        responses::PayloadTooLarge,
        responses::UnsupportedMediaType,
        responses::ValidationFailed,
        responses::ServiceUnavailable,
    )),
    tags(
        (name = "accounts", description = "Customer accounts, their contacts and change history"),
        (name = "partners", description = "Partners (dealers) whose portals see their own accounts"),
        (name = "financial-codes", description = "The chart of GL / financial codes"),
        (name = "contracts", description = "Contracts, their charges, amendments and paperwork"),
        (name = "equipment", description = "Equipment under contract and its meters with their plans"),
        (name = "meter-readings", description = "Actual meter readings, and the estimates billing makes"),
        (name = "billing-runs", description = "Background runs that invoice every contract period that is due"),
        (name = "invoices", description = "Invoices and their lines, with every figure explained"),
        (name = "payments", description = "Payments received, applied to invoices, refunded and returned"),
        (name = "bank files", description = "Bank files (BAI2, camt.053/054, NACHA returns, lockbox CSV) imported and matched; the suspense queue of unidentified cash"),
        (name = "deductions", description = "What short payments left unpaid, and small-balance write-offs"),
        (name = "credit memos", description = "Credits to customers: approval, issue, application, refund, void"),
        (name = "disputes", description = "Customer claims on invoices, their review and resolution"),
        (name = "adjustments", description = "Late fees, small-balance and bad-debt write-offs, recoveries"),
        (name = "collections", description = "What is past due and how late: the aging"),
        (name = "reports", description = "Figures for managers as of any date, in JSON, CSV and Excel: KPIs, past due"),
        (name = "credit", description = "Credit reviews and their decisions, exposure against the limit, credit holds"),
        (name = "tasks", description = "Work items for billing and collections (reviews, follow-ups)"),
        (name = "audit", description = "The append-only audit log"),
        (name = "integrations", description = "Signed events posted by CRM systems, stored with what processing made of them"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// What every operation shares, written once over the whole document after the routes have
/// added theirs: header rules as the extractors enforce them (`Idempotency-Key`, `If-Match`)
/// and the rule of an upload's `filename`,
/// 413 and 415 wherever a body is read, 422 where a reused idempotency key is refused, and
/// 503 wherever the database is used.
pub fn add_shared_rules(spec: &mut Spec) {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{Ref, RefOr, Required};
    let parameter_schema = |name: &str| match name {
        "Idempotency-Key" => Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$"))
                .description(Some(
                    "1 to 255 visible ASCII characters; a retry sends the same key",
                ))
                .build(),
        ),
        "If-Match" => Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^(\\*|(W/)?\"[0-9]{1,9}\")?$"))
                .description(Some(
                    "The resource's ETag (`\"3\"`), or `*`; an empty header counts as none",
                ))
                .build(),
        ),
        "filename" => Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some(filename_pattern()))
                .build(),
        ),
        "If-None-Match" => Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("An ETag the caller holds; unchanged: 304"))
                .build(),
        ),
        _ => None,
    };
    let respond = |op: &mut utoipa::openapi::path::Operation, status: &str, name: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    };
    for (path, item) in spec.paths.paths.iter_mut() {
        let uses_database = path.starts_with("/v1/") && path != "/v1/openapi.json";
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let mut idempotent = false;
            for parameter in op.parameters.iter_mut().flatten() {
                if let RefOr::T(p) = parameter {
                    if let Some(schema) = parameter_schema(&p.name) {
                        idempotent |= p.name == "Idempotency-Key";
                        p.schema = Some(RefOr::T(schema.into()));
                        if p.parameter_in == utoipa::openapi::path::ParameterIn::Header {
                            p.required = Required::False;
                        }
                    }
                }
            }
            if op.parameters.iter().flatten().any(|p| match p {
                RefOr::T(p) => p.name == "If-Match",
                RefOr::Ref(_) => false,
            }) {
                // A stale `If-Match` is 412; a stale `version` field 409.
                respond(op, "409", "Conflict");
                respond(op, "412", "PreconditionFailed");
            }
            // Files are bytes, not arrays of numbers.
            for response in op.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                for (media, content) in response.content.iter_mut() {
                    let RefOr::T(content) = content else { continue };
                    if !media.contains("json") && media != "text/html" && media != "text/plain" {
                        content.schema = Some(RefOr::T(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                                .build()
                                .into(),
                        ));
                    }
                }
            }
            if op.request_body.is_some() {
                respond(op, "413", "PayloadTooLarge");
                respond(op, "415", "UnsupportedMediaType");
                respond(op, "422", "ValidationFailed");
            }
            if idempotent {
                respond(op, "422", "ValidationFailed");
            }
            if uses_database {
                respond(op, "503", "ServiceUnavailable");
            }
        }
        for (method, op) in [
            ("GET", &mut item.get),
            ("POST", &mut item.post),
            ("PUT", &mut item.put),
            ("PATCH", &mut item.patch),
            ("DELETE", &mut item.delete),
        ] {
            let Some(op) = op else { continue };
            if uses_database && method != "GET" {
                // A write may lose a lock cycle to another (`concurrent_update`, retryable).
                respond(op, "409", "Conflict");
            }
            describe_problems(op);
        }
    }
}
