"""Compaction: when a session outgrows the model's context window, the older part of its
History is replaced by a summary. The Log is never rewritten: a `history_compaction` event
names the seq range it replaces and carries the summary, and the fold (history.py) sends one
summary message in place of that range. See docs/compaction.md.

- `cut.py`: accounting (how full the window is, the budgets) and where the History may be
  cut;
- `summary.py`: the summary, by one model call with a strict JSON schema, or written from
  the record when that call fails;
- `guard.py`: compacting a session, and the `Guard` a Turn consults before each call and on
  `context_overflow`.
"""
