"""Pre-flight: everything a run needs, checked before its folder is created, a model's weights are read or
anything is paid. ``run`` stops at the first error (one line, exit 2, nothing written); ``baldistill check``
lists every finding; ``compare`` checks every cell before the first one starts.

In order: the output folder (and, resuming, the saved config), the data files (format, fields, ids,
repeats, test overlap, test domains and labels the pool lacks, the reserve the plan needs, a budget the
pool cannot absorb), the config's consistency, the prompt files, the teacher (its key variable; an HTTP
teacher gets one cheap probe, ``GET /models``, and with ``teacher.batch`` one ``GET /files``), and the student
(alias installed, folder or hub cache, safe weight files, config, tokenizer and chat template; its weights are not
read here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError, RunConfig, changed_fields, load_config
from ..core.methods import METHODS
from ..data import DataError
from ..runtime import dist
from .inputs import Inputs
from .runfolder import RunFolder, RunFolderError

# how the teacher is reached, not what it is asked: these may change when a stopped run is resumed
TRANSPORT = {
    f"teacher.{k}"
    for k in (
        "base_url",
        "timeout",
        "max_retries",
        "backoff",
        "backoff_max",
        "concurrency",
        "api_key_env",
        "batch_poll",
        "batch_poll_max",
    )
}
# where the run reports, not what it does: may change too
TRANSPORT |= {"student.train.report_to"}


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning
    where: str  # the setting, file or option it is about
    message: str

    def line(self) -> str:
        """The one line a user reads: the message, led by the setting or file it is about."""
        return self.message if self.message.startswith(self.where) else f"{self.where}: {self.message}"

    def to_json(self) -> dict:
        return {"level": self.level, "where": self.where, "message": self.line()}


@dataclass
class Preflight:
    findings: list[Finding] = field(default_factory=list)
    inputs: Inputs | None = None
    backend: object | None = None  # the teacher backend, built once and handed to the run

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, where: str, message: str) -> None:
        self.findings.append(Finding("error", where, message))

    def warn(self, where: str, message: str) -> None:
        self.findings.append(Finding("warning", where, message))

    def raise_first(self) -> None:
        """Stop with the first error, in one line (the others are counted: ``baldistill check`` lists them)."""
        if self.errors:
            more = len(self.errors) - 1
            raise ConfigError(
                self.errors[0].line()
                + (f" (and {more} more problem(s): `baldistill check` lists them)" if more else "")
            )


def preflight(
    cfg: RunConfig,
    out: Path | None = None,
    resume: bool = False,
    *,
    probe: bool = True,
    student: bool = True,
    memo: dict | None = None,
) -> Preflight:
    """Check ``cfg`` (and the run folder ``out``) without writing, loading weights or paying anything.
    ``memo`` lets a comparison probe each teacher and check each student once."""
    pf = Preflight()
    memo = {} if memo is None else memo
    if out is not None:
        _check_folder(pf, cfg, Path(out), resume)
    _check_data(pf, cfg)
    _check_config(pf, cfg)
    method = METHODS[cfg.method]
    if method.rationale and method.train:
        _check_teacher(pf, cfg, probe, memo)
    if student:
        key = ("student", cfg.student.model, cfg.student.trust_remote_code, cfg.student.allow_pickle_weights)
        if key not in memo:
            memo[key] = _check_student(cfg)
        if memo[key]:
            pf.error("student.model", memo[key])
    return pf


def _check_folder(pf: Preflight, cfg: RunConfig, out: Path, resume: bool) -> None:
    if out.exists() and not out.is_dir():
        return pf.error("--out", f"{out} is a file; give a folder for the run")
    try:
        RunFolder.check(out, resume)
    except RunFolderError as e:
        return pf.error("--out", str(e))
    if resume:
        saved = out / "config.yaml"
        try:
            old = load_config(saved)
        except ConfigError as e:
            return pf.error("--resume", f"--resume: the saved config cannot be read: {e}")
        changed = [f for f in changed_fields(old, cfg) if f not in TRANSPORT]
        if changed:
            pf.error(
                "--resume",
                f"--resume with a different config than {saved}: {', '.join(changed)} changed; resume "
                "with the same settings or start a new --out",
            )


def _check_data(pf: Preflight, cfg: RunConfig) -> None:
    try:
        pf.inputs = Inputs.load(cfg)
    except DataError as e:  # the message leads with the file (and line)
        return pf.error("", str(e))
    for where, msg in pf.inputs.problems(cfg):
        pf.error(where, msg)
    for where, msg in pf.inputs.warnings(cfg):
        pf.warn(where, msg)


def _check_config(pf: Preflight, cfg: RunConfig) -> None:
    """Settings that validate one by one but do not make sense together."""
    method, t = METHODS[cfg.method], cfg.teacher
    for note in cfg._notes:
        pf.warn(note.split(":", 1)[0], note)
    if t.fresh_samples and t.temperature == 0:
        pf.warn(
            "teacher.fresh_samples",
            "with teacher.temperature 0 a new sample repeats the first one; set a temperature above 0",
        )
    looks = method.selector == "error" or method.policy == "feedback"
    if cfg.selection.response == "reference" and looks and method.multi_stage:
        pf.error(
            "selection.response",
            f"selection.response: {cfg.method} judges the student's own answers; reference gives it the gold "
            "text to judge; use generated",
        )
    elif cfg.selection.response == "reference" and method.selector == "ifd":
        pf.warn(
            "selection.response",
            "reference: IFD reads reference text the budget did not pay for; never use it to compare methods",
        )
    from .tracking import missing

    for name in missing(cfg.student.train.report_to):
        pf.error(
            "student.train.report_to",
            f"student.train.report_to: {name} is not installed (pip install {name}), or leave it out",
        )
    if t.kind == "reference" and (t.max_dollars or t.price.input_per_mtok or t.price.output_per_mtok):
        pf.warn("teacher.price", "the reference teacher costs nothing; prices and dollar caps apply to kind: openai")
    n, bs = dist.world_size(), cfg.student.train.batch_size
    if method.train and bs % n:
        pf.error(
            "student.train.batch_size",
            f"student.train.batch_size: {bs} is not divisible by the {n} processes (the batch is the global one, "
            f"split over them); use a multiple of {n}, e.g. {n * -(-bs // n)}",
        )


def _check_teacher(pf: Preflight, cfg: RunConfig, probe: bool, memo: dict) -> None:
    from ..teacher import RequestBuilder, make_backend

    try:
        RequestBuilder(cfg.teacher, cfg.data.instruction, cfg.seed)  # the prompt files
    except ConfigError as e:
        pf.error("teacher", str(e))
    try:
        pf.backend = make_backend(cfg.teacher, pf.inputs.reserve if pf.inputs else [], cfg.seed)  # the key variable
    except ConfigError as e:
        return pf.error("teacher.api_key_env", str(e))
    if not probe:
        return
    t = cfg.teacher
    key = ("teacher", t.kind, t.base_url, t.model, t.api_key_env)
    if key not in memo:
        memo[key] = pf.backend.probe(min(t.timeout, 10.0))
    if memo[key]:
        level, msg = memo[key]
        (pf.error if level == "error" else pf.warn)(msg.split(":", 1)[0], msg)
        if level == "error":
            return
    if t.batch and hasattr(pf.backend, "probe_batch"):  # the Batch API's files, before anything is reserved
        key = ("batch", t.base_url, t.api_key_env)
        if key not in memo:
            memo[key] = pf.backend.probe_batch(min(t.timeout, 10.0))
        if memo[key]:
            level, msg = memo[key]
            (pf.error if level == "error" else pf.warn)("teacher.batch", msg)


def _check_student(cfg: RunConfig) -> str | None:
    from ..student.assets import check_student

    try:
        check_student(cfg.student)
    except ConfigError as e:
        return str(e)
    return None
