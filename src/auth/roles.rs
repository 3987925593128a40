//! The roles a token can carry and the one table of what each may do. Plain data: the
//! domain rules read it, and nothing here knows of HTTP.

crate::text_enum! {
    /// A caller's role, carried in the token's `role` claim.
    Role {
        Admin => "admin",
        Billing => "billing",
        Collections => "collections",
        CollectionsManager => "collections_manager",
        Credit => "credit",
        Viewer => "viewer",
        Partner => "partner",
        Integration => "integration",
    }
}

/// What a request may do. Checked by handlers with [`Principal::require`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    PartnersRead,
    PartnersWrite,
    AccountsRead,
    AccountsWrite,
    AccountsCredit,
    AccountsCollections,
    AccountsClose,
    FinancialCodesRead,
    FinancialCodesWrite,
    AuditRead,
    ContractsRead,
    ContractsWrite,
    ReadingsWrite,
    ReadingsCorrect,
    BillingRuns,
    InvoicesRead,
    InvoicesWrite,
    InvoicesIssue,
    PresentmentWrite,
    TasksRead,
    TasksWrite,
    PaymentsRead,
    PaymentsWrite,
    PaymentsRefund,
    DeductionsWriteOff,
    CreditMemosRead,
    CreditMemosWrite,
    CreditMemosApprove,
    DisputesRead,
    DisputesWrite,
    DisputesManage,
    DisputesResolve,
    AdjustmentsRead,
    AdjustmentsWrite,
    AdjustmentsBadDebt,
    CollectionsRead,
    CollectionsWrite,
    CollectionsManage,
    CollectionGoalsWrite,
    ServiceOrdersWrite,
    CreditRead,
    CreditReviewsRequest,
    CreditReviewsDecide,
    CreditHoldsWrite,
    WebhooksManage,
    ReportsRead,
    ReportSchedulesWrite,
    IntegrationEventsWrite,
    IntegrationEventsManage,
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::PartnersRead,
        Permission::PartnersWrite,
        Permission::AccountsRead,
        Permission::AccountsWrite,
        Permission::AccountsCredit,
        Permission::AccountsCollections,
        Permission::AccountsClose,
        Permission::FinancialCodesRead,
        Permission::FinancialCodesWrite,
        Permission::AuditRead,
        Permission::ContractsRead,
        Permission::ContractsWrite,
        Permission::ReadingsWrite,
        Permission::ReadingsCorrect,
        Permission::BillingRuns,
        Permission::InvoicesRead,
        Permission::InvoicesWrite,
        Permission::InvoicesIssue,
        Permission::PresentmentWrite,
        Permission::TasksRead,
        Permission::TasksWrite,
        Permission::PaymentsRead,
        Permission::PaymentsWrite,
        Permission::PaymentsRefund,
        Permission::DeductionsWriteOff,
        Permission::CreditMemosRead,
        Permission::CreditMemosWrite,
        Permission::CreditMemosApprove,
        Permission::DisputesRead,
        Permission::DisputesWrite,
        Permission::DisputesManage,
        Permission::DisputesResolve,
        Permission::AdjustmentsRead,
        Permission::AdjustmentsWrite,
        Permission::AdjustmentsBadDebt,
        Permission::CollectionsRead,
        Permission::CollectionsWrite,
        Permission::CollectionsManage,
        Permission::CollectionGoalsWrite,
        Permission::ServiceOrdersWrite,
        Permission::CreditRead,
        Permission::CreditReviewsRequest,
        Permission::CreditReviewsDecide,
        Permission::CreditHoldsWrite,
        Permission::WebhooksManage,
        Permission::ReportsRead,
        Permission::ReportSchedulesWrite,
        Permission::IntegrationEventsWrite,
        Permission::IntegrationEventsManage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::PartnersRead => "partners:read",
            Permission::PartnersWrite => "partners:write",
            Permission::AccountsRead => "accounts:read",
            Permission::AccountsWrite => "accounts:write",
            Permission::AccountsCredit => "accounts:credit",
            Permission::AccountsCollections => "accounts:collections",
            Permission::AccountsClose => "accounts:close",
            Permission::FinancialCodesRead => "financial_codes:read",
            Permission::FinancialCodesWrite => "financial_codes:write",
            Permission::AuditRead => "audit:read",
            Permission::ContractsRead => "contracts:read",
            Permission::ContractsWrite => "contracts:write",
            Permission::ReadingsWrite => "readings:write",
            Permission::ReadingsCorrect => "readings:correct",
            Permission::BillingRuns => "billing_runs:write",
            Permission::InvoicesRead => "invoices:read",
            Permission::InvoicesWrite => "invoices:write",
            Permission::InvoicesIssue => "invoices:issue",
            Permission::PresentmentWrite => "invoices:presentment",
            Permission::TasksRead => "tasks:read",
            Permission::TasksWrite => "tasks:write",
            Permission::PaymentsRead => "payments:read",
            Permission::PaymentsWrite => "payments:write",
            Permission::PaymentsRefund => "payments:refund",
            Permission::DeductionsWriteOff => "deductions:write_off",
            Permission::CreditMemosRead => "credit_memos:read",
            Permission::CreditMemosWrite => "credit_memos:write",
            Permission::CreditMemosApprove => "credit_memos:approve",
            Permission::DisputesRead => "disputes:read",
            Permission::DisputesWrite => "disputes:write",
            Permission::DisputesManage => "disputes:manage",
            Permission::DisputesResolve => "disputes:resolve",
            Permission::AdjustmentsRead => "adjustments:read",
            Permission::AdjustmentsWrite => "adjustments:write",
            Permission::AdjustmentsBadDebt => "adjustments:bad_debt",
            Permission::CollectionsRead => "collections:read",
            Permission::CollectionsWrite => "collections:write",
            Permission::CollectionsManage => "collections:manage",
            Permission::CollectionGoalsWrite => "collection_goals:write",
            Permission::ServiceOrdersWrite => "service_orders:write",
            Permission::CreditRead => "credit:read",
            Permission::CreditReviewsRequest => "credit_reviews:request",
            Permission::CreditReviewsDecide => "credit_reviews:decide",
            Permission::CreditHoldsWrite => "credit_holds:write",
            Permission::WebhooksManage => "webhooks:manage",
            Permission::ReportsRead => "reports:read",
            Permission::ReportSchedulesWrite => "report_schedules:write",
            Permission::IntegrationEventsWrite => "integration_events:write",
            Permission::IntegrationEventsManage => "integration_events:manage",
        }
    }

    /// The roles holding this permission. This is the whole role table.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Permission::PartnersRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            Permission::PartnersWrite => &[Admin],
            Permission::AccountsRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
                Partner,
                Integration,
            ],
            Permission::AccountsWrite => &[Admin, Billing, Integration],
            Permission::AccountsCredit => &[Admin, Credit, CollectionsManager],
            Permission::AccountsCollections => &[Admin, Collections, CollectionsManager],
            Permission::AccountsClose => &[Admin, Billing],
            Permission::FinancialCodesRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            Permission::FinancialCodesWrite => &[Admin, Billing],
            Permission::AuditRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            Permission::ContractsRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
                Integration,
            ],
            Permission::ContractsWrite => &[Admin, Billing, Integration],
            Permission::ReadingsWrite => &[Admin, Billing, Partner, Integration],
            Permission::ReadingsCorrect => &[Admin, Billing],
            Permission::BillingRuns => &[Admin, Billing],
            Permission::InvoicesRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
                Partner,
            ],
            Permission::InvoicesWrite => &[Admin, Billing],
            Permission::InvoicesIssue => &[Admin, Billing],
            Permission::PresentmentWrite => &[Admin, Billing, Partner, Integration],
            Permission::TasksRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            Permission::TasksWrite => &[Admin, Billing, Collections, CollectionsManager, Credit],
            Permission::PaymentsRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            Permission::PaymentsWrite => &[Admin, Billing, Collections, CollectionsManager],
            Permission::PaymentsRefund => &[Admin, Billing, CollectionsManager],
            Permission::DeductionsWriteOff => &[Admin, Billing, Collections, CollectionsManager],
            Permission::CreditMemosRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            Permission::CreditMemosWrite => &[Admin, Billing, CollectionsManager],
            Permission::CreditMemosApprove => &[Admin, Billing, CollectionsManager],
            Permission::DisputesRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
                Partner,
            ],
            Permission::DisputesWrite => {
                &[Admin, Billing, Collections, CollectionsManager, Partner]
            }
            Permission::DisputesManage => &[Admin, Billing, Collections, CollectionsManager],
            Permission::DisputesResolve => &[Admin, Billing, CollectionsManager],
            Permission::AdjustmentsRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            Permission::AdjustmentsWrite => &[Admin, Billing, Collections, CollectionsManager],
            Permission::AdjustmentsBadDebt => &[Admin, CollectionsManager],
            Permission::CollectionsRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            Permission::CollectionsWrite => &[Admin, Collections, CollectionsManager],
            Permission::CollectionsManage => &[Admin, CollectionsManager],
            Permission::CollectionGoalsWrite => &[Admin, CollectionsManager],
            Permission::ServiceOrdersWrite => &[Admin, Collections, CollectionsManager],
            // Payment histories, analysts' notes and agency reports stay internal: a partner
            // portal sees invoices, documents and statements, not credit files.
            Permission::CreditRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            Permission::CreditReviewsRequest => &[Admin, Billing, CollectionsManager, Credit],
            Permission::CreditReviewsDecide => &[Admin, CollectionsManager, Credit],
            Permission::CreditHoldsWrite => &[Admin, CollectionsManager, Credit],
            Permission::WebhooksManage => &[Admin],
            // The whole book's figures: every internal role, never a partner.
            Permission::ReportsRead => &[
                Admin,
                Billing,
                Collections,
                CollectionsManager,
                Credit,
                Viewer,
            ],
            // A schedule sends the book's figures to other systems: the managers who own them.
            Permission::ReportSchedulesWrite => &[Admin, CollectionsManager],
            // Posting events is the integrations' own door; reading and retrying them is for
            // whoever fixes what made one fail.
            Permission::IntegrationEventsWrite => &[Integration],
            Permission::IntegrationEventsManage => &[Admin, Integration],
        }
    }
}

/// The role table as Markdown, as printed in the README (a test keeps the two equal).
pub fn permission_table_markdown() -> String {
    let roles = Role::ALL;
    let mut out = String::from("| permission |");
    for role in roles {
        out.push_str(&format!(" {} |", role.as_str()));
    }
    out.push_str("\n| --- |");
    out.push_str(&" :-: |".repeat(roles.len()));
    out.push('\n');
    for permission in Permission::ALL {
        out.push_str(&format!("| `{}` |", permission.name()));
        for role in roles {
            let mark = if permission.roles().contains(role) {
                "✓"
            } else {
                ""
            };
            out.push_str(&format!(" {mark} |"));
        }
        out.push('\n');
    }
    out
}
