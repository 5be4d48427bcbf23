-- What `report` reads instead of every event, kept by the writer from each batch (see
-- src/events/summary.rs and docs/events.md). Filled from the events already stored when
-- this migration runs.
-- One row per call: its folded state (JSON) and the columns a report selects by.
CREATE TABLE calls (
    call_id      TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    flow         TEXT    NOT NULL,
    simulated    BOOLEAN NOT NULL,
    start_ms     BIGINT  NOT NULL,
    to_person_ms BIGINT,
    state        TEXT    NOT NULL,
    PRIMARY KEY (call_id, provider)
);
-- time_to_person_s's values, read from the index alone.
CREATE INDEX calls_start ON calls (simulated, start_ms, flow, to_person_ms);
-- One row per queue_left: waits for the exact percentiles.
CREATE TABLE queue_stays (
    call_id   TEXT    NOT NULL,
    provider  TEXT    NOT NULL,
    seq       BIGINT  NOT NULL,
    flow      TEXT    NOT NULL,
    simulated BOOLEAN NOT NULL,
    start_ms  BIGINT  NOT NULL,
    queue     TEXT    NOT NULL,
    wait_s    BIGINT  NOT NULL,
    PRIMARY KEY (call_id, provider, seq)
);
CREATE INDEX queue_stays_start ON queue_stays (simulated, start_ms, flow, queue, wait_s);
-- Counts per 15-minute bucket of the calls' starts (bucket = start_ms / 900000).
CREATE TABLE tallies (
    simulated BOOLEAN NOT NULL,
    bucket    BIGINT  NOT NULL,
    flow      TEXT    NOT NULL,
    what      TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    value     BIGINT  NOT NULL,
    n         BIGINT  NOT NULL,
    PRIMARY KEY (simulated, bucket, flow, what, name, value)
);
-- The events' time indexes served no reader now that report reads the summaries (retention
-- walks the calls' keys instead), and cost every write.
DROP INDEX events_at;
DROP INDEX events_flow_at;
-- Nor did any reader use the surrogate key (events are keyed by call, provider and seq): its
-- sequence and index cost every write too.
ALTER TABLE events DROP COLUMN id;
