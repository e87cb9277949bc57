"""The pure core of the method: the methods, balancing policies, the budget plan, IFD maths, answer
parsing, the checks on teacher replies, metrics and the typed results. No torch, no I/O."""
