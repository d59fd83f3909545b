"""Run inside one cell by svc-any-matrix: install the definition, start it and wait until it is
healthy, watch it stay up, stop it, uninstall it. Prints one JSON object: each step's verdict
and, for a failed step, what svc-any said."""
import json
import subprocess
import sys
import time

definition, stay = sys.argv[1], float(sys.argv[2])
verdict, why = {}, {}


def svc(*args):
    return subprocess.run(["svc-any", *args], capture_output=True, text=True)


def units():
    r = svc("status", "--json")
    try:
        return r.returncode, json.loads(r.stdout)["services"]
    except (ValueError, KeyError):
        return r.returncode, []


def step(name, ok, detail=""):
    verdict[name] = bool(ok)
    if not ok:
        why[name] = detail.strip()[-2000:]
    return ok


r = svc("install", "-f", definition, "--start", "--wait")
step("start", r.returncode == 0, r.stdout + r.stderr)
names = sorted({s["name"] for s in units()[1]})
if verdict["start"]:
    # Up, and still up with the same processes after `stay` seconds: nothing crashed and came
    # back behind svc-any's back.
    code, first = units()
    pids = {(u["name"], u.get("instance")): u.get("pid") for u in first}
    time.sleep(stay)
    code2, later = units()
    same = {(u["name"], u.get("instance")): u.get("pid") for u in later} == pids
    calm = all(u.get("restarts", 0) == 0 for u in later)
    step("stays up", code == 0 and code2 == 0 and same and calm,
         json.dumps({"before": first, "after": later}, indent=1))
    r = svc("stop", *names)
    code, after = units()
    step("stops cleanly", r.returncode == 0 and code == 3
         and all(u["state"] == "stopped" for u in after),
         r.stdout + r.stderr + json.dumps(after, indent=1))
r = svc("uninstall", *names) if names else None
left = json.loads(svc("list", "--json").stdout or '{"services": []}')["services"]
step("uninstalls", (r is None or r.returncode == 0) and not left,
     (r.stdout + r.stderr if r else "") + json.dumps(left))
print(json.dumps({"names": names, "verdict": verdict, "why": why}))
