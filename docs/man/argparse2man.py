#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Make tapreflect-bench(1) from its template and the program's own argparse parser.

    argparse2man.py TEMPLATE OUTPUT

A line holding only @OPTIONS@ becomes one .TP per option of the program
itself, one holding only @SUBCOMMANDS@ one .SS per subcommand (its summary,
the first paragraph of its description, and one .TP per option), @VERSION@
anywhere the program's VERSION: the page cannot drift from what is accepted.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "bench"))

from tapreflect_bench import VERSION  # noqa: E402
from tapreflect_bench.cli import build_parser  # noqa: E402


def roff(text):
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in out.split("\n"))


def options(parser):
    lines = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        heads = []
        for opt in action.option_strings:
            head = f"\\fB{roff(opt)}\\fR"
            if action.nargs != 0:
                metavar = "|".join(action.choices) if action.choices else (action.metavar or action.dest.upper())
                head += f" \\fI{roff(metavar)}\\fR"
                if action.nargs == "+":
                    head += " ..."
            heads.append(head)
        lines += [".TP", ", ".join(heads), roff((action.help or "").replace("%%", "%"))]
    return lines


def positionals(parser):
    return [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def subcommands(parser, prefix):
    lines = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {c.dest: c.help for c in action._choices_actions}
        for name, sub in action.choices.items():
            full = f"{prefix} {name}".strip()
            pos = " ".join(f"\\fI{roff(a.metavar or a.dest.upper())}\\fR" + (" ..." if a.nargs == "+" else "")
                           for a in positionals(sub))
            lines += [f".SS {roff(full)}" + (f" {pos}" if pos else "")]
            if helps.get(name):
                lines += [roff(helps[name][0].upper() + helps[name][1:]) + "."]
            nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
            if nested:
                lines += subcommands(sub, full)
                continue
            desc = (sub.description or "").strip().split("\n\n")[0].replace("\n", " ")
            if desc and desc != helps.get(name):
                lines += [".PP", roff(desc)]
            lines += options(sub)
    return lines


def main():
    template, output = sys.argv[1:3]
    with open(template) as f:
        text = f.read()
    if "\n@SUBCOMMANDS@\n" not in text:
        sys.exit(f"argparse2man: {template} has no @SUBCOMMANDS@ line")
    if "\n@OPTIONS@\n" not in text:
        sys.exit(f"argparse2man: {template} has no @OPTIONS@ line")
    parser = build_parser()
    text = text.replace("\n@OPTIONS@\n", "\n" + "\n".join(options(parser)) + "\n")
    text = text.replace("\n@SUBCOMMANDS@\n", "\n" + "\n".join(subcommands(parser, "")) + "\n")
    text = text.replace("@VERSION@", VERSION)
    with open(output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
