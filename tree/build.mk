# tree/: the maple tree library (libmtree.a) and its benchmark.
TREE_SRCS := $(wildcard tree/*.c)
TREE_OBJS := $(TREE_SRCS:%.c=$(BUILD)/%.o)
LIBMTREE  := $(BUILD)/libmtree.a
# What a program linking libmtree.a needs: RCU mode uses liburcu (memb).
URCU_LIBS := $(call pc_libs,liburcu-memb,-lurcu-memb -lurcu-common)
MTREE_LIBS := $(LIBMTREE) $(URCU_LIBS) -lpthread

$(LIBMTREE): $(TREE_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

ALL += $(LIBMTREE)

.PHONY: install-tree
install-tree: $(LIBMTREE)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/vmatop
	install -m 644 $(LIBMTREE) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 tree/mtree.h $(DESTDIR)$(PREFIX)/include/vmatop/
INSTALL_STEPS += install-tree
