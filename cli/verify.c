/*
 * verify.c - `vmatop verify FILE`: replay the trace and compare the mirror
 * with every ground-truth snapshot (/proc/self/maps taken by the shim at
 * exit, exec and on request). A snapshot never repairs the mirror; each
 * mismatch is printed as the kernel's and the mirror's maps lines. Exit 0
 * only when every snapshot matches, 1 otherwise, 2 for a bad trace.
 */
#include "bpf_model.h"
#include "commands.h"
#include "model.h"
#include "trace.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

const char verify_usage[] =
	"usage: vmatop verify FILE\n"
	"  Compare the mirror with every /proc/PID/maps snapshot in the trace, and (BPF traces)\n"
	"  with mm->map_count after every BPF record; exit 0 when all match.\n";

static const char *cause_name(unsigned c)
{
	switch (c) {
	case VMT_CAUSE_EXIT: return "exit";
	case VMT_CAUSE_EXEC: return "exec";
	case VMT_CAUSE_REQUEST: return "request";
	default: return "snapshot";
	}
}

int cmd_verify(int argc, char **argv)
{
	int c;
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(verify_usage, stdout);
			return 0;
		}
		fputs(verify_usage, stderr);
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fputs(verify_usage, stderr);
		return EXIT_USAGE;
	}
	struct trace t;
	struct model m;
	model_load(&m, &t, argv[optind], -1);
	size_t snaps = 0, bad = 0, incomplete = 0, procs = 0;
	uint64_t bpf_checks = 0, bpf_bad = 0; /* map_count after BPF records */
	for (size_t i = 0; i < m.nprocs; i++) {
		struct proc *p = m.procs[i];
		if (!p->announced)
			continue;
		procs++;
		uint64_t pc;
		bpf_bad += bpf_verify_proc(&m, p, stdout, &pc);
		bpf_checks += pc;
		if (!p->nsnaps) {
			printf("pid %u (%s): %zu VMAs mirrored, no snapshot (%s)\n", p->pid, p->comm,
			       aspace_count(p->as),
			       p->killed_sig ? "killed by a signal" : p->execed ? "exec without shim" : "none taken");
			continue;
		}
		for (size_t k = 0; k < p->nsnaps; k++) {
			struct snap_result *s = &p->snaps[k];
			const char *label = trace_str(&t, s->label);
			snaps++;
			bad += s->mismatches;
			printf("pid %u (%s) [%s%s%s]: %zu VMAs mirrored, %zu in kernel, %zu mismatches%s\n",
			       p->pid, p->comm, cause_name(s->cause), label ? " " : "", label ? label : "",
			       s->mirrored, s->kernel, s->mismatches,
			       s->incomplete ? " (snapshot incomplete: records lost)" : "");
			if (s->incomplete)
				incomplete++;
			for (size_t j = 0; j < s->nlines && j < 50; j++)
				printf("    %s\n", s->lines[j]);
			if (s->nlines > 50)
				printf("    ... %zu more\n", s->nlines - 50);
		}
		if (p->lost)
			printf("pid %u (%s): %llu records lost\n", p->pid, p->comm,
			       (unsigned long long)p->lost);
	}
	printf("verify: %zu processes, %zu snapshots, %zu mismatches\n", procs, snaps, bad);
	if (m.bpf)
		printf("verify: %llu map_count checks after BPF records, %llu mismatches\n",
		       (unsigned long long)bpf_checks, (unsigned long long)bpf_bad);
	int rc = (bad || incomplete || bpf_bad || (!snaps && !bpf_checks)) ? EXIT_FAIL : 0;
	if (!snaps && !bpf_checks)
		warnx_("%s: no snapshot to compare with (did the program run under the shim?)", t.path);
	model_unload(&m);
	return rc;
}
