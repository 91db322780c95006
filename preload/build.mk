# preload/: libvmatop.so, the LD_PRELOAD shim (see preload/shim.h for the file map).
PRELOAD_SRCS := $(wildcard preload/*.c)
PRELOAD_OBJS := $(PRELOAD_SRCS:%.c=$(BUILD)/pic/%.o)
LIBVMATOP    := $(BUILD)/libvmatop.so
# libunwind is dlopen()ed by preload/stacks.c when stacks are asked for (its
# headers only at build time): the soname of the installed library.
PRELOAD_LIBS := -ldl -lpthread
LIBUNWIND_SONAME := $(or $(shell objdump -p "$$($(PKG_CONFIG) --variable=libdir libunwind 2>/dev/null)/libunwind.so" 2>/dev/null | sed -n 's/^ *SONAME *//p'),libunwind.so.8)
# The hooks are the target's hot path: link-time optimisation inlines the
# small helpers across files, -fno-plt calls libc (clock_gettime, errno)
# without the PLT stub.
PRELOAD_OPT  := -flto=auto -fno-plt

$(BUILD)/pic/preload/%.o: preload/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PRELOAD_OPT) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
		-DVMATOP_LIBUNWIND='"$(LIBUNWIND_SONAME)"' -MMD -MP -c -o $@ $<

$(LIBVMATOP): $(PRELOAD_OBJS)
	$(CC) $(CFLAGS) $(PRELOAD_OPT) -fPIC -shared -o $@ $^ -Wl,-z,now -Wl,--no-undefined $(PRELOAD_LIBS)

ALL += $(LIBVMATOP)

.PHONY: install-preload
install-preload: $(LIBVMATOP)
	install -d $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(LIBVMATOP) $(DESTDIR)$(PREFIX)/lib/
INSTALL_STEPS += install-preload
