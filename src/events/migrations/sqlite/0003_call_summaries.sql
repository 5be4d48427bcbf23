-- What `report` reads instead of every event, kept by the writer from each batch (see
-- src/events/summary.rs and docs/events.md). Filled from the events already stored when
-- this migration runs.
-- One row per call: its folded state (JSON) and the columns a report selects by.
CREATE TABLE calls (
    call_id      TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    flow         TEXT    NOT NULL,
    simulated    INTEGER NOT NULL,
    start_ms     INTEGER NOT NULL,
    to_person_ms INTEGER,
    state        TEXT    NOT NULL,
    PRIMARY KEY (call_id, provider)
) WITHOUT ROWID;
-- time_to_person_s's values, read without touching the rows.
CREATE INDEX calls_start ON calls (simulated, start_ms, flow, to_person_ms);
-- One row per queue_left: waits for the exact percentiles.
CREATE TABLE queue_stays (
    call_id   TEXT    NOT NULL,
    provider  TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    flow      TEXT    NOT NULL,
    simulated INTEGER NOT NULL,
    start_ms  INTEGER NOT NULL,
    queue     TEXT    NOT NULL,
    wait_s    INTEGER NOT NULL,
    PRIMARY KEY (call_id, provider, seq)
) WITHOUT ROWID;
CREATE INDEX queue_stays_start ON queue_stays (simulated, start_ms, flow, queue, wait_s);
-- Counts per 15-minute bucket of the calls' starts (bucket = start_ms / 900000).
CREATE TABLE tallies (
    simulated INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    flow      TEXT    NOT NULL,
    what      TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    value     INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (simulated, bucket, flow, what, name, value)
) WITHOUT ROWID;
-- The events' time indexes served no reader now that report reads the summaries (retention
-- walks the calls' keys instead), and cost every write.
DROP INDEX events_at;
DROP INDEX events_flow_at;
