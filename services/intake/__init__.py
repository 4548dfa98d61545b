"""Intake: calls for innovation cases, case submission and revision, and each case's status and timeline."""
