"""Multi-stage balanced distillation, read top to bottom like the paper's pseudo-code:

    for stage i = 0..K-1:
        allocate   quotas per domain (balancing policy)
        select     head examples: random at stage 0, top-IFD by the current student after
        synthesize tail deficits with the teacher
        annotate   the selected real examples with teacher rationales (gold answer given)
        check      answers; drop rationales that disagree with the gold
        train      the student on everything selected so far
        record     the stage in the run folder
    evaluate the final student per domain, head and tail apart
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import dist, policies
from .config import RunConfig
from .data import Example, domain_counts, load_examples, read_jsonl
from .evaluate import Evaluator, limit_per_domain
from .ifd import select_top
from .ledger import Caps, Ledger
from .methods import METHODS, Method
from .progress import bar
from .runfolder import RunFolder
from .teacher import TeacherClient, make_backend

log = logging.getLogger("baldistill")


@dataclass
class State:
    """What carries from one stage to the next (and what --resume restores)."""
    remaining: dict[str, list[str]]  # unselected real example ids per domain, in pool order
    train: list[Example] = field(default_factory=list)  # everything selected and kept so far
    synth_asked: dict[str, int] = field(default_factory=dict)  # synthesis calls so far per domain (sample index)
    copies: dict[str, int] = field(default_factory=dict)  # duplicate-ft-cot: paid copies so far per real example


def allocate(method: Method, pool_sizes: dict[str, int], budget: int, stages: int) -> list[dict[str, int]]:
    """Per-stage quotas. Global methods get one stage-wide number under the key '*'."""
    if method.policy == "global":
        return [{"*": s} for s in policies.stage_shares(budget, stages)]
    return policies.quotas(method.policy, pool_sizes, budget, stages)


class Distiller:
    def __init__(self, cfg: RunConfig, folder: RunFolder, student=None, backend=None):
        self.cfg, self.folder = cfg, folder
        self.method = METHODS[cfg.method]
        fields = cfg.data.fields
        self.pool = load_examples(cfg.data.train, fields, "train")
        self.test = load_examples(cfg.data.test, fields, "test")
        self.reserve = load_examples(cfg.data.reserve, fields, "reserve") if cfg.data.reserve else []
        self.by_id = {e.id: e for e in self.pool}
        self.pool_sizes = domain_counts(self.pool)
        self.domains = list(self.pool_sizes)
        self.labels = sorted({e.answer for e in self.pool}) if cfg.data.task == "classification" else None
        self.stages = cfg.effective_stages
        self.plan = allocate(self.method, self.pool_sizes, cfg.budget, self.stages) if self.method.train else []
        t = cfg.teacher
        caps = Caps(cfg.budget, t.max_total_tokens, t.max_dollars, t.price.input_per_mtok, t.price.output_per_mtok)
        self.ledger = Ledger(caps, folder.path / "ledger.sqlite" if dist.is_main() else None)
        self._student, self._backend, self._teacher = student, backend, None

    # heavy parts are built on first use, so a zero-cost step never loads a model
    @property
    def student(self):
        if self._student is None:
            from .student import Student
            self._student = Student(self.cfg.student, self.cfg.data.instruction, self.cfg.seed)
        return self._student

    @property
    def teacher(self) -> TeacherClient:
        if self._teacher is None:
            t = self.cfg.teacher
            backend = self._backend or make_backend(t, self.reserve, self.cfg.seed)
            cache = None
            if t.kind != "reference" or t.cache:  # the simulation costs nothing: cache only when asked
                from .cache import ReplyCache
                cache = ReplyCache(t.cache or self.folder.path / "teacher_cache.sqlite")
            self._teacher = TeacherClient(backend, t, self.ledger, cache, self.cfg.data.instruction, self.labels,
                                          self.cfg.seed)
        return self._teacher

    # ---------------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> dict:
        t0 = time.time()
        state, start = State(remaining={d: [e.id for e in self.pool if e.domain == d] for d in self.domains}), 0
        if resume:
            state, start = self.restore(state)
        log.info("method %s: %s", self.method.name, self.method.summary)
        log.info("budget B=%d over K=%d stage(s); %d domains, pool %d", self.cfg.budget, self.stages,
                 len(self.domains), len(self.pool))
        if self.method.train:
            for i in range(start, self.stages):
                self.stage(i, state)
        return self.finish(state, t0)

    def stage(self, i: int, state: State) -> None:
        new = dist.on_main(lambda: self.choose(i, state))  # select, synthesize, annotate, check
        state.train.extend(new)
        self.folder.write_jsonl(f"stages/{i}/train.jsonl", state.train)
        fresh = self.cfg.student.train.fresh_adapter_each_stage
        if fresh:
            self.student.new_adapter(self.cfg.seed + i)
        data = state.train if fresh else new
        stats = self.student.fit([(e.input, self.target(e)) for e in data], seed=self.cfg.seed + i,
                                 desc=f"stage {i + 1}/{self.stages}: training on {len(data)}") if data else {}
        if dist.is_main():
            self.student.save_adapter(self.folder.path / f"stages/{i}/adapter")
            n = self.cfg.eval_each_stage
            if n and i < self.stages - 1:  # the last stage gets the full final evaluation
                test = limit_per_domain(self.test, n, self.cfg.seed)
                summary, _ = self.evaluator().evaluate(self.student, test, desc=f"stage {i + 1}: evaluating on {len(test)}")
                self.folder.write_json(f"stages/{i}/eval.json", {"stage": i, "n_test": len(test), **summary})
        self.folder.write_json(f"stages/{i}/done.json", {
            "stage": i, "kept_new": len(new), "n_train": len(state.train), "spent": self.ledger.spent,
            "training": stats, "remaining": state.remaining, "synth_asked": state.synth_asked,
            "copies": state.copies})

    def choose(self, i: int, state: State) -> list[Example]:
        """This stage's new training examples: allocate, select, synthesize, annotate, check."""
        rng = random.Random(f"{self.cfg.seed}/stage/{i}")
        quota = self.plan[i]
        remaining = {d: len(state.remaining[d]) for d in self.domains}
        head, tail = policies.tail_split(quota, remaining) if "*" not in quota else (self.domains, [])
        log.info("stage %d/%d: quota %s; tail %s", i + 1, self.stages, quota, tail or "none")
        self.folder.write_json(f"stages/{i}/quota.json", {"stage": i, "quota": quota, "head": head, "tail": tail,
                                                           "remaining_before": remaining})
        deficits = {d: quota[d] - remaining[d] for d in tail}
        selected, scored = self.select(i, quota, state, rng)
        synthetic = self.synthesize(i, deficits, state, rng) if self.method.synthesize else []
        copies = self.duplicates(deficits, state, rng) if self.method.duplicate else []
        self.folder.write_jsonl(f"stages/{i}/selected.jsonl", selected + copies)
        self.folder.write_jsonl(f"stages/{i}/synthetic.jsonl", synthetic)
        self.folder.write_jsonl(f"stages/{i}/ifd.jsonl", scored)
        return self.annotate(i, selected + copies) + synthetic

    def target(self, e: Example) -> str:
        """What the student learns to write: the teacher rationale, or the label alone (random-ft)."""
        if self.method.rationale and e.rationale:
            return e.rationale
        return f"The answer is {e.answer}."

    # ---- select ----------------------------------------------------------------------------
    def select(self, i: int, quota: dict[str, int], state: State, rng: random.Random) -> tuple[list[Example], list[dict]]:
        use_ifd = i > 0 and self.method.selector == "ifd"
        if "*" in quota:  # global: one ranking over all domains
            pool = [x for d in self.domains for x in state.remaining[d]]
            k = min(quota["*"], len(pool))
            if not use_ifd:
                picked = rng.sample(pool, k)
                scored = []
            else:
                cands = [x for d in self.domains for x in self.candidates(state.remaining[d], rng)]
                scored = self.score(i, cands)
                top = select_top([s["ifd"] for s in scored], k, self.cfg.selection.drop_ifd_ge_1)
                picked = [scored[j]["id"] for j in top]
                if len(picked) < k:  # the candidate cap left too few: fill at random
                    rest = sorted(set(pool) - set(picked))
                    picked += rng.sample(rest, k - len(picked))
        else:  # per domain, each under its own quota
            takes = {d: min(quota[d], len(state.remaining[d])) for d in self.domains}
            picked, scored = [], []
            to_score = {d: self.candidates(state.remaining[d], rng, takes[d]) for d in self.domains
                        if use_ifd and 0 < takes[d] < len(state.remaining[d])}
            all_scored = self.score(i, [x for c in to_score.values() for x in c]) if to_score else []
            scored = all_scored
            for d in self.domains:
                if takes[d] == 0:
                    continue
                if d in to_score:
                    mine = [s for s in all_scored if s["domain"] == d]
                    top = select_top([s["ifd"] for s in mine], takes[d], self.cfg.selection.drop_ifd_ge_1)
                    picked += [mine[j]["id"] for j in top]
                else:
                    picked += rng.sample(state.remaining[d], takes[d])
        chosen = set(picked)
        for d in self.domains:
            state.remaining[d] = [x for x in state.remaining[d] if x not in chosen]
        return [self.by_id[x] for x in picked], scored

    def candidates(self, ids: list[str], rng: random.Random, at_least: int = 0) -> list[str]:
        cap = self.cfg.selection.candidates_per_domain
        if cap is None or len(ids) <= max(cap, at_least):
            return list(ids)
        return rng.sample(ids, max(cap, at_least))

    def score(self, i: int, ids: list[str]) -> list[dict]:
        """IFD of each candidate under the current student; y = its own generated rationale (default).
        Generation already yields log p(y | x), so then only the direct pass PPL(y) runs."""
        exs = [self.by_id[x] for x in ids]
        texts = [e.input for e in exs]
        cond = None
        if self.cfg.selection.response == "generated":
            gens = self.student.generate(texts, desc=f"stage {i + 1}: student rationales", logprobs=True)
            responses, shown, cond = [g.ids for g in gens], [g.text for g in gens], [g.nll for g in gens]
        else:  # explicit opt-in only: reads reference text the teacher budget did not pay for
            shown = [self.target(e) for e in exs]
            responses = [self.student.encode(s) for s in shown]
        scores = self.student.ifd(texts, responses, self.cfg.selection.ifd_variant, desc=f"stage {i + 1}: IFD",
                                  cond_nll=cond)
        return [{"id": e.id, "domain": e.domain, "ifd": s.ifd, "cond_nll": s.cond_nll, "direct_nll": s.direct_nll,
                 "response": r} for e, s, r in zip(exs, scores, shown)]

    # ---- teacher ---------------------------------------------------------------------------
    def synthesize(self, i: int, deficits: dict[str, int], state: State, rng: random.Random) -> list[Example]:
        """Fill each tail domain's deficit (quota minus real examples left) with synthetic examples:
        one teacher call each, few-shot on real examples of the domain. Not verified against a gold
        (there is none), as in the paper; rejected replies keep their cost and are not bought again."""
        out: list[Example] = []
        if not deficits:
            return out
        with bar(f"stage {i + 1}: teacher synthesis", sum(deficits.values())) as advance:
            for d, n in deficits.items():
                real = [e for e in self.pool if e.domain == d]
                seeds = rng.sample(real, min(self.cfg.teacher.synthesis_seeds, len(real)))
                existing = [e.input for e in real] + [e.input for e in state.train if e.domain == d]
                first = state.synth_asked.get(d, 0)
                out += self.teacher.synthesize(i, d, seeds, n, first, existing, advance)
                state.synth_asked[d] = first + n
        return out

    def duplicates(self, deficits: dict[str, int], state: State, rng: random.Random) -> list[Example]:
        """duplicate-ft-cot: fill each tail deficit by repeating the domain's real examples in turn (a
        seeded order). Each copy is annotated and paid as a unit of its own; with the reply cache on, a
        copy reuses the first rationale unless ``teacher.fresh_samples`` asks for a new sample."""
        out = []
        for d, n in deficits.items():
            real = [e for e in self.pool if e.domain == d]
            order = rng.sample(real, len(real))
            for j in range(n):
                e = order[j % len(order)]
                c = state.copies[e.id] = state.copies.get(e.id, 0) + 1
                out.append(Example(f"{e.id}#copy{c}", d, e.input, e.answer, None, "duplicate", {"copy": c, "of": e.id}))
        return out

    def annotate(self, i: int, selected: list[Example]) -> list[Example]:
        """Teacher rationales for real examples (gold answer given); keep those whose answer agrees."""
        if not self.method.rationale:  # labels only: no teacher calls, no rationale
            return [Example(ex.id, ex.domain, ex.input, ex.answer, None, ex.source, ex.meta) for ex in selected]
        with bar(f"stage {i + 1}: teacher annotation", len(selected)) as advance:
            return self.teacher.annotate(i, selected, advance)

    # ---- resume, evaluate, record ----------------------------------------------------------
    def restore(self, state: State) -> tuple[State, int]:
        """Continue after the last completed stage; work of a stage cut short is redone."""
        done = self.folder.completed_stages()
        if not done:
            return state, 0
        last = done[-1]
        info = self.folder.read_json(f"stages/{last}/done.json")
        state = State(remaining=info["remaining"],
                      train=[Example.from_json(r) for r in read_jsonl(self.folder.path / f"stages/{last}/train.jsonl")],
                      synth_asked=info.get("synth_asked", {}), copies=info.get("copies", {}))
        self.student.load_adapter(self.folder.path / f"stages/{last}/adapter",
                                  trainable=not self.cfg.student.train.fresh_adapter_each_stage)
        log.info("resuming after stage %d of %d", last + 1, self.stages)
        return state, last + 1

    def finish(self, state: State, t0: float) -> dict:
        metrics = dist.on_main(lambda: self._finish(state, t0))
        dist.barrier()
        return metrics

    def evaluator(self) -> Evaluator:
        tail = policies.reporting_tail(self.pool_sizes, self.cfg.budget)
        return Evaluator(self.pool, self.cfg.data.metric, self.cfg.data.task == "classification", tail)

    def _finish(self, state: State, t0: float) -> dict:
        ev = self.evaluator()
        test = limit_per_domain(self.test, self.cfg.data.max_test_per_domain, self.cfg.seed)
        summary, rows = ev.evaluate(self.student, test, desc=f"evaluating {self.method.name} on {len(test)} test items")
        self.folder.write_jsonl("predictions.jsonl", rows)
        if self.method.train and self.student.has_adapter():
            final = self.folder.path / "adapter"
            if final.exists():
                shutil.rmtree(final)
            self.student.save_adapter(final)
        n_by_domain = {d: sum(e.domain == d for e in state.train) for d in self.domains}
        spent = self.ledger.summary()
        units_by_domain = {d: spent["by_domain"].get(d, {}).get("units", 0) for d in self.domains}
        metrics = {
            "method": self.method.name,
            "teacher": f"{self.teacher.name} ({self.teacher.label})" if self.method.rationale else None,
            "budget": self.cfg.budget,
            "stages": self.stages,
            "spent": self.ledger.spent,
            "n_train": len(state.train),
            "n_train_synthetic": sum(e.source == "synthetic" for e in state.train),
            "n_train_duplicate": sum(e.source == "duplicate" for e in state.train),
            "n_train_by_domain": n_by_domain,
            # units paid for that did not become training data (dropped by the answer check)
            "shortfall_by_domain": {d: units_by_domain[d] - n_by_domain[d] for d in self.domains}
            if self.method.rationale else {},
            "n_test": len(test),
            **summary,
            "majority": ev.majority(test),
            "pool_sizes": self.pool_sizes,
            "wall_seconds": round(time.time() - t0, 1),  # this process: stages run now and the evaluation
            "spend_by_stage_domain": self.ledger.units_by_stage_domain(),
            "ledger": {k: spent[k] for k in ("spent", "prompt_tokens", "completion_tokens", "dollars", "unknown_outcome",
                                             "physical", "by_stage", "by_kind")},
        }
        self.folder.write_json("metrics.json", metrics)
        return metrics


def run(cfg: RunConfig, out: str | Path, resume: bool = False, student=None, backend=None) -> dict:
    """Run one distillation described by ``cfg`` into the folder ``out``; returns metrics.json's content."""
    from .config import dump_config
    from .runfolder import environment

    distiller = None
    folder = RunFolder.create(Path(out), resume)
    if resume:
        _check_same_config(cfg, folder)
    handler = folder.attach_log()
    logging.getLogger("baldistill").setLevel(logging.INFO)
    try:
        if not resume:
            folder.write_text("config.yaml", dump_config(cfg))
        folder.write_json("env.json", environment())
        distiller = Distiller(cfg, folder, student, backend)
        return distiller.run(resume=resume)
    finally:
        if distiller is not None and distiller._teacher is not None:
            distiller._teacher.close()
        logging.getLogger("baldistill").removeHandler(handler)
        handler.close()


def _check_same_config(cfg: RunConfig, folder: RunFolder) -> None:
    """A resumed run must continue the same experiment: refuse a config that differs from the saved one."""
    from .config import changed_fields, load_config

    changed = changed_fields(load_config(folder.path / "config.yaml"), cfg)
    if changed:
        from .runfolder import RunFolderError
        raise RunFolderError(f"--resume with a different config than {folder.path / 'config.yaml'}: "
                             f"{', '.join(changed)} changed; resume with the same settings or start a new --out")
