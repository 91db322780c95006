/*
 * main.c - `vmatop`: command dispatch, --help and --version.
 */
#include "bpf_commands.h"
#include "commands.h"
#include "record.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: vmatop COMMAND [ARGS...]\n"
	"  record [-o FILE] [--stacks[=N]] -- CMD [ARGS...]   run CMD under the shim, write a trace\n"
	"  report [--json] FILE                               per-process summary of a trace\n"
	"  maps [--pid PID] [--at TIME] FILE                  mirrored map in /proc/PID/maps format\n"
	"  verify FILE                                        compare the mirror with the snapshots\n"
	"  dump [--pid PID] [--range LO-HI] FILE              the records, one a line, in replay order\n"
	"  attach -p PID [-d SECONDS] [-o FILE]               follow a running process with BPF\n"
	"  bench fork [--vmas LIST] [--seconds S]             fork latency against the VMA count\n"
	"  record and attach with BPF: add --mmap-lock for mmap_lock waits/holds and fork copy time\n"
	"  --help, --version\n"
	"See vmatop(1), libvmatop(7), vmatop-trace(5).\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("vmatop %s (trace format %d)\n", VMATOP_VERSION, 1);
		return 0;
	}
	if (!strcmp(cmd, "record"))
		return cmd_record(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "maps"))
		return cmd_maps(argc - 1, argv + 1);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(argc - 1, argv + 1);
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(cmd, "attach"))
		return cmd_attach(argc - 1, argv + 1);
	if (!strcmp(cmd, "bench"))
		return cmd_bench(argc - 1, argv + 1);
	if (!strcmp(cmd, "__fork-worker"))
		return cmd_fork_worker(argc - 1, argv + 1);
	fprintf(stderr, "vmatop: unknown command '%s'\n%s", cmd, usage);
	return EXIT_USAGE;
}
