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
        phone_enc -> Nullable<Text>,
        phone_index -> Nullable<Text>,
        phone_masked -> Nullable<Text>,
    }
}

diesel::table! {
    rate_limits (bucket) {
        bucket -> Text,
        hits -> Integer,
        window_end -> Timestamp,
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
    audit_seals (seq) {
        seq -> BigInt,
        event_id -> BigInt,
        legacy_hash -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
        sealed_at -> Timestamp,
    }
}

diesel::table! {
    audit_checkpoints (size) {
        size -> BigInt,
        root -> Text,
        text -> Text,
        key_id -> Text,
        signature -> Text,
        frontier -> Text,
        reason -> Text,
        signed_at -> Timestamp,
    }
}

diesel::table! {
    audit_witnesses (id) {
        id -> BigInt,
        checkpoint_size -> BigInt,
        key_id -> Text,
        public_key -> Text,
        signature -> Text,
        witnessed_by -> Nullable<BigInt>,
        witnessed_at -> Timestamp,
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

diesel::table! {
    budget_slots (year, scope, slot) {
        year -> Integer,
        scope -> Text,
        slot -> Integer,
        room_fen -> BigInt,
        used_fen -> BigInt,
    }
}

diesel::joinable!(audit_seals -> audit_events (event_id));
diesel::joinable!(audit_witnesses -> audit_checkpoints (checkpoint_size));
diesel::joinable!(budget_envelopes -> budgets (year));
diesel::joinable!(budget_slots -> budgets (year));

diesel::table! {
    talents (id) {
        id -> BigInt,
        name -> Text,
        id_number_enc -> Text,
        id_number_index -> Text,
        id_number_masked -> Text,
        phone_enc -> Nullable<Text>,
        phone_index -> Nullable<Text>,
        phone_masked -> Nullable<Text>,
        employer -> Text,
        tier -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        principal_id -> Nullable<BigInt>,
        relation -> Nullable<Text>,
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
        principal_card_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    code_guess_throttle (user_id) {
        user_id -> BigInt,
        failures -> Integer,
        window_start -> Timestamp,
    }
}

diesel::table! {
    merchant_guess_throttle (merchant_id) {
        merchant_id -> BigInt,
        failures -> Integer,
        window_start -> Timestamp,
    }
}

diesel::joinable!(cards -> talents (talent_id));

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
        dependents -> Bool,
    }
}

diesel::joinable!(offers -> merchants (merchant_id));

diesel::table! {
    redemptions (id) {
        id -> BigInt,
        merchant_id -> BigInt,
        offer_id -> BigInt,
        card_id -> BigInt,
        talent_id -> BigInt,
        tier -> Text,
        category -> Text,
        district -> Text,
        subsidy_bp -> Integer,
        bill_fen -> BigInt,
        discount_fen -> BigInt,
        paid_fen -> BigInt,
        subsidy_fen -> BigInt,
        code_window -> BigInt,
        code_slot -> Integer,
        local_day -> Text,
        period -> Text,
        cashier_id -> BigInt,
        idempotency_key -> Text,
        request_hash -> Text,
        status -> Text,
        disputed -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reversals (id) {
        id -> BigInt,
        redemption_id -> BigInt,
        merchant_id -> BigInt,
        reason -> Text,
        actor_id -> BigInt,
        bill_fen -> BigInt,
        discount_fen -> BigInt,
        subsidy_fen -> BigInt,
        period -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    disputes (id) {
        id -> BigInt,
        redemption_id -> BigInt,
        talent_id -> BigInt,
        reason -> Text,
        status -> Text,
        resolution_note -> Nullable<Text>,
        resolved_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(reversals -> redemptions (redemption_id));
diesel::joinable!(disputes -> redemptions (redemption_id));

diesel::table! {
    settlements (id) {
        id -> BigInt,
        merchant_id -> BigInt,
        period -> Text,
        run -> Integer,
        status -> Text,
        line_count -> Integer,
        bill_fen -> BigInt,
        discount_fen -> BigInt,
        subsidy_fen -> BigInt,
        generation -> Text,
        confirmed_by -> Nullable<BigInt>,
        confirmed_at -> Nullable<Timestamp>,
        verified_by -> Nullable<BigInt>,
        verified_at -> Nullable<Timestamp>,
        approved_by -> Nullable<BigInt>,
        approved_at -> Nullable<Timestamp>,
        paid_by -> Nullable<BigInt>,
        paid_at -> Nullable<Timestamp>,
        bank_reference -> Nullable<Text>,
        rejected_by -> Nullable<BigInt>,
        rejected_at -> Nullable<Timestamp>,
        rejected_reason -> Nullable<Text>,
        lines_digest -> Nullable<Text>,
        audit_head_seq -> Nullable<BigInt>,
        audit_head_hash -> Nullable<Text>,
        created_at -> Timestamp,
        audit_checkpoint_size -> Nullable<BigInt>,
        audit_checkpoint_root -> Nullable<Text>,
        invoice_no -> Nullable<Text>,
    }
}

diesel::table! {
    settlement_lines (id) {
        id -> BigInt,
        settlement_id -> BigInt,
        redemption_id -> BigInt,
        kind -> Text,
        bill_fen -> BigInt,
        discount_fen -> BigInt,
        subsidy_fen -> BigInt,
        at -> Timestamp,
        active -> Bool,
    }
}

diesel::table! {
    job_locks (name) {
        name -> Text,
        locked_at -> Timestamp,
    }
}

diesel::joinable!(settlement_lines -> settlements (settlement_id));
diesel::joinable!(settlement_lines -> redemptions (redemption_id));

diesel::table! {
    proposals (id) {
        id -> BigInt,
        kind -> Text,
        summary -> Text,
        payload -> Text,
        target_user_id -> Nullable<BigInt>,
        status -> Text,
        proposed_by -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        decision_reason -> Nullable<Text>,
        result -> Nullable<Text>,
    }
}

diesel::table! {
    activation_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        issued_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    anomaly_flags (id) {
        id -> BigInt,
        rule -> Text,
        severity -> Text,
        period -> Text,
        subject -> Text,
        merchant_id -> Nullable<BigInt>,
        staff_id -> Nullable<BigInt>,
        card_id -> Nullable<BigInt>,
        evidence -> Text,
        status -> Text,
        response -> Nullable<Text>,
        responded_at -> Nullable<Timestamp>,
        note -> Nullable<Text>,
        resolved_by -> Nullable<BigInt>,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    anomaly_flag_redemptions (flag_id, redemption_id) {
        flag_id -> BigInt,
        redemption_id -> BigInt,
    }
}

diesel::table! {
    anomaly_settings (id) {
        id -> Integer,
        thresholds -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        refresh_hash -> Text,
        previous_hash -> Nullable<Text>,
        rotated_at -> Timestamp,
        token_version -> Integer,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        end_reason -> Nullable<Text>,
    }
}

diesel::joinable!(anomaly_flag_redemptions -> anomaly_flags (flag_id));

diesel::table! {
    card_pins (card_id) {
        card_id -> BigInt,
        pin_hash -> Text,
        set_at -> Timestamp,
        set_by -> Nullable<BigInt>,
        failures -> Integer,
        day_failures -> Integer,
        failures_day -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        blocked -> Bool,
    }
}

diesel::joinable!(card_pins -> cards (card_id));

diesel::table! {
    notifications (id) {
        id -> BigInt,
        redemption_id -> BigInt,
        talent_id -> BigInt,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    import_jobs (id) {
        id -> Text,
        created_by -> BigInt,
        status -> Text,
        options -> Text,
        total -> BigInt,
        processed -> BigInt,
        created -> BigInt,
        updated -> BigInt,
        report -> Text,
        failure -> Nullable<Text>,
        steps_sealed -> Nullable<Binary>,
        heartbeat_at -> Timestamp,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        letters_expire_at -> Timestamp,
        letters_taken_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    import_letters (job_id, batch) {
        job_id -> Text,
        batch -> BigInt,
        sealed -> Binary,
    }
}

diesel::joinable!(import_letters -> import_jobs (job_id));

diesel::allow_tables_to_appear_in_same_query!(
    card_pins,
    notifications,
    import_jobs,
    import_letters,
    users,
    sessions,
    anomaly_flags,
    anomaly_flag_redemptions,
    anomaly_settings,
    proposals,
    activation_codes,
    rate_limits,
    audit_events,
    audit_seals,
    audit_checkpoints,
    audit_witnesses,
    audit_chain_head,
    budgets,
    budget_envelopes,
    budget_slots,
    merchant_month_subsidy,
    talents,
    cards,
    code_guess_throttle,
    merchant_guess_throttle,
    merchants,
    offers,
    redemptions,
    reversals,
    disputes,
    settlements,
    settlement_lines,
    job_locks,
);
