#!/usr/bin/env python3
"""Where the instructions of a multi-pCPU figure go (docs/benchmarks.md, "Several pCPUs").

Reads a QEMU execution log made with one instruction per translation block:

    qemu-system-aarch64 ... -icount shift=4,sleep=off -singlestep -d exec,nochain -D exec.log

(each line "Trace CPU: host [cs_base/pc/flags/cflags]": the CPU index, then cs_base, 0 for the
hypervisor's EL2 code and non-zero in the benchmark guest), takes the window from an instruction
of the guest on one CPU (START_PC on START_CPU: the figure's first counter read) to an
instruction of the guest on another (END_PC on END_CPU: its handler's counter read), in the
order QEMU ran them, and prints runs of (CPU, function) with their instruction counts, then the
totals per CPU. With --func, the instructions of that function in the window, disassembled.

    tools/trace_window.py LOG ELF START_CPU:START_PC END_CPU:END_PC [--nth N] [--func NAME]

ELF is the hypervisor's (build/el2/src/el2/corvisor.elf); PCs are hexadecimal guest addresses
(the guest's load address plus the offset objdump shows). --nth picks the N-th window from the
end (default 2: the last may be cut short).
"""
import argparse
import bisect
import re
import subprocess
import sys


def symbols(elf):
    out = subprocess.run(["aarch64-linux-gnu-nm", "-C", "-n", elf], capture_output=True,
                         text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    return syms


def disassembly(elf):
    out = subprocess.run(["aarch64-linux-gnu-objdump", "-d", "--no-show-raw-insn", elf],
                         capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        addr, _, rest = line.strip().partition(":")
        try:
            table[int(addr, 16)] = rest.strip()
        except ValueError:
            pass
    return table


def point(text):
    cpu, _, pc = text.partition(":")
    return int(cpu), int(pc, 16)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("elf")
    ap.add_argument("start", type=point, help="CPU:PC of the window's first guest instruction")
    ap.add_argument("end", type=point, help="CPU:PC of its last guest instruction")
    ap.add_argument("--nth", type=int, default=2)
    ap.add_argument("--func")
    args = ap.parse_args()

    syms = symbols(args.elf)
    addrs = [a for a, _ in syms]

    def sym(pc):
        i = bisect.bisect_right(addrs, pc) - 1
        return syms[i][1] if i >= 0 else "?"

    line_re = re.compile(r"Trace (\d+): \S+ \[([0-9a-f]+)/([0-9a-f]+)/")
    steps, starts = [], []
    with open(args.log) as f:
        for line in f:
            m = line_re.match(line)
            if not m:
                continue
            cpu, el2, pc = int(m.group(1)), int(m.group(2), 16) == 0, int(m.group(3), 16)
            steps.append((cpu, pc, el2))
            if not el2 and (cpu, pc) == args.start:
                starts.append(len(steps) - 1)
    if len(starts) < args.nth:
        sys.exit(f"trace_window: {len(starts)} window(s) start in the log, not {args.nth}")
    window = []
    for step in steps[starts[-args.nth]:]:
        window.append(step)
        if not step[2] and (step[0], step[1]) == args.end:
            break

    if args.func:
        dis = disassembly(args.elf)
        for cpu, pc, el2 in window:
            if el2 and args.func in sym(pc):
                print(cpu, hex(pc), dis.get(pc, "?"))
        return
    runs, totals = [], {}
    for cpu, pc, el2 in window:
        key = (cpu, sym(pc) if el2 else "guest")
        totals[cpu] = totals.get(cpu, 0) + 1
        if runs and runs[-1][0] == key:
            runs[-1][1] += 1
        else:
            runs.append([key, 1])
    for (cpu, name), n in runs:
        print(f"cpu {cpu} {n:5d}  {name}")
    print(f"total {len(window)}: " + ", ".join(f"cpu {c} {n}" for c, n in sorted(totals.items())))


if __name__ == "__main__":
    main()
