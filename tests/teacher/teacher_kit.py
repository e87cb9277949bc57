"""A teacher as the pipeline drives it (requests, engine, checks), for the teacher tests."""

from baldistill.runner.pipeline import annotate_examples, synthesize_examples
from baldistill.teacher import RequestBuilder, TeacherEngine


class Client:
    def __init__(self, backend, cfg, ledger, cache=None, instruction="", labels=None, seed=0):
        self.requests = RequestBuilder(cfg, instruction, seed)
        self.engine = TeacherEngine(backend, cfg, ledger, cache)
        self.ledger, self.labels = ledger, labels

    def annotate(self, stage, examples):
        return annotate_examples(self.engine, self.requests, stage, examples, self.labels)

    def synthesize(self, stage, domain, seeds, n, first, existing):
        return synthesize_examples(
            self.engine,
            self.requests,
            stage,
            domain,
            seeds,
            n,
            first,
            existing,
            verify=self.requests.cfg.verify.samples,
            labels=self.labels,
        ).examples

    def execute(self, requests):
        return self.engine.execute(requests)
