"""Running: the pipeline (orchestration), the run folder, estimate, compare, several processes, progress."""
