# MiniTwit: the two commands a newcomer needs are `make run` and `make test`.
# `make test CRATE=user-service` runs one crate's tests only (scripts/test.sh).
.PHONY: build run test test-quick lint deny fuzz bench chaos test-browser clean-data swarm-up swarm-down cluster-test cluster-test-full cluster-up cluster-down scaling

build:
	scripts/build-deps.sh
	cargo build --release --bins

run: build
	scripts/run-local.sh

test:
	scripts/test.sh $(CRATE)

# The crates' tests and the fast end-to-end suites (tier quick of tests/suites.txt).
test-quick:
	scripts/test.sh --quick

test-browser:
	cargo build --bins
	BIN_DIR=$(CURDIR)/target/debug tests/browser/run.sh

lint:
	scripts/build-deps.sh
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@# Doc comments whose links go nowhere, or to items a reader of the docs cannot see.
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
	@# The gateway and the api crate must never link a database driver.
	@for crate in gateway minitwit-api; do \
	  if cargo tree -p $$crate -e normal -i diesel 2>/dev/null | grep -q diesel; then \
	    echo "$$crate links diesel"; exit 1; fi; done
	@# No two files of a crate use each other, through any crate::/super::/self:: path.
	python3 scripts/import_cycles.py --self-test
	python3 scripts/import_cycles.py crates
	deploy/lint.sh
	scripts/deny.sh
	@# docs/sim-api.md is the design's contract, copied for clones without ../shared.
	@if [ -f ../shared/design/sim-api.md ]; then \
	  cmp docs/sim-api.md ../shared/design/sim-api.md || { \
	    echo "docs/sim-api.md differs from ../shared/design/sim-api.md: copy the contract again"; exit 1; }; \
	else echo "no ../shared/design/sim-api.md here: docs/sim-api.md not compared"; fi

# Licences, bans (no wildcard versions; duplicate versions warn) and sources
# (crates.io only) of every dependency by deny.toml, and the RustSec advisories
# where GitHub answers (scripts/deny.sh, which installs cargo-deny into
# target/tools on first use). Also part of `lint`.
deny:
	scripts/deny.sh

# Each fuzz target of fuzz/ (every parser of outside input) for FUZZ_SECONDS (default
# 30) seconds; needs nightly and cargo-fuzz (scripts/fuzz.sh). Not part of `make test`.
fuzz:
	scripts/fuzz.sh

bench:
	scripts/bench.sh

# What a replica buys and what each request costs each service, on the real stack as a
# one-node swarm (scripts/scaling.sh; outside CI, about 15 minutes): the figures of
# deploy/README.md's capacity table.
scaling: build
	scripts/scaling.sh

# Two replicas of everything behind nginx, under load, each replica and then
# PostgreSQL killed in turn: failed requests per fault, and no acknowledged write
# lost or doubled (tests/chaos/run.sh; also part of `make test`).
chaos:
	cargo build --bins
	BIN_DIR=$(CURDIR)/target/debug tests/chaos/run.sh

# The real stack on this machine's own engine as a one-node swarm, from images built
# offline (tests/swarm/README.md), for a quick look; swarm-down removes it.
swarm-up: build
	tests/swarm/up.sh

swarm-down:
	tests/swarm/down.sh

# The stack on a swarm of four test nodes (three managers, a worker: containers with
# an engine each) pulling from a registry of its own (tests/cluster/README.md).
# cluster-test: deploy, the cluster checks, remove (also part of `make test`);
# cluster-test-full adds the slow ones (quorum lost, the database's node lost): run
# it before a release. cluster-up leaves the nodes running; cluster-down removes them.
cluster-test: build
	tests/cluster/run.sh

cluster-test-full: build
	CLUSTER_FULL=1 tests/cluster/run.sh

cluster-up: build
	tests/cluster/up.sh

cluster-down:
	tests/cluster/down.sh

clean-data:
	rm -rf data
