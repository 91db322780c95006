/*
 * symbolize.h - offline symbolization of recorded return addresses with
 * elfutils (libdwfl), from the module list a process recorded (path, load
 * bias, build-id). A module whose file changed since recording (build-id
 * differs) is still used but its names are marked with '?'.
 */
#ifndef VMATOP_CLI_SYMBOLIZE_H
#define VMATOP_CLI_SYMBOLIZE_H

#include "model.h"

struct symbolizer;
struct symbolizer *sym_new(const struct model *m, const struct proc *p);
/* "func+0x12 (libc.so.6)" or "0x7f12... (?)"; returns buf. */
const char *sym_name(struct symbolizer *s, uint64_t ip, char *buf, size_t len);
void sym_free(struct symbolizer *s);

#endif
