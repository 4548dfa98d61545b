"""Local development infrastructure for Kipinä (Kafka + PostgreSQL), see deploy/README.md."""
