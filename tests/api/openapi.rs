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
                assert!(
                    responses.contains_key("422"),
                    "{method} {path} documents validation errors"
                );
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
