# bench/: benchmark programs (make bench).

# ---- tree benchmark (bench/mtree-bench.c, bench/bench-tree.sh) ----------
MTREE_BENCH_LIBS := $(or $(filter-out $(LIBMTREE),$(MTREE_LIBS)),-lurcu-memb -lurcu-common -lpthread)

# more sections of the benchmark (e.g. the RCU readers, bench/rcu_bench.c)
# add their objects here: MTREE_BENCH_EXTRA_OBJS += $(BUILD)/bench/rcu_bench.o
MTREE_BENCH_EXTRA_OBJS ?=
MTREE_BENCH_EXTRA_OBJS += $(BUILD)/bench/rcu_bench.o

$(BUILD)/mtree-bench: $(BUILD)/bench/mtree-bench.o $(MTREE_BENCH_EXTRA_OBJS) $(LIBMTREE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(MTREE_BENCH_LIBS)

BENCHES += $(BUILD)/mtree-bench
# ---- end of tree benchmark ------------------------------------------------
