//! A contract's original paperwork: uploaded as the raw body (PDF, PNG, JPEG or TIFF up to
//! 10 MiB), checked against its type, listed, and downloaded byte for byte.

use receivables::auth::Role;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::*;

const MAX: usize = 10 * 1024 * 1024;

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..len.saturating_sub(bytes.len())).map(|i| (i % 251) as u8));
    bytes.truncate(len);
    bytes
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
];
const TIFF_LE: &[u8] = b"II*\0\x08\0\0\0\0\0";
const TIFF_BE: &[u8] = b"MM\0*\0\0\0\x08\0\0";

/// A contract (there is no contract API yet): an account through the API, the contract row
/// directly. Returns (contract id, account id).
async fn create_contract(app: &TestApp, number: &str) -> (String, String) {
    let account = app.create_account(json!({})).await;
    let account_id = account["id"].as_str().unwrap().to_string();
    let id = Uuid::now_v7().to_string();
    app.execute(&sh(&format!(
        "INSERT INTO contracts (id, number, account_id, kind, status, currency, start_date, \
         billing_frequency, anchor_day, billing_timing) VALUES ('{id}', '{number}', '{account_id}', \
         'lease', 'active', 'USD', '2026-01-01', 'monthly', 1, 'advance')"
    )))
    .await
    .expect("insert contract");
    (id, account_id)
}

fn documents_path(contract_id: &str) -> String {
    format!("/v1/contracts/{contract_id}/documents")
}

async fn upload_as(
    app: &TestApp,
    token: &str,
    contract_id: &str,
    query: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
    key: Option<&str>,
) -> Reply {
    let mut request = app
        .client
        .post(app.url(&format!("{}?{query}", documents_path(contract_id))))
        .bearer_auth(token)
        .body(bytes);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    app.send(request).await
}

async fn upload(
    app: &TestApp,
    contract_id: &str,
    query: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Reply {
    upload_as(
        app,
        &token(Role::Billing),
        contract_id,
        query,
        Some(content_type),
        bytes,
        None,
    )
    .await
}

struct Download {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Download {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn download(app: &TestApp, contract_id: &str, document_id: &str, token: &str) -> Download {
    let response = app
        .client
        .get(app.url(&format!(
            "{}/{document_id}/content",
            documents_path(contract_id)
        )))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    Download {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        bytes: response.bytes().await.expect("body").to_vec(),
    }
}

/// Sends an upload with `Transfer-Encoding: chunked` (no Content-Length) over a plain socket
/// and returns the response as text. The service may answer before it has read everything.
async fn chunked_upload(app: &TestApp, path: &str, bytes: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let address = app.address.trim_start_matches("http://").to_string();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        token(Role::Billing)
    );
    tokio::task::spawn_blocking(move || {
        let mut socket = std::net::TcpStream::connect(&address).expect("connect");
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut send = || -> std::io::Result<()> {
            socket.write_all(head.as_bytes())?;
            for chunk in bytes.chunks(256 * 1024) {
                write!(socket, "{:x}\r\n", chunk.len())?;
                socket.write_all(chunk)?;
                socket.write_all(b"\r\n")?;
            }
            socket.write_all(b"0\r\n\r\n")
        };
        // The service may stop reading once the limit is passed; the answer is what counts.
        let _ = send();
        let mut response = Vec::new();
        let _ = socket.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .expect("chunked upload")
}

fn ids(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_signed_agreement_is_attached_audited_and_downloaded_byte_for_byte() {
    let app = spawn_app().await;
    let (contract_id, account_id) = create_contract(&app, "CON-000001").await;
    let bytes = pdf(50_000);
    let sha = hex_sha256(&bytes);
    let reply = upload(
        &app,
        &contract_id,
        "filename=Master%20lease%20-%20signed.pdf&kind=signed_agreement",
        "application/pdf",
        bytes.clone(),
    )
    .await
    .expect(201);
    let doc = &reply.body;
    let id = doc["id"].as_str().unwrap();
    assert_eq!(doc["contract_id"], contract_id.as_str());
    assert_eq!(doc["kind"], "signed_agreement");
    assert_eq!(doc["filename"], "Master lease - signed.pdf");
    assert_eq!(doc["content_type"], "application/pdf");
    assert_eq!(doc["size_bytes"], 50_000);
    assert_eq!(doc["sha256"], sha.as_str());
    assert_eq!(doc["uploaded_by"], "billing-user");
    assert!(doc.get("content").is_none(), "no content in the metadata");
    assert_eq!(
        app.count(&format!(
            "contract_documents WHERE id = '{id}' AND contract_id = '{contract_id}' \
             AND kind = 'signed_agreement' AND filename = 'Master lease - signed.pdf' \
             AND content_type = 'application/pdf' AND size_bytes = 50000 AND sha256 = '{sha}' \
             AND encode(sha256(content), 'hex') = '{sha}' AND uploaded_by = 'billing-user'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'contract.document_attached' AND entity_type = 'contract' \
             AND entity_id = '{contract_id}' AND account_id = '{account_id}' \
             AND actor = 'billing-user' AND before IS NULL AND after->>'id' = '{id}' \
             AND after->>'sha256' = '{sha}' AND NOT after ? 'content'"
        ))
        .await,
        1
    );

    let got = download(&app, &contract_id, id, &token(Role::Viewer)).await;
    assert_eq!(got.status, 200);
    assert_eq!(hex_sha256(&got.bytes), sha);
    assert_eq!(got.bytes, bytes);
    assert_eq!(got.header("content-type"), Some("application/pdf"));
    assert_eq!(got.header("content-length"), Some("50000"));
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename=\"Master lease - signed.pdf\"")
    );
    assert_eq!(got.header("etag"), Some(format!("\"{sha}\"").as_str()));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));

    // A copy already held is confirmed current, without the bytes.
    let reply = app
        .send(
            app.client
                .get(app.url(&format!("{}/{id}/content", documents_path(&contract_id))))
                .bearer_auth(token(Role::Viewer))
                .header("if-none-match", format!("\"{sha}\"")),
        )
        .await;
    assert_eq!(reply.status, 304);
}

#[tokio::test]
async fn images_of_every_accepted_type_are_stored_and_kind_defaults_to_other() {
    let app = spawn_app().await;
    let (contract_id, _) = create_contract(&app, "CON-000001").await;
    for (content_type, bytes, name) in [
        ("image/png", PNG, "scan.png"),
        ("image/jpeg", JPEG, "photo.jpg"),
        ("image/tiff", TIFF_LE, "fax-le.tif"),
        ("image/tiff", TIFF_BE, "fax-be.tif"),
        ("IMAGE/PNG; name=x", PNG, "upper.png"),
    ] {
        let reply = upload(
            &app,
            &contract_id,
            &format!("filename={name}"),
            content_type,
            bytes.to_vec(),
        )
        .await
        .expect(201);
        assert_eq!(reply.body["kind"], "other");
        let stored_type = content_type.split(';').next().unwrap().to_ascii_lowercase();
        assert_eq!(reply.body["content_type"], stored_type.as_str());
        let got = download(
            &app,
            &contract_id,
            reply.body["id"].as_str().unwrap(),
            &token(Role::Integration),
        )
        .await;
        assert_eq!(got.status, 200);
        assert_eq!(got.bytes, bytes);
        assert_eq!(got.header("content-type"), Some(stored_type.as_str()));
    }
    assert_eq!(
        app.count(&format!(
            "contract_documents WHERE contract_id = '{contract_id}' AND kind = 'other'"
        ))
        .await,
        5
    );
}

#[tokio::test]
async fn unusual_filenames_are_sent_back_safely_quoted() {
    let app = spawn_app().await;
    let (contract_id, _) = create_contract(&app, "CON-000001").await;
    let reply = upload(
        &app,
        &contract_id,
        "filename=the%20%22final%22%20copy%5Cv2.pdf&kind=addendum",
        "application/pdf",
        pdf(100),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["filename"], "the \"final\" copy\\v2.pdf");
    let got = download(
        &app,
        &contract_id,
        reply.body["id"].as_str().unwrap(),
        &admin_token(),
    )
    .await;
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename=\"the \\\"final\\\" copy\\\\v2.pdf\"")
    );

    let reply = upload(
        &app,
        &contract_id,
        "filename=Vertrag%20%C3%BCber%20Leasing.pdf&kind=amendment",
        "application/pdf",
        pdf(100),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["filename"], "Vertrag \u{fc}ber Leasing.pdf");
    let got = download(
        &app,
        &contract_id,
        reply.body["id"].as_str().unwrap(),
        &admin_token(),
    )
    .await;
    assert_eq!(
        got.header("content-disposition"),
        Some(
            "attachment; filename=\"Vertrag _ber Leasing.pdf\"; \
             filename*=UTF-8''Vertrag%20%C3%BCber%20Leasing.pdf"
        )
    );
}

#[tokio::test]
async fn documents_are_listed_by_contract_in_upload_order_and_paginated() {
    let app = spawn_app().await;
    let (contract_id, _) = create_contract(&app, "CON-000001").await;
    let (other_contract, _) = create_contract(&app, "CON-000002").await;
    let mut uploaded = Vec::new();
    for (i, kind) in ["signed_agreement", "addendum", "amendment"]
        .iter()
        .enumerate()
    {
        let reply = upload(
            &app,
            &contract_id,
            &format!("filename=doc-{i}.pdf&kind={kind}"),
            "application/pdf",
            pdf(200 + i),
        )
        .await
        .expect(201);
        uploaded.push(reply.body["id"].as_str().unwrap().to_string());
    }
    upload(
        &app,
        &other_contract,
        "filename=other.pdf",
        "application/pdf",
        pdf(300),
    )
    .await
    .expect(201);

    let reader = token(Role::Collections);
    let all = app
        .get(&documents_path(&contract_id), &reader)
        .await
        .expect(200);
    assert_eq!(ids(&all), uploaded);
    let first = &all.body["data"][0];
    assert_eq!(first["filename"], "doc-0.pdf");
    assert_eq!(first["kind"], "signed_agreement");
    assert_eq!(first["size_bytes"], 200);
    assert_eq!(first["sha256"], hex_sha256(&pdf(200)).as_str());
    assert!(first.get("content").is_none());

    let page = app
        .get(
            &format!("{}?limit=2", documents_path(&contract_id)),
            &reader,
        )
        .await
        .expect(200);
    assert_eq!(ids(&page), uploaded[..2]);
    assert_eq!(page.body["has_more"], true);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("{}?limit=2&cursor={cursor}", documents_path(&contract_id)),
            &reader,
        )
        .await
        .expect(200);
    assert_eq!(ids(&rest), uploaded[2..]);
    assert_eq!(rest.body["has_more"], false);
    assert_eq!(rest.body["next_cursor"], Value::Null);

    let other = app
        .get(&documents_path(&other_contract), &reader)
        .await
        .expect(200);
    assert_eq!(other.body["data"].as_array().unwrap().len(), 1);
    app.get(
        &format!("{}?limit=0", documents_path(&contract_id)),
        &reader,
    )
    .await
    .expect_problem(400, "invalid_query");
}

#[tokio::test]
async fn a_document_of_exactly_10_mib_is_accepted_and_one_byte_more_is_a_413() {
    let app = spawn_app().await;
    let (contract_id, _) = create_contract(&app, "CON-000001").await;
    let bytes = pdf(MAX);
    let sha = hex_sha256(&bytes);
    let reply = upload(
        &app,
        &contract_id,
        "filename=big.pdf",
        "application/pdf",
        bytes.clone(),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["size_bytes"], MAX);
    let got = download(
        &app,
        &contract_id,
        reply.body["id"].as_str().unwrap(),
        &admin_token(),
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes.len(), MAX);
    assert_eq!(hex_sha256(&got.bytes), sha);

    let reply = upload(
        &app,
        &contract_id,
        "filename=too-big.pdf",
        "application/pdf",
        pdf(MAX + 1),
    )
    .await
    .expect_problem(413, "payload_too_large");
    assert!(
        reply.body["detail"].as_str().unwrap().contains("10485760"),
        "{}",
        reply.body
    );
    // Without a Content-Length (chunked), the limit holds as the bytes arrive.
    let head = chunked_upload(
        &app,
        &format!("{}?filename=chunked.pdf", documents_path(&contract_id)),
        pdf(MAX + 1),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    assert!(head.contains("\"code\":\"payload_too_large\""), "{head}");
    assert_eq!(app.count("contract_documents").await, 1);
    assert_eq!(
        app.count("audit_events WHERE action = 'contract.document_attached'")
            .await,
        1
    );
}

#[tokio::test]
async fn other_media_types_are_a_415_naming_the_allowed_ones() {
    let app = spawn_app().await;
    let (contract_id, _) = create_contract(&app, "CON-000001").await;
    let billing = token(Role::Billing);
    for content_type in [
        Some("text/plain"),
        Some("image/gif"),
        Some("application/json"),
        Some("application/octet-stream"),
        None,
    ] {
        let reply = upload_as(
            &app,
            &billing,
            &contract_id,
            "filename=a.pdf",
            content_type,
            pdf(100),
            None,
        )
        .await
        .expect_problem(415, "unsupported_media_type");
        let detail = reply.body["detail"].as_str().unwrap();
        for allowed in ["application/pdf", "image/png", "image/jpeg", "image/tiff"] {
            assert!(detail.contains(allowed), "{detail}");
        }
    }
    // A caller who may not upload hears 403 whatever it sends.
    upload_as(
        &app,
        &token(Role::Viewer),
        &contract_id,
        "filename=a.pdf",
        Some("text/plain"),
        pdf(100),
        None,
    )
    .await
    .expect_problem(403, "forbidden");
    assert_eq!(app.count("contract_documents").await, 0);
}

#[tokio::test]
async fn content_and_metadata_problems_are_422_naming_the_field() {
    let app = spawn_app().await;
    let (contract_id, _) = create_contract(&app, "CON-000001").await;
    let audit_before = app.count("audit_events").await;
    let cases: Vec<(&str, &str, Vec<u8>, &str, &str)> = vec![
        (
            "filename=a.pdf",
            "application/pdf",
            PNG.to_vec(),
            "content",
            "content_mismatch",
        ),
        (
            "filename=a.png",
            "image/png",
            pdf(100),
            "content",
            "content_mismatch",
        ),
        (
            "filename=a.jpg",
            "image/jpeg",
            vec![0xFF, 0xD8],
            "content",
            "content_mismatch",
        ),
        (
            "filename=a.tif",
            "image/tiff",
            b"II\0*\0\0".to_vec(),
            "content",
            "content_mismatch",
        ),
        (
            "filename=a.pdf",
            "application/pdf",
            Vec::new(),
            "content",
            "required",
        ),
        (
            "kind=addendum",
            "application/pdf",
            pdf(100),
            "filename",
            "required",
        ),
        (
            "filename=",
            "application/pdf",
            pdf(100),
            "filename",
            "required",
        ),
        (
            "filename=%20%20",
            "application/pdf",
            pdf(100),
            "filename",
            "required",
        ),
        (
            "filename=../../etc/passwd",
            "application/pdf",
            pdf(100),
            "filename",
            "invalid",
        ),
        (
            "filename=a%0D%0Ab.pdf",
            "application/pdf",
            pdf(100),
            "filename",
            "invalid_character",
        ),
        (
            // A right-to-left override makes `invoice<RLO>fdp.exe` read as `invoiceexe.pdf`.
            "filename=invoice%E2%80%AEfdp.exe",
            "application/pdf",
            pdf(100),
            "filename",
            "invalid_character",
        ),
        (
            "filename=a.pdf&kind=invoice",
            "application/pdf",
            pdf(100),
            "kind",
            "invalid",
        ),
    ];
    for (query, content_type, bytes, field, code) in cases {
        let reply = upload(&app, &contract_id, query, content_type, bytes)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), field, "{query}: {}", reply.body);
        assert_eq!(reply.body["errors"][0]["code"], code, "{query}");
    }
    // A name is kept in Unicode NFC, like every text: "u" + a combining diaeresis is "ü".
    let reply = upload(
        &app,
        &contract_id,
        "filename=Vertrag%20u%CC%88ber%20Leasing.pdf",
        "application/pdf",
        pdf(120),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["filename"], "Vertrag \u{fc}ber Leasing.pdf");
    assert_eq!(
        app.value(&format!(
            "SELECT filename FROM contract_documents WHERE id = '{}'",
            reply.body["id"].as_str().unwrap()
        ))
        .await,
        "Vertrag \u{fc}ber Leasing.pdf"
    );
    let long = "a".repeat(252) + ".pdf";
    let reply = upload(
        &app,
        &contract_id,
        &format!("filename={long}"),
        "application/pdf",
        pdf(100),
    )
    .await
    .expect(422);
    assert_eq!(reply.error_field(), "filename");
    assert_eq!(reply.body["errors"][0]["code"], "too_long");
    upload(
        &app,
        &contract_id,
        &format!("filename={}", &long[1..]),
        "application/pdf",
        pdf(100),
    )
    .await
    .expect(201);
    // Every problem at once.
    let reply = upload(&app, &contract_id, "kind=x", "image/png", pdf(10))
        .await
        .expect(422);
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["filename", "kind", "content"]);
    // A NUL in the query is refused before anything else reads it.
    let reply = upload(
        &app,
        &contract_id,
        "filename=a%00.pdf",
        "application/pdf",
        pdf(100),
    )
    .await
    .expect_problem(400, "invalid_query");
    assert_eq!(reply.error_field(), "filename");

    assert_eq!(app.count("contract_documents").await, 2);
    assert_eq!(app.count("audit_events").await, audit_before + 2);
}

#[tokio::test]
async fn unknown_contracts_and_documents_are_404() {
    let app = spawn_app().await;
    let (contract_id, _) = create_contract(&app, "CON-000001").await;
    let (other_contract, _) = create_contract(&app, "CON-000002").await;
    let missing = Uuid::now_v7().to_string();
    upload(
        &app,
        &missing,
        "filename=a.pdf",
        "application/pdf",
        pdf(100),
    )
    .await
    .expect_problem(404, "not_found");
    app.get(&documents_path(&missing), &admin_token())
        .await
        .expect_problem(404, "not_found");
    let doc = upload(
        &app,
        &contract_id,
        "filename=a.pdf",
        "application/pdf",
        pdf(100),
    )
    .await
    .expect(201)
    .body;
    let doc_id = doc["id"].as_str().unwrap();
    // The document exists, but not under that contract.
    let got = download(&app, &other_contract, doc_id, &admin_token()).await;
    assert_eq!(got.status, 404);
    assert_eq!(got.header("content-type"), Some("application/problem+json"));
    let got = download(&app, &contract_id, &missing, &admin_token()).await;
    assert_eq!(got.status, 404);
    let got = download(&app, &contract_id, "not-a-uuid", &admin_token()).await;
    assert_eq!(got.status, 400);
    assert_eq!(app.count("contract_documents").await, 1);
}

#[tokio::test]
async fn roles_without_the_permission_are_refused() {
    let app = spawn_app().await;
    let (contract_id, _) = create_contract(&app, "CON-000001").await;
    let partner = partner_token(Uuid::now_v7());
    for refused in [
        token(Role::Viewer),
        token(Role::Collections),
        token(Role::Credit),
        partner.clone(),
    ] {
        upload_as(
            &app,
            &refused,
            &contract_id,
            "filename=a.pdf",
            Some("application/pdf"),
            pdf(100),
            None,
        )
        .await
        .expect_problem(403, "forbidden");
    }
    assert_eq!(app.count("contract_documents").await, 0);
    let doc = upload_as(
        &app,
        &token(Role::Integration),
        &contract_id,
        "filename=a.pdf",
        Some("application/pdf"),
        pdf(100),
        None,
    )
    .await
    .expect(201)
    .body;
    app.get(&documents_path(&contract_id), &partner)
        .await
        .expect_problem(403, "forbidden");
    let got = download(&app, &contract_id, doc["id"].as_str().unwrap(), &partner).await;
    assert_eq!(got.status, 403);
    app.send(app.client.get(app.url(&documents_path(&contract_id))))
        .await
        .expect_problem(401, "missing_token");
    assert_eq!(app.count("contract_documents").await, 1);
}

#[tokio::test]
async fn an_upload_honours_the_idempotency_key() {
    let app = spawn_app().await;
    let (contract_id, _) = create_contract(&app, "CON-000001").await;
    let billing = token(Role::Billing);
    let send = |query: &'static str, bytes: Vec<u8>| {
        upload_as(
            &app,
            &billing,
            &contract_id,
            query,
            Some("application/pdf"),
            bytes,
            Some("doc-1"),
        )
    };
    let first = send("filename=a.pdf", pdf(1000)).await.expect(201);
    let again = send("filename=a.pdf", pdf(1000)).await.expect(201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    // Other bytes, or other metadata, under the same key are refused.
    send("filename=a.pdf", pdf(1001))
        .await
        .expect_problem(422, "idempotency_key_reused");
    send("filename=b.pdf", pdf(1000))
        .await
        .expect_problem(422, "idempotency_key_reused");
    assert_eq!(app.count("contract_documents").await, 1);
    assert_eq!(
        app.count("audit_events WHERE action = 'contract.document_attached'")
            .await,
        1
    );
}
