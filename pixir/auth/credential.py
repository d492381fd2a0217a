"""The Credential the Provider uses: auth headers for the next call, and one recovery
from a 401. Resolution order (SPEC §3): stored subscription → stored API key →
OPENAI_API_KEY → not_authenticated."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pixir.auth import store
from pixir.config import Settings
from pixir.errors import PixirError

NO_CREDENTIAL = "no credential — run `pixir login` or set OPENAI_API_KEY"


@dataclass
class ApiKeyCredential:
    """A pay-per-token OpenAI API key (stored by `login --with-api-key`, or from the env)."""

    api_key: str = field(repr=False)
    source: str  # "stored" | "env"
    organization: str | None = None
    project: str | None = None
    kind: str = "api_key"

    def headers(self) -> dict[str, str]:
        """Auth headers for the next call."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers

    def recover_unauthorized(self) -> bool:
        """A key cannot be refreshed: a 401 is final."""
        return False


def resolve(settings: Settings, forced: str | None = None):
    """The Credential to use, honouring `--auth subscription|api_key`."""
    stored = store.load()
    if stored and stored["kind"] == "subscription" and forced in (None, "subscription"):
        raise PixirError(
            "not_implemented",
            "ChatGPT sign-in is not built yet in this version; set OPENAI_API_KEY",
        )
    if stored and stored["kind"] == "api_key" and forced in (None, "api_key"):
        return _api_key(stored["api_key"], "stored", settings)
    env_key = os.environ.get("OPENAI_API_KEY", "").strip()
    if env_key and forced in (None, "api_key"):
        return _api_key(env_key, "env", settings)
    wanted = f" of kind {forced}" if forced else ""
    raise PixirError(
        "not_authenticated",
        NO_CREDENTIAL.replace("no credential", f"no credential{wanted}"),
        {"forced": forced},
    )


def _api_key(key: str, source: str, settings: Settings) -> ApiKeyCredential:
    return ApiKeyCredential(
        api_key=key,
        source=source,
        organization=settings.openai_organization,
        project=settings.openai_project,
    )
