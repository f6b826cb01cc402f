# Medic. `make run` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv bench bench-quick soak soak-quick cluster-up cluster-down cluster-test cluster-regions clean vendor demo

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/medic run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)  # about 22 minutes; writes bench/RESULTS.md (needs PostgreSQL on 127.0.0.1 and wrk)
	$(BIN)/python -m bench

bench-quick: $(STAMP)  # about 2 minutes, small data; writes bench/RESULTS-quick.md
	$(BIN)/python -m bench --quick

vendor:  # fetch the dashboard's front-end files from the npm registry (pinned; writes VENDOR.json)
	$(PYTHON) scripts/vendor.py

demo: $(STAMP)  # the dashboard on a throwaway demo fleet, heartbeats simulated live: http://127.0.0.1:19401/ui/
	$(BIN)/python scripts/screenshots.py --serve

soak: $(STAMP)  # about 21 minutes (20 + setup and drain); runs its own PostgreSQL (initdb, port 19010); writes bench/results/soak.json and bench/RESULTS.md
	$(BIN)/python -m bench.soak --minutes 20 --services 5000 --rate 300

soak-quick: $(STAMP)  # about 5 minutes on 1,000 services; writes bench/results/soak-quick.json
	$(BIN)/python -m bench.soak --quick --minutes 4 --services 1000 --rate 100 --kill-every 75

# A three-node Patroni + etcd cluster on this machine (deploy/cluster/; needs Debian's
# patroni and etcd-server) and Medic's fault tests against it (docs/clustering.md).
cluster-up:
	deploy/cluster/cluster.sh up

cluster-down:
	deploy/cluster/cluster.sh down

cluster-test: $(STAMP)  # about 5 minutes: starts a cluster, crashes, switches over and partitions it, stops it
	$(BIN)/python -m bench.failover

cluster-regions: $(STAMP)  # about 4 minutes: two regions 30 ms apart on its own cluster (docs/clustering.md)
	$(BIN)/python -m bench.regions

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
