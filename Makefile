# static-pod-harness: end-to-end tests of the kubelet's static pods on kind clusters.
# `make` (or `make help`) lists the targets; README.md describes the settings (make VAR=value).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS_BIN := $(CURDIR)/.tools/bin
KIND := $(TOOLS_BIN)/kind

K8S_VERSION ?= $(shell $(PYTHON) -m harness.versions k8s)
KIND_VERSION := $(shell $(PYTHON) -m harness.versions kind)
KIND_CONFIG ?= single-node
NODE_IMAGE ?= auto
ARTIFACTS ?= artifacts
KEEP_CLUSTER ?=
KUBELET_VERSION ?=
PYTEST_ARGS ?=
JOBS ?= 4
.DEFAULT_GOAL := help

# The suite's options, whoever runs it (make e2e, make soak, make speed).
XDIST = $(if $(filter-out 0 1,$(JOBS)),-n $(JOBS))
SUITE_OPTS = --sph-k8s-version=$(K8S_VERSION) --sph-kind-config=$(KIND_CONFIG) --sph-kind-bin=$(KIND) \
	$(if $(KUBELET_VERSION),--sph-kubelet-version=$(KUBELET_VERSION)) $(XDIST) $(PYTEST_ARGS)
E2E_OPTS = $(SUITE_OPTS) --sph-artifacts-dir=$(ARTIFACTS) --junitxml=$(ARTIFACTS)/junit.xml \
	$(if $(filter 1 yes true,$(KEEP_CLUSTER)),--sph-keep-cluster)
# The node image is chosen (and built, when offline) before pytest starts, so that a bad
# K8S_VERSION or NODE_IMAGE stops the run with one clear line and build progress shows.
CHOOSE_IMAGE = image=$$($(PY) -m harness.nodeimage choose --k8s-version=$(K8S_VERSION) --node-image=$(NODE_IMAGE))
RUN_E2E = $(CHOOSE_IMAGE) && $(PY) -m pytest tests/e2e $(E2E_OPTS) --sph-node-image=$$image

.PHONY: e2e test unit unit-floors citations lint venv host-setup host-teardown node-image measure bench clean \
	upgrade-check conformance conformance-version report findings soak speed help lock

# `make help` prints each target's `## ` comment.
help: ## this list (the default goal: it changes nothing)
	@awk -F ':.*## ' '/^[a-z][a-z0-9-]*:.*## / {printf "  make %-20s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))
	@echo "Settings (make VAR=value: K8S_VERSION, JOBS, KEEP_CLUSTER, ...): README.md"

e2e: venv host-setup ## the e2e suite: host set-up if needed, node image, clusters (JOBS workers)
	@$(RUN_E2E)

test: venv host-setup lint unit citations ## lint, unit tests, citations, then the e2e suite (what CI runs)
	@$(RUN_E2E)

unit: venv ## the unit tests (no clusters), at requirements/lock.txt's versions
	$(PY) -m pytest tests/unit -q -p no:cacheprovider --junitxml=$(ARTIFACTS)/junit-unit.xml

# The unit tests with every dependency at the floor pyproject.toml declares (>= read as ==), in a venv
# of their own: the floors are what the harness is known to work with.
FLOORS_VENV := .venv-floors
unit-floors: ## the unit tests with every dependency at pyproject.toml's floor, in .venv-floors
	rm -rf $(FLOORS_VENV) && $(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install -q $$($(PYTHON) -c 'import tomllib; \
		project = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		print(" ".join(d.replace(">=", "==") for d in project["dependencies"] + project["optional-dependencies"]["dev"]))')
	$(FLOORS_VENV)/bin/python -m pip install -q --no-deps -e .
	$(FLOORS_VENV)/bin/python -m pytest tests/unit -q -p no:cacheprovider

# Every upstream test name quoted in tests/e2e exists in the file it cites (k8s.io/kubernetes from
# the Go module proxy).
citations: venv ## every upstream test quoted in tests/e2e exists in the file it cites
	$(PY) -m harness.tools.citations

# actionlint checks the GitHub workflows; built from its Go module, as kind is.
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(TOOLS_BIN)/actionlint-$(ACTIONLINT_VERSION)
$(ACTIONLINT):
	@command -v go >/dev/null || { echo "Go is needed to build actionlint (make lint)" >&2; exit 1; }
	GOBIN=$(TOOLS_BIN) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(TOOLS_BIN)/actionlint $@

lint: venv $(ACTIONLINT) ## ruff, the shell scripts (bash -n, shellcheck) and actionlint on the workflows
	$(VENV)/bin/ruff check harness tests
	$(VENV)/bin/ruff format --check harness tests
	for script in host/*.sh .ci/run; do bash -n $$script || exit 1; done
	if command -v shellcheck >/dev/null; then shellcheck -x host/*.sh; fi
	$(ACTIONLINT) .github/workflows/*.yml

# requirements/lock.txt: every dependency of pyproject.toml (dev extras too) pinned, with hashes, for
# every platform and Python the project supports. `make venv` installs exactly that, so two venvs made
# on two days hold the same versions; `make lock` takes the newest within pyproject.toml's ranges.
LOCK := requirements/lock.txt
UV_VERSION := 0.13.9
UV := .tools/uv-$(UV_VERSION)/bin/uv
venv: $(VENV)/.installed ## the Python venv .venv, at requirements/lock.txt's versions
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip check || { echo "$(LOCK) does not fit pyproject.toml: run make lock" >&2; exit 1; }
	touch $@

lock: $(UV) ## requirements/lock.txt anew: the newest versions within pyproject.toml's ranges (uv)
	$(UV) pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --quiet --output-file $(LOCK)
$(UV):
	$(PYTHON) -m venv $(dir $(UV)).. && $(dir $(UV))pip install -q uv==$(UV_VERSION)

host-setup: ## Docker, kind, sysctls and debootstrap where missing (installs need root)
	KIND_VERSION=$(KIND_VERSION) TOOLS_BIN=$(TOOLS_BIN) bash host/setup.sh

# Removes what host-setup added (as it recorded it): the runc wrapper and its registration,
# raised sysctls. Packages it installed only with REMOVE_PACKAGES=1, and never when apt would
# remove other packages with them. Never stops Docker.
REMOVE_PACKAGES ?=
host-teardown: ## remove what host-setup added, as it recorded it (REMOVE_PACKAGES=1: packages too)
	REMOVE_PACKAGES=$(REMOVE_PACKAGES) bash host/teardown.sh

node-image: venv host-setup ## build the offline node image of K8S_VERSION
	$(PY) -m harness.nodeimage build --k8s-version=$(K8S_VERSION)

# Removes what runs left behind (clusters of killed runs, node-image build containers), then the
# venv, tools and artifacts. Clusters kept on purpose (KEEP_CLUSTER=1) stay: `kind delete cluster`.
clean: ## delete leftover clusters of killed runs, then the venvs, tools and artifacts
	if [ -x $(PY) ]; then $(PY) -m harness.provision.leftovers --remove --kind-bin=$(KIND); fi
	rm -rf $(VENV) $(FLOORS_VENV) .tools .pytest-kind $(ARTIFACTS)

FROM ?=
TO ?= $(K8S_VERSION)
KUBELET_BINARY ?=
EXPECT ?=
SCOPE ?= node
MANIFESTS ?=
BUILTIN ?=
UPGRADE_PLAN_OPTS = --from=$(FROM) --to=$(TO) $(if $(KUBELET_BINARY),--kubelet-binary=$(KUBELET_BINARY)) \
	$(if $(EXPECT),--expect=$(EXPECT)) --scope=$(SCOPE) $(if $(MANIFESTS),--manifests=$(MANIFESTS)) \
	$(if $(BUILTIN),--builtin=$(BUILTIN))
UPGRADE_OPTS = --sph-upgrade-from=$(FROM) --sph-upgrade-to=$(TO) \
	$(if $(KUBELET_BINARY),--sph-kubelet-binary=$(KUBELET_BINARY)) $(if $(EXPECT),--sph-expect=$(EXPECT)) \
	--sph-upgrade-scope=$(SCOPE) $(if $(MANIFESTS),--sph-upgrade-manifests=$(MANIFESTS)) \
	$(if $(BUILTIN),--sph-upgrade-builtin=$(BUILTIN))
# SCOPE=node: the cluster is made at TO and one worker's kubelet goes FROM -> TO; SCOPE=cluster: the
# cluster is made at FROM and upgraded the kubeadm way (each hop's node image built when missing).
UPGRADE_CLUSTER_AT = $(if $(filter cluster,$(SCOPE)),$(FROM),$(TO))

# The plan is checked first (one line for each bad input, MANIFESTS included), then the cluster's node
# image and the kubelets of FROM and of each minor between FROM and TO are built (or found in the
# cache) with their progress shown, then the check runs; report in $(ARTIFACTS)/upgrade.{md,json,html}.
# Exit: 0 when the gate passed (EXPECT=report: whatever was found); make's "Error 1": the gate failed
# (EXPECT=no-disruption and a static pod, built-in, yours or kubeadm's beyond its manifest change, was
# disrupted; or, with either EXPECT, a post-upgrade behaviour failed or a node never got Ready);
# "Error 4": bad input, before any cluster; "Error 2": interrupted; make itself then exits 2.
upgrade-check: venv host-setup ## FROM=<v> [TO=<v>] [SCOPE=node|cluster] [MANIFESTS=dir] [BUILTIN=no] [EXPECT=no-disruption|report]: static pods through an upgrade; Error 1 gate failed, Error 4 bad input
	@$(PY) -m harness.upgrade.plan $(UPGRADE_PLAN_OPTS) || exit 4; \
	needed=$$($(PY) -m harness.upgrade.plan $(UPGRADE_PLAN_OPTS) --versions) \
	&& image=$$($(PY) -m harness.nodeimage choose --k8s-version=$(UPGRADE_CLUSTER_AT) --node-image=$(NODE_IMAGE)) \
	&& for version in $$needed; do $(PY) -m harness.nodeimage kubernetes --k8s-version=$$version >/dev/null || exit 1; done \
	&& $(PY) -m pytest tests/upgrade --sph-k8s-version=$(UPGRADE_CLUSTER_AT) --sph-node-image=$$image $(UPGRADE_OPTS) \
		--sph-kind-bin=$(KIND) --sph-artifacts-dir=$(ARTIFACTS) --junitxml=$(ARTIFACTS)/junit-upgrade.xml \
		$(if $(filter 1 yes true,$(KEEP_CLUSTER)),--sph-keep-cluster) $(PYTEST_ARGS)

# Conformance: the catalogue on each version, one after another, results under
# $(ARTIFACTS)/<version>/, then the behaviour x version report $(ARTIFACTS)/conformance.{md,json,html}.
K8S_VERSIONS ?= $(shell $(PYTHON) -m harness.versions conformance)
conformance: venv host-setup ## the suite on each of K8S_VERSIONS, then the behaviour x version report
	$(PY) -m harness.tools.conformance matrix --artifacts=$(ARTIFACTS) --node-image=$(NODE_IMAGE) \
		--kind-bin=$(KIND) $(K8S_VERSIONS) -- $(XDIST) $(PYTEST_ARGS)

# One version into one result directory ($(ARTIFACTS)), as each CI job of a fan-out runs it.
conformance-version: venv host-setup ## one K8S_VERSION into one result directory, as a CI fan-out job
	$(PY) -m harness.tools.conformance version --result-dir=$(ARTIFACTS) --node-image=$(NODE_IMAGE) \
		--kind-bin=$(KIND) $(K8S_VERSION) -- $(XDIST) $(PYTEST_ARGS)

# Merge result directories (this machine's or other CI jobs') into $(ARTIFACTS)/conformance.*
ARTIFACTS_FROM ?=
report: venv ## merge result directories (ARTIFACTS_FROM) into ARTIFACTS/conformance.*
	$(PY) -m harness.reports.conformance --out=$(ARTIFACTS) $(ARTIFACTS_FROM)

# docs/findings.md, per version, from result directories: only what their tests recorded.
findings: venv ## docs/findings.md from result directories (ARTIFACTS_FROM)
	$(PY) -m harness.reports.findings --out=docs/findings.md $(ARTIFACTS_FROM)

# Each core behaviour BENCH_N times on one cluster (bench-single-node, deleted after): the kubelet's
# latency by its own timestamps, the harness's, and the difference; $(ARTIFACTS)/bench.{json,html}.
BENCH_N ?= 5
bench: venv host-setup ## each core behaviour BENCH_N times: the kubelet's latency and the harness's
	@$(CHOOSE_IMAGE) \
	&& $(PY) -m harness.tools.bench -n $(BENCH_N) --k8s-version=$(K8S_VERSION) --node-image=$$image \
		--kind-bin=$(KIND) --artifacts=$(ARTIFACTS)

# Figures for this machine: cluster creation, first static pod, mirror, removal, deletion.
measure: venv host-setup ## this machine's figures: cluster creation, first static pod, mirror, removal
	$(PY) -m harness.tools.measure --k8s-version=$(K8S_VERSION) --node-image=$(NODE_IMAGE) \
		--kind-config=$(KIND_CONFIG) --kind-bin=$(KIND)

# The suite N times, each round on fresh clusters (in parallel by JOBS, as make e2e), into
# $(ARTIFACTS)/soak/round-K/; each test stable, flaky or failing, and each round's wall time, in
# $(ARTIFACTS)/soak/soak.{md,json}. Non-zero when a test was not stable.
N ?= 10
soak: venv host-setup ## the suite N times (N=10): each test stable, flaky or failing
	@$(CHOOSE_IMAGE) && $(PY) -m harness.tools.soak -n $(N) --artifacts=$(ARTIFACTS)/soak -- \
		tests/e2e $(SUITE_OPTS) --sph-node-image=$$image

# The speed targets, measured one right after the other on this machine and printed (also in
# $(ARTIFACTS)/speed/speed.{md,json}): cluster creation against a plain `kind create cluster`, the
# suite serially and with JOBS workers, the behaviour tests on a warm cluster without the kubelet's
# deliberate waits. About 50 min on 2 cores; SPEED_STEPS picks some of creation,suite,warm.
SPEED_STEPS ?= creation,suite,warm
speed: venv host-setup ## the speed targets, measured and printed (about 50 min; SPEED_STEPS)
	@$(CHOOSE_IMAGE) && $(PY) -m harness.tools.speed --artifacts=$(ARTIFACTS)/speed --k8s-version=$(K8S_VERSION) \
		--node-image=$$image --kind-config=$(KIND_CONFIG) --kind-bin=$(KIND) --jobs=$(JOBS) --steps=$(SPEED_STEPS)
