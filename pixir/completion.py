"""`pixir completion bash|zsh|fish`: a shell completion script, generated from the command
table in cli.py (commands, each one's options, the values an option takes) so that it
cannot drift from what pixir accepts. Session ids (for `resume`, `log`, `compact`,
`--session`) and model ids (`-m`) come from pixir itself when the shell completes:
`pixir [-C DIR] completion --list sessions|models`. docs/cli.md, "Shell completion".
"""

from __future__ import annotations

import sys

from pixir import cli
from pixir.errors import PixirError

HELP = ("-h", "--help")


def run(args) -> int:
    if args.list:
        for word in listing(args):
            print(word)
        return 0
    if args.shell is None:
        raise PixirError(
            "invalid_arguments",
            "which shell? pixir completion bash|zsh|fish",
            hint='bash: eval "$(pixir completion bash)" in ~/.bashrc (docs/cli.md)',
        )
    sys.stdout.write(SCRIPTS[args.shell](Table()))
    return 0


def listing(args) -> list[str]:
    """What the scripts complete with: this workspace's session ids (most recent first) or
    the catalog's model ids. Never fails loudly: a shell completing must not print errors."""
    from pixir.commands import sessions_root_for, settings_for

    try:
        if args.list == "sessions":  # where `pixir resume` looks: the repository's root
            from pixir import session as sessions

            return [info.id for info in sessions.list_sessions(sessions_root_for(args))]
        from pixir.provider.models import catalog

        return [entry["id"] for entry in catalog(settings_for(args, warn=False))]
    except (PixirError, OSError):
        return []


# -- the table, as the scripts need it ------------------------------------------------------


class Option:
    __slots__ = ("flags", "help", "kind", "values")

    def __init__(self, flags: tuple[str, ...], kwargs: dict) -> None:
        self.flags = flags
        self.help = kwargs.get("help", "")
        self.values: tuple[str, ...] = tuple(kwargs.get("choices") or ())
        if kwargs.get("action") == "store_true":
            self.kind = "flag"
        elif self.values:
            self.kind = "choice"
        elif kwargs.get("dest") == "model" or "--model" in flags:
            self.kind = "model"
        else:
            metavar = kwargs.get("metavar", "")
            kinds = (("DIR", "dir"), ("FILE", "file"), ("ID", "session"))
            self.kind = next((kind for name, kind in kinds if name == metavar), "value")

    @property
    def takes_value(self) -> bool:
        return self.kind != "flag"


class Table:
    """cli.COMMANDS in the terms of a completion script."""

    def __init__(self) -> None:
        self.commands = {n: c for n, c in cli.COMMANDS.items() if n != "run"}
        self.options = {name: self._options(name) for name in cli.COMMANDS}
        everything = {o.flags: o for options in self.options.values() for o in options}
        self.all_options = list(everything.values())

    def _options(self, name: str) -> list[Option]:
        command = cli.COMMANDS[name]
        found = [Option(flags, kwargs) for flags, kwargs in command.options if flags[0][0] == "-"]
        extra = cli.TURN if command.turn_options else []
        found += [Option(flags, kwargs) for flags, kwargs in cli.COMMON + extra]
        if name == "run":
            found.append(Option(("--version",), {"action": "store_true", "help": "version"}))
        found.append(Option(HELP, {"action": "store_true", "help": "show the help"}))
        return found

    def value_flags(self) -> list[str]:
        return sorted({f for o in self.all_options if o.takes_value for f in o.flags})

    def flags_of(self, kind: str) -> list[str]:
        return sorted({f for o in self.all_options if o.kind == kind for f in o.flags})

    def choices(self) -> dict[str, tuple[str, ...]]:
        return {f: o.values for o in self.all_options if o.kind == "choice" for f in o.flags}

    def positional(self, kind: str) -> list[str]:
        """Commands whose first positional word is of `kind` (session, command, choices)."""
        found = []
        for name, command in self.commands.items():
            takes = command.takes
            if takes and (takes[0] == kind or (kind == "choice" and len(takes) > 1)):
                found.append(name)
        return found


def _scan(word_at: str, first: int, current: str, value_flags: str) -> str:
    """The shell loop (bash and zsh alike) that finds the command word — the first word
    that is neither an option nor an option's value — and counts the words after it."""
    return f"""    local command="" word i n=0 ended=""
    for ((i = {first}; i < {current}; i++)); do
        word={word_at}
        if [[ -n $ended ]]; then
            ((n++))
            continue
        fi
        case $word in
            --) ended=1; command=${{command:-run}} ;;
            {value_flags}) ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $command ]]; then
                    case " $commands " in
                        *" $word "*) command=$word ;;
                        *) command=run; n=1 ;;
                    esac
                else
                    ((n++))
                fi
                ;;
        esac
    done"""


def _value_cases(table: Table, choices: str, actions: dict[str, str]) -> list[str]:
    """`case $prev` branches: what follows an option that takes a value. `choices` is a
    format with {values}; `actions` maps an option kind to what completes it."""
    cases = [
        f"        {flag}) {choices.format(values=' '.join(values))} ;;"
        for flag, values in table.choices().items()
    ]
    for kind, action in actions.items():
        flags = table.flags_of(kind)
        if flags:
            cases.append(f"        {'|'.join(flags)}) {action} ;;")
    return cases


def _option_lists(table: Table, form: str) -> list[str]:
    """`case $command` branches setting `opts` to the command's option flags."""
    return [
        f"        {name}) {form.format(' '.join(f for o in options for f in o.flags))} ;;"
        for name, options in table.options.items()
    ]


# -- bash -------------------------------------------------------------------------------------


def bash(table: Table) -> str:
    value_flags = "|".join(table.value_flags())
    cases = _value_cases(
        table,
        'COMPREPLY=($(compgen -W "{values}" -- "$cur")); return',
        {
            "dir": 'COMPREPLY=($(compgen -d -- "$cur")); return',
            "file": "return",  # -o default: file names
            "model": 'COMPREPLY=($(compgen -W "$(_pixir_list models)" -- "$cur")); return',
            "session": 'COMPREPLY=($(compgen -W "$(_pixir_list sessions)" -- "$cur")); return',
            "value": "return",
        },
    )
    option_lists = _option_lists(table, 'opts="{}"')
    sessions = "|".join(table.positional("session") + table.positional("session+prompt"))
    choice_commands = []
    for name in table.positional("choice"):
        words = " ".join(table.commands[name].takes)
        choice_commands.append(
            f'        {name}) ((n == 0)) && COMPREPLY=($(compgen -W "{words}" -- "$cur")) ;;'
        )
    scan = _scan("${COMP_WORDS[i]}", 1, "COMP_CWORD", value_flags)
    nl = "\n"
    return f"""# bash completion for pixir (generated by `pixir completion bash`; docs/cli.md)
# Load it in ~/.bashrc:    eval "$(pixir completion bash)"
# or install it for all:   pixir completion bash > /etc/bash_completion.d/pixir

# One word a line from pixir itself (session ids, model ids), in the workspace that -C names
# on the line being completed.
_pixir_list() {{
    local i cd=()
    for ((i = 1; i < ${{#COMP_WORDS[@]}} - 1; i++)); do
        case ${{COMP_WORDS[i]}} in
            -C|--cd) cd=(-C "${{COMP_WORDS[i + 1]}}") ;;
        esac
    done
    "${{COMP_WORDS[0]}}" "${{cd[@]}}" completion --list "$1" 2>/dev/null
}}

_pixir() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=
    ((COMP_CWORD > 0)) && prev=${{COMP_WORDS[COMP_CWORD - 1]}}
    local commands="{" ".join(table.commands)}"
{scan}
    COMPREPLY=()
    [[ -n $ended ]] && return
    case $prev in
{nl.join(cases)}
    esac
    if [[ $cur == -* ]]; then
        local opts
        case ${{command:-run}} in
{nl.join(option_lists)}
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    case $command in
        "") COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
        help) ((n == 0)) && COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
        {sessions}) ((n == 0)) && COMPREPLY=($(compgen -W "$(_pixir_list sessions)" -- "$cur")) ;;
{nl.join(choice_commands)}
    esac
}}

complete -o bashdefault -o default -F _pixir pixir
"""


# -- zsh --------------------------------------------------------------------------------------


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def zsh(table: Table) -> str:
    described = " ".join(
        _zsh_quote(f"{name}:{command.summary.split(':')[0]}")
        for name, command in table.commands.items()
    )
    value_flags = "|".join(table.value_flags())
    cases = _value_cases(
        table,
        "compadd -- {values}; return",
        {
            "dir": "_path_files -/; return",
            "file": "_files; return",
            "model": 'compadd -- ${(f)"$(_pixir_list models)"}; return',
            "session": 'compadd -- ${(f)"$(_pixir_list sessions)"}; return',
            "value": "return",
        },
    )
    option_lists = _option_lists(table, "opts=({})")
    sessions = "|".join(table.positional("session") + table.positional("session+prompt"))
    choice_commands = [
        f"        {name}) ((n == 0)) && compadd -- {' '.join(table.commands[name].takes)} ;;"
        for name in table.positional("choice")
    ]
    scan = _scan("${words[i]}", 2, "CURRENT", value_flags)
    nl = "\n"
    return f"""#compdef pixir
# zsh completion for pixir (generated by `pixir completion zsh`; docs/cli.md)
# Load it in ~/.zshrc (after compinit):   eval "$(pixir completion zsh)"
# or save it as _pixir in a folder of your $fpath.

_pixir_list() {{
    local i
    local -a cd
    for ((i = 2; i < CURRENT; i++)); do
        case ${{words[i]}} in
            -C|--cd) cd=(-C "${{words[i + 1]}}") ;;
        esac
    done
    ${{words[1]}} $cd completion --list $1 2>/dev/null
}}

_pixir() {{
    local cur=${{words[CURRENT]}} prev=${{words[CURRENT - 1]}}
    local commands="{" ".join(table.commands)}"
    local -a described opts
    described=({described})
{scan}
    [[ -n $ended ]] && {{ _files; return }}
    case $prev in
{nl.join(cases)}
    esac
    if [[ $cur == -* ]]; then
        case ${{command:-run}} in
{nl.join(option_lists)}
        esac
        compadd -- $opts
        return
    fi
    case $command in
        "") _describe -t commands 'pixir command' described; _files ;;
        help) ((n == 0)) && compadd -- ${{=commands}} ;;
        {sessions}) ((n == 0)) && compadd -- ${{(f)"$(_pixir_list sessions)"}} ;;
{nl.join(choice_commands)}
        *) _files ;;
    esac
}}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _pixir "$@"
else
    compdef _pixir pixir
fi
"""


# -- fish -------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish(table: Table) -> str:
    value_flags = " ".join(table.value_flags())
    lines = [
        "# fish completion for pixir (generated by `pixir completion fish`; docs/cli.md)",
        "# Install it:  pixir completion fish > ~/.config/fish/completions/pixir.fish",
        "",
        "# The command word (the first word that is neither an option nor an option's value;",
        "# `run` when it starts a task; `-` while there is none) and how many words follow it.",
        "function __pixir_scan",
        "    set -l words (commandline -opc)",
        "    set -e words[1]",
        "    set -l command -",
        "    set -l skip 0",
        "    set -l n 0",
        "    for word in $words",
        "        if test $skip = 1",
        "            set skip 0",
        "            continue",
        "        end",
        "        switch $word",
        "            case --",
        "                test $command = -; and set command run",
        "                break",
        f"            case {value_flags}",
        "                set skip 1",
        "            case '-*'",
        "            case '*'",
        "                if test $command != -",
        "                    set n (math $n + 1)",
        f"                else if contains -- $word {' '.join(table.commands)}",
        "                    set command $word",
        "                else",
        "                    set command run",
        "                    set n 1",
        "                end",
        "        end",
        "    end",
        "    echo $command $n",
        "end",
        "",
        "function __pixir_command",
        "    set -l state (string split ' ' (__pixir_scan))",
        "    test $state[1] != -; and echo $state[1]",
        "end",
        "",
        "function __pixir_is",
        "    set -l command (__pixir_command)",
        '    test -z "$command"; and set command run',
        "    contains -- $command $argv",
        "end",
        "",
        "function __pixir_first_word_of",
        "    set -l state (string split ' ' (__pixir_scan))",
        "    contains -- $state[1] $argv; and test $state[2] = 0",
        "end",
        "",
        "function __pixir_list",
        "    set -l words (commandline -opc)",
        "    set -l cd",
        "    set -l i (contains -i -- -C $words; or contains -i -- --cd $words)",
        '    if test -n "$i"',
        "        set cd -C $words[(math $i + 1)]",
        "    end",
        "    $words[1] $cd completion --list $argv 2>/dev/null",
        "end",
        "",
    ]
    for name, command in table.commands.items():
        summary = command.summary.split(":")[0]
        lines.append(
            f"complete -c pixir -n 'test -z (__pixir_command)' -f -a {name} "
            f"-d {_fish_quote(summary)}"
        )
    sessions = " ".join(table.positional("session") + table.positional("session+prompt"))
    lines += [
        f"complete -c pixir -n '__pixir_first_word_of {sessions}' -f "
        "-a '(__pixir_list sessions)' -d session",
        "complete -c pixir -n '__pixir_first_word_of help' -f "
        f"-a {_fish_quote(' '.join(table.commands))}",
    ]
    for name in table.positional("choice"):
        lines.append(
            f"complete -c pixir -n '__pixir_first_word_of {name}' -f "
            f"-a {_fish_quote(' '.join(table.commands[name].takes))}"
        )
    users: dict[tuple[str, ...], tuple[Option, list[str]]] = {}
    for name, options in table.options.items():
        for option in options:
            users.setdefault(option.flags, (option, []))[1].append(name)
    for option, names in users.values():
        spec = []
        for flag in option.flags:
            spec.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
        if option.kind == "choice":
            spec.append(f"-x -a {_fish_quote(' '.join(option.values))}")
        elif option.kind == "model":
            spec.append("-x -a '(__pixir_list models)'")
        elif option.kind == "session":
            spec.append("-x -a '(__pixir_list sessions)'")
        elif option.kind == "dir":
            spec.append("-x -a '(__fish_complete_directories)'")
        elif option.kind in ("file", "value"):
            spec.append("-r")
        condition = f"__pixir_is {' '.join(names)}"
        if option.help:
            spec.append(f"-d {_fish_quote(str(option.help).split(' (')[0])}")
        lines.append(f"complete -c pixir -n '{condition}' {' '.join(spec)}")
    return "\n".join(lines) + "\n"


SCRIPTS = {"bash": bash, "zsh": zsh, "fish": fish}
