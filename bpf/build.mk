# bpf/: the BPF programs (libbpf CO-RE) and their bpftool skeletons.
#
#   $(BUILD)/vmlinux.h               bpftool btf dump of /sys/kernel/btf/vmlinux
#   $(BUILD)/bpf/vmatop.bpf.o        clang -target bpf
#   $(BUILD)/bpf/vmatop.skel.h       bpftool gen skeleton (same for _fentry)
#
# The userspace loader (cli/bpf_collector.c) includes the skeletons. When the
# toolchain or the kernel BTF is missing, BPF_OK is empty and the loader is
# built with -DVMATOP_NO_BPF: vmatop then runs without BPF mode, and says so.
#
# Exported to the other fragments:
#   BPF_CPPFLAGS  include flags for code that includes the skeletons
#   BPF_LDLIBS    libraries a program linking the loader needs
#   BPF_SKELS     the generated skeleton headers
#   BPF_LOADER_OBJS  cli/bpf_*.o, for the vmatop link and the tests

BPF_BTF   ?= /sys/kernel/btf/vmlinux
BPFTOOL_BIN := $(shell command -v $(BPFTOOL) 2>/dev/null || command -v /usr/sbin/bpftool 2>/dev/null)
BPF_ARCH  := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_OK    := $(shell command -v $(CLANG) >/dev/null 2>&1 && test -n "$(BPFTOOL_BIN)" && \
		test -r $(BPF_BTF) && test -r /usr/include/bpf/libbpf.h && echo 1)

BPF_SRCS  := bpf/vmatop.bpf.c bpf/vmatop_fentry.bpf.c
BPF_OBJS  := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.skel.h)
BPF_LOADER_SRCS := $(wildcard cli/bpf_*.c)
BPF_LOADER_OBJS := $(BPF_LOADER_SRCS:%.c=$(BUILD)/%.o)
BPF_CLANG_FLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror \
	-Wno-unused-function -I$(BUILD) -Ibpf -Iinclude

ifeq ($(BPF_OK),1)
BPF_CPPFLAGS := -I$(BUILD)/bpf -Ibpf
BPF_LDLIBS   := $(call pc_libs,libbpf,-lbpf) -lelf -lz

$(BUILD)/vmlinux.h: $(BPF_BTF)
	@mkdir -p $(dir $@)
	$(BPFTOOL_BIN) btf dump file $(BPF_BTF) format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/tstate.h include/vmatop/records.h $(BUILD)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CLANG_FLAGS) -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL_BIN) gen skeleton $< name $(subst .bpf.o,,$(notdir $<)) > $@.tmp && mv $@.tmp $@

ALL += $(BPF_SKELS)
else
BPF_CPPFLAGS := -Ibpf -DVMATOP_NO_BPF
BPF_LDLIBS   :=
$(info vmatop: BPF mode disabled at build time (need clang, bpftool, libbpf-dev and $(BPF_BTF)))
endif

# the loader includes the skeletons (override: the top Makefile's CPPFLAGS is
# an override variable)
$(BPF_LOADER_OBJS): override CPPFLAGS += $(BPF_CPPFLAGS)
$(BPF_LOADER_OBJS): $(if $(BPF_OK),$(BPF_SKELS)) include/vmatop/records.h
.SECONDARY: $(BPF_OBJS)
