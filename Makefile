# flowd: developer and CI entry points (GNU make). See README.md.
#
#   make run    build and start `flowd serve` (API + workers + scheduler)
#   make test   run every test
#
# Both use DATABASE_URL when it is set; otherwise scripts/pg.sh starts (and
# on later calls reuses) a private PostgreSQL cluster in .pgdata/.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Go lives in /usr/local/go on a fresh machine and is not always on PATH.
ifeq ($(shell command -v go 2>/dev/null),)
ifneq ($(wildcard /usr/local/go/bin/go),)
export PATH := /usr/local/go/bin:$(PATH)
endif
endif

GO ?= go
PG := scripts/pg.sh
FUZZTIME ?= 30s
FUZZMINIMIZETIME ?= 60s
TESTFLAGS ?=
BENCHFLAGS ?=

# DATABASE_URL when set (environment or make command line), else the private
# cluster's URL. Recipes assign it to a shell variable first (url="$(DB_URL)"),
# so that a failure of scripts/pg.sh stops the recipe.
DB_URL = $(if $(value DATABASE_URL),$$DATABASE_URL,$$($(PG) url))
# Prints a URL without its password.
REDACT = sed -E 's|(://[^:/@]*):[^@/]*@|\1:***@|'

.PHONY: help build run migrate test vet bench fuzz fuzz-short \
	pg-start pg-stop pg-status pg-url clean clean-db

help: ## list the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  make %-11s %s\n", $$1, $$2 }'

build: ## build bin/flowd
	$(GO) build -o bin/flowd ./cmd/flowd

# The local encryption key of `make run` when none is configured (README
# "Encryption at rest"): next to the private cluster's data, git-ignored.
LOCAL_KEY_FILE := $(CURDIR)/.pgdata/flowd.keys

run: build ## start flowd serve (API + workers + scheduler; applies migrations)
	@url="$(DB_URL)"; \
	echo "flowd serve with DATABASE_URL=$$($(REDACT) <<<"$$url")" >&2; \
	if [ -z "$${FLOWD_ENCRYPTION_KEYS-}" ] && [ -z "$${FLOWD_ENCRYPTION_KEY_FILE-}" ]; then \
		if [ ! -s "$(LOCAL_KEY_FILE)" ]; then \
			mkdir -p "$(dir $(LOCAL_KEY_FILE))"; \
			bin/flowd keys generate --file "$(LOCAL_KEY_FILE)" >/dev/null; \
			echo "make run: no encryption key configured; created $(LOCAL_KEY_FILE) (keep it: stored secrets need it)" >&2; \
		fi; \
		echo "make run: FLOWD_ENCRYPTION_KEY_FILE=$(LOCAL_KEY_FILE)" >&2; \
		export FLOWD_ENCRYPTION_KEY_FILE="$(LOCAL_KEY_FILE)"; \
	fi; \
	DATABASE_URL="$$url" FLOWD_ALLOW_NETWORKS="$${FLOWD_ALLOW_NETWORKS-}" exec bin/flowd serve

migrate: build ## apply River's and flowd's migrations
	@url="$(DB_URL)"; \
	DATABASE_URL="$$url" exec bin/flowd migrate

test: ## run every test (TESTFLAGS are passed to go test)
	@url="$(DB_URL)"; \
	echo "go test with DATABASE_URL=$$($(REDACT) <<<"$$url")" >&2; \
	DATABASE_URL="$$url" $(GO) test -count=1 -p 2 -timeout 15m $(TESTFLAGS) ./...

vet: ## go vet ./...
	$(GO) vet ./...

bench: ## run cmd/flowbench (BENCHFLAGS are passed to it)
	@url="$(DB_URL)"; \
	DATABASE_URL="$$url" $(GO) run ./cmd/flowbench $(BENCHFLAGS)

fuzz: ## run each fuzz target for FUZZTIME (default 30s), one after another
	@url="$(DB_URL)"; \
	DATABASE_URL="$$url" FUZZTIME='$(FUZZTIME)' FUZZMINIMIZETIME='$(FUZZMINIMIZETIME)' GO='$(GO)' scripts/fuzz.sh

fuzz-short: ## the same, 10,000 inputs each (CI; a count, not a duration: see scripts/fuzz.sh)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=10000x FUZZMINIMIZETIME=100x

pg-start: ## start the private PostgreSQL cluster (creating it if needed)
	@$(PG) start

pg-stop: ## stop the private PostgreSQL cluster
	@$(PG) stop

pg-status: ## is the private cluster running?
	@$(PG) status || true

pg-url: ## print the private cluster's DATABASE_URL (starting it if needed)
	@$(PG) url

clean: ## stop the private cluster, remove bin/ (keeps its data)
	rm -rf bin
	@$(PG) stop

clean-db: clean ## clean, and delete the private cluster's data too
	@$(PG) destroy
