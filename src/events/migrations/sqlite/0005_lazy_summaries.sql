-- The writer no longer summarises each batch: it marks the calls a batch touched, and the
-- summaries catch up later (when the writer is idle, and before `report` reads them).
CREATE TABLE dirty_calls (
    call_id  TEXT NOT NULL,
    provider TEXT NOT NULL,
    PRIMARY KEY (call_id, provider)
) WITHOUT ROWID;
-- The waits are histograms in `tallies` now (`what` = 'wait', whole seconds as `value`).
DROP TABLE queue_stays;
-- The calls' states now carry what each adds to the tallies: rewritten from the events.
