# tests/fuzz/: `make fuzz` - libFuzzer on everything that reads a trace
# (tests/fuzz/fuzz_trace.c), built with clang and ASan+UBSan, seeded with
# real recordings (tests/fuzz/run.sh). FUZZ_SECONDS (default 300) bounds it.
FUZZ_TRACE := $(BUILD)/fuzz/fuzz_trace
FUZZ_SRCS  := tests/fuzz/fuzz_trace.c $(addprefix cli/,trace.c model.c aspace.c calltime.c dump.c bpf_model.c \
	report.c verify.c maps.c symbolize.c util.c) $(TREE_SRCS)

$(FUZZ_TRACE): $(FUZZ_SRCS) $(wildcard cli/*.h tree/*.h include/vmatop/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-DVMATOP_FUZZ -DMT_ALLOC_MALLOC $(CPPFLAGS) -Icli -o $@ $(FUZZ_SRCS) \
		$(call pc_libs,libdw,-ldw -lelf) $(TREE_T_LDLIBS)

fuzz: deps
	@$(MAKE) --no-print-directory all $(FUZZ_TRACE)
	@bash tests/fuzz/run.sh $(BUILD)
