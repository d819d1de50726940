# Data pipeline verbs: bronze → silver → gold, its report and its benchmark.
BENCH_ROWS ?= 1000000

.PHONY: data data-report bench-data

data: install ## Ingest new raw drops, refine, build gold, write the data-quality report
	$(BIN)/mlrig ingest
	$(BIN)/mlrig refine
	$(BIN)/mlrig features
	$(BIN)/mlrig report

data-report: install ## Write the data-quality report for the current silver (HTML in <work>/reports/)
	$(BIN)/mlrig report

bench-data: install ## Bronze → gold on BENCH_ROWS (1M) generated rows: wall time + peak RSS vs a polars baseline
	$(BIN)/python -m pipelines.data.bench main --rows $(BENCH_ROWS)
