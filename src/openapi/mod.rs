//! The OpenAPI document: its frame (info, security, shared error responses), and the route
//! table derived from it that tells a wrong method (405) from an unknown path (404).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Spec, PathItem};
use utoipa::{Modify, OpenApi};

/// Reusable error responses; every one is a problem document. The types exist for the
/// document only, so their field is never read.
#[allow(dead_code)]
pub mod responses {
    use crate::error::Problem;
    use utoipa::ToResponse;

    /// Malformed JSON, query parameter, path parameter or header.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:invalid_query", "title": "Bad Request", "status": 400,
        "code": "invalid_query", "detail": "The query parameter limit is invalid: must be between 1 and 200.",
        "errors": [{"field": "limit", "code": "invalid", "message": "must be between 1 and 200"}]
    }))]
    pub struct BadRequest(Problem);

    /// No token, or an expired, malformed or wrongly signed one.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:token_expired", "title": "Unauthorized", "status": 401,
        "code": "token_expired", "detail": "The token has expired."
    }))]
    pub struct Unauthorized(Problem);

    /// The token's role lacks the permission.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:forbidden", "title": "Forbidden", "status": 403,
        "code": "forbidden", "detail": "role viewer lacks the permission accounts:write"
    }))]
    pub struct Forbidden(Problem);

    /// No such resource, or not visible to this caller.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:not_found", "title": "Not Found", "status": 404,
        "code": "not_found", "detail": "The account does not exist or is not visible to you."
    }))]
    pub struct NotFound(Problem);

    /// A uniqueness or state conflict, or a stale `version` field.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:version_conflict", "title": "Conflict", "status": 409,
        "code": "version_conflict", "detail": "The resource is at version 3, not 2: it changed since you read it.",
        "errors": [{"field": "version", "code": "version_conflict", "message": "The resource is at version 3, not 2: it changed since you read it."}]
    }))]
    pub struct Conflict(Problem);

    /// `If-Match` names a version that is no longer current.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:precondition_failed", "title": "Precondition Failed", "status": 412,
        "code": "precondition_failed", "detail": "the resource was changed since version 2; fetch it again"
    }))]
    pub struct PreconditionFailed(Problem);

    /// An update came with neither `If-Match` nor `version`.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:precondition_required", "title": "Precondition Required", "status": 428,
        "code": "precondition_required", "detail": "updates need If-Match or a version field"
    }))]
    pub struct PreconditionRequired(Problem);

    /// The body is over the configured limit.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:payload_too_large", "title": "Payload Too Large", "status": 413,
        "code": "payload_too_large", "detail": "the request body is larger than 262144 bytes"
    }))]
    pub struct PayloadTooLarge(Problem);

    /// The body is not sent as `application/json`.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:unsupported_media_type", "title": "Unsupported Media Type", "status": 415,
        "code": "unsupported_media_type", "detail": "The body must be JSON, sent with Content-Type: application/json."
    }))]
    pub struct UnsupportedMediaType(Problem);

    /// Fields that are missing, unknown, of the wrong type or out of range; or an
    /// `Idempotency-Key` reused with another body.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:validation_failed", "title": "Unprocessable Entity", "status": 422,
        "code": "validation_failed", "detail": "The request has invalid fields.",
        "errors": [{"field": "credit_limit", "code": "too_many_decimals", "message": "USD allows at most 2 decimals"}]
    }))]
    pub struct ValidationFailed(Problem);

    /// The database cannot be reached.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json", example = json!({
        "type": "urn:receivables:problem:service_unavailable", "title": "Service Unavailable", "status": 503,
        "code": "service_unavailable", "detail": "The database is not available; try again shortly."
    }))]
    pub struct ServiceUnavailable(Problem);
}

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
        (name = "deductions", description = "What short payments left unpaid, and small-balance write-offs"),
        (name = "credit memos", description = "Credits to customers: approval, issue, application, refund, void"),
        (name = "disputes", description = "Customer claims on invoices, their review and resolution"),
        (name = "adjustments", description = "Late fees, small-balance and bad-debt write-offs, recoveries"),
        (name = "collections", description = "What is past due and how late: the aging"),
        (name = "tasks", description = "Work items for billing and collections (reviews, follow-ups)"),
        (name = "audit", description = "The append-only audit log"),
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

/// The business refusals (409) each operation can answer besides `concurrent_update`, by
/// operationId: the `code`s its handler, rules and store can return.
const CONFLICTS: &[(&str, &[&str])] = &[
    (
        "activate_contract",
        &[
            "account_not_active",
            "contract_not_draft",
            "credit_hold",
            "nothing_to_bill",
        ],
    ),
    ("activate_financial_code", &["no_change"]),
    ("apply_credit_memo", &["credit_memo_not_issued"]),
    (
        "approve_credit_memo",
        &["exceeds_taxable", "invalid_status_transition"],
    ),
    ("cancel_order", &["order_state"]),
    ("cancel_promise", &["promise_state"]),
    ("close_account", &["account_closed", "version_conflict"]),
    (
        "complete_order",
        &[
            "contract_state",
            "exceeds_taxable",
            "order_obsolete",
            "order_state",
        ],
    ),
    (
        "correct_reading",
        &["estimated_reading", "reading_billed", "reading_voided"],
    ),
    (
        "create_account",
        &["duplicate_external_crm_id", "duplicate_number"],
    ),
    (
        "create_adjustment",
        &[
            "above_tolerance",
            "invoice_disputed",
            "nothing_to_write_off",
        ],
    ),
    (
        "create_amendment",
        &[
            "contract_state",
            "credit_hold",
            "duplicate_plan",
            "exceeds_taxable",
            "version_conflict",
        ],
    ),
    ("create_application", &["payment_returned"]),
    ("create_contact", &["account_closed"]),
    ("create_contract", &["account_not_active", "credit_hold"]),
    (
        "create_equipment",
        &["contract_ended", "duplicate_serial_number"],
    ),
    ("create_financial_code", &["duplicate_code"]),
    ("create_invoice", &["account_closed"]),
    ("create_meter", &["contract_ended", "duplicate_meter_type"]),
    ("create_order", &["account_closed", "order_exists"]),
    ("create_partner", &["duplicate_code"]),
    (
        "create_placement",
        &["collections_status", "promise_active"],
    ),
    (
        "create_policy",
        &["default_taken", "name_taken", "segment_taken"],
    ),
    ("create_presentment", &["invoice_not_issued"]),
    ("create_promise", &["collections_status", "promise_exists"]),
    (
        "create_recovery",
        &["commission_code_missing", "placement_state"],
    ),
    ("create_refund", &["payment_returned"]),
    ("create_rule", &["position_taken"]),
    ("deactivate_financial_code", &["no_change"]),
    ("delete_contact", &["account_closed", "contact_in_use"]),
    (
        "delete_invoice",
        &["invoice_not_draft", "later_periods_billed"],
    ),
    ("dispute_deduction", &["deduction_not_open"]),
    (
        "issue_credit_memo",
        &["exceeds_taxable", "invalid_status_transition"],
    ),
    ("issue_invoice", &["invoice_not_draft", "version_conflict"]),
    ("recall_placement", &["placement_state"]),
    ("refund_credit_memo", &["credit_memo_not_issued"]),
    ("reject_credit_memo", &["invalid_status_transition"]),
    (
        "resolve_dispute",
        &["exceeds_taxable", "invalid_status_transition"],
    ),
    ("return_payment", &["payment_refunded", "payment_returned"]),
    (
        "reverse_application",
        &["application_reversed", "invoice_uncollectible"],
    ),
    ("review_dispute", &["invalid_status_transition"]),
    ("send_order", &["order_obsolete", "order_state"]),
    (
        "update_account",
        &[
            "account_closed",
            "duplicate_external_crm_id",
            "version_conflict",
        ],
    ),
    ("update_contact", &["account_closed", "version_conflict"]),
    (
        "update_contract",
        &["contract_not_draft", "version_conflict"],
    ),
    ("update_dispute", &["dispute_closed", "version_conflict"]),
    ("update_equipment", &["version_conflict"]),
    ("update_financial_code", &["version_conflict"]),
    ("update_invoice", &["invoice_not_draft", "version_conflict"]),
    ("update_partner", &["version_conflict"]),
    (
        "update_policy",
        &[
            "default_taken",
            "name_taken",
            "segment_taken",
            "version_conflict",
        ],
    ),
    ("update_profile", &["version_conflict"]),
    (
        "update_task",
        &["invalid_status_transition", "version_conflict"],
    ),
    ("void_credit_memo", &["credit_memo_not_voidable"]),
    (
        "void_invoice",
        &["invoice_not_voidable", "version_conflict"],
    ),
    (
        "void_reading",
        &["estimated_reading", "reading_billed", "reading_voided"],
    ),
    ("withdraw_dispute", &["invalid_status_transition"]),
    (
        "write_off_deduction",
        &["above_tolerance", "balance_changed", "deduction_not_open"],
    ),
];

/// The problem `code`s an operation can answer, by status: those its extractors, the token
/// check and the database bring (from what the operation takes), and its own refusals.
pub fn problem_codes(op: &utoipa::openapi::path::Operation) -> Vec<(String, Vec<&'static str>)> {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::RefOr;
    let parameters: Vec<_> = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p),
            RefOr::Ref(_) => None,
        })
        .collect();
    let has = |name: &str| parameters.iter().any(|p| p.name == name);
    let json_body = op.request_body.as_ref().is_some_and(|body| match body {
        RefOr::T(body) => body.content.keys().any(|media| media.contains("json")),
        RefOr::Ref(_) => false,
    });
    let id = op.operation_id.as_deref().unwrap_or_default();
    op.responses
        .responses
        .keys()
        .filter(|status| status.starts_with('4') || status.starts_with('5'))
        .map(|status| {
            let mut codes: Vec<&'static str> = match status.as_str() {
                "400" => {
                    let mut codes = Vec::new();
                    if op.request_body.is_some() {
                        if json_body {
                            codes.push("malformed_json");
                        }
                        codes.push("unreadable_body");
                    }
                    if parameters
                        .iter()
                        .any(|p| p.parameter_in == ParameterIn::Query)
                    {
                        codes.push("invalid_query");
                    }
                    if parameters
                        .iter()
                        .any(|p| p.parameter_in == ParameterIn::Path)
                    {
                        codes.push("invalid_path_parameter");
                    }
                    if has("If-Match") {
                        codes.push("invalid_if_match");
                    }
                    if has("Idempotency-Key") {
                        codes.push("invalid_idempotency_key");
                    }
                    codes
                }
                "401" => vec!["missing_token", "invalid_token", "token_expired"],
                "403" => vec!["forbidden"],
                "404" => vec!["not_found"],
                "409" => {
                    let own = CONFLICTS
                        .iter()
                        .find(|(operation, _)| *operation == id)
                        .map(|(_, codes)| codes.to_vec())
                        .unwrap_or_default();
                    let mut codes = own;
                    codes.push("concurrent_update");
                    codes
                }
                "412" => vec!["precondition_failed"],
                "413" => vec!["payload_too_large"],
                "415" => vec!["unsupported_media_type"],
                "422" if has("Idempotency-Key") => {
                    vec!["validation_failed", "idempotency_key_reused"]
                }
                "422" => vec!["validation_failed"],
                "428" => vec!["precondition_required"],
                "503" => vec!["service_unavailable"],
                _ => Vec::new(),
            };
            codes.dedup();
            (status.clone(), codes)
        })
        .collect()
}

/// Appends to an operation's description the problem codes of each error status it answers.
fn describe_problems(op: &mut utoipa::openapi::path::Operation) {
    let lines: Vec<String> = problem_codes(op)
        .into_iter()
        .filter(|(_, codes)| !codes.is_empty())
        .map(|(status, codes)| {
            let codes: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
            format!("- {status}: {}", codes.join(", "))
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    let section = format!(
        "Problem codes (the `code` of each error answer):\n\n{}",
        lines.join("\n")
    );
    op.description = Some(match op.description.take() {
        Some(text) if !text.is_empty() => format!("{text}\n\n{section}"),
        _ => section,
    });
}

/// What the service takes as text (`validate::is_forbidden_char`, `validate::is_visible`):
/// no control or invisible formatting character, and at least one character that shows.
pub const TEXT_PATTERN: &str = concat!(
    "^[^",
    crate::forbidden_chars_class!(),
    "]*[^\\s",
    crate::forbidden_chars_class!(),
    "\u{115F}\u{1160}\u{3164}\u{FFA0}\u{2800}]",
    "[^",
    crate::forbidden_chars_class!(),
    "]*$"
);

/// What the service takes as an uploaded file's name (`contracts::documents::filename_problem`):
/// [`TEXT_PATTERN`] without `/` or any control character, since the name goes back in a header.
pub fn filename_pattern() -> String {
    TEXT_PATTERN.replace("[^", "[^\\t\\n\\r/")
}

/// The rules of request bodies that the Rust types cannot carry, written into their schemas:
/// every free text (a string with no format, enum or pattern of its own) follows
/// [`TEXT_PATTERN`], and a PATCH body names at least one field to change besides `version`.
pub fn add_body_rules(spec: &Spec) -> serde_json::Value {
    use serde_json::{json, Value};
    let mut doc = serde_json::to_value(spec).expect("the OpenAPI document serialises");
    let mut request_schemas = std::collections::BTreeSet::new();
    let mut patch_schemas = std::collections::BTreeSet::new();
    let mut inline_refs = Vec::new();
    for (_, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            collect_refs(schema, &mut inline_refs);
            if let Some(name) = schema["$ref"].as_str().and_then(component_name) {
                request_schemas.insert(name.to_string());
                if method == "patch" {
                    patch_schemas.insert(name.to_string());
                }
            }
        }
    }
    request_schemas.extend(inline_refs);
    // A file upload's body is the file's bytes, and there is no upload without one.
    for (_, item) in doc["paths"].as_object_mut().into_iter().flatten() {
        for (_, op) in item.as_object_mut().into_iter().flatten() {
            let Some(body) = op.get_mut("requestBody") else {
                continue;
            };
            let Some(content) = body.get_mut("content").and_then(|c| c.as_object_mut()) else {
                continue;
            };
            if content.keys().all(|media| !media.contains("json")) {
                for media in content.values_mut() {
                    media["schema"] = json!({"type": "string", "format": "binary"});
                }
                body["required"] = true.into();
            }
        }
    }
    // Bodies written in place (an optional body is `oneOf: [null, $ref]`).
    for (_, item) in doc["paths"].as_object_mut().into_iter().flatten() {
        for (_, op) in item.as_object_mut().into_iter().flatten() {
            if let Some(schema) = op
                .pointer_mut("/requestBody/content/application~1json/schema")
                .filter(|s| s.get("$ref").is_none())
            {
                constrain_text(schema);
            }
        }
    }
    // The components those bodies hold, at any depth.
    let schemas = doc["components"]["schemas"].clone();
    let mut pending: Vec<String> = request_schemas.iter().cloned().collect();
    while let Some(name) = pending.pop() {
        let mut refs = Vec::new();
        collect_refs(&schemas[&name], &mut refs);
        for r in refs {
            if request_schemas.insert(r.clone()) {
                pending.push(r);
            }
        }
    }
    let components = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components");
    for name in &request_schemas {
        let Some(schema) = components.get_mut(name) else {
            continue;
        };
        constrain_text(schema);
        if patch_schemas.contains(name) {
            let changes: Vec<Value> = schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(field, _)| field)
                .filter(|field| *field != "version")
                .map(|field| json!({"required": [field]}))
                .collect();
            if !changes.is_empty() {
                schema["anyOf"] = Value::Array(changes);
            }
        }
    }
    doc
}

fn component_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/components/schemas/")
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v.as_str().and_then(component_name)) {
                    ("$ref", Some(name)) => out.push(name.to_string()),
                    _ => collect_refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Gives [`TEXT_PATTERN`] to the free texts among a schema's properties and items, nested
/// ones too: strings with no format, enum or pattern of their own.
fn constrain_text(schema: &mut serde_json::Value) {
    let is_free_text = |v: &serde_json::Value| {
        let string = match &v["type"] {
            serde_json::Value::String(t) => t == "string",
            serde_json::Value::Array(types) => types.iter().any(|t| t == "string"),
            _ => false,
        };
        string
            && ["format", "enum", "pattern"]
                .iter()
                .all(|k| v.get(k).is_none())
    };
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    for (key, value) in map.iter_mut() {
        let children: Vec<&mut serde_json::Value> = match key.as_str() {
            "properties" => value
                .as_object_mut()
                .map(|p| p.values_mut().collect())
                .unwrap_or_default(),
            "items" => vec![value],
            "oneOf" | "anyOf" | "allOf" => {
                value
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .for_each(constrain_text);
                continue;
            }
            _ => continue,
        };
        for child in children {
            if is_free_text(child) {
                child["pattern"] = TEXT_PATTERN.into();
            }
            constrain_text(child);
        }
    }
}

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
