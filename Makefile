# static-pod-harness: end-to-end tests of the kubelet's static pods on kind clusters.
#
#   make e2e    set up the host (if needed), the node image, clusters; run the suite (JOBS in parallel)
#   make test   lint, unit tests, upstream citations, then the e2e suite (what CI runs)
#   make host-teardown [REMOVE_PACKAGES=1]   remove what host-setup added (as it recorded it)
#
# Settings (make variables, also pytest options of the same meaning):
#   K8S_VERSION   Kubernetes release, e.g. 1.34.4 (default), 1.33.13, 1.35.4
#   KIND_CONFIG   kind config path or name in kind-configs/ (default single-node)
#   NODE_IMAGE    auto | offline | official | <image>   (default auto)
#   ARTIFACTS     where reports and diagnostics go (default artifacts/)
#   KEEP_CLUSTER  1 keeps each kind config's cluster after the run (static-pods-<config>)
#   JOBS          tests run in parallel by this many pytest-xdist workers, each on clusters of its
#                 own (default 4); JOBS=1 runs them one after another in this process
#   PYTEST_ARGS   anything else for pytest, e.g. -k mirror -x
#
#   make upgrade-check FROM=1.30.14 TO=1.31.0 [KUBELET_BINARY=path] [EXPECT=no-disruption|report]
#                 a worker's kubelet upgraded in place under running static pods; report in
#                 $(ARTIFACTS)/upgrade.{md,json,html}
#   make speed [SPEED_STEPS=creation,suite,warm]   the speed targets, measured and printed
#   make soak N=10    the suite N times: each test stable, flaky or failing

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
PYTEST_ARGS ?=
JOBS ?= 4

# The suite's options, whoever runs it (make e2e, make soak, make speed).
SUITE_OPTS = --k8s-version=$(K8S_VERSION) --kind-config=$(KIND_CONFIG) --kind-bin=$(KIND) \
	$(if $(filter-out 0 1,$(JOBS)),-n $(JOBS)) $(PYTEST_ARGS)
E2E_OPTS = $(SUITE_OPTS) --artifacts-dir=$(ARTIFACTS) --junitxml=$(ARTIFACTS)/junit.xml \
	$(if $(filter 1 yes true,$(KEEP_CLUSTER)),--keep-cluster)
# The node image is chosen (and built, when offline) before pytest starts, so that a bad
# K8S_VERSION or NODE_IMAGE stops the run with one clear line and build progress shows.
CHOOSE_IMAGE = image=$$($(PY) -m harness.nodeimage choose --k8s-version=$(K8S_VERSION) --node-image=$(NODE_IMAGE))
RUN_E2E = $(CHOOSE_IMAGE) && $(PY) -m pytest tests/e2e $(E2E_OPTS) --node-image=$$image

.PHONY: e2e test unit unit-floors citations lint venv host-setup host-teardown node-image measure bench clean \
	upgrade-check conformance conformance-version report findings soak speed

e2e: venv host-setup
	@$(RUN_E2E)

test: venv host-setup lint unit citations
	@$(RUN_E2E)

unit: venv
	$(PY) -m pytest tests/unit -q -p no:cacheprovider --junitxml=$(ARTIFACTS)/junit-unit.xml

# The unit tests with every dependency at the floor pyproject.toml declares (>= read as ==), in a venv
# of their own: the floors are what the harness is known to work with.
FLOORS_VENV := .venv-floors
unit-floors:
	rm -rf $(FLOORS_VENV) && $(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install -q $$($(PYTHON) -c 'import tomllib; \
		print(" ".join(d.replace(">=", "==") for d in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
	$(FLOORS_VENV)/bin/python -m pip install -q --no-deps -e .
	$(FLOORS_VENV)/bin/python -m pytest tests/unit -q -p no:cacheprovider

# Every upstream test name quoted in tests/e2e exists in the file it cites (k8s.io/kubernetes from
# the Go module proxy).
citations: venv
	$(PY) -m harness.tools.citations

lint: venv
	$(VENV)/bin/ruff check harness tests
	$(VENV)/bin/ruff format --check harness tests
	for script in host/*.sh .ci/run; do bash -n $$script || exit 1; done
	if command -v shellcheck >/dev/null; then shellcheck -x host/*.sh; fi

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

host-setup:
	KIND_VERSION=$(KIND_VERSION) TOOLS_BIN=$(TOOLS_BIN) bash host/setup.sh

# Removes what host-setup added (as it recorded it): the runc wrapper and its registration,
# raised sysctls. Packages it installed only with REMOVE_PACKAGES=1, and never when apt would
# remove other packages with them. Never stops Docker.
REMOVE_PACKAGES ?=
host-teardown:
	REMOVE_PACKAGES=$(REMOVE_PACKAGES) bash host/teardown.sh

node-image: venv host-setup
	$(PY) -m harness.nodeimage build --k8s-version=$(K8S_VERSION)

# Removes what runs left behind (clusters of killed runs, node-image build containers), then the
# venv, tools and artifacts. Clusters kept on purpose (KEEP_CLUSTER=1) stay: `kind delete cluster`.
clean:
	if [ -x $(PY) ]; then $(PY) -m harness.provision.leftovers --remove --kind-bin=$(KIND); fi
	rm -rf $(VENV) $(FLOORS_VENV) .tools .pytest-kind $(ARTIFACTS)

FROM ?=
TO ?= $(K8S_VERSION)
KUBELET_BINARY ?=
EXPECT ?=
UPGRADE_OPTS = --upgrade-from=$(FROM) --upgrade-to=$(TO) $(if $(KUBELET_BINARY),--kubelet-binary=$(KUBELET_BINARY)) \
	$(if $(EXPECT),--expect=$(EXPECT))

# The plan is checked first (one line for bad input), then TO's node image and FROM's kubelet
# are built (or found in the cache) with their progress shown, then the check runs. A version
# the module proxy does not serve stops its build with one line.
upgrade-check: venv host-setup
	@$(PY) -m harness.upgrade.plan --from=$(FROM) --to=$(TO) $(if $(KUBELET_BINARY),--kubelet-binary=$(KUBELET_BINARY)) $(if $(EXPECT),--expect=$(EXPECT)) \
	&& image=$$($(PY) -m harness.nodeimage choose --k8s-version=$(TO) --node-image=$(NODE_IMAGE)) \
	&& $(PY) -m harness.nodeimage kubernetes --k8s-version=$(FROM) >/dev/null \
	&& $(PY) -m pytest tests/upgrade --k8s-version=$(TO) --node-image=$$image $(UPGRADE_OPTS) \
		--kind-bin=$(KIND) --artifacts-dir=$(ARTIFACTS) --junitxml=$(ARTIFACTS)/junit-upgrade.xml \
		$(if $(filter 1 yes true,$(KEEP_CLUSTER)),--keep-cluster) $(PYTEST_ARGS)

# Conformance: the catalogue on each version, one after another, results under
# $(ARTIFACTS)/<version>/, then the behaviour x version report $(ARTIFACTS)/conformance.{md,json,html}.
K8S_VERSIONS ?= $(shell $(PYTHON) -m harness.versions conformance)
conformance: venv host-setup
	$(PY) -m harness.tools.conformance matrix --artifacts=$(ARTIFACTS) --node-image=$(NODE_IMAGE) \
		--kind-bin=$(KIND) $(K8S_VERSIONS) -- $(PYTEST_ARGS)

# One version into one result directory ($(ARTIFACTS)), as each CI job of a fan-out runs it.
conformance-version: venv host-setup
	$(PY) -m harness.tools.conformance version --result-dir=$(ARTIFACTS) --node-image=$(NODE_IMAGE) \
		--kind-bin=$(KIND) $(K8S_VERSION) -- $(PYTEST_ARGS)

# Merge result directories (this machine's or other CI jobs') into $(ARTIFACTS)/conformance.*
ARTIFACTS_FROM ?=
report: venv
	$(PY) -m harness.reports.conformance --out=$(ARTIFACTS) $(ARTIFACTS_FROM)

# docs/findings.md, per version, from result directories: only what their tests recorded.
findings: venv
	$(PY) -m harness.reports.findings --out=docs/findings.md $(ARTIFACTS_FROM)

# Each core behaviour BENCH_N times on one cluster (bench-single-node, deleted after): the kubelet's
# latency by its own timestamps, the harness's, and the difference; $(ARTIFACTS)/bench.{json,html}.
BENCH_N ?= 5
bench: venv host-setup
	@$(CHOOSE_IMAGE) \
	&& $(PY) -m harness.tools.bench -n $(BENCH_N) --k8s-version=$(K8S_VERSION) --node-image=$$image \
		--kind-bin=$(KIND) --artifacts=$(ARTIFACTS)

# Figures for this machine: cluster creation, first static pod, mirror, removal, deletion.
measure: venv host-setup
	$(PY) -m harness.tools.measure --k8s-version=$(K8S_VERSION) --node-image=$(NODE_IMAGE) \
		--kind-config=$(KIND_CONFIG) --kind-bin=$(KIND)

# The suite N times, each round on fresh clusters (in parallel by JOBS, as make e2e), into
# $(ARTIFACTS)/soak/round-K/; each test stable, flaky or failing, and each round's wall time, in
# $(ARTIFACTS)/soak/soak.{md,json}. Non-zero when a test was not stable.
N ?= 10
soak: venv host-setup
	@$(CHOOSE_IMAGE) && $(PY) -m harness.tools.soak -n $(N) --artifacts=$(ARTIFACTS)/soak -- \
		tests/e2e $(SUITE_OPTS) --node-image=$$image

# The speed targets, measured one right after the other on this machine and printed (also in
# $(ARTIFACTS)/speed/speed.{md,json}): cluster creation against a plain `kind create cluster`, the
# suite serially and with JOBS workers, the behaviour tests on a warm cluster without the kubelet's
# deliberate waits. About 50 min on 2 cores; SPEED_STEPS picks some of creation,suite,warm.
SPEED_STEPS ?= creation,suite,warm
speed: venv host-setup
	@$(CHOOSE_IMAGE) && $(PY) -m harness.tools.speed --artifacts=$(ARTIFACTS)/speed --k8s-version=$(K8S_VERSION) \
		--node-image=$$image --kind-config=$(KIND_CONFIG) --kind-bin=$(KIND) --jobs=$(JOBS) --steps=$(SPEED_STEPS)
