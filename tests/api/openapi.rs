//! The committed OpenAPI file matches the code, and every operation documents itself fully.

use crate::helpers::*;

fn committed() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
        .unwrap_or_default()
}

#[test]
fn the_committed_spec_matches_the_code() {
    let generated = receivables::openapi_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"),
            &generated,
        )
        .unwrap();
        return;
    }
    assert!(
        committed() == generated,
        "openapi/openapi.json is out of date: run `cargo run -- openapi > openapi/openapi.json` (or UPDATE_OPENAPI=1 cargo test)"
    );
}

#[test]
fn every_operation_has_responses_errors_and_auth() {
    let spec: serde_json::Value = serde_json::from_str(&receivables::openapi_json()).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = spec["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has responses"));
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} documents success"
            );
            if path.starts_with("/v1/") && path != "/v1/openapi.json" {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} documents its auth"
                );
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents 401"
                );
                assert!(
                    responses.contains_key("403"),
                    "{method} {path} documents 403"
                );
                assert!(
                    responses.contains_key("400"),
                    "{method} {path} documents 400"
                );
            }
            if op.get("requestBody").is_some() {
                for status in ["413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} documents {status}: it reads a body"
                    );
                }
            }
            if path.starts_with("/v1/") && path != "/v1/openapi.json" {
                assert!(
                    responses.contains_key("503"),
                    "{method} {path} documents 503"
                );
            }
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                if parameter["name"] == "Idempotency-Key" {
                    assert_eq!(parameter["schema"]["maxLength"], 255);
                    assert_eq!(parameter["schema"]["type"], "string");
                    assert!(
                        responses.contains_key("422"),
                        "{method} {path}: reused keys"
                    );
                }
                if parameter["name"] == "If-Match" {
                    assert!(
                        responses.contains_key("412"),
                        "{method} {path}: stale If-Match"
                    );
                }
            }
            for response in responses.values() {
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    if media == "application/pdf" || media == "text/csv" {
                        assert_eq!(content["schema"]["format"], "binary", "{method} {path}");
                    }
                }
            }
        }
    }
    assert!(operations >= 25, "{operations} operations");
    for name in ["BadRequest", "Unauthorized", "ValidationFailed"] {
        assert!(
            spec["components"]["responses"][name].is_object(),
            "{name} is defined"
        );
    }
}

#[tokio::test]
async fn the_spec_is_served_by_the_service() {
    let app = spawn_app().await;
    let reply = app
        .send(app.client.get(app.url("/v1/openapi.json")))
        .await
        .expect(200);
    let generated: serde_json::Value = serde_json::from_str(&receivables::openapi_json()).unwrap();
    assert_eq!(reply.body, generated);
}

#[test]
fn the_readme_prints_the_role_table_of_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&receivables::auth::permission_table_markdown()),
        "README.md's role table differs from the code:\n{}",
        receivables::auth::permission_table_markdown()
    );
}

/// Every `$ref` of the document.
fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                out.push(r.to_string());
            }
            map.values().for_each(|v| refs(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// A generator resolves every reference and names every operation once; component names
/// are one type each (the billing run's and the dunning run's shapes are not one).
#[test]
fn every_reference_resolves_and_every_operation_id_is_unique() {
    let spec: serde_json::Value = serde_json::from_str(&receivables::openapi_json()).unwrap();
    let mut all = Vec::new();
    refs(&spec, &mut all);
    assert!(all.len() > 100);
    for r in &all {
        let pointer = r.strip_prefix('#').expect("a local reference");
        assert!(spec.pointer(pointer).is_some(), "{r} resolves");
    }
    let mut ids = std::collections::HashSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            assert!(!id.is_empty(), "{method} has an operationId");
            assert!(ids.insert(id.clone()), "operationId {id} is used twice");
        }
    }
    let schemas = &spec["components"]["schemas"];
    let billing_mode = &schemas["NewBillingRun"]["properties"]["mode"];
    assert!(!billing_mode.is_null(), "billing runs take a mode");
    assert!(schemas["DunningRunStatus"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v != "queued"));
    assert!(schemas["BillingRunStatus"]["enum"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("queued")));
}

/// Enum values are spelled as the service reads and writes them: the document's values of an
/// enum are exactly what serde makes of its variants.
#[test]
fn enum_values_are_the_wire_spelling() {
    use receivables::invoices::model::InvoiceStatus;
    use receivables::payments::model::PaymentMethod;
    let mut spec: serde_json::Value = serde_json::from_str(&receivables::openapi_json()).unwrap();
    let documented = |name: &str| spec["components"]["schemas"][name]["enum"].clone();
    let wire = |values: Vec<serde_json::Value>| serde_json::Value::Array(values);
    assert_eq!(
        documented("InvoiceStatus"),
        wire(
            InvoiceStatus::ALL
                .iter()
                .map(|s| serde_json::to_value(s).unwrap())
                .collect()
        )
    );
    assert_eq!(
        documented("PaymentMethod"),
        wire(
            PaymentMethod::ALL
                .iter()
                .map(|s| serde_json::to_value(s).unwrap())
                .collect()
        )
    );
    assert_eq!(documented("InvoiceStatus")[1], "open");
    let mut all = Vec::new();
    fn enums(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(values) = map.get("enum").and_then(|e| e.as_array()) {
                    out.extend(values.iter().filter_map(|v| v.as_str().map(str::to_string)));
                }
                map.values().for_each(|v| enums(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| enums(v, out)),
            _ => {}
        }
    }
    // Currency codes are ISO 4217's capitals, as the service reads and writes them.
    let currencies = spec["components"]["schemas"]["CurrencyCode"]["enum"].clone();
    assert!(currencies
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("USD")));
    spec["components"]["schemas"]
        .as_object_mut()
        .unwrap()
        .remove("CurrencyCode");
    enums(&spec, &mut all);
    assert!(all.len() > 150);
    for value in all {
        assert!(
            !value.chars().any(|c| c.is_ascii_uppercase()),
            "enum value {value:?} is not the wire's snake_case"
        );
    }
}
