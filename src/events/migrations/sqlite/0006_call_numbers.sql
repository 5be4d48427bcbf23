-- Events keyed by a number per call instead of its text id. Provider call ids are random
-- (Twilio's CallSid, Vonage's UUID), so a key that starts with them put every new event at a
-- random place in the table: a B-tree search and, often, a page split per event, most of the
-- writer's time. Numbers are handed out as calls begin, so the calls in progress are the
-- last few numbers and their events go to the table's last pages. A call's events stay
-- together and in `seq` order; `call_id` and `provider` stay on every row for readers.
-- AUTOINCREMENT: a number is never reused, even after `db prune` removed its call.
CREATE TABLE call_keys (
    num      INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id  TEXT NOT NULL,
    provider TEXT NOT NULL,
    UNIQUE (call_id, provider)
);
INSERT INTO call_keys (call_id, provider)
    SELECT call_id, provider FROM events GROUP BY call_id, provider ORDER BY MIN(at_ms), call_id, provider;
CREATE TABLE events_by_number (
    call         INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    call_id      TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    flow         TEXT    NOT NULL,
    flow_version TEXT    NOT NULL,
    at_ms        INTEGER NOT NULL,
    node         TEXT,
    kind         TEXT    NOT NULL,
    details      TEXT    NOT NULL DEFAULT '{}',
    simulated    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (call, seq)
) WITHOUT ROWID;
INSERT INTO events_by_number (call, seq, call_id, provider, flow, flow_version, at_ms, node, kind, details, simulated)
    SELECT k.num, e.seq, e.call_id, e.provider, e.flow, e.flow_version, e.at_ms, e.node, e.kind, e.details, e.simulated
    FROM events e JOIN call_keys k ON k.call_id = e.call_id AND k.provider = e.provider;
DROP TABLE events;
ALTER TABLE events_by_number RENAME TO events;
