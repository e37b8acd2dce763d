//! The documents' security requirements and the gateway's decision cannot disagree: every
//! documented operation, called at a concrete path, needs a token at the gateway exactly when its
//! document says it does.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

use gateway::routes::{Access, Target, classify};
use http::Method;
use serde_json::Value;

/// A concrete path for a documented template: ids become `1`, other placeholders a file name.
fn concrete(template: &str, operation: &Value) -> String {
    let params = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    template
        .split('/')
        .map(|segment| {
            let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                return segment.to_owned();
            };
            let param = params
                .iter()
                .find(|p| p["name"] == name && p["in"] == "path")
                .unwrap_or_else(|| panic!("{template}: no path parameter {name}"));
            let schema = param["schema"].to_string();
            if schema.contains("integer") || schema.contains("#/components/schemas/Id") {
                "1".to_owned()
            } else {
                "Default.png".to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn documents() -> Vec<(&'static str, Value)> {
    [
        ("member", member::routes::openapi::api_document()),
        ("gallery", gallery::routes::openapi::api_document()),
        ("post", post::routes::openapi::api_document()),
    ]
    .into_iter()
    .map(|(name, doc)| (name, serde_json::to_value(doc).unwrap()))
    .collect()
}

#[test]
fn every_documented_operation_needs_a_token_exactly_when_the_gateway_asks_for_one() {
    let mut checked = 0;
    for (service, doc) in documents() {
        for (template, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let Ok(method) = method.to_uppercase().parse::<Method>() else {
                    continue;
                };
                let path = concrete(template, operation);
                let Target::Upstream(route) = classify(&method, &path) else {
                    panic!("{service}: the gateway does not forward {method} {path}");
                };
                let documented = operation["security"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty());
                assert_eq!(
                    documented,
                    route.access == Access::Protected,
                    "{service}: {method} {template} ({path}) is documented {} but the gateway \
                     treats it as {:?}",
                    if documented { "protected" } else { "public" },
                    route.access,
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} operations documented");
}

#[test]
fn a_protected_operation_documents_the_gateways_token_errors() {
    for (service, doc) in documents() {
        for (template, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if operation["security"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty())
                {
                    let unauthorized = operation["responses"]["401"]["description"].to_string();
                    assert!(
                        unauthorized.contains("GATE003"),
                        "{service}: {method} {template} lacks the 401 answer"
                    );
                }
            }
        }
    }
}

#[test]
fn every_schema_a_document_refers_to_is_in_its_components() {
    for (service, doc) in documents() {
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{service}: {name} is referred to but not defined"
            );
        }
    }
}
