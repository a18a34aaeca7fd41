"""Mangling valid programs for the never-raise property tests (parser and compiler)."""
from hypothesis import strategies as st


def edits(fragments: list[str], max_count: int):
    """A strategy for one edit: delete, insert or substitute text at a relative position."""
    return st.tuples(
        st.sampled_from(["delete", "insert", "substitute"]),
        st.floats(min_value=0, max_value=1, exclude_max=True),
        st.integers(min_value=1, max_value=max_count),
        st.sampled_from(fragments),
    )


def apply(program: str, changes) -> str:
    for kind, where, count, frag in changes:
        i = int(where * (len(program) + 1))
        if kind == "delete":
            program = program[:i] + program[i + count:]
        elif kind == "insert":
            program = program[:i] + frag * count + program[i:]
        else:
            program = program[:i] + frag + program[i + 1:]
    return program
