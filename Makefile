# Top-level build for vmatop. Each part owns a build.mk fragment that adds
# its products to ALL, its test programs to TESTS, its benchmarks to BENCHES
# and its install steps to INSTALL_STEPS. Products go under $(BUILD)/.
#
#   make            build everything (-Wall -Wextra -Werror)
#   make check      install missing packages (as root), build, run every test
#   make bench      run the benchmarks (speed and memory; never in check)
#   make demo       run vmatop on its built-in demo workload
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean      remove $(BUILD)/

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PKG_CONFIG ?= pkg-config
PREFIX   ?= /usr/local
DESTDIR  ?=
VERSION  := 0.1.0

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Werror
override CFLAGS   := -std=gnu11 $(OPT) $(WARN) -fno-omit-frame-pointer $(CFLAGS)
override CPPFLAGS := -D_GNU_SOURCE -DVMATOP_VERSION=\"$(VERSION)\" -Iinclude -Itree -I$(BUILD) $(CPPFLAGS)

# pkg-config where the dependency ships a .pc file; plain -l otherwise.
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null || echo $(2))

ALL :=
TESTS :=
BENCHES :=
INSTALL_STEPS :=

.PHONY: all check bench bench-floor demo install clean deps fuzz format
all: real-all

include tree/build.mk
include preload/build.mk
include bpf/build.mk
include cli/build.mk
include tests/build.mk
include tests/fuzz/build.mk

real-all: $(ALL)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

deps:
	@bash scripts/deps.sh

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory $(TESTS)
	@bash tests/run-tests.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory all $(BENCHES)
	@bash bench/run-bench.sh $(BUILD)

# where the shim's overhead goes (builds variants; a few minutes)
bench-floor: deps
	@$(MAKE) --no-print-directory all $(BUILD)/tests/shim/shimtest
	@bash bench/shim-floor.sh $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh $(BUILD)

install: all $(INSTALL_STEPS)
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	for f in man/*.[1-8]; do \
		s=$${f##*.}; install -m 644 $$f $(DESTDIR)$(PREFIX)/share/man/man$$s/; done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

include bench/build.mk
