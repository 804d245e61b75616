#!/usr/bin/env python3
"""unikernel/check-syscalls.py IMAGE: fail when a unikernel image holds a
`syscall` instruction that its code can reach.

In a Xen PV kernel a `syscall` instruction is a hypercall (rax = the
hypercall number), so a C library path that makes a Linux system call
would make a random hypercall instead. musl's libc.a has such paths; the
runtime replaces the ones it needs (unikernel/libc.c). This check proves
none is left reachable:

- the functions of the image and their instructions come from
  `objdump -d`;
- edges are direct calls and jumps (tail calls and jumps into another
  function count);
- roots are the entry point and every function whose address is taken:
  an address that appears as an operand of an instruction, or as an
  8-byte word of the image's data (a static image: any pointer to a
  function is such a word or operand);
- a reachable function that contains `syscall` fails the check, printed
  with the path that reaches it.

The hypercall page is filled by Xen at boot (the image holds int3 bytes
there), so it never shows up. Exit status 0 when clean, 1 otherwise."""
import bisect
import re
import struct
import subprocess
import sys


def functions(image):
    out = subprocess.run(["objdump", "-d", "-w", "--no-show-raw-insn", image],
                         check=True, capture_output=True, text=True).stdout
    funcs, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.+)>:$", line)
        if m:
            cur = int(m.group(1), 16)
            funcs[cur] = {"name": m.group(2), "insns": []}
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
        if m and cur is not None:
            funcs[cur]["insns"].append(m.group(2))
    return funcs


def data_words(image):
    """Every aligned 8-byte word of the image's allocated, non-code
    sections (read from the ELF section headers)."""
    with open(image, "rb") as f:
        elf = f.read()
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    words = set()
    for i in range(shnum):
        (_, stype, flags, _, off, size) = struct.unpack_from(
            "<IIQQQQ", elf, shoff + i * shentsize)
        alloc, execute, nobits = flags & 2, flags & 4, stype == 8
        if not alloc or execute or nobits:
            continue
        for o in range(off, off + size - 7, 8):
            words.add(struct.unpack_from("<Q", elf, o)[0])
    return words


def main():
    if len(sys.argv) != 2:
        print("usage: check-syscalls.py IMAGE", file=sys.stderr)
        return 2
    image = sys.argv[1]
    funcs = functions(image)
    starts = sorted(funcs)

    def owner(addr):
        i = bisect.bisect_right(starts, addr) - 1
        return starts[i] if i >= 0 else None

    edges, taken, has_syscall = {}, set(), set()
    for start, f in funcs.items():
        targets = set()
        for insn in f["insns"]:
            op = insn.split()[0] if insn.split() else ""
            if op == "syscall":
                has_syscall.add(start)
            m = re.match(r"^(call|jmp|j[a-z]+)\w*\s+([0-9a-f]+) <", insn)
            if m:
                t = owner(int(m.group(2), 16))
                if t is not None and t != start:
                    targets.add(t)
                continue
            for v in re.findall(r"\$0x([0-9a-f]+)|# ([0-9a-f]+) <", insn):
                a = int(v[0] or v[1], 16)
                if a in funcs:
                    taken.add(a)
        edges[start] = targets
    taken |= data_words(image) & set(funcs)
    roots = {s for s in funcs if funcs[s]["name"] == "_start"} | taken
    parent = {r: None for r in roots}
    queue = list(roots)
    while queue:
        s = queue.pop()
        for t in edges.get(s, ()):
            if t not in parent:
                parent[t] = s
                queue.append(t)
    bad = [s for s in has_syscall if s in parent]
    for s in bad:
        path, p = [], s
        while p is not None:
            path.append(funcs[p]["name"])
            p = parent[p]
        print("%s: reachable system call in %s (via %s)" %
              (image, funcs[s]["name"], " <- ".join(path)), file=sys.stderr)
    if bad:
        return 1
    print("%s: %d functions, %d reachable, no reachable syscall "
          "(%d unreachable ones hold one)" %
          (image, len(funcs), len(parent), len(has_syscall)))
    return 0


sys.exit(main())
