"""The values a setting may take, in one place for the config's validation (config.py), the
command line's flags (cli.py) and the transport policy. Import-free, so that `pixir --help`
does not pay for the config module."""

CHOICES: dict[str, tuple[str, ...]] = {
    "reasoning_effort": ("minimal", "low", "medium", "high", "xhigh"),
    "reasoning_summary": ("auto", "concise", "detailed", "none"),
    "text_verbosity": ("low", "medium", "high"),
    "transport": ("auto", "websocket", "http_sse"),
    "permission_default": ("auto", "ask", "read_only"),
    "prompt_cache_retention": ("in_memory", "24h"),
}
