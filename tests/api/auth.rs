//! Every way a token can be wrong is a 401 problem; a role without the permission is a 403;
//! a partner token sees only its partner's accounts.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use receivables::auth::Role;
use serde_json::json;

use crate::helpers::*;

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(overrides: serde_json::Value) -> serde_json::Value {
    let mut c = json!({
        "sub": "someone", "role": "admin", "iss": ISSUER, "aud": AUDIENCE,
        "exp": now() + 600, "iat": now()
    });
    merge(&mut c, overrides);
    c
}

fn hs256(kid: Option<&str>, claims: &serde_json::Value, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn refused(app: &TestApp, token: &str, code: &str) {
    let reply = app
        .get("/v1/accounts", token)
        .await
        .expect_problem(401, code);
    assert!(reply
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
}

#[tokio::test]
async fn requests_without_a_token_are_refused() {
    let app = spawn_app().await;
    let reply = app.send(app.client.get(app.url("/v1/accounts"))).await;
    reply.expect_problem(401, "missing_token");
    let reply = app
        .send(
            app.client
                .get(app.url("/v1/accounts"))
                .header("Authorization", "Basic abc"),
        )
        .await;
    reply.expect_problem(401, "missing_token");
}

#[tokio::test]
async fn expired_wrong_audience_wrong_issuer_and_missing_claims_are_refused() {
    let app = spawn_app().await;
    refused(
        &app,
        &hs256(
            Some("hs-test"),
            &claims(json!({"exp": now() - 120})),
            SECRET,
        ),
        "token_expired",
    )
    .await;
    refused(
        &app,
        &hs256(
            Some("hs-test"),
            &claims(json!({"aud": "another-api"})),
            SECRET,
        ),
        "invalid_token",
    )
    .await;
    refused(
        &app,
        &hs256(
            Some("hs-test"),
            &claims(json!({"iss": "someone-else"})),
            SECRET,
        ),
        "invalid_token",
    )
    .await;
    let mut no_exp = claims(json!({}));
    no_exp.as_object_mut().unwrap().remove("exp");
    refused(
        &app,
        &hs256(Some("hs-test"), &no_exp, SECRET),
        "invalid_token",
    )
    .await;
    refused(
        &app,
        &hs256(
            Some("hs-test"),
            &claims(json!({"role": "superuser"})),
            SECRET,
        ),
        "invalid_token",
    )
    .await;
    refused(
        &app,
        &hs256(Some("hs-test"), &claims(json!({"role": "partner"})), SECRET),
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn alg_none_wrong_key_and_unknown_kid_are_refused() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let app = spawn_app().await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"hs-test"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
    refused(&app, &format!("{header}.{payload}."), "invalid_token").await;
    refused(
        &app,
        &hs256(
            Some("hs-test"),
            &claims(json!({})),
            "another-secret-of-enough-length-000000",
        ),
        "invalid_token",
    )
    .await;
    refused(
        &app,
        &hs256(Some("retired-key"), &claims(json!({})), SECRET),
        "invalid_token",
    )
    .await;
    // Several keys are configured, so a token must say which one signed it.
    refused(
        &app,
        &hs256(None, &claims(json!({})), SECRET),
        "invalid_token",
    )
    .await;
    refused(&app, "not-a-jwt", "invalid_token").await;
}

#[tokio::test]
async fn standard_tokens_with_an_audience_list_and_no_iat_are_accepted() {
    let app = spawn_app().await;
    let mut c = claims(json!({"aud": ["another-api", AUDIENCE], "role": "viewer"}));
    c.as_object_mut().unwrap().remove("iat");
    app.get("/v1/accounts", &hs256(Some("hs-test"), &c, SECRET))
        .await
        .expect(200);
}

#[tokio::test]
async fn the_algorithm_is_pinned_to_the_key() {
    let app = spawn_app().await;
    // An HS256 token naming the RSA key id, signed with the RSA public key as a secret.
    let public = private_key("rs256-public.pem");
    refused(
        &app,
        &hs256(Some("rsa-test"), &claims(json!({})), &public),
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn rs256_and_eddsa_keys_are_chosen_by_kid() {
    let app = spawn_app().await;
    for (kid, alg, file) in [
        ("rsa-test", Algorithm::RS256, "rs256-private.pem"),
        ("ed-test", Algorithm::EdDSA, "ed25519-private.pem"),
    ] {
        let pem = private_key(file);
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        let token =
            jsonwebtoken::encode(&header, &claims(json!({"role": "viewer"})), &key).unwrap();
        app.get("/v1/accounts", &token).await.expect(200);
        // The same key under another kid is refused: the kid picks key and algorithm together.
        let mut header = Header::new(alg);
        header.kid = Some(
            if kid == "rsa-test" {
                "ed-test"
            } else {
                "rsa-test"
            }
            .into(),
        );
        let token = jsonwebtoken::encode(&header, &claims(json!({})), &key).unwrap();
        refused(&app, &token, "invalid_token").await;
    }
}

#[tokio::test]
async fn a_role_without_the_permission_is_forbidden_and_nothing_changes() {
    let app = spawn_app().await;
    let reply = app
        .post("/v1/accounts", &token(Role::Viewer), &account_body("Acme"))
        .await;
    reply.expect_problem(403, "forbidden");
    let reply = app
        .post(
            "/v1/accounts",
            &token(Role::Collections),
            &account_body("Acme"),
        )
        .await;
    reply.expect_problem(403, "forbidden");
    assert_eq!(app.count("accounts").await, 0);
    assert_eq!(app.count("audit_events").await, 0);
    app.get("/v1/accounts", &token(Role::Viewer))
        .await
        .expect(200);
    app.get("/v1/audit-events", &partner_token(uuid::Uuid::now_v7()))
        .await
        .expect_problem(403, "forbidden");
    app.post(
        "/v1/financial-codes",
        &token(Role::Collections),
        &json!({"code": "X", "name": "X", "kind": "fee"}),
    )
    .await
    .expect_problem(403, "forbidden");
}

#[tokio::test]
async fn a_partner_sees_only_its_own_accounts_and_what_hangs_under_them() {
    let app = spawn_app().await;
    let ours = app.create_partner("OURS").await;
    let theirs = app.create_partner("THEIRS").await;
    let mine = app
        .create_account(json!({"legal_name": "Mine Ltd", "partner_id": ours["id"]}))
        .await;
    let other = app
        .create_account(json!({"legal_name": "Other Ltd", "partner_id": theirs["id"]}))
        .await;
    let direct = app
        .create_account(json!({"legal_name": "Direct Ltd"}))
        .await;
    for account in [&mine, &other] {
        app.post(
            &format!("/v1/accounts/{}/contacts", account["id"].as_str().unwrap()),
            &admin_token(),
            &json!({"name": "AP", "email": "ap@example.com", "role": "accounts_payable"}),
        )
        .await
        .expect(201);
    }
    let partner = partner_token(ours["id"].as_str().unwrap().parse().unwrap());

    let list = app.get("/v1/accounts", &partner).await.expect(200);
    let ids: Vec<_> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, vec![mine["id"].clone()]);
    // Filtering by another partner does not widen the scope.
    let list = app
        .get(
            &format!("/v1/accounts?partner_id={}", theirs["id"].as_str().unwrap()),
            &partner,
        )
        .await
        .expect(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 0);

    app.get(
        &format!("/v1/accounts/{}", mine["id"].as_str().unwrap()),
        &partner,
    )
    .await
    .expect(200);
    app.get(
        &format!("/v1/accounts/{}/contacts", mine["id"].as_str().unwrap()),
        &partner,
    )
    .await
    .expect(200);
    for account in [&other, &direct] {
        let id = account["id"].as_str().unwrap();
        app.get(&format!("/v1/accounts/{id}"), &partner)
            .await
            .expect_problem(404, "not_found");
        app.get(&format!("/v1/accounts/{id}/contacts"), &partner)
            .await
            .expect_problem(404, "not_found");
    }
    // Partners do not change accounts.
    app.patch(
        &format!("/v1/accounts/{}", mine["id"].as_str().unwrap()),
        &partner,
        &json!({"legal_name": "X", "version": 1}),
    )
    .await
    .expect_problem(403, "forbidden");
}
