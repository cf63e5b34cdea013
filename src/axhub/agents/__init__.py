"""The medical agentic AI platform and the care-at-home agents.

- :mod:`axhub.agents.tools` — typed tools (pydantic input/output) and their action classes;
- :mod:`axhub.agents.runtime` — the observe → decide → act loop, audited step by step in the
  care store's ``agent_runs`` table and through ``GovernedStore.record_agent_action``;
- :mod:`axhub.agents.approvals` — clinical actions wait for a clinician (never autonomous);
- :mod:`axhub.agents.planner` — the deterministic default planner (rules and scores);
- :mod:`axhub.agents.writer`, :mod:`axhub.agents.guard`, :mod:`axhub.agents.templates` —
  patient messages and summaries: Korean/English templates, an optional OpenAI-compatible
  language model whose output is checked (no dosing advice, no diagnosis);
- :mod:`axhub.agents.care_agents` — the home-care, triage, care-coordinator and stroke agents;
- :mod:`axhub.agents.demo` — the demo step (enrol a cohort, replay a week of readings).
"""
