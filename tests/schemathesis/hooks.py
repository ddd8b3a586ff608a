"""A check of our own for the schema-driven fuzz run (tests/api/fuzz.rs).

Schemathesis' `positive_data_acceptance` counts every 422 on schema-valid input as a
mismatch. Ours are of two kinds: `validation` (the input is malformed: the document must
say so with a range, pattern, length or required field) and domain refusals on
well-formed input (`code_invalid`, `min_spend_not_met`, `not_eligible`...), which no
schema can predict. This check keeps the first and lets the second through.
"""

import schemathesis

# `validation` refusals of schema-valid input that no JSON Schema keyword can state:
# (detail fragment, why). Everything else must be declared in the document.
INEXPRESSIBLE = [
    # A Damm check digit (card numbers) or a mod-11 check character (ID numbers, USCC).
    ("check digit", "checksum"),
    ("check character", "checksum"),
    # JSON Schema calls 310.0 an integer; serde's i64 does not take it. Clients send 310.
    ("invalid type: floating point", "integral float for an integer"),
    # Relative to today's date.
    ("today or a later date", "relative to today"),
    ("must not be in the past", "relative to today"),
    ("must be within 20 years", "relative to today"),
    # Calendar validity of `from`/`to` (RFC 3339 or YYYY-MM-DD): a pattern cannot say 2026-02-30 is no date.
    ("is neither RFC 3339 nor a date", "calendar validity"),
    # Witness keys and signatures: whether bytes are a valid Ed25519 key or signature
    # over a checkpoint is cryptography, not a shape.
    ("Ed25519", "cryptographic validity"),
    ("is not base64", "cryptographic validity"),
    ("does not verify over the checkpoint", "cryptographic validity"),
    # Relative to how many audit entries are sealed right now.
    ("entries are sealed; ask for", "relative to the log's size"),
    # "Not phone-shaped once spaces and dashes are removed" is a complement of a pattern:
    # it needs `not` or a lookahead, which neither utoipa nor the fuzzer's generator take.
    ("must not look like a mobile number", "complement of a pattern"),
    # A sum over the envelopes compared with the total: no keyword adds values up.
    ("the category envelopes add up to", "cross-field sum"),
]

# Refusals the document does not state yet although a schema could (patterns, enums,
# oneOf); remove an entry once its constraint is declared.
KNOWN = [
    # Domain identifiers whose shape is declarable (patterns) but not declared yet.
    ("contact_phone must be a telephone number", "declare the telephone pattern"),
    ("bank_account must be 8 to 30 digits", "declare the account pattern"),
    ("uscc (统一社会信用代码) contains", "declare the USCC alphabet"),
    ("id_number must be 17 digits", "declare the ID number pattern"),
    ("id_number does not", "region code and birth date: partly inexpressible"),
    ("id_number contains an implausible", "birth date: inexpressible"),
    ("is not one of A, B, C, D, E", "declare the tier enum on offer tiers"),
    # Offer terms that depend on each other (kind decides which amounts apply).
    ("a fixed offer needs", "cross-field: declarable only as oneOf on kind"),
    ("a percent offer needs", "cross-field: declarable only as oneOf on kind"),
    ("belongs to fixed offers", "cross-field"),
    ("belong to percent offers", "cross-field"),
    ("cannot be more than per_card_monthly", "cross-field"),
    ("valid_from must be before valid_until", "cross-field"),
    ("is already past", "relative to now"),
    ("phone must be an 11-digit", "declare the phone pattern on /talents/lookup"),
    # 18-character identifiers (ID number, USCC): length and alphabet are declarable.
    ("id_number must have 18 characters", "declare the ID number pattern"),
    ("must have exactly 18 characters", "declare the USCC pattern"),
    # Exactly one of two optional fields: declarable with oneOf/required.
    ("give exactly one of id_number or phone", "declare oneOf on LookupTalent"),
    # Coordinates come in pairs: declarable with dependentRequired.
    ("lat and lon must be given together", "declare lat/lon as a pair"),
]


@schemathesis.check
def schema_valid_input_is_not_refused_as_malformed(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if status == 422:
        try:
            code = response.json().get("code")
        except Exception:
            code = None
        if code != "validation":
            return None
        if any(fragment in response.text for fragment, _ in INEXPRESSIBLE + KNOWN):
            return None
    elif status not in (400, 413, 415):
        return None
    raise AssertionError(
        f"Input the document allows was refused as malformed ({status}): "
        f"{response.text[:300]}\n\nDeclare the constraint (minimum/maximum/pattern/"
        f"maxLength/required/enum) in the document, or accept the input."
    )
