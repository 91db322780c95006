# cli/: the vmatop binary. One .c + .h per responsibility (see each file's
# header comment); extra sources (cli/bpf_*.c) join through cli/source.h.
CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
VMATOP   := $(BUILD)/vmatop
CLI_LIBS ?=
CLI_LIBS += $(call pc_libs,libdw,-ldw -lelf) $(BPF_LDLIBS)

$(VMATOP): $(CLI_OBJS) $(LIBMTREE)
	$(CC) -o $@ $(CLI_OBJS) $(or $(MTREE_LIBS),$(LIBMTREE)) $(CLI_LIBS)

ALL += $(VMATOP)

.PHONY: install-cli
install-cli: $(VMATOP)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(VMATOP) $(DESTDIR)$(PREFIX)/bin/
INSTALL_STEPS += install-cli
