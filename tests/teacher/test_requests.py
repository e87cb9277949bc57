"""Teacher requests: what is sent, what the cache and the budget key on, for chat and base models."""

from baldistill.config import TeacherConfig
from baldistill.data import Example
from baldistill.teacher import RequestBuilder


def test_copies_and_seeds_share_a_cached_reply_unless_fresh_samples():
    def req(seed, copy, fresh):  # a paid copy is an example of its own, as duplicate-ft-cot makes it
        ex = Example(f"1#copy{copy}" if copy else "1", "x", "2+2?", "4", meta={"copy": copy} if copy else {})
        cfg = TeacherConfig(fresh_samples=fresh, temperature=0.7)
        return RequestBuilder(cfg, "Solve.", seed=seed).annotation(0, ex)

    first, copy1, seed1 = req(0, 0, False), req(0, 1, False), req(1, 0, False)
    assert first.cache_key == copy1.cache_key == seed1.cache_key  # one reply serves them all
    assert len({first.key, copy1.key}) == 2 and first.key == seed1.key  # but each copy is a budget unit
    twin = RequestBuilder(TeacherConfig(temperature=0.7), "Solve.").annotation(0, Example("2", "y", "2+2?", "4"))
    assert twin.cache_key == first.cache_key and twin.key != first.key  # a repeat in another domain: its own unit
    fresh = [req(0, 0, True), req(0, 1, True), req(1, 0, True)]
    assert len({r.cache_key for r in fresh}) == 3 and first.cache_key not in {r.cache_key for r in fresh}


def test_request_payloads_for_chat_and_completions():
    ex = Example("1", "x", "2+2?", "4")
    chat = RequestBuilder(TeacherConfig(kind="openai", model="m", max_tokens=32), "Solve.").annotation(3, ex)
    assert (chat.kind, chat.stage, chat.domain, chat.example_id) == ("annotate", 3, "x", "1")
    assert chat.payload["model"] == "m" and chat.payload["max_tokens"] == 32 and chat.max_tokens() == 32
    assert "Gold answer: 4" in chat.prompt_text() and chat.worst_prompt_tokens() >= len(chat.prompt_text())
    base = RequestBuilder(
        TeacherConfig(kind="openai", model="m", api="completions", token_param="max_completion_tokens")
    )
    syn = base.synthesis(0, "x", [ex], sample=2)
    assert syn.payload["prompt"].endswith("Input: ") and syn.payload["stop"] == ["\n\n\n"]
    assert syn.payload["sample"] == 2 and "max_tokens" not in syn.payload and syn.max_tokens() == 256
    assert base.synthesis_prime == "Input: " and RequestBuilder(TeacherConfig()).model == "reference"


def test_the_reference_teachers_simulation_settings_key_its_cache():
    """Synthetic examples and re-answers of the reference teacher depend on its noise and verifier rates:
    runs with other rates sharing one cache (a compare --sweep) must not be served each other's replies.
    Oracle synthesis keys as before; annotations and a real teacher's requests do not change."""
    ex, seed = Example("syn-x-0", "x", "2+2?", "4"), [Example("1", "x", "1+1?", "2")]

    def build(**teacher):
        return RequestBuilder(TeacherConfig(**teacher), "Solve.")

    oracle, noisy, other = build(), build(synthesis_noise=0.3), build(synthesis_noise={"wrong_answer": 0.3})
    syn = [b.synthesis(0, "x", seed, 0) for b in (oracle, noisy, other)]
    assert len({r.cache_key for r in syn}) == 3
    assert "simulated_noise" not in syn[0].payload and syn[2].payload["simulated_noise"] == {"wrong_answer": 0.3}
    assert len({b.annotation(0, ex).cache_key for b in (oracle, noisy, other)}) == 1  # annotations are shared
    ver = [b.verification(0, ex, 0) for b in (oracle, build(verifier={"accept_correct": 0.5}), noisy)]
    assert len({r.cache_key for r in ver}) == 3
    assert ver[0].payload["simulated_verifier"] == {"accept_correct": 0.9, "reject_wrong": 0.8}
    real = [
        RequestBuilder(TeacherConfig(kind="openai", model="m", synthesis_noise=n)).synthesis(0, "x", seed, 0)
        for n in (0.0, 0.3)
    ]
    assert real[0].payload == real[1].payload and not any(k.startswith("simulated") for k in real[0].payload)
