"""Care at home: operational store, device intake (HTTP and MQTT) and monitoring rules.

Entry points for the API, the agents and the CLI:

- :class:`axhub.care.store.CareStore` opens the store (SQLite or PostgreSQL) and migrates it;
- :func:`axhub.care.intake.ingest_messages` / :func:`axhub.care.intake.ingest_observation`
  take device messages (FHIR Observation or the axhub reading JSON) into the store and run
  the monitoring rules on what was new;
- :mod:`axhub.care.alerts` is the alert life cycle (acknowledge, snooze with safety floors,
  resolve) and the worklist;
- :mod:`axhub.care.monitoring` runs the rules on a batch and folds firings into alerts;
  :mod:`axhub.care.sweep` is the periodic sweep (missing data, adherence);
- :mod:`axhub.care.tasks` and :mod:`axhub.care.summary` serve the agents.
"""
