"""Teaching material: the conventions of the exercise checkers."""
