"""Floor 5, costs: the analytic memory model and its setting (`memory`, `memory_setting`), the measured bench
(`bench`, `bench_table`, `zo_bench`) and multi-process peaks (`ddp_memory`, `fsdp_memory`)."""
