// @generated automatically by Diesel CLI.

diesel::table! {
    account_notes (id) {
        id -> Uuid,
        account_id -> Uuid,
        channel -> Text,
        direction -> Text,
        outcome -> Nullable<Text>,
        contact_id -> Nullable<Uuid>,
        text -> Text,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    accounts (id) {
        id -> Uuid,
        number -> Text,
        legal_name -> Text,
        currency -> Text,
        payment_terms_days -> Int4,
        tax_exempt -> Bool,
        tax_exemption_number -> Nullable<Text>,
        tax_rate -> Nullable<Numeric>,
        credit_limit -> Nullable<Numeric>,
        credit_status -> Text,
        risk_level -> Text,
        status -> Text,
        collections_status -> Text,
        partner_id -> Nullable<Uuid>,
        autopay_enabled -> Bool,
        autopay_method -> Nullable<Text>,
        billing_address -> Jsonb,
        presentment -> Jsonb,
        external_crm_id -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        next_review_date -> Nullable<Date>,
        parent_id -> Nullable<Uuid>,
        credit_scope -> Text,
    }
}

diesel::table! {
    adjustments (id) {
        id -> Uuid,
        account_id -> Uuid,
        invoice_id -> Nullable<Uuid>,
        kind -> Text,
        amount -> Numeric,
        currency -> Text,
        financial_code_id -> Uuid,
        reason -> Text,
        deduction_id -> Nullable<Uuid>,
        created_by -> Text,
        created_at -> Timestamptz,
        payment_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    agency_placements (id) {
        id -> Uuid,
        account_id -> Uuid,
        agency -> Text,
        placed_on -> Date,
        currency -> Text,
        amount_placed -> Numeric,
        commission_rate -> Numeric,
        status -> Text,
        recovered -> Numeric,
        commission -> Numeric,
        recalled_on -> Nullable<Date>,
        recall_reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        commission_financial_code_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    assignment_rules (id) {
        id -> Uuid,
        position -> Int4,
        collector -> Text,
        partner_id -> Nullable<Uuid>,
        risk_level -> Nullable<Text>,
        min_balance -> Nullable<Numeric>,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Int8,
        occurred_at -> Timestamptz,
        actor -> Text,
        actor_role -> Text,
        action -> Text,
        entity_type -> Text,
        entity_id -> Uuid,
        account_id -> Nullable<Uuid>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    bank_files (id) {
        id -> Uuid,
        format -> Text,
        sha256 -> Text,
        size_bytes -> Int4,
        content -> Bytea,
        transactions -> Int4,
        imported_by -> Text,
        imported_at -> Timestamptz,
    }
}

diesel::table! {
    bank_transactions (id) {
        id -> Uuid,
        file_id -> Uuid,
        position -> Int4,
        location -> Text,
        identity -> Text,
        kind -> Text,
        amount -> Numeric,
        currency -> Nullable<Text>,
        value_date -> Nullable<Date>,
        method -> Text,
        bank_reference -> Nullable<Text>,
        payer_name -> Nullable<Text>,
        payer_account -> Nullable<Text>,
        text -> Text,
        remittance -> Jsonb,
        returned_reference -> Nullable<Text>,
        return_code -> Nullable<Text>,
        raw -> Jsonb,
        outcome -> Text,
        rule -> Nullable<Text>,
        confidence -> Nullable<Numeric>,
        explanation -> Text,
        suggestions -> Jsonb,
        account_id -> Nullable<Uuid>,
        payment_id -> Nullable<Uuid>,
        duplicate_of -> Nullable<Uuid>,
        assigned_by -> Nullable<Text>,
        assigned_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    billed_periods (contract_id, period_start) {
        contract_id -> Uuid,
        period_start -> Date,
        period_end -> Date,
        invoice_id -> Uuid,
    }
}

diesel::table! {
    billing_run_errors (id) {
        id -> Int8,
        run_id -> Uuid,
        contract_id -> Uuid,
        code -> Text,
        reason -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    billing_runs (id) {
        id -> Uuid,
        as_of -> Date,
        account_id -> Nullable<Uuid>,
        contract_id -> Nullable<Uuid>,
        mode -> Text,
        status -> Text,
        contracts_total -> Nullable<Int4>,
        contracts_done -> Int4,
        invoices_created -> Int4,
        errors_count -> Int4,
        failure -> Nullable<Text>,
        requested_by -> Text,
        request_id -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        heartbeat_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    collection_goals (id) {
        id -> Uuid,
        collector -> Nullable<Text>,
        team -> Nullable<Text>,
        month -> Date,
        currency -> Text,
        target_collected -> Nullable<Numeric>,
        target_past_due_percent -> Nullable<Numeric>,
        created_by -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    collection_profiles (account_id) {
        account_id -> Uuid,
        collector -> Nullable<Text>,
        assignment_rule_id -> Nullable<Uuid>,
        assigned_at -> Nullable<Timestamptz>,
        segment -> Nullable<Text>,
        dunning_policy_id -> Nullable<Uuid>,
        do_not_dun -> Bool,
        do_not_dun_reason -> Nullable<Text>,
        version -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    contacts (id) {
        id -> Uuid,
        account_id -> Uuid,
        name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        role -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    contract_amendments (id) {
        id -> Uuid,
        contract_id -> Uuid,
        kind -> Text,
        effective_date -> Date,
        account_id -> Nullable<Uuid>,
        previous_account_id -> Nullable<Uuid>,
        new_end_date -> Nullable<Date>,
        previous_end_date -> Nullable<Date>,
        details -> Jsonb,
        note -> Nullable<Text>,
        needs_review -> Bool,
        review_invoice_id -> Nullable<Uuid>,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contract_charges (id) {
        id -> Uuid,
        contract_id -> Uuid,
        description -> Text,
        amount -> Numeric,
        financial_code_id -> Uuid,
        taxable -> Bool,
        effective_from -> Date,
        effective_to -> Nullable<Date>,
        amendment_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contract_documents (id) {
        id -> Uuid,
        contract_id -> Uuid,
        kind -> Text,
        filename -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        sha256 -> Text,
        content -> Bytea,
        uploaded_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contracts (id) {
        id -> Uuid,
        number -> Text,
        account_id -> Uuid,
        kind -> Text,
        status -> Text,
        currency -> Text,
        start_date -> Date,
        end_date -> Nullable<Date>,
        billing_frequency -> Text,
        anchor_day -> Int2,
        billing_timing -> Text,
        payment_terms_days -> Nullable<Int4>,
        description -> Nullable<Text>,
        external_reference -> Nullable<Text>,
        terminated_on -> Nullable<Date>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        activated_at -> Nullable<Timestamptz>,
        anchor_month -> Nullable<Int2>,
        external_crm_id -> Nullable<Text>,
    }
}

diesel::table! {
    credit_applications (id) {
        id -> Uuid,
        credit_memo_id -> Uuid,
        invoice_id -> Uuid,
        amount -> Numeric,
        applied_on -> Date,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    credit_holds (id) {
        id -> Uuid,
        account_id -> Uuid,
        source -> Text,
        reason -> Text,
        placed_by -> Text,
        placed_at -> Timestamptz,
        released_by -> Nullable<Text>,
        released_at -> Nullable<Timestamptz>,
        release_note -> Nullable<Text>,
        version -> Int4,
    }
}

diesel::table! {
    credit_memo_lines (id) {
        id -> Uuid,
        credit_memo_id -> Uuid,
        line_no -> Int4,
        description -> Text,
        amount -> Numeric,
        invoice_id -> Nullable<Uuid>,
        invoice_line_id -> Nullable<Uuid>,
        financial_code_id -> Nullable<Uuid>,
        taxable -> Bool,
        tax_amount -> Numeric,
        period_start -> Nullable<Date>,
        period_end -> Nullable<Date>,
    }
}

diesel::table! {
    credit_memo_targets (credit_memo_id, invoice_id) {
        credit_memo_id -> Uuid,
        invoice_id -> Uuid,
        amount -> Numeric,
    }
}

diesel::table! {
    credit_memos (id) {
        id -> Uuid,
        number -> Nullable<Text>,
        account_id -> Uuid,
        status -> Text,
        reason -> Text,
        financial_code_id -> Uuid,
        currency -> Text,
        total -> Numeric,
        amount_applied -> Numeric,
        amount_refunded -> Numeric,
        dispute_id -> Nullable<Uuid>,
        memo -> Nullable<Text>,
        credit_date -> Nullable<Date>,
        submitted_by -> Nullable<Text>,
        submitted_at -> Nullable<Timestamptz>,
        approved_by -> Nullable<Text>,
        approved_at -> Nullable<Timestamptz>,
        approval_note -> Nullable<Text>,
        rejected_by -> Nullable<Text>,
        rejection_note -> Nullable<Text>,
        issued_at -> Nullable<Timestamptz>,
        voided_at -> Nullable<Timestamptz>,
        void_reason -> Nullable<Text>,
        created_by -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        tax_total -> Numeric,
    }
}

diesel::table! {
    credit_refunds (id) {
        id -> Uuid,
        credit_memo_id -> Uuid,
        amount -> Numeric,
        method -> Text,
        reference -> Nullable<Text>,
        refunded_on -> Date,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    credit_review_documents (id) {
        id -> Uuid,
        review_id -> Uuid,
        filename -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        sha256 -> Text,
        content -> Bytea,
        uploaded_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    credit_reviews (id) {
        id -> Uuid,
        account_id -> Uuid,
        status -> Text,
        reason -> Text,
        currency -> Text,
        requested_limit -> Numeric,
        requested_terms_days -> Int4,
        current_limit -> Nullable<Numeric>,
        current_terms_days -> Int4,
        terms_exception -> Bool,
        note -> Nullable<Text>,
        external_score -> Nullable<Jsonb>,
        review_date -> Date,
        history -> Jsonb,
        requested_by -> Text,
        escalated_by -> Nullable<Text>,
        escalation_note -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_role -> Nullable<Text>,
        decided_at -> Nullable<Timestamptz>,
        decision_note -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    crm_events (source, id) {
        source -> Text,
        id -> Text,
        #[sql_name = "type"]
        type_ -> Text,
        occurred_at -> Nullable<Timestamptz>,
        subject -> Nullable<Text>,
        raw_body -> Bytea,
        signature_secret -> Int4,
        signed_at -> Timestamptz,
        status -> Text,
        failure_code -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        result -> Nullable<Jsonb>,
        attempts -> Int4,
        received_at -> Timestamptz,
        processed_at -> Timestamptz,
    }
}

diesel::table! {
    deductions (id) {
        id -> Uuid,
        account_id -> Uuid,
        payment_id -> Uuid,
        invoice_id -> Uuid,
        amount -> Numeric,
        currency -> Text,
        reason -> Text,
        status -> Text,
        note -> Nullable<Text>,
        resolved_at -> Nullable<Timestamptz>,
        resolved_by -> Nullable<Text>,
        adjustment_id -> Nullable<Uuid>,
        settled_by_payment_id -> Nullable<Uuid>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        dispute_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    dispute_attachments (id) {
        id -> Uuid,
        dispute_id -> Uuid,
        filename -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        sha256 -> Text,
        content -> Bytea,
        uploaded_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    dispute_notes (id) {
        id -> Uuid,
        dispute_id -> Uuid,
        author -> Text,
        text -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    disputes (id) {
        id -> Uuid,
        number -> Text,
        account_id -> Uuid,
        invoice_id -> Uuid,
        invoice_line_id -> Nullable<Uuid>,
        deduction_id -> Nullable<Uuid>,
        amount -> Numeric,
        currency -> Text,
        reason -> Text,
        description -> Text,
        contact_name -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        contact_phone -> Nullable<Text>,
        status -> Text,
        assignee -> Nullable<Text>,
        opened_on -> Date,
        sla_due_date -> Date,
        root_cause -> Nullable<Text>,
        resolution_note -> Nullable<Text>,
        approved_amount -> Nullable<Numeric>,
        credit_memo_id -> Nullable<Uuid>,
        resolved_at -> Nullable<Timestamptz>,
        resolved_by -> Nullable<Text>,
        opened_by -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        tax_amount -> Numeric,
    }
}

diesel::table! {
    dunning_actions (invoice_id, policy_id, step_no) {
        invoice_id -> Uuid,
        policy_id -> Uuid,
        step_no -> Int4,
        policy_version -> Int4,
        account_id -> Uuid,
        run_id -> Uuid,
        action -> Text,
        outcome -> Text,
        days_past_due -> Int4,
        amount -> Numeric,
        task_id -> Nullable<Uuid>,
        service_order_id -> Nullable<Uuid>,
        performed_at -> Timestamptz,
    }
}

diesel::table! {
    dunning_policies (id) {
        id -> Uuid,
        name -> Text,
        segment -> Nullable<Text>,
        is_default -> Bool,
        version -> Int4,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    dunning_runs (id) {
        id -> Uuid,
        as_of -> Date,
        trigger -> Text,
        status -> Text,
        started_by -> Text,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        invoices_examined -> Int4,
        steps_performed -> Int4,
        notices -> Int4,
        tasks -> Int4,
        service_orders -> Int4,
        promises_kept -> Int4,
        promises_broken -> Int4,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    dunning_steps (policy_id, policy_version, step_no) {
        policy_id -> Uuid,
        policy_version -> Int4,
        step_no -> Int4,
        days_past_due -> Int4,
        action -> Text,
        min_balance -> Numeric,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
    }
}

diesel::table! {
    equipment (id) {
        id -> Uuid,
        contract_id -> Uuid,
        serial_number -> Text,
        make -> Text,
        model -> Text,
        install_address -> Nullable<Jsonb>,
        installed_on -> Date,
        removed_on -> Nullable<Date>,
        pickup_status -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    financial_codes (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        kind -> Text,
        description -> Nullable<Text>,
        active -> Bool,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (principal, key) {
        principal -> Text,
        key -> Text,
        fingerprint -> Text,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_lines (id) {
        id -> Uuid,
        invoice_id -> Uuid,
        line_no -> Int4,
        kind -> Text,
        description -> Text,
        quantity -> Numeric,
        unit_price -> Numeric,
        amount -> Numeric,
        financial_code_id -> Uuid,
        taxable -> Bool,
        contract_id -> Nullable<Uuid>,
        charge_id -> Nullable<Uuid>,
        meter_id -> Nullable<Uuid>,
        period_start -> Nullable<Date>,
        period_end -> Nullable<Date>,
        billed_days -> Nullable<Int4>,
        period_days -> Nullable<Int4>,
        meter_type -> Nullable<Text>,
        start_reading -> Nullable<Int8>,
        start_read_on -> Nullable<Date>,
        start_estimated -> Nullable<Bool>,
        end_reading -> Nullable<Int8>,
        end_read_on -> Nullable<Date>,
        end_estimated -> Nullable<Bool>,
        estimate_method -> Nullable<Text>,
        usage -> Nullable<Int8>,
        included_units -> Nullable<Int8>,
        overage_units -> Nullable<Int8>,
        overage_rate -> Nullable<Numeric>,
        explanation -> Nullable<Text>,
    }
}

diesel::table! {
    invoice_presentments (id) {
        id -> Uuid,
        invoice_id -> Uuid,
        account_id -> Uuid,
        channel -> Text,
        destination -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        occurred_at -> Timestamptz,
        posted_by -> Text,
        posted_role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    invoices (id) {
        id -> Uuid,
        number -> Nullable<Text>,
        account_id -> Uuid,
        contract_id -> Nullable<Uuid>,
        billing_run_id -> Nullable<Uuid>,
        status -> Text,
        currency -> Text,
        invoice_date -> Date,
        due_date -> Date,
        payment_terms_days -> Int4,
        period_start -> Nullable<Date>,
        period_end -> Nullable<Date>,
        subtotal -> Numeric,
        taxable_amount -> Numeric,
        tax_rate -> Numeric,
        tax_total -> Numeric,
        total -> Numeric,
        review_required -> Bool,
        review_reason -> Nullable<Text>,
        issued_at -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        po_number -> Nullable<Text>,
        reference_fields -> Jsonb,
        memo -> Nullable<Text>,
        amount_paid -> Numeric,
        amount_credited -> Numeric,
        amount_written_off -> Numeric,
        balance_due -> Numeric,
        disputed_amount -> Numeric,
        voided_at -> Nullable<Timestamptz>,
        void_reason -> Nullable<Text>,
        credited_taxable -> Numeric,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Uuid,
        seq -> Int8,
        account_id -> Uuid,
        invoice_id -> Nullable<Uuid>,
        kind -> Text,
        amount -> Numeric,
        currency -> Text,
        entry_date -> Date,
        document_type -> Text,
        document_id -> Uuid,
        description -> Text,
        created_by -> Text,
        request_id -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    meter_periods (meter_id, period_start) {
        meter_id -> Uuid,
        period_start -> Date,
        period_end -> Date,
        contract_id -> Uuid,
        invoice_id -> Uuid,
        start_value -> Int8,
        end_value -> Int8,
        end_read_on -> Date,
        end_estimated -> Bool,
        end_reading_id -> Uuid,
        usage -> Int8,
        included_units -> Int8,
        overage_rate -> Numeric,
        minimum_charge -> Numeric,
        charged -> Numeric,
        rerated_start_value -> Nullable<Int8>,
        rerated_end_value -> Nullable<Int8>,
        rerated_usage -> Nullable<Int8>,
        rerated_charged -> Nullable<Numeric>,
        rerated_invoice_id -> Nullable<Uuid>,
        corrected_end_value -> Nullable<Int8>,
    }
}

diesel::table! {
    meter_plans (id) {
        id -> Uuid,
        meter_id -> Uuid,
        effective_from -> Date,
        included_units -> Int8,
        overage_rate -> Numeric,
        minimum_charge -> Numeric,
        amendment_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    meter_readings (id) {
        id -> Uuid,
        meter_id -> Uuid,
        read_on -> Date,
        value -> Int8,
        source -> Text,
        reset -> Nullable<Text>,
        starting_value -> Nullable<Int8>,
        final_value -> Nullable<Int8>,
        estimate_method -> Nullable<Text>,
        estimate_basis -> Nullable<Jsonb>,
        billing_run_id -> Nullable<Uuid>,
        note -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamptz,
        voided_at -> Nullable<Timestamptz>,
        voided_by -> Nullable<Text>,
        void_reason -> Nullable<Text>,
        replaces_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    meters (id) {
        id -> Uuid,
        equipment_id -> Uuid,
        contract_id -> Uuid,
        meter_type -> Text,
        financial_code_id -> Uuid,
        expected_monthly_volume -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    notices (id) {
        id -> Uuid,
        number -> Text,
        account_id -> Uuid,
        invoice_id -> Uuid,
        policy_id -> Uuid,
        step_no -> Int4,
        action -> Text,
        channel -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        amount -> Numeric,
        currency -> Text,
        run_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    number_series (series) {
        series -> Text,
        next_value -> Int8,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Uuid,
        seq -> Int8,
        #[sql_name = "type"]
        type_ -> Text,
        resource_type -> Text,
        resource_id -> Uuid,
        account_id -> Nullable<Uuid>,
        occurred_at -> Timestamptz,
        data -> Jsonb,
    }
}

diesel::table! {
    partners (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        status -> Text,
        contact_email -> Nullable<Text>,
        contact_phone -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    payer_identities (kind, value, account_id) {
        kind -> Text,
        value -> Text,
        account_id -> Uuid,
        learned_from -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    payment_applications (id) {
        id -> Uuid,
        payment_id -> Uuid,
        invoice_id -> Uuid,
        amount -> Numeric,
        source -> Text,
        applied_on -> Date,
        created_by -> Text,
        created_at -> Timestamptz,
        reversed_at -> Nullable<Timestamptz>,
        reversed_by -> Nullable<Text>,
        reversal_reason -> Nullable<Text>,
    }
}

diesel::table! {
    payment_refunds (id) {
        id -> Uuid,
        payment_id -> Uuid,
        amount -> Numeric,
        method -> Text,
        reference -> Nullable<Text>,
        refunded_on -> Date,
        reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        number -> Text,
        account_id -> Uuid,
        amount -> Numeric,
        currency -> Text,
        method -> Text,
        reference -> Nullable<Text>,
        received_date -> Date,
        application_mode -> Text,
        memo -> Nullable<Text>,
        amount_applied -> Numeric,
        amount_refunded -> Numeric,
        status -> Text,
        returned_on -> Nullable<Date>,
        return_reason -> Nullable<Text>,
        return_code -> Nullable<Text>,
        return_note -> Nullable<Text>,
        return_fee_invoice_id -> Nullable<Uuid>,
        version -> Int4,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    placement_invoices (placement_id, invoice_id) {
        placement_id -> Uuid,
        invoice_id -> Uuid,
        amount -> Numeric,
    }
}

diesel::table! {
    placement_recoveries (id) {
        id -> Uuid,
        placement_id -> Uuid,
        payment_id -> Uuid,
        amount -> Numeric,
        commission -> Numeric,
        received_date -> Date,
        created_by -> Text,
        created_at -> Timestamptz,
        commission_adjustment_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    promise_instalments (promise_id, seq) {
        promise_id -> Uuid,
        seq -> Int4,
        due_date -> Date,
        amount -> Numeric,
        status -> Text,
    }
}

diesel::table! {
    promise_invoices (promise_id, invoice_id) {
        promise_id -> Uuid,
        invoice_id -> Uuid,
    }
}

diesel::table! {
    promises (id) {
        id -> Uuid,
        account_id -> Uuid,
        status -> Text,
        currency -> Text,
        total -> Numeric,
        grace_days -> Int4,
        promised_on -> Date,
        note -> Nullable<Text>,
        closed_on -> Nullable<Date>,
        close_reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    report_runs (id) {
        id -> Uuid,
        schedule_id -> Uuid,
        run_date -> Date,
        report -> Text,
        parameters -> Jsonb,
        format -> Text,
        status -> Text,
        content -> Nullable<Bytea>,
        content_type -> Nullable<Text>,
        file_name -> Nullable<Text>,
        size_bytes -> Nullable<Int8>,
        error -> Nullable<Text>,
        event_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    report_schedules (id) {
        id -> Uuid,
        report -> Text,
        parameters -> Jsonb,
        format -> Text,
        cadence -> Text,
        day_of_month -> Nullable<Int4>,
        weekday -> Nullable<Text>,
        recipients -> Array<Nullable<Uuid>>,
        description -> Nullable<Text>,
        active -> Bool,
        created_by -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    service_orders (id) {
        id -> Uuid,
        number -> Text,
        account_id -> Uuid,
        contract_id -> Nullable<Uuid>,
        kind -> Text,
        status -> Text,
        source -> Text,
        reason -> Text,
        equipment -> Jsonb,
        created_by -> Text,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        completed_on -> Nullable<Date>,
        completed_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        cancel_reason -> Nullable<Text>,
        version -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    tasks (id) {
        id -> Uuid,
        #[sql_name = "type"]
        type_ -> Text,
        subject_type -> Text,
        subject_id -> Uuid,
        account_id -> Nullable<Uuid>,
        title -> Text,
        description -> Nullable<Text>,
        due_date -> Date,
        priority -> Text,
        assignee -> Nullable<Text>,
        status -> Text,
        created_by -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Uuid,
        delivery_id -> Uuid,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        latency_ms -> Int4,
        error -> Nullable<Text>,
        response_body -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        event_id -> Uuid,
        endpoint_id -> Uuid,
        seq -> Int8,
        resource_id -> Uuid,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        failed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        url -> Text,
        event_types -> Array<Nullable<Text>>,
        description -> Nullable<Text>,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(account_notes -> accounts (account_id));
diesel::joinable!(account_notes -> contacts (contact_id));
diesel::joinable!(accounts -> partners (partner_id));
diesel::joinable!(adjustments -> accounts (account_id));
diesel::joinable!(adjustments -> financial_codes (financial_code_id));
diesel::joinable!(adjustments -> invoices (invoice_id));
diesel::joinable!(adjustments -> payments (payment_id));
diesel::joinable!(agency_placements -> accounts (account_id));
diesel::joinable!(agency_placements -> financial_codes (commission_financial_code_id));
diesel::joinable!(assignment_rules -> partners (partner_id));
diesel::joinable!(bank_transactions -> accounts (account_id));
diesel::joinable!(bank_transactions -> bank_files (file_id));
diesel::joinable!(bank_transactions -> payments (payment_id));
diesel::joinable!(billed_periods -> contracts (contract_id));
diesel::joinable!(billed_periods -> invoices (invoice_id));
diesel::joinable!(billing_run_errors -> billing_runs (run_id));
diesel::joinable!(billing_run_errors -> contracts (contract_id));
diesel::joinable!(billing_runs -> accounts (account_id));
diesel::joinable!(billing_runs -> contracts (contract_id));
diesel::joinable!(collection_profiles -> accounts (account_id));
diesel::joinable!(collection_profiles -> assignment_rules (assignment_rule_id));
diesel::joinable!(collection_profiles -> dunning_policies (dunning_policy_id));
diesel::joinable!(contacts -> accounts (account_id));
diesel::joinable!(contract_amendments -> contracts (contract_id));
diesel::joinable!(contract_charges -> contract_amendments (amendment_id));
diesel::joinable!(contract_charges -> contracts (contract_id));
diesel::joinable!(contract_charges -> financial_codes (financial_code_id));
diesel::joinable!(contract_documents -> contracts (contract_id));
diesel::joinable!(contracts -> accounts (account_id));
diesel::joinable!(credit_applications -> credit_memos (credit_memo_id));
diesel::joinable!(credit_applications -> invoices (invoice_id));
diesel::joinable!(credit_holds -> accounts (account_id));
diesel::joinable!(credit_memo_lines -> credit_memos (credit_memo_id));
diesel::joinable!(credit_memo_lines -> financial_codes (financial_code_id));
diesel::joinable!(credit_memo_lines -> invoice_lines (invoice_line_id));
diesel::joinable!(credit_memo_lines -> invoices (invoice_id));
diesel::joinable!(credit_memo_targets -> credit_memos (credit_memo_id));
diesel::joinable!(credit_memo_targets -> invoices (invoice_id));
diesel::joinable!(credit_memos -> accounts (account_id));
diesel::joinable!(credit_memos -> financial_codes (financial_code_id));
diesel::joinable!(credit_refunds -> credit_memos (credit_memo_id));
diesel::joinable!(credit_review_documents -> credit_reviews (review_id));
diesel::joinable!(credit_reviews -> accounts (account_id));
diesel::joinable!(deductions -> accounts (account_id));
diesel::joinable!(deductions -> invoices (invoice_id));
diesel::joinable!(dispute_attachments -> disputes (dispute_id));
diesel::joinable!(dispute_notes -> disputes (dispute_id));
diesel::joinable!(disputes -> accounts (account_id));
diesel::joinable!(disputes -> invoice_lines (invoice_line_id));
diesel::joinable!(disputes -> invoices (invoice_id));
diesel::joinable!(dunning_actions -> accounts (account_id));
diesel::joinable!(dunning_actions -> dunning_policies (policy_id));
diesel::joinable!(dunning_actions -> dunning_runs (run_id));
diesel::joinable!(dunning_actions -> invoices (invoice_id));
diesel::joinable!(dunning_actions -> service_orders (service_order_id));
diesel::joinable!(dunning_actions -> tasks (task_id));
diesel::joinable!(dunning_steps -> dunning_policies (policy_id));
diesel::joinable!(equipment -> contracts (contract_id));
diesel::joinable!(invoice_lines -> contract_charges (charge_id));
diesel::joinable!(invoice_lines -> contracts (contract_id));
diesel::joinable!(invoice_lines -> financial_codes (financial_code_id));
diesel::joinable!(invoice_lines -> invoices (invoice_id));
diesel::joinable!(invoice_lines -> meters (meter_id));
diesel::joinable!(invoice_presentments -> accounts (account_id));
diesel::joinable!(invoice_presentments -> invoices (invoice_id));
diesel::joinable!(invoices -> accounts (account_id));
diesel::joinable!(invoices -> billing_runs (billing_run_id));
diesel::joinable!(invoices -> contracts (contract_id));
diesel::joinable!(ledger_entries -> accounts (account_id));
diesel::joinable!(ledger_entries -> invoices (invoice_id));
diesel::joinable!(meter_periods -> contracts (contract_id));
diesel::joinable!(meter_periods -> meter_readings (end_reading_id));
diesel::joinable!(meter_periods -> meters (meter_id));
diesel::joinable!(meter_plans -> contract_amendments (amendment_id));
diesel::joinable!(meter_plans -> meters (meter_id));
diesel::joinable!(meter_readings -> billing_runs (billing_run_id));
diesel::joinable!(meter_readings -> meters (meter_id));
diesel::joinable!(meters -> contracts (contract_id));
diesel::joinable!(meters -> equipment (equipment_id));
diesel::joinable!(meters -> financial_codes (financial_code_id));
diesel::joinable!(notices -> accounts (account_id));
diesel::joinable!(notices -> dunning_runs (run_id));
diesel::joinable!(notices -> invoices (invoice_id));
diesel::joinable!(payer_identities -> accounts (account_id));
diesel::joinable!(payer_identities -> bank_transactions (learned_from));
diesel::joinable!(payment_applications -> invoices (invoice_id));
diesel::joinable!(payment_applications -> payments (payment_id));
diesel::joinable!(payment_refunds -> payments (payment_id));
diesel::joinable!(payments -> accounts (account_id));
diesel::joinable!(payments -> invoices (return_fee_invoice_id));
diesel::joinable!(placement_invoices -> agency_placements (placement_id));
diesel::joinable!(placement_invoices -> invoices (invoice_id));
diesel::joinable!(placement_recoveries -> adjustments (commission_adjustment_id));
diesel::joinable!(placement_recoveries -> agency_placements (placement_id));
diesel::joinable!(placement_recoveries -> payments (payment_id));
diesel::joinable!(promise_instalments -> promises (promise_id));
diesel::joinable!(promise_invoices -> invoices (invoice_id));
diesel::joinable!(promise_invoices -> promises (promise_id));
diesel::joinable!(promises -> accounts (account_id));
diesel::joinable!(report_runs -> report_schedules (schedule_id));
diesel::joinable!(service_orders -> accounts (account_id));
diesel::joinable!(service_orders -> contracts (contract_id));
diesel::joinable!(tasks -> accounts (account_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(webhook_deliveries -> outbox_events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    account_notes,
    accounts,
    adjustments,
    agency_placements,
    assignment_rules,
    audit_events,
    bank_files,
    bank_transactions,
    billed_periods,
    billing_run_errors,
    billing_runs,
    collection_goals,
    collection_profiles,
    contacts,
    contract_amendments,
    contract_charges,
    contract_documents,
    contracts,
    credit_applications,
    credit_holds,
    credit_memo_lines,
    credit_memo_targets,
    credit_memos,
    credit_refunds,
    credit_review_documents,
    credit_reviews,
    crm_events,
    deductions,
    dispute_attachments,
    dispute_notes,
    disputes,
    dunning_actions,
    dunning_policies,
    dunning_runs,
    dunning_steps,
    equipment,
    financial_codes,
    idempotency_keys,
    invoice_lines,
    invoice_presentments,
    invoices,
    ledger_entries,
    meter_periods,
    meter_plans,
    meter_readings,
    meters,
    notices,
    number_series,
    outbox_events,
    partners,
    payer_identities,
    payment_applications,
    payment_refunds,
    payments,
    placement_invoices,
    placement_recoveries,
    promise_instalments,
    promise_invoices,
    promises,
    report_runs,
    report_schedules,
    service_orders,
    tasks,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
);
