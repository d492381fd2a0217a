"""`pixir acp`: the Agent Client Protocol front end (docs/acp.md)."""
