"""Layer jobs on Ray: those the cache already holds are read on the driver, the others run as Ray
tasks of one CPU each, trial by trial, on a local Ray or an existing cluster. Beside a sweep on a
Ray started for both (`sweep run --report`), they take report slots (`SLOTS`) instead of CPUs, so
the report keeps pace with the trials rather than waiting for the last one to free its CPU."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from analysis.layers import RAW_PIXELS, LayerJob, LayerResult, run_layer
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
        self.pending: dict[Any, LayerJob] = {}  # Ray object ref -> job
        self.ready: list[LayerResult] = []  # read from the cache, not yet collected
        self._stack: contextlib.ExitStack | None = None
        self._task: Any = None

    def submit(self, jobs: list[LayerJob]) -> None:
        cached = [job for job in jobs if job.cached()]
        todo = [job for job in jobs if job not in cached]
        # Raw pixels first (every trial shows them), then trial by trial, the costliest first, each
        # trial's longest job first: a trial's section can be drawn while the next trial's jobs run.
        costs: dict[str, float] = defaultdict(float)
        for job in todo:
            costs[job.source] += job.cost()
        todo.sort(key=lambda job: (job.source != RAW_PIXELS, -costs[job.source], job.source, -job.cost()))
        self.progress.queue(cached + todo)  # in the order they run
        for job in cached:
            result = run_layer(job)
            self.progress.done(result)
            self.ready.append(result)
        if todo:
            self._start()
            for job in todo:
                self.pending[self._task.options(name=job.title).remote(job)] = job

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
        self.progress.tick()
        return done

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
        self.progress.slots = max(1, int(resources.get(SLOTS) or resources.get("CPU", 1)))

    @contextlib.contextmanager
    def running(self) -> Iterator[JobRunner]:
        with contextlib.ExitStack() as stack:
            self._stack = stack
            try:
                yield self
            finally:
                self._stack = None
                self._task = None
