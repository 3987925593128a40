//! The problem codes each operation can answer, by status, and their description in the
//! document: the extractors' and the database's, and the business refusals (409) of each
//! operation.

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
    (
        "approve_credit_review",
        &[
            "above_authority",
            "own_review",
            "review_closed",
            "terms_exception",
        ],
    ),
    ("assign_unidentified_payment", &["not_unidentified"]),
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
    ("create_collection_goal", &["goal_exists"]),
    ("create_contact", &["account_closed"]),
    ("create_contract", &["account_not_active", "credit_hold"]),
    (
        "create_credit_review",
        &["account_closed", "credit_at_parent"],
    ),
    (
        "create_equipment",
        &["contract_ended", "duplicate_serial_number"],
    ),
    ("create_financial_code", &["duplicate_code"]),
    ("create_invoice", &["account_closed", "credit_hold"]),
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
    (
        "decline_credit_review",
        &["above_authority", "own_review", "review_closed"],
    ),
    ("delete_contact", &["account_closed", "contact_in_use"]),
    (
        "delete_invoice",
        &["invoice_not_draft", "later_periods_billed"],
    ),
    ("dispute_deduction", &["deduction_not_open"]),
    ("download_report_run", &["report_run_failed"]),
    (
        "escalate_credit_review",
        &["no_higher_authority", "own_review", "review_closed"],
    ),
    (
        "issue_credit_memo",
        &["exceeds_taxable", "invalid_status_transition"],
    ),
    (
        "import_bank_file",
        &["bank_transaction_importing", "payment_returned"],
    ),
    ("issue_invoice", &["invoice_not_draft", "version_conflict"]),
    ("place_credit_hold", &["account_closed", "hold_exists"]),
    ("recall_placement", &["placement_state"]),
    ("refund_credit_memo", &["credit_memo_not_issued"]),
    ("reject_credit_memo", &["invalid_status_transition"]),
    ("release_credit_hold", &["no_hold"]),
    ("resend_delivery", &["delivery_pending"]),
    (
        "resolve_dispute",
        &["exceeds_taxable", "invalid_status_transition"],
    ),
    ("retry_crm_event", &["event_not_failed"]),
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
    ("update_collection_goal", &["version_conflict"]),
    ("update_report_schedule", &["version_conflict"]),
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
    ("upload_review_document", &["review_closed"]),
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

/// The refusals (401) of an operation that checks more than the token: a CRM event's
/// `Receivables-Signature`.
const UNAUTHORIZED: &[(&str, &[&str])] = &[(
    "receive_crm_event",
    &[
        "missing_signature",
        "malformed_signature",
        "stale_signature",
        "invalid_signature",
    ],
)];

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
                "401" => {
                    let mut codes = vec!["missing_token", "invalid_token", "token_expired"];
                    if let Some((_, own)) =
                        UNAUTHORIZED.iter().find(|(operation, _)| *operation == id)
                    {
                        codes.extend_from_slice(own);
                    }
                    codes
                }
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
pub(super) fn describe_problems(op: &mut utoipa::openapi::path::Operation) {
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
