"""Sweeps on object storage: `--results s3://bucket/prefix`, or any URI pyarrow and Ray Tune accept.

On storage a sweep keeps the layout of `sweep.folder`, but for its trials: a trial's folder is
the latest whole checkpoint Ray Tune uploaded for it, `ray/<trial_id>/checkpoint_<n>/` (one per
report: after each epoch `params.json`, `metrics.json` and `history.csv`; at the end every
artifact). A checkpoint is whole once its `metrics.json` is there and, for a completed trial, every
artifact that file lists, with its size and digest: a reader never takes a half-uploaded trial for
complete, whatever order the files arrive in.

Each machine works in a local mirror of the sweep, `<cache>/<scheme>/<bucket>/<prefix>/<name>/`
(cache: $MLP_SWEEP_CACHE, default ~/.cache/mlp-sweep), laid out as a local sweep folder: the
driver writes its files there and pushes them; a trial reads and fits reductions there; `fetch`
brings a report what it reads, downloading only what changed since the last fetch.

Credentials and endpoints come from the environment, as pyarrow reads them (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, ...); a URI that holds credentials
is refused, so none reach a log, the sweep's record or the report.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sweep.artifacts import atomic, digest
from sweep.errors import SweepError
from sweep.folder import COMPLETED, SweepFolder, TrialFolder

CACHE_ENV = "MLP_SWEEP_CACHE"
CHECKPOINT = re.compile(r"checkpoint_(\d+)$")
REPORT_SKIPS = (TrialFolder.model.name,)  # a trial's files a report does not read
RECORDS_ONLY = (*REPORT_SKIPS, TrialFolder.activations.name, TrialFolder.confusion.name)  # nor a sweep's summary
SOURCE = ".checkpoint"  # in a mirrored trial folder: which checkpoint it holds


def is_uri(place: str | Path) -> bool:
    """Whether `--results` (or a report's sweep) names object storage rather than a local folder."""
    return "://" in str(place)


def mirrored(folder: SweepFolder) -> str | None:
    """The URI of the sweep `folder` mirrors; None for a sweep folder of its own."""
    results = str(folder.read_record().get("results", ""))
    return f"{results.rstrip('/')}/{folder.name}" if is_uri(results) else None


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mlp-sweep")


class Storage:
    """A sweep at `uri` (`<results>/<name>`) and this machine's mirror of it.

    Besides its URI it keeps what one process learns while using it: the file system, opened on
    first use, and what it uploaded (each file's size and modification time then, and the folders
    it made), so that an unchanged file is not uploaded twice. None of that travels: a copy made by
    pickling (Ray's saved state, a task on another node) starts from the URI alone."""

    def __init__(self, uri: str) -> None:
        parts = urlsplit(uri)
        if parts.username or parts.password:
            raise SweepError(f"{parts.scheme}://...@{parts.hostname}{parts.path}: credentials in the URI would be "
                             f"written to logs and records; drop them and set AWS_ACCESS_KEY_ID and "
                             f"AWS_SECRET_ACCESS_KEY (or your storage's own variables) instead")
        self.uri = uri.rstrip("/")
        self._pushed: dict[Path, tuple[int, int]] = {}
        self._made: set[str] = set()

    def __repr__(self) -> str:
        return f"Storage({self.uri!r})"

    def __getstate__(self) -> dict[str, str]:
        return {"uri": self.uri}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["uri"])

    @cached_property
    def _fs(self) -> tuple[Any, str]:
        import pyarrow.fs

        try:
            return pyarrow.fs.FileSystem.from_uri(self.uri)
        except (pyarrow.ArrowInvalid, OSError) as exc:
            raise SweepError(f"{self.uri}: not a storage URI pyarrow can open ({exc}); "
                             f"use s3://bucket/prefix, gs://bucket/prefix or a local folder") from None

    @property
    def fs(self) -> Any:
        return self._fs[0]

    @property
    def root(self) -> str:
        """The sweep's path on `fs` (the URI without its scheme)."""
        return self._fs[1].rstrip("/")

    @property
    def ray_uri(self) -> str:
        """Where Ray Tune keeps the experiment: its state and the trials' checkpoints."""
        return f"{self.uri}/{SweepFolder.ray.name}"

    @cached_property
    def mirror(self) -> SweepFolder:
        parts = urlsplit(self.uri)
        return SweepFolder(cache_root() / parts.scheme / (parts.netloc or "_") / parts.path.strip("/"))

    def _key(self, local: Path) -> str:
        return f"{self.root}/{local.relative_to(self.mirror.path).as_posix()}"

    def check(self) -> None:
        """Reach the storage now, before Ray starts: a missing bucket or a refused key is one line."""
        import pyarrow.fs

        bucket = self.root.split("/", 1)[0]
        try:
            self.fs.get_file_info(self.root)
            missing = self.fs.type_name in ("s3", "gcs") and \
                self.fs.get_file_info(bucket).type == pyarrow.fs.FileType.NotFound
        except OSError as exc:
            raise SweepError(f"{self.uri}: storage refused or unreachable ({_first_line(exc)}); check AWS_ENDPOINT_URL "
                             f"and the credentials in the environment") from None
        if missing:
            raise SweepError(f"{self.uri}: bucket {bucket!r} not found; create it first (e.g. `aws s3 mb s3://{bucket}`)")

    def exists(self) -> bool:
        """Whether a sweep has been started here (its record is on the storage)."""
        import pyarrow.fs

        return self.fs.get_file_info(self._key(self.mirror.record)).type == pyarrow.fs.FileType.File

    def push(self, *paths: Path) -> None:
        """Upload files of the mirror, or every file in its folders, to the same names on the
        storage; a file this object uploaded before and that has not changed since is skipped."""
        for path in paths:
            for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
                if not file.is_file():
                    continue
                stamp = (file.stat().st_size, file.stat().st_mtime_ns)
                if self._pushed.get(file) != stamp:
                    self._upload(file)
                    self._pushed[file] = stamp

    def _upload(self, path: Path) -> None:
        key = self._key(path)
        if (parent := key.rsplit("/", 1)[0]) not in self._made:
            self.fs.create_dir(parent)  # a local or mounted file system needs it; S3 does not mind
            self._made.add(parent)
        with self.fs.open_output_stream(key) as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out, length=1 << 22)  # an object appears whole when its stream closes

    def pull(self, *paths: Path) -> bool:
        """Download these mirror paths (files, or folders with all they hold) that exist on the storage;
        whether any did."""
        found = False
        for path in paths:
            for rel, info in self._listing(self._key(path)).items():
                self._download(f"{self.root}/{rel}", self.mirror.path / rel, info)
                found = True
        return found

    def _listing(self, key: str) -> dict[str, Any]:
        """Files at or below `key`, by their path relative to the sweep."""
        import pyarrow.fs

        info = self.fs.get_file_info(key)
        if info.type == pyarrow.fs.FileType.File:
            infos = [info]
        elif info.type == pyarrow.fs.FileType.Directory:
            infos = self.fs.get_file_info(pyarrow.fs.FileSelector(key, recursive=True))
        else:
            return {}
        return {i.path[len(self.root) + 1:]: i for i in infos if i.type == pyarrow.fs.FileType.File}

    def _download(self, key: str, path: Path, info: Any) -> None:
        """Copy one object to `path` unless the mirror holds it already (same size and time) or a
        newer copy (written on this machine, by the driver, after that upload)."""
        stamp = int(info.mtime.timestamp()) if info.mtime else 0
        if path.is_file():
            mine = path.stat()
            if int(mine.st_mtime) > stamp or mine.st_size == info.size and int(mine.st_mtime) == stamp:
                return
        with atomic(path) as tmp:
            with self.fs.open_input_stream(key) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, length=1 << 22)
            if stamp:
                os.utime(tmp, (stamp, stamp))

    def fetch(self, skip: tuple[str, ...] = REPORT_SKIPS) -> SweepFolder:
        """Bring the mirror up to date for reading: the driver's files, the reductions, and each
        trial's latest whole checkpoint as `trials/<id>/` (without the files named in `skip`)."""
        with self._fetching():
            files = self._listing(self.root)
            for rel, info in files.items():
                if rel.split("/", 1)[0] not in (self.mirror.ray.name, self.mirror.trials_dir.name,
                                                self.mirror.report.name, self.mirror.xla_cache.name):
                    self._download(f"{self.root}/{rel}", self.mirror.path / rel, info)
            for trial_id, numbered in _checkpoints(files).items():
                self._take_latest(trial_id, numbered, skip)
        return self.mirror

    def fetch_trial(self, trial_id: str) -> TrialFolder | None:
        """One trial's latest whole checkpoint, every file of it, in the mirror; None if it has none."""
        with self._fetching():
            numbered = _checkpoints(self._listing(f"{self.ray_root}/{trial_id}")).get(trial_id, {})
            return self.mirror.trial(trial_id) if self._take_latest(trial_id, numbered, ()) else None

    @contextlib.contextmanager
    def _fetching(self) -> Iterator[None]:
        """One fetch at a time per mirror (a lock file): a report, a driver and trials may share one."""
        self.mirror.path.mkdir(parents=True, exist_ok=True)
        with open(self.mirror.path / ".fetch.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _take_latest(self, trial_id: str, numbered: dict[int, dict[str, Any]], skip: tuple[str, ...]) -> bool:
        return any(self._take(trial_id, number, numbered[number], skip) for number in sorted(numbered, reverse=True))

    def _take(self, trial_id: str, number: int, files: dict[str, Any], skip: tuple[str, ...]) -> bool:
        """Make checkpoint `number` the mirror's `trials/<trial_id>/` if it is whole; whether it was.

        The checkpoint is staged beside the trial's folder (files the mirror holds already are
        linked, not downloaded), checked, then renamed into place: a reader of the mirror never
        sees a half-fetched trial."""
        if not {TrialFolder.params.name, TrialFolder.metrics.name} <= files.keys():
            return False
        folder = self.mirror.trial(trial_id)
        metrics = files[TrialFolder.metrics.name]
        source = f"{number} {metrics.size} {metrics.mtime} {sorted(skip)}"
        if (folder.path / SOURCE).is_file() and (folder.path / SOURCE).read_text() == source:
            return True  # the mirror holds this checkpoint already
        staged = TrialFolder(folder.path.with_name(f".{trial_id}.fetch"))
        shutil.rmtree(staged.path, ignore_errors=True)
        staged.path.mkdir(parents=True)
        prefix = f"{self.ray_root}/{trial_id}/checkpoint_{number:06d}"
        for name, info in files.items():
            if name not in skip:
                if (folder.path / name).is_file():
                    os.link(folder.path / name, staged.path / name)  # kept if unchanged, else replaced
                self._download(f"{prefix}/{name}", staged.path / name, info)
        metrics = staged.read_metrics()
        artifacts = metrics.get("artifacts", {}) if metrics.get("status") == COMPLETED else {}
        if not all(name in skip or (staged.path / name).is_file() and digest(staged.path / name) == expected
                   for name, expected in artifacts.items()):
            shutil.rmtree(staged.path)
            return False  # still uploading
        (staged.path / SOURCE).write_text(source)
        shutil.rmtree(folder.path, ignore_errors=True)
        staged.path.replace(folder.path)
        return True

    def following(self, ended: Callable[[], bool]) -> Callable[[], bool]:
        """`ended` asked after a fetch: for a report that keeps up with a running sweep."""
        def fetched_then_ended() -> bool:
            self.fetch()
            return ended()

        return fetched_then_ended

    @property
    def ray_root(self) -> str:
        return f"{self.root}/{self.mirror.ray.name}"

    def trial_metrics(self, trial_id: str) -> dict[str, Any]:
        """The metrics of a trial's latest checkpoint on the storage ({} before its first report)."""
        numbered = _checkpoints(self._listing(f"{self.ray_root}/{trial_id}")).get(trial_id, {})
        if not numbered:
            return {}
        latest = f"{self.ray_root}/{trial_id}/checkpoint_{max(numbered):06d}"
        return read_json_at(self.fs, f"{latest}/{TrialFolder.metrics.name}")


def _checkpoints(files: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """trial id -> checkpoint number -> file name -> its info, from a listing of the sweep."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for rel, info in files.items():
        parts = rel.split("/")
        if len(parts) == 4 and parts[0] == SweepFolder.ray.name and (number := CHECKPOINT.match(parts[2])):
            found.setdefault(parts[1], {}).setdefault(int(number[1]), {})[parts[3]] = info
    return found


def read_json_at(fs: Any, key: str) -> dict[str, Any]:
    """A JSON record at `key` on the file system `fs`; {} if it is not there."""
    import json

    try:
        with fs.open_input_stream(key) as src:
            return json.loads(src.read())
    except FileNotFoundError:
        return {}


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

