//! The notice template engine: the fields a template may name as `{{name}}`, the check that
//! it names only those, and the filling of a checked template.

use std::collections::HashMap;

/// The fields a template may use, as `{{name}}`.
pub const FIELDS: &[&str] = &[
    "account.name",
    "account.number",
    "invoice.number",
    "invoice.due_date",
    "invoice.total",
    "amount",
    "currency",
    "days_past_due",
    "today",
];

/// The field names a template uses, or the first unknown one / unclosed brace.
pub fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "has a {{ without }}".to_string())?;
        let name = after[..end].trim();
        if !FIELDS.contains(&name) {
            return Err(format!(
                "uses {{{{{name}}}}}; the fields are {}",
                FIELDS.join(", ")
            ));
        }
        names.push(name);
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// Fills a checked template with `values`, escaping them for HTML when `html`.
pub fn render(template: &str, values: &HashMap<&str, String>, html: bool) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let value = values.get(after[..end].trim()).map_or("", String::as_str);
        if html {
            out.push_str(&crate::invoices::document::escape(value));
        } else {
            out.push_str(value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// An HTML body made from a text template: one paragraph per blank-line block.
pub fn html_of_text(text: &str) -> String {
    text.split("\n\n")
        .map(|para| {
            let escaped = crate::invoices::document::escape(para.trim());
            format!("<p>{}</p>", escaped.replace('\n', "<br>"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_name_known_fields_only() {
        assert_eq!(
            placeholders("Hi {{account.name}}, {{ amount }} {{currency}}").unwrap(),
            ["account.name", "amount", "currency"]
        );
        assert!(placeholders("{{account.secret}}").is_err());
        assert!(placeholders("{{amount").is_err());
    }

    #[test]
    fn rendering_fills_fields_and_escapes_html() {
        let values: HashMap<&str, String> = [
            ("account.name", "Smith & <Sons>".to_string()),
            ("amount", "120.00".to_string()),
        ]
        .into_iter()
        .collect();
        let t = "Dear {{account.name}}: {{amount}}";
        assert_eq!(render(t, &values, false), "Dear Smith & <Sons>: 120.00");
        assert_eq!(
            render(t, &values, true),
            "Dear Smith &amp; &lt;Sons&gt;: 120.00"
        );
        assert_eq!(
            html_of_text("A & B\nC\n\nD"),
            "<p>A &amp; B<br>C</p>\n<p>D</p>"
        );
    }
}
