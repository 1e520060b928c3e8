"""Write the bash and zsh completion scripts for the commands `completion.walk` read."""

from __future__ import annotations

from shlex import quote

BASH_HEAD = r"""# bash completion for hjdsl, generated from its argument parser by `hjdsl completion bash`.
# Install: source <(hjdsl completion bash)   (add that line to ~/.bashrc to keep it)

_hjdsl_value() {  # kind (words|files|none), arg (the words, or a file extension), current word
    case "$1" in
        words) COMPREPLY=($(compgen -W "$2" -- "$3")) ;;
        files)
            local IFS=$'\n'
            compopt -o filenames 2>/dev/null
            if [[ -n "$2" ]]; then
                COMPREPLY=($(compgen -d -- "$3") $(compgen -f -X "!*.$2" -- "$3"))
            else
                COMPREPLY=($(compgen -f -- "$3"))
            fi ;;
        *) COMPREPLY=() ;;
    esac
}

_hjdsl() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" verb="" word opts valued spec count kind arg
    local i n=0 positionals=()
    (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"
    # bash splits `--method=nuts` at the `=` (COMP_WORDBREAKS) into `--method`, `=`, `nuts`
    if [[ "$cur" == "=" ]]; then
        cur=""
    elif [[ "$prev" == "=" ]]; then
        prev="${COMP_WORDS[COMP_CWORD-2]}"
    fi
"""

BASH_TAIL = r"""
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    # count the positional words before the cursor, stepping over options and their values
    for ((i = i + 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        if [[ "$word" == -* ]]; then
            if [[ " $valued " == *" $word "* ]]; then
                [[ "${COMP_WORDS[i+1]}" == "=" ]] && i=$((i + 1))
                i=$((i + 1))
            fi
            continue
        fi
        n=$((n + 1))
    done
    for spec in "${positionals[@]}"; do
        read -r count kind arg <<< "$spec"
        if [[ "$count" == "*" ]] || (( n < count )); then
            _hjdsl_value "$kind" "$arg" "$cur"
            return
        fi
        n=$((n - count))
    done
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}

complete -F _hjdsl hjdsl
"""


def _words(items) -> str:
    return quote(" ".join(items))


def _value_cases(command, indent: str) -> list[str]:
    """A `case "$prev"` completing the value of each option that takes one (alike ones share an arm)."""
    arms: dict = {}
    for o in command.options:
        if o.value is not None:
            arms.setdefault(o.value, []).extend(o.flags)
    lines = [f'{indent}    {"|".join(flags)}) _hjdsl_value {v.kind} {quote(v.arg)} "$cur"; return ;;'
             for v, flags in arms.items()]
    return [f'{indent}case "$prev" in', *lines, f"{indent}esac"] if lines else []


def _bash_settings(command, indent: str) -> list[str]:
    flags = [f for o in command.options for f in o.flags]
    valued = [f for o in command.options if o.value is not None for f in o.flags]
    specs = " ".join(quote(f"{count} {v.kind} {v.arg}".strip()) for count, _, v in command.positionals)
    return [f"{indent}opts={_words(flags)}", f"{indent}valued={_words(valued)}",
            f"{indent}positionals=({specs})", *_value_cases(command, indent)]


def bash_script(top, verbs) -> str:
    lines = [BASH_HEAD.rstrip("\n"),
             "    # the verb is the first word that is not an option (or a top-level option's value)"]
    lines += _bash_settings(top, "    ")
    lines += ["    for ((i = 1; i < COMP_CWORD; i++)); do",
              '        word="${COMP_WORDS[i]}"',
              '        if [[ "$word" != -* ]]; then verb="$word"; break; fi',
              '        [[ " $valued " == *" $word "* ]] && i=$((i + 1))',
              "    done",
              '    if [[ -z "$verb" ]]; then',
              '        [[ "$cur" == -* ]] || COMPREPLY=($(compgen -W '
              f'{_words(v.name for v in verbs)} -- "$cur"))',
              '        [[ "$cur" == -* ]] && COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
              "        return",
              "    fi",
              '    case "$verb" in']
    for verb in verbs:
        lines += [f"        {quote(verb.name)})", *_bash_settings(verb, "            "), "            ;;"]
    lines += ["        *) return ;;", "    esac"]
    return "\n".join(lines) + BASH_TAIL


def _zq(text: str) -> str:
    """A zsh single-quoted word."""
    return "'" + text.replace("'", "'\\''") + "'"


def _zdesc(text: str) -> str:
    """An explanation inside `[…]` of an _arguments spec: brackets and colons escaped."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def _zaction(value) -> str:
    if value.kind == "words":
        return f"({value.arg})"
    if value.kind == "files":
        return f'_files -g "*.{value.arg}"' if value.arg else "_files"
    return " "  # _arguments: show the message, offer nothing


def _zspecs(command) -> list[str]:
    specs = []
    for o in command.options:
        for flag in o.flags:
            star = "*" if o.repeats else ""
            if o.value is None:
                specs.append(_zq(f"{star}{flag}[{_zdesc(o.help)}]"))
                continue
            eq = "=" if flag.startswith("--") else ""
            meta = o.meta.replace(":", "")
            specs.append(_zq(f"{star}{flag}{eq}[{_zdesc(o.help)}]:{meta}:{_zaction(o.value)}"))
    for count, meta, value in command.positionals:
        prefix = "*" if count == "*" else ""
        specs += [_zq(f"{prefix}:{meta.replace(':', '')}:{_zaction(value)}")] * (1 if prefix else int(count))
    return specs


def _zarguments(specs: list[str], indent: str) -> list[str]:
    return [f"{indent}_arguments -s -S \\"] + [f"{indent}    {s} \\" for s in specs[:-1]] + \
        [f"{indent}    {specs[-1]}"]


def zsh_script(top, verbs) -> str:
    described = [_zq(f"{v.name.replace(':', chr(92) + ':')}:{' '.join(v.help.split())}") for v in verbs]
    lines = ["#compdef hjdsl",
             "# zsh completion for hjdsl, generated from its argument parser by "
             "`hjdsl completion zsh`.",
             '# Install: hjdsl completion zsh > "${fpath[1]}/_hjdsl", or source <(hjdsl completion zsh)',
             "# after compinit.", "",
             "_hjdsl() {",
             '    local curcontext="$curcontext" state line ret=1',
             "    typeset -A opt_args"]
    lines += _zarguments([s for s in _zspecs(top)] + ["'1:verb:->verb'", "'*::arg:->args'"], "    ")
    lines[-1] += " && ret=0"
    lines += ["    case $state in",
              "        verb)",
              "            local -a verbs",
              "            verbs=(", *[f"                {d}" for d in described], "            )",
              "            _describe -t verbs 'hjdsl verb' verbs && ret=0 ;;",
              "        args)",
              "            curcontext=\"${curcontext%:*:*}:hjdsl-$line[1]:\"",
              "            case $line[1] in"]
    for verb in verbs:
        specs = _zspecs(verb) or ["'*:: :'"]
        lines += [f"                {quote(verb.name)})", *_zarguments(specs, "                    "),
                  "                    ret=$? ;;"]
    lines += ["            esac ;;", "    esac", "    return ret", "}", "",
              '# autoloaded from fpath the file is the body of _hjdsl; sourced, it registers it',
              'if [[ "${funcstack[1]}" == _hjdsl ]]; then',
              '    _hjdsl "$@"',
              "elif (( $+functions[compdef] )); then",
              "    compdef _hjdsl hjdsl",
              "fi"]
    return "\n".join(lines) + "\n"
