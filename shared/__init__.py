"""Kipinä's shared library: event contracts and the reliability plumbing every service uses.

Services import from here and never from each other.
"""
