"""The data files of a run, read, validated and cleaned before anything is written or paid: the pool
without repeats (``data.dedupe``), and pool and reserve inputs that are also test inputs handled by
``data.test_overlap``. No torch: ``estimate``, ``check`` and ``evaluate`` read the same pool as the run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..core import hygiene
from ..data import DataError, Example, load_examples


@dataclass
class Inputs:
    pool: list[Example]
    test: list[Example]
    reserve: list[Example]
    report: hygiene.HygieneReport = field(default_factory=hygiene.HygieneReport)
    val: list[Example] = field(default_factory=list)

    @classmethod
    def load(cls, cfg) -> Inputs:
        """Read the files named by ``cfg.data`` (a RunConfig's) and apply its hygiene rules. Raises
        DataError naming file, line and setting."""
        d = cfg.data
        for key in ("train", "test", "val", "reserve"):
            p = getattr(d, key)
            if p is not None and not p.exists():
                raise DataError(f"data.{key}: file not found: {p}")
        pool = load_examples(d.train, d.fields, "train")
        test = load_examples(d.test, d.fields, "test")
        reserve = load_examples(d.reserve, d.fields, "reserve") if d.reserve else []
        val = load_examples(d.val, d.fields, "val") if d.val else []
        return cls.clean(cfg, pool, test, reserve, val)

    @classmethod
    def clean(
        cls, cfg, pool: list[Example], test: list[Example], reserve: list[Example], val: list[Example] | None = None
    ) -> Inputs:
        """Repeats dropped (data.dedupe); pool and reserve inputs that are also test or validation inputs
        handled by data.test_overlap (both are held out)."""
        d, val = cfg.data, val or []
        rep = hygiene.inspect(pool, test, reserve, val)
        rep.dedupe = d.dedupe
        if rep.repeats_dropped:
            dropped = {id(e) for e, _ in hygiene.repeats(pool)}
            pool = [e for e in pool if id(e) not in dropped]
        shared = hygiene.shared_inputs(pool, test + val)
        shared_reserve = hygiene.shared_inputs(reserve, test + val)
        rep.overlap_action = d.test_overlap
        if shared or shared_reserve:
            if d.test_overlap == "error":
                first = (shared or shared_reserve)[0]
                where = d.train if shared else d.reserve
                held = f"the test file {d.test}" + (f" or the validation file {d.val}" if val else "")
                raise DataError(
                    f"{where}:{first.line}: input also in {held} ({len(shared)} pool and {len(shared_reserve)} "
                    "reserve inputs are held-out inputs); set data.test_overlap: drop to remove them, or allow to "
                    "keep them"
                )
            if d.test_overlap == "drop":
                gone = {id(e) for e in shared + shared_reserve}
                pool = [e for e in pool if id(e) not in gone]
                reserve = [e for e in reserve if id(e) not in gone]
        rep.pool_after = len(pool)
        if not pool:
            raise DataError(f"{d.train}: no examples left after data.dedupe and data.test_overlap")
        return cls(pool, test, reserve, rep, val)

    def problems(self, cfg) -> list[tuple[str, str]]:
        """Data that loads but cannot serve this config: (setting or file, message) per problem."""
        from ..core.methods import METHODS
        from ..core.plan import plan_run
        from ..data import domain_counts

        d, out = cfg.data, []
        sizes = domain_counts(self.pool)
        for name, path, held in (("test", d.test, self.test), ("validation", d.val, self.val)):
            missing = sorted(set(e.domain for e in held) - set(sizes))
            if missing:
                out.append(
                    (
                        str(path),
                        f"{name} domain(s) {', '.join(map(repr, missing[:5]))}"
                        f"{' and more' if len(missing) > 5 else ''} not in the training pool {d.train}",
                    )
                )
            if d.task == "classification":
                unknown = sorted({e.answer for e in held} - {e.answer for e in self.pool})
                if unknown:
                    out.append(
                        (
                            str(path),
                            f"{name} label(s) {', '.join(map(repr, unknown[:5]))}"
                            f"{' and more' if len(unknown) > 5 else ''} never occur in the training pool "
                            f"{d.train} (data.task: classification predicts only pool labels)",
                        )
                    )
        method = METHODS[cfg.method]
        if method.train and method.policy == "global" and cfg.budget > len(self.pool):
            out.append(
                (
                    "budget",
                    f"B = {cfg.budget} is larger than the pool ({len(self.pool)} examples"
                    f"{' after removing repeats' if self.report.repeats_dropped else ''}): "
                    f"{cfg.method} picks from the pool and would spend only {len(self.pool)}",
                )
            )
        if method.synthesize and cfg.teacher.kind == "reference" and method.train:
            needed = Counter()
            for p in plan_run(method, sizes, cfg.budget, cfg.effective_stages):
                needed.update(p.synthesize)
            if needed and not d.reserve:
                out.append(
                    (
                        "data.reserve",
                        f"{cfg.method} with the reference teacher synthesizes "
                        f"{sum(needed.values())} tail example(s) from a reserve file; set "
                        "data.reserve (or use teacher.kind: openai)",
                    )
                )
        return out

    def warnings(self, cfg) -> list[tuple[str, str]]:
        """What will not stop the run but a user should know: a reserve too small for the plan (the run
        records the shortfall when it runs out), repeats kept, overlap kept."""
        from ..core.methods import METHODS
        from ..core.plan import plan_run
        from ..data import domain_counts

        out = []
        method = METHODS[cfg.method]
        rep = self.report
        if rep.n_repeats:
            what = (
                "dropped (data.dedupe)"
                if rep.repeats_dropped
                else "kept (data.dedupe: false): each is a unit of its own"
            )
            out.append(("data.train", f"{rep.n_repeats} pool row(s) repeat an earlier (domain, input, answer); {what}"))
        shared = sum(n for k, n in rep.overlap.items() if k.endswith(("/test", "/val")))
        if shared and cfg.data.test_overlap != "error":
            out.append(
                (
                    "data.test_overlap",
                    f"{shared} pool/reserve input(s) are also test or validation inputs; "
                    f"{'removed' if cfg.data.test_overlap == 'drop' else 'kept'}",
                )
            )
        if method.synthesize and method.train and cfg.teacher.kind == "reference" and self.reserve:
            needed = Counter()
            for p in plan_run(method, domain_counts(self.pool), cfg.budget, cfg.effective_stages):
                needed.update(p.synthesize)
            have = Counter(e.domain for e in self.reserve)
            short = {dm: n - have[dm] for dm, n in needed.items() if n > have[dm]}
            if short:
                out.append(
                    (
                        "data.reserve",
                        "the reserve is smaller than the plan's synthesis for "
                        + ", ".join(f"{dm} (needs {needed[dm]}, has {have[dm]})" for dm in sorted(short))
                        + "; the run records the shortfall",
                    )
                )
        return out
