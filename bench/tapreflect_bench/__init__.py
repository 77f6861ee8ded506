"""tapreflect-bench: the benchmark side of tapreflect, as one program.

One module per concern (see docs/benchmarking.md, "The benchmark program"):
model (the records every module passes around), stats and changepoint (pure
numbers), metrics and judge (metric files, verdicts), store and history (the
results store), report (HTML and charts), lab (namespaces, processes), one
module per measuring subcommand, and cli (argument parsing only).
"""

VERSION = "0.1.0"  # the project's (CMakeLists.txt); tools.man_pages checks that they agree
