from .base import Annotation, Synthesis, Teacher, Usage
from .reference import ReferenceTeacher

__all__ = ["Annotation", "ReferenceTeacher", "Synthesis", "Teacher", "Usage"]
