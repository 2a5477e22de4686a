"""One module per DAG that `make demo` runs: `prepare(stack) -> (dag_id, conf)` and
`summarize(stack, conf, state) -> list[str]`, sorted by `ORDER`."""
