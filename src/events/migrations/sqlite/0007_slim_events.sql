-- A call's id and provider are kept once, in `call_keys`, rather than on every event: they
-- were a third of each row, and so of the pages, the WAL and the B-tree work each write
-- costs. Readers take them from `call_keys` by the call's number (`call`).
CREATE TABLE events_slim (
    call         INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    flow         TEXT    NOT NULL,
    flow_version TEXT    NOT NULL,
    at_ms        INTEGER NOT NULL,
    node         TEXT,
    kind         TEXT    NOT NULL,
    details      TEXT    NOT NULL DEFAULT '{}',
    simulated    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (call, seq)
) WITHOUT ROWID;
INSERT INTO events_slim (call, seq, flow, flow_version, at_ms, node, kind, details, simulated)
    SELECT call, seq, flow, flow_version, at_ms, node, kind, details, simulated FROM events;
DROP TABLE events;
ALTER TABLE events_slim RENAME TO events;
-- Calls marked for the summaries by their number too: a mark was an insert at a random place
-- of a table keyed by text, once per call per batch; numbers of calls in progress are the
-- last few, so their marks go to the table's last page.
CREATE TABLE dirty_numbers (call INTEGER PRIMARY KEY);
INSERT INTO dirty_numbers (call)
    SELECT k.num FROM dirty_calls d JOIN call_keys k ON k.call_id = d.call_id AND k.provider = d.provider;
DROP TABLE dirty_calls;
ALTER TABLE dirty_numbers RENAME TO dirty_calls;
