"""`pixir status`: not built yet."""

from pixir.commands import not_built


def run(args) -> int:
    not_built(args.command)
