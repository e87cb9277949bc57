"""The student: a Hugging Face causal LM with a LoRA adapter. ``model`` loads it and renders prompts,
generates and scores; ``scoring`` holds the batched NLL passes; ``training`` the HF Trainer loop;
``assets`` resolves offline aliases. Importing this package
imports torch and transformers."""

from .model import Generation, Student, pick_device

__all__ = ["Generation", "Student", "pick_device"]
