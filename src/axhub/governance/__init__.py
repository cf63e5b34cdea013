"""Governance boundary: purposes, policy, consent, de-identification, pseudonyms, audit, release."""
