# Serving verbs: the load benchmark of the service against its baselines.
.PHONY: bench-serve wrk

BENCH_DURATION_S ?= 10
BENCH_ROUNDS ?= 3
BENCH_SOAK_S ?= 60
BENCH_ROWS ?= 5000

wrk: ## Install Debian's wrk load generator (apt-get; needs root)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

# The service needs a Bento: build the demo workspace first when there is none (no serving left running).
bench-serve: install wrk ## Load-test the service vs FastAPI on the booster, a bare ASGI app and the model (wrk)
	@ls .mlrig/bentoml/bentos/*/latest >/dev/null 2>&1 || $(BIN)/mlrig demo --rows $(BENCH_ROWS) --no-keep-serving
	BENCH_DURATION_S=$(BENCH_DURATION_S) BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_SOAK_S=$(BENCH_SOAK_S) \
		OMP_NUM_THREADS=1 $(BIN)/python -m bench.serve
