"""The results: one line per check as it runs (ok/FAIL/note), counted by phase, and the
summary at the end. R is the one Results every phase reports to."""


class Results:
    def __init__(self):
        self.by_phase = {}
        self.failures = []
        self.notes = []
        self.phase = "setup"

    def start(self, phase):
        self.phase = phase
        self.by_phase.setdefault(phase, [0, 0])
        print(f"-- {phase}", flush=True)

    def check(self, ok, what, detail=""):
        counts = self.by_phase.setdefault(self.phase, [0, 0])
        if ok:
            counts[0] += 1
            print(f"ok   {what}", flush=True)
        else:
            counts[1] += 1
            line = f"{what}" + (f": {detail}" if detail else "")
            self.failures.append(f"[{self.phase}] {line}")
            print(f"FAIL {line}", flush=True)
        return ok

    def note(self, text):
        self.notes.append(f"[{self.phase}] {text}")
        print(f"note {text}", flush=True)

    def summary(self):
        print("\n== observability summary")
        for phase, (ok, bad) in self.by_phase.items():
            print(f"  {phase:<8} {ok:4d} passed  {bad:3d} failed")
        for n in self.notes:
            print(f"  NOTE {n}")
        for f in self.failures:
            print(f"  FAIL {f}")
        total_ok = sum(v[0] for v in self.by_phase.values())
        if self.failures:
            print(f"observability: {len(self.failures)} of {total_ok + len(self.failures)} checks FAILED")
        else:
            print(f"observability: all {total_ok} checks passed")
        return not self.failures


R = Results()
