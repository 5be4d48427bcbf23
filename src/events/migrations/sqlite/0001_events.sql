-- One row per event. See docs/events.md for every column and kind.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    call_id      TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    flow         TEXT    NOT NULL,
    flow_version TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL,
    node         TEXT,
    kind         TEXT    NOT NULL,
    details      TEXT    NOT NULL DEFAULT '{}',
    simulated    INTEGER NOT NULL DEFAULT 0
);
-- A call's events in order; also makes a replayed event (same call, same seq) a no-op.
CREATE UNIQUE INDEX events_call_seq ON events (call_id, seq, provider);
-- Time windows (report --since/--until) and retention.
CREATE INDEX events_at ON events (at_ms);
-- One flow's events over time.
CREATE INDEX events_flow_at ON events (flow, at_ms);
