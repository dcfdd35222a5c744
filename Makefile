# k8sadmission: build, demo, test, bench, fixtures.
CARGO ?= cargo
TARGET_DIR := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),$(CURDIR)/target)
SO := $(TARGET_DIR)/release/libk8sadmission.so
HOST := $(TARGET_DIR)/release/k8sadmission-host
CAPTURE ?= test_files/kube_audit_rest_sample.jsonl

.PHONY: all build demo test bench fixtures golden readme clean

all: build

## build: the release plugin, target/release/libk8sadmission.so, and its host
build:
	$(CARGO) build --release --lib
	$(CARGO) build --release -p k8sadmission-host

## demo: build the plugin and replay a shipped capture through it (CAPTURE=... for another)
demo: build
	$(HOST) --plugin $(SO) --metrics $(CAPTURE)

## test: formatting, clippy with -D warnings, docs without broken links, fixtures up to date,
## and every test (unit, runner, shared library, golden, follow, webhook, rules, examples)
test: build
	python3 testing/generate_fixtures.py --check
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet
	K8SADMISSION_SO=$(SO) $(CARGO) test --workspace

## bench: criterion benchmarks of field extraction
bench:
	$(CARGO) bench --bench extract

## fixtures: regenerate test_files/ from testing/scenarios.yaml and testing/k8s/ (and the captures)
fixtures:
	python3 testing/generate_fixtures.py

## golden: rewrite the expected field values of test_files/ (review the diff!)
golden: build
	UPDATE_GOLDEN=1 K8SADMISSION_SO=$(SO) $(CARGO) test --test golden

## readme: regenerate the README field and rules tables from the code and the rules
readme:
	UPDATE_README=1 $(CARGO) test --test readme
	UPDATE_README=1 $(CARGO) test --test rules readme

clean:
	$(CARGO) clean
