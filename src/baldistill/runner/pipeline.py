"""Multi-stage balanced distillation, read top to bottom like the paper's pseudo-code:

    for stage i = 0..K-1:
        plan       quotas per domain (balancing policy); head and tail; what to synthesize
        select     head examples: random at stage 0, top-IFD by the current student after
        synthesize tail deficits with the teacher
        annotate   the selected real examples with teacher rationales (gold answer given)
        check      answers; drop rationales that disagree with the gold (and unusable synthetic examples)
        train      the student on everything selected so far
        record     the stage in the run folder
    evaluate the final student per domain, head and tail apart

The budget arithmetic is ``core/plan.py`` (the same for ``estimate``), the checks ``core/checks.py``, the
teacher's requests and the engine that pays for them ``teacher/``, every file of the run folder
``run/runfolder.py``.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from pathlib import Path

from ..budget.cache import ReplyCache
from ..budget.ledger import Ledger
from ..config import ConfigError, RunConfig, dump_config
from ..core import policies
from ..core.feedback import Signal, feedback_quota, smooth
from ..core.forecast import PlanRow, Totals, cap_warning, project, stage_line
from ..core.methods import METHODS
from ..core.plan import StagePlan, plan_stage
from ..core.policies import Quota
from ..core.results import SCHEMA_VERSION, RunMetrics, StageEval
from ..core.spend import SpendGroup
from ..data import Example, domain_counts
from ..runtime import dist
from ..runtime.progress import PhaseClock, bar, console
from ..student import Student
from ..teacher import RequestBuilder, TeacherEngine, make_backend
from ..teacher.engine import SpendView
from . import feedback, selection
from .estimate import caps_of, plan_spend
from .evaluate import Evaluator, limit_per_domain
from .inputs import Inputs
from .preflight import preflight
from .runfolder import RunFolder, State, environment
from .selection import Draw, Scored
from .teaching import SynthesisAsk, Teaching, annotate_examples, synthesize_examples, verification_requests
from .tracking import Tracker, flat_params, resolve

log = logging.getLogger("baldistill")


def load_student(cfg: RunConfig) -> Student:
    """The student, loaded before anything is paid: a model that cannot be loaded is one line, not a bill."""
    try:
        return Student(cfg.student, cfg.data.instruction, cfg.seed)
    except ConfigError:
        raise
    except (OSError, ValueError) as e:
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
        raise ConfigError(f"student.model: cannot load {cfg.student.model!r}: {first}") from None


class Distiller:
    def __init__(self, cfg: RunConfig, folder: RunFolder, student=None, backend=None, inputs: Inputs | None = None):
        self.cfg, self.folder = cfg, folder
        self.method = METHODS[cfg.method]
        inputs = inputs or Inputs.load(cfg)
        self.pool, self.test, self.reserve, self.hygiene = inputs.pool, inputs.test, inputs.reserve, inputs.report
        self.val = inputs.val
        self.by_id = {e.id: e for e in self.pool}
        self.pool_sizes = domain_counts(self.pool)
        self.domains = list(self.pool_sizes)
        self.labels = sorted({e.answer for e in self.pool}) if cfg.data.task == "classification" else None
        self.stages = cfg.effective_stages
        self.quotas = (
            policies.allocate(self.method.policy, self.pool_sizes, cfg.budget, self.stages) if self.method.train else []
        )
        t = cfg.teacher
        self.ledger = Ledger(caps_of(cfg), folder.path / "ledger.sqlite" if dist.is_main() else None)
        self.view = SpendView(self.ledger, max_tokens=t.max_tokens)  # the spend the teacher bars show
        self.requests = RequestBuilder(t, cfg.data.instruction, cfg.seed)
        self._student, self._backend, self._engine = student, backend, None
        self.clock = PhaseClock()
        self.shares: dict[str, list[int]] = {}  # several processes: what each generated, per step
        self.tracker: Tracker | None = None  # student.train.report_to, on the main process
        self._chosen: dict[int, dict] = {}  # stage -> its quotas and candidates (main process), for the tracker
        self._plan: list[PlanRow] | None = None  # estimate's plan, for the spend's projection (spend_plan)

    # heavy parts are built on first use, so a zero-cost step never loads a model or opens a connection
    @property
    def student(self) -> Student:
        if self._student is None:
            self._student = Student(self.cfg.student, self.cfg.data.instruction, self.cfg.seed)
        return self._student

    @property
    def engine(self) -> TeacherEngine:
        if self._engine is None:
            t = self.cfg.teacher
            backend = self._backend or make_backend(t, self.reserve, self.cfg.seed)
            cache = None
            if t.kind != "reference" or t.cache:  # the simulation costs nothing: cache only when asked
                cache = ReplyCache(t.cache or self.folder.path / "teacher_cache.sqlite")
            self._engine = TeacherEngine(backend, t, self.ledger, cache, self.view)
        return self._engine

    # ---------------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> RunMetrics:
        t0 = time.time()
        state, start = State.start(self.pool, self.domains), 0
        if resume:
            state, start = self.restore(state)
        self.open_tracker(start)
        log.info("method %s: %s", self.method.name, self.method.summary)
        log.info(
            "budget B=%d over K=%d stage(s); %d domains, pool %d",
            self.cfg.budget,
            self.stages,
            len(self.domains),
            len(self.pool),
        )
        if self.hygiene.n_repeats:
            log.info(
                "data: %d pool row(s) repeat an earlier (domain, input, answer): %s",
                self.hygiene.n_repeats,
                "dropped" if self.hygiene.repeats_dropped else "kept (data.dedupe: false)",
            )
        if self.method.train:
            for i in range(start, self.stages):
                if state.cap_reached:  # nothing more can be bought: train and evaluate on what was
                    log.info("stage %d/%d skipped: %s", i + 1, self.stages, state.cap_reached)
                    continue
                self.stage(i, state)
        return self.finish(state, t0)

    def stage(self, i: int, state: State) -> None:
        # plan, select, synthesize, annotate, check: the main process draws the candidates, every process
        # scores its share of them, the main process chooses and buys
        main: dict[str, Draw] = {}  # the draw stays on the main process; the others get its candidate ids

        def draw() -> list[str]:
            main["draw"] = self.draw(i, state)
            return main["draw"].ids

        teacher = dist.is_main() and self.method.rationale
        if teacher:
            self.warn_caps(i)
        ids = dist.on_main(draw)
        scored = self.score(i, ids) if ids else []
        new, cap = dist.on_main(
            lambda: (self.choose(i, state, main["draw"], scored), self._engine and self._engine.cap_reached)
        )
        if cap and not state.cap_reached:
            state.cap_reached = f"cap reached at stage {i + 1}: {cap}"
            console.print(
                f"[yellow]{state.cap_reached}[/yellow]; the run trains and evaluates on what was bought",
                highlight=False,
                soft_wrap=True,
            )
        if teacher:
            self.spend_line(i, state)
        state.train.extend(new)
        with self.clock.phase(str(i + 1), "train"):
            stats = self.train(i, state, new)
        if self.tracker is not None:
            self.track_stage(i, state, stats)
        if dist.is_main():
            self.student.save_adapter(self.folder.stage_path(i) / "adapter")
        n = self.cfg.eval_each_stage
        if n and i < self.stages - 1:  # the last stage gets the full final evaluation
            test = limit_per_domain(self.test, n, self.cfg.seed)
            with self.clock.phase(str(i + 1), "evaluate"):  # every process predicts its share
                texts = self.predict(test, desc=f"stage {i + 1}: evaluating on {len(test)}")
            if dist.is_main():
                summary, _ = self.evaluator().score_texts(test, texts)
                self.folder.write_stage_eval(StageEval(stage=i, n_test=len(test), **summary))
        log.info("stage %d/%d seconds: %s", i + 1, self.stages, self.clock.line(str(i + 1)))
        self.folder.write_stage_done(
            i,
            state,
            kept_new=len(new),
            spent=self.ledger.spent,
            training=stats,
            seconds=self.clock.seconds.get(str(i + 1), {}),
        )

    # ---- spend as it happens (main process, methods with teacher rationales) ------------------
    def spend_plan(self) -> list[PlanRow]:
        """``estimate``'s plan of this run, made once, when the spend has tokens to show (a price or a token cap):
        the projection's units and prompt tokens per stage and kind. Empty otherwise (units need no plan)."""
        if self._plan is None:
            self._plan = plan_spend(self.cfg, self.pool) if self.view.limits.shows_tokens else []
        return self._plan

    def warn_caps(self, i: int) -> None:
        """At stage ``i``'s start: the bars project from the stages before it; one line when the projection
        crosses ``teacher.max_dollars`` or ``teacher.max_total_tokens`` (how the caps are enforced is unchanged)."""
        self.view.plan, self.view.done = self.spend_plan(), range(i)
        if self.view.limits.dollars is None and self.view.limits.tokens is None:
            return
        line = cap_warning(self.view.forecast(), self.view.limits)
        if line:
            warning = f"[yellow]warning:[/yellow] stage {i + 1}/{self.stages}: {line}"
            console.print(warning, highlight=False, soft_wrap=True)
            log.warning("stage %d/%d: %s", i + 1, self.stages, line)

    def spend_line(self, i: int, state: State) -> None:
        """After stage ``i``'s teacher steps: its spend, the run's, what is left and the projection, on the console
        and in run.log."""
        cs = self.ledger.charges()
        done = range(self.stages) if state.cap_reached else range(i + 1)  # a reached cap buys nothing more
        f = project(self.view.plan, cs, done, self.cfg.teacher.max_tokens, self.ledger.caps.price)
        line = stage_line(i, self.stages, Totals.of(c for c in cs if c.stage == i), self.view.limits, f)
        console.print(line, highlight=False, soft_wrap=True)
        log.info("%s", line)

    def draw(self, i: int, state: State) -> Draw:
        """The main process: this stage's plan and the candidates IFD will score (drawn at random). Under the
        feedback policy the plan is decided after the candidates are scored (``replan``): the candidates are a
        probe of every domain, sized by the naive split."""
        rng = random.Random(f"{self.cfg.seed}/stage/{i}")
        plan = self.plan(i, state, self.quotas[i])
        if self.method.policy == "feedback" and i > 0:
            return feedback.probe(plan, state.remaining, self.domains, rng, self.cfg.selection, self.by_id)
        self.log_plan(i, plan)
        use_ifd = i > 0 and self.method.selector in ("ifd", "error")
        return selection.draw(plan, state.remaining, self.domains, rng, use_ifd, self.cfg.selection, self.by_id)

    def plan(self, i: int, state: State, quota: Quota) -> StagePlan:
        return plan_stage(
            self.method,
            quota,
            {d: len(state.remaining[d]) for d in self.domains},
            i,
            self.cfg.teacher.verify.samples,
            state.synth_carry,
        )

    def log_plan(self, i: int, plan: StagePlan) -> None:
        log.info("stage %d/%d: quota %s; tail %s", i + 1, self.stages, plan.quota.to_json(), plan.tail or "none")
        if plan.verify or plan.carry:
            log.info(
                "stage %d/%d: synthesis %s, verification %s; units left for the next stage %s",
                i + 1,
                self.stages,
                plan.synthesize,
                plan.verify,
                plan.carry or "none",
            )

    # ---- what the stages learn from the student (runner/feedback.py) ---------------------------
    def replan(self, i: int, state: State, drawn: Draw, scored: list[Scored]) -> Draw:
        """The feedback policy at stage ``i`` >= 1: the signal (the judged candidates, and the synthetic examples
        of the stage before answered before training), smoothed into each domain's score, splits the stage's
        share (``core/feedback.py``); the candidates drawn are the ranked domains' candidates."""
        sel = self.cfg.selection
        pending = {d: Signal.from_json(x) for d, x in state.synthetic_signal.items()}
        measured = feedback.signal(scored, pending, self.domains)
        smoothed = smooth(state.signal, measured, sel.feedback_smoothing)
        share = self.quotas[i].total
        quota = feedback_quota(share, self.domains, smoothed, sel.feedback_floor)
        plan = self.plan(i, state, Quota(share, quota))
        state.signal, state.synthetic_signal = smoothed, {}
        self.folder.write_json(f"stages/{i}/signal.json", {
            "stage": i, "measured": {d: s.to_json() for d, s in measured.items()}, "smoothed": smoothed,
            "quota": quota, "floor": sel.feedback_floor, "smoothing": sel.feedback_smoothing})  # fmt: skip
        self.log_plan(i, plan)
        shown = ", ".join(f"{d} {s.score:.2f} ({s.checked})" for d, s in measured.items() if s.score is not None)
        log.info("stage %d/%d: signal (score, answers checked) %s", i + 1, self.stages, shown or "none")
        return feedback.replan(drawn, plan)

    def answer_synthetic(self, i: int, synthetic: list[Example]) -> dict[str, dict]:
        """The student (before it trains on them) answers the stage's new synthetic examples: the signal their
        domains carry to the next stage."""
        if not synthetic:
            return {}
        with self.clock.phase(str(i + 1), "signal"):
            gens = self.student.generate(
                [e.input for e in synthetic],
                desc=f"stage {i + 1}: answering the synthetic examples",
                max_new_tokens=self.cfg.selection.max_new_tokens,
            )
        _, rows = self.evaluator().score_texts(synthetic, [g.text for g in gens])
        answers = [(e.domain, float(r["score"])) for e, r in zip(synthetic, rows)]
        return {d: s.to_json() for d, s in feedback.synthetic_signal(answers).items()}

    def choose(self, i: int, state: State, drawn: Draw, scored: list[Scored]) -> list[Example]:
        """The main process: this stage's new training examples from the scored candidates: select,
        synthesize, annotate, check."""
        if scored and (self.method.selector == "error" or self.method.policy == "feedback"):
            with self.clock.phase(str(i + 1), "signal"):
                feedback.judge(scored, [self.by_id[s.id] for s in scored], self.evaluator().score_texts)
        if self.method.policy == "feedback" and i > 0:
            drawn = self.replan(i, state, drawn, scored)
        elif scored and self.method.selector == "error":
            measured = feedback.signal(scored, domains=self.domains)
            self.folder.write_json(f"stages/{i}/signal.json", {
                "stage": i, "measured": {d: s.to_json() for d, s in measured.items()}})  # fmt: skip
        plan, rng = drawn.plan, drawn.rng
        selected = self.select(state, drawn, scored)
        candidates = {g: len(c) for g, c in drawn.cands.items()}
        self._chosen[i] = {"quota": plan.quota.to_json(), "candidates": candidates}
        also = [self.requests.annotation(i, e, self.labels) for e in selected] if self.method.rationale else []
        with self.clock.phase(str(i + 1), "teacher"):
            synthetic = self.synthesize(i, plan.synthesize, state, rng, also)
        if self.method.policy == "feedback" and i < self.stages - 1:
            state.synthetic_signal = self.answer_synthetic(i, synthetic)
        state.synth_carry = dict(plan.carry)
        if i == self.stages - 1 and plan.carry:  # nothing comes after the last stage: reported unspent
            for d, n in plan.carry.items():
                state.add_unspent(d, "verification remainder", n)
        copies = self.duplicates(plan.duplicate, state, rng)
        self.folder.write_stage_choice(plan, selected + copies, synthetic, [x.to_json() for x in scored], candidates)
        with self.clock.phase(str(i + 1), "teacher"):
            return self.annotate(i, selected + copies) + synthetic

    def train(self, i: int, state: State, new: list[Example]) -> dict:
        """``student.train.scheme``. paper: a fresh adapter on everything selected so far, every stage.
        continue: the adapter continues on the stage's new examples. replay: the adapter continues on the stage's
        new examples plus ``replay`` earlier ones per new one (drawn at random), every stage. select-then-train:
        before the last stage a cheap selection student (the adapter continues on the new examples, plus
        ``replay`` earlier ones per new one, for ``selection_epochs``); at the last stage the final student,
        trained once on the whole selected set exactly as a single-stage method trains it."""
        tc, seed = self.cfg.student.train, self.cfg.seed + i
        epochs, what = None, ""
        if tc.scheme == "paper":
            self.student.new_adapter(seed)
            data = state.train
        elif tc.scheme == "continue":
            if i == 0:
                self.student.new_adapter(seed)
            data = new
        elif tc.scheme == "replay":
            if i == 0:
                self.student.new_adapter(seed)
            data = new + self.replayed(i, state, new, tc.effective_replay)
        elif i == self.stages - 1:  # select-then-train: the final student
            seed = self.cfg.seed
            self.student.new_adapter(seed)
            data, what = state.train, " (final student)"
        else:  # select-then-train: a selection student
            if i == 0:
                self.student.new_adapter(seed)
            data = new + self.replayed(i, state, new, tc.effective_replay)
            epochs, what = tc.selection_epochs, " (selection student)"
        if not data:
            return {}
        return self.student.fit(
            [(e.input, self.method.target(e.rationale, e.answer)) for e in data],
            seed=seed,
            epochs=epochs,
            desc=f"stage {i + 1}/{self.stages}: training on {len(data)}{what}",
            callbacks=[self.tracker.callback()] if self.tracker is not None else None,
        )

    def replayed(self, i: int, state: State, new: list[Example], replay: float) -> list[Example]:
        """``round(replay × |new|)`` of the earlier stages' examples (all of them when fewer), a seeded draw."""
        new_ids = {e.id for e in new}
        earlier = [e for e in state.train if e.id not in new_ids]
        k = min(len(earlier), round(replay * len(new)))
        return random.Random(f"{self.cfg.seed}/replay/{i}").sample(earlier, k)

    # ---- experiment trackers ---------------------------------------------------------------
    def open_tracker(self, start: int) -> None:
        """One tracker run for the whole BalDistill run (main process); resumed, its steps continue after the
        training steps of the stages already done."""
        names = resolve(self.cfg.student.train.report_to)
        if not names or not dist.is_main() or not self.method.train:
            return
        step = sum(
            self.folder.read_json(f"stages/{j}/done.json").get("training", {}).get("steps", 0) for j in range(start)
        )
        self.tracker = Tracker(
            names, self.folder.path, self.folder.path.name, flat_params(self.cfg.model_dump(mode="json")), step
        )

    def track_stage(self, i: int, state: State, training: dict) -> None:
        """Beside the loss, at the stage's last training step: the stage, its domain quotas, the candidates
        IFD scored, and the spend (this stage's units, tokens and dollars, and the run's so far)."""
        chosen = self._chosen.get(i, {})
        spent = self.ledger.summary()
        mine = spent.by_stage.get(str(i), SpendGroup())
        values = {
            "stage": i + 1,
            "train/examples": len(state.train),
            "train/stage_loss": training.get("train_loss"),
            "spend/stage_units": mine.units,
            "spend/stage_dollars": mine.dollars,
            "spend/stage_prompt_tokens": mine.prompt_tokens,
            "spend/stage_completion_tokens": mine.completion_tokens,
            "spend/units": spent.spent,
            "spend/dollars": spent.dollars,
            "spend/budget_left": self.cfg.budget - spent.spent,
        }
        values |= {f"quota/{d}": n for d, n in chosen.get("quota", {}).items()}
        cands = chosen.get("candidates", {})
        values |= {f"candidates/{g}": n for g, n in cands.items()}
        values["candidates/total"] = sum(cands.values())
        self.tracker.log({k: v for k, v in values.items() if v is not None})
        self.tracker.flush()

    # ---- select ----------------------------------------------------------------------------
    def select(self, state: State, drawn: Draw, scored: list[Scored]) -> list[Example]:
        """The stage's real examples (``selection.pick``), taken out of the pool."""
        picked = selection.pick(
            drawn, scored, self.cfg.selection.drop_ifd_ge_1, errors_first=self.method.selector == "error"
        )
        chosen = set(picked)
        for d in self.domains:
            state.remaining[d] = [x for x in state.remaining[d] if x not in chosen]
        return [self.by_id[x] for x in picked]

    def score(self, i: int, ids: list[str]) -> list[Scored]:
        """IFD of each candidate under the current student; y = its own generated rationale (default).
        Generation already yields log p(y | x), so then only the direct pass PPL(y) runs. Every process
        calls it: each generates and scores its share of the length-sorted batches (cut as one process cuts
        them, so a candidate's rationale and score do not depend on the number of processes) and all get
        every score, in the order of ``ids``."""
        exs = [self.by_id[x] for x in ids]
        texts = [e.input for e in exs]
        cond = None
        if self.cfg.selection.response == "generated":
            with self.clock.phase(str(i + 1), "generate"):
                gens = self.student.generate(
                    texts,
                    desc=f"stage {i + 1}: student rationales",
                    logprobs=True,
                    max_new_tokens=self.cfg.selection.max_new_tokens,
                    shard=True,
                )
            responses, shown, cond = [g.ids for g in gens], [g.text for g in gens], [g.nll for g in gens]
            if dist.world_size() > 1:
                log.info(
                    "stage %d/%d: %d candidate rationales generated by %d processes: %s",
                    i + 1,
                    self.stages,
                    len(ids),
                    dist.world_size(),
                    " + ".join(map(str, self.student.rows_by_rank)),
                )
                self.shares[f"stage {i + 1}: candidates"] = list(self.student.rows_by_rank)
        else:  # explicit opt-in only: reads reference text the teacher budget did not pay for
            shown = [self.method.target(e.rationale, e.answer) for e in exs]
            responses = [self.student.encode(s) for s in shown]
        with self.clock.phase(str(i + 1), "ifd"):
            scores = self.student.ifd(
                texts, responses, self.cfg.selection.ifd_variant, desc=f"stage {i + 1}: IFD", cond_nll=cond, shard=True
            )
        return [Scored(e.id, e.domain, s.ifd, s.cond_nll, s.direct_nll, r) for e, s, r in zip(exs, scores, shown)]

    # ---- teacher ---------------------------------------------------------------------------
    def synthesize(
        self, i: int, counts: dict[str, int], state: State, rng: random.Random, also: list = ()
    ) -> list[Example]:
        """Fill each tail domain's deficit with synthetic examples: one teacher call each, few-shot on real
        examples of the domain, then the checks (hygiene, and for classification the domain's own labels;
        the paper uses them unverified) and, with ``teacher.verify.samples`` = k, k re-answers each.
        Rejected replies keep their cost and are not bought again. With ``teacher.batch`` the stage's synthesis
        requests and ``also`` (its annotations) go out as one batch, then the verification requests as a second."""
        out: list[Example] = []
        if not counts:
            return out
        k = self.cfg.teacher.verify.samples
        asks = []  # per domain, in order (the seeded draws are the same with batches or without)
        for d, n in counts.items():
            real = [e for e in self.pool if e.domain == d]
            asks.append(
                SynthesisAsk(
                    domain=d,
                    n=n,
                    real=rng.sample(real, len(real)),  # each request shows its own window of it
                    first=state.synth_asked.get(d, 0),
                    existing=[e.input for e in real] + [e.input for e in state.train if e.domain == d],
                    own_labels=sorted({e.answer for e in real}) if self.labels is not None else None,
                    avoid=[e.input for e in state.train if e.domain == d and e.source == "synthetic"],
                )
            )
        step = Teaching(self.engine, self.requests, i, self.labels)
        if self.engine.batching:  # the stage's synthesis as one batch (with its annotations), then its verification
            self.engine.prefetch(
                [r for a in asks for r in a.requests(step)] + list(also), f"stage {i + 1}: teacher batch"
            )
            if k:
                self.engine.prefetch(
                    [r for a in asks for r in verification_requests(step, a, k)],
                    f"stage {i + 1}: teacher verification batch",
                )
        with bar(
            f"stage {i + 1}: teacher synthesis" + (" and verification" if k else ""), sum(counts.values()) * (1 + k)
        ) as advance:
            step.advance = advance
            for a in asks:
                made = synthesize_examples(step, a, verify=k)
                out += made.examples
                if made.unverified:
                    state.add_unspent(a.domain, "not verified (synthesis not usable)", made.unverified * k)
                state.synth_asked[a.domain] = a.first + a.n
        return out

    def duplicates(self, counts: dict[str, int], state: State, rng: random.Random) -> list[Example]:
        """duplicate-ft-cot: fill each tail deficit by repeating the domain's real examples in turn (a
        seeded order). Each copy is annotated and paid as a unit of its own; with the reply cache on, a
        copy reuses the first rationale unless ``teacher.fresh_samples`` asks for a new sample."""
        out = []
        for d, n in counts.items():
            real = [e for e in self.pool if e.domain == d]
            order = rng.sample(real, len(real))
            for j in range(n):
                e = order[j % len(order)]
                c = state.copies[e.id] = state.copies.get(e.id, 0) + 1
                out.append(Example(f"{e.id}#copy{c}", d, e.input, e.answer, None, "duplicate", {"copy": c, "of": e.id}))
        return out

    def annotate(self, i: int, selected: list[Example]) -> list[Example]:
        """Teacher rationales for real examples (gold answer given); check: keep those whose answer agrees."""
        if not self.method.rationale:  # labels only: no teacher calls, no rationale
            return [Example(ex.id, ex.domain, ex.input, ex.answer, None, ex.source, ex.meta) for ex in selected]
        with bar(f"stage {i + 1}: teacher annotation", len(selected)) as advance:
            return annotate_examples(Teaching(self.engine, self.requests, i, self.labels, advance), selected)

    # ---- resume, evaluate, record ----------------------------------------------------------
    def restore(self, state: State) -> tuple[State, int]:
        """Continue after the last completed stage; work of a stage cut short is redone."""
        last = self.folder.last_completed_stage()
        if last is None:
            return state, 0
        state = self.folder.load_state(last)
        self.student.load_adapter(
            self.folder.stage_path(last) / "adapter", trainable=self.cfg.student.train.scheme != "paper"
        )
        for j in range(last + 1):  # the seconds of the stages done before
            self.clock.seconds[str(j + 1)] = self.folder.read_json(f"stages/{j}/done.json").get("phase_seconds", {})
        log.info("resuming after stage %d of %d", last + 1, self.stages)
        return state, last + 1

    def finish(self, state: State, t0: float) -> RunMetrics:
        test = limit_per_domain(self.test, self.cfg.data.max_test_per_domain, self.cfg.seed)
        with self.clock.phase("final", "evaluate"):  # every process predicts its share; the main one scores
            texts = self.predict(
                test, desc=f"evaluating {self.method.name} on {len(test)} test items", share="test items"
            )
            val_texts = (
                self.predict(self.val, desc=f"evaluating on {len(self.val)} validation items", share="validation items")
                if self.val
                else None
            )
        metrics = dist.on_main(lambda: self._finish(state, t0, test, texts, val_texts))
        dist.barrier()
        return metrics

    def predict(self, test: list[Example], desc: str, share: str | None = None) -> list[str]:
        """The student's outputs for ``test``; every process calls it and decodes its share (``generate``
        with ``shard``: the same batches as one process, whole batches to each process in turn)."""
        gens = self.student.generate([e.input for e in test], desc=desc, shard=True)
        if share and dist.world_size() > 1:
            log.info(
                "%d %s predicted by %d processes: %s",
                len(test),
                share,
                dist.world_size(),
                " + ".join(map(str, self.student.rows_by_rank)),
            )
            self.shares[share] = list(self.student.rows_by_rank)
        return [g.text for g in gens]

    def evaluator(self) -> Evaluator:
        tail = policies.reporting_tail(self.pool_sizes, self.cfg.reporting_budget)
        return Evaluator(self.pool, self.cfg.data.metric, self.cfg.data.task == "classification", tail)

    def _finish(
        self, state: State, t0: float, test: list[Example], texts: list[str], val_texts: list[str] | None
    ) -> RunMetrics:
        ev = self.evaluator()
        summary, rows = ev.score_texts(test, texts)
        self.folder.write_jsonl("predictions.jsonl", rows)
        val = None
        if self.val:  # the validation split, scored beside the test split (settings are chosen on it)
            val, val_rows = ev.score_texts(self.val, val_texts)
            self.folder.write_jsonl("predictions_val.jsonl", val_rows)
        if self.shares:  # several processes: the rows each one generated, per step
            self.folder.write_json("shares.json", {"processes": dist.world_size(), "rows_by_rank": self.shares})
        if self.method.train and self.student.has_adapter():
            final = self.folder.path / "adapter"
            if final.exists():
                shutil.rmtree(final)
            self.student.save_adapter(final)
        n_by_domain = {d: sum(e.domain == d for e in state.train) for d in self.domains}
        spent = self.ledger.summary()
        units_by_domain = {d: spent.by_domain[d].units if d in spent.by_domain else 0 for d in self.domains}
        metrics = RunMetrics(
            schema_version=SCHEMA_VERSION,
            method=self.method.name,
            teacher=f"{self.engine.name} ({self.engine.label})" if self.method.rationale else None,
            budget=self.cfg.budget,
            stages=self.stages,
            spent=self.ledger.spent,
            n_train=len(state.train),
            n_train_synthetic=sum(e.source == "synthetic" for e in state.train),
            n_train_duplicate=sum(e.source == "duplicate" for e in state.train),
            n_train_by_domain=n_by_domain,
            # units paid for that did not become training data (dropped by the check)
            shortfall_by_domain={d: units_by_domain[d] - n_by_domain[d] for d in self.domains}
            if self.method.rationale
            else {},
            shortfall_reasons=self.ledger.shortfall_reasons() if self.method.rationale else {},
            unspent_by_domain=state.unspent,
            n_test=len(test),
            **summary,
            majority=ev.majority(test),
            pool_sizes=self.pool_sizes,
            wall_seconds=round(time.time() - t0, 1),  # this process: stages run now and the evaluation
            spend_by_stage_domain=self.ledger.units_by_stage_domain(),
            cap_reached=state.cap_reached,
            data=self.hygiene.to_json(),
            val=val,
            n_val=len(self.val),
            phase_seconds=self.clock.seconds,
            ledger=spent.run_spend(),
            signal_by_stage=self.folder.signal_by_stage(),
        )
        self.folder.write_metrics(metrics)
        if self.tracker is not None:
            self.tracker.log(
                {
                    "eval/macro": metrics.macro,
                    "eval/micro": metrics.micro,
                    "eval/head_macro": summary["head"]["macro"],
                    "eval/tail_macro": summary["tail"]["macro"],
                    **{f"eval/domain/{d}": s.score for d, s in metrics.per_domain.items() if s.score is not None},
                }
            )
        return metrics

    def close(self) -> None:
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None
        if self._engine is not None:
            self._engine.close()


def run(cfg: RunConfig, out: str | Path, resume: bool = False, student=None, backend=None) -> RunMetrics:
    """Run one distillation described by ``cfg`` into the folder ``out``; returns what metrics.json holds.

    Pre-flight first (``runner/preflight.py``): nothing is written, no weights are read and nothing is paid
    until the folder, the data, the config, the prompts, the teacher and the student have been checked."""
    out = Path(out)
    pf = preflight(
        cfg, out if dist.is_main() else None, resume, probe=backend is None and dist.is_main(), student=student is None
    )
    pf.raise_first()
    if dist.is_main():
        for w in pf.warnings:
            console.print(f"[yellow]warning:[/yellow] {w.line()}", highlight=False, soft_wrap=True)
    backend = backend or pf.backend
    student = student or load_student(cfg)
    distiller = None
    folder = RunFolder.create(out, resume)
    handler = folder.attach_log()
    logging.getLogger("baldistill").setLevel(logging.INFO)
    try:
        for w in pf.warnings:
            log.warning("%s", w.line())
        folder.write_text("config.yaml", dump_config(cfg))
        folder.write_json("env.json", environment())
        distiller = Distiller(cfg, folder, student, backend, pf.inputs)
        return distiller.run(resume=resume)
    finally:
        if distiller is not None:
            distiller.close()
        logging.getLogger("baldistill").removeHandler(handler)
        handler.close()
