/*
 * symbolize.c - libdwfl-based symbolization (see symbolize.h).
 */
#include "symbolize.h"
#include "util.h"

#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct symbolizer {
	Dwfl *dwfl;
	const struct model *m;
	const struct proc *p;
	char *stale; /* per module: build-id differs */
};

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

struct symbolizer *sym_new(const struct model *m, const struct proc *p)
{
	struct symbolizer *s = xcalloc(1, sizeof(*s));
	s->m = m;
	s->p = p;
	s->stale = xcalloc(p->nmods + 1, 1);
	s->dwfl = dwfl_begin(&callbacks);
	if (!s->dwfl)
		return s;
	dwfl_report_begin(s->dwfl);
	for (size_t i = 0; i < p->nmods; i++) {
		const char *path = trace_str(m->t, p->mods[i].name);
		if (!path)
			continue;
		const char *base = strrchr(path, '/');
		Dwfl_Module *mod = dwfl_report_elf(s->dwfl, base ? base + 1 : path, path, -1,
						   p->mods[i].base, false);
		if (!mod)
			continue;
		const unsigned char *bits;
		GElf_Addr vaddr;
		int n = dwfl_module_build_id(mod, &bits, &vaddr);
		if (p->mods[i].bidlen && n > 0 &&
		    (n < p->mods[i].bidlen || memcmp(bits, p->mods[i].bid, p->mods[i].bidlen)))
			s->stale[i] = 1;
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
	return s;
}

const char *sym_name(struct symbolizer *s, uint64_t ip, char *buf, size_t len)
{
	uint64_t at = ip ? ip - 1 : ip; /* return address: look up the call */
	Dwfl_Module *mod = s->dwfl ? dwfl_addrmodule(s->dwfl, at) : NULL;
	if (!mod) {
		snprintf(buf, len, "0x%llx", (unsigned long long)ip);
		return buf;
	}
	const char *mname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	int stale = 0;
	for (size_t i = 0; i < s->p->nmods; i++)
		if (at >= s->p->mods[i].lo && at < s->p->mods[i].hi)
			stale = s->stale[i];
	GElf_Off off;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(mod, at, &off, &sym, NULL, NULL, NULL);
	if (name)
		snprintf(buf, len, "%s%s+0x%llx (%s)", stale ? "?" : "", name,
			 (unsigned long long)(off + 1), mname ? mname : "?");
	else {
		Dwarf_Addr lo;
		dwfl_module_info(mod, NULL, &lo, NULL, NULL, NULL, NULL, NULL);
		snprintf(buf, len, "%s+0x%llx", mname ? mname : "?",
			 (unsigned long long)(ip - lo));
	}
	return buf;
}

void sym_free(struct symbolizer *s)
{
	if (!s)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s->stale);
	free(s);
}
