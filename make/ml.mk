# ML verbs: tune, train, gate, card, and moving models through the lake. `make demo` runs train → gate → card.

TRIALS ?= 20
TAG ?=

.PHONY: tune train gate champion card export-model import-model

tune: install ## Optuna study on gold's train part (TRIALS=20); several machines may share one (tuning.storage)
	$(BIN)/mlrig tune --trials $(TRIALS)

train: install ## Train on gold and register the model (add TUNED=1 to use the best tuned parameters)
	$(BIN)/mlrig train $(if $(filter 1,$(TUNED)),--tuned,)

gate: install ## Judge the latest model against the champion; promote it or exit 1 with the failed rules
	$(BIN)/mlrig gate $(if $(TAG),--tag $(TAG),)

champion: install ## Which model serves (the lake's champion pointer) and the champions before it
	$(BIN)/mlrig champion

card: install ## Write the latest model's card (HTML) to .mlrig/reports/
	$(BIN)/mlrig card $(if $(TAG),--tag $(TAG),)

export-model: install ## Copy the serving model (or TAG=name:version) into the lake for other jobs
	$(BIN)/mlrig export-model $(if $(TAG),--tag $(TAG),)

import-model: install ## Copy TAG=name:version from the lake into this machine's model store
	$(if $(TAG),,$(error import-model needs TAG=name:version, e.g. make import-model TAG=churn-classifier:abc123))
	$(BIN)/mlrig import-model --tag $(TAG)
