/*
 * t_fork.c - fork latency as vmatop's probes measure it agrees with what
 * the program measures itself (within 10% or 20 us at the median), and its
 * VMA-dependent part - the parent's mmap_lock write hold in dup_mmap() -
 * is there, inside the fork, and grows with the VMA count.
 * wl_fork N F times F forks of a process with N extra VMAs; no ptrace here
 * (its stops would sit inside the forks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

struct res {
	uint64_t own_med, bpf_med, copy_med;
	size_t nown, nbpf;
	int copy_inside, vmas_ok;
	int32_t pmc;
};

static int measure(long nvmas, long nforks, struct res *x)
{
	char path[] = "/tmp/vmatop-fork-XXXXXX";
	char n1[32], n2[32];
	struct bh_opts o = { .no_ptrace = true, .out_path = path, .lock = true };
	struct bh_run r;
	uint64_t *own = calloc(nforks, sizeof(*own)), *bpf = calloc(nforks, sizeof(*bpf)),
		 *copy = calloc(nforks, sizeof(*copy));
	int fd = mkstemp(path);
	FILE *f;

	memset(x, 0, sizeof(*x));
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(n1, sizeof(n1), "%ld", nvmas);
	snprintf(n2, sizeof(n2), "%ld", nforks);
	char *argv[] = { (char *)bh_prog("wl_fork"), n1, n2, NULL };
	if (bh_run(argv, &o, &r))
		return -1;
	f = fopen(path, "r");
	while (f && x->nown < (size_t)nforks && fscanf(f, "%lu", &own[x->nown]) == 1)
		x->nown++;
	if (f)
		fclose(f);
	unlink(path);
	x->copy_inside = 1;
	x->vmas_ok = 1;
	for (size_t i = 0; i < r.nforks; i++) {
		struct bh_fork *k = &r.forks[i];
		if (k->f.h.tgid != (uint32_t)r.pid || !k->t_ret || x->nbpf >= (size_t)nforks)
			continue;
		bpf[x->nbpf] = k->t_resume - k->f.t_enter;
		copy[x->nbpf] = k->f.lock_released - k->f.lock_acquired;
		if (!(k->f.t_enter <= k->f.lock_start && k->f.lock_start <= k->f.lock_acquired &&
		      k->f.lock_acquired < k->f.lock_released && k->f.lock_released <= k->f.h.ts &&
		      k->f.h.ts <= k->t_ret && k->t_ret <= k->t_resume))
			x->copy_inside = 0;
		if (k->f.parent_map_count < nvmas || k->f.child_map_count > k->f.parent_map_count ||
		    k->f.child_map_count < k->f.parent_map_count - 2)
			x->vmas_ok = 0;
		x->pmc = k->f.parent_map_count;
		x->nbpf++;
	}
	x->own_med = bh_median(own, x->nown);
	x->bpf_med = bh_median(bpf, x->nbpf);
	x->copy_med = bh_median(copy, x->nbpf);
	free(own);
	free(bpf);
	free(copy);
	bh_run_free(&r);
	return 0;
}

int main(void)
{
	const char *why = bh_skip_reason();
	char err[256];
	struct res small, big;

	if (why)
		plan_skip_all(why);
	/* the copy is the parent's mmap_lock write hold: lock statistics on */
	struct bh_opts lo = { .lock = true };
	if (bh_open(&lo, err, sizeof(err)))
		plan_skip_all(err);
	plan(9);

	if (measure(200, 60, &small) || measure(6400, 40, &big))
		bail_out("could not run wl_fork");
	diag("fork with %d VMAs: own median %lu ns, vmatop %lu ns, copy (write hold) %lu ns",
	     small.pmc, small.own_med, small.bpf_med, small.copy_med);
	diag("fork with %d VMAs: own median %lu ns, vmatop %lu ns, copy (write hold) %lu ns",
	     big.pmc, big.own_med, big.bpf_med, big.copy_med);
	ok(small.nbpf == 60 && small.nown == 60, "every fork seen: %zu of 60 (program printed %zu)",
	   small.nbpf, small.nown);
	ok(big.nbpf == 40 && big.nown == 40, "every fork seen: %zu of 40 (program printed %zu)",
	   big.nbpf, big.nown);
	for (int i = 0; i < 2; i++) {
		struct res *x = i ? &big : &small;
		uint64_t d = x->own_med > x->bpf_med ? x->own_med - x->bpf_med : x->bpf_med - x->own_med;
		ok(d <= 20000 || d * 10 <= x->own_med,
		   "%d VMAs: median fork latency, vmatop %lu ns vs the program's %lu ns (within 10%% or 20 us)",
		   x->pmc, x->bpf_med, x->own_med);
	}
	ok(small.copy_inside && big.copy_inside,
	   "enter <= lock asked <= acquired < released <= sched_process_fork <= exit <= resume, every fork");
	ok(small.vmas_ok && big.vmas_ok, "VMA count at fork: parent >= N, child == parent (+-DONTCOPY)");
	ok(big.copy_med > small.copy_med,
	   "the copy (mmap_lock write hold in fork) grows with the VMAs: %lu ns > %lu ns",
	   big.copy_med, small.copy_med);
	ok(big.copy_med * 2 > big.bpf_med - (big.bpf_med > big.copy_med ? 0 : big.bpf_med),
	   "with %d VMAs the copy is a large part of the fork: %lu of %lu ns", big.pmc,
	   big.copy_med, big.bpf_med);
	ok(small.copy_med > 0 && small.copy_med < small.bpf_med,
	   "copy is inside the total: 0 < %lu < %lu ns", small.copy_med, small.bpf_med);
	bh_close();
	return tap_exit();
}
