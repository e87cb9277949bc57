from .base import Backend, Reply, Request, Usage
from .client import TeacherClient, TeacherError
from .reference import ReferenceTeacher


def make_backend(cfg, reserve=None, seed: int = 0):
    """The backend a TeacherConfig names."""
    if cfg.kind == "reference":
        return ReferenceTeacher(reserve, cfg.synthesis_noise, seed)
    from .openai_compat import OpenAICompatible

    return OpenAICompatible(cfg.model, cfg.base_url, cfg.api_key_env, cfg.timeout, cfg.concurrency)


__all__ = ["Backend", "ReferenceTeacher", "Reply", "Request", "TeacherClient", "TeacherError", "Usage", "make_backend"]
