"""`hjdsl completion bash|zsh`: print a shell completion script generated from hjdsl's parser."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

HELP = "print a bash or zsh completion script for hjdsl"
DESCRIPTION = """\
Print a completion script for the hjdsl command: verbs, each verb's options, the choices
of options such as --method and --target, .hj specs for FILE arguments and files of the
right kind for outputs (OUT.nc, OUT.png). The script is generated from hjdsl's own
argument parser, so it always matches the installed version, and needs no network or
extra package.
"""
EPILOG = """\
examples:
  source <(hjdsl completion bash)                       this bash session
  echo 'source <(hjdsl completion bash)' >> ~/.bashrc   every bash session
  hjdsl completion zsh > "${fpath[1]}/_hjdsl"           zsh (then start a new shell)
  source <(hjdsl completion zsh)                        this zsh session, after compinit
"""


def configure(p) -> None:
    p.epilog = EPILOG
    p.add_argument("shell", choices=("bash", "zsh"), help="the shell to write the script for")


@dataclass(frozen=True)
class Value:
    """What completes a value: `words` (arg = the choices), `files` (arg = an extension or '')."""

    kind: str
    arg: str = ""


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    value: Value | None  # None: a flag that takes no value
    repeats: bool
    meta: str = "VALUE"


@dataclass(frozen=True)
class Command:
    """The options and positional arguments of the top level or of one verb."""

    name: str
    help: str
    options: tuple[Option, ...]
    positionals: tuple[tuple[str, str, Value], ...]  # (count: "1", "2" … or "*", metavar, value)


def value_of(action: argparse.Action) -> Value:
    """How to complete an action's value, read from its choices and metavar."""
    if action.choices is not None:
        return Value("words", " ".join(str(c) for c in action.choices))
    meta = action.metavar if isinstance(action.metavar, str) else ""
    if isinstance(action.type, argparse.FileType) or meta in ("PATH", "DIR"):
        return Value("files")
    if (ext := re.search(r"\.(\w+)$", meta)) is not None:  # OUT.nc, FIT.nc, OUT.png, OUT.py
        return Value("files", ext.group(1))
    if meta == "FILE":  # hjdsl's name for a spec argument
        return Value("files", "hj")
    return Value("none")  # a number, a list, a point: nothing to offer


def _help_text(action: argparse.Action) -> str:
    text = " ".join((action.help or "").split())
    return re.sub(r"%\((\w+)\)s", lambda m: str(getattr(action, m.group(1), "")), text).replace("%%", "%")


def _count(nargs) -> str:
    if nargs in (None, "?"):
        return "1"
    return str(nargs) if isinstance(nargs, int) else "*"  # "+", "*", REMAINDER


def command_of(name: str, help_text: str, parser: argparse.ArgumentParser) -> Command:
    options, positionals = [], []
    for action in parser._actions:  # argparse has no public way to list a parser's arguments
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        if action.option_strings:
            takes = action.nargs != 0
            meta = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
            options.append(Option(tuple(action.option_strings), _help_text(action),
                                  value_of(action) if takes else None,
                                  isinstance(action, (argparse._AppendAction, argparse._CountAction)),
                                  meta))
        else:
            meta = action.metavar if isinstance(action.metavar, str) else action.dest
            positionals.append((_count(action.nargs), meta, value_of(action)))
    return Command(name, help_text, tuple(options), tuple(positionals))


def walk(parser: argparse.ArgumentParser) -> tuple[Command, tuple[Command, ...]]:
    """(the top level, every verb) of hjdsl's parser."""
    verbs = []
    for sub in parser._actions:
        if isinstance(sub, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in sub._choices_actions}
            verbs += [command_of(name, helps.get(name, ""), p) for name, p in sub.choices.items()]
    return command_of(parser.prog, parser.description or "", parser), tuple(verbs)


def run(args) -> int:
    from hjdsl.cli import build_parser
    from hjdsl.commands.completion_scripts import bash_script, zsh_script

    top, verbs = walk(build_parser())
    print((bash_script if args.shell == "bash" else zsh_script)(top, verbs), end="")
    return 0
