# Gantry build.  `make` builds bin/gantry; `make test` runs unit and
# end-to-end tests and ends with "N passed, N failed"; `make bench` runs the
# benchmarks; `make fuzz` builds the libFuzzer harnesses (clang).
# Sanitizers: make SANITIZE=address,undefined test

CC ?= cc
PKGS := libmicrohttpd gnutls jansson yaml-0.1 sqlite3 libcurl zlib libarchive
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla
# snprintf truncation is deliberate (bounded paths and messages), not a bug class here.
WARN += -Wno-format-truncation
ifdef CI
WARN += -Werror
endif
OPT ?= -O2 -g
CFLAGS += -std=gnu17 $(OPT) $(WARN) -D_GNU_SOURCE -Isrc -Ibuild/gen $(PKG_CFLAGS) -pthread -MMD -MP
LDLIBS += $(PKG_LIBS) -pthread -lm

BUILD := build
GANTRY := bin/gantry
ifdef SANITIZE
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=$(SANITIZE)
BUILD := build/san
# A sanitizer build never replaces bin/gantry (benchmarks use that one).
GANTRY := build/san/gantry
endif

LIB_SRC := $(filter-out src/main.c src/rsh/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
GEN_SRC := $(wildcard build/gen/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all test unit e2e bench fuzz clean deps demo lint run
all: $(GANTRY)

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The MPI rsh agent, static so that it runs in any image; embedded in gantry
# (src/agent/rshblob.c) and written out by the node agent.  One build for
# every variant: no sanitizer (it cannot be static) and no -g.
RSH_SRC := src/rsh/main.c src/cli/rsh.c src/codec/json.c src/base/util.c src/base/err.c
build/gen/gantry-rsh: $(RSH_SRC)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -Os -D_GNU_SOURCE -Isrc $(shell pkg-config --cflags jansson 2>/dev/null) \
	  -static -ffunction-sections -fdata-sections -Wl,--gc-sections -s -o $@ $(RSH_SRC) \
	  -ljansson -pthread
$(BUILD)/obj/agent/rshblob.o: build/gen/gantry-rsh

$(BUILD)/libgantry.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(GANTRY): $(BUILD)/obj/main.o $(BUILD)/libgantry.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libgantry.a tests/unit/t.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libgantry.a $(LDLIBS)

unit: $(UNIT_BIN)
	@scripts/run-tests.sh unit $(UNIT_BIN)

e2e: $(GANTRY)
	@GANTRY_BIN=$(abspath $(GANTRY)) scripts/run-tests.sh e2e

test: deps $(GANTRY) $(UNIT_BIN)
	@GANTRY_BIN=$(abspath $(GANTRY)) BUILD_DIR=$(BUILD) scripts/run-tests.sh all $(UNIT_BIN)

bench: deps bin/gantry
	@scripts/run-bench.sh

# libFuzzer harnesses: build/fuzz/fuzz_*; each also runs its seed corpus in `make test`.
FUZZ_CFLAGS := -std=gnu17 -g -O1 -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined
fuzz: $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard tests/fuzz/*.h) build/gen/gantry-rsh
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(PKG_LIBS) -pthread -lm

# The same harnesses with a replay main(), run over their corpora by make test.
$(BUILD)/fuzz-replay/%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(BUILD)/libgantry.a $(wildcard tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(BUILD)/libgantry.a $(LDLIBS)

lint:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|gmtime|localtime)\(' $$(find src -name '*.c') || (echo "banned function used" && false)

run: deps bin/gantry
	bin/gantry server --data-dir $${GANTRY_DATA_DIR:-/tmp/gantry}

demo: deps bin/gantry
	@scripts/demo.sh

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
