#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Make perf-report(1) from its template and perf-report's own argparse parser.

    argparse2man.py PERF_REPORT TEMPLATE OUTPUT

A line holding only @OPTIONS@ becomes one .TP per option, @VERSION@ anywhere
the script's VERSION: the page cannot drift from what perf-report accepts.
"""
import importlib.machinery
import importlib.util
import sys


def roff(text):
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + l if l.startswith((".", "'")) else l for l in out.split("\n"))


def main():
    script, template, output = sys.argv[1:4]
    loader = importlib.machinery.SourceFileLoader("perf_report", script)
    spec = importlib.util.spec_from_loader("perf_report", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    parser = mod.build_parser()
    lines = []
    for action in parser._actions:
        if not action.option_strings:
            continue
        heads = []
        for opt in action.option_strings:
            head = f"\\fB{roff(opt)}\\fR"
            if action.nargs != 0:
                if action.choices:
                    metavar = "|".join(action.choices)
                else:
                    metavar = action.metavar or action.dest.upper()
                head += f" \\fI{roff(metavar)}\\fR"
                if action.nargs == "+":
                    head += " ..."
            heads.append(head)
        lines += [".TP", ", ".join(heads), roff((action.help or "").replace("%%", "%"))]
    with open(template) as f:
        text = f.read()
    if "\n@OPTIONS@\n" not in text:
        sys.exit(f"argparse2man: {template} has no @OPTIONS@ line")
    text = text.replace("\n@OPTIONS@\n", "\n" + "\n".join(lines) + "\n").replace("@VERSION@", mod.VERSION)
    with open(output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
