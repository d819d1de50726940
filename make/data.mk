# Data pipeline verbs: bronze → silver → gold, its report and its benchmark.
BENCH_ROWS ?= 1000000 20000000

.PHONY: data data-report bench-data

data: install ## Ingest new raw drops, refine, build gold, write the data-quality report
	$(BIN)/mlrig ingest
	$(BIN)/mlrig refine
	$(BIN)/mlrig features
	$(BIN)/mlrig report

data-report: install ## Write the data-quality report for the current silver (HTML in <work>/reports/)
	$(BIN)/mlrig report

bench-data: install ## Bronze → gold at BENCH_ROWS (1M and 20M) generated rows: time, peak RSS, rows/s vs a polars baseline
	nice -n 10 $(BIN)/python -m pipelines.data.bench main $(foreach n,$(BENCH_ROWS),--rows $(n))
