-- Calls carry their award criteria and a revision: intake announces each revision (CallAnnouncedV1)
-- so that review and awards learn the call from the one place that owns it.

ALTER TABLE calls ADD COLUMN revision integer NOT NULL DEFAULT 1 CHECK (revision >= 1);
ALTER TABLE calls ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE calls ADD COLUMN criteria jsonb;
-- Calls created before criteria belonged to the call were scored against the Quality Innovation Award's
-- five (the defaults awards used); written out here because applied migrations never change.
UPDATE calls SET updated_at = created_at, criteria = '[
    {"key": "novelty", "name": "Novelty", "weight": 1.0, "scale_min": 0, "scale_max": 5, "description": "How new the innovation is compared with existing practice: a new idea, or a known one applied in a new way or a new context in its sector."},
    {"key": "usefulness", "name": "Usefulness (applicability)", "weight": 1.0, "scale_min": 0, "scale_max": 5, "description": "How well the innovation solves a real problem, and how readily other organisations or contexts could adopt it."},
    {"key": "learning", "name": "Learning", "weight": 1.0, "scale_min": 0, "scale_max": 5, "description": "How systematically the organisation learned while developing the innovation (experiments, user feedback, measurement) and how it shares and uses what it learned."},
    {"key": "customer_orientation", "name": "Customer orientation", "weight": 1.0, "scale_min": 0, "scale_max": 5, "description": "How well the innovation rests on the needs of its customers or users, how they were involved in developing it, and how it improves their experience."},
    {"key": "effectiveness", "name": "Effectiveness (performance)", "weight": 1.0, "scale_min": 0, "scale_max": 5, "description": "The results the innovation has achieved, shown by measurement: its effect on quality, cost, time, sustainability or other indicators of performance."}
]'::jsonb;
ALTER TABLE calls ALTER COLUMN criteria SET NOT NULL;
-- Calls created from now on are announced as they are created and changed; the ones before were never
-- announced, and intake's start-up job (jobs.announce_unannounced_calls) announces them.
ALTER TABLE calls ADD COLUMN announced boolean NOT NULL DEFAULT false;
ALTER TABLE calls ALTER COLUMN announced SET DEFAULT true;
CREATE INDEX calls_unannounced ON calls (created_at, id) WHERE NOT announced;
