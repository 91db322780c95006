/*
 * commands.h - the read-side commands (report.c, maps.c, verify.c, dump.c) and
 * their usage texts. `record` is in record.h.
 */
#ifndef VMATOP_CLI_COMMANDS_H
#define VMATOP_CLI_COMMANDS_H

int cmd_report(int argc, char **argv);
int cmd_maps(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_dump(int argc, char **argv);
extern const char report_usage[], maps_usage[], verify_usage[], dump_usage[];

#endif
