//! What an audit payload may not hold: unmasked personal data or a full bank account
//! (DESIGN §9). New entries are written from masked views (a talent's `TalentView`, a
//! merchant's `audit_record`); entries written before that may hold a merchant's full
//! bank account and contact phone, and are withheld when listed.

use serde_json::Value;

/// Keys under which this codebase serialises personal data or bank details: the merchant
/// record (`bank_account`, `contact_phone`), a talent's registration and PII view
/// (`id_number`, `phone`), the talent view (`*_masked`, masked by construction: listed so
/// that a bug filling them unmasked is caught too) and `mobile`, which no struct uses
/// today but is the obvious name for the next one.
pub const PERSONAL_DATA_KEYS: &[&str] = &[
    "bank_account",
    "contact_phone",
    "id_number",
    "id_number_masked",
    "phone",
    "phone_masked",
    "mobile",
];

/// True when the JSON payload holds, at any depth, a personal-data key (see
/// [`PERSONAL_DATA_KEYS`]) whose value is not masked. A string is masked when it contains
/// `*` (every mask in this codebase does); empty strings and null hold nothing; a number
/// or boolean cannot be masked, so it counts as unmasked; everything inside a
/// personal-data key (an array of phones, an object) is judged the same way.
///
/// A payload that is not JSON cannot be checked, so it counts as holding data: the
/// caller withholds what it cannot vouch for.
pub fn holds_unmasked_personal_data(json: &str) -> bool {
    match serde_json::from_str::<Value>(json) {
        Ok(value) => holds(&value, false),
        Err(_) => true,
    }
}

fn holds(value: &Value, personal: bool) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => personal && !s.is_empty() && !s.contains('*'),
        Value::Number(_) | Value::Bool(_) => personal,
        Value::Array(items) => items.iter().any(|v| holds(v, personal)),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| holds(v, personal || PERSONAL_DATA_KEYS.contains(&k.as_str()))),
    }
}

#[cfg(test)]
mod tests {
    use super::holds_unmasked_personal_data as holds;

    #[test]
    fn masked_values_empty_values_and_other_keys_pass() {
        assert!(!holds(
            r#"{"bank_account":"6222***********3445","contact_phone":"138****0000"}"#
        ));
        assert!(!holds(
            r#"{"id_number_masked":"5109**********1234","phone_masked":"138****5678"}"#
        ));
        assert!(!holds(r#"{"bank_account":"","phone":null}"#));
        assert!(!holds(r#"{"name":"张三","uscc":"91510900MA62G5T8QB"}"#));
        // Field names as values (what `talent.pii_view` records) are not data.
        assert!(!holds(r#"{"fields":["id_number","phone"]}"#));
        assert!(!holds("null"));
        assert!(!holds(r#""13800000000""#));
    }

    #[test]
    fn an_unmasked_value_under_a_personal_data_key_is_caught() {
        assert!(holds(r#"{"bank_account":"6222020200112233445"}"#));
        assert!(holds(r#"{"contact_phone":"0825-6660006"}"#));
        assert!(holds(r#"{"id_number":"11010519491231002X"}"#));
        assert!(holds(r#"{"phone":"13800000000"}"#));
        assert!(holds(r#"{"mobile":"13800000000"}"#));
        assert!(holds(r#"{"phone_masked":"13800000000"}"#));
        assert!(holds(r#"{"bank_account":6222020200112233445}"#));
    }

    #[test]
    fn nested_objects_and_arrays_are_searched() {
        assert!(holds(
            r#"{"merchant":{"id":1,"bank_account":"6222020200112233445"}}"#
        ));
        assert!(holds(r#"[{"ok":1},{"phone":"13800000000"}]"#));
        assert!(holds(r#"{"phone":["138****0000","13800000001"]}"#));
        assert!(holds(
            r#"{"bank_account":{"number":"6222020200112233445"}}"#
        ));
        assert!(!holds(r#"{"list":[{"phone":"138****0000"}]}"#));
    }

    #[test]
    fn a_payload_that_is_not_json_counts_as_holding_data() {
        assert!(holds("bank account 6222020200112233445"));
        assert!(holds(""));
        assert!(holds(r#"{"bank_account":"#));
    }
}
