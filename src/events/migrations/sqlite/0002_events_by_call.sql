-- Keep the table itself in call order: `report` and `db export` read every call's events
-- together, by (call_id, provider, seq). As a WITHOUT ROWID table keyed so, that read is one
-- sequential walk instead of a sort of the whole log (version 1's unique index was
-- (call_id, seq, provider), in the wrong order for it) or an index walk with a table look-up
-- per event. The key also makes a replayed event (same call, provider and seq) a no-op, as
-- the old index did.
CREATE TABLE events_by_call (
    call_id      TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    flow         TEXT    NOT NULL,
    flow_version TEXT    NOT NULL,
    at_ms        INTEGER NOT NULL,
    node         TEXT,
    kind         TEXT    NOT NULL,
    details      TEXT    NOT NULL DEFAULT '{}',
    simulated    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (call_id, provider, seq)
) WITHOUT ROWID;
INSERT INTO events_by_call (call_id, provider, seq, flow, flow_version, at_ms, node, kind, details, simulated)
    SELECT call_id, provider, seq, flow, flow_version, at_ms, node, kind, details, simulated FROM events;
DROP TABLE events;
ALTER TABLE events_by_call RENAME TO events;
-- Time windows (report --since/--until) and retention.
CREATE INDEX events_at ON events (at_ms);
-- One flow's events over time.
CREATE INDEX events_flow_at ON events (flow, at_ms);
