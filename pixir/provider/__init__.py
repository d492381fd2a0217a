"""The Provider: one streamed OpenAI Responses API call. Knows nothing of the Log or terminal.

Kept empty so that importing a light submodule (models) never pulls in `requests`.
"""
