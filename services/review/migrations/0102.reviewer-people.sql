-- The reviewer holding a task, as a person a message can reach (docs/people.md): from the identity claims of their
-- token when they claim the task; replaced by the next claim, cleared when the task is released. No language means
-- nothing was recorded (a claim made before this migration).
ALTER TABLE review_tasks
    ADD COLUMN reviewer_name     text,
    ADD COLUMN reviewer_email    text,
    ADD COLUMN reviewer_language text,
    -- TaskDueSoonV1 reminders sent: the lease expiry the lease reminder was for (a new claim has a new lease,
    -- which may be reminded again), and each reviewer who had the SLA reminder for this task (once per holder).
    ADD COLUMN lease_reminded_for    timestamptz,
    ADD COLUMN sla_reminded_reviewers text[] NOT NULL DEFAULT '{}';
-- the reminder job's search: the claimed tasks
CREATE INDEX review_tasks_claimed ON review_tasks (lease_expires_at) WHERE status = 'claimed';
