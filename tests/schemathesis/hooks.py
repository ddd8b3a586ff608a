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
    # A birth date in an ID number after today: the pattern states 1900–2099 and calendar
    # validity, not where today is.
    ("id_number contains an implausible birth date", "relative to today"),
    # Offer terms compared with each other: JSON Schema compares a value with constants,
    # never with another field's value.
    ("cannot be more than per_card_monthly", "cross-field comparison"),
    ("valid_from must be before valid_until", "cross-field comparison"),
    # An offer's valid_until compared with the clock.
    ("is already past", "relative to now"),
    # Relative to how many audit entries are sealed right now.
    ("entries are sealed; ask for", "relative to the log's size"),
    # "Not phone-shaped once spaces and dashes are removed" is a complement of a pattern:
    # it needs `not` or a lookahead, which neither utoipa nor the fuzzer's generator take.
    ("must not look like a mobile number", "complement of a pattern"),
    # A sum over the envelopes compared with the total: no keyword adds values up.
    ("the category envelopes add up to", "cross-field sum"),
    # A PIN's refusals are complements of patterns (not one digit six times, not a run,
    # not a repeated pair or triple) or relative to stored state (the holder's birth date).
    ("pin must not be one digit six times", "complement of a pattern"),
    ("pin must not be a run of digits", "complement of a pattern"),
    ("pin must not repeat a short pattern", "complement of a pattern"),
    ("pin must not be the holder's birth date", "relative to stored state"),
    # A renewal's new last day compared with the card's stored one.
    ("must be after the card's current last day", "relative to stored state"),
]

# Refusals the document does not state yet although a schema could (patterns, enums,
# oneOf); remove an entry once its constraint is declared.
KNOWN = [
    # The counter presents either `code` or `card_no` with `pin`: a oneOf of required
    # sets with `not`, which the fuzzer's generator does not take.
    ("send either code, or card_no with pin", "one of two field sets"),
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
