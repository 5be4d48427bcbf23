-- One row per event. See docs/events.md for every column and kind.
CREATE TABLE events (
    id           BIGSERIAL PRIMARY KEY,
    call_id      TEXT     NOT NULL,
    provider     TEXT     NOT NULL,
    flow         TEXT     NOT NULL,
    flow_version TEXT     NOT NULL,
    seq          BIGINT   NOT NULL,
    at_ms        BIGINT   NOT NULL,
    node         TEXT,
    kind         TEXT     NOT NULL,
    details      JSONB    NOT NULL DEFAULT '{}',
    simulated    BOOLEAN  NOT NULL DEFAULT FALSE
);
-- A call's events in order; also makes a replayed event (same call, same seq) a no-op.
CREATE UNIQUE INDEX events_call_seq ON events (call_id, seq, provider);
-- Time windows (report --since/--until) and retention.
CREATE INDEX events_at ON events (at_ms);
-- One flow's events over time.
CREATE INDEX events_flow_at ON events (flow, at_ms);
