"""Watching a chunked job commit: what another connection sees after each chunk, and a worker stopped at a chunk.

Jobs that write many rows commit each chunk through JobContext.commit (app.jobs); these wrap it for the tests of
every such job (the reminder round, the stale-fault expiry, the leads tick)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.jobs import JobContext


def watch_commits(monkeypatch: pytest.MonkeyPatch, read: Callable[[], object]) -> list:
    """After each chunk's real commit, append `read()` (another connection's view) to the returned list."""
    seen: list = []
    real_commit = JobContext.commit

    def commit(context: JobContext) -> None:
        real_commit(context)
        seen.append(read())

    monkeypatch.setattr(JobContext, "commit", commit)
    return seen


def stop_at_commit(monkeypatch: pytest.MonkeyPatch, number: int) -> Callable[[], None]:
    """Make the worker stop right after the `number`th chunk's commit; return what puts the real commit back."""
    real_commit = JobContext.commit
    commits: list[int] = []

    def commit_then_stop(context: JobContext) -> None:
        real_commit(context)
        commits.append(1)
        if len(commits) == number:
            raise RuntimeError("worker stopped")

    monkeypatch.setattr(JobContext, "commit", commit_then_stop)
    return lambda: monkeypatch.setattr(JobContext, "commit", real_commit)
