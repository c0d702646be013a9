#!/usr/bin/env python3
# bench/interleave.py — commands timed in turns, for comparisons on a machine whose speed
# drifts (this one's ext4 slows as deleted inodes pile up; hyperfine runs each command's
# runs back to back, so drift lands on whichever runs later):
#
#   bench/interleave.py N NAME 'COMMAND' NAME 'COMMAND' ...
#
# Each round runs every command once (every other round in reverse order), after 3 warm-up
# runs each; stdout goes to /dev/null; a COMMAND's program is a path (no PATH search), and a
# run that fails stops everything. Prints each command's median and mean wall time and
# the median of its per-round difference to the first command's.
import os, sys, time, shlex, statistics
n = int(sys.argv[1]); pairs = list(zip(sys.argv[2::2], sys.argv[3::2]))
cmds = [(name, shlex.split(c)) for name, c in pairs]
devnull = os.open("/dev/null", os.O_RDWR)
def run(argv):
    fa = [(os.POSIX_SPAWN_DUP2, devnull, 1)]
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=fa)
    _, status = os.waitpid(pid, 0)
    took = (time.perf_counter() - t) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"interleave: {shlex.join(argv)} failed ({os.waitstatus_to_exitcode(status)})")
    return took
for name, argv in cmds:
    for _ in range(3): run(argv)
res = {name: [] for name, _ in cmds}
for i in range(n):
    order = cmds if i % 2 == 0 else list(reversed(cmds))
    for name, argv in order:
        res[name].append(run(argv))
base = cmds[0][0]
for name, _ in cmds:
    d = [a - b for a, b in zip(res[name], res[base])]
    print(f"{name:12s} median {statistics.median(res[name]):6.2f} ms  mean {statistics.mean(res[name]):6.2f}  paired diff vs {base}: {statistics.median(d):+.2f} ms")
