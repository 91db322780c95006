/*
 * report.c - `vmatop report [--json] FILE`: per process (one entry per
 * process image: pid, parent, command), VMAs now and at peak, records by
 * type, lost records, forks with latency percentiles and the VMA count at
 * each fork, spawns, how the mirror learnt its VMAs (observed through a
 * call, inside a libc call, discovered), snapshots, and the top call sites
 * creating VMAs when stacks were recorded.
 */
#include "bpf_model.h"
#include "commands.h"
#include "model.h"
#include "symbolize.h"
#include "trace.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char report_usage[] = "usage: vmatop report [--json] FILE\n"
			    "  Summarise a trace per process (--json: machine-readable).\n";

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The process exec'd (the call did not return) and no image of the shim's
 * followed: the program ignores LD_PRELOAD (static, set-user-ID). */
static int exec_not_followed(const struct proc *p) { return p->exec_tried && !p->execed; }

struct lat {
	size_t n;
	uint64_t p50, p90, p99, max;
};

static struct lat lat_of(const uint64_t *v0, size_t n)
{
	struct lat l = {.n = n};
	if (!n)
		return l;
	uint64_t *v = xmalloc(n * sizeof(*v));
	memcpy(v, v0, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u64);
	l.p50 = pct_u64(v, n, 50);
	l.p90 = pct_u64(v, n, 90);
	l.p99 = pct_u64(v, n, 99);
	l.max = v[n - 1];
	free(v);
	return l;
}

static int cmp_site(const void *a, const void *b)
{
	const struct site *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static size_t total_mismatches(const struct proc *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nsnaps; i++)
		n += p->snaps[i].mismatches;
	return n;
}

static void fork_lat(const struct proc *p, struct lat *l, struct lat *cl)
{
	uint64_t *v = xmalloc((p->nforks + 1) * sizeof(*v));
	uint64_t *c = xmalloc((p->nforks + 1) * sizeof(*c));
	size_t nc = 0;
	for (size_t i = 0; i < p->nforks; i++) {
		v[i] = p->forks[i].ns;
		if (p->forks[i].child_ns)
			c[nc++] = p->forks[i].child_ns;
	}
	*l = lat_of(v, p->nforks);
	*cl = lat_of(c, nc);
	free(v);
	free(c);
}

/*
 * Exec generations: a pid that exec'd has one process entry per image. An
 * image's generation is 0 for the first image of the pid, n + 1 after an image
 * of generation n was replaced by exec (model: execed); gen[i] and the
 * number of images of its pid, ngen[i], per m->procs[i].
 */
struct gen_idx {
	uint32_t pid;
	size_t i;
};

static int cmp_gen_idx(const void *a, const void *b)
{
	const struct gen_idx *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static void exec_generations(const struct model *m, unsigned *gen, unsigned *ngen)
{
	struct gen_idx *v = xmalloc((m->nprocs ? m->nprocs : 1) * sizeof(*v));
	for (size_t i = 0; i < m->nprocs; i++)
		v[i] = (struct gen_idx){m->procs[i]->pid, i};
	qsort(v, m->nprocs, sizeof(*v), cmp_gen_idx);
	size_t chain = 0; /* first entry of the current exec chain in v */
	for (size_t k = 0; k < m->nprocs; k++) {
		int cont = k && v[k - 1].pid == v[k].pid && m->procs[v[k - 1].i]->execed;
		if (!cont)
			chain = k;
		gen[v[k].i] = (unsigned)(k - chain);
		for (size_t j = chain; j <= k; j++)
			ngen[v[j].i] = (unsigned)(k - chain + 1);
	}
	free(v);
}

/* time in memory calls (the shim's dur), JSON */
static void call_time_json(const struct proc *p, FILE *f)
{
	fprintf(f, ", \"call_time\": ");
	if (p->nodur) {
		fprintf(f, "null");
		return;
	}
	fputc('{', f);
	int first = 1;
	for (int k = 0; k < CALLTIME_NTYPES; k++) {
		const struct calltime *c = p->ct[k];
		if (!c || !c->n)
			continue;
		fprintf(f,
			"%s\"%s\": {\"count\": %llu, \"total_ns\": %llu, \"p50_ns\": %llu, "
			"\"p90_ns\": %llu, \"p99_ns\": %llu, \"max_ns\": %llu}",
			first ? "" : ", ", vmt_type_name(CALLTIME_FIRST + k), (unsigned long long)c->n,
			(unsigned long long)c->total, (unsigned long long)calltime_pct(c, 0.5),
			(unsigned long long)calltime_pct(c, 0.9), (unsigned long long)calltime_pct(c, 0.99),
			(unsigned long long)c->max);
		first = 0;
	}
	fputc('}', f);
}

/* ... text: one line per call type */
static void call_time_text(const struct proc *p, FILE *f)
{
	char b[6][32];
	int any = 0;
	for (int k = 0; k < CALLTIME_NTYPES; k++) {
		const struct calltime *c = p->ct[k];
		if (!c || !c->n)
			continue;
		if (!any)
			fprintf(f, "  time in memory calls (the real call):\n");
		any = 1;
		fprintf(f, "    %-14s %8llu  total %-9s p50 %-9s p90 %-9s p99 %-9s max %s\n",
			vmt_type_name(CALLTIME_FIRST + k), (unsigned long long)c->n,
			fmt_ns(c->total, b[0]), fmt_ns(calltime_pct(c, 0.5), b[1]),
			fmt_ns(calltime_pct(c, 0.9), b[2]), fmt_ns(calltime_pct(c, 0.99), b[3]),
			fmt_ns(c->max, b[4]));
	}
	if (p->nodur)
		fprintf(f, "  time in memory calls: not measured (recorded with --no-durations)\n");
}

static void report_json(struct model *m, FILE *f)
{
	unsigned *gen = xmalloc((m->nprocs + 1) * sizeof(*gen));
	unsigned *ngen = xmalloc((m->nprocs + 1) * sizeof(*ngen));
	exec_generations(m, gen, ngen);
	fprintf(f, "{\"trace\": ");
	json_str(f, m->t->path);
	fprintf(f, ", \"complete\": %s, \"records\": %zu, \"processes\": [", m->t->complete ? "true" : "false",
		m->t->nrec);
	for (size_t i = 0; i < m->nprocs; i++) {
		struct proc *p = m->procs[i];
		struct lat l, cl;
		fork_lat(p, &l, &cl);
		struct lat sp = lat_of(p->spawns, p->nspawns);
		fprintf(f, "%s\n  {\"pid\": %u, \"ppid\": %u, \"comm\": ", i ? "," : "", p->pid, p->ppid);
		json_str(f, p->comm);
		fprintf(f, ", \"cmd\": ");
		json_str(f, trace_str(m->t, p->cmd));
		/* exec generation of this image of pid, and how many images pid had */
		fprintf(f, ", \"exec_gen\": %u, \"exec_gens\": %u", gen[i], ngen[i]);
		fprintf(f,
			", \"vmas\": %zu, \"peak_vmas\": %zu, \"lost\": %llu, \"records\": %llu, "
			"\"forks\": {\"count\": %zu, \"p50_ns\": %llu, \"p90_ns\": %llu, \"p99_ns\": "
			"%llu, \"max_ns\": %llu, \"child_p50_ns\": %llu, \"vmas_at_fork\": [",
			aspace_count(p->as), p->peak, (unsigned long long)p->lost,
			(unsigned long long)p->records, l.n, (unsigned long long)l.p50,
			(unsigned long long)l.p90, (unsigned long long)l.p99,
			(unsigned long long)l.max, (unsigned long long)cl.p50);
		for (size_t k = 0; k < p->nforks; k++)
			fprintf(f, "%s%zu", k ? ", " : "", p->forks[k].vmas);
		fprintf(f, "]");
		bpf_report_json_forks(m, p, f);
		fprintf(f, "}, \"spawns\": {\"count\": %zu, \"p50_ns\": %llu, \"max_ns\": %llu}",
			sp.n, (unsigned long long)sp.p50, (unsigned long long)sp.max);
		fprintf(f, ", \"by_type\": {");
		int first = 1;
		for (unsigned t = 0; t < 256; t++) {
			if (!p->by_type[t] || t == VMT_VMA || t == VMT_STRING || t == VMT_STACK ||
			    t == VMT_LIST_END || t == VMT_MODULE)
				continue;
			fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", vmt_type_name(t),
				(unsigned long long)p->by_type[t]);
			first = 0;
		}
		fputc('}', f);
		call_time_json(p, f);
		fprintf(f,
			", \"vma_changes\": {\"observed\": %llu, \"indirect\": %llu, "
			"\"discovered\": %llu}, \"incomplete_lists\": %llu, \"snapshots\": %zu, "
			"\"mismatches\": %zu, \"exit_status\": %d, \"killed_by_signal\": %d, "
			"\"execed\": %s",
			(unsigned long long)p->changed[VMT_LIST_OBSERVE],
			(unsigned long long)p->changed[VMT_LIST_INDIRECT],
			(unsigned long long)p->changed[VMT_LIST_DISCOVER],
			(unsigned long long)p->lists_incomplete, p->nsnaps, total_mismatches(p),
			p->exit_status, p->killed_sig, p->execed ? "true" : "false");
		/* exec'd a program that never loaded the shim: its path, else null */
		fputs(", \"exec_not_followed\": ", f);
		if (exec_not_followed(p)) {
			const char *x = trace_str(m->t, p->exec_path);
			json_str(f, x ? x : "");
		} else {
			fputs("null", f);
		}
		bpf_report_json_proc(m, p, f);
		fputc('}', f);
	}
	fprintf(f, "\n]}\n");
	free(gen);
	free(ngen);
}

static void report_text(struct model *m, FILE *f)
{
	uint64_t dur = m->last_ts > m->t->hdr->start_ns ? m->last_ts - m->t->hdr->start_ns : 0;
	char b1[32], b2[32], b3[32], b4[32], b5[32];
	fprintf(f, "vmatop report: %s: %zu processes, %zu records, %s%s\n", m->t->path, m->nprocs,
		m->t->nrec, fmt_ns(dur, b1), m->t->complete ? "" : " (incomplete trace)");
	bpf_report_header(m, f);
	unsigned *gen = xmalloc((m->nprocs + 1) * sizeof(*gen));
	unsigned *ngen = xmalloc((m->nprocs + 1) * sizeof(*ngen));
	exec_generations(m, gen, ngen);
	for (size_t i = 0; i < m->nprocs; i++) {
		struct proc *p = m->procs[i];
		const char *cmd = trace_str(m->t, p->cmd);
		char img[64] = "";
		if (ngen[i] > 1)
			snprintf(img, sizeof(img), "  [image %u of %u%s]", gen[i] + 1, ngen[i],
				 gen[i] ? ", after exec" : "");
		fprintf(f, "\npid %u%s  ppid %u  %s%s  %s\n", p->pid, img, p->ppid, p->comm,
			p->cause == VMT_CAUSE_FORK ? " (fork child)" : "", cmd ? cmd : "");
		fprintf(f, "  VMAs now %zu, peak %zu; %llu records, %llu lost", aspace_count(p->as),
			p->peak, (unsigned long long)p->records, (unsigned long long)p->lost);
		if (p->execed) {
			fprintf(f, "; replaced by exec (image %u)", gen[i] + 2);
		} else {
			if (exec_not_followed(p)) {
				const char *xp = trace_str(m->t, p->exec_path);
				fprintf(f, "; exec'd %s, not followed (it never loaded the shim: "
					   "static or set-user-ID?)",
					xp ? xp : "a program");
			}
			if (p->killed_sig)
				fprintf(f, "; killed by signal %d", p->killed_sig);
			else if (p->exited || p->has_exit)
				fprintf(f, "; exit %d", p->exit_status);
		}
		fputc('\n', f);
		fprintf(f, "  calls:");
		for (unsigned t = VMT_FORK_PRE; t < 40; t++)
			if (p->by_type[t] && t != VMT_FORK_PRE)
				fprintf(f, " %s %llu", vmt_type_name(t), (unsigned long long)p->by_type[t]);
		fputc('\n', f);
		call_time_text(p, f);
		if (p->nforks) {
			struct lat l, cl;
			fork_lat(p, &l, &cl);
			fprintf(f, "  forks %zu: p50 %s  p90 %s  p99 %s  max %s", l.n, fmt_ns(l.p50, b1),
				fmt_ns(l.p90, b2), fmt_ns(l.p99, b3), fmt_ns(l.max, b4));
			if (cl.n)
				fprintf(f, "  (child side p50 %s)", fmt_ns(cl.p50, b5));
			fprintf(f, "\n  VMAs at fork:");
			for (size_t k = 0; k < p->nforks && k < 16; k++)
				fprintf(f, " %zu", p->forks[k].vmas);
			if (p->nforks > 16)
				fprintf(f, " ...");
			fputc('\n', f);
		}
		if (p->nspawns) {
			struct lat sp = lat_of(p->spawns, p->nspawns);
			fprintf(f, "  spawns %zu (posix_spawn, vfork; time the parent waited): p50 %s  max %s\n",
				sp.n, fmt_ns(sp.p50, b1), fmt_ns(sp.max, b2));
		}
		fprintf(f, "  VMA changes: %llu observed through calls, %llu inside library calls, %llu "
			   "discovered",
			(unsigned long long)p->changed[VMT_LIST_OBSERVE],
			(unsigned long long)p->changed[VMT_LIST_INDIRECT],
			(unsigned long long)p->changed[VMT_LIST_DISCOVER]);
		if (p->lists_incomplete)
			fprintf(f, "; %llu incomplete lists", (unsigned long long)p->lists_incomplete);
		fputc('\n', f);
		if (p->nsnaps)
			fprintf(f, "  snapshots %zu, mismatches %zu (see vmatop verify)\n", p->nsnaps,
				total_mismatches(p));
		bpf_report_text(m, p, f); /* fork split, mmap_lock, waiting stacks */
		if (p->nsites) {
			qsort(p->sites, p->nsites, sizeof(*p->sites), cmp_site);
			struct symbolizer *sy = sym_new(m, p);
			fprintf(f, "  top call sites creating VMAs:\n");
			for (size_t k = 0; k < p->nsites && k < 5; k++) {
				char nb[512];
				fprintf(f, "    %6llu  %s\n", (unsigned long long)p->sites[k].count,
					sym_name(sy, p->sites[k].ips[0], nb, sizeof(nb)));
				for (unsigned j = 1; j < p->sites[k].n && j < 5; j++)
					fprintf(f, "              <- %s\n",
						sym_name(sy, p->sites[k].ips[j], nb, sizeof(nb)));
			}
			sym_free(sy);
		}
	}
	free(gen);
	free(ngen);
}

int cmd_report(int argc, char **argv)
{
	int json = 0, c;
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'}, {0}};
	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'h') {
			fputs(report_usage, stdout);
			return 0;
		} else {
			fputs(report_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(report_usage, stderr);
		return EXIT_USAGE;
	}
	struct trace t;
	struct model m;
	model_load(&m, &t, argv[optind], -1);
	if (json)
		report_json(&m, stdout);
	else
		report_text(&m, stdout);
	model_unload(&m);
	return 0;
}
