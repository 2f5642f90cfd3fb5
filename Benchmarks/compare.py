#!/usr/bin/env python3
"""Swift (xdpbench) vs C (xdpref) on the veth lab, A B A B, same generator, pinned CPUs.

For rxdrop and l2fwd the device under test (DUT) runs on CPU 1; the generator
(xdpref txonly, the same for both) runs on CPU 0, where veth's receive softirq
and the XDP program run too. The DUT's rate is its packet count over the
generator's active window, and every pair is kept only if both runs saw the
same offered load (generator rate within 10%), since the veth lab lands each
launch in a low or a high load regime. txonly is measured alone on CPU 1.

Usage: Benchmarks/compare.py [--pairs N] [--seconds S] [--modes rxdrop,txonly,l2fwd] [--markdown FILE]
"""
import argparse, json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWIFT = os.path.join(ROOT, ".build", "release", "xdpbench")
C = os.path.join(ROOT, "Benchmarks", "reference", "build", "xdpref")
LAB = "xc"
PEER_NS, DUT_NS, PEER_IF, DUT_IF = LAB + "p", LAB + "d", LAB + "p0", LAB + "d0"


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


def dut_command(tool, mode, seconds):
    if tool == "swift":
        return [SWIFT, mode, "--netns", DUT_NS, "-i", DUT_IF, "--cpus", "1", "-d", str(seconds), "--json", "--attach", "native"]
    return [C, mode, "--netns", DUT_NS, "-i", DUT_IF, "--cpu", "1", "-d", str(seconds), "--json", "--attach", "native"]


def generator_command(seconds):
    return [C, "txonly", "--netns", PEER_NS, "-i", PEER_IF, "--cpu", "0", "-d", str(seconds), "--json"]


def one_run(tool, mode, seconds):
    """Returns (dut_pps, offered_pps)."""
    if mode == "txonly":
        if tool == "swift":
            cmd = [SWIFT, "txonly", "--netns", PEER_NS, "-i", PEER_IF, "--cpus", "1", "-d", str(seconds), "--json"]
        else:
            cmd = [C, "txonly", "--netns", PEER_NS, "-i", PEER_IF, "--cpu", "1", "-d", str(seconds), "--json"]
        result = last_json(run(cmd, timeout=seconds + 30).stdout)
        pps = result.get("packets", 0) / seconds
        return pps, pps
    dut = subprocess.Popen(dut_command(tool, mode, seconds + 2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # attach and fill
    generator = last_json(run(generator_command(seconds), timeout=seconds + 30).stdout)
    out, _ = dut.communicate(timeout=seconds + 30)
    result = last_json(out)
    window = generator.get("duration_s") or seconds
    return result.get("packets", 0) / window, generator.get("packets", 0) / window


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--modes", default="rxdrop,txonly,l2fwd")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    for path in (SWIFT, C):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: run `make build` and `make -C Benchmarks/reference`")
    run([SWIFT, "lab", "down", "--name", LAB])
    up = run([SWIFT, "lab", "up", "--name", LAB])
    if up.returncode != 0:
        sys.exit(up.stderr)
    rows = []
    try:
        for mode in args.modes.split(","):
            kept, skipped = [], 0
            for pair in range(args.pairs):
                swift_pps, swift_offered = one_run("swift", mode, args.seconds)
                c_pps, c_offered = one_run("c", mode, args.seconds)
                same_load = min(swift_offered, c_offered) >= 0.9 * max(swift_offered, c_offered)
                print(f"{mode} pair {pair + 1}: swift {swift_pps / 1e6:.3f} Mpps (offered {swift_offered / 1e6:.3f}), "
                      f"C {c_pps / 1e6:.3f} Mpps (offered {c_offered / 1e6:.3f}){'' if same_load else '  [different load regime: not paired]'}",
                      file=sys.stderr)
                if same_load and c_pps > 0:
                    kept.append((swift_pps, c_pps))
                else:
                    skipped += 1
            if kept:
                swift_median = statistics.median(s for s, _ in kept)
                c_median = statistics.median(c for _, c in kept)
                ratio = statistics.median(s / c for s, c in kept)
                rows.append((mode, len(kept), skipped, swift_median, c_median, ratio))
    finally:
        run([SWIFT, "lab", "down", "--name", LAB])
    table = ["| mode | pairs kept | pairs skipped (load differed) | Swift median Mpps | C median Mpps | Swift/C (median of pair ratios) |",
             "|---|---|---|---|---|---|"]
    for mode, kept, skipped, s, c, r in rows:
        table.append(f"| {mode} | {kept} | {skipped} | {s / 1e6:.3f} | {c / 1e6:.3f} | {r:.2f} |")
    print("\n".join(table))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
