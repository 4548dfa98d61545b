"""Notify: tells every stakeholder what happened to their case — email, signed webhooks and an in-app feed."""
