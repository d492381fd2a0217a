"""Presenters: render Events for people (human) or programs (--json, --jsonl)."""
