#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Make tapreflect-bench's bash completion from the program's own argparse parser.

    argparse2bash.py OUTPUT     the completion script
    argparse2bash.py --list     one line per option: PATH TAB OPTION TAB CHOICES

The completion offers, after the subcommands typed so far ("history show"),
that parser's subcommands and options, and for an option's value its choices,
files or directories (by its metavar) or nothing: it cannot drift from what
is accepted.  The list is what tests/tools/cli_outputs.py checks --help, the
man page and the completion against.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "bench"))

from tapreflect_bench.cli import build_parser  # noqa: E402

PROG = "tapreflect-bench"
FILE_METAVARS = {"FILE", "PATH", "PREFIX", "TARGET"}  # TARGET: --db, a SQLite file or a URL
DIR_METAVARS = {"DIR"}


def parsers(parser, path=""):
    """(path, parser) of the program and every subcommand, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}".strip())


def children(parser):
    return [name for a in parser._actions if isinstance(a, argparse._SubParsersAction) for name in a.choices]


def options(parser):
    return [a for a in parser._actions if a.option_strings]


def value_action(action):
    """What the completion does for the option's value; None: the option takes none."""
    if action.nargs == 0:
        return None
    if action.choices:
        return "COMPREPLY=($(compgen -W '%s' -- \"$cur\"))" % " ".join(action.choices)
    if action.metavar in DIR_METAVARS:
        return "_filedir -d"
    if action.metavar in FILE_METAVARS:
        return "_filedir"
    return ":"  # a number, a list, a name: nothing to offer


def script(parser):
    tree = list(parsers(parser))
    func = "_" + PROG.replace("-", "_")
    out = [
        "# SPDX-License-Identifier: MIT",
        f"# bash completion for {PROG}, made at build time from its argparse parser",
        f"# (docs/man/argparse2bash.py): it offers what {PROG} accepts.",
        "",
        f"{func}()",
        "{",
        "\tlocal cur prev words cword split i path=\"\"",
        "\t_init_completion -s || return",
        "",
        "\t# The subcommands typed so far, e.g. \"history show\".",
        "\tfor ((i = 1; i < cword; i++)); do",
        "\t\tcase \"$path/${words[i]}\" in",
    ]
    steps = [f'"{path}/{name}"' for path, p in tree for name in children(p)]
    if steps:
        out += ["\t\t" + " | ".join(steps) + ")",
                "\t\t\tpath=\"${path:+$path }${words[i]}\" ;;"]
    out += ["\t\tesac", "\tdone", "", "\tcase \"$path/$prev\" in"]
    by_action = {}
    for path, p in tree:
        for a in options(p):
            act = value_action(a)
            if act is not None:
                by_action.setdefault(act, []).extend(f'"{path}/{o}"' for o in a.option_strings)
    for act, patterns in by_action.items():
        out += ["\t" + " | ".join(patterns) + ")"] + ([f"\t\t{act}"] if act != ":" else []) + ["\t\treturn ;;"]
    out += ["\tesac", "\t$split && return", "\tcase $path in"]
    for path, p in tree:
        words = children(p) + [o for a in options(p) for o in a.option_strings]
        files = any(not a.option_strings and a.metavar in FILE_METAVARS for a in p._actions)
        out.append(f'\t"{path}")')
        if files:
            out.append("\t\t[[ $cur == -* ]] || { _filedir; return; }")
        out += [f"\t\tCOMPREPLY=($(compgen -W '{' '.join(words)}' -- \"$cur\")) ;;"]
    out += ["\tesac", f"}} && complete -F {func} {PROG}", ""]
    return "\n".join(out)


def listing(parser):
    lines = []
    for path, p in parsers(parser):
        for a in options(p):
            for o in a.option_strings:
                lines.append(f"{path}\t{o}\t{' '.join(a.choices or []) if a.nargs != 0 else ''}")
    return "\n".join(lines) + "\n"


def main():
    if sys.argv[1:] == ["--list"]:
        sys.stdout.write(listing(build_parser()))
        return
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: argparse2bash.py OUTPUT | --list")
    with open(sys.argv[1], "w") as f:
        f.write(script(build_parser()))


if __name__ == "__main__":
    main()
