-- One database and one login role per service; a role reaches only its own database.
-- Generated from shared/registry.py: python -m shared.registry postgres-init
CREATE ROLE intake LOGIN PASSWORD 'intake-dev';
CREATE ROLE review LOGIN PASSWORD 'review-dev';
CREATE ROLE awards LOGIN PASSWORD 'awards-dev';
CREATE ROLE notify LOGIN PASSWORD 'notify-dev';
CREATE DATABASE intake OWNER intake;
CREATE DATABASE review OWNER review;
CREATE DATABASE awards OWNER awards;
CREATE DATABASE notify OWNER notify;
REVOKE CONNECT, TEMPORARY ON DATABASE intake, review, awards, notify FROM PUBLIC;
