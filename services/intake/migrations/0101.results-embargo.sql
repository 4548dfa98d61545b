-- The embargo: a case whose call's results are out is 'published'; 'decided' now means decided but not yet
-- published, which its submitter sees as 'in_evaluation' (docs/design.md, "The embargo").
UPDATE cases SET status = 'published'
WHERE status = 'decided'
  AND EXISTS (SELECT 1 FROM case_timeline t
              WHERE t.case_id = cases.id AND t.kind = 'kipina.award.results_published.v1');
