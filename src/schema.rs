// @generated automatically by Diesel CLI.

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
    number_series (series) {
        series -> Text,
        next_value -> Int8,
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

diesel::joinable!(accounts -> partners (partner_id));
diesel::joinable!(contacts -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    audit_events,
    contacts,
    financial_codes,
    idempotency_keys,
    number_series,
    partners,
);
