# llmdeck: a terminal operations console with an embedded multi-provider LLM router.
# make            build build/libllmdeck.a and build/llmdeck
# make test       build and run every test (unit, loopback integration, console)
# make asan       the same tests under AddressSanitizer and UndefinedBehaviorSanitizer
# make bench      benchmarks; they print numbers, nothing asserts on time
# make run        the console on simulated providers (demo)
# make screenshots  PNGs of the console into screenshots/

CC      ?= cc
MAKEFLAGS += -j2
PKGS    := libcurl libcjson sqlite3 libcrypto libmicrohttpd
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
           -Wshadow -Wundef -Wwrite-strings
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(shell pkg-config --cflags $(PKGS) ncursesw) -Icore
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lpthread -lm
TUILIBS := $(shell pkg-config --libs ncursesw)
TESTLIBS:= $(shell pkg-config --libs cmocka)

B       ?= build
CORE_SRC := $(sort $(wildcard core/*.c))
TUI_SRC  := $(sort $(wildcard tui/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard tests/bench_*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
TUI_OBJ  := $(TUI_SRC:%.c=$(B)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/tests/%)
BENCHES  := $(BENCH_SRC:tests/%.c=$(B)/tests/%)
TEST_HELPERS := $(filter-out tests/test_% tests/bench_%,$(wildcard tests/*.c))
TEST_HELPER_OBJ := $(TEST_HELPERS:%.c=$(B)/%.o)

all: $(B)/libllmdeck.a $(B)/llmdeck

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libllmdeck.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/llmdeck: $(TUI_OBJ) $(B)/libllmdeck.a
	$(CC) $(CFLAGS) -o $@ $(TUI_OBJ) $(B)/libllmdeck.a $(TUILIBS) $(LDLIBS)

$(B)/tests/%: $(B)/tests/%.o $(TEST_HELPER_OBJ) $(B)/libllmdeck.a
	$(CC) $(CFLAGS) -o $@ $< $(TEST_HELPER_OBJ) $(B)/libllmdeck.a $(TESTLIBS) $(LDLIBS)

# Tests run two at a time (two cores); each prints its own cmocka report.
test: all $(TESTS)
	@LLMDECK=$(abspath $(B)/llmdeck) B=$(B) tests/run-tests.sh $(TESTS)

asan:
	$(MAKE) B=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

bench: all $(BENCHES)
	@LLMDECK=$(abspath $(B)/llmdeck) tests/run-bench.sh $(BENCHES)

run: all
	$(B)/llmdeck --demo

# PNGs of the demo console in tmux, rendered by headless Chromium (apt: chromium aha).
screenshots: all
	LLMDECK=$(abspath $(B)/llmdeck) tests/screenshots.sh

format:
	clang-format -i core/*.[ch] tui/*.[ch] tests/*.[ch]

# Fails if any file is not as clang-format would write it.
format-check:
	clang-format --dry-run -Werror core/*.[ch] tui/*.[ch] tests/*.[ch]

clean:
	rm -rf build build-asan

.PHONY: all test asan bench run screenshots format format-check clean
.SECONDARY:
-include $(CORE_OBJ:.o=.d) $(TUI_OBJ:.o=.d) $(TESTS:=.d)
