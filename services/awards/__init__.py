"""Awards: per-call criteria and jury, juror assignment and scoring, leaderboards, decisions and results."""
