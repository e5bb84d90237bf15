#!/usr/bin/env python3
"""check.py [-v] LOGDIR: fail if any memcheck log in LOGDIR reports an error or a leak.

make valgrind runs the suite with every test program, sockit and example under memcheck
(the launcher that valgrind.cmake writes), one log per process: LOGDIR/vg.TEST.PID.ID.log,
TEST being the ctest entry. After ctest this reads every log, prints each one that reports
a memory error or a leak (the ctest entry, the program, the reports) and exits 1 if there
was any. The launcher counts definite, indirect and possible leaks as errors, so a log is
bad when its ERROR SUMMARY is not zero; "still reachable" at exit is not a leak.

Fork children. A child of fork() inherits its parent's whole heap but only the thread that
called fork(): whatever another thread of the parent held only in its registers at that
moment (a connector in the middle of a connect, say) has no root in the child, and memcheck
calls it lost there, although nothing was lost in any process. So in a fork child of a
process that may have had other threads, a leak counts only if it was allocated after the
fork, on the child's own path, which its allocation stack shows by passing through the
function that runs the child: `start_child` (src/server.c, the fork model's session) or
`run_one` (tests/unit/t.c, a unit test case, for the forks a test makes itself); other leak
reports there are listed with -v as inherited, not failed. The unit runner (tests/unit/t.c)
starts no threads, so its children, the test cases, are checked in full like any process.
Memory errors (invalid reads and writes, uninitialised values, bad frees) always count.

A log without an ERROR SUMMARY belongs to a process that did not exit through valgrind: a
test SIGKILLed it (the unit runner's group kill, Server.kill()), or it is still running.
Those are counted and listed with -v, not failed: a killed process cannot report. Nor can
a process that a signal's default action ended ("Process terminating with default action
of signal N": a fork session's SIGHUP when its server was killed, a SIGABRT or SIGSEGV a
test sends) free what it was using: its leak reports are listed with -v, not failed; its
memory errors count. A process that exits, or that handles SIGTERM and returns from
main, must be clean.

Exit status: 0 clean, 1 errors or leaks found, 2 no logs at all (the launcher never ran,
so nothing was checked) or bad usage.
"""
import glob
import os
import re
import sys

_NAME = re.compile(r"^vg\.(.*)\.(\d+)\.([0-9a-f]+)\.log$")
_PREFIX = re.compile(r"^==(\d+)== ?")
_ERRORS = re.compile(r"ERROR SUMMARY: ([\d,]+) errors? from")
_RECORD = re.compile(r"^([\d,]+)(?: \([\d,]+ direct, [\d,]+ indirect\))? bytes in [\d,]+ blocks? "
                     r"are (definitely|indirectly|possibly) lost in loss record")
_FRAME = re.compile(r"^\s+(?:at|by) 0x[0-9A-Fa-f]+: (\S+)")
# Functions that run only in a fork child, after the fork (see the docstring).
CHILD_PATH = ("start_child", "run_one")
# How many lines of each bad log to show.
SHOW_LINES = 80


def num(text):
    return int(text.replace(",", ""))


def read_logs(path):
    """The logs in one file: one per pid (a file written through --log-fd also holds the
    lines of the fork children, each marked with its own pid)."""
    m = _NAME.match(os.path.basename(path))
    test = m.group(1) if m else "?"
    try:
        with open(path, errors="replace") as f:
            raw = f.read().splitlines()
    except OSError as e:
        sys.stderr.write("valgrind: cannot read %s: %s\n" % (path, e))
        raw = []
    by_pid = {}
    for r in raw:
        pm = _PREFIX.match(r)
        if pm:
            by_pid.setdefault(int(pm.group(1)), []).append(_PREFIX.sub("", r))
    if not by_pid:  # nothing written yet: a process killed before valgrind's banner
        by_pid[int(m.group(2)) if m else -1] = []
    return [Log(path, test, pid, lines) for pid, lines in by_pid.items()]


class Log:
    def __init__(self, path, test, pid, lines):
        self.path = path
        self.test = test
        self.pid = pid
        self.ppid = None
        self.command = "?"
        self.errors = None  # None: no ERROR SUMMARY (killed, or still running)
        self.records = []   # leak reports: (kind, bytes, [function names], [lines])
        self.lines = lines
        self.killed_by = None  # "1 (SIGHUP)": a signal's default action ended it
        rec = None
        for line in lines:
            if line.startswith("Process terminating with default action of signal"):
                self.killed_by = line.split("signal", 1)[1].strip()
            if line.startswith("Command: ") and self.command == "?":
                self.command = line[len("Command: "):]
            elif line.startswith("Parent PID: ") and self.ppid is None:
                self.ppid = int(line.split()[2])
            m = _ERRORS.search(line)
            if m:
                self.errors = num(m.group(1))
            m = _RECORD.match(line)
            if m:
                rec = (m.group(2), num(m.group(1)), [], [line])
                self.records.append(rec)
                continue
            if rec is not None:
                f = _FRAME.match(line)
                if f:
                    rec[2].append(f.group(1))
                    rec[3].append(line)
                else:
                    rec = None

    def program(self):
        return os.path.basename(self.command.split(" ", 1)[0])


def judge(log, by_pid):
    """-> (memory errors, counted leak records, leak records not counted: inherited by a
    fork child, or left by a process that a signal ended)."""
    parent = None
    for p in by_pid.get(log.ppid, []):
        if p.command == log.command and p.test == log.test:
            parent = p
    counted, inherited = list(log.records), []
    if log.killed_by:
        counted, inherited = [], list(log.records)
    elif parent is not None:  # a fork child
        runner = (parent.program().startswith("test_") and
                  not any(g.command == parent.command for g in by_pid.get(parent.ppid, [])))
        if not runner:
            counted = [r for r in log.records if any(f in CHILD_PATH for f in r[2])]
            inherited = [r for r in log.records if r not in counted]
    errors = (log.errors or 0) - len(log.records)
    return errors, counted, inherited


def report_lines(log):
    """The log's reports: everything after the banner, minus valgrind's boilerplate."""
    out, started = [], False
    for line in log.lines:
        if not started:
            started = line.startswith("Parent PID:")
            continue
        if line.startswith(("For lists of detected", "For counts of detected", "Rerun with",
                            "To see them, rerun", "Use --track-origins", "Reachable blocks")):
            continue
        if out and not out[-1].strip() and not line.strip():
            continue
        out.append(line)
    while out and not out[0].strip():
        out.pop(0)
    return out


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv[1:] if a != "-v"]
    if len(args) != 1:
        sys.stderr.write("usage: check.py [-v] LOGDIR\n")
        return 2
    paths = sorted(glob.glob(os.path.join(args[0], "vg.*.log")))
    if not paths:
        print("valgrind: no logs in %s: no process ran under memcheck, nothing was checked"
              % args[0])
        return 2
    logs = [log for p in paths for log in read_logs(p)]
    by_pid = {}
    for log in logs:
        by_pid.setdefault(log.pid, []).append(log)
    bad, incomplete, inherited_logs, clean = [], [], [], 0
    for log in logs:
        if log.errors is None:
            incomplete.append(log)
            continue
        errors, counted, inherited = judge(log, by_pid)
        if errors or counted:
            bad.append((log, errors, counted))
        else:
            clean += 1
        if inherited:
            inherited_logs.append((log, inherited))
    for log, errors, counted in bad:
        lost = sum(r[1] for r in counted)
        print("=" * 78)
        print("valgrind: %s: %s (pid %d, parent %s)" % (log.test, log.program(), log.pid,
                                                       log.ppid))
        print("  log: %s" % log.path)
        print("  command: %s" % log.command)
        print("  %d memory error(s), %d leak(s) of %d bytes in all" % (errors, len(counted), lost))
        body = report_lines(log)
        for line in body[:SHOW_LINES]:
            print("  | " + line)
        if len(body) > SHOW_LINES:
            print("  | ... (%d more lines in the log)" % (len(body) - SHOW_LINES))
    if verbose:
        for log, inherited in inherited_logs:
            why = ("ended by signal %s" % log.killed_by if log.killed_by else
                   "fork child of %s: memory inherited from the parent's other threads"
                   % log.ppid)
            print("valgrind: %s: %s %d: %d leak report(s) not counted, %s: %s" % (
                log.test, log.program(), log.pid, len(inherited), why,
                "; ".join(" <- ".join(r[2][:4]) for r in inherited[:3])))
        for log in incomplete:
            print("valgrind: %s: no summary (killed or still running): %s  %s"
                  % (log.test, log.path, log.command))
    print("valgrind: %d process logs: %d clean, %d with memory errors or leaks, %d without a "
          "summary (SIGKILLed or still running), %d with leak reports not counted (fork "
          "children's inherited memory, ended by a signal; -v lists them)"
          % (len(logs), clean, len(bad), len(incomplete), len(inherited_logs)))
    if bad:
        tests = sorted({log.test for log, _, _ in bad})
        print("valgrind: FAILED: %d process(es) reported memory errors or leaks, in %s"
              % (len(bad), ", ".join(tests)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
