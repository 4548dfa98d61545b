-- Timeline entries of review and awards events were recorded under the event's type; every entry now
-- uses intake's own vocabulary (services/intake/domain.py, TimelineKind).

UPDATE case_timeline SET kind = CASE kind
    WHEN 'kipina.review.iteration_opened.v1' THEN 'iteration_opened'
    WHEN 'kipina.review.changes_requested.v1' THEN 'changes_requested'
    WHEN 'kipina.review.stage_advanced.v1' THEN 'stage_advanced'
    WHEN 'kipina.review.rejected.v1' THEN 'rejected'
    WHEN 'kipina.review.nominated.v1' THEN 'nominated'
    WHEN 'kipina.review.escalated.v1' THEN 'escalated'
    WHEN 'kipina.award.evaluation_opened.v1' THEN 'evaluation_opened'
    WHEN 'kipina.award.decided.v1' THEN 'decided'
    WHEN 'kipina.award.results_published.v1' THEN 'results_published'
END
WHERE kind IN (
    'kipina.review.iteration_opened.v1',
    'kipina.review.changes_requested.v1',
    'kipina.review.stage_advanced.v1',
    'kipina.review.rejected.v1',
    'kipina.review.nominated.v1',
    'kipina.review.escalated.v1',
    'kipina.award.evaluation_opened.v1',
    'kipina.award.decided.v1',
    'kipina.award.results_published.v1'
);
