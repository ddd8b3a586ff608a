//! Every refusal the server can send has words in the pages' two languages (DESIGN §4,
//! §5): each problem `code` an `err.<code>` text, and each request field a `validation`
//! problem can name a `field.<name>` label, in Chinese and in English. The codes are read
//! from the sources (every `StatusCode::…, "code"` and `rate_limited("code"`), the fields
//! from the OpenAPI document (every body property and parameter), so a new code or field
//! without a text fails here.

use std::collections::BTreeSet;
use std::path::Path;

use regex::Regex;

/// The codes of the shared constructors in `src/error.rs` and of the plumbing.
const CONSTRUCTOR_CODES: [&str; 9] = [
    "validation",
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "invalid_transition",
    "unavailable",
    "internal",
];

fn rust_sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("src readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).expect("source readable"));
        }
    }
}

fn server_codes() -> BTreeSet<String> {
    let mut sources = Vec::new();
    rust_sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut sources,
    );
    // A status constant, however the path to it is spelled (`StatusCode::CONFLICT`,
    // `S::CONFLICT`), then the code; a header name and its value is no problem.
    let with_status = Regex::new(r#"(\w+)::[A-Z][A-Z_]+,\s*"([a-z][a-z0-9_]*)""#).unwrap();
    let limited = Regex::new(r#"rate_limited\(\s*"([a-z0-9_]+)""#).unwrap();
    let mut codes: BTreeSet<String> = CONSTRUCTOR_CODES.iter().map(|c| c.to_string()).collect();
    for source in &sources {
        codes.extend(
            with_status
                .captures_iter(source)
                .filter(|c| &c[1] != "header")
                .map(|c| c[2].to_owned()),
        );
        codes.extend(limited.captures_iter(source).map(|c| c[1].to_owned()));
    }
    codes
}

/// Every name a request can carry — body properties (nested too) and parameters — and
/// every name the sources give a `validation` problem.
fn request_fields() -> BTreeSet<String> {
    let mut sources = Vec::new();
    rust_sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut sources,
    );
    let named = Regex::new(r#"(?:invalid_field|with_field)\(\s*"([a-z0-9_]+)"#).unwrap();
    let mut fields: BTreeSet<String> = sources
        .iter()
        .flat_map(|s| named.captures_iter(s).map(|c| c[1].to_owned()))
        .collect();
    let document = serde_json::to_value(talentcard::startup::openapi_document()).expect("document");
    let schemas = &document["components"]["schemas"];
    let mut bodies = Vec::new();
    for item in document["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                fields.insert(param["name"].as_str().unwrap().to_owned());
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                bodies.extend(content.values().map(|c| c["schema"].clone()));
            }
        }
    }
    let mut seen = BTreeSet::new();
    while let Some(schema) = bodies.pop() {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap().to_owned();
            if seen.insert(name.clone()) {
                bodies.push(schemas[&name].clone());
            }
            continue;
        }
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                fields.insert(name.clone());
                bodies.push(property.clone());
            }
        }
        for key in ["items", "additionalProperties"] {
            if schema[key].is_object() {
                bodies.push(schema[key].clone());
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            bodies.extend(schema[key].as_array().into_iter().flatten().cloned());
        }
    }
    fields
}

/// The keys under `prefix` (e.g. `import.`) in each language, the prefix taken off: a
/// face's own strings, for checking it has them all in both.
pub(crate) fn keys_under(prefix: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (zh, en) = page_keys();
    let under = |dict: BTreeSet<String>| {
        dict.into_iter()
            .filter_map(|k| k.strip_prefix(prefix).map(str::to_owned))
            .collect::<BTreeSet<_>>()
    };
    (under(zh), under(en))
}

/// The keys of the `zh` and `en` dictionaries of web/js/i18n.js.
fn page_keys() -> (BTreeSet<String>, BTreeSet<String>) {
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("web/js/i18n.js"))
            .expect("i18n.js readable");
    let block = |name: &str| {
        let start = source
            .find(&format!("const {name} = {{"))
            .unwrap_or_else(|| panic!("no {name} dictionary"));
        let end = start + source[start..].find("\n};").expect("dictionary end");
        let key = Regex::new(r#"(?m)^\s+(?:'([^']+)'|([A-Za-z_][A-Za-z0-9_]*)):"#).unwrap();
        key.captures_iter(&source[start..end])
            .map(|c| c.get(1).or(c.get(2)).unwrap().as_str().to_owned())
            .collect::<BTreeSet<_>>()
    };
    (block("zh"), block("en"))
}

/// `{prefix}.{name}` keys missing from either language, as `lang: key`.
fn without_text(
    names: &BTreeSet<String>,
    prefix: &str,
    zh: &BTreeSet<String>,
    en: &BTreeSet<String>,
) -> Vec<String> {
    let mut missing = Vec::new();
    for name in names {
        let key = format!("{prefix}.{name}");
        for (lang, dict) in [("zh", zh), ("en", en)] {
            if !dict.contains(&key) {
                missing.push(format!("{lang}: {key}"));
            }
        }
    }
    missing
}

#[test]
fn every_problem_code_the_server_sends_has_page_text_in_both_languages() {
    let codes = server_codes();
    assert!(
        codes.contains("code_used") && codes.contains("code_expired") && codes.contains("csrf"),
        "the scan finds the codes: {codes:?}"
    );
    let (zh, en) = page_keys();
    let missing = without_text(&codes, "err", &zh, &en);
    eprintln!("{} problem codes checked in zh and en", codes.len());
    assert!(missing.is_empty(), "codes without page text: {missing:#?}");
}

#[test]
fn every_request_field_a_refusal_can_name_has_a_label_in_both_languages() {
    let fields = request_fields();
    assert!(
        fields.contains("id_number") && fields.contains("bill_fen") && fields.contains("per_page"),
        "the document yields the fields: {fields:?}"
    );
    let (zh, en) = page_keys();
    let missing = without_text(&fields, "field", &zh, &en);
    eprintln!("{} request fields checked in zh and en", fields.len());
    assert!(missing.is_empty(), "fields without a label: {missing:#?}");
}
