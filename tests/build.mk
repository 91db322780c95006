# tests/: test programs. Every $(BUILD)/tests/*.t is run by tests/run-tests.sh
# under prove (TAP); tests/*.t shell scripts are run too.

# ---- tree tests (tests/tree/) -------------------------------------------
# build/tests/tree-{diff,dup,edge}.t link libmtree.a (the pattern rule builds
# any tests/tree/NAME.c into build/tests/tree-NAME.t with the shared helpers
# tests/tree/common.c); tree-diff-asan.t and tree-dup-asan.t rebuild the tree
# sources with ASan+UBSan (and MT_ALLOC_MALLOC); tests/tree-valgrind.t runs
# tree-dup.t and tree-edge.t under valgrind. `make tree-tests` runs just these.
TREE_T_COMMON := $(BUILD)/tests/tree/common.o
TREE_T_NAMES  := diff dup edge
TREE_T_PROGS  := $(TREE_T_NAMES:%=$(BUILD)/tests/tree-%.t)
TREE_T_ASAN   := $(BUILD)/tests/tree-diff-asan.t $(BUILD)/tests/tree-dup-asan.t
# what libmtree.a needs besides itself (tree/build.mk's MTREE_LIBS: liburcu)
TREE_T_LDLIBS := $(or $(filter-out $(LIBMTREE),$(MTREE_LIBS)),-lurcu-memb -lurcu-common -lpthread)
TREE_T_SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -DMT_ALLOC_MALLOC \
	-fno-omit-frame-pointer

$(BUILD)/tests/tree/%.o: CPPFLAGS += -Itests -Itests/tree

$(BUILD)/tests/tree-%.t: $(BUILD)/tests/tree/%.o $(TREE_T_COMMON) $(LIBMTREE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(TREE_T_LDLIBS)

$(BUILD)/tests/tree-%-asan.t: tests/tree/%.c tests/tree/common.c tests/tree/common.h \
		tests/tap.h $(TREE_SRCS) $(wildcard tree/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) $(CPPFLAGS) -Itests -Itests/tree -DTREE_TEST_QUICK \
		$(TREE_T_SANFLAGS) -o $@ tests/tree/$*.c tests/tree/common.c $(TREE_SRCS) \
		$(TREE_T_LDLIBS)

.PHONY: tree-tests
tree-tests: $(TREE_T_PROGS) $(TREE_T_ASAN)
	@TESTS_ONLY="$(TREE_T_PROGS) $(TREE_T_ASAN) tests/tree-valgrind.t" \
		bash tests/run-tests.sh $(BUILD) tree

TESTS += $(TREE_T_PROGS) $(TREE_T_ASAN)
# ---- end of tree tests ---------------------------------------------------

# ---- bpf tests (tests/bpf/) ------------------------------------------------
# build/tests/bpf-{mirror,fork,lock}.t: the BPF source (cli/bpf_collector.c)
# and its reference mirror (cli/bpf_mirror.c) against real programs in the
# real kernel; they print "1..0 # SKIP" when not root or without BPF.
# build/tests/bpf/: the workloads (wl_*) and bpfcheck, a debugging driver.
BPFT_NAMES   := mirror fork lock
BPFT_PROGS   := $(BPFT_NAMES:%=$(BUILD)/tests/bpf-%.t) $(BUILD)/tests/bpf-order.t
BPFT_HARNESS := $(BUILD)/tests/bpf/harness.o \
	$(addprefix $(BUILD)/cli/,bpf_collector.o bpf_order.o bpf_mirror.o)
BPFT_WL      := $(addprefix $(BUILD)/tests/bpf/,wl_mix wl_lock wl_fork bpfcheck ovh)
BPFT_LIBC_A  := $(shell $(CC) -print-file-name=libc.a)
ifneq ($(wildcard $(BPFT_LIBC_A)),)
BPFT_WL      += $(BUILD)/tests/bpf/wl_mix_static
endif

$(BUILD)/tests/bpf/%.o: override CPPFLAGS += -Icli -Itests -Itests/bpf $(BPF_CPPFLAGS)
$(BUILD)/tests/bpf/%.o: $(if $(BPF_OK),$(BPF_SKELS))

$(BUILD)/tests/bpf-%.t: $(BUILD)/tests/bpf/t_%.o $(BPFT_HARNESS) | $(BPFT_WL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(BPF_LDLIBS)

# the ordering stage alone: no BPF, runs everywhere
$(BUILD)/tests/bpf-order.t: $(BUILD)/tests/bpf/t_order.o $(BUILD)/cli/bpf_order.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^

$(BUILD)/tests/bpf/bpfcheck: $(BUILD)/tests/bpf/bpfcheck.o $(BPFT_HARNESS)
	$(CC) $(CFLAGS) -o $@ $^ $(BPF_LDLIBS)

# the paired overhead measurement (bench/bench-bpf.sh)
$(BUILD)/tests/bpf/ovh: $(BUILD)/tests/bpf/ovh.o $(addprefix $(BUILD)/cli/,bpf_collector.o bpf_order.o)
	$(CC) $(CFLAGS) -o $@ $^ $(BPF_LDLIBS)

$(BUILD)/tests/bpf/wl_mix: tests/bpf/wl_mix.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -lpthread -ldl

$(BUILD)/tests/bpf/wl_mix_static: tests/bpf/wl_mix.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DWL_STATIC -static -o $@ $< -lpthread

$(BUILD)/tests/bpf/wl_%: tests/bpf/wl_%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -lpthread

# vmatop's BPF mode through the real commands (a TAP shell script)
$(BUILD)/tests/bpf-cli.t: tests/bpf/cli.sh | $(BPFT_WL) $(wildcard tests/shim/shimtest.c)
	@mkdir -p $(dir $@)
	cp $< $@ && chmod +x $@
BPFT_PROGS += $(BUILD)/tests/bpf-cli.t

.PHONY: bpf-tests
bpf-tests: $(BPFT_PROGS) $(BPFT_WL) $(VMATOP)
	@TESTS_ONLY="$(BPFT_PROGS)" bash tests/run-tests.sh $(BUILD) bpf

TESTS += $(BPFT_PROGS) $(BPFT_WL)
# ---- end of bpf tests --------------------------------------------------------

# ---- tree RCU stress (tests/tree/rcu.c) ------------------------------------
# build/tests/tree-rcu.t: one writer, two lock-free readers, 5 s (set
# RCU_STRESS_SECONDS to change); tests/tree-rcu-valgrind.t reruns it briefly
# under valgrind for leaks and invalid accesses.
TESTS += $(BUILD)/tests/tree-rcu.t

# The same test and the tree built with ThreadSanitizer, run by
# tests/tree-rcu-tsan.t (not a .t itself: it needs TSAN_OPTIONS).
$(BUILD)/tests/tree-rcu-tsan: tests/tree/rcu.c tests/tap.h $(TREE_SRCS) $(wildcard tree/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) $(CPPFLAGS) -Itests -O1 -g -fsanitize=thread -DMT_ALLOC_MALLOC \
		-o $@ tests/tree/rcu.c $(TREE_SRCS) $(TREE_T_LDLIBS)
TESTS += $(BUILD)/tests/tree-rcu-tsan
# ---- end of tree RCU stress ------------------------------------------------

# ---- cli unit tests (tests/cli/) ---------------------------------------------
# build/tests/cli-NAME.t: tests/cli/NAME_t.c against the cli/ module it names.
$(BUILD)/tests/cli/%.o: override CPPFLAGS += -Icli -Itests
$(BUILD)/tests/cli-calltime.t: $(BUILD)/tests/cli/calltime_t.o $(BUILD)/cli/calltime.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^
TESTS += $(BUILD)/tests/cli-calltime.t
$(BUILD)/tests/cli-tickclock.t: $(BUILD)/tests/cli/tickclock_t.o $(BUILD)/cli/tickclock.o $(BUILD)/cli/util.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^
TESTS += $(BUILD)/tests/cli-tickclock.t
# ---- end of cli unit tests ---------------------------------------------------

# ---- shim tests (tests/shim/, tests/shim-*.t) --------------------------------
# build/tests/shim/shimtest: scenario programs run under `vmatop record` by
# tests/shim-*.t (each ends with `vmatop verify` = 0 mismatches);
# build/tests/shim/static_map: a static program (record must say the shim
# never loaded); build/vmatop-demo: the demo workload (make demo,
# bench/bench-shim.sh).
SHIMT_PROGS := $(BUILD)/tests/shim/shimtest $(BUILD)/vmatop-demo

$(BUILD)/tests/shim/shimtest: tests/shim/shimtest.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -lpthread -ldl

# static_map: a static program (LD_PRELOAD ignored), when libc.a is installed
SHIMT_LIBC_A := $(shell $(CC) -print-file-name=libc.a)
ifneq ($(wildcard $(SHIMT_LIBC_A)),)
SHIMT_PROGS += $(BUILD)/tests/shim/static_map
endif
$(BUILD)/tests/shim/static_map: tests/shim/static_map.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -static -o $@ $<

# iomaps: kernel objects that map (liburing, libaio, userfaultfd), when their
# headers are installed (scripts/deps.sh installs liburing-dev, libaio-dev);
# tests/shim-io.t skips without it
SHIMT_IO_OK := $(shell printf '\#include <liburing.h>\n\#include <libaio.h>\n' | \
	$(CC) -E -x c - >/dev/null 2>&1 && echo yes)
ifeq ($(SHIMT_IO_OK),yes)
SHIMT_PROGS += $(BUILD)/tests/shim/iomaps
endif
$(BUILD)/tests/shim/iomaps: tests/shim/iomaps.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -luring -laio

$(BUILD)/vmatop-demo: scripts/demo-workload.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -lpthread

ALL += $(BUILD)/vmatop-demo
TESTS += $(SHIMT_PROGS)

.PHONY: shim-tests
shim-tests: all $(SHIMT_PROGS)
	@TESTS_ONLY="$(wildcard tests/shim-*.t)" bash tests/run-tests.sh $(BUILD) shim
# ---- end of shim tests -------------------------------------------------------
