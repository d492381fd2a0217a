"""Credentials: the OAuth flows, the token file and the Credential the Provider uses."""
