"""FHIR R4 helpers: code systems, districts, NDJSON/Bundle readers, references."""
