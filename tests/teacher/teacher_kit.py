"""A teacher as the pipeline drives it (requests, engine, checks), for the teacher tests."""

from baldistill.runner.teaching import SynthesisAsk, Teaching, annotate_examples, synthesize_examples
from baldistill.teacher import RequestBuilder, TeacherEngine


class Client:
    def __init__(self, backend, cfg, ledger, cache=None, instruction="", labels=None, seed=0):
        self.requests = RequestBuilder(cfg, instruction, seed)
        self.engine = TeacherEngine(backend, cfg, ledger, cache)
        self.ledger, self.labels = ledger, labels

    def annotate(self, stage, examples):
        return annotate_examples(Teaching(self.engine, self.requests, stage, self.labels), examples)

    def synthesize(self, stage, domain, seeds, n, first, existing):
        ask = SynthesisAsk(domain, n, seeds, first, existing)
        step = Teaching(self.engine, self.requests, stage, self.labels)
        return synthesize_examples(step, ask, verify=self.requests.cfg.verify.samples).examples

    def execute(self, requests):
        return self.engine.execute(requests)
