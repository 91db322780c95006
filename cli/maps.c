/*
 * maps.c - `vmatop maps [--pid PID] [--at TIME] FILE`: the mirrored map of
 * one process, in the exact format of /proc/PID/maps, at the end of the
 * trace or at TIME after the start of the recording.
 */
#include "commands.h"
#include "model.h"
#include "trace.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char maps_usage[] =
	"usage: vmatop maps [--pid PID] [--at TIME] FILE\n"
	"  Print the mirrored map like /proc/PID/maps (default: the first process, at the end).\n"
	"  TIME is relative to the start of the recording: 1.5, 1.5s, 200ms, 10us, 100ns.\n";

int cmd_maps(int argc, char **argv)
{
	long pid = -1;
	int64_t at = -1;
	int c;
	static const struct option opts[] = {{"pid", required_argument, NULL, 'p'},
					     {"at", required_argument, NULL, 't'},
					     {"help", no_argument, NULL, 'h'}, {0}};
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			char *end;
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "vmatop maps: --pid %s: not a process id\n%s", optarg,
					maps_usage);
				return EXIT_USAGE;
			}
			break;
		}
		case 't':
			at = parse_duration(optarg);
			if (at < 0) {
				fprintf(stderr, "vmatop maps: --at %s: not a time (e.g. 1.5s, 200ms)\n%s",
					optarg, maps_usage);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(maps_usage, stdout);
			return 0;
		default:
			fputs(maps_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(maps_usage, stderr);
		return EXIT_USAGE;
	}
	struct trace t;
	struct model m;
	model_load(&m, &t, argv[optind], at);
	struct proc *p = NULL;
	for (size_t i = 0; i < m.nprocs; i++) {
		if (pid < 0 && m.procs[i]->announced) {
			p = m.procs[i];
			break;
		}
		if (pid >= 0 && m.procs[i]->pid == (uint32_t)pid)
			p = m.procs[i]; /* the latest image of pid */
	}
	int rc = 0;
	if (!p) {
		if (pid >= 0)
			warnx_("%s: no process %ld in the trace%s", t.path, pid,
			       at >= 0 ? " at that time" : "");
		else
			warnx_("%s: no process in the trace%s", t.path, at >= 0 ? " at that time" : "");
		rc = EXIT_USAGE;
	} else {
		aspace_print(&m, p->as, stdout);
	}
	model_unload(&m);
	return rc;
}
