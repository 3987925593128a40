//! The rules of request bodies that the Rust types cannot carry, written into the document:
//! free text's pattern and a PATCH's one field at least.

use utoipa::openapi::OpenApi as Spec;

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
