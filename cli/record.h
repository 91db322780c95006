/*
 * record.h - `vmatop record`: run a command under libvmatop.so, collect its
 * rings (and extra sources, see source.h) into a trace file.
 */
#ifndef VMATOP_CLI_RECORD_H
#define VMATOP_CLI_RECORD_H

int cmd_record(int argc, char **argv);
extern const char record_usage[];

#endif
