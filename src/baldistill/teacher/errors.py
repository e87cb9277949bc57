"""Why a run cannot buy from its teacher now. The engine and the Batch API runner raise these; the command line
turns them into exit code 3 with the command that resumes the run."""

from __future__ import annotations


class TeacherError(RuntimeError):
    """The run cannot buy from its teacher now: a reply retrying cannot fix (bad key, unknown model, bad
    request), or the teacher is unavailable. Nothing paid is lost; the stage is not recorded done."""


class TeacherUnavailable(TeacherError):
    """A request used up its retries on refused connections or unknown outcomes: the server is gone."""


class BatchCancelled(TeacherError):
    """A batch of this run was cancelled outside it (``baldistill batch cancel``, or on the server)."""
