"""`hjdsl completion bash|zsh`: the scripts parse, complete in a real shell, and match the parser."""

from __future__ import annotations

import argparse
import shutil
import subprocess

import pytest

from hjdsl.cli import build_parser, main
from hjdsl.commands.completion import walk
from hjdsl.commands.completion_scripts import bash_script

ZSH = shutil.which("zsh")
needs_zsh = pytest.mark.skipif(ZSH is None, reason="zsh is not installed on this machine")


def _script(shell: str, capsys) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """The bash and zsh scripts written to files, and a folder of files to complete."""
    root = tmp_path_factory.mktemp("completion")
    files = root / "files"
    (files / "sub").mkdir(parents=True)
    for name in ("spec.hj", "notes.txt", "fit.nc", "fig.png"):
        (files / name).write_text("")
    paths = {}
    for shell in ("bash", "zsh"):
        proc = subprocess.run(["hjdsl", "completion", shell], capture_output=True, text=True, check=True)
        paths[shell] = root / f"hjdsl.{shell}"
        paths[shell].write_text(proc.stdout)
    return paths, files


def bash_complete(script, words: list[str], cwd) -> list[str]:
    """COMPREPLY of _hjdsl for `words`, the last one being completed."""
    line = " ".join(f"'{w}'" for w in words)
    code = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _hjdsl; "
            'printf "%s\\n" "${COMPREPLY[@]}"')
    proc = subprocess.run(["bash", "-c", code], capture_output=True, text=True, cwd=cwd, check=True)
    return [w for w in proc.stdout.split("\n") if w]


def test_bash_script_is_valid_and_registers_the_function(scripts):
    paths, files = scripts
    subprocess.run(["bash", "-n", str(paths["bash"])], check=True)
    proc = subprocess.run(["bash", "-c", f"source {paths['bash']}; complete -p hjdsl"],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "complete -F _hjdsl hjdsl"


BASH_CASES = [
    (["hjdsl", "sol"], ["solve"]),
    (["hjdsl", "comp"], ["compare", "compile", "completion"]),
    (["hjdsl", "--debug", "so"], ["solve"]),
    (["hjdsl", "--ver"], ["--version"]),
    (["hjdsl", "solve", "--me"], ["--method"]),
    (["hjdsl", "solve", "--method", ""], ["convex", "hopf_lax", "map", "nuts", "svi"]),
    (["hjdsl", "solve", "--method", "=", "n"], ["nuts"]),          # --method=n
    (["hjdsl", "compile", "--target", "c"], ["cvxpy"]),
    (["hjdsl", "completion", ""], ["bash", "zsh"]),
    (["hjdsl", "check", ""], ["spec.hj", "sub"]),                  # specs and folders only
    (["hjdsl", "check", "spec.hj", ""], ["spec.hj", "sub"]),       # FILE… takes many
    (["hjdsl", "solve", "--method", "nuts", ""], ["spec.hj", "sub"]),
    (["hjdsl", "solve", "--method=nuts", ""], ["spec.hj", "sub"]),
    (["hjdsl", "solve", "spec.hj", "-o", ""], ["fit.nc", "sub"]),
    (["hjdsl", "compare", "spec.hj", "--plot", ""], ["fig.png", "sub"]),
    (["hjdsl", "solve", "--data", "n"], ["notes.txt"]),
    (["hjdsl", "solve", "--steps", ""], []),                       # a number: nothing to offer
]


@pytest.mark.parametrize("words, expected", BASH_CASES, ids=[" ".join(w) for w, _ in BASH_CASES])
def test_bash_completes(scripts, words, expected):
    paths, files = scripts
    if "--method=nuts" in words:  # as bash itself splits the word at `=`
        i = words.index("--method=nuts")
        words = words[:i] + ["--method", "=", "nuts"] + words[i + 1:]
    assert sorted(bash_complete(paths["bash"], words, files)) == expected


def test_bash_offers_options_once_the_positionals_are_given(scripts):
    paths, files = scripts
    got = bash_complete(paths["bash"], ["hjdsl", "solve", "spec.hj", ""], files)
    assert "--method" in got and "spec.hj" not in got


def _subparsers(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_every_verb_and_option_of_the_parser_completes(scripts):
    """Walk build_parser() itself: each verb's options and each option's choices, in real bash."""
    paths, files = scripts
    verbs = _subparsers(build_parser()).choices
    assert sorted(bash_complete(paths["bash"], ["hjdsl", ""], files)) == sorted(verbs)
    for verb, parser in verbs.items():
        flags = {f for a in parser._actions if a.help != argparse.SUPPRESS for f in a.option_strings}
        assert set(bash_complete(paths["bash"], ["hjdsl", verb, "-"], files)) == flags, verb
        for action in parser._actions:
            if action.choices and action.option_strings:
                got = bash_complete(paths["bash"], ["hjdsl", verb, action.option_strings[-1], ""], files)
                assert got == [str(c) for c in action.choices], (verb, action.option_strings)


def test_the_script_follows_the_parser():
    """A verb or option added to the parser appears in the script with no other change."""
    parser = argparse.ArgumentParser(prog="hjdsl")
    sub = parser.add_subparsers(dest="verb")
    p = sub.add_parser("newverb", help="a verb added later")
    p.add_argument("--colour", choices=["red", "blue"])
    p.add_argument("FILE")
    script = bash_script(*walk(parser))
    assert "newverb)" in script and "--colour) _hjdsl_value words 'red blue'" in script


def test_unknown_shell_is_a_usage_error(capsys):
    assert main(["completion", "fish"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'fish'" in err and "Traceback" not in err


def test_help_shows_how_to_install(capsys):
    assert main(["completion", "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "source <(hjdsl completion bash)" in out


@needs_zsh
def test_zsh_script_is_valid(scripts):
    paths, _ = scripts
    subprocess.run([ZSH, "-n", str(paths["zsh"])], check=True)


# Drives an interactive zsh in a pseudo-terminal, presses TAB and prints what compadd was given.
ZSH_CAPTURE = r"""
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PROMPT=; autoload -U compinit; compinit -u -D; source $1"
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a hits; builtin compadd -A hits "$@"; (( $#hits )) && print -l -- "<"H">"${^hits}; builtin compadd "$@" }'
zpty -w z "bindkey '^I' complete-word; zle_done() { print -r -- '<'END'>' }; zle -N zle_done; bindkey '^X' zle_done"
zpty -n -w z "$2"$'\t'
zpty -n -w z $'\C-x'
integer n=0
while zpty -r z line; do
  [[ $line == *'<END>'* ]] && break
  [[ $line == *'<H>'* ]] && print -r -- "${${line#*<H>}%%$'\r'}"
  (( ++n > 5000 )) && break
done
zpty -d z
"""

ZSH_CASES = [
    ("hjdsl sol", ["solve"]),
    ("hjdsl solve --me", ["--method"]),
    ("hjdsl solve --method ", ["convex", "hopf_lax", "map", "nuts", "svi"]),
    ("hjdsl solve --method=n", ["nuts"]),
    ("hjdsl check ", ["spec.hj", "sub"]),
    ("hjdsl completion ", ["bash", "zsh"]),
]


@needs_zsh
@pytest.mark.parametrize("line, expected", ZSH_CASES, ids=[c for c, _ in ZSH_CASES])
def test_zsh_completes(scripts, tmp_path, line, expected):
    paths, files = scripts
    capture = tmp_path / "capture.zsh"
    capture.write_text(ZSH_CAPTURE)
    proc = subprocess.run([ZSH, "-f", str(capture), str(paths["zsh"]), line], capture_output=True,
                          text=True, cwd=files, timeout=60)
    if proc.returncode == 3:
        pytest.skip("zsh has no zpty module to drive an interactive shell")
    got = sorted({w.rstrip("/") for w in proc.stdout.split("\n") if w})
    assert got == expected
