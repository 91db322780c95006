/*
 * bpf_commands.h - the commands that exist because of the BPF source:
 * `vmatop attach` (cli/bpf_attach.c) and `vmatop bench fork`
 * (cli/bpf_bench.c), with the hidden fork-benchmark worker.
 */
#ifndef VMATOP_CLI_BPF_COMMANDS_H
#define VMATOP_CLI_BPF_COMMANDS_H

int cmd_attach(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_fork_worker(int argc, char **argv); /* "__fork-worker N S FD" */
extern const char attach_usage[], bench_usage[];

#endif
