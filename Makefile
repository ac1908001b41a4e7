# llmdeck: a terminal operations console with an embedded multi-provider LLM router.
# make            build build/libllmdeck.a and build/llmdeck
# make test       build and run every test (unit, loopback integration, console)
# make asan       the same tests under AddressSanitizer and UndefinedBehaviorSanitizer
# make tsan       the same tests under ThreadSanitizer
# make bench      benchmarks; they print numbers, nothing asserts on time
# make bench-fleet  three serve on a throwaway PostgreSQL under 64 clients (~2 min; not in bench)
# make run        the console on simulated providers (demo)
# make screenshots  PNGs of the console into screenshots/
# make check-layers  fails on an include a folder's README does not allow, or a file it does not name
# make fuzz       libFuzzer harnesses (clang) into build-fuzz/, each run FUZZ_SECONDS (10)

CC      ?= cc
MAKEFLAGS += -j2
PKGS    := libcurl libcjson sqlite3 libcrypto libmicrohttpd libpq hiredis
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
           -Wshadow -Wundef -Wwrite-strings
CFLAGS  ?= -O2 -g
# One folder per subsystem (see each folder's README.md); headers are found by name.
CORE_DIRS := util config provider router store gateway
INCLUDES := -Icore -Itui
override CFLAGS += -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(shell pkg-config --cflags $(PKGS) ncursesw) $(INCLUDES)
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lpthread -lm
TUILIBS := $(shell pkg-config --libs ncursesw)
TESTLIBS:= $(shell pkg-config --libs cmocka)

B       ?= build
CORE_SRC := $(sort $(foreach d,$(CORE_DIRS),$(wildcard core/$(d)/*.c)))
SIM_SRC  := $(sort $(wildcard core/sim/*.c))
TUI_SRC  := $(sort $(wildcard tui/*.c tui/*/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(filter-out tests/bench_fleet.c,$(sort $(wildcard tests/bench_*.c)))
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
SIM_OBJ  := $(SIM_SRC:%.c=$(B)/%.o)
TUI_OBJ  := $(TUI_SRC:%.c=$(B)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/tests/%)
BENCHES  := $(BENCH_SRC:tests/%.c=$(B)/tests/%)
TEST_HELPERS := $(filter-out tests/test_% tests/bench_%,$(wildcard tests/*.c))
TEST_HELPER_OBJ := $(TEST_HELPERS:%.c=$(B)/%.o)
# One libFuzzer harness per parser (tests/fuzz/fuzz_NAME.c); `make test` replays
# each one's corpus and regression inputs through it (replay_NAME).
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_HELPERS := $(filter-out tests/fuzz/fuzz_% tests/fuzz/replay.c,$(wildcard tests/fuzz/*.c))
FUZZ_REPLAYS := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(B)/tests/fuzz/replay_%)

# libllmdeck.a is the router library; libllmsim.a the simulated providers (its own
# library: the router never links it; the binary and the tests do).
LIBS_A  := $(B)/libllmsim.a $(B)/libllmdeck.a

all: $(LIBS_A) $(B)/llmdeck

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libllmdeck.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libllmsim.a: $(SIM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/llmdeck: $(TUI_OBJ) $(LIBS_A)
	$(CC) $(CFLAGS) -o $@ $(TUI_OBJ) $(LIBS_A) $(TUILIBS) $(LDLIBS)

$(B)/tests/%: $(B)/tests/%.o $(TEST_HELPER_OBJ) $(LIBS_A)
	$(CC) $(CFLAGS) -o $@ $< $(TEST_HELPER_OBJ) $(LIBS_A) $(TESTLIBS) $(LDLIBS)

# Tests run two at a time (two cores); each prints its own cmocka report.
test: all $(TESTS) $(FUZZ_REPLAYS)
	@LLMDECK=$(abspath $(B)/llmdeck) B=$(B) tests/run-tests.sh $(TESTS) $(FUZZ_REPLAYS)

$(B)/tests/fuzz/replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o \
    $(FUZZ_HELPERS:%.c=$(B)/%.o) $(LIBS_A)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

asan:
	$(MAKE) B=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

# ThreadSanitizer decides whether the locking is right: any report fails the run.
tsan:
	$(MAKE) B=build-tsan CFLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" \
	    TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" test

bench: all $(BENCHES)
	@LLMDECK=$(abspath $(B)/llmdeck) tests/run-bench.sh $(BENCHES)

# The fleet on PostgreSQL (issue 17): a throwaway cluster, a sim, three serve, 64 clients.
bench-fleet: all $(B)/tests/bench_fleet
	@LLMDECK=$(abspath $(B)/llmdeck) tests/run-bench.sh $(B)/tests/bench_fleet

run: all
	$(B)/llmdeck --demo

# PNGs of the demo console in tmux, rendered by headless Chromium (apt: chromium aha).
screenshots: all
	LLMDECK=$(abspath $(B)/llmdeck) tests/screenshots.sh

C_FILES = $(sort $(wildcard core/*/*.[ch] tui/*.[ch] tui/*/*.[ch] tests/*.[ch]))
format:
	clang-format -i $(C_FILES)

# Fails if a file includes a folder its README.md's "May call:" line does not list.
check-layers:
	tests/check-layers.sh

# Fails if any file is not as clang-format would write it.
format-check:
	clang-format --dry-run -Werror $(C_FILES)

# Coverage-guided fuzzing: the core built with clang, instrumented for libFuzzer
# and under ASan and UBSan, linked with each harness. The run fails on any crash,
# leak or timeout, naming the harness and the input (tests/fuzz/run.sh).
FUZZ_CC      ?= clang
FUZZ_B       := build-fuzz
FUZZ_SECONDS ?= 10
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# The warnings are gcc's set; two clang adds are off: xvasprintf's format and the
# store's migrations (adjacent strings that make one step) are meant that way.
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -pthread $(WARN) \
                -Wno-format-nonliteral -Wno-string-concatenation \
                $(shell pkg-config --cflags $(PKGS)) $(INCLUDES)
FUZZ_LIB_OBJ := $(CORE_SRC:%.c=$(FUZZ_B)/%.o) $(SIM_SRC:%.c=$(FUZZ_B)/%.o) \
                $(FUZZ_HELPERS:%.c=$(FUZZ_B)/%.o)
FUZZ_OBJ     := $(FUZZ_SRC:%.c=$(FUZZ_B)/%.o)
FUZZERS      := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_B)/%)

$(FUZZ_LIB_OBJ): $(FUZZ_B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_OBJ): $(FUZZ_B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -MMD -MP -c -o $@ $<

$(FUZZ_B)/libfuzzcore.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZERS): $(FUZZ_B)/%: $(FUZZ_B)/tests/fuzz/%.o $(FUZZ_B)/libfuzzcore.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZERS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

clean:
	rm -rf build build-asan build-tsan $(FUZZ_B)

.PHONY: all test asan tsan bench bench-fleet run screenshots format format-check check-layers clean fuzz fuzz-build
.SECONDARY:
-include $(CORE_OBJ:.o=.d) $(SIM_OBJ:.o=.d) $(TUI_OBJ:.o=.d) $(TESTS:=.d) $(BENCHES:=.d) $(B)/tests/bench_fleet.d \
    $(TEST_HELPER_OBJ:.o=.d)
-include $(FUZZ_SRC:%.c=$(B)/%.d) $(FUZZ_HELPERS:%.c=$(B)/%.d) $(B)/tests/fuzz/replay.d
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, its themes (found from
# the binary at ../share/llmdeck/themes), the man page and a systemd unit for
# `llmdeck serve` (ExecReload sends SIGHUP). make uninstall removes them.
PREFIX    ?= /usr/local
BINDIR    := $(PREFIX)/bin
THEMEDIR  := $(PREFIX)/share/llmdeck/themes
MAN1DIR   := $(PREFIX)/share/man/man1
UNITDIR   := $(PREFIX)/lib/systemd/system

install: $(B)/llmdeck
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(THEMEDIR) $(DESTDIR)$(MAN1DIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(B)/llmdeck $(DESTDIR)$(BINDIR)/llmdeck
	install -m 0644 themes/*.theme $(DESTDIR)$(THEMEDIR)/
	install -m 0644 dist/llmdeck.1 $(DESTDIR)$(MAN1DIR)/llmdeck.1
	sed 's|@BINDIR@|$(BINDIR)|g' dist/llmdeck.service >$(DESTDIR)$(UNITDIR)/llmdeck.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/llmdeck.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/llmdeck $(DESTDIR)$(MAN1DIR)/llmdeck.1 \
	    $(DESTDIR)$(UNITDIR)/llmdeck.service $(THEMEDIR:%=$(DESTDIR)%)/*.theme
	-rmdir $(DESTDIR)$(THEMEDIR) $(DESTDIR)$(PREFIX)/share/llmdeck

.PHONY: install uninstall
