#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Every option, and every value of an option that takes a fixed set, is in
each of what users read: --help, the man page and the bash completion, for
tapreflect, tapgen and tapreflect-bench.

    cli_outputs.py BUILD_DIR

What must be there comes from the tables the programs parse with:
`trf-mangen --list TOOL` (the option tables, with the enums' names and the
completion's other words, e.g. the reflect modes) and `argparse2bash.py
--list` (tapreflect-bench's parser, with its choices).  The completion is
run, not read: bash sources the installed script and answers each query
as it would at a prompt.  Exit 0 when all is there, 1 with every gap listed,
77 when man is missing outside CI.
"""
import os
import re
import shutil
import subprocess
import sys

BUILD = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", ".."))
PY = sys.executable
BENCH = os.path.join(SRC, "bench", "tapreflect-bench")
failures = []

# Where bash-completion is installed it is used; elsewhere the three functions
# the scripts call are stood in for (cur, prev, words, cword from COMP_WORDS).
STUBS = r"""
_init_completion() {
	words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
	cur=${words[cword]}; prev=${words[cword-1]}; split=false
}
_filedir() { COMPREPLY=(@file); }
_available_interfaces() { COMPREPLY=(@netdev); }
"""


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def man_text(page):
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="200")
    text = subprocess.run(["man", "-E", "UTF-8", "-l", page], capture_output=True, text=True, env=env,
                          check=True).stdout
    # Hyphens may come out as U+2010, and long words hyphenated across lines: compare on ASCII.
    return text.replace("\u2010", "-").replace("\u2011", "-")


def complete(script, queries):
    """What the completion offers for each query (the words typed, the last one being completed)."""
    func = re.search(r"^complete -F (\S+)|&& complete -F (\S+)", script, re.M)
    func = func.group(1) or func.group(2)
    real = "/usr/share/bash-completion/bash_completion"
    lines = [f"source {real}" if os.path.exists(real) else STUBS, script]
    for i, words in enumerate(queries):
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        lines += [f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}",
                  'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()',
                  f'{func} "${{COMP_WORDS[0]}}" "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"',
                  f"echo '@@ {i}'", 'printf "%s\\n" "${COMPREPLY[@]}"']
    out = subprocess.run(["bash", "--norc", "-c", "\n".join(lines)], capture_output=True, text=True)
    if out.returncode != 0:
        failures.append(f"the completion failed to run: {out.stderr.strip()}")
    answers, current = [set() for _ in queries], None
    for line in out.stdout.splitlines():
        if line.startswith("@@ "):
            current = answers[int(line[3:])]
        elif current is not None and line:
            current.add(line)
    return answers


def head_values(text, option):
    """The values shown after an option's name where it is listed: "tap|tun", "{full,quick}",
    "[mlr|binary]" (a value that may be left out)."""
    for line in text.splitlines():
        m = re.match(r"\s*(?:-\w, |-\w |)(?:\S+, )*" + re.escape(option) + r"[ =](\S+)", line)
        if m:
            return set(re.split(r"[|{},\[\]]", m.group(1))) - {""}
    return None


def listed(text, option):
    return re.search(r"(^|[\s,\[])" + re.escape(option) + r"($|[\s,=\]])", text, re.M) is not None


def check(tool, where, text, option, values):
    if not listed(text, option):
        failures.append(f"{tool}: {option} is missing from {where}")
        return
    if values:
        shown = head_values(text, option) or set()
        for v in values:
            if v not in shown:
                failures.append(f"{tool}: {option} value '{v}' is missing from {where}")


def c_tool(tool):
    rows = [line.split("\t") for line in run(os.path.join(BUILD, "tools", "trf-mangen"), "--list", tool).splitlines()]
    help_text = run(os.path.join(BUILD, "tools", tool), "--help")
    man = man_text(os.path.join(BUILD, "man", f"{tool}.8"))
    with open(os.path.join(BUILD, "completion", tool)) as f:
        script = f.read()
    queries = [[tool, "-"]] + [[tool, row[0], ""] for row in rows]
    answers = complete(script, queries)
    for i, (long, short, values, words) in enumerate(rows):
        values, words = values.split(), words.split()
        check(tool, "--help", help_text, long, values)
        check(tool, "the man page", man, long, values)
        for o in [long] + ([short] if short != "-" else []):
            if o not in answers[0]:
                failures.append(f"{tool}: {o} is missing from the completion")
        for v in values + words:
            if v not in answers[i + 1]:
                failures.append(f"{tool}: {long} value '{v}' is missing from the completion")
    return len(rows)


def man_sections(text):
    """The rendered page by subsection (a line indented by three spaces: a .SS), and OPTIONS as ""."""
    sections, name, in_subcommands = {}, None, False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            name = "" if line == "OPTIONS" else None
            in_subcommands = line == "SUBCOMMANDS"
        elif in_subcommands and re.match(r"^   \S", line):
            words = line.split()
            # "run", "history show METRIC ...": the subcommand's words before its operands.
            name = " ".join(w for w in words if re.fullmatch(r"[a-z][a-z-]*", w))
        if name is not None:
            sections.setdefault(name, []).append(line)
    return {k: "\n".join(v) for k, v in sections.items()}


def bench():
    tool = "tapreflect-bench"
    rows = [line.split("\t") for line in run(PY, os.path.join(SRC, "docs", "man", "argparse2bash.py"), "--list").splitlines()]
    paths = sorted({r[0] for r in rows})
    helps = {p: run(BENCH, *p.split(), "--help") for p in paths}
    sections = man_sections(man_text(os.path.join(BUILD, "man", f"{tool}.1")))
    with open(os.path.join(BUILD, "completion", tool)) as f:
        script = f.read()
    queries = [[tool, *p.split(), "-"] for p in paths] + [[tool, *p.split(), ""] for p in paths]
    queries += [[tool, *path.split(), option, ""] for path, option, values in rows if values]
    answers = complete(script, queries)
    offered = dict(zip(paths, answers))
    words = dict(zip(paths, answers[len(paths):]))
    valued = iter(answers[2 * len(paths):])
    for path, option, values in rows:
        values = values.split()
        where = f"{tool} {path}".strip()
        check(where, "--help", helps[path], option, values)
        if option not in ("-h", "--help"):
            check(where, "the man page", sections.get(path, ""), option, values)
        if option not in offered[path]:
            failures.append(f"{where}: {option} is missing from the completion")
        if values:
            got = next(valued)
            for v in values:
                if v not in got:
                    failures.append(f"{where}: {option} value '{v}' is missing from the completion")
    # Every subcommand is offered after its parent's words.
    for p in paths:
        if p:
            parent, name = p.rpartition(" ")[0], p.split()[-1]
            if name not in words[parent]:
                failures.append(f"{tool}: the subcommand '{p}' is missing from the completion")
    return len(rows)


def main():
    if not shutil.which("man"):
        if os.environ.get("CI") == "true":
            sys.exit("FAIL: man is not installed")
        print("SKIP: no man", file=sys.stderr)
        sys.exit(77)
    counts = {"tapreflect": c_tool("tapreflect"), "tapgen": c_tool("tapgen"), "tapreflect-bench": bench()}
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(", ".join(f"{k}: {n} options" for k, n in counts.items()) +
          " in --help, the man page and the completion, with their values")


if __name__ == "__main__":
    main()
