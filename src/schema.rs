//! Diesel table definitions shared by both backends (maintained by hand: portable
//! column types only). Each domain module's migration adds its tables here.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        display_name -> Text,
        merchant_id -> Nullable<BigInt>,
        talent_id -> Nullable<BigInt>,
        active -> Bool,
        token_version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    login_throttle (username) {
        username -> Text,
        failures -> Integer,
        window_start -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_id -> Nullable<BigInt>,
        actor -> Text,
        action -> Text,
        entity_type -> Text,
        entity_id -> Text,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
        seq -> Nullable<BigInt>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain_head (id) {
        id -> Integer,
        last_seq -> BigInt,
        last_hash -> Text,
        sealed_at -> Timestamp,
    }
}

diesel::table! {
    budgets (year) {
        year -> Integer,
        total_fen -> BigInt,
        merchant_monthly_cap_fen -> Nullable<BigInt>,
        reserved_fen -> BigInt,
        settled_fen -> BigInt,
        paid_fen -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    budget_envelopes (year, category) {
        year -> Integer,
        category -> Text,
        total_fen -> BigInt,
        reserved_fen -> BigInt,
        settled_fen -> BigInt,
        paid_fen -> BigInt,
    }
}

diesel::table! {
    merchant_month_subsidy (merchant_id, period) {
        merchant_id -> BigInt,
        period -> Text,
        subsidy_fen -> BigInt,
    }
}

diesel::joinable!(budget_envelopes -> budgets (year));
diesel::allow_tables_to_appear_in_same_query!(budgets, budget_envelopes);

diesel::table! {
    talents (id) {
        id -> BigInt,
        name -> Text,
        id_number_enc -> Text,
        id_number_index -> Text,
        id_number_masked -> Text,
        phone_enc -> Text,
        phone_index -> Text,
        phone_masked -> Text,
        employer -> Text,
        tier -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    cards (id) {
        id -> BigInt,
        card_no -> Text,
        talent_id -> BigInt,
        tier -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        status_changed_at -> Timestamp,
        replaced_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    code_guess_throttle (user_id) {
        user_id -> BigInt,
        failures -> Integer,
        window_start -> Timestamp,
    }
}

diesel::joinable!(cards -> talents (talent_id));
diesel::allow_tables_to_appear_in_same_query!(talents, cards);

diesel::table! {
    merchants (id) {
        id -> BigInt,
        name -> Text,
        uscc -> Text,
        category -> Text,
        district -> Text,
        address -> Text,
        lat_e6 -> Nullable<Integer>,
        lon_e6 -> Nullable<Integer>,
        contact_name -> Text,
        contact_phone -> Text,
        bank_name -> Text,
        bank_account -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    offers (id) {
        id -> BigInt,
        merchant_id -> BigInt,
        title -> Text,
        kind -> Text,
        percent_bp -> Nullable<Integer>,
        amount_fen -> Nullable<BigInt>,
        min_spend_fen -> BigInt,
        max_discount_fen -> Nullable<BigInt>,
        tiers -> Text,
        per_card_daily -> Nullable<Integer>,
        per_card_monthly -> Nullable<Integer>,
        valid_from -> Nullable<Timestamp>,
        valid_until -> Nullable<Timestamp>,
        subsidy_bp -> Integer,
        status -> Text,
        status_reason -> Nullable<Text>,
        replaces_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(offers -> merchants (merchant_id));
diesel::allow_tables_to_appear_in_same_query!(merchants, offers, users);
