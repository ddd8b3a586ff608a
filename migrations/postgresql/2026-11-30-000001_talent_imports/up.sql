-- Talent imports (DESIGN §10): a checked spreadsheet written in batches by a job. The
-- job keeps its planned writes (personal data, so sealed with the PII key) until it is
-- done, so a failed job can run again and continue where it stopped.
CREATE TABLE import_jobs (
    id TEXT PRIMARY KEY,
    created_by BIGINT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    -- {update_existing, skip_invalid, sync} as JSON.
    options TEXT NOT NULL,
    total BIGINT NOT NULL,
    processed BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    -- The check's report as JSON (masked: what the official saw in the dry run).
    report TEXT NOT NULL,
    failure TEXT,
    -- The planned writes, sealed; cleared when the job is done.
    steps_sealed BYTEA,
    -- Moved by every batch: a running job whose heartbeat stopped was interrupted.
    heartbeat_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    -- The activation letters can be taken once, by created_by, until then.
    letters_expire_at TIMESTAMP NOT NULL,
    letters_taken_at TIMESTAMP
);
CREATE INDEX import_jobs_created_by ON import_jobs (created_by);

-- Each batch's activation letters (codes in clear, so sealed), written in the batch's
-- own transaction: a code exists exactly when its letter does. Deleted when taken or
-- after 24 hours.
CREATE TABLE import_letters (
    job_id TEXT NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    batch BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    PRIMARY KEY (job_id, batch)
);
