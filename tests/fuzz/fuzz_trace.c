/*
 * fuzz_trace.c - libFuzzer target for everything that reads a trace: the
 * validating reader (cli/trace.c), the replay into the mirror (model.c,
 * aspace.c, bpf_model.c) and the read commands (report, report --json,
 * maps, maps --at, verify). Whatever the bytes, the answer must be a result
 * or a clear error (exit 2), never a crash, a hang or a sanitizer report.
 *
 * Built with -DVMATOP_FUZZ: diex() frees the command's trace and model
 * (cleanup below) and longjmps back here instead of exiting. Inputs
 * are written to a file in /dev/shm (the reader maps a path). Besides
 * libFuzzer's byte mutations, a custom mutator works on whole 96-byte
 * records (duplicate, drop, swap, move a field by a small amount, copy a
 * field from another record), so mutants keep the shape that passes the
 * reader and reach the replay. `make fuzz` (tests/fuzz/run.sh) seeds the
 * corpus with real recordings.
 */
#include "commands.h"
#include "model.h"
#include "trace.h"
#include "util.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/dev/shm/vmatop-fuzz-%d.vmt", (int)getpid());
	if (!freopen("/dev/null", "w", stdout))
		abort();
	return 0;
}

/* diex() in a command: free what it has open (its frames still exist) */
static void cleanup(void)
{
	if (fuzz_model)
		model_free(fuzz_model);
	if (fuzz_trace)
		trace_close(fuzz_trace);
}

static void run(int argc, char **argv, int (*cmd)(int, char **))
{
	jmp_buf env;
	fuzz_exit = &env;
	fuzz_cleanup = cleanup;
	if (setjmp(env) == 0)
		cmd(argc, argv);
	fuzz_exit = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	char *report_json[] = {"report", "--json", path, NULL};
	char *report_text[] = {"report", path, NULL};
	char *maps[] = {"maps", path, NULL};
	char *maps_at[] = {"maps", "--at", "1ms", path, NULL};
	char *verify[] = {"verify", path, NULL};
	char *dump[] = {"dump", "--all", path, NULL};
	run(3, report_json, cmd_report);
	run(2, report_text, cmd_report);
	run(2, maps, cmd_maps);
	run(4, maps_at, cmd_maps);
	run(2, verify, cmd_verify);
	run(3, dump, cmd_dump);
	return 0;
}

/* ---- record-level mutations ---- */

static uint64_t rnd(unsigned *seed)
{
	return (uint64_t)rand_r(seed) << 16 ^ (uint64_t)rand_r(seed);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	const size_t hs = sizeof(struct vmt_file_header), rs = VMT_REC_SIZE;
	if (size < hs + rs || rnd(&seed) % 3 == 0)
		return LLVMFuzzerMutate(data, size, max);
	size_t hdr = ((const struct vmt_file_header *)data)->header_size;
	if (hdr < hs || hdr >= size)
		hdr = hs;
	size_t n = (size - hdr) / rs;
	if (!n)
		return LLVMFuzzerMutate(data, size, max);
	uint8_t *recs = data + hdr;
	size_t i = rnd(&seed) % n, j = rnd(&seed) % n;
	uint8_t tmp[VMT_REC_SIZE];
	switch (rnd(&seed) % 6) {
	case 0: /* duplicate record i after j */
		if (hdr + (n + 1) * rs > max)
			break;
		memcpy(tmp, recs + i * rs, rs);
		memmove(recs + (j + 2) * rs, recs + (j + 1) * rs, (n - j - 1) * rs);
		memcpy(recs + (j + 1) * rs, tmp, rs);
		return hdr + (n + 1) * rs;
	case 1: /* drop record i */
		memmove(recs + i * rs, recs + (i + 1) * rs, (n - i - 1) * rs);
		return hdr + (n - 1) * rs;
	case 2: /* swap two records */
		memcpy(tmp, recs + i * rs, rs);
		memcpy(recs + i * rs, recs + j * rs, rs);
		memcpy(recs + j * rs, tmp, rs);
		break;
	case 3: { /* move an aligned 8-byte field of the payload a little */
		size_t off = 24 + 8 * (rnd(&seed) % ((rs - 24) / 8));
		uint64_t v;
		memcpy(&v, recs + i * rs + off, 8);
		v += (int64_t)(rnd(&seed) % 8193) - 4096;
		memcpy(recs + i * rs + off, &v, 8);
		break;
	}
	case 4: /* copy a field from another record (pids, addresses, ids) */
	{
		size_t off = 4 * (rnd(&seed) % (rs / 4));
		memcpy(recs + i * rs + off, recs + j * rs + off, 4);
		break;
	}
	default: /* the type of record i from record j (same stream kept) */
		memcpy(recs + i * rs, recs + j * rs, 2);
		break;
	}
	return size;
}
