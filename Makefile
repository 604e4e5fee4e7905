# Kestrel — keyboard-driven terminal trading workstation.
#   make run     install missing Debian packages, build, launch on the bundled real replay (paper)
#   make test    install, build, run every test (release build, then the ASan+UBSan build)
#   make asan    sanitizer build of everything + the whole suite under it
#   make bench   benchmarks (JSON lines + a table)      make fuzz   libFuzzer targets (180 s each)
#   make install PREFIX=/usr/local DESTDIR=            make clean
VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
BUILD     ?= build/release
OPT       ?= -O2 -g
SANITIZE  ?=
FUZZ_SECONDS ?= 180
PKGS      := ncursesw libcjson sqlite3 libconfig zlib libwebsockets libcurl openssl openblas xgboost

# Recursive (=) so pkg-config runs after `deps` has installed what was missing.
# openblas and xgboost: headers only at build time; src/engine/deeplib.c loads them when a deep or
# tree model is made, so a process with the online models alone never maps them.
PKGS_DL   := openblas xgboost
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(filter-out $(PKGS_DL),$(PKGS))) -ldl
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Iinclude $(PKG_CFLAGS) -DKESTREL_VERSION=\"$(VERSION)\" \
             -DKESTREL_DATADIR=\"$(PREFIX)/share/kestrel\" $(OPT) $(SANITIZE) $(CFLAGS)
# --as-needed: a binary loads only the libraries it calls (OpenBLAS starts threads when loaded,
# hence deeplib.c).
LIBS_ALL   = -Wl,--as-needed $(PKG_LIBS) -lpthread -lm $(SANITIZE) $(LDFLAGS)

SRC       := $(sort $(shell find src -name '*.c' ! -path src/main.c))
OBJ       := $(SRC:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libkestrel.a
BIN       := $(BUILD)/kestrel
TEST_SRC  := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN  := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
BENCH_BIN += $(BUILD)/bench/fakefeed # live_loopback's market-data source (not a bench)
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps run test asan bench fuzz install uninstall clean build-all check-suite

all: $(BIN)

deps:
	@sh tools/deps.sh

build-all: $(BIN) $(TEST_BIN) $(BENCH_BIN)

# The networks' dense loops (one step's vector-matrix products, the activations) are written to
# vectorise at -O3; -O2 leaves them scalar (LSTM inference 37 -> 26 us in bench_models).
NN_SRC    := src/engine/nn.c src/engine/lstm.c src/engine/cnn.c src/engine/transformer.c
$(NN_SRC:%.c=$(BUILD)/%.o): CFLAGS_ALL += -O3

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB): $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/src/main.o $(LIB)
	$(CC) -o $@ $< $(LIB) $(LIBS_ALL)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(LIB) $(LIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(LIBS_ALL)

run: deps
	@$(MAKE) --no-print-directory all
	$(BIN) $(ARGS)

# The whole suite twice: the optimised build, then ASan+UBSan. One closing line sums both.
test: deps
	@sh tools/deps.sh test
	@$(MAKE) --no-print-directory build-all
	@$(MAKE) --no-print-directory build-all BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
	@sh tests/run.sh build/release build/asan

asan: deps
	@sh tools/deps.sh test
	@$(MAKE) --no-print-directory build-all BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
	@sh tests/run.sh build/asan

check-suite: build-all
	@sh tests/run.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory build-all
	@sh bench/run.sh $(BUILD)

fuzz: deps
	@sh tools/deps.sh fuzz
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/kestrel/themes $(DESTDIR)$(PREFIX)/share/kestrel/replay \
	    $(DESTDIR)$(PREFIX)/share/kestrel/instruments \
	    $(DESTDIR)$(PREFIX)/share/doc/kestrel
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/kestrel
	install -m 0644 man/kestrel.1 $(DESTDIR)$(PREFIX)/share/man/man1/kestrel.1
	install -m 0644 themes/*.theme $(DESTDIR)$(PREFIX)/share/kestrel/themes/
	install -m 0644 data/replay/* $(DESTDIR)$(PREFIX)/share/kestrel/replay/
	install -m 0644 data/instruments/* $(DESTDIR)$(PREFIX)/share/kestrel/instruments/
	install -m 0644 config/kestrel.cfg $(DESTDIR)$(PREFIX)/share/doc/kestrel/kestrel.cfg.example

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/kestrel $(DESTDIR)$(PREFIX)/share/man/man1/kestrel.1
	rm -rf $(DESTDIR)$(PREFIX)/share/kestrel $(DESTDIR)$(PREFIX)/share/doc/kestrel

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(BUILD)/src/main.d
