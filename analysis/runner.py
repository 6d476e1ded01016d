"""Layer jobs on Ray: those the cache already holds are read on the driver, the others run as Ray
tasks of one CPU each, trial by trial, on a local Ray or an existing cluster. Beside a sweep on a
Ray started for both (`sweep run --report`), they take report slots (`SLOTS`) instead of CPUs, so
the report keeps pace with the trials rather than waiting for the last one to free its CPU; while
the trials run, `JobRunner.limit` keeps the jobs to the cores the trials leave free, and jobs that a
later look at the sweep no longer wants (a trial that left the best N) are withdrawn unstarted."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from analysis.layers import PROBES, RAW, RAW_PIXELS, LayerJob, LayerResult, run_layer
from analysis.progress import Progress

SLOTS = "report_slots"  # a custom resource of a Ray started for a sweep and its report: layer jobs at once


def _run_on_node(job: LayerJob) -> LayerResult:
    import ray

    result = run_layer(job)
    result.node = ray.get_runtime_context().get_node_id()[:12]
    return result


class JobRunner:
    """Submit jobs as they become known, collect results as they finish; Ray starts on the first
    job the cache lacks (inside `running()`), so a warm report never starts it."""

    def __init__(self, progress: Progress, address: str | None = None) -> None:
        self.progress = progress
        self.address = address
        self.limit: int | None = None  # jobs running at once at most; None: as many as Ray's slots or CPUs
        self.pending: dict[Any, LayerJob] = {}  # Ray object ref -> job
        self.queue: list[LayerJob] = []  # to compute, not yet handed to Ray
        self.ready: list[LayerResult] = []  # read from the cache, not yet collected
        self.known: set[LayerJob] = set()  # every job submitted and not withdrawn
        self._stack: contextlib.ExitStack | None = None
        self._task: Any = None
        self._slots = 1  # Ray's report slots, or CPUs

    @property
    def busy(self) -> bool:
        """Jobs are running or queued."""
        return bool(self.pending or self.queue)

    def submit(self, jobs: list[LayerJob]) -> None:
        """The jobs wanted now: those not yet known are read from the cache or queued; queued ones
        no longer wanted are withdrawn."""
        wanted = set(jobs)
        if dropped := [job for job in self.queue if job not in wanted]:
            self.queue = [job for job in self.queue if job in wanted]
            self.known -= set(dropped)
            self.progress.withdraw(dropped)
        jobs = [job for job in jobs if job not in self.known]
        self.known |= set(jobs)
        cached = [job for job in jobs if job.cached()]
        todo = [job for job in jobs if job not in cached]
        # Raw pixels first (every trial shows them), then trial by trial, the costliest first, each
        # trial's longest job first: a trial's section can be drawn while the next trial's jobs run.
        # The raw-pixel probes of a data set's further validation splits go last: they read the
        # neighbour search that its first one makes.
        costs: dict[str, float] = defaultdict(float)
        raw_probes: dict[str, list[LayerJob]] = defaultdict(list)
        for job in todo:
            costs[job.source] += job.cost()
            if job.layer == RAW and job.task == PROBES:
                raw_probes[job.dataset].append(job)
        further = {job for jobs in raw_probes.values() for job in jobs[1:]}
        todo.sort(key=lambda job: (job in further, job.source != RAW_PIXELS, -costs[job.source], job.source,
                                   -job.cost()))
        self.progress.queue(cached + todo)  # in the order they run
        for job in cached:
            result = run_layer(job)
            self.progress.done(result)
            self.ready.append(result)
        if todo:
            self._start()
            self.queue += todo
        self._top_up()

    def poll(self, timeout: float) -> list[LayerResult]:
        """Results that are in, waiting up to `timeout` seconds for a first one."""
        done, self.ready = self.ready, []
        if not done and not self.pending:
            time.sleep(timeout)
        elif self.pending:
            import ray

            refs, _ = ray.wait(list(self.pending), num_returns=1, timeout=0 if done else timeout)
            if refs:  # and every other one that is in by now
                refs, _ = ray.wait(list(self.pending), num_returns=len(self.pending), timeout=0)
            for ref in refs:
                job = self.pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the task raised, or its worker died twice
                    result = LayerResult(job, error=str(exc).strip().splitlines()[-1][:300])
                self.progress.done(result)
                done.append(result)
        self._top_up()
        self.progress.tick()
        return done

    def _top_up(self) -> None:
        """Hand queued jobs to Ray, up to `limit` running."""
        self.progress.slots = min(self.limit or self._slots, self._slots)
        while self.queue and (self.limit is None or len(self.pending) < self.limit):
            job = self.queue.pop(0)
            self.pending[self._task.options(name=job.title).remote(job)] = job

    def _start(self) -> None:
        if self._task is not None:
            return
        import ray

        from sweep.cluster import connected

        assert self._stack is not None, "JobRunner.submit outside `with runner.running()`"
        self._stack.enter_context(connected(self.address))
        resources = ray.cluster_resources()
        slots = {"num_cpus": 0, "resources": {SLOTS: 1}} if resources.get(SLOTS) else {"num_cpus": 1}
        self._task = ray.remote(max_retries=2, **slots)(_run_on_node)
        self._slots = max(1, int(resources.get(SLOTS) or resources.get("CPU", 1)))

    @contextlib.contextmanager
    def running(self) -> Iterator[JobRunner]:
        with contextlib.ExitStack() as stack:
            self._stack = stack
            try:
                yield self
            finally:
                self._stack = None
                self._task = None
