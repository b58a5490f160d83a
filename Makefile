# fleetdesk - see README.md. `make run` and `make test` do all set-up themselves.

CC      ?= gcc
PKGS    := libmicrohttpd jansson sqlite3 libsodium libcurl
# recursive (=) on purpose: expanded only after build/.deps has installed the packages
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lpthread -lm
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Isrc $(PKG_CFLAGS)
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DFD_TEST_HOOKS

SRC     := $(shell find src -name '*.c' | sort)
LIB_SRC := $(filter-out src/main.c,$(SRC))
ASM     := src/api/openapi_blob.S

WEB      := web/index.html $(shell find web/assets -type f 2>/dev/null | sort)

OBJ      := $(SRC:src/%.c=build/obj/%.o) build/obj/api/openapi_blob.o build/obj/web_assets.o
LIB_OBJ  := $(LIB_SRC:src/%.c=build/obj/%.o) build/obj/api/openapi_blob.o build/obj/web_assets.o
SOBJ     := $(SRC:src/%.c=build/asan/%.o) build/asan/api/openapi_blob.o build/asan/web_assets.o
SLIB_OBJ := $(LIB_SRC:src/%.c=build/asan/%.o) build/asan/api/openapi_blob.o build/asan/web_assets.o

UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
UNIT_SBIN  := $(UNIT_SRC:tests/unit/%.c=build/tests-asan/%)

PY      := /usr/bin/python3
DB      ?= ./fleetdesk.db
LISTEN  ?= 127.0.0.1:8080

.PHONY: FORCE all run test unit unit-asan api fuzz lint format bench clean deps
.DEFAULT_GOAL := all

all: build/fleetdesk

# --- system packages -------------------------------------------------------
build/.deps: scripts/install-deps.sh
	@mkdir -p build
	@scripts/install-deps.sh
	@touch $@
deps: build/.deps

# --- the binary --------------------------------------------------------------
build/obj/%.o: src/%.c | build/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@
build/obj/api/openapi_blob.o: $(ASM) openapi.json | build/.deps
	@mkdir -p $(dir $@)
	$(CC) -c $(ASM) -o $@
# the web app's files (web/), embedded; the list is re-read on every make
build/gen/web_assets.S: scripts/gen-web-assets.sh $(WEB) FORCE
	@mkdir -p $(dir $@)
	@scripts/gen-web-assets.sh > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi
build/obj/web_assets.o build/asan/web_assets.o: build/gen/web_assets.S $(WEB)
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
FORCE:
build/fleetdesk: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# --- the same under AddressSanitizer + UndefinedBehaviorSanitizer ------------
build/asan/%.o: src/%.c | build/.deps
	@mkdir -p $(dir $@)
	@echo "  CC-SAN  $<"
	@$(CC) $(ALL_CFLAGS) $(SAN) -O1 -MMD -MP -c $< -o $@
build/asan/api/openapi_blob.o: $(ASM) openapi.json | build/.deps
	@mkdir -p $(dir $@)
	$(CC) -c $(ASM) -o $@
build/fleetdesk-asan: $(SOBJ)
	$(CC) $(SAN) -g -o $@ $^ $(PKG_LIBS)

# --- unit tests (cmocka) ------------------------------------------------------
build/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_OBJ) $(PKG_LIBS) $(CMOCKA_LIBS)
build/tests-asan/%: tests/unit/%.c $(SLIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -o $@ $< $(SLIB_OBJ) $(PKG_LIBS) $(CMOCKA_LIBS)

unit: $(UNIT_BIN)
	@scripts/run-unit.sh unit $(UNIT_BIN)
unit-asan: $(UNIT_SBIN)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 scripts/run-unit.sh unit-asan $(UNIT_SBIN)

# --- black-box API tests against the sanitizer build ------------------------
api: build/fleetdesk-asan
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		FLEETDESK_BIN=build/fleetdesk-asan $(PY) tests/api/run.py

# --- fuzzing (libFuzzer, clang) -------------------------------------------
fuzz: build/.deps
	@scripts/run-fuzz.sh

lint:
	@scripts/lint.sh

format:
	clang-format -i $(SRC) $(shell find src tests/unit fuzz -name '*.h' -o -name '*.c' | grep -v '^src/.*\.c$$')

# --- everything: every suite runs, then one summary line ------------------
test: build/.deps
	@rm -rf build/results && mkdir -p build/results
	@$(MAKE) --no-print-directory unit || true
	@$(MAKE) --no-print-directory unit-asan || true
	@$(MAKE) --no-print-directory api || true
	@$(MAKE) --no-print-directory fuzz || true
	@$(MAKE) --no-print-directory lint || true
	@scripts/summary.sh unit unit-asan api fuzz lint

# --- the demo -----------------------------------------------------------------
run: build/fleetdesk
	@scripts/run-demo.sh "$(DB)" "$(LISTEN)"

bench: build/fleetdesk
	@scripts/install-deps.sh --bench
	@bench/run.sh

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(SOBJ:.o=.d)
