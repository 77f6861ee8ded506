"""The results store: every run, its samples and its raw trial records.

One database, SQLite (a file, the default) or PostgreSQL (a server a team
shares), spoken to in the SQL both accept; the few differences (placeholders,
self-numbering ids, the lock that serialises migrations) live in `_Dialect`.
What a store answers is what a history needs (Bencher's model): the runs of a
machine × configuration, a metric's value per run, the samples behind a
baseline.

Targets: a file path, `sqlite:///absolute/path` (the URL's path is the file's
path), or `postgresql://…` / `postgres://…` (any libpq URL).

Concurrency: a run is written in one transaction, so a reader sees all of it
or none of it.  SQLite runs in WAL mode with a busy timeout and takes the
write lock up front (BEGIN IMMEDIATE), so concurrent writers queue instead of
failing half way; PostgreSQL needs nothing beyond plain transactions, and an
advisory lock keeps two first-time openers from migrating at once.

Errors the user can act on are `BenchError(…, EXIT_STORE)`; a missing store
opened for reading (create=False) is `EXIT_NO_DATA`: nothing was stored yet.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import math
import os
import re
import sqlite3
import time
import urllib.parse
from typing import IO, Any, Iterable, Iterator, NamedTuple, Optional, Sequence

from . import machine as machine_ids
from .model import EXIT_BAD_INPUT, EXIT_NO_DATA, EXIT_STORE, BenchError, Run, Sample, TrendPoint

MARKER_TABLE = "tapreflect_bench"
APPLICATION = "tapreflect-bench results store"
EXPORT_FORMAT = "tapreflect-bench/run"  # the "format" of every exported line
EXPORT_VERSION = 1

# Seconds a writer waits for another one (SQLite's busy timeout; PostgreSQL's
# connect timeout).  Writing one run takes milliseconds: a wait this long
# means a stuck process, not load.
WAIT_S = 30

# Numbered migrations: MIGRATIONS[v - 1] takes a store from version v - 1 to v.
# Append only; never edit a step that has shipped.  {id} is the dialect's
# self-numbering primary key.  Booleans are INTEGER 0/1 and JSON is TEXT in
# both dialects, so that rows read back the same from either.
MIGRATIONS: list[list[str]] = [
    # v1: runs and their samples.
    [
        f"CREATE TABLE {MARKER_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"INSERT INTO {MARKER_TABLE} (key, value) VALUES ('application', '{APPLICATION}')",
        """CREATE TABLE runs (
            id {id},
            kind TEXT NOT NULL,
            started TEXT NOT NULL,
            finished TEXT NOT NULL,
            machine_id TEXT NOT NULL,
            machine TEXT NOT NULL,
            config_key TEXT NOT NULL,
            config TEXT NOT NULL,
            version TEXT NOT NULL,
            git_commit TEXT,
            complete INTEGER NOT NULL,
            note TEXT)""",
        """CREATE TABLE samples (
            id {id},
            run BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            metric TEXT NOT NULL,
            value DOUBLE PRECISION NOT NULL,
            unit TEXT NOT NULL,
            better TEXT NOT NULL,
            kind TEXT NOT NULL,
            pair BIGINT,
            threshold DOUBLE PRECISION,
            gate INTEGER)""",
        "CREATE INDEX samples_run ON samples (run)",
    ],
    # v2: A/B runs say which side a sample is from; the raw trial records are
    # kept (so a run can be judged again later with other statistics); trend
    # queries (one metric, one machine × configuration, in time order) get
    # indexes instead of scanning every sample.
    [
        "ALTER TABLE samples ADD COLUMN side TEXT",
        """CREATE TABLE records (
            run BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run, seq))""",
        "CREATE INDEX samples_metric_run ON samples (metric, run)",
        "CREATE INDEX runs_machine_config ON runs (machine_id, config_key, started)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)

_RUN_COLUMNS = "id, kind, started, finished, machine, config, version, git_commit, complete, note"
_SAMPLE_COLUMNS = "metric, value, unit, better, kind, pair, side, threshold, gate"


class RunInfo(NamedTuple):
    """A stored run's id and the run itself (without its samples and records)."""

    id: int
    run: Run


class MachineInfo(NamedTuple):
    id: str
    machine: dict  # as the machine's latest run described it
    runs: int


class ConfigInfo(NamedTuple):
    key: str
    config: dict
    runs: int


class MetricPlace(NamedTuple):
    """Where a metric was measured: a machine × configuration and how many runs."""

    machine_id: str
    config_key: str
    runs: int


def config_key(config: dict) -> str:
    """First 16 hex digits of the SHA-256 of the config's canonical JSON."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _bool(v: Optional[bool]) -> Optional[int]:
    return None if v is None else int(bool(v))


def _unbool(v: Optional[int]) -> Optional[bool]:
    return None if v is None else bool(v)


def _where(conds: list[tuple[str, Any]]) -> tuple[str, list]:
    """(" WHERE a = ? AND …", params) from (clause, param) pairs whose param is not None."""
    used = [(c, p) for c, p in conds if p is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(c for c, _ in used), [p for _, p in used]


class _Dialect:
    name = "sqlite"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def sql(self, text: str) -> str:
        return text

    def tables_query(self) -> str:
        return "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite^_%' ESCAPE '^'"


class _Postgres(_Dialect):
    name = "postgresql"
    id_column = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    # pg_advisory_xact_lock's key: the ASCII of "tapr"; held until the migrating transaction ends.
    lock_key = 0x74617072

    def sql(self, text: str) -> str:
        # No statement of ours holds a literal '?' or '%', so the swap is safe.
        return text.replace("?", "%s")

    def tables_query(self) -> str:
        return ("SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()")


def _masked(url: str) -> str:
    """The URL as it may be shown: without its password."""
    url = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^&]*", r"\1***", url)


class Store:
    """An open results store.  Use open_store(); close() it, or use it as a context manager."""

    def __init__(self, conn: Any, dialect: _Dialect, target: str, path: Optional[str]):
        self._conn = conn
        self._dialect = dialect
        self.target = target  # as it may be shown to the user (no password)
        self.path = path  # the SQLite file, None for PostgreSQL
        self.dialect = dialect.name
        self.schema_version = 0

    # -- plumbing ------------------------------------------------------------

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _execute(self, sql: str, params: Sequence = ()) -> Any:
        return self._conn.execute(self._dialect.sql(sql), tuple(params))

    def _all(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._errors():
            return [tuple(r) for r in self._execute(sql, params).fetchall()]

    def _many(self, sql: str, rows: list[tuple]) -> None:
        if not rows:
            return
        if self._dialect.name == "sqlite":
            self._conn.executemany(sql, rows)
        else:
            with self._conn.cursor() as cur:
                cur.executemany(self._dialect.sql(sql), rows)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the drivers' errors into ones that say what to do."""
        try:
            yield
        except BenchError:
            raise
        except sqlite3.Error as e:
            raise _sqlite_error(self.target, e) from e
        except Exception as e:
            if type(e).__module__.startswith("psycopg"):
                hint = ""
                if type(e).__name__ == "InsufficientPrivilege":
                    hint = ("; the PostgreSQL user needs CREATE on the database's schema (to set the store up) "
                            "and SELECT, INSERT on its tables, or pass another --db")
                raise BenchError(f"results store {self.target}: {_first_line(e)}{hint}", EXIT_STORE) from e
            raise

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction: all of it is stored, or none of it."""
        with self._errors():
            if self._dialect.name == "sqlite":
                # IMMEDIATE takes the write lock now (waiting up to the busy
                # timeout for another writer), so that no write in the middle
                # of the transaction can fail on a lock held elsewhere.
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            else:
                with self._conn.transaction():
                    yield

    # -- schema --------------------------------------------------------------

    def _tables(self) -> set[str]:
        return {r[0] for r in self._execute(self._dialect.tables_query()).fetchall()}

    def _version(self, tables: set[str]) -> int:
        if not tables:
            return 0
        if MARKER_TABLE not in tables:
            raise BenchError(
                f"{self.target} holds tables ({', '.join(sorted(tables)[:8])}) but is not a tapreflect-bench "
                "results store: refusing to touch it; pass another --db (an empty database or a new file)",
                EXIT_STORE)
        rows = self._execute(f"SELECT value FROM {MARKER_TABLE} WHERE key = 'schema_version'").fetchall()
        return int(rows[0][0]) if rows else 0

    def _check_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise BenchError(
                f"{self.target} has schema version {version}, this program knows up to {SCHEMA_VERSION}: "
                "it was written by a newer tapreflect-bench: upgrade (or pass another --db)", EXIT_STORE)

    def _migrate(self) -> None:
        with self._errors():
            version = self._version(self._tables())
        self._check_newer(version)
        if version == SCHEMA_VERSION:
            self.schema_version = version
            return
        with self._write():
            if isinstance(self._dialect, _Postgres):
                self._execute(f"SELECT pg_advisory_xact_lock({_Postgres.lock_key})")
            # Look again under the lock: another process may have migrated meanwhile.
            version = self._version(self._tables())
            self._check_newer(version)
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for step in MIGRATIONS[number - 1]:
                    self._execute(step.replace("{id}", self._dialect.id_column))
            self._execute(f"INSERT INTO {MARKER_TABLE} (key, value) VALUES ('schema_version', ?)"
                          " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
        self.schema_version = SCHEMA_VERSION

    # -- writing -------------------------------------------------------------

    def save_run(self, run: Run) -> int:
        """Store the whole run (samples and records) in one transaction; its id."""
        machine_id = _checked(run)
        with self._write():
            return self._insert(run, machine_id)

    def _insert(self, run: Run, machine_id: str) -> int:
        rows = self._execute(
            "INSERT INTO runs (kind, started, finished, machine_id, machine, config_key, config, version,"
            " git_commit, complete, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (run.kind, run.started, run.finished, machine_id, _json(run.machine), config_key(run.config),
             _json(run.config), run.version, run.commit, int(bool(run.complete)), run.note)).fetchall()
        run_id = int(rows[0][0])
        self._many(
            "INSERT INTO samples (run, metric, value, unit, better, kind, pair, side, threshold, gate)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, s.metric, float(s.value), s.unit, s.better, s.kind, s.pair, s.side,
              None if s.threshold is None else float(s.threshold), _bool(s.gate)) for s in run.samples])
        self._many("INSERT INTO records (run, seq, data) VALUES (?, ?, ?)",
                   [(run_id, i, json.dumps(r, separators=(",", ":"))) for i, r in enumerate(run.records)])
        return run_id

    # -- reading -------------------------------------------------------------

    def runs(self, kind: Optional[str] = None, machine_id: Optional[str] = None,
             config_key: Optional[str] = None, complete_only: bool = False,
             limit: Optional[int] = None) -> list[RunInfo]:
        """Runs oldest first, without samples and records; with limit, the newest `limit` of them."""
        where, params = _where([("kind = ?", kind), ("machine_id = ?", machine_id),
                                ("config_key = ?", config_key), ("complete = ?", 1 if complete_only else None)])
        sql = f"SELECT {_RUN_COLUMNS} FROM runs{where}"
        if limit is None:
            rows = self._all(sql + " ORDER BY started, id", params)
        else:
            rows = self._all(sql + " ORDER BY started DESC, id DESC LIMIT ?", params + [int(limit)])
            rows.reverse()
        return [RunInfo(r[0], _run_from_row(r)) for r in rows]

    def get_run(self, run_id: int) -> Run:
        """The run with its samples (in the order they were saved) and records."""
        rows = self._all(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (int(run_id),))
        if not rows:
            raise BenchError(f"no run {run_id} in {self.target}", EXIT_BAD_INPUT)
        run = _run_from_row(rows[0])
        run.samples = [_sample_from_row(r) for r in self._all(
            f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE run = ? ORDER BY id", (int(run_id),))]
        run.records = [json.loads(r[0]) for r in self._all(
            "SELECT data FROM records WHERE run = ? ORDER BY seq", (int(run_id),))]
        return run

    def machines(self) -> list[MachineInfo]:
        """Every machine with runs, by id, described as its latest run described it."""
        rows = self._all(
            "SELECT r.machine_id, r.machine, c.n FROM runs r JOIN"
            " (SELECT machine_id, MAX(id) AS last, COUNT(*) AS n FROM runs GROUP BY machine_id) c"
            " ON r.id = c.last ORDER BY r.machine_id")
        return [MachineInfo(r[0], json.loads(r[1]), int(r[2])) for r in rows]

    def configs(self, machine_id: Optional[str] = None) -> list[ConfigInfo]:
        """Every configuration with runs (on one machine, or anywhere), by key."""
        where, params = _where([("machine_id = ?", machine_id)])
        rows = self._all(
            "SELECT r.config_key, r.config, c.n FROM runs r JOIN"
            f" (SELECT config_key, MAX(id) AS last, COUNT(*) AS n FROM runs{where} GROUP BY config_key) c"
            " ON r.id = c.last ORDER BY r.config_key", params)
        return [ConfigInfo(r[0], json.loads(r[1]), int(r[2])) for r in rows]

    def metric_names(self, machine_id: Optional[str] = None, config_key: Optional[str] = None) -> list[str]:
        where, params = _where([("r.machine_id = ?", machine_id), ("r.config_key = ?", config_key)])
        return [r[0] for r in self._all(
            f"SELECT DISTINCT s.metric FROM samples s JOIN runs r ON r.id = s.run{where} ORDER BY s.metric",
            params)]

    def metric_places(self, metric: str) -> list[MetricPlace]:
        """Every machine × configuration where `metric` was measured, with its number of runs."""
        rows = self._all(
            "SELECT r.machine_id, r.config_key, COUNT(DISTINCT r.id) FROM samples s JOIN runs r ON r.id = s.run"
            " WHERE s.metric = ? GROUP BY r.machine_id, r.config_key ORDER BY r.machine_id, r.config_key",
            (metric,))
        return [MetricPlace(r[0], r[1], int(r[2])) for r in rows]

    def metric_meta(self, metric: str, machine_id: Optional[str] = None,
                    config_key: Optional[str] = None) -> Optional[Sample]:
        """The latest sample of a metric (its unit, better, kind, threshold, gate), or None."""
        where, params = _where([("s.metric = ?", metric), ("r.machine_id = ?", machine_id),
                                ("r.config_key = ?", config_key)])
        cols = ", ".join("s." + c for c in _SAMPLE_COLUMNS.split(", "))
        rows = self._all(f"SELECT {cols} FROM samples s JOIN runs r ON r.id = s.run{where}"
                         " ORDER BY s.id DESC LIMIT 1", params)
        return _sample_from_row(rows[0]) if rows else None

    def trend_values(self, metric: str, machine_id: str, config_key: str) -> list[TrendPoint]:
        """One point per run of the machine × configuration that has the metric: the median of its samples."""
        from . import stats

        rows = self._all(
            "SELECT r.id, r.started, r.git_commit, r.version, r.complete, s.value"
            " FROM samples s JOIN runs r ON r.id = s.run"
            " WHERE s.metric = ? AND r.machine_id = ? AND r.config_key = ?"
            " ORDER BY r.started, r.id, s.id", (metric, machine_id, config_key))
        points: list[TrendPoint] = []
        values: list[float] = []
        for i, r in enumerate(rows):
            values.append(float(r[5]))
            if i + 1 == len(rows) or rows[i + 1][0] != r[0]:
                points.append(TrendPoint(run_id=int(r[0]), started=r[1], commit=r[2], version=r[3],
                                         value=float(stats.median(values)), n=len(values), complete=bool(r[4])))
                values = []
        return points

    def recent_run_ids(self, metric: str, machine_id: str, config_key: str, n: int, *,
                       complete_only: bool = True, exclude: Iterable[int] = (),
                       before: Optional[int] = None) -> list[int]:
        """The ids of the newest n runs of a machine × configuration that have the metric, oldest first;
        with `before`, only runs older than that run (by start time, then id)."""
        rows = self._all(
            "SELECT DISTINCT r.id, r.started, r.complete FROM samples s JOIN runs r ON r.id = s.run"
            " WHERE s.metric = ? AND r.machine_id = ? AND r.config_key = ?"
            " ORDER BY r.started DESC, r.id DESC", (metric, machine_id, config_key))
        skip = {int(x) for x in exclude}
        ordered = [(int(r[0]), bool(r[2])) for r in rows]
        if before is not None:
            # Newest first: what follows `before` in this order is older than it (complete or not).
            at = [i for i, _ in ordered].index(before) if any(i == before for i, _ in ordered) else len(ordered)
            ordered = ordered[at + 1:]
        ids = [i for i, complete in ordered if i not in skip and (complete or not complete_only)][:max(int(n), 0)]
        ids.reverse()
        return ids

    def samples(self, metric: str, run_ids: Iterable[int]) -> list[Sample]:
        """The metric's samples in the given runs, by run id and then in the order they were saved."""
        ids = sorted({int(x) for x in run_ids})
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        return [_sample_from_row(r) for r in self._all(
            f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE metric = ? AND run IN ({marks}) ORDER BY run, id",
            [metric] + ids)]

    # -- moving runs between stores -----------------------------------------

    def export_jsonl(self, fp: IO[str], kind: Optional[str] = None, machine_id: Optional[str] = None,
                     config_key: Optional[str] = None, complete_only: bool = False,
                     limit: Optional[int] = None) -> int:
        """Write the selected runs (as runs() selects them), whole, one JSON line each; how many."""
        count = 0
        for info in self.runs(kind=kind, machine_id=machine_id, config_key=config_key,
                              complete_only=complete_only, limit=limit):
            fp.write(run_to_json(self.get_run(info.id), run_id=info.id) + "\n")
            count += 1
        return count

    def import_jsonl(self, fp: IO[str]) -> list[int]:
        """Store the runs of an export (all of them in one transaction); the ids of those added.

        A run already present (same kind, machine, configuration, start and
        end) is skipped, so importing the same export twice adds nothing.
        """
        runs = []
        for line_no, line in enumerate(fp, 1):
            if line.strip():
                runs.append(run_from_json(line, where=f"line {line_no}"))
        for run in runs:
            _checked(run)
        added = []
        with self._write():
            if self._dialect.name != "sqlite":
                # Two imports of one export at once: the check below and the insert must not
                # interleave (SQLite's BEGIN IMMEDIATE already serialises writers).
                self._execute(f"SELECT pg_advisory_xact_lock({_Postgres.lock_key + 1})")
            for run in runs:
                same = self._execute(
                    "SELECT id FROM runs WHERE kind = ? AND machine_id = ? AND config_key = ?"
                    " AND started = ? AND finished = ?",
                    (run.kind, _machine_id(run), config_key(run.config), run.started, run.finished)).fetchall()
                if not same:
                    added.append(self._insert(run, _machine_id(run)))
        return added

    def import_baseline(self, path: str, *, machine: Optional[dict] = None, config: Optional[dict] = None,
                        version: Optional[str] = None, commit: Optional[str] = None) -> int:
        """Store a baseline file (metric lines or google-benchmark JSON) as a run of kind "import".

        Where it was made comes from the file's meta line; `machine` and
        `config`, when given, take its place (a file without a meta line
        needs `machine`).  The run's time is the file's modification time.
        """
        from . import metrics as metrics_mod

        found, metas = metrics_mod.load_files([path])
        meta: dict = {}
        for m in metas:
            meta.update({k: v for k, v in m.items() if k != "kind"})
        machine = dict(machine if machine is not None else meta.get("machine") or {})
        if machine.get("id") in machine_ids.legacy_ids():
            machine["id"] = machine_ids.machine_id()  # made here by an older run script
        if not machine:
            raise BenchError(f"{path} has no meta line saying which machine made it: "
                             "import it as this machine's with `history import --this-machine` if it was made here",
                             EXIT_BAD_INPUT)
        if not found:
            raise BenchError(f"{path} holds no metric to import", EXIT_BAD_INPUT)
        try:
            mtime = os.stat(path).st_mtime
        except OSError as e:
            raise BenchError(f"cannot read {path}: {e.strerror}", EXIT_BAD_INPUT) from e
        when = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).isoformat(timespec="seconds")
        run = Run(kind="import", started=meta.get("started", when), finished=meta.get("finished", when),
                  machine=dict(machine), config=dict(config if config is not None else meta.get("config", {})),
                  version=str(version if version is not None else meta.get("version", "unknown")),
                  commit=commit if commit is not None else meta.get("commit"),
                  complete=True, note=f"imported from {os.path.basename(path)}")
        for name, m in found.items():
            for i, value in enumerate(m.samples):
                pair = m.pairs[i] if i < len(m.pairs) else None
                run.samples.append(Sample(metric=name, value=float(value), unit=m.unit, better=m.better,
                                          kind=m.kind, pair=pair, threshold=m.threshold, gate=m.gate))
        return self.save_run(run)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _sqlite_error(target: str, e: sqlite3.Error) -> BenchError:
    text = str(e)
    low = text.lower()
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        return BenchError(f"{target} is not a SQLite database (or it is corrupt): {text}; pass another "
                          "--db, or move the file away to start a new store", EXIT_STORE)
    if "readonly" in low or "read-only" in low:
        return BenchError(f"{target} is read-only: {text}; make it (and its directory) writable, "
                          "or pass another --db", EXIT_STORE)
    if "locked" in low or "busy" in low:
        return BenchError(f"{target} stayed locked by another process for {WAIT_S} s: {text}; "
                          "try again, or look for a stuck tapreflect-bench", EXIT_STORE)
    if "unable to open" in low:
        return BenchError(f"cannot open {target}: {text}; check that its directory exists and is writable",
                          EXIT_STORE)
    return BenchError(f"results store {target}: {text}", EXIT_STORE)


def _machine_id(run: Run) -> str:
    machine_id = run.machine.get("id") if isinstance(run.machine, dict) else None
    if not machine_id:
        raise BenchError("a run without a machine id cannot be stored (machine.identity() gives one)",
                         EXIT_BAD_INPUT)
    return str(machine_id)


def _checked(run: Run) -> str:
    """The run's machine id, once the run is known to be storable (BenchError, EXIT_BAD_INPUT, if not)."""
    machine_id = _machine_id(run)
    for s in run.samples:
        if isinstance(s.value, bool) or not isinstance(s.value, (int, float)) or not math.isfinite(s.value):
            raise BenchError(f"run sample {s.metric}: value {s.value!r} is not a finite number", EXIT_BAD_INPUT)
    return machine_id


def _run_from_row(r: tuple) -> Run:
    return Run(kind=r[1], started=r[2], finished=r[3], machine=json.loads(r[4]), config=json.loads(r[5]),
               version=r[6], commit=r[7], complete=bool(r[8]), note=r[9])


def _sample_from_row(r: tuple) -> Sample:
    return Sample(metric=r[0], value=float(r[1]), unit=r[2], better=r[3], kind=r[4],
                  pair=None if r[5] is None else int(r[5]), side=r[6],
                  threshold=None if r[7] is None else float(r[7]), gate=_unbool(r[8]))


_RUN_FIELDS = {f.name for f in dataclasses.fields(Run)}
_SAMPLE_FIELDS = {f.name for f in dataclasses.fields(Sample)}


def run_to_json(run: Run, run_id: Optional[int] = None) -> str:
    """One line of an export: the run's fields, samples and records (and its id in the store it left)."""
    doc: dict[str, Any] = {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION}
    if run_id is not None:
        doc["id"] = run_id
    doc.update(dataclasses.asdict(run))
    return json.dumps(doc, separators=(",", ":"))


def run_from_json(text: str, where: str = "input") -> Run:
    """A Run from one export line; BenchError(EXIT_BAD_INPUT) saying what is wrong with it."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise BenchError(f"{where}: not JSON: {e}", EXIT_BAD_INPUT) from e
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise BenchError(f"{where}: not a tapreflect-bench run (no \"format\": \"{EXPORT_FORMAT}\")",
                         EXIT_BAD_INPUT)
    if int(doc.get("format_version", 0)) > EXPORT_VERSION:
        raise BenchError(f"{where}: written by a newer tapreflect-bench (format version "
                         f"{doc['format_version']}): upgrade", EXIT_BAD_INPUT)
    fields = {k: v for k, v in doc.items() if k in _RUN_FIELDS}
    try:
        fields["samples"] = [Sample(**{k: v for k, v in s.items() if k in _SAMPLE_FIELDS})
                             for s in doc.get("samples", [])]
        fields["records"] = list(doc.get("records", []))
        return Run(**fields)
    except (TypeError, AttributeError) as e:
        raise BenchError(f"{where}: not a whole run: {e}", EXIT_BAD_INPUT) from e


def open_store(target: str, *, create: bool = True) -> Store:
    """Open (and create or migrate) the store at target: a file path, sqlite:///path or postgresql://….

    create=False opens an existing store only (for reading): a missing SQLite
    file is then BenchError(EXIT_NO_DATA) rather than a new empty store.
    """
    if target.startswith(("postgresql://", "postgres://")):
        return _open_postgres(target)
    path = target[len("sqlite://"):] if target.startswith("sqlite://") else target
    if not path:
        raise BenchError(f"{target}: no file named (sqlite:///path/to/file)", EXIT_BAD_INPUT)
    return _open_sqlite(os.path.abspath(path), create)


def _open_sqlite(path: str, create: bool) -> Store:
    if not os.path.exists(path):
        if not create:
            raise BenchError(f"no results store at {path} yet: run a measuring subcommand first "
                             "(or pass the --db that holds your runs)", EXIT_NO_DATA)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as e:
            raise BenchError(f"cannot create the directory of {path}: {e.strerror}; "
                             "pass another --db", EXIT_STORE) from e
    elif os.path.isdir(path):
        raise BenchError(f"{path} is a directory, not a results store file: pass a file", EXIT_STORE)
    writable = not os.path.exists(path) or os.access(path, os.W_OK)
    # WAL keeps a -wal and a -shm file beside the database: a writer needs the directory too.
    dir_writable = os.access(os.path.dirname(path), os.W_OK)
    if create and not (writable and dir_writable):
        what = path if not writable else f"the directory of {path}"
        raise BenchError(f"{what} is read-only: make it writable, or pass another --db", EXIT_STORE)
    try:
        conn = sqlite3.connect(path, timeout=WAIT_S, isolation_level=None) if writable else _open_read_only(path)
    except sqlite3.Error as e:
        raise _sqlite_error(path, e) from e
    store = Store(conn, _Dialect(), path, path)
    try:
        with store._errors():
            # Read first: a file that is not a database fails here, before anything is written to it.
            store._tables()
            conn.execute("PRAGMA foreign_keys = ON")
            if writable:
                _use_wal(conn)
        store._migrate()
    except BaseException:
        store.close()
        raise
    return store


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch a new database to WAL, as other writers may be doing at the same moment.

    The switch needs the database to itself, and SQLite refuses it at once
    ("database is locked"), without waiting its busy timeout, when another
    connection is in the middle of its own switch or first migration: so ask
    again, for as long as a write would wait.
    """
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchall()[0][0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _open_read_only(path: str) -> sqlite3.Connection:
    """A connection that reads a file we may not write.

    A WAL database is read through its -shm file, which a reader without
    write access to the directory cannot create; SQLite then refuses even to
    read.  Such a store is read as immutable: right for a file nobody writes
    (an archive, a CI artefact); while its owner writes it, the reader may miss
    the newest runs.
    """
    uri = "file:" + urllib.parse.quote(path)
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=WAIT_S, isolation_level=None)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        return conn
    except sqlite3.OperationalError as e:
        conn.close()
        if "readonly" not in str(e) and "unable to open" not in str(e):
            raise
    return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, timeout=WAIT_S, isolation_level=None)


def _open_postgres(url: str) -> Store:
    shown = _masked(url)
    try:
        import psycopg
    except ImportError as e:
        raise BenchError(f"{shown}: a PostgreSQL store needs psycopg 3 (Debian: apt-get install python3-psycopg)",
                         EXIT_STORE) from e
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=WAIT_S)
    except psycopg.Error as e:
        raise BenchError(
            f"cannot connect to the PostgreSQL store {shown}: {_first_line(e)}; check that the server runs "
            "and that the URL's host, port, database, user and password (or ~/.pgpass) are right",
            EXIT_STORE) from e
    store = Store(conn, _Postgres(), shown, None)
    try:
        store._migrate()
    except BaseException:
        store.close()
        raise
    return store
