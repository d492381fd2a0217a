"""`pixir PROMPT` and `pixir resume`: not built yet (the Turn loop lands with issue 6)."""

from pixir.commands import not_built, settings_for
from pixir.provider.models import resolve_model


def run(args) -> int:
    # Refuse bad configuration and unknown models first, as the real command will.
    resolve_model(settings_for(args), allow_unknown=args.allow_unknown_model)
    not_built("resume" if args.command == "resume" else "PROMPT")
