"""python -m dojo <verb> (bootstrap version)."""
import sys

from dojo import checks, curriculum


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        c = curriculum.load()
        bad = 0
        for arg in argv[1:]:
            r = checks.check_kata(c, arg)
            for p in r.problems:
                print("PROBLEM", p)
            bad += len(r.problems)
            print(f"kata {arg}: {r.runs} runs, {len(r.problems)} problems")
        return 1 if bad else 0
    print("usage: python -m dojo check NN")
    return 2
